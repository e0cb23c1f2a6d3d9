package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
)

// The account-protection counters of internal/protect (schema 00019). The
// store implements protect.Store without importing it: the interface
// speaks only in plain types.

// LockedUntil returns the end of key's lock when it is after now.
func (s *Store) LockedUntil(ctx context.Context, key []byte, now time.Time) (time.Time, error) {
	var until time.Time
	err := s.db.QueryRowxContext(ctx, `SELECT locked_until FROM sign_in_lockouts
		WHERE key = $1 AND locked_until > $2`, key, now).Scan(&until)
	if isNoRows(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, translate(err, "postgres: lockout state")
	}
	return until, nil
}

// recordFailureSQL counts a failure: a new row, or the existing one with
// its failures increased (all of its state reset when the last failure is
// older than the quiet period $3). The upsert takes the row's lock, which
// the transaction keeps until the lock decision is written.
const recordFailureSQL = `INSERT INTO sign_in_lockouts AS l (key, failures, lockouts, locked_until, last_failure_at)
VALUES ($1, 1, 0, NULL, $2)
ON CONFLICT (key) DO UPDATE SET
	failures        = CASE WHEN l.last_failure_at <= $2 - $3::interval THEN 1 ELSE l.failures + 1 END,
	lockouts        = CASE WHEN l.last_failure_at <= $2 - $3::interval THEN 0 ELSE l.lockouts END,
	locked_until    = CASE WHEN l.last_failure_at <= $2 - $3::interval THEN NULL ELSE l.locked_until END,
	last_failure_at = GREATEST(l.last_failure_at, $2)
RETURNING failures, lockouts, locked_until`

// RecordFailure counts one failure of key (protect.Store). decide gets the
// failures, the lock count and the current lock's end after the count and
// returns the lock to set (zero: none).
func (s *Store) RecordFailure(ctx context.Context, key []byte, now time.Time, reset time.Duration,
	decide func(failures, lockouts int, lockedUntil time.Time) time.Time) (failures, lockouts int, lockedUntil time.Time, err error) {
	const op = "postgres: record sign-in failure"
	err = s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		var until *time.Time
		if err := tx.QueryRowxContext(ctx, recordFailureSQL, key, now, intervalText(reset)).
			Scan(&failures, &lockouts, &until); err != nil {
			return translate(err, op)
		}
		lockedUntil = time.Time{}
		if until != nil {
			lockedUntil = *until
		}
		lock := decide(failures, lockouts, lockedUntil)
		if lock.IsZero() {
			return nil
		}
		if err := tx.QueryRowxContext(ctx, `UPDATE sign_in_lockouts SET failures = 0, lockouts = lockouts + 1, locked_until = $2
			WHERE key = $1 RETURNING failures, lockouts, locked_until`, key, lock).Scan(&failures, &lockouts, &lockedUntil); err != nil {
			return translate(err, op)
		}
		return nil
	})
	return failures, lockouts, lockedUntil, err
}

// ClearFailures forgets key's failures and locks.
func (s *Store) ClearFailures(ctx context.Context, key []byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sign_in_lockouts WHERE key = $1`, key)
	return translate(err, "postgres: clear sign-in failures")
}

// HitWindow adds one to key's counter of the window starting at start and
// returns the count: one upsert, so concurrent hits from any instance all
// count.
func (s *Store) HitWindow(ctx context.Context, key []byte, start time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRowxContext(ctx, `INSERT INTO rate_windows AS w (key, window_start, hits) VALUES ($1, $2, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET hits = w.hits + 1 RETURNING hits`, key, start).Scan(&n)
	if err != nil {
		return 0, translate(err, "postgres: rate window")
	}
	return n, nil
}

// PruneProtection deletes rate windows started before windowsBefore and
// lockout states quiet since before quietBefore with no lock running then.
func (s *Store) PruneProtection(ctx context.Context, windowsBefore, quietBefore time.Time) (int64, error) {
	const op = "postgres: prune protection state"
	r1, err := s.db.ExecContext(ctx, `DELETE FROM rate_windows WHERE window_start < $1`, windowsBefore)
	if err != nil {
		return 0, translate(err, op)
	}
	r2, err := s.db.ExecContext(ctx, `DELETE FROM sign_in_lockouts
		WHERE last_failure_at < $1 AND (locked_until IS NULL OR locked_until < $1)`, quietBefore)
	if err != nil {
		return 0, translate(err, op)
	}
	n1, _ := r1.RowsAffected()
	n2, _ := r2.RowsAffected()
	return n1 + n2, nil
}

// intervalText renders d as a PostgreSQL interval literal (a parameter).
func intervalText(d time.Duration) string {
	return strconv.FormatInt(d.Microseconds(), 10) + " microseconds"
}
