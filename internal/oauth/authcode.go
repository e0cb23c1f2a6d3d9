package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// GrantAuthorizationCode is the authorization code grant (RFC 6749 §4.1).
const GrantAuthorizationCode = "authorization_code"

// DefaultCodeLifetime is an authorization code's lifetime: RFC 6749 §4.1.2
// says at most 10 minutes; RFC 9700 prefers less.
const DefaultCodeLifetime = 5 * time.Minute

// CodeStore keeps authorization codes (directory.BrowserSignInStore).
type CodeStore interface {
	CreateAuthCode(ctx context.Context, c directory.AuthCode, codeHash []byte) error
	RedeemAuthCode(ctx context.Context, tenantID, clientID string, codeHash []byte, at time.Time) (*directory.AuthCode, bool, error)
	SetAuthCodeFamily(ctx context.Context, tenantID string, codeHash []byte, familyID string) error
}

// IssueCode stores c and returns the code the browser carries to the
// client. Only the code's SHA-256 is stored.
func (s *Server) IssueCode(ctx context.Context, c directory.AuthCode) (string, error) {
	u := s.user
	if u == nil || u.Codes == nil {
		return "", serverError(directory.Errorf(directory.KindUnavailable, "authorization codes are not configured"))
	}
	code, err := newRefreshToken() // same shape: 32 random bytes, base64url
	if err != nil {
		return "", serverError(err)
	}
	now := s.now().UTC()
	c.CreatedAt = now
	life := u.CodeLifetime
	if life <= 0 || life > 10*time.Minute {
		life = DefaultCodeLifetime
	}
	c.ExpiresAt = now.Add(life)
	if err := u.Codes.CreateAuthCode(ctx, c, hashToken(code)); err != nil {
		return "", serverError(err)
	}
	return code, nil
}

// AuthorizationCode serves grant_type=authorization_code. The client is
// authenticated (or, for a public redirect URI, identified) before the
// code is looked at, so a request that fails client authentication never
// spends a code (x/oauth2 retries with another authentication style). The
// code is then spent in one conditional UPDATE; a code presented again is
// invalid_grant and revokes the refresh tokens it produced.
func (s *Server) AuthorizationCode(ctx context.Context, r Request) (*TokenResponse, error) {
	u := s.user
	if u == nil || u.Codes == nil || u.Apps == nil {
		return nil, newError(CodeUnsupportedGrantType, 70003, "The app requested an unsupported grant type 'authorization_code'.")
	}
	if !directory.IsGUID(r.TenantID) {
		return nil, newError(CodeInvalidRequest, 90002, "Tenant '"+printable(clip(r.TenantID))+"' not found. The tenant must be given by its id (a GUID).")
	}
	tenant := strings.ToLower(r.TenantID)
	switch {
	case r.ClientID == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'client_id'.")
	case r.Code == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'code'.")
	case r.RedirectURI == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'redirect_uri'.")
	case r.CodeVerifier != "" && !validVerifier(r.CodeVerifier):
		return nil, newError(CodeInvalidRequest, 501481, "The code_verifier does not match the format of RFC 7636 (43 to 128 unreserved characters).")
	}
	app, err := u.Apps.ClientApplication(ctx, tenant, r.ClientID)
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		return nil, &Error{Code: CodeInvalidClient, AADSTS: 700016, Description: "Application with identifier '" + printable(clip(r.ClientID)) + "' was not found in the directory."}
	case err != nil:
		return nil, serverError(err)
	}
	kind, ok := MatchRedirectURI(app, r.RedirectURI)
	if !ok {
		return nil, invalidGrant(50011, "The redirect URI '"+printable(clip(r.RedirectURI))+"' does not match the redirect URIs configured for the application.")
	}
	// A web redirect URI belongs to a confidential client: it must
	// authenticate. A public one may not pretend to (Entra's 700025) but a
	// secret it sends anyway is checked.
	switch {
	case kind == directory.RedirectWeb || r.ClientSecret != "":
		if r.ClientSecret == "" {
			return nil, &Error{Code: CodeInvalidClient, AADSTS: 7000218, Description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
		}
		if _, err := s.authenticate(ctx, tenant, r); err != nil {
			return nil, err
		}
	}
	// Entra's single-page application rule: a code sent to a spa redirect
	// URI is redeemed from the browser (cross-origin), and only such codes
	// are.
	switch {
	case kind == directory.RedirectSPA && r.Origin == "":
		return nil, newError(CodeInvalidRequest, 9002327, "Tokens issued for the 'Single-Page Application' client-type may only be redeemed via cross-origin requests.")
	case kind == directory.RedirectSPA && !slices.Contains(app.SPAOrigins(), strings.ToLower(r.Origin)):
		return nil, newError(CodeInvalidRequest, 9002326, "Cross-origin token redemption is permitted only from the origins of the application's single-page application redirect URIs.")
	case kind != directory.RedirectSPA && r.Origin != "":
		return nil, newError(CodeInvalidRequest, 9002326, "Cross-origin token redemption is permitted only for the 'Single-Page Application' client-type.")
	}

	now := s.now()
	codeHash := hashToken(r.Code)
	c, first, err := u.Codes.RedeemAuthCode(ctx, tenant, r.ClientID, codeHash, now)
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		return nil, invalidGrant(70000, "The provided authorization code is invalid or has expired.")
	case err != nil:
		return nil, serverError(err)
	case !first && c.UsedAt == nil:
		// Another client's code: refused, and left for its client.
		return nil, invalidGrant(70000, "The authorization code was issued to a different client.")
	}
	if !first {
		if c.FamilyID != "" {
			if err := u.Store.RevokeRefreshFamily(ctx, tenant, c.FamilyID, now); err != nil {
				return nil, serverError(err)
			}
		}
		return nil, invalidGrant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token. The tokens issued with it are revoked.")
	}
	switch {
	case !now.Before(c.ExpiresAt):
		return nil, invalidGrant(70008, "The provided authorization code has expired.")
	case c.RedirectURI != r.RedirectURI:
		return nil, invalidGrant(50011, "The redirect_uri does not match the one of the authorization request.")
	case c.CodeChallenge == "" && r.CodeVerifier != "":
		// RFC 9700 §4.8: a verifier without a challenge is a downgrade.
		return nil, invalidGrant(50148, "The code_verifier was sent but the authorization request had no code_challenge.")
	case c.CodeChallenge != "" && r.CodeVerifier == "":
		return nil, invalidGrant(50148, "The request body must contain the following parameter: 'code_verifier'.")
	case c.CodeChallenge != "" && !pkceMatches(c.CodeChallenge, r.CodeVerifier):
		return nil, invalidGrant(501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
	}
	resp, err := s.IssueUserTokens(ctx, UserGrant{
		TenantID: tenant, UserID: c.UserID, ClientID: strings.ToLower(c.ClientID), Scopes: c.Scopes,
		AMR: c.AMR, ACRS: c.ACRS, AuthTime: c.AuthTime, Nonce: c.Nonce, SessionID: c.SessionID,
		SPA: c.RedirectKind == directory.RedirectSPA,
	})
	if err != nil {
		return nil, err
	}
	if resp.FamilyID != "" {
		if err := u.Codes.SetAuthCodeFamily(ctx, tenant, codeHash, resp.FamilyID); err != nil {
			return nil, serverError(err)
		}
	}
	return resp, nil
}

// pkceMatches checks BASE64URL(SHA256(verifier)) == challenge in constant
// time (RFC 7636 §4.6).
func pkceMatches(challenge, verifier string) bool {
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(challenge)) == 1
}

// RevokeStore revokes refresh tokens by value (RFC 7009).
type RevokeStore interface {
	RevokeRefreshTokenFamily(ctx context.Context, tenantID, clientID string, hash []byte, at time.Time) (bool, error)
}

// Revoke serves RFC 7009 token revocation for refresh tokens: the token's
// whole family is revoked. A confidential client authenticates; a public
// one names itself. An unknown, malformed or foreign token is not an
// error (RFC 7009 §2.2: the client cannot do anything about it).
func (s *Server) Revoke(ctx context.Context, r Request, token string) error {
	u := s.user
	if u == nil || u.Revocations == nil || u.Apps == nil {
		return serverError(directory.Errorf(directory.KindUnavailable, "revocation is not configured"))
	}
	if !directory.IsGUID(r.TenantID) {
		return newError(CodeInvalidRequest, 90002, "Tenant '"+printable(clip(r.TenantID))+"' not found. The tenant must be given by its id (a GUID).")
	}
	tenant := strings.ToLower(r.TenantID)
	if r.ClientID == "" {
		return newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'client_id'.")
	}
	app, err := u.Apps.ClientApplication(ctx, tenant, r.ClientID)
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		return &Error{Code: CodeInvalidClient, AADSTS: 700016, Description: "Application with identifier '" + printable(clip(r.ClientID)) + "' was not found in the directory."}
	case err != nil:
		return serverError(err)
	}
	switch {
	case r.ClientSecret != "":
		if _, err := s.authenticate(ctx, tenant, r); err != nil {
			return err
		}
	case !app.IsPublicClient():
		return &Error{Code: CodeInvalidClient, AADSTS: 7000218, Description: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	if token == "" {
		return newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'token'.")
	}
	if strings.Count(token, ".") == 2 {
		// Access tokens are self-contained JWTs, short-lived; they end
		// with their grant's refresh tokens or revokeSignInSessions.
		return newError("unsupported_token_type", 0, "Access tokens cannot be revoked one by one; revoke the refresh token, or the user's sign-in sessions.")
	}
	if _, ok := decodeRefreshToken(token); !ok {
		return nil
	}
	if _, err := u.Revocations.RevokeRefreshTokenFamily(ctx, tenant, app.AppID, hashToken(token), s.now()); err != nil {
		return serverError(err)
	}
	return nil
}
