package postgres

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// Graph throttling's buckets (internal/throttle, schema 00030). The store
// implements throttle.Store without importing it: the buckets arrive as
// plain slices.

// takeThrottleSQL is one round trip per request: throttle_take locks the
// tenant's buckets, refills and spends them all or none (see 00030).
const takeThrottleSQL = `SELECT refused, granted, levels FROM throttle_take($1, $2, $3, $4, $5, $6, $7)`

// TakeThrottle takes between costs[i] and wants[i] tokens from bucket
// names[i] of tenant for every i, or nothing when one is short (see
// throttle.Store.TakeBuckets, which throttle.Shared adapts to it). A zero
// now means the database's clock.
func (s *Store) TakeThrottle(ctx context.Context, tenant string, now time.Time, names []string,
	capacity, perSecond, costs, wants []float64) (refused int, granted, levels []float64, err error) {
	var at *time.Time
	if !now.IsZero() {
		at = &now
	}
	var gr, lv pq.Float64Array
	err = s.queryRowx(ctx, nil, preparedStatement, takeThrottleSQL,
		[]any{tenant, pq.Array(names), pq.Array(capacity), pq.Array(perSecond), pq.Array(costs), pq.Array(wants), at},
		func(r *sqlx.Row) error { return r.Scan(&refused, &gr, &lv) })
	if err != nil {
		return 0, nil, nil, translate(err, "postgres: throttle")
	}
	return refused, gr, lv, nil
}

// PruneThrottle deletes buckets untouched since before idleBefore: a
// bucket idle for its longest window has refilled, and a missing bucket is
// a full one, so nothing changes but the table's size.
func (s *Store) PruneThrottle(ctx context.Context, idleBefore time.Time) (int64, error) {
	r, err := s.db.ExecContext(ctx, `DELETE FROM throttle_buckets WHERE updated_at < $1`, idleBefore)
	if err != nil {
		return 0, translate(err, "postgres: prune throttle buckets")
	}
	return r.RowsAffected()
}
