package protect_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/protect"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

var _ protect.Store = (*postgres.Store)(nil)

// clock is a test clock moved by hand: no test sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock {
	// Aligned to a minute so that rate windows start where the test expects.
	return &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
}

const tenant = "6f3a1c1e-5b7a-4d43-9d1e-3f0f6d1f0a01"

func refusal(t *testing.T, err error) *protect.Refusal {
	t.Helper()
	var r *protect.Refusal
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a *protect.Refusal", err)
	}
	return r
}

// TestLockoutThresholdDurationGrowth: the threshold's failure locks for the
// base duration; after it runs out one more failure locks again for twice
// as long, up to the cap; a success clears everything.
func TestLockoutThresholdDurationGrowth(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	clk := newClock()
	g := protect.New(st, protect.Policy{LockoutThreshold: 3, LockoutDuration: 60 * time.Second, LockoutMax: 200 * time.Second,
		PerIP: 1000, PerTenant: 1000}, protect.WithClock(clk.now))
	a := protect.Attempt{TenantID: tenant, Identifier: "Alice@Example.com", Step: protect.StepPassword}

	for i := 1; i <= 2; i++ {
		if err := g.Admit(ctx, a); err != nil {
			t.Fatalf("attempt %d refused: %v", i, err)
		}
		if err := g.Failed(ctx, a); err != nil {
			t.Fatalf("failure %d started a lock: %v", i, err)
		}
	}
	if err := g.Admit(ctx, a); err != nil {
		t.Fatal(err)
	}
	r := refusal(t, g.Failed(ctx, a))
	if !r.Locked || r.RetryAfter != 60*time.Second {
		t.Fatalf("third failure: %+v, want locked for 60s", r)
	}
	// Another spelling of the same identifier is the same account.
	other := a
	other.Identifier = "  alice@EXAMPLE.com "
	r = refusal(t, g.Admit(ctx, other))
	if !r.Locked || !errors.Is(r, protect.ErrLocked) || errors.Is(r, protect.ErrRateLimited) {
		t.Fatalf("admit while locked: %+v", r)
	}
	clk.advance(59 * time.Second)
	if r := refusal(t, g.Admit(ctx, a)); r.RetryAfter != time.Second {
		t.Fatalf("retry-after one second before the end: %v", r.RetryAfter)
	}
	clk.advance(time.Second)
	if err := g.Admit(ctx, a); err != nil {
		t.Fatalf("lock did not run out: %v", err)
	}
	// One more failure after a lock locks again, twice as long; then the cap.
	for _, want := range []time.Duration{120 * time.Second, 200 * time.Second, 200 * time.Second} {
		r := refusal(t, g.Failed(ctx, a))
		if !r.Locked || r.RetryAfter != want {
			t.Fatalf("repeated lock: %+v, want %v", r, want)
		}
		clk.advance(want)
	}
	// Success clears: the threshold applies afresh.
	if err := g.Succeeded(ctx, a); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		if err := g.Failed(ctx, a); err != nil {
			t.Fatalf("after success, failure %d locked: %v", i, err)
		}
	}
	// A quiet period forgets the failures and the lock history.
	clk.advance(g.Policy().LockoutReset)
	for i := 1; i <= 2; i++ {
		if err := g.Failed(ctx, a); err != nil {
			t.Fatalf("after the quiet period, failure %d locked: %v", i, err)
		}
	}
	if r := refusal(t, g.Failed(ctx, a)); r.RetryAfter != 60*time.Second {
		t.Fatalf("after reset, the first lock is the base one: %v", r.RetryAfter)
	}
	// Other identifiers and tenants are not affected.
	b := a
	b.Identifier = "bob@example.com"
	if err := g.Admit(ctx, b); err != nil {
		t.Fatalf("another identifier locked: %v", err)
	}
	b = a
	b.TenantID = "0b1c2d3e-0000-4000-8000-000000000001"
	if err := g.Admit(ctx, b); err != nil {
		t.Fatalf("another tenant's identifier locked: %v", err)
	}
}

// TestLockoutSharedAcrossInstances: two Stores (two instances) on one
// database count the same failures, concurrently, without losing any.
func TestLockoutSharedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	clk := newClock()
	p := protect.Policy{LockoutThreshold: 20, PerIP: 1000, PerTenant: 1000}
	g1 := protect.New(open(), p, protect.WithClock(clk.now))
	g2 := protect.New(open(), p, protect.WithClock(clk.now))
	a := protect.Attempt{TenantID: tenant, Identifier: "shared@example.com", Step: protect.StepPassword}

	var wg sync.WaitGroup
	locks := make(chan error, 19)
	for i := 0; i < 19; i++ {
		g := g1
		if i%2 == 1 {
			g = g2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Failed(ctx, a); err != nil {
				locks <- err
			}
		}()
	}
	wg.Wait()
	close(locks)
	for err := range locks {
		t.Fatalf("19 of 20 failures locked: %v", err)
	}
	if err := g2.Admit(ctx, a); err != nil {
		t.Fatalf("locked early: %v", err)
	}
	if r := refusal(t, g1.Failed(ctx, a)); !r.Locked {
		t.Fatal("the 20th failure, counted over two instances, did not lock")
	}
	if r := refusal(t, g2.Admit(ctx, a)); !r.Locked {
		t.Fatal("the other instance does not see the lock")
	}
}

// TestRateLimits: per IP and per tenant, per step, per window, with the
// retry-after of the window's end.
func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	clk := newClock()
	clk.advance(15 * time.Second)
	g := protect.New(st, protect.Policy{PerIP: 3, PerTenant: 4, Window: time.Minute}, protect.WithClock(clk.now))
	at := func(ip string, step protect.Step) protect.Attempt {
		return protect.Attempt{TenantID: tenant, IP: ip, Step: step}
	}
	for i := 0; i < 3; i++ {
		if err := g.Admit(ctx, at("192.0.2.1", protect.StepPassword)); err != nil {
			t.Fatalf("hit %d: %v", i+1, err)
		}
	}
	r := refusal(t, g.Admit(ctx, at("192.0.2.1", protect.StepPassword)))
	if r.Locked || r.Scope != "ip" || r.RetryAfter != 45*time.Second || !errors.Is(r, protect.ErrRateLimited) {
		t.Fatalf("4th hit from one IP: %+v", r)
	}
	// Another step has its own counter; another IP too, until the tenant's
	// limit (4 per window; the refused 4th hit never reached the tenant counter) is reached.
	if err := g.Admit(ctx, at("192.0.2.1", protect.StepCodeSend)); err != nil {
		t.Fatalf("code send counted with passwords: %v", err)
	}
	if err := g.Admit(ctx, at("192.0.2.2", protect.StepPassword)); err != nil {
		t.Fatalf("second IP: %v", err)
	}
	r = refusal(t, g.Admit(ctx, at("192.0.2.3", protect.StepPassword)))
	if r.Scope != "tenant" {
		t.Fatalf("tenant limit: %+v", r)
	}
	// Another tenant is not affected; the next window starts afresh.
	if err := g.Admit(ctx, protect.Attempt{TenantID: "0b1c2d3e-0000-4000-8000-000000000001", IP: "192.0.2.9", Step: protect.StepPassword}); err != nil {
		t.Fatalf("other tenant: %v", err)
	}
	clk.advance(45 * time.Second)
	if err := g.Admit(ctx, at("192.0.2.1", protect.StepPassword)); err != nil {
		t.Fatalf("next window: %v", err)
	}
	// Prune removes the old windows, keeps the current one.
	clk.advance(3 * time.Minute)
	n, err := g.Prune(ctx)
	if err != nil || n == 0 {
		t.Fatalf("prune: %d, %v", n, err)
	}
}

// TestFailuresSharedAcrossInstances: a FailureLimit reached through one
// instance's Guard holds on another's; locks double up to Max; Clear
// forgets; limits with other names and other subjects are apart.
func TestFailuresSharedAcrossInstances(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	clk := newClock()
	l := protect.FailureLimit{Name: "token-client", Threshold: 3, Duration: 10 * time.Second, Max: 25 * time.Second, Reset: time.Minute}
	a := protect.New(open(), protect.Policy{}, protect.WithClock(clk.now)).Failures(l)
	b := protect.New(open(), protect.Policy{}, protect.WithClock(clk.now)).Failures(l)
	other := protect.New(open(), protect.Policy{}, protect.WithClock(clk.now)).Failures(protect.FailureLimit{Name: "token-ip", Threshold: 3})
	wait := func(f *protect.Failures, subject string) time.Duration {
		t.Helper()
		w, err := f.Wait(ctx, subject)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for i := range 3 {
		if w := wait(b, "client"); w != 0 {
			t.Fatalf("locked after %d failures: %v", i, w)
		}
		if err := a.Fail(ctx, "client"); err != nil {
			t.Fatal(err)
		}
	}
	if w := wait(b, "client"); w != 10*time.Second {
		t.Fatalf("B's wait after 3 failures at A: %v, want 10s", w)
	}
	if w := wait(other, "client"); w != 0 {
		t.Fatalf("another limit's subject locked: %v", w)
	}
	if w := wait(b, "another client"); w != 0 {
		t.Fatalf("another subject locked: %v", w)
	}
	// After the lock, one more failure (at B this time) locks for twice as
	// long, then the cap.
	for _, want := range []time.Duration{20 * time.Second, 25 * time.Second} {
		clk.advance(wait(a, "client"))
		if err := b.Fail(ctx, "client"); err != nil {
			t.Fatal(err)
		}
		if w := wait(a, "client"); w != want {
			t.Fatalf("repeated lock: %v, want %v", w, want)
		}
	}
	clk.advance(25 * time.Second)
	if err := a.Clear(ctx, "client"); err != nil {
		t.Fatal(err)
	}
	if err := b.Fail(ctx, "client"); err != nil {
		t.Fatal(err)
	}
	if w := wait(a, "client"); w != 0 {
		t.Fatalf("one failure after Clear locked: %v", w)
	}
}
