package throttle

import (
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
	// MaxKeys bounds memory: idle buckets beyond it are dropped (a dropped
	// bucket is full again, which errs on the caller's side).
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

type bucket struct {
	tokens float64
	last   time.Time
}

// take refills b for now at rate/second up to capacity and spends cost if
// it can; otherwise it returns how long until it could.
func (b *bucket) take(now time.Time, capacity, perSecond, cost float64) (ok bool, wait time.Duration) {
	if b.last.IsZero() {
		b.tokens = capacity
	} else if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(capacity, b.tokens+dt*perSecond)
	}
	b.last = now
	if b.tokens >= cost {
		b.tokens -= cost
		return true, 0
	}
	return false, time.Duration((cost - b.tokens) / perSecond * float64(time.Second))
}

type shard struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// Limiter holds the buckets. It is safe for concurrent use.
type Limiter struct {
	limits Limits
	seed   maphash.Seed
	shards [64]shard
	now    func() time.Time
}

// New returns a Limiter with l's limits.
func New(l Limits) *Limiter {
	lim := &Limiter{limits: l.withDefaults(), seed: maphash.MakeSeed(), now: time.Now}
	for i := range lim.shards {
		lim.shards[i].buckets = make(map[string]*bucket)
	}
	return lim
}

// SetClock replaces time.Now (tests).
func (l *Limiter) SetClock(now func() time.Time) { l.now = now }

func (l *Limiter) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
}

type check struct {
	key        string
	capacity   int
	window     time.Duration
	cost       int
	scope, why string
}

// Take spends r's cost from every bucket it touches, all or nothing, and
// says whether the request may proceed.
func (l *Limiter) Take(r Request) Decision {
	now := l.now()
	lim := l.limits
	mode := "Read"
	if r.Write {
		mode = "Write"
	}
	appScope := fmt.Sprintf("Tenant_Application/%s/%s/%s", mode, r.App, r.Tenant)
	checks := []check{{"ru|" + r.Tenant + "|" + r.App, lim.ResourceUnits, lim.AppTenantWindow, max(r.ResourceUnits, 1),
		appScope, "ResourceUnitLimitExceeded"}}
	if r.Write {
		checks = append(checks,
			check{"w|" + r.Tenant + "|" + r.App, lim.AppTenantWrites, lim.AppTenantWriteWindow, 1, appScope, "WriteLimitExceeded"},
			check{"tw|" + r.Tenant, lim.TenantWrites, lim.TenantWriteWindow, 1, fmt.Sprintf("Tenant/Write/%s", r.Tenant), "WriteLimitExceeded"})
	}
	// Buckets are taken one shard at a time; a refusal refunds what earlier
	// buckets gave, so a refused request costs nothing.
	taken := 0
	d := Decision{Allowed: true, Scope: appScope}
	for _, c := range checks {
		sh := l.shard(c.key)
		sh.mu.Lock()
		b := sh.buckets[c.key]
		if b == nil {
			if len(sh.buckets) >= lim.MaxKeys/len(l.shards)+1 {
				l.evictLocked(sh, now)
			}
			b = &bucket{}
			sh.buckets[c.key] = b
		}
		capacity := float64(c.capacity)
		ok, wait := b.take(now, capacity, capacity/c.window.Seconds(), float64(c.cost))
		used := 1 - b.tokens/capacity
		sh.mu.Unlock()
		if !ok {
			d = Decision{Allowed: false, RetryAfter: wait, Scope: c.scope, Information: c.why, UsedFraction: 1}
			break
		}
		taken++
		d.UsedFraction = math.Max(d.UsedFraction, used)
	}
	if !d.Allowed {
		for _, c := range checks[:taken] {
			sh := l.shard(c.key)
			sh.mu.Lock()
			if b := sh.buckets[c.key]; b != nil {
				b.tokens = math.Min(float64(c.capacity), b.tokens+float64(c.cost))
			}
			sh.mu.Unlock()
		}
	}
	return d
}

// evictLocked drops buckets idle long enough to have refilled completely:
// forgetting them changes nothing.
func (l *Limiter) evictLocked(sh *shard, now time.Time) {
	longest := max(l.limits.AppTenantWindow, l.limits.AppTenantWriteWindow, l.limits.TenantWriteWindow)
	for k, b := range sh.buckets {
		if now.Sub(b.last) > longest {
			delete(sh.buckets, k)
		}
	}
	if len(sh.buckets) >= l.limits.MaxKeys/len(l.shards)+1 {
		// Still full of active buckets: drop one at random rather than
		// grow without bound under a flood of distinct keys.
		for k := range sh.buckets {
			delete(sh.buckets, k)
			break
		}
	}
}
