package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/directory"
)

const (
	entraTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	otherEntra  = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
	dataTenant  = "d0d0d0d0-1111-2222-3333-444444444444"
	apiClientID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	clientApp   = "c11e1700-aaaa-bbbb-cccc-000000000001"
	entraUser   = "4a3b2c1d-0000-4000-8000-00000000a11c"
)

var (
	testKeysOnce sync.Once
	testKeys     []*rsa.PrivateKey // 2048-bit
	weakKey      *rsa.PrivateKey   // 1024-bit
)

func rsaKeys(t *testing.T) []*rsa.PrivateKey {
	t.Helper()
	testKeysOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			testKeys = append(testKeys, k)
		}
		var err error
		if weakKey, err = rsa.GenerateKey(rand.Reader, 1024); err != nil {
			panic(err)
		}
	})
	return testKeys
}

// pubJWK is key's public half as a JWKS member, with extra members set.
func pubJWK(t *testing.T, key any, kid string, extra ...any) map[string]any {
	t.Helper()
	k, err := jwk.FromRaw(key)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := k.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(pk)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["kid"] = kid
	for i := 0; i < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

// idp is a test identity provider: a JWKS endpoint and a discovery document
// whose content and status the test changes, counting JWKS requests.
type idp struct {
	srv        *httptest.Server
	mu         sync.Mutex
	keys       []map[string]any
	status     int
	raw        []byte // when set, served instead of the key set
	discIssuer string
	jwksURI    string // discovery's jwks_uri; default srv.URL+"/keys"
	fetches    atomic.Int64
}

func newIdP(t *testing.T, keys ...map[string]any) *idp {
	p := &idp{keys: keys, status: http.StatusOK, discIssuer: auth.EntraV2Issuer(auth.TenantPlaceholder)}
	mux := http.NewServeMux()
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		p.fetches.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(p.status)
		if p.raw != nil {
			_, _ = w.Write(p.raw)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": p.keys})
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		uri := p.jwksURI
		if uri == "" {
			uri = p.srv.URL + "/keys"
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": p.discIssuer, "jwks_uri": uri, "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) set(f func(p *idp)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// fakeClock drives the refetch cool-down.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newSource(t *testing.T, cfg auth.JWKSConfig) *auth.JWKSKeySource {
	t.Helper()
	s, err := auth.NewJWKSKeySource(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// entraIssuer is the auth.TrustedIssuer of a single Entra tenant mapped to
// dataTenant, as cmd wires it from configuration.
func entraIssuer(keys auth.KeySource) auth.TrustedIssuer {
	return auth.TrustedIssuer{
		Name: "entra", Issuer: auth.EntraV2Issuer(entraTenant), TenantID: entraTenant, DataTenantID: dataTenant,
		Audiences: []string{apiClientID, "api://" + apiClientID}, AcceptedTypes: []string{"JWT"}, Version: "2.0", Keys: keys,
	}
}

func newExtVerifier(t *testing.T, issuers ...auth.TrustedIssuer) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{Issuers: issuers})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signJWT signs claims with jwx (RS256, typ JWT unless overridden).
func signJWT(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any, hdr ...any) string {
	t.Helper()
	h := jws.NewHeaders()
	_ = h.Set(jws.KeyIDKey, kid)
	_ = h.Set(jws.TypeKey, "JWT")
	for i := 0; i < len(hdr); i += 2 {
		_ = h.Set(hdr[i].(string), hdr[i+1])
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.Sign(payload, jws.WithKey(jwa.RS256, key, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// entraUserClaims is a v2 delegated access token of entraTenant for our API.
func entraUserClaims() map[string]any {
	n := time.Now()
	return map[string]any{
		"iss": auth.EntraV2Issuer(entraTenant), "aud": apiClientID, "tid": entraTenant,
		"sub": "pairwise-sub-1", "oid": entraUser, "azp": clientApp, "azpacr": "0",
		"scp": "User.Read User.ReadWrite.All", "ver": "2.0", "idtyp": "user",
		"iat": n.Add(-time.Minute).Unix(), "nbf": n.Add(-time.Minute).Unix(), "exp": n.Add(time.Hour).Unix(),
		"uti": "AbCdEf", "preferred_username": "someone@contoso.test",
	}
}

func entraAppClaims() map[string]any {
	c := entraUserClaims()
	sp := "5f5f5f5f-0000-4000-8000-000000000a99"
	c["sub"], c["oid"], c["idtyp"], c["roles"] = sp, sp, "app", []string{"User.Read.All"}
	delete(c, "scp")
	delete(c, "preferred_username")
	return c
}

func wantReason(t *testing.T, err error, kind directory.Kind, reason auth.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %v %s", kind, reason)
	}
	if directory.KindOf(err) != kind || auth.ReasonOf(err) != reason {
		t.Fatalf("got %v / %s (%v), want %v / %s", directory.KindOf(err), auth.ReasonOf(err), err, kind, reason)
	}
}

func TestExternalEntraTokenAccepted(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "k0", "use", "sig", "issuer", auth.EntraV2Issuer(auth.TenantPlaceholder)))
	src := newSource(t, auth.JWKSConfig{Name: "entra", Issuer: auth.EntraV2Issuer(entraTenant), TenantID: entraTenant,
		DiscoveryURL: p.srv.URL + "/.well-known/openid-configuration"})
	if src.JWKSURL() != p.srv.URL+"/keys" {
		t.Fatalf("jwks url %q", src.JWKSURL())
	}
	v := newExtVerifier(t, entraIssuer(src))
	ctx := context.Background()

	u, err := v.Verify(ctx, bearer(signJWT(t, keys[0], "k0", entraUserClaims())))
	if err != nil {
		t.Fatal(err)
	}
	if u.Kind != directory.PrincipalUser || u.TenantID != dataTenant || u.UserID != entraUser || u.AppID != clientApp {
		t.Errorf("user principal %+v: want data tenant %s", u, dataTenant)
	}
	a, err := v.Verify(ctx, bearer(signJWT(t, keys[0], "k0", entraAppClaims())))
	if err != nil || a.Kind != directory.PrincipalApp || a.TenantID != dataTenant {
		t.Errorf("app principal %+v %v", a, err)
	}
	// aud as the App ID URI (v1-style) is on the allow-list too.
	if _, err := v.Verify(ctx, bearer(signJWT(t, keys[0], "k0", with(entraUserClaims(), "aud", "api://"+apiClientID)))); err != nil {
		t.Errorf("App ID URI audience: %v", err)
	}

	un := directory.KindUnauthenticated
	for name, tc := range map[string]struct {
		tok    string
		reason auth.Reason
	}{
		"tid of another tenant":    {signJWT(t, keys[0], "k0", with(entraUserClaims(), "tid", otherEntra)), auth.ReasonTenant},
		"tid missing":              {signJWT(t, keys[0], "k0", with(entraUserClaims(), "tid", nil)), auth.ReasonMissingClaim},
		"iss of another tenant":    {signJWT(t, keys[0], "k0", with(entraUserClaims(), "iss", auth.EntraV2Issuer(otherEntra), "tid", otherEntra)), auth.ReasonUnknownIssuer},
		"v1 iss for a v2 issuer":   {signJWT(t, keys[0], "k0", with(entraUserClaims(), "iss", auth.EntraV1Issuer(entraTenant))), auth.ReasonUnknownIssuer},
		"ver 1.0":                  {signJWT(t, keys[0], "k0", with(entraUserClaims(), "ver", "1.0")), auth.ReasonVersion},
		"typ at+jwt not accepted":  {signJWT(t, keys[0], "k0", entraUserClaims(), jws.TypeKey, "at+jwt"), auth.ReasonType},
		"Graph's audience":         {signJWT(t, keys[0], "k0", with(entraUserClaims(), "aud", "https://graph.microsoft.com")), auth.ReasonAudience},
		"signed by an unknown key": {signJWT(t, keys[1], "k0", entraUserClaims()), auth.ReasonSignature},
		"jku header":               {signJWT(t, keys[1], "k0", entraUserClaims(), "jku", p.srv.URL+"/keys"), auth.ReasonForbiddenHeader},
		// An ID token from the same issuer: typ JWT like an access token, but
		// it carries nonce and no scp/roles.
		"ID token with nonce": {signJWT(t, keys[0], "k0", with(entraUserClaims(), "scp", nil, "idtyp", nil, "nonce", "n-0S6_WzA2Mj", "aud", apiClientID)), auth.ReasonIDToken},
		// Without nonce, its aud (the client's id) still gives it away.
		"ID token without nonce": {signJWT(t, keys[0], "k0", with(entraUserClaims(), "scp", nil, "idtyp", nil, "aud", clientApp)), auth.ReasonAudience},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(ctx, bearer(tc.tok))
			wantReason(t, err, un, tc.reason)
		})
	}
	// Even with our audience and no nonce, an ID token has no permissions.
	_, err = v.Verify(ctx, bearer(signJWT(t, keys[0], "k0", with(entraUserClaims(), "scp", nil, "idtyp", nil))))
	wantReason(t, err, directory.KindForbidden, auth.ReasonNoPermissions)
}

// The built-in rule (tid is the data tenant) is unchanged by DataTenantID
// existing; and Entra v1 tokens verify with keys published for v2.
func TestExternalEntraV1(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "k0", "issuer", auth.EntraV2Issuer(auth.TenantPlaceholder)))
	src := newSource(t, auth.JWKSConfig{Name: "entra-v1", JWKSURL: p.srv.URL + "/keys"})
	ti := entraIssuer(src)
	ti.Issuer, ti.Version = auth.EntraV1Issuer(entraTenant), "1.0"
	v := newExtVerifier(t, ti)
	c := with(entraAppClaims(), "iss", auth.EntraV1Issuer(entraTenant), "ver", "1.0", "azp", nil, "appid", clientApp, "aud", "api://"+apiClientID)
	got, err := v.Verify(context.Background(), bearer(signJWT(t, keys[0], "k0", c)))
	if err != nil || got.TenantID != dataTenant || got.AppID != clientApp {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestEntraSigningKeyIssuer(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t,
		pubJWK(t, keys[0], "template", "issuer", auth.EntraV2Issuer(auth.TenantPlaceholder)),
		pubJWK(t, keys[1], "mine", "issuer", auth.EntraV2Issuer(entraTenant)),
		pubJWK(t, keys[2], "theirs", "issuer", auth.EntraV2Issuer(otherEntra)),
	)
	v := newExtVerifier(t, entraIssuer(newSource(t, auth.JWKSConfig{Name: "entra", JWKSURL: p.srv.URL + "/keys"})))
	ctx := context.Background()
	for kid, key := range map[string]*rsa.PrivateKey{"template": keys[0], "mine": keys[1]} {
		if _, err := v.Verify(ctx, bearer(signJWT(t, key, kid, entraUserClaims()))); err != nil {
			t.Errorf("key %s: %v", kid, err)
		}
	}
	_, err := v.Verify(ctx, bearer(signJWT(t, keys[2], "theirs", entraUserClaims())))
	wantReason(t, err, directory.KindUnauthenticated, auth.ReasonKeyIssuer)
}

func TestJWKSRotation(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "old"))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	src := newSource(t, auth.JWKSConfig{Name: "entra", JWKSURL: p.srv.URL + "/keys", Now: clock.Now})
	v := newExtVerifier(t, entraIssuer(src))
	ctx := context.Background()
	oldTok := signJWT(t, keys[0], "old", entraUserClaims())
	newTok := signJWT(t, keys[1], "new", entraUserClaims())
	if _, err := v.Verify(ctx, bearer(oldTok)); err != nil {
		t.Fatal(err)
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches at start", n)
	}

	// The issuer publishes the next key (rollover) and starts signing with
	// it. Past the cool-down, its kid forces exactly one refetch.
	p.set(func(p *idp) { p.keys = append(p.keys, pubJWK(t, keys[1], "new")) })
	clock.Add(auth.DefaultMinRefetchInterval)
	if _, err := v.Verify(ctx, bearer(newTok)); err != nil {
		t.Fatalf("new key: %v", err)
	}
	if _, err := v.Verify(ctx, bearer(oldTok)); err != nil {
		t.Fatalf("old key during rollover: %v", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches after rotation, want 2", n)
	}

	// The old key is retired; after the next refresh it no longer verifies.
	p.set(func(p *idp) { p.keys = p.keys[1:] })
	if err := src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(ctx, bearer(oldTok))
	wantReason(t, err, directory.KindUnauthenticated, auth.ReasonUnknownKey)
	if _, err := v.Verify(ctx, bearer(newTok)); err != nil {
		t.Fatal(err)
	}
	if n := p.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (the unknown old kid is within the cool-down)", n)
	}
}

// jwk.Cache refreshes on its own schedule: a key published later verifies
// without any forced refetch.
func TestJWKSBackgroundRefresh(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a scheduled refresh")
	}
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "a"))
	src := newSource(t, auth.JWKSConfig{Name: "bg", JWKSURL: p.srv.URL + "/keys", RefreshInterval: time.Second, MinRefetchInterval: time.Hour})
	p.set(func(p *idp) { p.keys = []map[string]any{pubJWK(t, keys[1], "b")} })
	deadline := time.Now().Add(10 * time.Second)
	for p.fetches.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	deadline = time.Now().Add(2 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if _, err = src.Key(context.Background(), "", "b"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("background refresh did not bring key b (%d fetches): %v", p.fetches.Load(), err)
	}
	if _, err := src.Key(context.Background(), "", "a"); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("retired key a: %v", err)
	}
}

func TestJWKSUnknownKidFlood(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "k0"))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	src := newSource(t, auth.JWKSConfig{Name: "entra", JWKSURL: p.srv.URL + "/keys", Now: clock.Now})
	v := newExtVerifier(t, entraIssuer(src))
	clock.Add(auth.DefaultMinRefetchInterval) // the start-up fetch's cool-down is over

	flood := func() {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := signJWT(t, keys[1], fmt.Sprintf("random-%d-%d", i, time.Now().UnixNano()), entraUserClaims())
				_, err := v.Verify(context.Background(), bearer(tok))
				if auth.ReasonOf(err) != auth.ReasonUnknownKey || directory.KindOf(err) != directory.KindUnauthenticated {
					t.Errorf("random kid: %v", err)
				}
			}()
		}
		wg.Wait()
	}
	flood()
	if n := p.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after a flood of 200 unknown kids, want 1 + 1", n)
	}
	clock.Add(time.Minute)
	flood()
	if n := p.fetches.Load(); n != 2 {
		t.Errorf("%d fetches after a second flood inside the interval, want 2", n)
	}
	clock.Add(auth.DefaultMinRefetchInterval)
	flood()
	if n := p.fetches.Load(); n != 3 {
		t.Errorf("%d fetches after the interval, want 3", n)
	}
	// The known key is unaffected throughout.
	if _, err := v.Verify(context.Background(), bearer(signJWT(t, keys[0], "k0", entraUserClaims()))); err != nil {
		t.Error(err)
	}
}

func TestJWKSLastGoodKeysSurviveFailures(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "k0"))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	var sinkErrs atomic.Int64
	src := newSource(t, auth.JWKSConfig{Name: "entra", JWKSURL: p.srv.URL + "/keys", Now: clock.Now, OnError: func(error) { sinkErrs.Add(1) }})
	v := newExtVerifier(t, entraIssuer(src))
	ctx := context.Background()
	good := signJWT(t, keys[0], "k0", entraUserClaims())

	for name, broken := range map[string]func(p *idp){
		"500":            func(p *idp) { p.status = http.StatusInternalServerError },
		"garbage":        func(p *idp) { p.raw = []byte("<html>oops</html>") },
		"no usable keys": func(p *idp) { p.keys = []map[string]any{pubJWK(t, weakKey, "weak")} },
		"empty key set":  func(p *idp) { p.keys = nil },
		"huge response": func(p *idp) {
			p.raw = []byte(`{"keys":[],"x":"` + strings.Repeat("a", auth.DefaultJWKSMaxBytes) + `"}`)
		},
	} {
		t.Run(name, func(t *testing.T) {
			saved := p.keys
			p.set(broken)
			defer p.set(func(p *idp) { p.status, p.raw, p.keys = http.StatusOK, nil, saved })
			if err := src.Refresh(ctx); err == nil {
				t.Fatal("refresh succeeded")
			}
			if src.Ready() {
				t.Error("Ready after a failed fetch")
			}
			if _, err := v.Verify(ctx, bearer(good)); err != nil {
				t.Fatalf("last good key refused: %v", err)
			}
			// A kid we cannot check while the issuer is failing is not a
			// verdict on the token: 503, per the KeySource contract.
			clock.Add(auth.DefaultMinRefetchInterval)
			_, err := v.Verify(ctx, bearer(signJWT(t, keys[1], "unknown", entraUserClaims())))
			wantReason(t, err, directory.KindUnavailable, auth.ReasonKeysUnavailable)
		})
	}
	if err := src.Refresh(ctx); err != nil || !src.Ready() {
		t.Fatalf("recovery: %v", err)
	}
	if sinkErrs.Load() == 0 {
		t.Error("OnError never called")
	}
	p.srv.Close() // the issuer goes away entirely
	if err := src.Refresh(ctx); err == nil {
		t.Fatal("refresh against a closed server succeeded")
	}
	if _, err := v.Verify(ctx, bearer(good)); err != nil {
		t.Fatalf("last good key refused with the issuer down: %v", err)
	}
}

func TestJWKSStartupWithIssuerDown(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "k0"))
	p.set(func(p *idp) { p.status = http.StatusServiceUnavailable })
	cfg := auth.JWKSConfig{Name: "entra", JWKSURL: p.srv.URL + "/keys"}
	if _, err := auth.NewJWKSKeySource(context.Background(), cfg); err == nil {
		t.Fatal("started with the issuer down (fail closed is the default)")
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	if _, err := auth.NewJWKSKeySource(context.Background(), auth.JWKSConfig{Name: "x", JWKSURL: dead.URL + "/keys"}); err == nil {
		t.Fatal("started with the issuer unreachable")
	}
	if _, err := auth.NewJWKSKeySource(context.Background(), auth.JWKSConfig{Name: "x", DiscoveryURL: dead.URL + "/.well-known/openid-configuration", Issuer: "https://x.test"}); err == nil {
		t.Fatal("started with discovery unreachable")
	}

	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	cfg.AllowUnavailableAtStart, cfg.Now = true, clock.Now
	src := newSource(t, cfg)
	if src.Ready() {
		t.Error("Ready without keys")
	}
	v := newExtVerifier(t, entraIssuer(src))
	tok := signJWT(t, keys[0], "k0", entraUserClaims())
	_, err := v.Verify(context.Background(), bearer(tok))
	wantReason(t, err, directory.KindUnavailable, auth.ReasonKeysUnavailable)
	if c := auth.Challenge(err); c != "" {
		t.Errorf("503 carries a challenge: %q", c)
	}

	// The issuer comes back; the next miss after the cool-down fetches.
	p.set(func(p *idp) { p.status = http.StatusOK })
	clock.Add(auth.DefaultMinRefetchInterval)
	if _, err := v.Verify(context.Background(), bearer(tok)); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if !src.Ready() {
		t.Error("not Ready after recovery")
	}
}

// Deferred discovery: allowed to start while discovery is down, the source
// discovers on the first fetch that can reach it.
func TestJWKSDeferredDiscovery(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "k0"))
	p.set(func(p *idp) { p.discIssuer = "" }) // a broken document
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	src := newSource(t, auth.JWKSConfig{Name: "entra", Issuer: auth.EntraV2Issuer(entraTenant), TenantID: entraTenant,
		DiscoveryURL: p.srv.URL + "/.well-known/openid-configuration", AllowUnavailableAtStart: true, Now: clock.Now})
	if src.JWKSURL() != "" {
		t.Fatal("resolved a JWKS URL from a bad document")
	}
	p.set(func(p *idp) { p.discIssuer = auth.EntraV2Issuer(entraTenant) })
	clock.Add(auth.DefaultMinRefetchInterval)
	if k, err := src.Key(context.Background(), "", "k0"); err != nil || k == nil {
		t.Fatalf("%v", err)
	}
}

func TestJWKSIgnoresUnusableKeys(t *testing.T) {
	keys := rsaKeys(t)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := newIdP(t,
		pubJWK(t, keys[0], "good"),
		pubJWK(t, keys[1], "enc", "use", "enc"),
		pubJWK(t, ec, "ec", "use", "sig"),
		pubJWK(t, weakKey, "weak"),
		pubJWK(t, keys[2], "pss", "alg", "PS256"),
		pubJWK(t, keys[2], "wrap-only", "key_ops", []string{"wrapKey"}),
		pubJWK(t, keys[2], "bad-issuer", "issuer", 42),
		map[string]any{"kty": "OKP", "crv": "X-Unknown", "x": "AAAA", "kid": "broken"}, // unparseable: ignored, not fatal
		pubJWK(t, keys[1], "good", "note", "duplicate kid: the first usable one wins"),
	)
	src := newSource(t, auth.JWKSConfig{Name: "mixed", JWKSURL: p.srv.URL + "/keys"})
	ctx := context.Background()
	k, err := src.Key(ctx, "", "good")
	if err != nil {
		t.Fatal(err)
	}
	if k.Algorithm() != jwa.RS256 || k.KeyUsage() != string(jwk.ForSignature) {
		t.Errorf("kept key has alg %v use %q", k.Algorithm(), k.KeyUsage())
	}
	var pub rsa.PublicKey
	if err := k.Raw(&pub); err != nil || pub.N.Cmp(keys[0].N) != 0 {
		t.Errorf("the first 'good' key should win: %v", err)
	}
	for _, kid := range []string{"enc", "ec", "weak", "pss", "wrap-only", "bad-issuer", "broken"} {
		if _, err := src.Key(ctx, "", kid); directory.KindOf(err) != directory.KindNotFound {
			t.Errorf("kid %s: %v, want not found", kid, err)
		}
	}
	// Through the verifier: a token signed with the 1024-bit key is refused.
	v := newExtVerifier(t, entraIssuer(src))
	_, err = v.Verify(ctx, bearer(signJWT(t, weakKey, "weak", entraUserClaims())))
	wantReason(t, err, directory.KindUnauthenticated, auth.ReasonUnknownKey)

	// A key set with nothing usable fails start-up like an outage.
	q := newIdP(t, pubJWK(t, keys[1], "enc", "use", "enc"), pubJWK(t, weakKey, "weak"))
	if _, err := auth.NewJWKSKeySource(ctx, auth.JWKSConfig{Name: "none", JWKSURL: q.srv.URL + "/keys"}); err == nil {
		t.Error("started with no usable key")
	}
}

func TestJWKSDiscovery(t *testing.T) {
	keys := rsaKeys(t)
	ctx := context.Background()
	p := newIdP(t, pubJWK(t, keys[0], "k0"))
	disc := p.srv.URL + "/.well-known/openid-configuration"

	// Template issuer in the document, tenant-specific issuer configured.
	if _, err := auth.NewJWKSKeySource(ctx, auth.JWKSConfig{Name: "ok", Issuer: auth.EntraV2Issuer(entraTenant), TenantID: entraTenant, DiscoveryURL: disc}); err != nil {
		t.Fatalf("template discovery: %v", err)
	}
	for name, cfg := range map[string]auth.JWKSConfig{
		"issuer mismatch":   {Issuer: auth.EntraV2Issuer(otherEntra), TenantID: entraTenant, DiscoveryURL: disc},
		"template, no tid":  {Issuer: auth.EntraV2Issuer(entraTenant), DiscoveryURL: disc},
		"v1 issuer":         {Issuer: auth.EntraV1Issuer(entraTenant), TenantID: entraTenant, DiscoveryURL: disc},
		"both URLs":         {Issuer: "https://x.test", DiscoveryURL: disc, JWKSURL: p.srv.URL + "/keys"},
		"no URL":            {Issuer: "https://x.test"},
		"plain http remote": {JWKSURL: "http://keys.example.com/keys"},
		"file URL":          {JWKSURL: "file:///etc/passwd"},
		"userinfo":          {JWKSURL: "https://user:pw@keys.example.com/keys"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg.Name = name
			if s, err := auth.NewJWKSKeySource(ctx, cfg); err == nil {
				s.Close()
				t.Fatal("accepted")
			}
		})
	}
	// A jwks_uri that is not http(s) (or is plain http to a remote host) is
	// refused, even though the document itself came from configuration.
	for _, uri := range []string{"file:///etc/passwd", "http://169.254.169.254/keys", "gopher://x/keys"} {
		p.set(func(p *idp) { p.discIssuer, p.jwksURI = auth.EntraV2Issuer(entraTenant), uri })
		if s, err := auth.NewJWKSKeySource(ctx, auth.JWKSConfig{Name: "uri", Issuer: auth.EntraV2Issuer(entraTenant), DiscoveryURL: disc}); err == nil {
			s.Close()
			t.Errorf("jwks_uri %q accepted", uri)
		}
	}
}

// A Keycloak-style issuer: one realm, typ JWT, no tid; mapped to a graphdir
// tenant by configuration. (Keycloak needs mappers for scp and oid.)
func TestKeycloakStyleIssuer(t *testing.T) {
	keys := rsaKeys(t)
	p := newIdP(t, pubJWK(t, keys[0], "kc", "alg", "RS256", "use", "sig"), pubJWK(t, keys[1], "kc-enc", "alg", "RSA-OAEP", "use", "enc"))
	const realm = "https://kc.example.test/realms/customers"
	src := newSource(t, auth.JWKSConfig{Name: "keycloak", JWKSURL: p.srv.URL + "/keys"})
	v := newExtVerifier(t, auth.TrustedIssuer{Name: "keycloak", Issuer: realm, TenantID: dataTenant, DataTenantID: dataTenant, TenantClaimOptional: true,
		Audiences: []string{"graphdir"}, AcceptedTypes: []string{"JWT"}, Keys: src})
	n := time.Now()
	c := map[string]any{"iss": realm, "aud": "graphdir", "sub": entraUser, "oid": entraUser, "azp": "portal", "scp": "User.Read",
		"iat": n.Unix(), "exp": n.Add(5 * time.Minute).Unix(), "typ": "Bearer"}
	got, err := v.Verify(context.Background(), bearer(signJWT(t, keys[0], "kc", c)))
	if err != nil || got.TenantID != dataTenant || got.UserID != entraUser {
		t.Fatalf("%+v %v", got, err)
	}
	_, err = v.Verify(context.Background(), bearer(signJWT(t, keys[0], "kc", with(c, "tid", otherEntra))))
	wantReason(t, err, directory.KindUnauthenticated, auth.ReasonTenant)
}

func TestDataTenantConfigRules(t *testing.T) {
	f := newFixture(t)
	for name, ti := range map[string]auth.TrustedIssuer{
		"templated with data tenant":  {Issuer: auth.EntraV2Issuer(auth.TenantPlaceholder), DataTenantID: dataTenant, Audiences: []string{audience}, Keys: f.iss},
		"templated, tid optional":     {Issuer: auth.EntraV2Issuer(auth.TenantPlaceholder), TenantClaimOptional: true, Audiences: []string{audience}, Keys: f.iss},
		"data tenant not a GUID":      {Issuer: auth.EntraV2Issuer(entraTenant), TenantID: entraTenant, DataTenantID: "contoso", Audiences: []string{audience}, Keys: f.iss},
		"data tenant upper-case GUID": {Issuer: auth.EntraV2Issuer(entraTenant), TenantID: entraTenant, DataTenantID: strings.ToUpper(dataTenant), Audiences: []string{audience}, Keys: f.iss},
	} {
		if _, err := auth.NewVerifier(auth.Config{Issuers: []auth.TrustedIssuer{ti}}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestCheckFetchURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://login.microsoftonline.com/common/discovery/v2.0/keys": true,
		"http://localhost:8080/keys":                                   true,
		"http://127.0.0.1:9/keys":                                      true,
		"http://[::1]:9/keys":                                          true,
		"http://keys.example.com/keys":                                 false,
		"ftp://keys.example.com/keys":                                  false,
		"/relative/keys":                                               false,
		"https://u:p@keys.example.com/k":                               false,
		"https://keys.example.com/k#frag":                              false,
		"":                                                             false,
	} {
		if err := auth.CheckFetchURL(u); (err == nil) != ok {
			t.Errorf("%q: %v", u, err)
		}
	}
}
