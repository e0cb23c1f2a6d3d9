package throttle

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
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
	// LeasePercent is the share of a bucket an instance takes from a
	// shared store beyond a request's cost, to spend locally (rounded down
	// to whole tokens; 0 takes exactly the cost every time). It bounds how
	// much stricter than the limit the instances together can be: one
	// lease each per bucket. serve sets DefaultLeasePercent unless
	// GRAPHDIR_THROTTLE_LEASE_PERCENT says otherwise.
	LeasePercent int
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
	// DefaultLeasePercent: 80 of Graph's 8,000 resource units, 30 of an
	// application's 3,000 writes, 180 of a tenant's 18,000.
	DefaultLeasePercent = 1
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
	l.LeasePercent = min(max(l.LeasePercent, 0), 50)
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

// Bucket is one token bucket a request takes from: Capacity tokens,
// refilled at PerSecond; the request costs Cost of them, and the caller
// would like up to Want (at least Cost) to keep as a lease.
type Bucket struct {
	// Name identifies the bucket within its tenant: "ru|{app}", "w|{app}"
	// or "tw".
	Name                            string
	Capacity, PerSecond, Cost, Want float64
}

// Store keeps the buckets. Take is all or nothing and atomic: concurrent
// takes, from any number of processes sharing the store, never spend a
// token twice.
type Store interface {
	// TakeBuckets refills tenant's buckets to now (zero: the store's own
	// clock) and takes from each between Cost and Want tokens (as many as
	// it holds), or takes nothing when one holds fewer than its Cost. It
	// returns refused = 0, the tokens granted and every bucket's tokens
	// after the take, or refused = i+1 for the first bucket i that is
	// short, with the tokens of buckets 0..i as they were.
	TakeBuckets(ctx context.Context, tenant string, now time.Time, buckets []Bucket) (refused int, granted, levels []float64, err error)
}

// Limiter applies Graph's limits over a Store. It is safe for concurrent
// use.
//
// Over a shared store an instance takes a little more than a request
// costs (Limits.LeasePercent of the bucket) and spends the rest locally
// on the next requests, so a busy application costs the database one
// round trip per lease, not per request. Leased tokens are gone from the
// shared bucket, so leases can only make the limit stricter: by at most
// one lease per instance and bucket.
type Limiter struct {
	limits Limits
	store  Store
	now    func() time.Time

	mu     sync.Mutex
	leases map[string]*lease // tenant|bucket name
}

// lease is tokens this instance took from a shared bucket and has not
// spent yet, and the bucket's level after the take (for UsedFraction).
// When the store last refused the bucket, short is set with the level it
// had then: until refill has brought that level up to a request's cost,
// the instance refuses without asking (tokens come back only by refill,
// so the answer could not be different).
type lease struct {
	tokens, level float64
	at            time.Time
	short         bool
	shortLevel    float64
	shortAt       time.Time
}

// New returns a Limiter with l's limits over store; a nil store is a
// MemoryStore, which holds for one process only (and takes no leases).
func New(l Limits, store Store) *Limiter {
	l = l.withDefaults()
	if store == nil {
		store = NewMemoryStore(l.MaxKeys, l.LongestWindow())
		l.LeasePercent = 0
	}
	return &Limiter{limits: l, store: store, leases: make(map[string]*lease)}
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

// leaseIdle is how long an unspent lease is kept: a lease left by a client
// that stopped is dropped, which can only make the limit stricter.
const leaseIdle = 10 * time.Second

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
		lease := math.Floor(c * float64(lim.LeasePercent) / 100)
		return Bucket{Name: name, Capacity: c, PerSecond: c / window.Seconds(), Cost: float64(cost), Want: float64(cost) + lease}
	}
	checks := []check{{bucket("ru|"+r.App, lim.ResourceUnits, lim.AppTenantWindow, max(r.ResourceUnits, 1)),
		appScope, "ResourceUnitLimitExceeded"}}
	if r.Write {
		checks = append(checks,
			check{bucket("w|"+r.App, lim.AppTenantWrites, lim.AppTenantWriteWindow, 1), appScope, "WriteLimitExceeded"},
			check{bucket("tw", lim.TenantWrites, lim.TenantWriteWindow, 1), fmt.Sprintf("Tenant/Write/%s", r.Tenant), "WriteLimitExceeded"})
	}
	var now time.Time
	if l.now != nil {
		now = l.now()
	}

	// Spend from this instance's leases what they cover; ask the store for
	// the rest. The leases are spent first and refunded on a refusal, so
	// two requests racing for one lease never both spend it.
	used := make([]float64, len(checks))
	var ask []Bucket
	var askIdx []int
	clock := now
	if clock.IsZero() {
		clock = time.Now()
	}
	l.mu.Lock()
	for i, c := range checks {
		le := l.leases[r.Tenant+"|"+c.bucket.Name]
		if le != nil && le.tokens >= c.bucket.Cost {
			le.tokens -= c.bucket.Cost
			used[i] = 1 - (le.level+le.tokens)/c.bucket.Capacity
			continue
		}
		if le != nil && le.short {
			b := c.bucket
			if have := le.shortLevel + b.PerSecond*clock.Sub(le.shortAt).Seconds(); have < b.Cost {
				for j := range i {
					if !slices.Contains(askIdx, j) {
						l.leases[r.Tenant+"|"+checks[j].bucket.Name].tokens += checks[j].bucket.Cost
					}
				}
				l.mu.Unlock()
				return refusal(c, have), nil
			}
			le.short = false
		}
		ask = append(ask, c.bucket)
		askIdx = append(askIdx, i)
	}
	l.mu.Unlock()
	refund := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i, c := range checks {
			if slices.Contains(askIdx, i) {
				continue
			}
			if le := l.leases[r.Tenant+"|"+c.bucket.Name]; le != nil {
				le.tokens += c.bucket.Cost
			}
		}
	}
	if len(ask) > 0 {
		refused, granted, levels, err := l.store.TakeBuckets(ctx, r.Tenant, now, ask)
		if err != nil {
			refund()
			return Decision{}, err
		}
		if refused > 0 {
			refund()
			c := checks[askIdx[refused-1]]
			l.mu.Lock()
			key := r.Tenant + "|" + c.bucket.Name
			le := l.leases[key]
			if le == nil {
				l.evictLocked(clock)
				le = &lease{at: clock}
				l.leases[key] = le
			}
			le.short, le.shortLevel, le.shortAt = true, levels[refused-1], clock
			l.mu.Unlock()
			return refusal(c, levels[refused-1]), nil
		}
		l.mu.Lock()
		for j, b := range ask {
			key := r.Tenant + "|" + b.Name
			used[askIdx[j]] = 1 - (levels[j]+granted[j]-b.Cost)/b.Capacity
			if granted[j] <= b.Cost {
				continue
			}
			le := l.leases[key]
			if le == nil {
				l.evictLocked(clock)
				le = &lease{}
				l.leases[key] = le
			}
			le.tokens += granted[j] - b.Cost
			le.level, le.at = levels[j], clock
		}
		l.mu.Unlock()
	}
	d := Decision{Allowed: true, Scope: appScope}
	for _, u := range used {
		d.UsedFraction = math.Max(d.UsedFraction, u)
	}
	return d, nil
}

// refusal is the Decision refusing c's bucket, which holds have tokens.
func refusal(c check, have float64) Decision {
	b := c.bucket
	// Rounded up to the millisecond, so that a retry exactly RetryAfter
	// later finds the tokens despite float and timestamp (microsecond)
	// rounding; Retry-After itself is in whole seconds.
	wait := time.Duration(math.Ceil((b.Cost-have)/b.PerSecond*1000)) * time.Millisecond
	return Decision{Allowed: false, RetryAfter: wait, Scope: c.scope, Information: c.why, UsedFraction: 1}
}

// evictLocked bounds the leases: beyond MaxKeys, leases idle for leaseIdle
// go, and if none is that old, one at random.
func (l *Limiter) evictLocked(now time.Time) {
	if len(l.leases) < l.limits.MaxKeys {
		return
	}
	for k, le := range l.leases {
		if now.Sub(le.at) > leaseIdle {
			delete(l.leases, k)
		}
	}
	for k := range l.leases {
		if len(l.leases) < l.limits.MaxKeys {
			break
		}
		delete(l.leases, k)
	}
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
func (m *MemoryStore) TakeBuckets(_ context.Context, tenant string, now time.Time, buckets []Bucket) (int, []float64, []float64, error) {
	if now.IsZero() {
		now = time.Now()
	}
	levels := make([]float64, len(buckets))
	granted := make([]float64, len(buckets))
	refused := 0
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
			granted[i] = math.Min(lv, math.Max(bk.Cost, bk.Want))
			b.tokens -= granted[i]
			levels[i] = b.tokens
		} else {
			levels[i] = lv
			refused = i + 1
		}
		sh.mu.Unlock()
		if refused > 0 {
			break
		}
	}
	if refused == 0 {
		return 0, granted, levels, nil
	}
	for i, bk := range buckets[:refused-1] {
		key := tenant + "|" + bk.Name
		sh := m.shard(key)
		sh.mu.Lock()
		if b := sh.buckets[key]; b != nil {
			b.tokens = math.Min(bk.Capacity, b.tokens+granted[i])
		}
		sh.mu.Unlock()
		levels[i] += granted[i]
	}
	return refused, nil, levels[:refused], nil
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
		capacity, perSecond, costs, wants []float64) (refused int, granted, levels []float64, err error)
}

// Shared returns the Store over t: the buckets every instance sharing the
// database takes from.
func Shared(t ArrayTaker) Store { return sharedStore{t} }

type sharedStore struct{ t ArrayTaker }

func (s sharedStore) TakeBuckets(ctx context.Context, tenant string, now time.Time, buckets []Bucket) (int, []float64, []float64, error) {
	names := make([]string, len(buckets))
	capacity := make([]float64, len(buckets))
	perSecond := make([]float64, len(buckets))
	costs := make([]float64, len(buckets))
	wants := make([]float64, len(buckets))
	for i, b := range buckets {
		names[i], capacity[i], perSecond[i], costs[i], wants[i] = b.Name, b.Capacity, b.PerSecond, b.Cost, b.Want
	}
	return s.t.TakeThrottle(ctx, tenant, now, names, capacity, perSecond, costs, wants)
}

// LongestWindow is the longest refill window of l (defaults applied): a
// bucket idle that long is full, the same as one never used.
func (l Limits) LongestWindow() time.Duration {
	l = l.withDefaults()
	return max(l.AppTenantWindow, l.AppTenantWriteWindow, l.TenantWriteWindow)
}
