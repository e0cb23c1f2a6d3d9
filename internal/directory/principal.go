package directory

import (
	"context"
	"slices"
	"strings"
	"time"
)

// PrincipalKind tells app-only callers (client credentials, permissions in
// roles) from delegated ones (a signed-in user, permissions in scp).
type PrincipalKind uint8

// The principal kinds.
const (
	PrincipalApp PrincipalKind = iota + 1
	PrincipalUser
)

func (k PrincipalKind) String() string {
	switch k {
	case PrincipalApp:
		return "app"
	case PrincipalUser:
		return "user"
	}
	return "unknown"
}

// Principal is the verified caller of a request, built by internal/auth from
// an access token.
type Principal struct {
	Kind     PrincipalKind
	TenantID string
	// AppID is the calling client (azp or appid).
	AppID string
	// UserID is the signed-in user's object id (oid) for delegated callers.
	UserID string
	// Permissions are the application permissions (roles) of an app-only
	// token or the delegated scopes (scp) of a user token.
	Permissions []string
	// Roles, for delegated tokens, are the user's own role claims; they are
	// never treated as application permissions.
	Roles []string
	AMR   []string
	// ACRS are the authentication context class references the token
	// satisfies (Entra's acrs claim, e.g. ["c1"]); step-up checks them.
	ACRS []string
	// Issuer is the name of the TrustedIssuer that issued the token
	// (BuiltinIssuer for graphdir's own) and IssuedAt its iat: the
	// sign-in session check (sessions.go) reads them.
	Issuer   string
	IssuedAt time.Time
}

// IsApp reports whether the caller is an application acting as itself.
func (p *Principal) IsApp() bool { return p != nil && p.Kind == PrincipalApp }

// IsUser reports whether the caller is a signed-in user.
func (p *Principal) IsUser() bool { return p != nil && p.Kind == PrincipalUser }

// Has reports whether the principal holds any of perms. Graph permission
// names are compared case-insensitively, one whole token at a time.
func (p *Principal) Has(perms ...string) bool {
	if p == nil {
		return false
	}
	return slices.ContainsFunc(p.Permissions, func(have string) bool {
		return slices.ContainsFunc(perms, func(want string) bool { return strings.EqualFold(have, want) })
	})
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	// A fresh Access cache: the caller's roles are read at most once per request.
	return withAccessCache(context.WithValue(ctx, principalKey{}, p))
}

// PrincipalFrom returns the caller stored by WithPrincipal, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
