package mail

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Queued is one claimed outbox row. Claim identifies this claim: a late
// report from a worker whose lease ran out does not touch a row another
// worker has claimed since.
type Queued struct {
	ID       int64
	Claim    string
	Attempts int // including this one
	Message  Message
}

// Outbox is the queue the Worker sends from (internal/store/postgres).
type Outbox interface {
	// ClaimMail leases up to limit due messages until now+lease, taking
	// each row with FOR UPDATE SKIP LOCKED so that concurrent workers on
	// other instances claim disjoint rows. Rows past their discard time are
	// blanked and closed instead of claimed.
	ClaimMail(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Queued, error)
	// MailSent closes the row and blanks its message.
	MailSent(ctx context.Context, q Queued, at time.Time) error
	// MailFailed records a failed attempt: retry at retryAt, or, when
	// final, close the row as failed and blank its message.
	MailFailed(ctx context.Context, q Queued, at, retryAt time.Time, final bool, reason string) error
}

// Worker delivers queued mail. RunOnce is a schedule.Job's Run.
type Worker struct {
	Outbox Outbox
	Sender Sender
	Log    *slog.Logger
	// Now is the clock (tests inject one); nil means time.Now.
	Now func() time.Time
	// Batch is the most rows one round claims; 0 means 5 (with a slow
	// relay, a batch must finish well within its lease).
	Batch int
	// MaxAttempts closes a row as failed after this many; 0 means 8.
	MaxAttempts int
	// Lease bounds how long a claimed row stays invisible to other
	// workers. Rows the round has not reached by half the lease are handed
	// back unsent, so no row is sent after another worker may have claimed
	// it. 0 means 3 minutes.
	Lease time.Duration
}

// Backoff is the wait after the attempt-th failure: 10s doubling per
// attempt, capped at 5 minutes, with ±20% jitter so that a relay coming back
// is not hit by every row at once.
func Backoff(attempt int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 2
	}
	d = min(d, 5*time.Minute)
	return d - d/5 + time.Duration(rand.Int64N(int64(2*d/5)+1))
}

func (w *Worker) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// RunOnce claims one batch of due mail and tries to send each message,
// reporting how many were accepted. A delivery failure is recorded on its
// row (and logged, without the message) rather than returned: the row is
// retried later. The error is about the queue itself.
func (w *Worker) RunOnce(ctx context.Context) (sent int, err error) {
	batch, maxAttempts, lease := w.Batch, w.MaxAttempts, w.Lease
	if batch <= 0 {
		batch = 5
	}
	if maxAttempts <= 0 {
		maxAttempts = 8
	}
	if lease <= 0 {
		lease = 3 * time.Minute
	}
	log := w.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	claimed := w.now()
	rows, err := w.Outbox.ClaimMail(ctx, claimed, batch, lease)
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, q := range rows {
		if at := w.now(); at.Sub(claimed) > lease/2 {
			errs = append(errs, w.Outbox.MailFailed(ctx, q, at, at, false, "handed back unsent: the round ran past half its lease"))
			continue
		}
		sendErr := w.Sender.Send(ctx, q.Message)
		at := w.now()
		if sendErr == nil {
			sent++
			errs = append(errs, w.Outbox.MailSent(ctx, q, at))
			continue
		}
		final := q.Attempts >= maxAttempts
		log.LogAttrs(ctx, slog.LevelWarn, "mail delivery failed", slog.Int64("outbox_id", q.ID),
			slog.Int("attempt", q.Attempts), slog.Bool("final", final), slog.String("error", sendErr.Error()))
		errs = append(errs, w.Outbox.MailFailed(ctx, q, at, at.Add(Backoff(q.Attempts)), final, sendErr.Error()))
	}
	return sent, errors.Join(errs...)
}
