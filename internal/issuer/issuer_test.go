package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/issuer"
)

const (
	tenant    = "11111111-2222-3333-4444-555555555555"
	otherTen  = "99999999-2222-3333-4444-555555555555"
	publicURL = "https://login.graphdir.test/"
	appID     = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	userID    = "12345678-1234-1234-1234-123456789abc"
)

var now = time.Unix(1_800_000_000, 0)

func newIssuer(s directory.KeyStore) *issuer.Issuer {
	return issuer.New(s, publicURL, issuer.WithClock(func() time.Time { return now }))
}

// verify checks tok against the issuer's published JWKS, as a relying party
// would, and returns the protected header and payload.
func verify(t *testing.T, iss *issuer.Issuer, tok string) (jws.Headers, map[string]any) {
	t.Helper()
	b, err := iss.JWKS(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := jws.Parse([]byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(tok), jws.WithKeySet(set))
	if err != nil {
		t.Fatalf("minted token does not verify with the JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return msg.Signatures()[0].ProtectedHeaders(), claims
}

func TestMintAppToken(t *testing.T) {
	iss := newIssuer(newMemStore())
	tok, err := iss.MintAppToken(context.Background(), tenant, appID, []string{"User.Read.All"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, c := verify(t, iss, tok)
	if h.Type() != "at+jwt" || h.Algorithm() != jwa.RS256 || h.KeyID() == "" {
		t.Errorf("header typ=%q alg=%q kid=%q", h.Type(), h.Algorithm(), h.KeyID())
	}
	want := map[string]any{
		"iss": "https://login.graphdir.test/" + tenant + "/v2.0", "aud": "api://graphdir",
		"sub": appID, "oid": appID, "azp": appID, "appid": appID, "tid": tenant,
		"idtyp": "app", "ver": "2.0",
		"iat": float64(now.Unix()), "nbf": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if r, _ := c["roles"].([]any); len(r) != 1 || r[0] != "User.Read.All" {
		t.Errorf("roles = %v", c["roles"])
	}
	if _, ok := c["scp"]; ok {
		t.Error("app token carries scp")
	}
	if jti, _ := c["jti"].(string); len(jti) != 36 {
		t.Errorf("jti = %v", c["jti"])
	}
}

func TestMintUserToken(t *testing.T) {
	iss := issuer.New(newMemStore(), publicURL, issuer.WithAudience("api://custom"))
	tok, err := iss.MintUserToken(context.Background(), tenant, strings.ToUpper(userID), appID, []string{"User.Read", "User.ReadWrite"}, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, c := verify(t, iss, tok)
	for k, v := range map[string]any{"idtyp": "user", "scp": "User.Read User.ReadWrite", "oid": userID, "sub": userID, "azp": appID, "aud": "api://custom"} {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if _, ok := c["roles"]; ok {
		t.Error("user token without roles carries roles")
	}
}

func TestMintRefusesBadInput(t *testing.T) {
	iss := newIssuer(newMemStore())
	ctx := context.Background()
	cases := map[string]func() error{
		"tenant not a GUID": func() error { _, err := iss.MintAppToken(ctx, "contoso", appID, nil, 0); return err },
		"empty app id":      func() error { _, err := iss.MintAppToken(ctx, tenant, "", nil, 0); return err },
		"ttl too long":      func() error { _, err := iss.MintAppToken(ctx, tenant, appID, nil, 25*time.Hour); return err },
		"role with space":   func() error { _, err := iss.MintAppToken(ctx, tenant, appID, []string{"a b"}, 0); return err },
		"scope with quote":  func() error { _, err := iss.MintUserToken(ctx, tenant, userID, appID, []string{`a"`}, 0); return err },
		"user not a GUID":   func() error { _, err := iss.MintUserToken(ctx, tenant, "bob", appID, nil, 0); return err },
	}
	for name, f := range cases {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Several instances (and goroutines) minting for a new tenant at once must
// end up signing with one shared key.
func TestKeyGeneratedOnceAndShared(t *testing.T) {
	store := newMemStore()
	a, b := newIssuer(store), newIssuer(store)
	var wg sync.WaitGroup
	kids := make(chan string, 8)
	for n := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			iss := a
			if n%2 == 1 {
				iss = b
			}
			tok, err := iss.MintAppToken(context.Background(), tenant, appID, []string{"User.Read.All"}, 0)
			if err != nil {
				t.Error(err)
				return
			}
			msg, err := jws.Parse([]byte(tok))
			if err != nil {
				t.Error(err)
				return
			}
			kids <- msg.Signatures()[0].ProtectedHeaders().KeyID()
		}()
	}
	wg.Wait()
	close(kids)
	first := ""
	for kid := range kids {
		if first == "" {
			first = kid
		} else if kid != first {
			t.Errorf("kids differ: %s vs %s", kid, first)
		}
	}
	if n := store.count(tenant); n != 1 {
		t.Errorf("store holds %d keys, want 1", n)
	}
}

func TestReadsNeverCreateKeys(t *testing.T) {
	store := newMemStore()
	iss := newIssuer(store)
	ctx := context.Background()
	b, err := iss.JWKS(ctx, tenant)
	if err != nil || string(b) != `{"keys":[]}` {
		t.Errorf("JWKS of keyless tenant = %s, %v", b, err)
	}
	if _, err := iss.PublicKeys(ctx, tenant); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("PublicKeys: %v", err)
	}
	if _, err := iss.Key(ctx, tenant, "x"); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("Key: %v", err)
	}
	if store.count(tenant) != 0 {
		t.Error("a read created a key")
	}
	if _, err := iss.JWKS(ctx, "../etc"); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("JWKS of non-GUID tenant: %v", err)
	}
	reads := store.reads
	if _, err := iss.Key(ctx, "not-a-guid", "x"); directory.KindOf(err) != directory.KindNotFound || store.reads != reads {
		t.Errorf("non-GUID tenant reached the store (err %v)", err)
	}
}

func TestJWKSPublicOnly(t *testing.T) {
	iss := newIssuer(newMemStore())
	ctx := context.Background()
	if err := iss.EnsureSigningKey(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	b, err := iss.JWKS(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []map[string]any }
	if err := json.Unmarshal(b, &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("jwks %s: %v", b, err)
	}
	k := doc.Keys[0]
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := k[private]; ok {
			t.Errorf("JWKS leaks private member %q", private)
		}
	}
	if k["kty"] != "RSA" || k["alg"] != "RS256" || k["use"] != "sig" || k["kid"] == "" {
		t.Errorf("key = %v", k)
	}
	n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
	if len(n)*8 < 2048 {
		t.Errorf("modulus is %d bits", len(n)*8)
	}
	// Another tenant has its own key.
	if err := iss.EnsureSigningKey(ctx, otherTen); err != nil {
		t.Fatal(err)
	}
	kA, _ := iss.PublicKeys(ctx, tenant)
	kB, _ := iss.PublicKeys(ctx, otherTen)
	a, _ := kA.Key(0)
	bk, _ := kB.Key(0)
	if a.KeyID() == bk.KeyID() {
		t.Error("tenants share a key")
	}
}

func TestKeyStoreFailureIsNotNotFound(t *testing.T) {
	store := newMemStore()
	store.fail = errors.New("connection refused")
	iss := newIssuer(store)
	_, err := iss.Key(context.Background(), tenant, "kid")
	if err == nil || directory.KindOf(err) == directory.KindNotFound {
		t.Errorf("store failure reported as %v", err)
	}
	if _, err := iss.MintAppToken(context.Background(), tenant, appID, nil, 0); err == nil {
		t.Error("mint succeeded with a failing store")
	}
}

func TestDiscovery(t *testing.T) {
	iss := newIssuer(newMemStore())
	b, err := iss.Discovery(context.Background(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	base := "https://login.graphdir.test/" + tenant
	for k, v := range map[string]string{
		"issuer":         base + "/v2.0",
		"jwks_uri":       base + "/discovery/v2.0/keys",
		"token_endpoint": base + "/oauth2/v2.0/token",
	} {
		if d[k] != v {
			t.Errorf("%s = %v, want %s", k, d[k], v)
		}
	}
	if a, _ := d["id_token_signing_alg_values_supported"].([]any); len(a) != 1 || a[0] != "RS256" {
		t.Errorf("algs = %v", d["id_token_signing_alg_values_supported"])
	}
	for _, k := range []string{"response_types_supported", "subject_types_supported", "grant_types_supported", "claims_supported", "scopes_supported"} {
		if _, ok := d[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	// Issue 14 (browser redirect): the code flow's endpoints and what they
	// support, exactly (browser-redirect.md rule 3).
	for k, v := range map[string]string{
		"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		"end_session_endpoint":   base + "/oauth2/v2.0/logout",
		"revocation_endpoint":    base + "/oauth2/v2.0/revoke",
		"userinfo_endpoint":      "https://login.graphdir.test/oidc/userinfo",
	} {
		if d[k] != v {
			t.Errorf("%s = %v, want %s", k, d[k], v)
		}
	}
	list := func(k string) string {
		a, _ := d[k].([]any)
		var out []string
		for _, v := range a {
			s, _ := v.(string)
			out = append(out, s)
		}
		return strings.Join(out, " ")
	}
	for k, v := range map[string]string{
		"response_types_supported":         "code",
		"response_modes_supported":         "query fragment form_post",
		"code_challenge_methods_supported": "S256",
		"subject_types_supported":          "public",
		"grant_types_supported":            "authorization_code refresh_token client_credentials",
	} {
		if got := list(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if !strings.Contains(" "+list("scopes_supported")+" ", " openid ") {
		t.Errorf("scopes_supported lacks openid: %v", d["scopes_supported"])
	}
	if d["authorization_response_iss_parameter_supported"] != true || d["request_uri_parameter_supported"] != false {
		t.Errorf("iss/request_uri flags = %v / %v", d["authorization_response_iss_parameter_supported"], d["request_uri_parameter_supported"])
	}
	if _, err := iss.Discovery(context.Background(), "common"); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("non-GUID tenant: %v", err)
	}
}

// A key added by another instance after this one cached the tenant is found
// on a kid miss, but re-reads are rate-limited so forged kids cannot flood
// the store.
func TestKeyRefreshOnUnknownKid(t *testing.T) {
	store := newMemStore()
	clock := now
	iss := issuer.New(store, publicURL, issuer.WithClock(func() time.Time { return clock }))
	ctx := context.Background()
	if err := iss.EnsureSigningKey(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	// Simulate a rotation done elsewhere: a newer key in the store.
	elsewhere := newMemStore()
	if err := newIssuer(elsewhere).EnsureSigningKey(ctx, tenant); err != nil {
		t.Fatal(err)
	}
	newKID := elsewhere.keys[tenant][0].ID
	store.mu.Lock()
	store.keys[tenant] = append(elsewhere.keys[tenant], store.keys[tenant]...)
	store.mu.Unlock()

	reads := store.reads
	if _, err := iss.Key(ctx, tenant, newKID); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("within cooldown: %v", err)
	}
	if store.reads != reads {
		t.Errorf("kid miss within the cooldown read the store")
	}
	clock = clock.Add(2 * time.Minute)
	if k, err := iss.Key(ctx, tenant, newKID); err != nil || k.KeyID() != newKID {
		t.Fatalf("after cooldown: %v", err)
	}
	reads = store.reads
	for range 5 {
		_, _ = iss.Key(ctx, tenant, "forged")
	}
	if store.reads > reads+1 {
		t.Errorf("forged kids caused %d store reads", store.reads-reads)
	}
}
