package directory

import (
	"context"
	"slices"
	"strings"
)

// SignInScopes are the delegated scopes an application may request from a
// signing-in user (issue 12): the OpenID Connect scopes and the profile
// scopes of /me.
var SignInScopes = []string{"openid", "profile", "email", "offline_access", PermUserRead, PermUserReadWrite}

// ConsentedScopes returns the delegated scopes the application (by appId)
// holds tenant-wide consent for; KindNotFound when it does not exist.
// The token endpoint checks it on every refresh, so that removing consent
// or deleting the application ends its refresh tokens.
//
// Until applications record consent (requiredResourceAccess), every
// existing application counts as consented to SignInScopes.
func (s *Applications) ConsentedScopes(ctx context.Context, tenantID, appID string) ([]string, error) {
	if !IsGUID(tenantID) || !IsGUID(appID) {
		return nil, ErrNotFoundApplication(appID)
	}
	if _, err := s.store.GetApplication(ctx, strings.ToLower(tenantID), strings.ToLower(appID), true); err != nil {
		return nil, err
	}
	return slices.Clone(SignInScopes), nil
}
