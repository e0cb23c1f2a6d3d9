package throttle

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync"
	"time"
)

// Limits are bucket sizes and the windows in which they refill completely.
// Zero values take Graph's documented figures for a large tenant.
type Limits struct {
	// ResourceUnits per AppTenantWindow for one application in one tenant
	// (Graph: 8,000 per 10 s for tenants over 500 users).
	ResourceUnits   int
	AppTenantWindow time.Duration
	// AppTenantWrites per AppTenantWriteWindow (Graph: 3,000 per 2 min 30 s).
	AppTenantWrites      int
	AppTenantWriteWindow time.Duration
	// TenantWrites per TenantWriteWindow across all applications (Graph:
	// 18,000 per 5 min).
	TenantWrites      int
	TenantWriteWindow time.Duration
	// MaxKeys bounds the memory of a MemoryStore: idle buckets beyond it
	// are dropped (a dropped bucket is full again, which errs on the
	// caller's side).
	MaxKeys int
}

// Graph's documented limits.
const (
	DefaultResourceUnits        = 8000
	DefaultAppTenantWindow      = 10 * time.Second
	DefaultAppTenantWrites      = 3000
	DefaultAppTenantWriteWindow = 150 * time.Second
	DefaultTenantWrites         = 18000
	DefaultTenantWriteWindow    = 5 * time.Minute
	DefaultMaxKeys              = 100_000
)

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ResourceUnits, DefaultResourceUnits)
	defd(&l.AppTenantWindow, DefaultAppTenantWindow)
	def(&l.AppTenantWrites, DefaultAppTenantWrites)
	defd(&l.AppTenantWriteWindow, DefaultAppTenantWriteWindow)
	def(&l.TenantWrites, DefaultTenantWrites)
	defd(&l.TenantWriteWindow, DefaultTenantWriteWindow)
	def(&l.MaxKeys, DefaultMaxKeys)
	return l
}

// Request describes what one request costs.
type Request struct {
	Tenant, App string
	// ResourceUnits is the read cost (see Cost).
	ResourceUnits int
	// Write marks requests that change data; they also spend write quota.
	Write bool
}

// Cost returns Graph's resource-unit cost of a users request: base 2 for
// listing users (1 for other reads), -1 with $select, +1 with $expand, -1
// with $top below 20; never below 1.
func Cost(list, hasSelect, hasExpand bool, top int) int {
	c := 1
	if list {
		c = 2
	}
	if hasSelect {
		c--
	}
	if hasExpand {
		c++
	}
	if top > 0 && top < 20 {
		c--
	}
	return max(c, 1)
}

// Decision is the outcome of Take.
type Decision struct {
	Allowed bool
	// RetryAfter is how long until the request would be allowed.
	RetryAfter time.Duration
	// Scope is Graph's x-ms-throttle-scope value of the bucket that refused
	// (or of the app bucket when allowed), e.g.
	// "Tenant_Application/ReadWrite/{app}/{tenant}".
	Scope string
	// Information is Graph's x-ms-throttle-information reason when refused:
	// ResourceUnitLimitExceeded or WriteLimitExceeded.
	Information string
	// UsedFraction is the highest fraction of any bucket in use after the
	// request; Graph reports it (as x-ms-throttle-limit-percentage) above 0.8.
	UsedFraction float64
}

// Bucket is one token bucket a request spends from: Capacity tokens,
// refilled at PerSecond, Cost of them spent by the request.
type Bucket struct {
	// Name identifies the bucket within its tenant: "ru|{app}", "w|{app}"
	// or "tw".
	Name                      string
	Capacity, PerSecond, Cost float64
}

// Store keeps the buckets. Take is all or nothing and atomic: concurrent
// takes, from any number of processes sharing the store, never spend a
// token twice.
type Store interface {
	// TakeBuckets refills tenant's buckets to now (zero: the store's own
	// clock) and spends each one's Cost, or spends nothing when one holds
	// fewer tokens than its Cost. It returns refused = 0 and every
	// bucket's tokens after the spend, or refused = i+1 for the first
	// bucket i that is short, with the tokens of buckets 0..i as they were.
	TakeBuckets(ctx context.Context, tenant string, now time.Time, buckets []Bucket) (refused int, levels []float64, err error)
}

// Limiter applies Graph's limits over a Store. It is safe for concurrent
// use.
type Limiter struct {
	limits Limits
	store  Store
	now    func() time.Time
}

// New returns a Limiter with l's limits over store; a nil store is a
// MemoryStore, which holds for one process only.
func New(l Limits, store Store) *Limiter {
	l = l.withDefaults()
	if store == nil {
		store = NewMemoryStore(l.MaxKeys, max(l.AppTenantWindow, l.AppTenantWriteWindow, l.TenantWriteWindow))
	}
	return &Limiter{limits: l, store: store}
}

// SetClock replaces the store's clock (tests move time by hand). Without
// it, a shared store reads the database's clock, the one clock every
// instance agrees on.
func (l *Limiter) SetClock(now func() time.Time) { l.now = now }

// Limits returns the effective limits.
func (l *Limiter) Limits() Limits { return l.limits }

type check struct {
	bucket     Bucket
	scope, why string
}

// Take spends r's cost from every bucket it touches, all or nothing, and
// says whether the request may proceed. An error is the store's (the
// request was neither admitted nor charged).
func (l *Limiter) Take(ctx context.Context, r Request) (Decision, error) {
	lim := l.limits
	mode := "Read"
	if r.Write {
		mode = "Write"
	}
	appScope := fmt.Sprintf("Tenant_Application/%s/%s/%s", mode, r.App, r.Tenant)
	bucket := func(name string, capacity int, window time.Duration, cost int) Bucket {
		c := float64(capacity)
		return Bucket{Name: name, Capacity: c, PerSecond: c / window.Seconds(), Cost: float64(cost)}
	}
	checks := []check{{bucket("ru|"+r.App, lim.ResourceUnits, lim.AppTenantWindow, max(r.ResourceUnits, 1)),
		appScope, "ResourceUnitLimitExceeded"}}
	if r.Write {
		checks = append(checks,
			check{bucket("w|"+r.App, lim.AppTenantWrites, lim.AppTenantWriteWindow, 1), appScope, "WriteLimitExceeded"},
			check{bucket("tw", lim.TenantWrites, lim.TenantWriteWindow, 1), fmt.Sprintf("Tenant/Write/%s", r.Tenant), "WriteLimitExceeded"})
	}
	buckets := make([]Bucket, len(checks))
	for i, c := range checks {
		buckets[i] = c.bucket
	}
	var now time.Time
	if l.now != nil {
		now = l.now()
	}
	refused, levels, err := l.store.TakeBuckets(ctx, r.Tenant, now, buckets)
	if err != nil {
		return Decision{}, err
	}
	if refused > 0 {
		c := checks[refused-1]
		b := c.bucket
		// Rounded up to the millisecond, so that a retry exactly
		// RetryAfter later finds the tokens despite float and timestamp
		// (microsecond) rounding; Retry-After itself is in whole seconds.
		wait := time.Duration(math.Ceil((b.Cost - levels[refused-1]) / b.PerSecond * 1000)) * time.Millisecond
		return Decision{Allowed: false, RetryAfter: wait, Scope: c.scope, Information: c.why, UsedFraction: 1}, nil
	}
	d := Decision{Allowed: true, Scope: appScope}
	for i, b := range buckets {
		d.UsedFraction = math.Max(d.UsedFraction, 1-levels[i]/b.Capacity)
	}
	return d, nil
}

// MemoryStore keeps buckets in this process's memory: correct for one
// instance (and the unit tests), not for several sharing a tenant's
// traffic. It is safe for concurrent use.
type MemoryStore struct {
	seed    maphash.Seed
	shards  [64]shard
	maxKeys int
	idle    time.Duration // a bucket idle this long has refilled completely
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewMemoryStore returns a MemoryStore holding about maxKeys buckets; a
// bucket idle for idle has refilled and may be forgotten.
func NewMemoryStore(maxKeys int, idle time.Duration) *MemoryStore {
	m := &MemoryStore{seed: maphash.MakeSeed(), maxKeys: maxKeys, idle: idle}
	for i := range m.shards {
		m.shards[i].buckets = make(map[string]*bucket)
	}
	return m
}

func (m *MemoryStore) shard(key string) *shard {
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

// level refills b to now.
func (b *bucket) level(now time.Time, capacity, perSecond float64) float64 {
	if b.last.IsZero() {
		return capacity
	}
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		return math.Min(capacity, b.tokens+dt*perSecond)
	}
	return b.tokens
}

// TakeBuckets implements Store. Buckets are taken one shard at a time; a
// refusal refunds what earlier buckets gave, so a refused request costs
// nothing.
func (m *MemoryStore) TakeBuckets(_ context.Context, tenant string, now time.Time, buckets []Bucket) (int, []float64, error) {
	if now.IsZero() {
		now = time.Now()
	}
	levels := make([]float64, len(buckets))
	refused := 0
	taken := 0
	for i, bk := range buckets {
		key := tenant + "|" + bk.Name
		sh := m.shard(key)
		sh.mu.Lock()
		b := sh.buckets[key]
		if b == nil {
			if len(sh.buckets) >= m.maxKeys/len(m.shards)+1 {
				m.evictLocked(sh, now)
			}
			b = &bucket{}
			sh.buckets[key] = b
		}
		lv := b.level(now, bk.Capacity, bk.PerSecond)
		b.tokens, b.last = lv, now
		if lv >= bk.Cost {
			b.tokens -= bk.Cost
			levels[i] = b.tokens
			taken++
		} else {
			levels[i] = lv
			refused = i + 1
		}
		sh.mu.Unlock()
		if refused > 0 {
			break
		}
	}
	if refused > 0 {
		for i, bk := range buckets[:taken] {
			key := tenant + "|" + bk.Name
			sh := m.shard(key)
			sh.mu.Lock()
			if b := sh.buckets[key]; b != nil {
				b.tokens = math.Min(bk.Capacity, b.tokens+bk.Cost)
			}
			sh.mu.Unlock()
			levels[i] += bk.Cost
		}
		return refused, levels[:refused], nil
	}
	return 0, levels, nil
}

// evictLocked drops buckets idle long enough to have refilled completely:
// forgetting them changes nothing.
func (m *MemoryStore) evictLocked(sh *shard, now time.Time) {
	for k, b := range sh.buckets {
		if now.Sub(b.last) > m.idle {
			delete(sh.buckets, k)
		}
	}
	if len(sh.buckets) >= m.maxKeys/len(m.shards)+1 {
		// Still full of active buckets: drop one at random rather than
		// grow without bound under a flood of distinct keys.
		for k := range sh.buckets {
			delete(sh.buckets, k)
			break
		}
	}
}

// len is the number of buckets held (tests).
func (m *MemoryStore) len() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.Lock()
		n += len(m.shards[i].buckets)
		m.shards[i].mu.Unlock()
	}
	return n
}

// ArrayTaker is TakeBuckets with the buckets as parallel slices, the shape
// internal/store/postgres implements without importing this package.
type ArrayTaker interface {
	TakeThrottle(ctx context.Context, tenant string, now time.Time, names []string,
		capacity, perSecond, costs []float64) (refused int, levels []float64, err error)
}

// Shared returns the Store over t: the buckets every instance sharing the
// database spends from.
func Shared(t ArrayTaker) Store { return sharedStore{t} }

type sharedStore struct{ t ArrayTaker }

func (s sharedStore) TakeBuckets(ctx context.Context, tenant string, now time.Time, buckets []Bucket) (int, []float64, error) {
	names := make([]string, len(buckets))
	capacity := make([]float64, len(buckets))
	perSecond := make([]float64, len(buckets))
	costs := make([]float64, len(buckets))
	for i, b := range buckets {
		names[i], capacity[i], perSecond[i], costs[i] = b.Name, b.Capacity, b.PerSecond, b.Cost
	}
	return s.t.TakeThrottle(ctx, tenant, now, names, capacity, perSecond, costs)
}

// LongestWindow is the longest refill window of l (defaults applied): a
// bucket idle that long is full, the same as one never used.
func (l Limits) LongestWindow() time.Duration {
	l = l.withDefaults()
	return max(l.AppTenantWindow, l.AppTenantWriteWindow, l.TenantWriteWindow)
}
