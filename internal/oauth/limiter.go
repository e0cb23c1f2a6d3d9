package oauth

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"
)

// FailureCounter counts failed client authentications per subject (a
// tenant and client id, a remote address) and says how long a subject
// must wait before its next attempt (0: it may try now).
// internal/protect's Failures keeps them in PostgreSQL for every instance.
type FailureCounter interface {
	Wait(ctx context.Context, subject string) (time.Duration, error)
	Fail(ctx context.Context, subject string) error
}

// memoryFailures is the FailureCounter of a Server given none: this
// process's memory, for tests and one-instance tools.
type memoryFailures struct {
	l   *failureLimiter
	now func() time.Time
}

func (m *memoryFailures) Wait(_ context.Context, subject string) (time.Duration, error) {
	return m.l.wait(subject, m.now()), nil
}

func (m *memoryFailures) Fail(_ context.Context, subject string) error {
	m.l.fail(subject, m.now())
	return nil
}

// failureLimiter is a set of in-memory token buckets, one per key, that
// failed attempts drain and time refills. A key whose bucket is empty is
// refused until it refills, whatever its next attempt would have been.
// Buckets are per instance; behind a load balancer the effective limit is
// the sum over instances.
type failureLimiter struct {
	burst   float64       // bucket size: failures allowed in a row
	every   time.Duration // one failure is forgiven per interval
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*failureBucket
}

type failureBucket struct {
	tokens float64
	at     time.Time
}

func newFailureLimiter(burst int, every time.Duration, maxKeys int) *failureLimiter {
	return &failureLimiter{burst: float64(burst), every: every, maxKeys: maxKeys, buckets: make(map[string]*failureBucket)}
}

// level returns the bucket's tokens at now (a missing bucket is full).
func (l *failureLimiter) level(b *failureBucket, now time.Time) float64 {
	if b == nil {
		return l.burst
	}
	refill := float64(now.Sub(b.at)) / float64(l.every)
	return math.Min(l.burst, b.tokens+refill)
}

// wait reports how long key must wait before its next attempt; 0 means it
// may try now.
func (l *failureLimiter) wait(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	lv := l.level(l.buckets[key], now)
	if lv >= 1 {
		return 0
	}
	return time.Duration((1 - lv) * float64(l.every))
}

// fail records a failed attempt of key.
func (l *failureLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.evict(now)
		}
		b = &failureBucket{}
		l.buckets[key] = b
	}
	b.tokens = math.Max(0, l.level(b, now)-1)
	b.at = now
}

// evict drops buckets that have refilled (forgetting them changes
// nothing). If every bucket is still draining, the map is at its bound
// because of a flood of distinct keys; the oldest half goes, which can only
// favour keys whose failures are oldest.
func (l *failureLimiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if l.level(b, now) >= l.burst {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) < l.maxKeys {
		return
	}
	var cutoff time.Time
	ts := make([]time.Time, 0, len(l.buckets))
	for _, b := range l.buckets {
		ts = append(ts, b.at)
	}
	cutoff = median(ts)
	for k, b := range l.buckets {
		if !b.at.After(cutoff) {
			delete(l.buckets, k)
		}
	}
}

func median(ts []time.Time) time.Time {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	return ts[len(ts)/2]
}
