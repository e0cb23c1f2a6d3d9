package postgres

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.SignInLog = (*Store)(nil)

// userBySignInNameSQL finds a live user by sign-in name in one statement:
// an emailAddress identity (user_identities_sign_in_email_idx) or the
// userPrincipalName (users_upn_key), whichever matches; one round trip
// either way, found or not, so the lookup's time tells little.
func userBySignInNameSQL() string {
	return `SELECT ` + userSelectWithPassword + ` FROM users u WHERE u.tenant_id = $1 AND ` + liveUser + ` AND u.id = (
		SELECT m.id FROM (
			SELECT i.user_id AS id FROM user_identities i
			WHERE i.tenant_id = $1 AND lower(i.sign_in_type) = 'emailaddress' AND NOT i.user_deleted
				AND (lower(i.issuer_assigned_id)) COLLATE "C" = lower($2)
			UNION ALL
			SELECT v.id FROM users v
			WHERE v.tenant_id = $1 AND lower(v.user_principal_name) COLLATE "C" = lower($2) AND v.deleted_at IS NULL
		) m LIMIT 1)`
}

// UserBySignInName returns the live user (with its password state) whose
// emailAddress identity or userPrincipalName is name.
func (s *Store) UserBySignInName(ctx context.Context, tenantID, name string) (*directory.User, error) {
	const op = "postgres: user by sign-in name"
	if !directory.IsGUID(tenantID) || name == "" || strings.IndexByte(name, 0) >= 0 {
		return nil, directory.ErrNotFoundUser(name)
	}
	r := new(userRow)
	err := s.queryRowx(ctx, nil, preparedStatement, userBySignInNameSQL(), []any{tenantID, name},
		func(row *sqlx.Row) error { return scanUser(row, userSelectWithPasswordBinders, r) })
	if isNoRows(err) {
		return nil, directory.ErrNotFoundUser(name)
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

const insertSignInSQL = `INSERT INTO sign_ins (tenant_id, id, created_at, user_id, user_principal_name, user_display_name,
	app_id, app_display_name, ip_address, client_app_used, error_code, failure_reason, additional_details,
	authentication_requirement, is_interactive, correlation_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`

// signInActivitySQL keeps Graph's signInActivity of a user: the last
// interactive and non-interactive attempts whatever their outcome, and the
// last success. Only these columns change: no version bump, no change-log
// row (delta reports nothing for a sign-in, as Graph's does not).
const signInActivitySQL = `UPDATE users SET
	last_sign_in_at = CASE WHEN $4 THEN GREATEST(last_sign_in_at, $3) ELSE last_sign_in_at END,
	last_non_interactive_sign_in_at = CASE WHEN $4 THEN last_non_interactive_sign_in_at ELSE GREATEST(last_non_interactive_sign_in_at, $3) END,
	last_successful_sign_in_at = CASE WHEN $5 THEN GREATEST(last_successful_sign_in_at, $3) ELSE last_successful_sign_in_at END
WHERE tenant_id = $1 AND id = $2`

// RecordSignIn stores si and, for a known user, its signInActivity, in
// one transaction.
func (s *Store) RecordSignIn(ctx context.Context, si *directory.SignIn) error {
	const op = "postgres: record sign-in"
	si.Sanitize()
	if !directory.IsGUID(si.TenantID) || !directory.IsGUID(si.ID) {
		return directory.Errorf(directory.KindInvalid, "A sign-in needs GUID tenant and sign-in ids.")
	}
	var userID *string
	if si.UserID != "" {
		if !directory.IsGUID(si.UserID) {
			return directory.Errorf(directory.KindInvalid, "A sign-in's user id must be a GUID.")
		}
		userID = &si.UserID
	}
	at := si.CreatedDateTime.UTC()
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, insertSignInSQL, si.TenantID, si.ID, at, userID, si.UserPrincipalName,
			si.UserDisplayName, si.AppID, si.AppDisplayName, si.IPAddress, si.ClientAppUsed, si.ErrorCode,
			si.FailureReason, si.AdditionalDetails, si.AuthenticationRequirement, si.IsInteractive, si.CorrelationID); err != nil {
			return translate(err, op)
		}
		if userID == nil {
			return nil
		}
		_, err := tx.ExecContext(ctx, signInActivitySQL, si.TenantID, si.UserID, at, si.IsInteractive, si.ErrorCode == directory.SignInSuccess)
		return translate(err, op)
	})
}

const signInColumns = `id::text, tenant_id::text, created_at, COALESCE(user_id::text, ''), user_principal_name, user_display_name,
	app_id, app_display_name, ip_address, client_app_used, error_code, failure_reason, additional_details,
	authentication_requirement, is_interactive, correlation_id`

func scanSignIn(sc interface{ Scan(...any) error }) (*directory.SignIn, error) {
	si := new(directory.SignIn)
	err := sc.Scan(&si.ID, &si.TenantID, &si.CreatedDateTime, &si.UserID, &si.UserPrincipalName, &si.UserDisplayName,
		&si.AppID, &si.AppDisplayName, &si.IPAddress, &si.ClientAppUsed, &si.ErrorCode, &si.FailureReason,
		&si.AdditionalDetails, &si.AuthenticationRequirement, &si.IsInteractive, &si.CorrelationID)
	si.CreatedDateTime = si.CreatedDateTime.UTC()
	return si, err
}

// GetSignIn returns one sign-in.
func (s *Store) GetSignIn(ctx context.Context, tenantID, id string) (*directory.SignIn, error) {
	notFound := directory.Errorf(directory.KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return nil, notFound
	}
	si, err := scanSignIn(s.db.QueryRowxContext(ctx, `SELECT `+signInColumns+` FROM sign_ins WHERE tenant_id = $1 AND id = $2`, tenantID, id))
	if isNoRows(err) {
		return nil, notFound
	}
	if err != nil {
		return nil, translate(err, "postgres: get sign-in")
	}
	return si, nil
}

// ListSignIns returns one page of the tenant's sign-ins q selects, in
// createdDateTime then id order (descending unless q.Ascending), after
// q.After: one range scan of the index that leads with the filtered
// property (00019), in the listing's order.
func (s *Store) ListSignIns(ctx context.Context, tenantID string, q directory.SignInQuery) (*directory.SignInPage, error) {
	const op = "postgres: list sign-ins"
	page := &directory.SignInPage{SignIns: []*directory.SignIn{}}
	if !directory.IsGUID(tenantID) {
		return page, nil
	}
	top := pageSize(q.Top)
	args := []any{tenantID}
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := []string{"tenant_id = $1"}
	timeRange(&where, bind, "created_at", q.From, q.To, q.FromExclusive, q.ToExclusive)
	if q.UserID != "" {
		if !directory.IsGUID(q.UserID) {
			return page, nil // matches nothing
		}
		where = append(where, "user_id = "+bind(q.UserID))
	}
	if q.UserPrincipalName != "" {
		where = append(where, `(lower(user_principal_name)) COLLATE "C" = lower(`+bind(q.UserPrincipalName)+`)`)
	}
	if q.AppID != "" {
		where = append(where, "app_id = "+bind(q.AppID))
	}
	if q.ErrorCode != nil {
		where = append(where, "error_code = "+bind(*q.ErrorCode))
	}
	dir, err := timeKeyset(&where, bind, "created_at", "sign_ins.id", q.After, q.Ascending)
	if err != nil {
		return nil, err
	}
	query := `SELECT ` + signInColumns + ` FROM sign_ins WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY created_at ` + dir + `, sign_ins.id ` + dir + ` LIMIT ` + strconv.Itoa(top+1)
	rows, err := s.db.QueryxContext(ctx, query, args...)
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		si, err := scanSignIn(rows)
		if err != nil {
			return nil, translate(err, op)
		}
		if len(page.SignIns) == top {
			last := page.SignIns[top-1]
			page.Next = &directory.AuditCursor{Time: last.CreatedDateTime, ID: last.ID}
			break
		}
		page.SignIns = append(page.SignIns, si)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	return page, nil
}

// signInPruneLockKey serialises PruneSignIns across instances.
const signInPruneLockKey int64 = 0x6772617068736967 // "graphsig"

// PruneSignIns deletes the sign-ins created before cutoff in batches of
// DefaultPurgeBatch under signInPruneLockKey (another instance pruning
// makes this call return 0 at once).
func (s *Store) PruneSignIns(ctx context.Context, cutoff time.Time) (int64, error) {
	const op = "postgres: prune sign-ins"
	var total int64
	for {
		n, locked, err := s.pruneSignInBatch(ctx, cutoff)
		if err != nil {
			return total, translate(err, op)
		}
		total += n
		if !locked || n < DefaultPurgeBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

func (s *Store) pruneSignInBatch(ctx context.Context, cutoff time.Time) (n int64, locked bool, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, false, err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := tx.GetContext(ctx, &locked, `SELECT pg_try_advisory_xact_lock($1)`, signInPruneLockKey); err != nil || !locked {
		return 0, false, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM sign_ins WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM sign_ins WHERE created_at < $1 ORDER BY created_at LIMIT $2)`, cutoff, DefaultPurgeBatch)
	if err != nil {
		return 0, true, err
	}
	if n, err = res.RowsAffected(); err != nil {
		return 0, true, err
	}
	return n, true, tx.Commit()
}
