package issuer

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/graphdir/graphdir/internal/directory"
)

// DefaultAudience is the aud of minted tokens unless WithAudience says
// otherwise. It deliberately is not Graph's own "https://graph.microsoft.com":
// a graphdir token must never be mistaken for (or replayed as) a real Graph
// token, and a real one must never pass here.
const DefaultAudience = "api://graphdir"

// Algorithm is the only signing algorithm the issuer uses; the verifier pins
// it per key rather than trusting a token's header.
const Algorithm = "RS256"

// keyBits is the RSA modulus size of generated keys; 2048 is the floor that
// auth accepts and what Entra uses.
const keyBits = 2048

// refreshCooldown bounds how often a cached tenant's keys are re-read from
// the store because a token named a kid we do not know, so that a flood of
// forged kids cannot turn into a flood of database queries.
const refreshCooldown = time.Minute

// Issuer mints and publishes keys for graphdir's own tokens. It is safe for
// concurrent use; keys are cached in memory once read from the KeyStore.
type Issuer struct {
	store     directory.KeyStore
	publicURL string
	audience  string
	now       func() time.Time
	// uiLocales are discovery's ui_locales_supported (WithUILocales).
	uiLocales []string

	mu      sync.RWMutex
	tenants map[string]*tenantKeys

	// genMu serialises key generation so that concurrent first mints on one
	// instance generate one key, not one each (the store settles races
	// between instances).
	genMu sync.Mutex
}

// tenantKeys is an immutable snapshot of one tenant's keys.
type tenantKeys struct {
	signingKID string
	signing    *rsa.PrivateKey
	public     []jwk.Key // newest first; alg, use and kid set
	loadedAt   time.Time
}

// Option configures an Issuer.
type Option func(*Issuer)

// WithAudience sets the aud claim of minted tokens (and so the audience the
// API must be configured to accept).
func WithAudience(aud string) Option { return func(i *Issuer) { i.audience = aud } }

// WithClock replaces time.Now, so tests can mint tokens at a fixed instant.
func WithClock(now func() time.Time) Option { return func(i *Issuer) { i.now = now } }

// WithUILocales sets discovery's ui_locales_supported: the languages of
// the hosted pages (api.PageLocales), which the issuer does not know itself.
func WithUILocales(tags ...string) Option {
	return func(i *Issuer) { i.uiLocales = append([]string(nil), tags...) }
}

// New returns an Issuer that keeps keys in store and names itself under
// publicURL (the externally visible base URL, e.g. "https://login.example").
func New(store directory.KeyStore, publicURL string, opts ...Option) *Issuer {
	i := &Issuer{
		store:     store,
		publicURL: strings.TrimRight(publicURL, "/"),
		audience:  DefaultAudience,
		now:       time.Now,
		tenants:   make(map[string]*tenantKeys),
	}
	for _, o := range opts {
		o(i)
	}
	return i
}

// Audience returns the aud value minted tokens carry.
func (i *Issuer) Audience() string { return i.audience }

// PublicURL returns the base URL the issuer names itself under.
func (i *Issuer) PublicURL() string { return i.publicURL }

// IssuerURL returns the iss of the tenant's tokens. Tenant ids are written in
// lower case so that iss has one spelling and can be compared exactly.
func (i *Issuer) IssuerURL(tenantID string) string {
	return i.publicURL + "/" + strings.ToLower(tenantID) + "/v2.0"
}

// JWKSURL returns where the tenant's public keys are published.
func (i *Issuer) JWKSURL(tenantID string) string {
	return i.publicURL + "/" + strings.ToLower(tenantID) + "/discovery/v2.0/keys"
}

// TokenURL returns the tenant's token endpoint.
func (i *Issuer) TokenURL(tenantID string) string {
	return i.publicURL + "/" + strings.ToLower(tenantID) + "/oauth2/v2.0/token"
}

// errUnknownTenant is returned for a tenant that is not a GUID or has no key;
// the two are not told apart so that callers cannot probe which tenants exist.
func errUnknownTenant() *directory.Error {
	return directory.Errorf(directory.KindNotFound, "Tenant not found.")
}

// EnsureSigningKey makes sure the tenant has a signing key, creating one if
// needed. Provisioning a tenant should call it so that the JWKS is populated
// before the first token is minted; reads (JWKS, PublicKeys, Key) never
// create keys, because they are reachable with attacker-chosen tenant ids.
func (i *Issuer) EnsureSigningKey(ctx context.Context, tenantID string) error {
	_, err := i.load(ctx, tenantID, true)
	return err
}

// PublicKeys returns a fresh set holding the tenant's public keys (alg RS256,
// use sig, kid). It returns a KindNotFound error if the tenant has none.
func (i *Issuer) PublicKeys(ctx context.Context, tenantID string) (jwk.Set, error) {
	tk, err := i.load(ctx, tenantID, false)
	if err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	for _, k := range tk.public {
		if err := set.AddKey(k); err != nil {
			return nil, directory.Internal(err, "issuer: build key set")
		}
	}
	return set, nil
}

// Key returns the tenant's public key named kid. It satisfies auth.KeySource:
// an unknown tenant or kid is a KindNotFound error (a bad token, not an
// outage); any other error means the key store failed.
func (i *Issuer) Key(ctx context.Context, tenantID, kid string) (jwk.Key, error) {
	tk, err := i.load(ctx, tenantID, false)
	if err != nil {
		return nil, err
	}
	if k := tk.lookup(kid); k != nil {
		return k, nil
	}
	// Another instance may have added a key since we cached; re-read, but
	// at most once per cooldown per tenant.
	if !i.claimRefresh(strings.ToLower(tenantID), tk) {
		return nil, directory.Errorf(directory.KindNotFound, "Key not found.")
	}
	tk, err = i.read(ctx, strings.ToLower(tenantID))
	if err != nil {
		return nil, err
	}
	if k := tk.lookup(kid); k != nil {
		return k, nil
	}
	return nil, directory.Errorf(directory.KindNotFound, "Key not found.")
}

func (tk *tenantKeys) lookup(kid string) jwk.Key {
	for _, k := range tk.public {
		if k.KeyID() == kid {
			return k
		}
	}
	return nil
}

// claimRefresh reports whether this caller may re-read the tenant's keys now,
// and if so marks the refresh as taken so concurrent misses do not pile up.
func (i *Issuer) claimRefresh(tenantID string, seen *tenantKeys) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	cur := i.tenants[tenantID]
	if cur == nil || cur != seen || i.now().Sub(cur.loadedAt) < refreshCooldown {
		return false
	}
	marked := *cur
	marked.loadedAt = i.now()
	i.tenants[tenantID] = &marked
	return true
}

// load returns the tenant's keys from the cache or the store, creating the
// first key when create is set. A tenant without keys is never cached, so an
// attacker cycling through random tenant ids cannot grow memory.
func (i *Issuer) load(ctx context.Context, tenantID string, create bool) (*tenantKeys, error) {
	if !directory.IsGUID(tenantID) {
		return nil, errUnknownTenant()
	}
	tenantID = strings.ToLower(tenantID)
	i.mu.RLock()
	tk := i.tenants[tenantID]
	i.mu.RUnlock()
	if tk != nil {
		return tk, nil
	}
	tk, err := i.read(ctx, tenantID)
	if err == nil || !create || directory.KindOf(err) != directory.KindNotFound {
		return tk, err
	}

	i.genMu.Lock()
	defer i.genMu.Unlock()
	if tk, err := i.read(ctx, tenantID); directory.KindOf(err) != directory.KindNotFound {
		return tk, err
	}
	sk, err := generateKey(tenantID, i.now())
	if err != nil {
		return nil, err
	}
	if err := i.store.AddSigningKeyIfNone(ctx, sk); err != nil {
		return nil, fmt.Errorf("issuer: store signing key: %w", err)
	}
	// Re-read rather than use sk: another instance may have won the race,
	// and every instance must sign with the same key.
	return i.read(ctx, tenantID)
}

// read loads the tenant's keys from the store and caches them if there are any.
func (i *Issuer) read(ctx context.Context, tenantID string) (*tenantKeys, error) {
	rows, err := i.store.SigningKeys(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("issuer: read signing keys: %w", err)
	}
	if len(rows) == 0 {
		return nil, errUnknownTenant()
	}
	tk := &tenantKeys{loadedAt: i.now()}
	for _, row := range rows {
		priv, pub, err := decodeKey(row)
		if err != nil {
			return nil, directory.Internal(err, "issuer: decode signing key "+row.ID)
		}
		if tk.signing == nil {
			tk.signing, tk.signingKID = priv, row.ID
		}
		tk.public = append(tk.public, pub)
	}
	i.mu.Lock()
	i.tenants[tenantID] = tk
	i.mu.Unlock()
	return tk, nil
}

// generateKey creates a new RSA key whose kid is its RFC 7638 thumbprint,
// which is stable, unique and reveals nothing.
func generateKey(tenantID string, now time.Time) (directory.SigningKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("issuer: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return directory.SigningKey{}, fmt.Errorf("issuer: encode key: %w", err)
	}
	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return directory.SigningKey{}, err
	}
	return directory.SigningKey{ID: kid, TenantID: tenantID, Algorithm: Algorithm, PrivateDER: der, CreatedAt: now.UTC()}, nil
}

func thumbprint(pub *rsa.PublicKey) (string, error) {
	k, err := jwk.FromRaw(pub)
	if err != nil {
		return "", fmt.Errorf("issuer: jwk from key: %w", err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("issuer: thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// decodeKey turns a stored key into the signer and its public JWK. Stored
// keys other than RSA ≥ 2048 / RS256 are refused rather than used, since a
// weak or mismatched key would be accepted by every instance.
func decodeKey(row directory.SigningKey) (*rsa.PrivateKey, jwk.Key, error) {
	if row.Algorithm != Algorithm {
		return nil, nil, fmt.Errorf("unsupported algorithm %q", row.Algorithm)
	}
	if row.ID == "" {
		return nil, nil, errors.New("empty kid")
	}
	raw, err := x509.ParsePKCS8PrivateKey(row.PrivateDER)
	if err != nil {
		return nil, nil, err
	}
	priv, ok := raw.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("key is %T, want RSA", raw)
	}
	if priv.N.BitLen() < keyBits {
		return nil, nil, fmt.Errorf("RSA key of %d bits is too short", priv.N.BitLen())
	}
	pub, err := jwk.FromRaw(&priv.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	for name, v := range map[string]any{
		jwk.KeyIDKey:     row.ID,
		jwk.AlgorithmKey: jwa.RS256,
		jwk.KeyUsageKey:  jwk.ForSignature,
	} {
		if err := pub.Set(name, v); err != nil {
			return nil, nil, err
		}
	}
	return priv, pub, nil
}
