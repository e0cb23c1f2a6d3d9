package throttle

import (
	"context"
	"sync"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// take is Limiter.Take for a store that cannot fail.
func take(l *Limiter, r Request) Decision {
	d, err := l.Take(context.Background(), r)
	if err != nil {
		panic(err)
	}
	return d
}

func TestCost(t *testing.T) {
	tests := []struct {
		list, sel, exp bool
		top, want      int
	}{
		{true, false, false, 0, 2},
		{true, true, false, 0, 1},
		{true, true, false, 10, 1}, // never below 1
		{true, false, true, 100, 3},
		{false, false, false, 0, 1},
		{true, false, false, 19, 1},
		{true, false, false, 20, 2},
	}
	for _, tt := range tests {
		if got := Cost(tt.list, tt.sel, tt.exp, tt.top); got != tt.want {
			t.Errorf("Cost(%v,%v,%v,%d) = %d, want %d", tt.list, tt.sel, tt.exp, tt.top, got, tt.want)
		}
	}
}

func TestResourceUnitBucket(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Limits{ResourceUnits: 10, AppTenantWindow: 10 * time.Second}, nil)
	l.SetClock(c.now)
	r := Request{Tenant: "t1", App: "a1", ResourceUnits: 2}
	for i := 0; i < 5; i++ {
		if d := take(l, r); !d.Allowed {
			t.Fatalf("request %d refused: %+v", i, d)
		}
	}
	d := take(l, r)
	if d.Allowed || d.Information != "ResourceUnitLimitExceeded" || d.Scope != "Tenant_Application/Read/a1/t1" {
		t.Fatalf("sixth request: %+v", d)
	}
	if d.RetryAfter != 2*time.Second { // 2 units at 1 unit/s
		t.Fatalf("RetryAfter = %v, want 2s", d.RetryAfter)
	}
	// Another app in the same tenant has its own bucket.
	if d := take(l, Request{Tenant: "t1", App: "a2", ResourceUnits: 2}); !d.Allowed {
		t.Fatal("another application was throttled")
	}
	c.advance(2 * time.Second)
	if d := take(l, r); !d.Allowed {
		t.Fatalf("not allowed after RetryAfter: %+v", d)
	}
}

func TestWritesAndRefund(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Limits{ResourceUnits: 100, AppTenantWrites: 3, AppTenantWriteWindow: 30 * time.Second, TenantWrites: 4, TenantWriteWindow: 40 * time.Second}, nil)
	l.SetClock(c.now)
	w := func(app string) Decision {
		return take(l, Request{Tenant: "t", App: app, ResourceUnits: 1, Write: true})
	}
	for i := 0; i < 3; i++ {
		if !w("a").Allowed {
			t.Fatalf("write %d refused", i)
		}
	}
	if d := w("a"); d.Allowed || d.Information != "WriteLimitExceeded" || d.Scope != "Tenant_Application/Write/a/t" {
		t.Fatalf("4th write by a: %+v", d)
	}
	if !w("b").Allowed {
		t.Fatal("first write by b refused")
	}
	d := w("b") // the tenant bucket (4) is now empty
	if d.Allowed || d.Scope != "Tenant/Write/t" {
		t.Fatalf("tenant limit: %+v", d)
	}
	// The refused request must not have spent b's app-level write quota or RUs.
	c.advance(10 * time.Second) // tenant bucket refills 1 token per 10 s
	if !w("b").Allowed {
		t.Fatal("refused request was charged")
	}
	// Reads are not write-limited.
	if !take(l, Request{Tenant: "t", App: "a", ResourceUnits: 1}).Allowed {
		t.Fatal("a read was write-limited")
	}
}

func TestUsedFraction(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Limits{ResourceUnits: 10, AppTenantWindow: time.Hour}, nil)
	l.SetClock(c.now)
	var d Decision
	for i := 0; i < 9; i++ {
		d = take(l, Request{Tenant: "t", App: "a", ResourceUnits: 1})
	}
	if d.UsedFraction < 0.89 || d.UsedFraction > 0.91 {
		t.Fatalf("UsedFraction = %v, want 0.9", d.UsedFraction)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	m := NewMemoryStore(640, time.Hour)
	l := New(Limits{}, m)
	for i := 0; i < 20_000; i++ {
		take(l, Request{Tenant: "t", App: string(rune('a'+i%26)) + time.Duration(i).String(), ResourceUnits: 1})
	}
	if n := m.len(); n > 640+len(m.shards) {
		t.Fatalf("%d buckets kept, want at most about 640", n)
	}
}

func TestConcurrentTakesNeverOverspend(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	l := New(Limits{ResourceUnits: 1000, AppTenantWindow: time.Hour}, nil)
	l.SetClock(c.now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if take(l, Request{Tenant: "t", App: "a", ResourceUnits: 1}).Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != 1000 {
		t.Fatalf("allowed %d of 4000, want exactly the bucket's 1000", allowed)
	}
}
