package auth

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/graphdir/graphdir/internal/directory"
)

// Validated-token cache. Checking an RS256 signature and parsing the claims
// with jwx is most of a simple read's CPU (the bench's profile of get-by-id
// put it at ~40%), and a client sends the same token for up to an hour.
// Verify therefore remembers the caller a token proved, keyed by the
// SHA-256 of the token's exact bytes (so only the very same signed token
// hits), and:
//
//   - caches successes only: a refused token is checked in full every time;
//   - re-checks exp on every hit with the same skew as a full check, so a
//     cached token expires exactly when it would have;
//   - re-checks on every hit that the issuer's key source still holds the
//     very key that verified the signature (a map lookup in the key
//     sources' own caches), so a retired or replaced key stops a cached
//     token at once, as it stops an uncached one;
//   - keeps an entry at most tokenCacheTTL, a bound on anything else a
//     full check would see differently later;
//   - holds at most tokenCacheSize entries, evicting a random one when
//     full (Go's map iteration order), which needs no bookkeeping per hit.
const (
	tokenCacheSize = 10_000
	tokenCacheTTL  = time.Minute
)

type tokenCache struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]cachedToken
	max     int
}

type cachedToken struct {
	p     *directory.Principal
	exp   time.Time // the token's exp claim
	until time.Time // when the entry stops being used, exp aside

	// The key that verified the signature and how it was found.
	ti        *trusted
	tenant    string
	kid       string
	jwk       jwk.Key // as the key source returned it
	pub       *rsa.PublicKey
	keyIssuer string
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{entries: make(map[[sha256.Size]byte]cachedToken, min(size, 1024)), max: size}
}

// get returns the entry of the token with key if there is one, it is
// fresh and the token has not expired at now (with skew). The caller still
// checks the key (see Verifier.cached).
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time, skew time.Duration) (cachedToken, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok {
		return cachedToken{}, false
	}
	if !now.Before(e.until) || !now.Before(e.exp.Add(skew)) {
		c.drop(key)
		return cachedToken{}, false
	}
	return e, true
}

func (c *tokenCache) drop(key [sha256.Size]byte) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// put remembers e for the token with key.
func (c *tokenCache) put(key [sha256.Size]byte, e cachedToken) {
	e.p = clonePrincipal(e.p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = e
}

// cached returns the caller a cached token proved when the cache holds it
// and the key that verified it is still the issuer's key of that kid.
func (v *Verifier) cached(ctx context.Context, key [sha256.Size]byte) (*directory.Principal, bool) {
	e, ok := v.cache.get(key, v.now(), v.skew)
	if !ok {
		return nil, false
	}
	// Key sources hand out the jwk.Key objects they cache: the very object
	// that verified the token is the same key, without rebuilding its RSA
	// form (jwk.PublicRawKeyOf was half of a cache hit's CPU).
	if k, err := e.ti.Keys.Key(ctx, e.tenant, e.kid); err == nil && sameKeyObject(k, e.jwk) {
		return clonePrincipal(e.p), true
	}
	_, pub, keyIssuer, err := v.key(ctx, e.ti, e.tenant, e.kid)
	if err != nil || !pub.Equal(e.pub) || keyIssuer != e.keyIssuer {
		// Not necessarily a bad token (the key source may be briefly
		// unavailable): the full check decides and reports.
		v.cache.drop(key)
		return nil, false
	}
	return clonePrincipal(e.p), true
}

// sameKeyObject reports whether a and b are the same object (not merely
// equal keys). A key of a type that cannot be compared is never the same.
func sameKeyObject(a, b jwk.Key) bool {
	t := reflect.TypeOf(a)
	return t != nil && t.Comparable() && t == reflect.TypeOf(b) && a == b
}

// clonePrincipal copies p so that no caller can change a cached one.
func clonePrincipal(p *directory.Principal) *directory.Principal {
	q := *p
	q.Permissions = slices.Clone(p.Permissions)
	q.Roles = slices.Clone(p.Roles)
	q.AMR = slices.Clone(p.AMR)
	q.ACRS = slices.Clone(p.ACRS)
	return &q
}
