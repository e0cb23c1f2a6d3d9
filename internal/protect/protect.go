package protect

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Step is a credential-checking step; each has its own rate-limit counters.
type Step string

// The steps the sign-in flows guard.
const (
	StepPassword   Step = "password"
	StepCodeVerify Step = "codeVerify"
	StepCodeSend   Step = "codeSend"
	// StepAuthorize is an interactive authorize request of the browser
	// redirect: it checks no credential but stores a flow, so it is rate
	// limited like one.
	StepAuthorize Step = "authorize"
)

// Policy holds the limits. The zero value of a field takes the default
// of DefaultPolicy (Normalize).
type Policy struct {
	// LockoutThreshold failed attempts lock an identifier (Entra: 10).
	LockoutThreshold int
	// LockoutDuration is the first lock's length (Entra: 60 s).
	LockoutDuration time.Duration
	// LockoutMax caps the doubling duration of repeated locks.
	LockoutMax time.Duration
	// LockoutReset is the quiet period after the last failure that
	// forgets an identifier's failures and lock history.
	LockoutReset time.Duration
	// Window is the rate limits' fixed window.
	Window time.Duration
	// PerIP and PerTenant are the attempts allowed per window and step
	// from one IP address, and in one tenant.
	PerIP, PerTenant int
}

// DefaultPolicy is Entra's smart-lockout default (10 failures, 60 s,
// growing) with a 15-minute cap and a 12-hour reset, and per-minute limits
// that a person never reaches but a script does.
var DefaultPolicy = Policy{
	LockoutThreshold: 10,
	LockoutDuration:  time.Minute,
	LockoutMax:       15 * time.Minute,
	LockoutReset:     12 * time.Hour,
	Window:           time.Minute,
	PerIP:            60,
	PerTenant:        6000,
}

// Normalize fills the zero fields of p from DefaultPolicy.
func (p Policy) Normalize() Policy {
	d := DefaultPolicy
	if p.LockoutThreshold <= 0 {
		p.LockoutThreshold = d.LockoutThreshold
	}
	if p.LockoutDuration <= 0 {
		p.LockoutDuration = d.LockoutDuration
	}
	if p.LockoutMax <= 0 {
		p.LockoutMax = d.LockoutMax
	}
	if p.LockoutMax < p.LockoutDuration {
		p.LockoutMax = p.LockoutDuration
	}
	if p.LockoutReset <= 0 {
		p.LockoutReset = d.LockoutReset
	}
	if p.Window <= 0 {
		p.Window = d.Window
	}
	if p.PerIP <= 0 {
		p.PerIP = d.PerIP
	}
	if p.PerTenant <= 0 {
		p.PerTenant = d.PerTenant
	}
	return p
}

// Store keeps the counters. Every method is one atomic statement (or one
// transaction holding the row lock), so concurrent instances never lose
// an update.
type Store interface {
	// LockedUntil returns the end of key's lock when it is after now
	// (zero otherwise).
	LockedUntil(ctx context.Context, key []byte, now time.Time) (time.Time, error)
	// RecordFailure counts one failure of key at now. When the previous
	// failure is older than reset, the state starts afresh. decide sees
	// the state with the failure counted (failures since the last lock,
	// locks since the last reset, the current lock's end), under the
	// row's lock, and returns the lock to set (zero: none); setting one
	// resets failures to 0 and adds one to lockouts. It returns the state
	// as stored.
	RecordFailure(ctx context.Context, key []byte, now time.Time, reset time.Duration,
		decide func(failures, lockouts int, lockedUntil time.Time) time.Time) (failures, lockouts int, lockedUntil time.Time, err error)
	// ClearFailures forgets key's failures and locks.
	ClearFailures(ctx context.Context, key []byte) error
	// HitWindow adds one to the counter of key in the window starting at
	// start and returns the new count.
	HitWindow(ctx context.Context, key []byte, start time.Time) (int64, error)
	// PruneProtection removes rate windows that started before
	// windowsBefore and lockout states whose last failure is before
	// quietBefore and that hold no lock at that time. Safe to run from
	// several instances at once.
	PruneProtection(ctx context.Context, windowsBefore, quietBefore time.Time) (int64, error)
}

// ErrLocked and ErrRateLimited are what errors.Is finds in a *Refusal.
var (
	ErrLocked      = errors.New("protect: locked")
	ErrRateLimited = errors.New("protect: rate limited")
)

// Refusal is an attempt refused before any credential was checked.
type Refusal struct {
	// Locked: the identifier is locked; otherwise a rate limit (Scope
	// "ip" or "tenant") is exhausted.
	Locked bool
	Scope  string
	// RetryAfter is how long until an attempt may succeed (at least 1 s).
	RetryAfter time.Duration
}

func (r *Refusal) Error() string {
	if r.Locked {
		return fmt.Sprintf("protect: locked, retry after %s", r.RetryAfter)
	}
	return fmt.Sprintf("protect: %s rate limit reached, retry after %s", r.Scope, r.RetryAfter)
}

// Is makes errors.Is(err, ErrLocked) / ErrRateLimited work.
func (r *Refusal) Is(target error) bool {
	return (target == ErrLocked && r.Locked) || (target == ErrRateLimited && !r.Locked)
}

// Attempt identifies one credential check. Identifier is the sign-in name
// as typed (normalised here); empty for steps with no account (then only
// the rate limits apply).
type Attempt struct {
	TenantID   string
	Identifier string
	IP         string
	Step       Step
}

// Guard applies a Policy over a Store.
type Guard struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// Option configures a Guard.
type Option func(*Guard)

// WithClock replaces time.Now (tests move time without sleeping).
func WithClock(now func() time.Time) Option { return func(g *Guard) { g.now = now } }

// New returns a Guard; p's zero fields take DefaultPolicy's values.
func New(store Store, p Policy, opts ...Option) *Guard {
	g := &Guard{store: store, policy: p.Normalize(), now: time.Now}
	for _, o := range opts {
		o(g)
	}
	return g
}

// Policy returns the effective policy.
func (g *Guard) Policy() Policy { return g.policy }

// NormalizeIdentifier is the form an identifier is keyed by: trimmed and
// lower-cased, as the directory compares sign-in names.
func NormalizeIdentifier(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// AccountKey is the lockout key of an identifier in a tenant. It is the
// same whether or not an account has that name, and keeps the name out of
// the table.
func AccountKey(tenantID, identifier string) []byte {
	return hashKey("account", strings.ToLower(tenantID), NormalizeIdentifier(identifier))
}

func hashKey(parts ...string) []byte {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// Admit runs before a credential check: it counts the attempt against the
// IP's and the tenant's limits for its step and refuses it (a *Refusal)
// when a limit is exhausted or the identifier is locked. The attempt is
// counted even when refused, so a client that keeps hammering stays
// refused.
func (g *Guard) Admit(ctx context.Context, a Attempt) error {
	now := g.now()
	start := now.Truncate(g.policy.Window)
	retry := ceilSecond(start.Add(g.policy.Window).Sub(now))
	if a.IP != "" {
		n, err := g.store.HitWindow(ctx, hashKey("ip", string(a.Step), a.IP), start)
		if err != nil {
			return err
		}
		if n > int64(g.policy.PerIP) {
			return &Refusal{Scope: "ip", RetryAfter: retry}
		}
	}
	if a.TenantID != "" {
		n, err := g.store.HitWindow(ctx, hashKey("tenant", string(a.Step), strings.ToLower(a.TenantID)), start)
		if err != nil {
			return err
		}
		if n > int64(g.policy.PerTenant) {
			return &Refusal{Scope: "tenant", RetryAfter: retry}
		}
	}
	if a.Identifier == "" || a.Step == StepCodeSend {
		return nil
	}
	until, err := g.store.LockedUntil(ctx, AccountKey(a.TenantID, a.Identifier), now)
	if err != nil {
		return err
	}
	if until.After(now) {
		return &Refusal{Locked: true, RetryAfter: ceilSecond(until.Sub(now))}
	}
	return nil
}

// Failed counts a failed credential check of a.Identifier. It returns the
// *Refusal of the lock this failure started, if it started one (the
// caller may still answer "wrong password" for this attempt; the next
// ones are refused by Admit).
func (g *Guard) Failed(ctx context.Context, a Attempt) error {
	if a.Identifier == "" {
		return nil
	}
	now := g.now()
	failures, _, until, err := g.store.RecordFailure(ctx, AccountKey(a.TenantID, a.Identifier), now, g.policy.LockoutReset,
		func(failures, lockouts int, until time.Time) time.Time {
			return g.lockFor(failures, lockouts, until, now)
		})
	if err != nil {
		return err
	}
	if until.After(now) && failures == 0 {
		return &Refusal{Locked: true, RetryAfter: ceilSecond(until.Sub(now))}
	}
	return nil
}

// lockFor is the smart-lockout rule: the first lock comes after
// LockoutThreshold failures and lasts LockoutDuration; once locked, each
// failure after a lock has run out locks again at once, for twice as long
// as the previous lock, up to LockoutMax. A failure during a lock (two
// attempts racing past Admit) does not extend it.
func (g *Guard) lockFor(failures, lockouts int, until, now time.Time) time.Time {
	if until.After(now) {
		return time.Time{}
	}
	if lockouts == 0 && failures < g.policy.LockoutThreshold {
		return time.Time{}
	}
	return now.Add(g.LockDuration(lockouts))
}

// LockDuration is the length of the lock that follows n earlier ones.
func (g *Guard) LockDuration(n int) time.Duration {
	d := g.policy.LockoutDuration
	for i := 0; i < n && d < g.policy.LockoutMax; i++ {
		d *= 2
	}
	return min(d, g.policy.LockoutMax)
}

// Succeeded clears a.Identifier's failures after a successful check.
func (g *Guard) Succeeded(ctx context.Context, a Attempt) error {
	if a.Identifier == "" {
		return nil
	}
	return g.store.ClearFailures(ctx, AccountKey(a.TenantID, a.Identifier))
}

// Prune removes expired rate windows and forgotten lockout states; run it
// periodically.
func (g *Guard) Prune(ctx context.Context) (int64, error) {
	now := g.now()
	return g.store.PruneProtection(ctx, now.Add(-2*g.policy.Window), now.Add(-g.policy.LockoutReset))
}

func ceilSecond(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	return (d + time.Second - 1).Truncate(time.Second)
}
