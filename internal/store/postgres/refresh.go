package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// refreshColumns is the SELECT/RETURNING list scanRefresh reads.
const refreshColumns = `r.tenant_id::text, r.family_id::text, r.user_id::text, r.client_id, r.scopes, r.amr, r.acrs,
	r.auth_time, r.session_id, r.created_at, r.expires_at, r.family_expires_at, r.rotated_at, r.revoked_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanRefresh(row rowScanner) (*directory.RefreshToken, error) {
	var t directory.RefreshToken
	var rotated, revoked sql.NullTime
	err := row.Scan(&t.TenantID, &t.FamilyID, &t.UserID, &t.ClientID, pq.Array(&t.Scopes), pq.Array(&t.AMR), pq.Array(&t.ACRS),
		&t.AuthTime, &t.SessionID, &t.CreatedAt, &t.ExpiresAt, &t.FamilyExpiresAt, &rotated, &revoked)
	if err != nil {
		return nil, err
	}
	if rotated.Valid {
		at := rotated.Time.UTC()
		t.RotatedAt = &at
	}
	if revoked.Valid {
		at := revoked.Time.UTC()
		t.RevokedAt = &at
	}
	return &t, nil
}

// insertRefresh stores a token only for a live, enabled user, taking a
// share lock on the user's row: a concurrent disable, delete or password
// change waits for this transaction, and its trigger (00017) then sees and
// revokes the new row.
const insertRefresh = `INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, user_id, client_id, scopes, amr, acrs,
		auth_time, session_id, created_at, expires_at, family_expires_at)
	SELECT u.tenant_id, $2, $3, u.id, $4, $5, $6, $7, $8, $9, $10, LEAST($11::timestamptz, $12::timestamptz), $12
	FROM users u
	WHERE u.tenant_id = $1 AND u.id = $13 AND u.deleted_at IS NULL AND u.account_enabled IS NOT FALSE
	FOR SHARE OF u`

func refreshArgs(hash []byte, t directory.RefreshToken) []any {
	return []any{t.TenantID, hash, t.FamilyID, t.ClientID, pq.Array(t.Scopes), pq.Array(nonNil(t.AMR)), pq.Array(nonNil(t.ACRS)),
		t.AuthTime, t.SessionID, t.CreatedAt, t.ExpiresAt, t.FamilyExpiresAt, t.UserID}
}

// CreateRefreshToken stores t under hash (the token's SHA-256) while the
// user is live and enabled. KindNotFound otherwise.
func (s *Store) CreateRefreshToken(ctx context.Context, hash []byte, t directory.RefreshToken) error {
	const op = "postgres: create refresh token"
	if !directory.IsGUID(t.TenantID) || !directory.IsGUID(t.UserID) || !directory.IsGUID(t.FamilyID) {
		return directory.Errorf(directory.KindNotFound, "The user was not found.")
	}
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, insertRefresh, refreshArgs(hash, t)...)
		if err != nil {
			return translate(err, op)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return directory.Errorf(directory.KindNotFound, "The user was not found or cannot sign in.")
		}
		return nil
	})
}

// rotateRefreshSQL marks a live token rotated, only for the client it was
// issued to, and returns it ($1 tenant, $2 hash, $3 time, $4 client id).
const rotateRefreshSQL = `UPDATE refresh_tokens r SET rotated_at = $3
	WHERE r.tenant_id = $1 AND r.token_hash = $2 AND r.rotated_at IS NULL AND r.revoked_at IS NULL
	  AND r.expires_at > $3 AND r.family_expires_at > $3 AND lower(r.client_id) = lower($4)
	RETURNING ` + refreshColumns

// RotateRefreshToken marks the token rotated with one conditional UPDATE
// (only for the client it was issued to)
// (row-locked: of concurrent callers exactly one rotates, the others wait
// and then see it rotated) and stores the successor in the same
// transaction.
func (s *Store) RotateRefreshToken(ctx context.Context, tenantID, clientID string, hash, successorHash []byte, at time.Time, idle time.Duration) (*directory.RefreshToken, bool, error) {
	const op = "postgres: rotate refresh token"
	if !directory.IsGUID(tenantID) {
		return nil, false, directory.Errorf(directory.KindNotFound, "The refresh token was not found.")
	}
	var out *directory.RefreshToken
	var rotated bool
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		out, rotated = nil, false
		t, err := scanRefresh(tx.QueryRowContext(ctx, rotateRefreshSQL, tenantID, hash, at, clientID))
		switch {
		case err == sql.ErrNoRows:
			t, err = scanRefresh(tx.QueryRowContext(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens r
				WHERE r.tenant_id = $1 AND r.token_hash = $2`, tenantID, hash))
			if err == sql.ErrNoRows {
				return directory.Errorf(directory.KindNotFound, "The refresh token was not found.")
			}
			if err != nil {
				return translate(err, op)
			}
			out = t
			return nil
		case err != nil:
			return translate(err, op)
		}
		next := *t
		next.CreatedAt = at
		next.ExpiresAt = at.Add(idle)
		next.RotatedAt, next.RevokedAt = nil, nil
		res, err := tx.ExecContext(ctx, insertRefresh, refreshArgs(successorHash, next)...)
		if err != nil {
			return translate(err, op)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			// The user can no longer sign in: the old token stays
			// rotated and there is no successor.
			now := at
			t.RevokedAt = &now
			if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL`,
				tenantID, t.FamilyID, at); err != nil {
				return translate(err, op)
			}
			out = t
			return nil
		}
		out, rotated = t, true
		return nil
	})
	return out, rotated, err
}

// RevokeRefreshFamily revokes every token of the family.
func (s *Store) RevokeRefreshFamily(ctx context.Context, tenantID, familyID string, at time.Time) error {
	const op = "postgres: revoke refresh family"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(familyID) {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = $3
		WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL`, tenantID, familyID, at)
	return translate(err, op)
}

// SignInSessionsValidFrom reads users.sign_in_sessions_valid_from, deleted
// users included.
func (s *Store) SignInSessionsValidFrom(ctx context.Context, tenantID, userID string) (*time.Time, error) {
	const op = "postgres: sign-in sessions valid from"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(userID) {
		return nil, directory.ErrNotFoundUser(userID)
	}
	var at sql.NullTime
	err := s.db.QueryRowContext(ctx, `SELECT sign_in_sessions_valid_from FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, userID).Scan(&at)
	switch {
	case err == sql.ErrNoRows:
		return nil, directory.ErrNotFoundUser(userID)
	case err != nil:
		return nil, translate(err, op)
	case !at.Valid:
		return nil, nil
	}
	t := at.Time.UTC()
	return &t, nil
}

// RevokeSignInSessions sets signInSessionsValidFromDateTime to now (the
// 00017 trigger revokes the refresh tokens in the same statement) with
// version + 1, and records ev in the same transaction.
func (s *Store) RevokeSignInSessions(ctx context.Context, tenantID string, key directory.UserKey, guard *directory.TargetGuard, ev *directory.AuditEvent) error {
	const op = "postgres: revoke sign-in sessions"
	pred, arg, ok := keyPredicate(key, 2)
	if !ok || !directory.IsGUID(tenantID) {
		return directory.ErrNotFoundUser(key.String())
	}
	args := []any{tenantID, arg}
	bind := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	where := guardSQL(guard, bind)
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		var id string
		err := s.queryRowx(ctx, tx, preparedStatement, `UPDATE users u SET sign_in_sessions_valid_from = date_trunc('second', clock_timestamp()), version = u.version + 1
			WHERE u.tenant_id = $1 AND `+pred+where+` RETURNING u.id::text`, args, func(row *sqlx.Row) error { return row.Scan(&id) })
		switch {
		case isNoRows(err) && guard != nil:
			return guardMiss(ctx, tx, tenantID, pred, arg, key, guard)
		case isNoRows(err):
			return directory.ErrNotFoundUser(key.String())
		}
		return translate(err, op)
	})
}
