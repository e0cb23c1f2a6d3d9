package issuer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/graphdir/graphdir/internal/directory"
)

// UserGrant is the request of MintUserAccessToken and MintIDToken.
type UserGrant = directory.UserGrant

// IDTokenType is the JWS typ of ID tokens. It is never at+jwt, which is
// what keeps an ID token from passing as an access token (the verifier
// accepts only at+jwt from this issuer).
const IDTokenType = "JWT"

// DefaultIDTokenLifetime is the ID token's lifetime (Entra: one hour).
const DefaultIDTokenLifetime = time.Hour

// userClaims is the payload of a delegated access token: the claims of
// claims plus amr and acrs.
type userClaims struct {
	claims
	AMR  []string `json:"amr,omitempty"`
	ACRS []string `json:"acrs,omitempty"`
	Sid  string   `json:"sid,omitempty"`
}

// MintUserAccessToken returns a delegated access token for g: typ at+jwt,
// idtyp "user", ver "2.0", scp the granted scopes (OIDC scopes are not API
// permissions and are left out when there are API scopes, as Entra leaves
// them out), sub = oid = the
// user, azp = appid = client_id = the client, amr and acrs as given.
func (i *Issuer) MintUserAccessToken(ctx context.Context, g UserGrant, ttl time.Duration) (string, error) {
	if err := checkGrant(g); err != nil {
		return "", err
	}
	var scp []string
	for _, s := range g.Scopes {
		if !directory.IsOIDCScope(s) {
			scp = append(scp, s)
		}
	}
	if len(scp) == 0 {
		// A sign-in with OIDC scopes only still gets an access token
		// (MSAL requires one); it names those scopes, none of which any
		// Graph operation accepts.
		scp = g.Scopes
	}
	if len(scp) == 0 {
		return "", directory.Errorf(directory.KindInvalid, "No scope was granted.").WithTarget("scopes")
	}
	if err := checkPermissions("scopes", scp); err != nil {
		return "", err
	}
	if err := checkPermissions("amr", g.AMR); err != nil {
		return "", err
	}
	if err := checkPermissions("acrs", g.ACRS); err != nil {
		return "", err
	}
	user, client := strings.ToLower(g.UserID), strings.ToLower(g.ClientID)
	c := userClaims{
		claims: claims{Sub: user, Oid: user, Azp: client, AppID: client, ClientID: client,
			Idtyp: "user", Scp: strings.Join(scp, " ")},
		AMR: g.AMR, ACRS: g.ACRS, Sid: g.SessionID,
	}
	return i.signUser(ctx, g.TenantID, ttl, &c)
}

// signUser completes and signs a user access token; mint's rules apply.
func (i *Issuer) signUser(ctx context.Context, tenantID string, ttl time.Duration, c *userClaims) (string, error) {
	switch {
	case ttl <= 0:
		ttl = DefaultTokenLifetime
	case ttl > MaxTokenLifetime:
		return "", directory.Errorf(directory.KindInvalid, "The token lifetime may not exceed %s.", MaxTokenLifetime)
	}
	now := i.now()
	c.Iss = i.IssuerURL(tenantID)
	c.Aud = i.audience
	c.Tid = strings.ToLower(tenantID)
	c.Iat, c.Nbf, c.Exp = now.Unix(), now.Unix(), now.Add(ttl).Unix()
	c.Jti = uuid.NewString()
	c.Ver = "2.0"
	payload, err := json.Marshal(c)
	if err != nil {
		return "", directory.Internal(err, "issuer: encode claims")
	}
	return i.sign(ctx, tenantID, payload, TokenType)
}

// idClaims is the payload of an ID token (OpenID Connect Core §2, plus
// Entra's tid, oid, ver, preferred_username).
type idClaims struct {
	Iss               string   `json:"iss"`
	Sub               string   `json:"sub"`
	Aud               string   `json:"aud"`
	Exp               int64    `json:"exp"`
	Iat               int64    `json:"iat"`
	Nbf               int64    `json:"nbf"`
	Nonce             string   `json:"nonce,omitempty"`
	AuthTime          int64    `json:"auth_time"`
	Tid               string   `json:"tid"`
	Oid               string   `json:"oid"`
	Ver               string   `json:"ver"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Name              string   `json:"name,omitempty"`
	Email             string   `json:"email,omitempty"`
	Sid               string   `json:"sid,omitempty"`
	AMR               []string `json:"amr,omitempty"`
}

// MintIDToken returns the OpenID Connect ID token of g: header typ "JWT",
// aud = the client id (a string), sub = oid, nonce only when g has one,
// email only when the email scope was granted and the address is
// verified.
func (i *Issuer) MintIDToken(ctx context.Context, g UserGrant) (string, error) {
	if err := checkGrant(g); err != nil {
		return "", err
	}
	if g.AuthTime.IsZero() {
		return "", directory.Errorf(directory.KindInvalid, "The authentication time is required.").WithTarget("authTime")
	}
	user := strings.ToLower(g.UserID)
	now := i.now()
	c := idClaims{
		Iss: i.IssuerURL(g.TenantID), Sub: user, Aud: strings.ToLower(g.ClientID),
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(DefaultIDTokenLifetime).Unix(),
		Nonce: g.Nonce, AuthTime: g.AuthTime.Unix(), Tid: strings.ToLower(g.TenantID), Oid: user, Ver: "2.0",
		PreferredUsername: g.PreferredUsername, Name: g.Name, Sid: g.SessionID, AMR: g.AMR,
	}
	if g.Email != "" && g.EmailVerified && hasScope(g.Scopes, "email") {
		c.Email = g.Email
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", directory.Internal(err, "issuer: encode claims")
	}
	return i.sign(ctx, g.TenantID, payload, IDTokenType)
}

func hasScope(scopes []string, want string) bool {
	return slices.ContainsFunc(scopes, func(s string) bool { return strings.EqualFold(s, want) })
}

func checkGrant(g UserGrant) error {
	switch {
	case !directory.IsGUID(g.TenantID):
		return directory.Errorf(directory.KindInvalid, "The tenant id must be a GUID.").WithTarget("tenantId")
	case !directory.IsGUID(g.UserID):
		return directory.Errorf(directory.KindInvalid, "The user id must be a GUID.").WithTarget("userId")
	case !directory.IsGUID(g.ClientID):
		return directory.Errorf(directory.KindInvalid, "The client id must be a GUID.").WithTarget("clientId")
	}
	return nil
}

// sign signs payload with the tenant's current key under header typ.
func (i *Issuer) sign(ctx context.Context, tenantID string, payload []byte, typ string) (string, error) {
	tk, err := i.load(ctx, tenantID, true)
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	for name, v := range map[string]any{jws.KeyIDKey: tk.signingKID, jws.TypeKey: typ} {
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
