package auth_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/issuer"
)

const (
	tenant    = "1111aaaa-2222-3333-4444-55555555bbbb"
	otherTen  = "99999999-2222-3333-4444-555555555555"
	publicURL = "https://login.graphdir.test"
	audience  = "api://graphdir"
	appID     = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	userID    = "12345678-1234-1234-1234-123456789abc"
)

var now = time.Unix(1_800_000_000, 0)

// memStore is an in-memory directory.KeyStore.
type memStore struct {
	mu   sync.Mutex
	keys map[string][]directory.SigningKey
}

func (s *memStore) SigningKeys(_ context.Context, tenantID string) ([]directory.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]directory.SigningKey(nil), s.keys[tenantID]...), nil
}

func (s *memStore) AddSigningKeyIfNone(_ context.Context, k directory.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys[k.TenantID]) == 0 {
		s.keys[k.TenantID] = []directory.SigningKey{k}
	}
	return nil
}

func (s *memStore) Secret(context.Context, string, func() ([]byte, error)) ([]byte, error) {
	return nil, errors.New("not implemented")
}

// fixture is a built-in issuer with a key for tenant, and a verifier that
// trusts it; priv and kid let tests forge tokens the issuer would not mint.
type fixture struct {
	iss  *issuer.Issuer
	v    *auth.Verifier
	priv *rsa.PrivateKey
	kid  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	store := &memStore{keys: map[string][]directory.SigningKey{}}
	clock := func() time.Time { return now }
	iss := issuer.New(store, publicURL, issuer.WithClock(clock))
	ctx := context.Background()
	for _, ten := range []string{tenant, otherTen} {
		if err := iss.EnsureSigningKey(ctx, ten); err != nil {
			t.Fatal(err)
		}
	}
	row := store.keys[tenant][0]
	k, err := x509.ParsePKCS8PrivateKey(row.PrivateDER)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(auth.Config{
		Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{audience}, iss)},
		Now:     clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{iss: iss, v: v, priv: k.(*rsa.PrivateKey), kid: row.ID}
}

func (f *fixture) header() map[string]any {
	return map[string]any{"alg": "RS256", "typ": "at+jwt", "kid": f.kid}
}

func appClaims() map[string]any {
	return map[string]any{
		"iss": publicURL + "/" + tenant + "/v2.0", "aud": audience,
		"sub": appID, "oid": appID, "azp": appID, "appid": appID, "tid": tenant,
		"idtyp": "app", "roles": []string{"User.Read.All"}, "ver": "2.0",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": "2b4a4b0e-4a7e-4d5e-9d4c-5f6a7b8c9d0e",
	}
}

func userClaims() map[string]any {
	c := appClaims()
	c["sub"], c["oid"], c["idtyp"], c["scp"] = userID, userID, "user", "User.Read User.ReadWrite"
	delete(c, "roles")
	return c
}

// with returns a copy of m with the given members set (nil value = removed).
func with(m map[string]any, kv ...any) map[string]any {
	out := maps.Clone(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// signRaw signs header.payload segments with RS256 under key.
func signRaw(key *rsa.PrivateKey, hdr, payload []byte) string {
	input := b64(hdr) + "." + b64(payload)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic(err)
	}
	return input + "." + b64(sig)
}

func (f *fixture) sign(hdr, claims map[string]any) string {
	return signRaw(f.priv, mustJSON(hdr), mustJSON(claims))
}

// hs256WithPublicKey forges the classic confusion token: HMAC keyed with the
// verifier's public key in PEM form.
func (f *fixture) hs256WithPublicKey(claims map[string]any) string {
	der, _ := x509.MarshalPKIXPublicKey(&f.priv.PublicKey)
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	input := b64(mustJSON(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": f.kid})) + "." + b64(mustJSON(claims))
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(input))
	return input + "." + b64(mac.Sum(nil))
}
