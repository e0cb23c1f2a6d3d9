package directory

import (
	"context"
	"sync"
	"time"
)

// PermUserRevokeSessionsAll is Graph's least-privileged permission for
// revokeSignInSessions.
const PermUserRevokeSessionsAll = "User.RevokeSessions.All"

// ActivityRevokeSignInSessions is the audit activity of revokeSignInSessions.
var ActivityRevokeSignInSessions = Activity{"Revoke user sign-in sessions", "Update", "UserManagement", "User"}

// revokeSessionsPerms allow POST /users/{id}/revokeSignInSessions, as
// application and as delegated permissions (Graph's list).
var revokeSessionsPerms = []string{PermUserRevokeSessionsAll, PermUserReadWriteAll, PermDirectoryReadWriteAll}

// revokeMySessionsScopes allow POST /me/revokeSignInSessions: Graph's
// list plus User.ReadWrite, the scope customer apps hold for self-service
// ("sign out everywhere"), as changePassword accepts it.
var revokeMySessionsScopes = []string{PermUserRevokeSessionsAll, PermUserReadWrite, PermUserReadWriteAll,
	PermDirectoryReadWriteAll, "Directory.AccessAsUser.All"}

// AuthorizeRevokeSignInSessions is the token-level check of POST
// /users/{id}/revokeSignInSessions.
func AuthorizeRevokeSignInSessions(p *Principal) error {
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case !p.IsApp() && !p.IsUser():
		return Errorf(KindUnauthenticated, "Access token validation failure.")
	case !p.Has(revokeSessionsPerms...):
		return errNeedsPermission("Revoking sign-in sessions", revokeSessionsPerms)
	}
	return nil
}

// AuthorizeRevokeMySignInSessions is the token-level check of POST
// /me/revokeSignInSessions (an app token is 400, as for every /me).
func AuthorizeRevokeMySignInSessions(p *Principal) error {
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case p.IsApp():
		return Errorf(KindBadRequest, "/me request is only valid with delegated authentication flow.")
	case !p.IsUser():
		return Errorf(KindUnauthenticated, "Access token validation failure.")
	case !p.Has(revokeMySessionsScopes...):
		return errNeedsPermission("Revoking the signed-in user's sessions", revokeMySessionsScopes)
	}
	return nil
}

// RevokeSignInSessions serves POST /users/{key}/revokeSignInSessions and,
// with key "" , /me/revokeSignInSessions: signInSessionsValidFromDateTime
// becomes now, every refresh token of the user is revoked and delegated
// access tokens issued before are refused (within the session cache's
// 30 s on other instances). Applications revoke anyone in the tenant but
// privileged administrators (as for delete); a signed-in user revokes
// their own sessions, or others' with a role that may delete users.
func (s *Service) RevokeSignInSessions(ctx context.Context, key string) (err error) {
	p := PrincipalFrom(ctx)
	self := key == ""
	k := ParseUserKey(key)
	if self {
		k = selfKey(p)
	}
	ev := s.auditUser(ctx, p, ActivityRevokeSignInSessions, k, []string{"signInSessionsValidFromDateTime"})
	defer s.auditEnd(ctx, ev, &err)
	check := AuthorizeRevokeSignInSessions
	if self {
		check = AuthorizeRevokeMySignInSessions
	}
	if err := check(p); err != nil {
		return err
	}
	var guard *TargetGuard
	a, err := s.accessOf(ctx, p)
	if err != nil {
		return err
	}
	switch {
	case self:
		if k.ID == "" {
			return ErrInsufficientPrivileges()
		}
	case p.IsUser() && k.ID != "" && a.isSelf(k.ID):
	case p.IsUser() && !a.has(canDelete):
		return a.errNeedsRole("Revoking sign-in sessions", canDelete)
	default:
		plan, err := a.CheckDelete()
		if err != nil {
			return err
		}
		guard = plan.Guard
	}
	if err := s.store.RevokeSignInSessions(ctx, p.TenantID, k, guard, ev); err != nil {
		if KindOf(err) == KindNotFound && !self {
			return ErrNotFoundUser(key)
		}
		return err
	}
	if k.ID != "" {
		s.ext.sessions.forget(p.TenantID, k.ID)
	}
	return nil
}

// SessionCacheTTL bounds how long an instance trusts its copy of a user's
// signInSessionsValidFromDateTime.
const SessionCacheTTL = 30 * time.Second

// BuiltinIssuer is the TrustedIssuer name of graphdir's own issuer; only
// its delegated tokens are subject to CheckSignInSession.
const BuiltinIssuer = "graphdir"

// CheckSignInSession refuses a delegated access token of the built-in
// issuer issued before the user's signInSessionsValidFromDateTime (Entra's
// continuous access evaluation answer, 401). App-only tokens, tokens of
// other issuers and users without a row pass: they are judged elsewhere.
// It runs after the token has been validated.
func (s *Service) CheckSignInSession(ctx context.Context, p *Principal) error {
	if !p.IsUser() || p.Issuer != BuiltinIssuer || p.IssuedAt.IsZero() || !IsGUID(p.UserID) {
		return nil
	}
	tenant, user := normalizeGUID(p.TenantID), normalizeGUID(p.UserID)
	from, ok := s.ext.sessions.get(tenant, user, s.now())
	if !ok {
		at, err := s.store.SignInSessionsValidFrom(ctx, tenant, user)
		switch {
		case KindOf(err) == KindNotFound:
			at = nil
		case err != nil:
			return err
		}
		s.ext.sessions.put(tenant, user, at, s.now())
		from = at
	}
	if from != nil && p.IssuedAt.Before(*from) {
		return Errorf(KindUnauthenticated, "Continuous access evaluation resulted in challenge with result: InteractionRequired and code: TokenIssuedBeforeRevocationTimestamp")
	}
	return nil
}

// sessionCache keeps each user's session boundary for SessionCacheTTL.
type sessionCache struct {
	mu sync.Mutex
	m  map[string]sessionEntry
}

type sessionEntry struct {
	from  *time.Time
	until time.Time
}

// maxSessionEntries bounds the cache; expired entries go first, then all.
const maxSessionEntries = 100_000

func (c *sessionCache) get(tenant, user string, now time.Time) (*time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[tenant+"/"+user]
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.from, true
}

func (c *sessionCache) put(tenant, user string, from *time.Time, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]sessionEntry)
	}
	if len(c.m) >= maxSessionEntries {
		for k, e := range c.m {
			if !now.Before(e.until) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxSessionEntries {
			clear(c.m)
		}
	}
	c.m[tenant+"/"+user] = sessionEntry{from: from, until: now.Add(SessionCacheTTL)}
}

func (c *sessionCache) forget(tenant, user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, normalizeGUID(tenant)+"/"+normalizeGUID(user))
}
