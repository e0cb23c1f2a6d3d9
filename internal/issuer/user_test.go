package issuer_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/issuer"
)

func grant() issuer.UserGrant {
	return issuer.UserGrant{TenantID: tenant, UserID: strings.ToUpper(userID), ClientID: appID,
		Scopes: []string{"openid", "profile", "offline_access", "User.ReadWrite"}, AMR: []string{"pwd", "otp", "mfa"}, ACRS: []string{"c1"},
		AuthTime: now.Add(-time.Minute), SessionID: "sess-1", PreferredUsername: "ada@example.com", Name: "Ada",
		Email: "ada@example.com", EmailVerified: true}
}

func TestMintUserAccessTokenClaims(t *testing.T) {
	iss := newIssuer(newMemStore())
	tok, err := iss.MintUserAccessToken(context.Background(), grant(), 0)
	if err != nil {
		t.Fatal(err)
	}
	h, c := verify(t, iss, tok)
	if h.Type() != "at+jwt" {
		t.Errorf("typ %q", h.Type())
	}
	for k, v := range map[string]any{"idtyp": "user", "ver": "2.0", "scp": "User.ReadWrite", "oid": userID, "sub": userID,
		"azp": appID, "appid": appID, "tid": tenant, "sid": "sess-1", "aud": "api://graphdir"} {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if mustJSON(t, c["amr"]) != `["pwd","otp","mfa"]` || mustJSON(t, c["acrs"]) != `["c1"]` {
		t.Errorf("amr %v acrs %v", c["amr"], c["acrs"])
	}
	// Without MFA: no acrs claim at all.
	g := grant()
	g.AMR, g.ACRS = []string{"pwd"}, nil
	tok, _ = iss.MintUserAccessToken(context.Background(), g, 0)
	if _, c := verify(t, iss, tok); c["acrs"] != nil || mustJSON(t, c["amr"]) != `["pwd"]` {
		t.Errorf("pwd only: %v", c)
	}
}

func TestMintIDTokenClaims(t *testing.T) {
	iss := newIssuer(newMemStore())
	g := grant()
	g.Nonce = "n-0S6_WzA2Mj"
	g.Scopes = append(g.Scopes, "email")
	tok, err := iss.MintIDToken(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	h, c := verify(t, iss, tok)
	if h.Type() != "JWT" || h.KeyID() == "" || h.Algorithm().String() != "RS256" {
		t.Errorf("header typ=%q kid=%q alg=%q", h.Type(), h.KeyID(), h.Algorithm())
	}
	want := map[string]any{"iss": "https://login.graphdir.test/" + tenant + "/v2.0", "sub": userID, "oid": userID, "aud": appID,
		"tid": tenant, "ver": "2.0", "nonce": "n-0S6_WzA2Mj", "auth_time": float64(now.Add(-time.Minute).Unix()),
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
		"preferred_username": "ada@example.com", "name": "Ada", "email": "ada@example.com", "sid": "sess-1"}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	for _, k := range []string{"scp", "idtyp", "roles", "azp"} {
		if _, ok := c[k]; ok {
			t.Errorf("ID token carries %s", k)
		}
	}

	// No nonce in the request: none in the token. email needs the scope
	// and a verified address.
	for _, tc := range []struct {
		name     string
		edit     func(*issuer.UserGrant)
		nonce    bool
		hasEmail bool
	}{
		{"no nonce, no email scope", func(g *issuer.UserGrant) {}, false, false},
		{"email scope, unverified", func(g *issuer.UserGrant) { g.Scopes = append(g.Scopes, "email"); g.EmailVerified = false }, false, false},
		{"email scope, verified", func(g *issuer.UserGrant) { g.Scopes = append(g.Scopes, "EMAIL") }, false, true},
		{"nonce", func(g *issuer.UserGrant) { g.Nonce = "abc" }, true, false},
	} {
		g := grant()
		tc.edit(&g)
		tok, err := iss.MintIDToken(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		_, c := verify(t, iss, tok)
		if _, ok := c["nonce"]; ok != tc.nonce {
			t.Errorf("%s: nonce present = %v", tc.name, ok)
		}
		if _, ok := c["email"]; ok != tc.hasEmail {
			t.Errorf("%s: email present = %v", tc.name, ok)
		}
	}
}

// The verifier accepts the access token (and reads amr/acrs) and refuses
// the ID token, signed by the same key, as an access token.
func TestIDTokenIsNotAnAccessToken(t *testing.T) {
	iss := issuer.New(newMemStore(), publicURL) // real clock: the verifier checks exp
	v, err := auth.NewVerifier(auth.Config{Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{issuer.DefaultAudience}, iss)}})
	if err != nil {
		t.Fatal(err)
	}
	g := grant()
	g.AuthTime = time.Now()
	at, err := iss.MintUserAccessToken(context.Background(), g, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(context.Background(), []string{"Bearer " + at})
	if err != nil {
		t.Fatalf("access token refused: %v", err)
	}
	if !p.IsUser() || p.UserID != userID || !slices.Equal(p.AMR, []string{"pwd", "otp", "mfa"}) || !slices.Equal(p.ACRS, []string{"c1"}) ||
		p.Issuer != directory.BuiltinIssuer || p.IssuedAt.IsZero() {
		t.Fatalf("principal %+v", p)
	}
	id, err := iss.MintIDToken(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), []string{"Bearer " + id}); err == nil || directory.KindOf(err) != directory.KindUnauthenticated || auth.ReasonOf(err) != auth.ReasonType {
		t.Fatalf("ID token as access token: %v (reason %v)", err, auth.ReasonOf(err))
	}
}

func TestMintUserRefusesBadGrant(t *testing.T) {
	iss := newIssuer(newMemStore())
	for name, edit := range map[string]func(*issuer.UserGrant){
		"user not a GUID":   func(g *issuer.UserGrant) { g.UserID = "ada" },
		"client not a GUID": func(g *issuer.UserGrant) { g.ClientID = "x y" },
		"tenant":            func(g *issuer.UserGrant) { g.TenantID = "contoso" },
		"scope with space":  func(g *issuer.UserGrant) { g.Scopes = []string{"User.Read x"} },
		"amr with quote":    func(g *issuer.UserGrant) { g.AMR = []string{`p"wd`} },
	} {
		g := grant()
		edit(&g)
		if _, err := iss.MintUserAccessToken(context.Background(), g, 0); directory.KindOf(err) != directory.KindInvalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	var b strings.Builder
	switch x := v.(type) {
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + e.(string) + `"`)
		}
		b.WriteByte(']')
	default:
		return "<not a list>"
	}
	return b.String()
}
