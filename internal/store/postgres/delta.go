package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// Delta query over the change log of schema/00007_user_changes.sql, written
// by the statement-level triggers of schema/00011_change_log_statement.sql.
//
// # Why no change is missed
//
// Every write to a user inserts a user_changes row in the writer's own
// transaction (triggers), stamped with the writer's transaction id xid. A
// position in the history is a PostgreSQL snapshot S (pg_current_snapshot():
// xmin, xmax and the in-progress xids): the set of transactions whose effects
// S sees. That set is exactly what pg_visible_in_snapshot(xid, S) decides,
// and it only grows between successive snapshots: a transaction committed
// when S was taken stays committed, so every later snapshot sees it too.
//
// A round from base S to target T (T taken by the round's first page, in a
// REPEATABLE READ transaction so that T is the snapshot that page reads
// with) reports every user with a change row c such that
//
//	NOT pg_visible_in_snapshot(c.xid, S) AND pg_visible_in_snapshot(c.xid, T)
//
// and the round's deltaLink carries T as the next base. The windows (S, T],
// (T, U], ... therefore partition the committed history by commit
// visibility, not by the order in which ids or sequence values were taken:
// a transaction that took an early seq/xid but committed after T is not
// visible in T, so it falls in a later window however its number compares
// (the "seq 10 commits after seq 11" case). Nothing is in no window, and
// nothing that a window reports can be rolled back (aborted transactions are
// visible in no snapshot). The xid range predicate xid >= xmin(S) AND
// xid < xmax(T) only lets the index narrow the scan: every xid below
// xmin(S) is visible in S and none at or above xmax(T) is visible in T.
//
// A reported user is written in its state at the page's own snapshot P
// (P is T itself on the first page and later on later pages), not in the
// state of the change: any change not visible in P is not visible in T
// either (T was taken before P), so it lies in a later window and is
// reported then. Hence, by induction over rounds, for every user the
// client's view equals its state at some snapshot Q, and every change not
// visible in Q is reported by a later round: after a final round with no
// concurrent writers the client's view is exactly the directory. Users
// reported twice (changed again between T and P) cost a duplicate, never a
// wrong state. The initial round is the same with "every live user" in
// place of the changes: its base for the next round is the snapshot of its
// first page, so a user changed while later pages were fetched is reported
// again in the next round.
//
// A round may leave out a live user whose changes in the window touched
// none of the properties the client selected (the edge decides): the
// client's copy of those properties is still right. Removals are always
// reported, even for users the client may never have seen (a client
// ignores a removal of an unknown id).
//
// # Retention
//
// PruneUserChanges records a mark (its own snapshot) on every run and
// deletes the changes visible in the newest mark older than the retention,
// saving that mark as user_changes_horizon.pruned, in one transaction. A
// base S can still be served if S sees everything the horizon saw
// (snapshotContains): then every pruned change is visible in S and none of
// them could be in a window starting at S. Otherwise, or when S is newer
// than the database's current snapshot (a restored backup, another
// cluster), the round fails with ErrSyncStateNotFound. The horizon is read
// in the round's REPEATABLE READ snapshot, like the changes, so a
// concurrent prune is either wholly seen or not at all.

// snapshot is a parsed pg_snapshot ("xmin:xmax:xip,xip,...").
type snapshot struct {
	xmin, xmax uint64
	xip        []uint64
}

// maxSnapshotXip bounds how many in-progress xids a token's snapshot may
// list (a snapshot lists at most one per connection).
const maxSnapshotXip = 10000

func parseSnapshot(s string) (snapshot, error) {
	var snap snapshot
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return snap, fmt.Errorf("snapshot %q: want xmin:xmax:xip", s)
	}
	var err error
	if snap.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return snap, fmt.Errorf("snapshot xmin: %w", err)
	}
	if snap.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return snap, fmt.Errorf("snapshot xmax: %w", err)
	}
	if snap.xmin > snap.xmax {
		return snap, fmt.Errorf("snapshot %q: xmin > xmax", s)
	}
	if parts[2] != "" {
		xs := strings.Split(parts[2], ",")
		if len(xs) > maxSnapshotXip {
			return snap, fmt.Errorf("snapshot lists %d xids", len(xs))
		}
		for _, x := range xs {
			v, err := strconv.ParseUint(x, 10, 64)
			if err != nil || v < snap.xmin || v >= snap.xmax {
				return snap, fmt.Errorf("snapshot %q: bad xip %q", s, x)
			}
			snap.xip = append(snap.xip, v)
		}
	}
	return snap, nil
}

// visible reports whether a committed transaction x is visible in s.
func (s snapshot) visible(x uint64) bool {
	if x < s.xmin {
		return true
	}
	if x >= s.xmax {
		return false
	}
	return !slices.Contains(s.xip, x)
}

// snapshotContains reports whether s certainly sees every transaction r
// sees, whatever committed or aborted: every xid r sees (below r.xmax and
// not in r.xip) is below s.xmax and not in s.xip.
func snapshotContains(s, r snapshot) bool {
	if r.xmax > s.xmax {
		return false
	}
	for _, x := range s.xip {
		if x < r.xmax && r.visible(x) {
			return false
		}
	}
	return true
}

// deltaUserRow is a user with its soft-deleted flag.
type deltaUserRow struct {
	userRow
	SoftDeleted bool `db:"delta_soft_deleted"`
}

func (r *deltaUserRow) field(col string) any {
	if col == "delta_soft_deleted" {
		return &r.SoftDeleted
	}
	return r.userRow.field(col)
}

// selectDeltaRows runs query in tx and scans its rows (userSelect and
// delta_soft_deleted).
func selectDeltaRows(ctx context.Context, tx *sqlx.Tx, query string, args ...any) ([]deltaUserRow, error) {
	rows, err := tx.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []deltaUserRow
	dst := make([]any, len(cols))
	for rows.Next() {
		out = append(out, deltaUserRow{})
		if err := scanTargets(out[len(out)-1].field, cols, dst); err != nil {
			return nil, err
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// changeRow is one changed user of a window, its changes aggregated.
type changeRow struct {
	UserID string         `db:"user_id"`
	Full   bool           `db:"full_change"`
	Props  pq.StringArray `db:"props"`
}

// UserDelta serves one page of a delta round (see the comment above).
func (s *Store) UserDelta(ctx context.Context, tenantID string, q directory.DeltaQuery) (*directory.DeltaPage, error) {
	const op = "postgres: user delta"
	if !directory.IsGUID(tenantID) {
		return nil, directory.Internal(fmt.Errorf("tenant id %q is not a GUID", tenantID), op)
	}
	top := q.Top
	if top <= 0 || top > maxTop {
		top = defaultTop
	}
	var after any
	if q.After != "" {
		if !directory.IsGUID(q.After) {
			return nil, directory.Internal(fmt.Errorf("cursor %q is not a GUID", q.After), op)
		}
		after = q.After
	}
	var ids any
	if q.IDs != nil {
		for _, id := range q.IDs {
			if !directory.IsGUID(id) {
				return nil, directory.Internal(fmt.Errorf("id %q is not a GUID", id), op)
			}
		}
		ids = pq.Array(q.IDs)
	}

	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, translate(err, op)
	}
	defer tx.Rollback() //nolint:errcheck // read-only

	// The first statement fixes the transaction's snapshot; this is it.
	var cur string
	if err := tx.GetContext(ctx, &cur, `SELECT pg_current_snapshot()::text`); err != nil {
		return nil, translate(err, op)
	}
	page := &directory.DeltaPage{Items: []directory.DeltaItem{}}
	switch {
	case q.Latest:
		page.Base, page.Target = cur, cur
		return page, nil
	case q.Initial:
		return s.deltaInitial(ctx, tx, tenantID, q, cur, after, ids, top, page)
	}
	return s.deltaChanges(ctx, tx, tenantID, q, cur, after, ids, top, page)
}

func (s *Store) deltaInitial(ctx context.Context, tx *sqlx.Tx, tenantID string, q directory.DeltaQuery, cur string, after, ids any, top int, page *directory.DeltaPage) (*directory.DeltaPage, error) {
	const op = "postgres: user delta"
	page.Base = q.Base
	if page.Base == "" {
		page.Base = cur
	} else if _, err := parseSnapshot(page.Base); err != nil {
		return nil, directory.Internal(err, op)
	}
	page.Target = page.Base
	rows, err := selectDeltaRows(ctx, tx, `SELECT `+userSelect+`, false AS delta_soft_deleted
		FROM users u
		WHERE u.tenant_id = $1 AND u.deleted_at IS NULL
		  AND ($2::uuid IS NULL OR u.id > $2::uuid)
		  AND ($3::uuid[] IS NULL OR u.id = ANY ($3::uuid[]))
		ORDER BY u.id LIMIT $4`, tenantID, after, ids, top+1)
	if err != nil {
		return nil, translate(err, op)
	}
	if len(rows) > top {
		rows = rows[:top]
		page.Next = rows[top-1].u.ID
	}
	for i := range rows {
		u, err := rows[i].user()
		if err != nil {
			return nil, directory.Internal(err, op)
		}
		page.Items = append(page.Items, directory.DeltaItem{ID: u.ID, User: u})
	}
	return page, nil
}

func (s *Store) deltaChanges(ctx context.Context, tx *sqlx.Tx, tenantID string, q directory.DeltaQuery, cur string, after, ids any, top int, page *directory.DeltaPage) (*directory.DeltaPage, error) {
	const op = "postgres: user delta"
	base, err := parseSnapshot(q.Base)
	if err != nil {
		return nil, directory.Internal(err, op)
	}
	now, err := parseSnapshot(cur)
	if err != nil {
		return nil, directory.Internal(err, op)
	}
	target := q.Target
	if target == "" {
		target = cur
	}
	tsnap, err := parseSnapshot(target)
	if err != nil {
		return nil, directory.Internal(err, op)
	}
	// A position this database has not reached yet is not ours.
	if base.xmax > now.xmax || tsnap.xmax > now.xmax || !snapshotContains(tsnap, base) {
		return nil, directory.ErrDeltaExpired()
	}
	var pruned sql.NullString
	if err := tx.GetContext(ctx, &pruned, `SELECT pruned::text FROM user_changes_horizon`); err != nil && !isNoRows(err) {
		return nil, translate(err, op)
	}
	if pruned.Valid {
		horizon, err := parseSnapshot(pruned.String)
		if err != nil {
			return nil, directory.Internal(err, op)
		}
		if !snapshotContains(base, horizon) {
			return nil, directory.ErrDeltaExpired()
		}
	}
	page.Base, page.Target = q.Base, target

	var changes []changeRow
	err = tx.SelectContext(ctx, &changes, `SELECT c.user_id::text AS user_id,
			bool_or(c.changed_props IS NULL) AS full_change,
			COALESCE(array_agg(DISTINCT p.prop) FILTER (WHERE p.prop IS NOT NULL), '{}') AS props
		FROM user_changes c
		LEFT JOIN LATERAL unnest(c.changed_props) AS p(prop) ON true
		WHERE c.tenant_id = $1
		  AND c.xid >= pg_snapshot_xmin($2::pg_snapshot) AND c.xid < pg_snapshot_xmax($3::pg_snapshot)
		  AND NOT pg_visible_in_snapshot(c.xid, $2::pg_snapshot)
		  AND pg_visible_in_snapshot(c.xid, $3::pg_snapshot)
		  AND ($4::uuid IS NULL OR c.user_id > $4::uuid)
		  AND ($5::uuid[] IS NULL OR c.user_id = ANY ($5::uuid[]))
		GROUP BY c.user_id
		ORDER BY c.user_id
		LIMIT $6`, tenantID, q.Base, target, after, ids, top+1)
	if err != nil {
		return nil, translate(err, op)
	}
	if len(changes) > top {
		changes = changes[:top]
		page.Next = changes[top-1].UserID
	}
	if len(changes) == 0 {
		return page, nil
	}
	changed := make([]string, len(changes))
	for i, c := range changes {
		changed[i] = c.UserID
	}
	rows, err := selectDeltaRows(ctx, tx, `SELECT `+userSelect+`, (u.deleted_at IS NOT NULL) AS delta_soft_deleted
		FROM users u WHERE u.tenant_id = $1 AND u.id = ANY ($2::uuid[])`, tenantID, pq.Array(changed))
	if err != nil {
		return nil, translate(err, op)
	}
	current := make(map[string]*deltaUserRow, len(rows))
	for i := range rows {
		current[rows[i].u.ID] = &rows[i]
	}
	for _, c := range changes {
		it := directory.DeltaItem{ID: c.UserID}
		r := current[c.UserID]
		switch {
		case r == nil:
			it.Removed = "deleted"
		case r.SoftDeleted:
			it.Removed = "changed"
		default:
			if it.User, err = r.user(); err != nil {
				return nil, directory.Internal(err, op)
			}
			if !c.Full {
				it.Changed = changedProperties(c.Props)
			}
		}
		page.Items = append(page.Items, it)
	}
	return page, nil
}

// changedProperties maps changed users columns to Graph property names.
// Columns that are no readable property (password state, deleted_at of a
// live user, columns added later without a mapping) are left out.
func changedProperties(cols []string) []string {
	out := make([]string, 0, len(cols))
	for _, col := range cols {
		if p, ok := deltaPropertyOfColumn[col]; ok && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// pruneLockKey serialises concurrent PruneUserChanges runs (several
// instances): the loser skips its run.
const pruneLockKey int64 = 0x6772617068646c74 // "graphdlt"

// PruneUserChanges bounds the change log: it records a mark (the current
// snapshot), deletes every change visible in the newest mark taken before
// olderThan, records that mark as the horizon (tokens that do not see it
// get syncStateNotFound) and forgets older marks. Run it periodically; the
// retention granularity is the run interval (cmd/graphdir's background
// jobs). It returns how many changes it deleted. Safe with several
// instances running: while one prunes, the others' calls return at once
// with 0 (pruneLockKey).
func (s *Store) PruneUserChanges(ctx context.Context, olderThan time.Time) (int64, error) {
	const op = "postgres: prune user changes"
	var deleted int64
	err := s.inTxOnce(ctx, op, txAudit{}, func(tx *sqlx.Tx) error {
		var locked bool
		if err := tx.GetContext(ctx, &locked, `SELECT pg_try_advisory_xact_lock($1)`, pruneLockKey); err != nil {
			return translate(err, op)
		}
		if !locked {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_change_marks (snap) VALUES (pg_current_snapshot())`); err != nil {
			return translate(err, op)
		}
		var mark struct {
			TakenAt time.Time `db:"taken_at"`
			Snap    string    `db:"snap"`
		}
		err := tx.GetContext(ctx, &mark, `SELECT taken_at, snap::text AS snap FROM user_change_marks
			WHERE taken_at < $1 ORDER BY taken_at DESC LIMIT 1`, olderThan)
		if isNoRows(err) {
			return nil
		}
		if err != nil {
			return translate(err, op)
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM user_changes
			WHERE xid < pg_snapshot_xmax($1::pg_snapshot) AND pg_visible_in_snapshot(xid, $1::pg_snapshot)`, mark.Snap)
		if err != nil {
			return translate(err, op)
		}
		if deleted, err = res.RowsAffected(); err != nil {
			return translate(err, op)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE user_changes_horizon SET pruned = $1::pg_snapshot, at = $2
			WHERE at IS NULL OR at < $2`, mark.Snap, mark.TakenAt); err != nil {
			return translate(err, op)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM user_change_marks WHERE taken_at < $1`, mark.TakenAt)
		return translate(err, op)
	})
	return deleted, err
}
