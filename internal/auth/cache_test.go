package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/directory"
)

// The validated-token cache must not change any verdict: a cached token
// still expires on time, a changed caller copy does not leak into the cache,
// and refusals are never cached.
func TestTokenCacheKeepsVerdicts(t *testing.T) {
	f := newFixture(t)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	v, err := auth.NewVerifier(auth.Config{
		Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{audience}, f.iss)},
		Skew:    time.Second, Now: func() time.Time { return time.Unix(0, clock.Load()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := f.sign(f.header(), with(appClaims(), "exp", now.Add(10*time.Minute).Unix()))
	p1, err := v.Verify(ctx, bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	p1.Permissions[0] = "Directory.ReadWrite.All" // a caller scribbling on its copy
	p2, err := v.Verify(ctx, bearer(tok))
	if err != nil {
		t.Fatal(err)
	}
	if p2.Kind != directory.PrincipalApp || len(p2.Permissions) != 1 || p2.Permissions[0] != "User.Read.All" {
		t.Errorf("cached principal %+v", p2)
	}
	// Past exp (plus skew) the cached token is refused like any other.
	clock.Store(now.Add(10*time.Minute + 2*time.Second).UnixNano())
	if _, err := v.Verify(ctx, bearer(tok)); auth.ReasonOf(err) != auth.ReasonExpired {
		t.Errorf("cached token past exp: %v", err)
	}

	// A refusal is not remembered: the same bad token fails every time,
	// and a good token with one changed byte misses the cache.
	clock.Store(now.UnixNano())
	bad := tok[:len(tok)-2] + "AA"
	if bad == tok {
		bad = tok[:len(tok)-2] + "BB"
	}
	for range 2 {
		if _, err := v.Verify(ctx, bearer(bad)); directory.KindOf(err) != directory.KindUnauthenticated {
			t.Errorf("tampered signature: %v", err)
		}
	}
}

// swapKeys is a key source that hands out the issuer's key object, an
// equal copy of it, or another key under the same kid.
type swapKeys struct {
	inner auth.KeySource
	mode  atomic.Int32 // 0: the same object, 1: an equal copy, 2: another key
	other jwk.Key
}

func (s *swapKeys) Key(ctx context.Context, tenantID, kid string) (jwk.Key, error) {
	k, err := s.inner.Key(ctx, tenantID, kid)
	if err != nil {
		return nil, err
	}
	switch s.mode.Load() {
	case 1:
		return k.Clone()
	case 2:
		return s.other, nil
	}
	return k, nil
}

// A cached token is accepted while its key source still returns the key
// that verified it, be it the same object or an equal copy, and refused
// once the kid names another key.
func TestTokenCacheFollowsKeySource(t *testing.T) {
	f := newFixture(t)
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := jwk.FromRaw(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Set(jwk.KeyIDKey, f.kid); err != nil {
		t.Fatal(err)
	}
	keys := &swapKeys{inner: f.iss, other: other}
	v, err := auth.NewVerifier(auth.Config{
		Issuers: []auth.TrustedIssuer{auth.Builtin(publicURL, []string{audience}, keys)},
		Now:     func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tok := f.sign(f.header(), appClaims())
	for _, mode := range []int32{0, 0, 1, 0} {
		keys.mode.Store(mode)
		if _, err := v.Verify(ctx, bearer(tok)); err != nil {
			t.Fatalf("key source mode %d: %v", mode, err)
		}
	}
	keys.mode.Store(2)
	if _, err := v.Verify(ctx, bearer(tok)); auth.ReasonOf(err) != auth.ReasonSignature {
		t.Fatalf("cached token after its kid changed key: %v, want %s", err, auth.ReasonSignature)
	}
}
