package issuer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/graphdir/graphdir/internal/directory"
)

// TokenType is the JWS typ of minted access tokens (RFC 9068 §2.1). The
// verifier requires it for this issuer, which is what keeps an ID token or
// any other JWT signed by the same key from passing as an access token.
const TokenType = "at+jwt"

// DefaultTokenLifetime is used when a caller passes ttl <= 0; it matches the
// lower end of Entra's randomised 60–90 minute access-token lifetime.
const DefaultTokenLifetime = time.Hour

// MaxTokenLifetime caps ttl. It stays below auth's default maximum lifetime
// (28 h) so that every token we mint is one we also accept.
const MaxTokenLifetime = 24 * time.Hour

// claims is the payload of a minted access token. Field order is the wire
// order; optional fields are omitted rather than sent empty so that the
// verifier's "present" tests mean what they say.
type claims struct {
	Iss      string   `json:"iss"`
	Aud      string   `json:"aud"`
	Sub      string   `json:"sub"`
	Oid      string   `json:"oid"`
	Tid      string   `json:"tid"`
	Azp      string   `json:"azp"`
	AppID    string   `json:"appid"`
	ClientID string   `json:"client_id"`
	Idtyp    string   `json:"idtyp"`
	Scp      string   `json:"scp,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	Iat      int64    `json:"iat"`
	Nbf      int64    `json:"nbf"`
	Exp      int64    `json:"exp"`
	Jti      string   `json:"jti"`
	Ver      string   `json:"ver"`
}

// MintAppToken returns an app-only access token (client credentials):
// idtyp "app", the application permissions in roles, and sub = oid = azp =
// appID since graphdir has no separate service-principal object.
func (i *Issuer) MintAppToken(ctx context.Context, tenantID, appID string, roles []string, ttl time.Duration) (string, error) {
	if err := checkPermissions("roles", roles); err != nil {
		return "", err
	}
	return i.mint(ctx, tenantID, ttl, claims{
		Sub: appID, Oid: appID, Azp: appID, AppID: appID, ClientID: appID,
		Idtyp: "app", Roles: roles,
	})
}

// MintUserToken returns a delegated access token: idtyp "user", the granted
// scopes as a space-separated scp, and sub = oid = the user's object id so
// that /me resolves by (tid, oid).
func (i *Issuer) MintUserToken(ctx context.Context, tenantID, userID, appID string, scopes []string, ttl time.Duration) (string, error) {
	if !directory.IsGUID(userID) {
		return "", directory.Errorf(directory.KindInvalid, "The user id must be a GUID.").WithTarget("userId")
	}
	if err := checkPermissions("scopes", scopes); err != nil {
		return "", err
	}
	userID = strings.ToLower(userID)
	return i.mint(ctx, tenantID, ttl, claims{
		Sub: userID, Oid: userID, Azp: appID, AppID: appID, ClientID: appID,
		Idtyp: "user", Scp: strings.Join(scopes, " "),
	})
}

// checkPermissions refuses names that would not survive the round trip
// through scp (space-separated) or that the verifier would refuse.
func checkPermissions(target string, perms []string) error {
	for _, p := range perms {
		if p == "" || strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r == 0x7f }) {
			return directory.Errorf(directory.KindInvalid, "Invalid permission name.").WithTarget(target)
		}
	}
	return nil
}

func (i *Issuer) mint(ctx context.Context, tenantID string, ttl time.Duration, c claims) (string, error) {
	if c.AppID == "" || len(c.AppID) > 256 {
		return "", directory.Errorf(directory.KindInvalid, "The application id is required.").WithTarget("appId")
	}
	switch {
	case ttl <= 0:
		ttl = DefaultTokenLifetime
	case ttl > MaxTokenLifetime:
		return "", directory.Errorf(directory.KindInvalid, "The token lifetime may not exceed %s.", MaxTokenLifetime)
	}
	tk, err := i.load(ctx, tenantID, true)
	if err != nil {
		return "", err
	}
	now := i.now()
	c.Iss = i.IssuerURL(tenantID)
	c.Aud = i.audience
	c.Tid = strings.ToLower(tenantID)
	c.Iat = now.Unix()
	c.Nbf = now.Unix()
	c.Exp = now.Add(ttl).Unix()
	c.Jti = uuid.NewString()
	c.Ver = "2.0"
	payload, err := json.Marshal(c)
	if err != nil {
		return "", directory.Internal(err, "issuer: encode claims")
	}

	hdr := jws.NewHeaders()
	for name, v := range map[string]any{jws.KeyIDKey: tk.signingKID, jws.TypeKey: TokenType} {
		if err := hdr.Set(name, v); err != nil {
			return "", directory.Internal(err, "issuer: set header")
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(jwa.RS256, tk.signing, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", directory.Internal(fmt.Errorf("sign: %w", err), "issuer: mint")
	}
	return string(tok), nil
}
