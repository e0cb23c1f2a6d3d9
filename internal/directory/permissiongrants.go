package directory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Application permissions of the oauth2PermissionGrants API (Graph's
// names).
const (
	PermDelegatedPermissionGrantReadAll      = "DelegatedPermissionGrant.Read.All"
	PermDelegatedPermissionGrantReadWriteAll = "DelegatedPermissionGrant.ReadWrite.All"
)

// The consent types of a grant (Graph's consentType).
const (
	// ConsentPrincipal is one user's consent for themself.
	ConsentPrincipal = "Principal"
	// ConsentAllPrincipals is an administrator's consent for every user.
	ConsentAllPrincipals = "AllPrincipals"
)

// Who may read and write grants: reading takes the grant permissions or
// the directory-wide ones, as in Graph; writing only
// DelegatedPermissionGrant.ReadWrite.All (Graph stopped letting
// Directory.ReadWrite.All manage grants).
var (
	grantReadPerms  = []string{PermDelegatedPermissionGrantReadAll, PermDelegatedPermissionGrantReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	grantWritePerms = []string{PermDelegatedPermissionGrantReadWriteAll}
)

// OAuth2PermissionGrant is Graph's oauth2PermissionGrant: the delegated
// scopes a client may use on behalf of one user (Principal) or of every
// user (AllPrincipals). graphdir has no service principals, so ClientID is
// the client's appId and ResourceID Microsoft Graph's appId (the one
// resource graphdir serves), where Graph has service principal object ids.
type OAuth2PermissionGrant struct {
	TenantID    string
	ID          string
	ClientID    string
	ConsentType string
	// PrincipalID is the user's object id; "" for AllPrincipals.
	PrincipalID string
	ResourceID  string
	// Scopes are canonical scope names; Graph's scope is them joined by
	// spaces.
	Scopes []string
}

// PermissionGrantFilter selects grants: the equality filters Graph
// supports (empty: any), then keyset paging by id.
type PermissionGrantFilter struct {
	ClientID, PrincipalID, ConsentType string
	// After is the id of the previous page's last grant ("" from the
	// start); Top the page size.
	After string
	Top   int
}

// PermissionGrantStore keeps grants (postgres.Store).
type PermissionGrantStore interface {
	// AddPrincipalGrantScopes adds scopes to userID's grant for clientID
	// on resourceID, creating it under newID when there is none, in one
	// statement. KindNotFound when the client or the user does not exist.
	AddPrincipalGrantScopes(ctx context.Context, tenantID, newID, clientID, userID, resourceID string, scopes []string) error
	// GrantedScopes returns the scopes userID's grant and the AllPrincipals
	// grant for clientID hold together.
	GrantedScopes(ctx context.Context, tenantID, clientID, userID string) ([]string, error)
	// ListPermissionGrants returns up to f.Top grants after f.After, by id.
	ListPermissionGrants(ctx context.Context, tenantID string, f PermissionGrantFilter) ([]OAuth2PermissionGrant, error)
	// GetPermissionGrant returns one grant; KindNotFound when none.
	GetPermissionGrant(ctx context.Context, tenantID, id string) (*OAuth2PermissionGrant, error)
	// CreatePermissionGrant stores g; KindConflict when the client already
	// has a grant of that principal (or AllPrincipals) and resource,
	// KindNotFound when the client or the principal does not exist.
	CreatePermissionGrant(ctx context.Context, g OAuth2PermissionGrant) error
	// SetPermissionGrantScopes replaces a grant's scopes; KindNotFound when
	// none.
	SetPermissionGrantScopes(ctx context.Context, tenantID, id string, scopes []string) error
	// DeletePermissionGrant deletes one grant; KindNotFound when none.
	DeletePermissionGrant(ctx context.Context, tenantID, id string) error
}

// PermissionGrants is user consent and Graph's oauth2PermissionGrants API.
type PermissionGrants struct {
	store PermissionGrantStore
	newID func() string
}

// NewPermissionGrants returns the grants service over store.
func NewPermissionGrants(store PermissionGrantStore) *PermissionGrants {
	return &PermissionGrants{store: store, newID: newGrantID}
}

// newGrantID is a grant id in Graph's form: 43 base64url characters
// (Graph's are derived from the client, principal and resource; graphdir's
// are random, which clients cannot tell apart).
func newGrantID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// validGrantID: ids are printable ASCII of bounded length; anything else
// names no grant (and never reaches SQL).
func validGrantID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r > '~' || r == '\'' {
			return false
		}
	}
	return true
}

// AuthorizePermissionGrants checks that p may read (write false) or write
// grants at all: application permissions only, as applications are
// managed (a signed-in user's consent goes through the consent page).
func AuthorizePermissionGrants(p *Principal, write bool) error {
	need := grantReadPerms
	if write {
		need = grantWritePerms
	}
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case p.IsApp():
		if p.Has(need...) {
			return nil
		}
		return errNeedsPermission("Managing delegated permission grants", need)
	case p.IsUser():
		e := ErrInsufficientPrivileges(need...)
		e.Message = "Insufficient privileges to complete the operation. Delegated permission grants are managed with application permissions only; users consent on the sign-in pages."
		return e
	}
	return Errorf(KindUnauthenticated, "Access token validation failure.")
}

// ErrNotFoundGrant is Graph's not-found error for a grant.
func ErrNotFoundGrant(id string) *Error {
	return Errorf(KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", textlimit.Clip(id, maxEchoed))
}

// UserConsentedScopes returns the scopes userID (or an administrator for
// every user) granted clientID, for the token endpoint.
func (s *PermissionGrants) UserConsentedScopes(ctx context.Context, tenantID, clientID, userID string) ([]string, error) {
	if !IsGUID(tenantID) || !IsGUID(clientID) || !IsGUID(userID) {
		return nil, nil
	}
	return s.store.GrantedScopes(ctx, normalizeGUID(tenantID), normalizeGUID(clientID), normalizeGUID(userID))
}

// ConsentForUser records that userID consented to scopes for clientID (the
// consent page's Accept). Admin-only scopes are refused: no user may grant
// them (ScopeNeedsAdmin).
func (s *PermissionGrants) ConsentForUser(ctx context.Context, tenantID, clientID, userID string, scopes []string) error {
	if !IsGUID(tenantID) || !IsGUID(clientID) || !IsGUID(userID) {
		return Errorf(KindInvalid, "The tenant, client and user must be given by their ids.")
	}
	for _, sc := range scopes {
		if ScopeNeedsAdmin(sc) {
			return Errorf(KindForbidden, "The scope '%s' needs an administrator's consent.", textlimit.Clip(sc, maxEchoed))
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	return s.store.AddPrincipalGrantScopes(ctx, normalizeGUID(tenantID), s.newID(), normalizeGUID(clientID), normalizeGUID(userID),
		GraphResourceAppID, sortScopes(scopes))
}

// grantCaller resolves the caller of an API method.
func grantCaller(ctx context.Context, write bool) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if err := AuthorizePermissionGrants(p, write); err != nil {
		return nil, err
	}
	return p, nil
}

// ListGrants serves GET /oauth2PermissionGrants.
func (s *PermissionGrants) ListGrants(ctx context.Context, f PermissionGrantFilter) ([]OAuth2PermissionGrant, error) {
	p, err := grantCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	for _, id := range []string{f.ClientID, f.PrincipalID} {
		if id != "" && !IsGUID(id) {
			return []OAuth2PermissionGrant{}, nil // matches nothing, as Graph answers
		}
	}
	f.ClientID, f.PrincipalID = normalizeGUID(f.ClientID), normalizeGUID(f.PrincipalID)
	return s.store.ListPermissionGrants(ctx, normalizeGUID(p.TenantID), f)
}

// GetGrant serves GET /oauth2PermissionGrants/{id}.
func (s *PermissionGrants) GetGrant(ctx context.Context, id string) (*OAuth2PermissionGrant, error) {
	p, err := grantCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	if !validGrantID(id) {
		return nil, ErrNotFoundGrant(id)
	}
	g, err := s.store.GetPermissionGrant(ctx, normalizeGUID(p.TenantID), id)
	if KindOf(err) == KindNotFound {
		return nil, ErrNotFoundGrant(id)
	}
	return g, err
}

// DeleteGrant serves DELETE /oauth2PermissionGrants/{id}: the client loses
// the scopes at its next token request that needs them (refresh included).
func (s *PermissionGrants) DeleteGrant(ctx context.Context, id string) error {
	p, err := grantCaller(ctx, true)
	if err != nil {
		return err
	}
	if !validGrantID(id) {
		return ErrNotFoundGrant(id)
	}
	err = s.store.DeletePermissionGrant(ctx, normalizeGUID(p.TenantID), id)
	if KindOf(err) == KindNotFound {
		return ErrNotFoundGrant(id)
	}
	return err
}

// CreateGrant serves POST /oauth2PermissionGrants: an administrator's grant
// for one user or for all.
func (s *PermissionGrants) CreateGrant(ctx context.Context, g OAuth2PermissionGrant, scope string) (*OAuth2PermissionGrant, error) {
	p, err := grantCaller(ctx, true)
	if err != nil {
		return nil, err
	}
	invalid := func(prop, format string, args ...any) error {
		return Errorf(KindInvalid, format, args...).WithTarget(prop)
	}
	switch {
	case !IsGUID(g.ClientID):
		return nil, invalid("clientId", "Invalid value specified for property 'clientId' of resource 'OAuth2PermissionGrant'.")
	case !strings.EqualFold(g.ResourceID, GraphResourceAppID):
		return nil, invalid("resourceId", "Invalid value specified for property 'resourceId' of resource 'OAuth2PermissionGrant': graphdir serves one resource, Microsoft Graph (%s).", GraphResourceAppID)
	case g.ConsentType == ConsentPrincipal && !IsGUID(g.PrincipalID):
		return nil, invalid("principalId", "Invalid value specified for property 'principalId' of resource 'OAuth2PermissionGrant': a Principal grant names its user.")
	case g.ConsentType == ConsentAllPrincipals && g.PrincipalID != "":
		return nil, invalid("principalId", "Invalid value specified for property 'principalId' of resource 'OAuth2PermissionGrant': an AllPrincipals grant names no user.")
	case g.ConsentType != ConsentPrincipal && g.ConsentType != ConsentAllPrincipals:
		return nil, invalid("consentType", "Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant': 'Principal' or 'AllPrincipals'.")
	}
	scopes, err := ParseGrantScope(scope)
	if err != nil {
		return nil, err
	}
	g.TenantID, g.ID, g.Scopes = normalizeGUID(p.TenantID), s.newID(), scopes
	g.ClientID, g.ResourceID, g.PrincipalID = normalizeGUID(g.ClientID), GraphResourceAppID, normalizeGUID(g.PrincipalID)
	if err := s.store.CreatePermissionGrant(ctx, g); err != nil {
		return nil, err
	}
	return &g, nil
}

// UpdateGrantScope serves PATCH /oauth2PermissionGrants/{id} (scope, the
// one property Graph lets change).
func (s *PermissionGrants) UpdateGrantScope(ctx context.Context, id, scope string) error {
	p, err := grantCaller(ctx, true)
	if err != nil {
		return err
	}
	if !validGrantID(id) {
		return ErrNotFoundGrant(id)
	}
	scopes, err := ParseGrantScope(scope)
	if err != nil {
		return err
	}
	err = s.store.SetPermissionGrantScopes(ctx, normalizeGUID(p.TenantID), id, scopes)
	if KindOf(err) == KindNotFound {
		return ErrNotFoundGrant(id)
	}
	return err
}

// ParseGrantScope reads Graph's space-separated scope string: known scope
// names (any letter case, unqualified), at least one.
func ParseGrantScope(scope string) ([]string, error) {
	var names []string
	for _, f := range strings.Fields(scope) {
		i := scopeIndex(f)
		if i < 0 {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant': '%s' is not one of graphdir's delegated scopes (%s).",
				textlimit.Clip(f, maxEchoed), strings.Join(DelegatedScopeNames(), ", ")).WithTarget("scope")
		}
		if !slices.Contains(names, delegatedScopes[i].name) {
			names = append(names, delegatedScopes[i].name)
		}
	}
	if len(names) == 0 {
		return nil, Errorf(KindInvalid, "Invalid value specified for property 'scope' of resource 'OAuth2PermissionGrant': name at least one scope.").WithTarget("scope")
	}
	return sortScopes(names), nil
}
