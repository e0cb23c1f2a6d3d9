package postgres

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// Deleted items (schema/00006_deleted_items.sql). A deleted user keeps its
// row with deleted_at set; its identities carry user_deleted = true so
// that the partial unique indexes free its sign-in names. Every statement
// on live users has liveUser in its WHERE clause: keyPredicate (get,
// update, delete, audit, guards) and compiler.where (list, count).

var _ directory.DeletedStore = (*Store)(nil)

const (
	liveUser    = "u.deleted_at IS NULL"
	deletedUser = "u.deleted_at IS NOT NULL"
	// liveAssignment selects role_assignments rows whose principal is live.
	liveAssignment = `EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = role_assignments.tenant_id
		AND u.id = role_assignments.principal_id AND u.deleted_at IS NULL)`
)

// deletedDateTimeProperty is queryable in the deleted-items listing only,
// where it is never null (users_deleted_key_idx serves it).
var deletedDateTimeProperty = userProperty{Name: "deletedDateTime", Column: "deleted_at", Kind: kindDateTime,
	Ops: allowEq | allowRange, Sortable: true, Index: "users_deleted_key_idx"}

// lookup resolves a property name for this statement: the allow-list, plus
// deletedDateTime when listing deleted items.
func (c *compiler) lookup(name string) (*userProperty, bool) {
	if c.deleted && strings.EqualFold(name, deletedDateTimeProperty.Name) {
		return &deletedDateTimeProperty, true
	}
	return lookupQueryProperty(name)
}

// versionSQL returns the WHERE fragment (starting with " AND") that makes a
// write conditional on the user's version; "" for none.
func versionSQL(v int64, bind func(any) string) string {
	if v == 0 {
		return ""
	}
	return " AND u.version = " + bind(v) + "::bigint"
}

// conditionMiss explains a conditional write (If-Match, maybe a guard)
// that matched no row: the user does not exist (KindNotFound), holds a
// role the guard refuses (the guard's error), or has another version
// (KindPreconditionFailed). It runs in the write's transaction, after the
// write, so it sees the version that made the condition fail.
func conditionMiss(ctx context.Context, q sqlx.QueryerContext, tenantID, pred string, keyArg any, key directory.UserKey, g *directory.TargetGuard) error {
	var roles pq.StringArray
	var version int64
	err := q.QueryRowxContext(ctx, `SELECT u.version, ARRAY(SELECT ra.role_definition_id::text FROM role_assignments ra
			WHERE ra.tenant_id = u.tenant_id AND ra.principal_id = u.id ORDER BY 1)
		FROM users u WHERE u.tenant_id = $1 AND `+pred, tenantID, keyArg).Scan(&version, &roles)
	if isNoRows(err) {
		return directory.ErrNotFoundUser(key.String())
	}
	if err != nil {
		return translate(err, "postgres: conditional write")
	}
	if g != nil {
		for _, r := range roles {
			if !slices.Contains(g.Allowed, r) {
				return g.Denied([]string(roles))
			}
		}
	}
	return directory.ErrPreconditionFailed(key.String())
}

// SoftDeleteUser moves a live user to deleted items: deleted_at = now(),
// version + 1, its identities marked deleted, in one transaction that also
// records ev (nil: none). KindNotFound, the guard's error,
// KindPreconditionFailed when ifVersion (non-zero) is not the version.
func (s *Store) SoftDeleteUser(ctx context.Context, tenantID string, key directory.UserKey, guard *directory.TargetGuard, ifVersion int64, ev *directory.AuditEvent) error {
	const op = "postgres: delete user"
	pred, arg, ok := keyPredicate(key, 2)
	if !ok || !directory.IsGUID(tenantID) {
		return directory.ErrNotFoundUser(key.String())
	}
	args := []any{tenantID, arg}
	bind := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := guardSQL(guard, bind) + versionSQL(ifVersion, bind)
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		var id string
		err := s.queryRowx(ctx, tx, preparedStatement, `UPDATE users u SET deleted_at = now(), version = u.version + 1
			WHERE u.tenant_id = $1 AND `+pred+where+` RETURNING u.id::text`, args, func(row *sqlx.Row) error { return row.Scan(&id) })
		switch {
		case isNoRows(err) && ifVersion != 0:
			return conditionMiss(ctx, tx, tenantID, pred, arg, key, guard)
		case isNoRows(err) && guard != nil:
			return guardMiss(ctx, tx, tenantID, pred, arg, key, guard)
		case isNoRows(err):
			return directory.ErrNotFoundUser(key.String())
		case err != nil:
			return translate(err, op)
		}
		err = s.execTx(ctx, tx, preparedStatement, `UPDATE user_identities SET user_deleted = true WHERE tenant_id = $1 AND user_id = $2`, tenantID, id)
		return translate(err, op)
	})
}

// deletedPredicate selects the deleted user with id $2.
const deletedPredicate = "u.id = $2 AND " + deletedUser

// GetDeletedUser returns one deleted user. KindNotFound.
func (s *Store) GetDeletedUser(ctx context.Context, tenantID, id string) (*directory.User, error) {
	const op = "postgres: get deleted user"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return nil, directory.ErrNotFoundUser(id)
	}
	var r userRow
	err := scanOne(s.db.QueryRowxContext(ctx, `SELECT `+userSelect+` FROM users u WHERE u.tenant_id = $1 AND `+deletedPredicate,
		tenantID, strings.ToLower(id)), r.field)
	if isNoRows(err) {
		return nil, directory.ErrNotFoundUser(id)
	}
	if err != nil {
		return nil, translate(err, op)
	}
	u, err := r.user()
	if err != nil {
		return nil, directory.Internal(err, op)
	}
	return u, nil
}

// RestoreUser brings a deleted user back in one transaction: deleted_at =
// NULL and version + 1, then its identities. The partial unique indexes
// check its userPrincipalName and identities against the live users as
// the rows re-enter them: KindConflict (ObjectConflict on
// userPrincipalName or identities) when one was taken meanwhile, and the
// transaction rolls back. KindNotFound, the guard's error. ev (nil: none)
// is stored in the same transaction.
func (s *Store) RestoreUser(ctx context.Context, tenantID, id string, guard *directory.TargetGuard, ev *directory.AuditEvent) (*directory.User, error) {
	const op = "postgres: restore user"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return nil, directory.ErrNotFoundUser(id)
	}
	id = strings.ToLower(id)
	key := directory.UserKey{ID: id}
	args := []any{tenantID, id}
	where := guardSQL(guard, func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) })
	var u *directory.User
	err := s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		var got string
		err := tx.QueryRowxContext(ctx, `UPDATE users u SET deleted_at = NULL, version = u.version + 1
			WHERE u.tenant_id = $1 AND `+deletedPredicate+where+` RETURNING u.id::text`, args...).Scan(&got)
		switch {
		case isNoRows(err) && guard != nil:
			return guardMiss(ctx, tx, tenantID, deletedPredicate, id, key, guard)
		case isNoRows(err):
			return directory.ErrNotFoundUser(id)
		case err != nil:
			return translate(err, op)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE user_identities SET user_deleted = false
			WHERE tenant_id = $1 AND user_id = $2`, tenantID, id); err != nil {
			return translate(err, op)
		}
		var r userRow
		if err := scanOne(tx.QueryRowxContext(ctx, `SELECT `+userSelect+` FROM users u WHERE u.tenant_id = $1 AND u.id = $2`,
			tenantID, id), r.field); err != nil {
			return translate(err, op)
		}
		if u, err = r.user(); err != nil {
			return directory.Internal(err, op)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// PurgeUser permanently deletes a deleted user and, by cascade, its
// identities and role assignments. KindNotFound, the guard's error. ev
// (nil: none) is stored in the same transaction.
func (s *Store) PurgeUser(ctx context.Context, tenantID, id string, guard *directory.TargetGuard, ev *directory.AuditEvent) error {
	const op = "postgres: purge user"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return directory.ErrNotFoundUser(id)
	}
	id = strings.ToLower(id)
	args := []any{tenantID, id}
	where := guardSQL(guard, func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) })
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users u WHERE u.tenant_id = $1 AND `+deletedPredicate+where, args...)
		if err != nil {
			return translate(err, op)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return translate(err, op)
		}
		if n == 0 && guard != nil {
			return guardMiss(ctx, tx, tenantID, deletedPredicate, id, directory.UserKey{ID: id}, guard)
		}
		if n == 0 {
			return directory.ErrNotFoundUser(id)
		}
		return nil
	})
}

// purgeBatchSQL deletes up to $2 users (of any tenant) deleted before $1,
// oldest first. FOR UPDATE SKIP LOCKED: several instances purging at once
// take disjoint rows, and a row a restore has locked is left for later
// instead of waited for. The statement is short, so it never holds up
// other work for long.
const purgeBatchSQL = `WITH doomed AS (
	SELECT tenant_id, id FROM users
	WHERE deleted_at IS NOT NULL AND deleted_at < $1
	ORDER BY deleted_at
	LIMIT $2
	FOR UPDATE SKIP LOCKED)
DELETE FROM users u USING doomed d WHERE u.tenant_id = d.tenant_id AND u.id = d.id`

// DefaultPurgeBatch is how many users one purge statement removes at most.
const DefaultPurgeBatch = 500

// purgeLockKey serialises PurgeDeleted across the instances that share the
// database: each batch takes it for its transaction, and an instance that
// finds it taken leaves the purge to the one holding it.
const purgeLockKey int64 = 0x6772617068707267 // "graphprg"

// PurgeDeleted permanently deletes the users deleted before cutoff, in
// transactions of at most batch rows (DefaultPurgeBatch when batch <= 0),
// until none is left or ctx ends. It returns how many it removed. Safe with
// several instances running: while one purges, the others' calls return
// at once with 0 (purgeLockKey). Run it periodically (cmd/graphdir's
// background jobs).
func (s *Store) PurgeDeleted(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	const op = "postgres: purge deleted users"
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	var total int64
	for {
		n, locked, err := s.purgeBatch(ctx, cutoff, batch)
		if err != nil {
			return total, translate(err, op)
		}
		total += n
		if !locked || n < int64(batch) {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// purgeBatch runs one purgeBatchSQL under purgeLockKey; locked is false
// when another session holds it (and nothing was done).
func (s *Store) purgeBatch(ctx context.Context, cutoff time.Time, batch int) (n int64, locked bool, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := tx.GetContext(ctx, &locked, `SELECT pg_try_advisory_xact_lock($1)`, purgeLockKey); err != nil || !locked {
		return 0, false, err
	}
	res, err := tx.ExecContext(ctx, purgeBatchSQL, cutoff, batch)
	if err != nil {
		return 0, true, err
	}
	if n, err = res.RowsAffected(); err != nil {
		return 0, true, err
	}
	return n, true, tx.Commit()
}
