package protect

import (
	"context"
	"time"
)

// FailureLimit is a lockout for a subject that is not a sign-in name: a
// client id at the token endpoint, a remote address, a user changing their
// password. Threshold failures, each within Reset of the one before, lock
// the subject for Duration; after a lock, each further failure locks it
// again for twice as long, up to Max. The state is the sign-in lockout's
// (one row per subject in the shared database, keyed by a hash of Name and
// subject), so every instance counts the same failures and refuses the
// same subjects.
type FailureLimit struct {
	// Name keeps the limit's subjects apart from every other limit's.
	Name      string
	Threshold int
	Duration  time.Duration
	Max       time.Duration
	// Reset is the quiet period that forgets a subject's failures. It is
	// capped at the Guard's LockoutReset, after which the prune deletes
	// quiet states.
	Reset time.Duration
}

// Failures is a FailureLimit applied by a Guard, the value that the
// token endpoint and changePassword are given.
type Failures struct {
	g *Guard
	l FailureLimit
}

// Failures returns l applied by g.
func (g *Guard) Failures(l FailureLimit) *Failures {
	l.Threshold = max(l.Threshold, 1)
	if l.Duration <= 0 {
		l.Duration = g.policy.LockoutDuration
	}
	l.Max = max(l.Max, l.Duration)
	if l.Reset <= 0 || l.Reset > g.policy.LockoutReset {
		l.Reset = g.policy.LockoutReset
	}
	return &Failures{g: g, l: l}
}

func (f *Failures) key(subject string) []byte { return hashKey("failures", f.l.Name, subject) }

// Wait returns how long subject is locked for (0: it may try now).
func (f *Failures) Wait(ctx context.Context, subject string) (time.Duration, error) {
	now := f.g.now()
	until, err := f.g.store.LockedUntil(ctx, f.key(subject), now)
	if err != nil || !until.After(now) {
		return 0, err
	}
	return until.Sub(now), nil
}

// Fail counts a failure of subject, locking it when the limit says so.
func (f *Failures) Fail(ctx context.Context, subject string) error {
	now := f.g.now()
	_, _, _, err := f.g.store.RecordFailure(ctx, f.key(subject), now, f.l.Reset,
		func(failures, lockouts int, until time.Time) time.Time {
			if until.After(now) || (lockouts == 0 && failures < f.l.Threshold) {
				return time.Time{}
			}
			d := f.l.Duration
			for i := 0; i < lockouts && d < f.l.Max; i++ {
				d *= 2
			}
			return now.Add(min(d, f.l.Max))
		})
	return err
}

// Clear forgets subject's failures (after a success).
func (f *Failures) Clear(ctx context.Context, subject string) error {
	return f.g.store.ClearFailures(ctx, f.key(subject))
}
