package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// UserGrant is what a completed sign-in grants (directory.UserGrant).
type UserGrant = directory.UserGrant

// GrantRefreshToken is the refresh token grant (RFC 6749 §6).
const GrantRefreshToken = "refresh_token"

// CodeInvalidGrant is RFC 6749's invalid_grant.
const CodeInvalidGrant = "invalid_grant"

// Refresh-token defaults (README "Tokens"): Entra's 90-day inactivity
// limit, a one-year absolute limit, Entra's 24 h for single-page apps, and
// a 30 s window in which a rotated token may be presented again.
const (
	DefaultRefreshIdle      = 90 * 24 * time.Hour
	DefaultRefreshMaxAge    = 365 * 24 * time.Hour
	DefaultRefreshSPAMaxAge = 24 * time.Hour
	DefaultRefreshGrace     = 30 * time.Second
)

// refreshTokenBytes is the entropy of a refresh token (256 bits).
const refreshTokenBytes = 32

// RefreshStore is the refresh-token half of directory.RefreshTokenStore.
type RefreshStore interface {
	CreateRefreshToken(ctx context.Context, hash []byte, t directory.RefreshToken) error
	RotateRefreshToken(ctx context.Context, tenantID, clientID string, hash, successorHash []byte, at time.Time, idle time.Duration) (*directory.RefreshToken, bool, error)
	RevokeRefreshFamily(ctx context.Context, tenantID, familyID string, at time.Time) error
}

// UserMinter mints user tokens; *issuer.Issuer implements it.
type UserMinter interface {
	MintUserAccessToken(ctx context.Context, g UserGrant, ttl time.Duration) (string, error)
	MintIDToken(ctx context.Context, g UserGrant) (string, error)
}

// Consents tells which delegated scopes an application currently holds
// tenant-wide consent for. KindNotFound when the application does not
// exist (any more).
type Consents interface {
	ConsentedScopes(ctx context.Context, tenantID, appID string) ([]string, error)
}

// UserConsents tells which delegated scopes a user consented to for an
// application, or an administrator for every user (oauth2PermissionGrants;
// *directory.PermissionGrants). They count as the tenant-wide consent
// does, for that user only.
type UserConsents interface {
	UserConsentedScopes(ctx context.Context, tenantID, clientID, userID string) ([]string, error)
}

var _ UserConsents = (*directory.PermissionGrants)(nil)

// ClientApps finds the application a refresh request names by its client
// id (*directory.Applications implements it): whether it is a public
// client, and the scopes it holds consent for. KindNotFound when it does
// not exist.
type ClientApps interface {
	ClientApplication(ctx context.Context, tenantID, clientID string) (*directory.Application, error)
}

// Users reads the signed-in user for the ID token's profile claims.
type Users interface {
	GetUser(ctx context.Context, tenantID string, key directory.UserKey) (*directory.User, error)
}

// UserTokens configures user token issuance; without it (Options.User
// nil) the endpoint serves client credentials only.
type UserTokens struct {
	Store    RefreshStore
	Minter   UserMinter
	Consents Consents
	Users    Users
	// Apps tells the refresh grant a public client (client id only) from
	// a confidential one (must authenticate) and reads its consent.
	Apps ClientApps
	// SuccessorKey derives a rotated token's successor from the token
	// (HMAC), so that a retry within the grace window gets the same
	// successor without the store ever holding a token. At least 32 bytes,
	// the same on every instance.
	SuccessorKey []byte
	// Idle, MaxAge and SPAMaxAge are the sliding and absolute lifetimes;
	// Grace the reuse window. Zero takes the defaults.
	Idle, MaxAge, SPAMaxAge, Grace time.Duration
	// Codes (with Apps) enables the authorization code grant (browser
	// redirect sign-in); CodeLifetime is a code's (zero: the default).
	Codes        CodeStore
	CodeLifetime time.Duration
	// Revocations enables RFC 7009 revocation.
	Revocations RevokeStore
	// Grants adds users' own consent (the consent page) to the
	// tenant-wide one; nil: tenant-wide consent only.
	Grants UserConsents
}

// TokenResponse is a successful user token response. ClientInfo is always
// filled; the edge sends it when the client asked (client_info=1).
type TokenResponse struct {
	AccessToken           string
	ExpiresIn             int
	Scope                 string
	IDToken               string
	RefreshToken          string
	RefreshTokenExpiresIn int
	ClientInfo            string
	// FamilyID is the new refresh-token family ("" when none); never sent.
	FamilyID string
}

// ClientInfo is Entra's client_info: base64url (no padding) of
// {"uid":oid,"utid":tid}. MSAL keys its account cache by it.
func ClientInfo(userID, tenantID string) string {
	b, _ := json.Marshal(struct {
		UID  string `json:"uid"`
		UTID string `json:"utid"`
	}{strings.ToLower(userID), strings.ToLower(tenantID)})
	return base64.RawURLEncoding.EncodeToString(b)
}

// errNoUserTokens is the answer when user tokens are not configured.
func errNoUserTokens() *Error {
	return newError(CodeUnsupportedGrantType, 70003, "The app requested an unsupported grant type 'refresh_token'.")
}

func serverError(err error) *Error {
	return &Error{Code: CodeServerError, Description: "The token could not be issued. Retry the request.", Err: err}
}

func invalidGrant(aadsts int, desc string) *Error { return newError(CodeInvalidGrant, aadsts, desc) }

// IssueUserTokens is where every sign-in ends once the user is
// authenticated: an access token for the granted scopes, an ID token when
// openid was granted, and a new refresh-token family when offline_access
// was. The scopes must be covered by the application's consent, and the
// user must exist and be enabled. Profile claims the grant leaves empty
// are read from the directory (ProfileClaims).
func (s *Server) IssueUserTokens(ctx context.Context, g UserGrant) (*TokenResponse, error) {
	u := s.user
	if u == nil {
		return nil, serverError(directory.Errorf(directory.KindUnavailable, "user tokens are not configured"))
	}
	if !directory.IsGUID(g.TenantID) || !directory.IsGUID(g.UserID) || !directory.IsGUID(g.ClientID) {
		return nil, ErrInvalidRequest(900144, "The tenant, user and client must be given by their ids.")
	}
	g.TenantID, g.UserID, g.ClientID = strings.ToLower(g.TenantID), strings.ToLower(g.UserID), strings.ToLower(g.ClientID)
	scopes, err := s.normalizeScopes(g.Scopes)
	if err != nil {
		return nil, err
	}
	consented, err := s.consented(ctx, g.TenantID, g.ClientID)
	if err != nil {
		return nil, err
	}
	if consented, err = s.withUserConsent(ctx, g.TenantID, g.ClientID, g.UserID, scopes, consented); err != nil {
		return nil, err
	}
	if scopes, err = expandDefault(scopes, consented); err != nil {
		return nil, err
	}
	g.Scopes = scopes
	// The user must (still) be able to sign in; the ID token's profile
	// claims come from the directory unless the flow supplied them.
	usr, err := u.Users.GetUser(ctx, g.TenantID, directory.UserKey{ID: g.UserID})
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		return nil, invalidGrant(50034, "The user account does not exist in the directory.")
	case err != nil:
		return nil, serverError(err)
	case usr.AccountEnabled != nil && !*usr.AccountEnabled:
		return nil, invalidGrant(50057, "The user account is disabled.")
	}
	if g.PreferredUsername == "" && g.Name == "" && g.Email == "" {
		ProfileClaims(&g, usr)
	}
	now := s.now()
	if g.AuthTime.IsZero() {
		g.AuthTime = now
	}
	resp, err := s.mintUser(ctx, g)
	if err != nil {
		return nil, err
	}
	if containsFold(g.Scopes, "offline_access") {
		rt, err := newRefreshToken()
		if err != nil {
			return nil, serverError(err)
		}
		maxAge := u.MaxAge
		if g.SPA {
			maxAge = u.SPAMaxAge
		}
		t := directory.RefreshToken{
			TenantID: g.TenantID, FamilyID: uuid.NewString(), UserID: g.UserID, ClientID: g.ClientID,
			Scopes: g.Scopes, AMR: g.AMR, ACRS: g.ACRS, AuthTime: g.AuthTime.UTC(), SessionID: g.SessionID,
			CreatedAt: now, ExpiresAt: now.Add(u.Idle), FamilyExpiresAt: now.Add(maxAge),
		}
		if err := u.Store.CreateRefreshToken(ctx, hashToken(rt), t); err != nil {
			if directory.KindOf(err) == directory.KindNotFound {
				return nil, invalidGrant(50057, "The user account is disabled or does not exist.")
			}
			return nil, serverError(err)
		}
		resp.RefreshToken, resp.FamilyID = rt, t.FamilyID
		resp.RefreshTokenExpiresIn = secondsUntil(earlier(t.ExpiresAt, t.FamilyExpiresAt), now)
	}
	return resp, nil
}

// consented returns the application's consented scopes; a missing
// application is unauthorized_client (Entra's AADSTS700016).
func (s *Server) consented(ctx context.Context, tenantID, clientID string) ([]string, error) {
	scopes, err := s.user.Consents.ConsentedScopes(ctx, tenantID, clientID)
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		return nil, newError(CodeUnauthorizedClient, 700016, "Application with identifier '"+printable(clip(clientID))+"' was not found in the directory.")
	case err != nil:
		return nil, serverError(err)
	}
	return scopes, nil
}

// withUserConsent adds to consented (the tenant-wide consent) what the
// user granted the client themself, when scopes need more than the
// tenant-wide consent: the common case costs no query.
func (s *Server) withUserConsent(ctx context.Context, tenantID, clientID, userID string, scopes, consented []string) ([]string, error) {
	if s.user.Grants == nil || !slices.ContainsFunc(scopes, func(sc string) bool { return sc != directory.ScopeDefault && !containsFold(consented, sc) }) {
		return consented, nil
	}
	mine, err := s.user.Grants.UserConsentedScopes(ctx, tenantID, clientID, userID)
	if err != nil {
		return nil, serverError(err)
	}
	return append(slices.Clone(consented), mine...), nil
}

// normalizeScopes reads requested scopes with the directory's one
// normaliser (bare, api://graphdir/..., https://graph.microsoft.com/...,
// or qualified with the configured audience); a refused scope is
// invalid_scope (AADSTS70011).
func (s *Server) normalizeScopes(requested []string) ([]string, error) {
	out, err := directory.NormalizeDelegatedScopes(requested, s.minter.Audience())
	var se *directory.ScopeError
	switch {
	case errors.As(err, &se):
		return nil, newError(CodeInvalidScope, 70011, printable(se.Error()))
	case err != nil:
		return nil, serverError(err)
	}
	return out, nil
}

// expandDefault replaces ".default" by every consented API scope (the
// OpenID Connect scopes a client names itself, as Entra has it) and
// refuses scopes without consent (Entra's AADSTS65001).
func expandDefault(scopes, consented []string) ([]string, error) {
	var out []string
	for _, sc := range scopes {
		if sc == directory.ScopeDefault {
			for _, c := range consented {
				if !directory.IsOIDCScope(c) && !containsFold(out, c) {
					out = append(out, c)
				}
			}
			continue
		}
		if !containsFold(consented, sc) {
			return nil, invalidGrant(65001, "The user or administrator has not consented to use the application with the scope '"+printable(clip(sc))+"'.")
		}
		if !containsFold(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, newError(CodeInvalidScope, 70011, "The request must include at least one scope.")
	}
	return out, nil
}

// mintUser mints the access token and, with openid, the ID token of g.
func (s *Server) mintUser(ctx context.Context, g UserGrant) (*TokenResponse, error) {
	at, err := s.user.Minter.MintUserAccessToken(ctx, g, s.ttl)
	if err != nil {
		return nil, serverError(err)
	}
	resp := &TokenResponse{AccessToken: at, ExpiresIn: int(s.ttl/time.Second) - 1, Scope: strings.Join(g.Scopes, " "),
		ClientInfo: ClientInfo(g.UserID, g.TenantID)}
	if containsFold(g.Scopes, "openid") {
		if resp.IDToken, err = s.user.Minter.MintIDToken(ctx, g); err != nil {
			return nil, serverError(err)
		}
	}
	return resp, nil
}

// Refresh serves grant_type=refresh_token: the token is exchanged for a
// new access token (for the requested subset of its scopes), a new ID
// token when openid was granted, and always a new refresh token.
//
// Rotation: the presented token is marked used in one conditional UPDATE
// and its successor stored in the same transaction. A used token presented
// again within the grace window gets the same successor (derived, not
// stored: see UserTokens.SuccessorKey); after it, the whole family is
// revoked and every token of it refused.
func (s *Server) Refresh(ctx context.Context, r Request) (*TokenResponse, error) {
	u := s.user
	if u == nil {
		return nil, errNoUserTokens()
	}
	if !directory.IsGUID(r.TenantID) {
		return nil, newError(CodeInvalidRequest, 90002, "Tenant '"+printable(clip(r.TenantID))+"' not found. The tenant must be given by its id (a GUID).")
	}
	tenant := strings.ToLower(r.TenantID)
	switch {
	case r.ClientID == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'client_id'.")
	case r.RefreshToken == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'refresh_token'.")
	case !directory.IsGUID(r.ClientID):
		return nil, newError(CodeUnauthorizedClient, 700016, "Application with identifier '"+printable(clip(r.ClientID))+"' was not found in the directory.")
	}
	clientID := strings.ToLower(r.ClientID)
	requested, err := s.normalizeScopes(strings.Fields(r.Scope))
	if err != nil {
		return nil, err
	}
	raw, ok := decodeRefreshToken(r.RefreshToken)
	if !ok {
		return nil, invalidGrant(9002313, "Invalid request. The refresh token is malformed or invalid.")
	}
	// The client is known and, unless public, authenticated before the
	// token is touched: a stolen token of a confidential client is worth
	// nothing without its secret, and cannot even be spent.
	app, err := s.refreshClient(ctx, tenant, clientID, r)
	if err != nil {
		return nil, err
	}
	now := s.now()
	succ := successorOf(u.SuccessorKey, raw)
	t, rotated, err := u.Store.RotateRefreshToken(ctx, tenant, clientID, hashToken(r.RefreshToken), hashToken(succ), now, u.Idle)
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		return nil, invalidGrant(9002313, "Invalid request. The refresh token is malformed or invalid.")
	case err != nil:
		return nil, serverError(err)
	}
	if !rotated {
		switch {
		case !strings.EqualFold(t.ClientID, clientID):
			return nil, invalidGrant(70000, "The refresh token was issued to a different client.")
		case t.RevokedAt != nil:
			return nil, invalidGrant(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password, been disabled or deleted, or had their sign-in sessions revoked.")
		case t.RotatedAt != nil && now.Sub(*t.RotatedAt) <= u.Grace:
			// A client that raced itself: same successor, fresh access token.
		case t.RotatedAt != nil:
			if err := u.Store.RevokeRefreshFamily(ctx, tenant, t.FamilyID, now); err != nil {
				return nil, serverError(err)
			}
			return nil, invalidGrant(70000, "The refresh token has already been used; every token of its family is now revoked. Sign in again.")
		case !now.Before(t.FamilyExpiresAt):
			return nil, invalidGrant(70008, "The refresh token has expired: it has reached its maximum lifetime. Sign in again.")
		default:
			return nil, invalidGrant(700082, "The refresh token has expired due to inactivity. Sign in again.")
		}
	}

	// The grant still needs the application's consent (read with the
	// application above: one lookup per refresh), tenant-wide or the
	// user's own (one more lookup, only when the tenant-wide consent does
	// not cover the token): a deleted grant ends the family here.
	consented, err := s.withUserConsent(ctx, tenant, clientID, t.UserID, t.Scopes, app.ConsentedScopes())
	if err != nil {
		return nil, err
	}
	for _, sc := range t.Scopes {
		if !containsFold(consented, sc) {
			if err := u.Store.RevokeRefreshFamily(ctx, tenant, t.FamilyID, now); err != nil {
				return nil, serverError(err)
			}
			return nil, invalidGrant(65001, "The user or administrator has not consented to use the application with the scope '"+printable(clip(sc))+"'.")
		}
	}

	scopes := t.Scopes
	if len(requested) > 0 {
		scopes = nil
		for _, sc := range requested {
			switch {
			case sc == directory.ScopeDefault:
				for _, g := range t.Scopes {
					if !directory.IsOIDCScope(g) {
						scopes = append(scopes, g)
					}
				}
			case containsFold(t.Scopes, sc):
				scopes = append(scopes, sc)
			case directory.IsOIDCScope(sc):
				// MSAL adds openid profile offline_access to every refresh;
				// what the sign-in did not grant is simply not granted.
			default:
				return nil, invalidGrant(65001, "The scope '"+printable(clip(sc))+"' was not granted to the refresh token; sign in again to consent to it.")
			}
		}
	}
	g := UserGrant{TenantID: tenant, UserID: t.UserID, ClientID: clientID, Scopes: dedupe(scopes),
		AMR: t.AMR, ACRS: t.ACRS, AuthTime: t.AuthTime, SessionID: t.SessionID}
	if containsFold(g.Scopes, "openid") {
		usr, err := u.Users.GetUser(ctx, tenant, directory.UserKey{ID: t.UserID})
		switch {
		case directory.KindOf(err) == directory.KindNotFound:
			return nil, invalidGrant(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed.")
		case err != nil:
			return nil, serverError(err)
		}
		ProfileClaims(&g, usr)
	}
	resp, err := s.mintUser(ctx, g)
	if err != nil {
		return nil, err
	}
	resp.RefreshToken = succ
	// The successor's idle expiry runs from its creation (now, or the
	// first rotation when a racing client repeats it).
	created := now
	if !rotated {
		created = *t.RotatedAt
	}
	resp.RefreshTokenExpiresIn = secondsUntil(earlier(created.Add(u.Idle), t.FamilyExpiresAt), now)
	return resp, nil
}

// refreshClient returns the application a refresh request names, held to
// its kind: a client that sends a secret (client_secret_post or
// client_secret_basic) is authenticated as in the client credentials
// grant, failure limits included; one that sends none must be a public
// client (directory.Application.IsPublicClient). A confidential client
// without its secret is invalid_client (Entra's AADSTS7000218), whatever
// the token.
func (s *Server) refreshClient(ctx context.Context, tenant, clientID string, r Request) (*directory.Application, error) {
	if r.ClientSecret != "" {
		return s.authenticate(ctx, tenant, r)
	}
	if s.user.Apps == nil {
		return nil, serverError(directory.Errorf(directory.KindUnavailable, "the refresh grant has no application lookup"))
	}
	app, err := s.user.Apps.ClientApplication(ctx, tenant, clientID)
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		return nil, newError(CodeUnauthorizedClient, 700016, "Application with identifier '"+printable(clip(clientID))+"' was not found in the directory.")
	case err != nil:
		return nil, serverError(err)
	case !app.IsPublicClient():
		return nil, newError(CodeInvalidClient, 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}
	return app, nil
}

// ProfileClaims fills the ID token's profile claims of g from the user:
// preferred_username is the email a customer signs in with (an
// emailAddress identity), else mail, else userPrincipalName; name is
// displayName; email is the sign-in email address, which External ID
// verified at sign-up (a mail property alone is not verified).
func ProfileClaims(g *UserGrant, u *directory.User) {
	if u == nil {
		return
	}
	var signInEmail string
	for _, id := range u.Identities {
		if strings.EqualFold(id.SignInType, "emailAddress") && id.IssuerAssignedID != "" {
			signInEmail = id.IssuerAssignedID
			break
		}
	}
	switch {
	case signInEmail != "":
		g.PreferredUsername = signInEmail
	case u.Mail != nil && *u.Mail != "":
		g.PreferredUsername = *u.Mail
	case u.UserPrincipalName != nil:
		g.PreferredUsername = *u.UserPrincipalName
	}
	if u.DisplayName != nil {
		g.Name = *u.DisplayName
	}
	g.Email, g.EmailVerified = signInEmail, signInEmail != ""
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if !containsFold(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func secondsUntil(t, now time.Time) int {
	return max(0, int(t.Sub(now)/time.Second))
}

// newRefreshToken returns 256 random bits, base64url without padding.
func newRefreshToken() (string, error) {
	b := make([]byte, refreshTokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// decodeRefreshToken checks the shape of a presented token (43 base64url
// characters, 32 bytes) before it costs a query.
func decodeRefreshToken(s string) ([]byte, bool) {
	if len(s) != base64.RawURLEncoding.EncodedLen(refreshTokenBytes) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return b, err == nil && len(b) == refreshTokenBytes
}

// successorOf derives the successor of a refresh token. HMAC under a
// server secret keeps it as unpredictable as a random token to anyone
// without both the secret and the presented token.
func successorOf(key, raw []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("graphdir refresh token successor\x00"))
	m.Write(raw)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// hashToken is what the store keys a refresh token by.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func clip(s string) string { return textlimit.Clip(s, maxEchoed) }
