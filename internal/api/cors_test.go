package api

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"
)

// countingOrigins answers from a set and counts the questions.
type countingOrigins struct {
	tenant map[[2]string]bool
	any    map[string]bool
	calls  int
	fail   bool
}

func (o *countingOrigins) SPAOriginRegistered(_ context.Context, tenantID, origin string) (bool, error) {
	o.calls++
	if o.fail {
		return false, errors.New("down")
	}
	return o.tenant[[2]string{tenantID, origin}], nil
}

func (o *countingOrigins) SPAOriginRegisteredAnyTenant(_ context.Context, origin string) (bool, error) {
	o.calls++
	if o.fail {
		return false, errors.New("down")
	}
	return o.any[origin], nil
}

// TestOriginCache: lookups are remembered for the TTL (a new registration
// is seen once it passes), failures are no grant and not remembered, and
// hostile origins cannot grow the cache without bound.
func TestOriginCache(t *testing.T) {
	src := &countingOrigins{tenant: map[[2]string]bool{}, any: map[string]bool{}}
	now := time.Unix(1_000_000, 0)
	c := newOriginCache(src, 0, slog.New(slog.DiscardHandler))
	c.now = func() time.Time { return now }
	ctx := context.Background()

	if c.registered(ctx, anyTenant, "https://a.example") || src.calls != 1 {
		t.Fatalf("first lookup: calls %d", src.calls)
	}
	src.any["https://a.example"] = true // registered meanwhile
	if c.registered(ctx, anyTenant, "https://a.example") || src.calls != 1 {
		t.Fatalf("within the TTL the remembered answer holds: calls %d", src.calls)
	}
	now = now.Add(DefaultCORSCacheTTL)
	if !c.registered(ctx, anyTenant, "https://a.example") || src.calls != 2 {
		t.Fatalf("after the TTL the registration shows: calls %d", src.calls)
	}
	// Tenant and any-tenant answers are kept apart.
	if c.registered(ctx, "t1", "https://a.example") || src.calls != 3 {
		t.Fatalf("tenant lookup: calls %d", src.calls)
	}
	src.fail = true
	first := c.registered(ctx, anyTenant, "https://b.example")
	second := c.registered(ctx, anyTenant, "https://b.example")
	if first || second || src.calls != 5 {
		t.Fatalf("failed lookups must be no grant and not remembered: calls %d", src.calls)
	}
	src.fail = false
	for i := range maxCORSCacheEntries * 2 {
		c.registered(ctx, anyTenant, "https://x"+time.Duration(i).String()+".example")
	}
	if n := len(c.entries); n > maxCORSCacheEntries {
		t.Fatalf("cache grew to %d entries", n)
	}

	// A negative TTL turns caching off.
	off := newOriginCache(src, -1, slog.New(slog.DiscardHandler))
	before := src.calls
	off.registered(ctx, anyTenant, "https://a.example")
	off.registered(ctx, anyTenant, "https://a.example")
	if src.calls != before+2 || len(off.entries) != 0 {
		t.Fatalf("uncached: calls %d", src.calls-before)
	}
}
