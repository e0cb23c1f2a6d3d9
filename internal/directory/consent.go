package directory

import (
	"context"
	"strings"
)

// ConsentedScopes returns the delegated scopes the application (by appId)
// holds tenant-wide consent for (its requiredResourceAccess);
// KindNotFound when it does not exist. The token endpoint checks it on
// every refresh, so that removing consent or deleting the application
// ends its refresh tokens.
func (s *Applications) ConsentedScopes(ctx context.Context, tenantID, appID string) ([]string, error) {
	if !IsGUID(tenantID) || !IsGUID(appID) {
		return nil, ErrNotFoundApplication(appID)
	}
	a, err := s.store.GetApplication(ctx, strings.ToLower(tenantID), strings.ToLower(appID), true)
	if err != nil {
		return nil, err
	}
	return a.ConsentedScopes(), nil
}
