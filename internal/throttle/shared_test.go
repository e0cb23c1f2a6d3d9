package throttle_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
	"github.com/graphdir/graphdir/internal/throttle"
)

// Issue 15 asks for Graph's limits to hold within ±20% across 3 instances,
// and for the two ways to do it to be built far enough to measure:
//
//	(a) shared buckets: every request spends from rows in PostgreSQL
//	    (throttle.Shared over the store; the design graphdir uses);
//	(b) shares: each instance keeps its buckets in memory and takes
//	    limit/N of each, N being the live instances of a heartbeat table
//	    (registry below, built only here, in the test database).
//
// The tests run three "instances" (three connection pools, three Limiters)
// over one database with one hand-moved clock: no sleeps, and the figures
// are counts, not timings.

const tenantID = "6f3a1c1e-5b7a-4d43-9d1e-3f0f6d1f0a01"

// instances opens n stores on one migrated database holding the tenant.
func instances(t testing.TB, n int) []*postgres.Store {
	t.Helper()
	ctx := context.Background()
	url := pgtest.NewURL(t)
	var stores []*postgres.Store
	for range n {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	if _, err := stores[0].EnsureTenant(ctx, directory.Tenant{ID: tenantID, DefaultDomain: "throttle.test"}); err != nil {
		t.Fatal(err)
	}
	return stores
}

// clock is the instances' shared clock, moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// registry is design (b)'s instance registry: a heartbeat row per
// instance; an instance counts those seen within ttl as live.
type registry struct {
	store *postgres.Store
	id    string
}

func createRegistry(t testing.TB, s *postgres.Store) {
	t.Helper()
	if _, err := s.DB().Exec(`CREATE TABLE throttle_instances (id text PRIMARY KEY, seen_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
}

func (r registry) heartbeat(ctx context.Context, now time.Time) error {
	_, err := r.store.DB().ExecContext(ctx, `INSERT INTO throttle_instances (id, seen_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`, r.id, now)
	return err
}

func (r registry) live(ctx context.Context, now time.Time, ttl time.Duration) (int, error) {
	var n int
	err := r.store.DB().GetContext(ctx, &n, `SELECT count(*) FROM throttle_instances WHERE seen_at > $1`, now.Add(-ttl))
	return n, err
}

// shareOf is l with every limit divided among n instances.
func shareOf(l throttle.Limits, n int) throttle.Limits {
	div := func(v int) int { return max(1, int(math.Round(float64(v)/float64(n)))) }
	l.ResourceUnits, l.AppTenantWrites, l.TenantWrites = div(l.ResourceUnits), div(l.AppTenantWrites), div(l.TenantWrites)
	return l
}

// design builds one Limiter per instance.
type design struct {
	name  string
	build func(t testing.TB, stores []*postgres.Store, l throttle.Limits, clk *clock) []*throttle.Limiter
}

// sharedDesign is design (a) with leases of leasePercent.
func sharedDesign(name string, leasePercent int) design {
	return design{name, func(t testing.TB, stores []*postgres.Store, l throttle.Limits, clk *clock) []*throttle.Limiter {
		var ls []*throttle.Limiter
		l.LeasePercent = leasePercent
		for _, s := range stores {
			lim := throttle.New(l, throttle.Shared(s))
			lim.SetClock(clk.now)
			ls = append(ls, lim)
		}
		return ls
	}}
}

var designs = []design{
	sharedDesign("shared buckets in PostgreSQL, a round trip per request", 0),
	sharedDesign("shared buckets in PostgreSQL, leases of 1%", throttle.DefaultLeasePercent),
	{"per-instance shares from a heartbeat registry", func(t testing.TB, stores []*postgres.Store, l throttle.Limits, clk *clock) []*throttle.Limiter {
		ctx := context.Background()
		createRegistry(t, stores[0])
		for i, s := range stores {
			if err := (registry{s, fmt.Sprint("instance-", i)}).heartbeat(ctx, clk.now()); err != nil {
				t.Fatal(err)
			}
		}
		var ls []*throttle.Limiter
		for i, s := range stores {
			n, err := registry{s, fmt.Sprint("instance-", i)}.live(ctx, clk.now(), 30*time.Second)
			if err != nil || n != len(stores) {
				t.Fatalf("live instances = %d, %v; want %d", n, err, len(stores))
			}
			lim := throttle.New(shareOf(l, n), nil)
			lim.SetClock(clk.now)
			ls = append(ls, lim)
		}
		return ls
	}},
}

// uneven picks the instance of request k: 70% / 20% / 10%, interleaved,
// as a balancer with sticky connections or unequal weights spreads one
// client's requests.
func uneven(k int) int {
	switch k % 10 {
	case 0, 2, 3, 5, 6, 8, 9:
		return 0
	case 1, 7:
		return 1
	}
	return 2
}

// steadyRate drives one client at demand × the limit for windows windows
// through the instances (request k to uneven(k), the clock moved evenly)
// and returns what was admitted after the first window, as a fraction of
// the limit over the same time: 1.0 is exact. The first window is left
// out because a token bucket starts full (a burst of one limit on top of
// the rate), on one instance or many.
func steadyRate(t testing.TB, ls []*throttle.Limiter, clk *clock, l throttle.Limits, demand float64, windows int) float64 {
	t.Helper()
	ctx := context.Background()
	perWindow := int(float64(l.ResourceUnits) * demand)
	step := l.AppTenantWindow / time.Duration(perWindow)
	start := clk.now()
	admitted := 0
	for k := range perWindow * windows {
		clk.set(start.Add(time.Duration(k) * step))
		d, err := ls[uneven(k)].Take(ctx, throttle.Request{Tenant: tenantID, App: "app", ResourceUnits: 1})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed && k >= perWindow {
			admitted++
		}
	}
	expected := math.Min(demand, 1) * float64(l.ResourceUnits*(windows-1))
	return float64(admitted) / expected
}

// TestThrottleAccuracyAcrossThreeInstances is issue 15's figure: with one
// client's load spread 70/20/10 over three instances, design (a) holds
// the limit within ±20% (exact with a round trip per request; leases make
// it stricter by at most one lease per instance), design (b) does not (the
// busy instance runs out of its third while the others idle).
// Both the demand at the limit (everything should pass) and at twice the
// limit (exactly the limit should pass) are measured.
func TestThrottleAccuracyAcrossThreeInstances(t *testing.T) {
	l := throttle.Limits{ResourceUnits: 300, AppTenantWindow: 10 * time.Second}
	for _, d := range designs {
		t.Run(d.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
			ls := d.build(t, instances(t, 3), l, clk)
			atLimit := steadyRate(t, ls, clk, l, 1.0, 6)
			clk.set(clk.now().Add(time.Hour)) // every bucket full again
			overLimit := steadyRate(t, ls, clk, l, 2.0, 6)
			t.Logf("%s, load 70/20/10 over 3 instances: demand = limit admits %.1f%% of it, demand = 2x limit admits %.1f%% of the limit (error %+.1f%%, %+.1f%%)",
				d.name, 100*atLimit, 100*overLimit, 100*(atLimit-1), 100*(overLimit-1))
			within := math.Abs(atLimit-1) <= 0.2 && math.Abs(overLimit-1) <= 0.2
			switch d.name {
			case designs[0].name, designs[1].name:
				if !within {
					t.Errorf("shared buckets: accuracy outside ±20%%")
				}
				// Within one lease per instance of the limit: tokens leased
				// and not spent are missing from the limit; tokens leased
				// in the first window and spent in the second show up in
				// the measured windows.
				slack := 0.0
				if d.name == designs[1].name {
					slack = 3 * float64(l.ResourceUnits*throttle.DefaultLeasePercent/100) / float64(l.ResourceUnits*5)
				}
				if overLimit > 1+slack+1e-9 || overLimit < 1-slack-1e-9 {
					t.Errorf("at twice the limit: %.4f of it admitted, want 1 ± %.4f", overLimit, slack)
				}
			default:
				// The reason (b) was not chosen: if this starts holding,
				// SCALING.md's comparison is stale.
				if within {
					t.Errorf("shares held ±20%% under uneven load; SCALING.md says they do not")
				}
			}
		})
	}
}

// TestSharedThrottleConcurrentInstancesNeverOverspend: three instances
// taking concurrently (a fixed clock: no refill) admit exactly the
// bucket's size, writes charge all three buckets or none, and a refusal
// carries Graph's scope, reason and Retry-After.
func TestSharedThrottleConcurrentInstancesNeverOverspend(t *testing.T) {
	ctx := context.Background()
	stores := instances(t, 3)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	l := throttle.Limits{ResourceUnits: 200, AppTenantWindow: 100 * time.Second,
		AppTenantWrites: 50, AppTenantWriteWindow: time.Hour, TenantWrites: 70, TenantWriteWindow: time.Hour}
	ls := designs[0].build(t, stores, l, clk)
	var reads, writes atomic.Int64
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				write := i%2 == 0
				d, err := ls[g%3].Take(ctx, throttle.Request{Tenant: tenantID, App: fmt.Sprint("app", g%2), ResourceUnits: 1, Write: write})
				if err != nil {
					t.Error(err)
					return
				}
				switch {
				case d.Allowed && write:
					writes.Add(1)
				case d.Allowed:
					reads.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	// 360 requests, 180 writes over two apps: the tenant's 70 writes run
	// out before either app's 50; reads never hit their 200 per app.
	if writes.Load() != 70 || reads.Load() != 180 {
		t.Fatalf("admitted %d writes and %d reads, want exactly 70 and 180", writes.Load(), reads.Load())
	}
	var app0Writes int
	if err := stores[0].DB().GetContext(ctx, &app0Writes, `SELECT (50 - tokens)::int FROM throttle_buckets WHERE tenant_id = $1 AND name = 'w|app0'`, tenantID); err != nil {
		t.Fatal(err)
	}
	// The scheduler decides how the 70 writes split between the apps; one
	// of them may have spent its own 50 too, and then its refusal names its
	// own bucket. The other app's refusal can only be the tenant's.
	probe := "app0"
	if app0Writes == 50 {
		probe = "app1"
	}
	d, err := ls[1].Take(ctx, throttle.Request{Tenant: tenantID, App: probe, ResourceUnits: 1, Write: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed || d.Scope != "Tenant/Write/"+tenantID || d.Information != "WriteLimitExceeded" ||
		d.RetryAfter != 51429*time.Millisecond { // 1 write at 70 an hour, rounded up to the ms
		t.Fatalf("write past the tenant's limit: %+v", d)
	}
	// The refused writes charged nothing: app0's resource units are what
	// its admitted requests spent. Spend the rest on another instance.
	var used float64
	if err := stores[0].DB().GetContext(ctx, &used, `SELECT 200 - tokens FROM throttle_buckets WHERE tenant_id = $1 AND name = 'ru|app0'`, tenantID); err != nil {
		t.Fatal(err)
	}
	if want := float64(90 + app0Writes); math.Abs(used-want) > 1e-9 {
		t.Fatalf("app0 spent %v resource units, want %v (90 reads, %d admitted writes)", used, want, app0Writes)
	}
	// Time moves: Retry-After later, one more write fits.
	clk.set(clk.now().Add(d.RetryAfter))
	if d, err := ls[2].Take(ctx, throttle.Request{Tenant: tenantID, App: probe, ResourceUnits: 1, Write: true}); err != nil || !d.Allowed {
		t.Fatalf("after Retry-After: %+v, %v", d, err)
	}
}

// TestSharedThrottlePrune: an idle bucket is deleted, a busy one kept.
func TestSharedThrottlePrune(t *testing.T) {
	ctx := context.Background()
	stores := instances(t, 1)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	lim := designs[0].build(t, stores, throttle.Limits{}, clk)[0]
	for _, app := range []string{"idle", "busy"} {
		if _, err := lim.Take(ctx, throttle.Request{Tenant: tenantID, App: app, ResourceUnits: 1}); err != nil {
			t.Fatal(err)
		}
		clk.set(clk.now().Add(time.Hour))
	}
	n, err := stores[0].PruneThrottle(ctx, clk.now().Add(-90*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want the idle bucket", n, err)
	}
}

// BenchmarkThrottleTake is the per-request cost of each design on one
// instance: a read (one bucket) and a write (three), sequential and with
// 8 goroutines of one client racing for its buckets, at Graph's default
// limits with the clock moved by one request's share of the refill, so
// that the client runs at exactly its limit (every request admitted).
//
//	go test -run '^$' -bench BenchmarkThrottleTake -benchtime 3s ./internal/throttle/
func BenchmarkThrottleTake(b *testing.B) {
	// The yardstick: the cheapest statement a request could add.
	b.Run("baseline SELECT 1 round trip", func(b *testing.B) {
		db := instances(b, 1)[0].DB()
		b.ResetTimer()
		for range b.N {
			var one int
			if err := db.QueryRow(`SELECT 1`).Scan(&one); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, d := range designs {
		for _, write := range []bool{false, true} {
			for _, parallel := range []bool{false, true} {
				name := fmt.Sprintf("%s/write=%v/parallel=%v", d.name, write, parallel)
				b.Run(name, func(b *testing.B) {
					ctx := context.Background()
					start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
					var elapsed atomic.Int64
					clk := &clock{t: start}
					graph := throttle.Limits{ResourceUnits: throttle.DefaultResourceUnits, AppTenantWindow: throttle.DefaultAppTenantWindow,
						AppTenantWrites: throttle.DefaultAppTenantWrites, AppTenantWriteWindow: throttle.DefaultAppTenantWriteWindow,
						TenantWrites: throttle.DefaultTenantWrites, TenantWriteWindow: throttle.DefaultTenantWriteWindow}
					lim := d.build(b, instances(b, 1), graph, clk)[0]
					// Per request, the refill of the scarcest bucket it takes.
					step := throttle.DefaultAppTenantWindow / throttle.DefaultResourceUnits
					if write {
						step = throttle.DefaultAppTenantWriteWindow / throttle.DefaultAppTenantWrites
					}
					lim.SetClock(func() time.Time { return start.Add(time.Duration(elapsed.Add(int64(step)))) })
					r := throttle.Request{Tenant: tenantID, App: "app", ResourceUnits: 1, Write: write}
					var refused atomic.Int64
					take := func() bool {
						dec, err := lim.Take(ctx, r)
						if err != nil {
							b.Error(err)
							return false
						}
						if !dec.Allowed {
							refused.Add(1)
						}
						return true
					}
					b.ResetTimer()
					if parallel {
						b.SetParallelism(4) // 8 goroutines on 2 cores
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() && take() {
							}
						})
					} else {
						for range b.N {
							if !take() {
								return
							}
						}
					}
					b.ReportMetric(float64(refused.Load())/float64(b.N), "refused/op")
				})
			}
		}
	}
}

// TestSharedThrottleLeasesNeverOverspend: with leases (10% here, so that
// they matter at this size), three instances taking concurrently never
// admit more than the bucket, and at most one lease per instance less.
func TestSharedThrottleLeasesNeverOverspend(t *testing.T) {
	ctx := context.Background()
	stores := instances(t, 3)
	clk := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	l := throttle.Limits{ResourceUnits: 200, AppTenantWindow: time.Hour}
	ls := sharedDesign("leases of 10%", 10).build(t, stores, l, clk)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				d, err := ls[g%3].Take(ctx, throttle.Request{Tenant: tenantID, App: "app", ResourceUnits: 1})
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					admitted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("admitted %d of a bucket of 200 with leases of 20 on 3 instances", admitted.Load())
	if n := admitted.Load(); n > 200 || n < 200-3*20 {
		t.Fatalf("admitted %d, want between 140 and 200", n)
	}
	var left float64
	if err := stores[0].DB().GetContext(ctx, &left, `SELECT tokens FROM throttle_buckets WHERE tenant_id = $1 AND name = 'ru|app'`, tenantID); err != nil {
		t.Fatal(err)
	}
	if left >= 21 {
		t.Fatalf("%v tokens left in the shared bucket after 600 requests for 200", left)
	}
}
