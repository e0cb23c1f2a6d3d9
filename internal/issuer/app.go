package issuer

import (
	"context"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// MintClientToken returns the app-only access token of the client
// credentials grant for a registered application: idtyp "app", the
// application's granted permissions in roles, azp = appid = client_id = the
// client id (appId), and sub = oid = the application's object id. Entra
// puts the service principal's object id in oid; graphdir has no separate
// service principal, so the application object stands in for it (it is
// unique in the tenant and stable for the app's life, which is what oid is
// for).
func (i *Issuer) MintClientToken(ctx context.Context, tenantID, objectID, clientID string, roles []string, ttl time.Duration) (string, error) {
	if !directory.IsGUID(objectID) || !directory.IsGUID(clientID) {
		return "", directory.Errorf(directory.KindInvalid, "The application ids must be GUIDs.").WithTarget("appId")
	}
	if err := checkPermissions("roles", roles); err != nil {
		return "", err
	}
	objectID, clientID = strings.ToLower(objectID), strings.ToLower(clientID)
	return i.mint(ctx, tenantID, ttl, claims{
		Sub: objectID, Oid: objectID, Azp: clientID, AppID: clientID, ClientID: clientID,
		Idtyp: "app", Roles: roles,
	})
}
