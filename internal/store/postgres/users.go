package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

func nonNil(a pq.StringArray) []string {
	if a == nil {
		return []string{}
	}
	return []string(a)
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// keyPredicate returns the WHERE fragment that selects key among the live
// users u (deleted items are never addressed by key: deleted.go), its
// argument bound as $n, and false when key cannot match any user.
func keyPredicate(key directory.UserKey, n int) (string, any, bool) {
	p := "$" + strconv.Itoa(n)
	switch {
	case key.ID != "":
		if !directory.IsGUID(key.ID) {
			return "", nil, false
		}
		return "u.id = " + p + " AND " + liveUser, key.ID, true
	case key.UPN != "":
		return "lower(u.user_principal_name) COLLATE \"C\" = lower(" + p + ") AND " + liveUser, key.UPN, true
	}
	return "", nil, false
}

// ----- Create

// insertIdentitiesSQL inserts the identities of one user from three parallel
// arrays, numbering them in order.
const insertIdentitiesSQL = `INSERT INTO user_identities
	(tenant_id, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id)
SELECT $1, $2, i.ord, i.sign_in_type, i.issuer, i.issuer_assigned_id
FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY
	AS i(sign_in_type, issuer, issuer_assigned_id, ord)`

// CreateUser inserts u and its identities in one transaction. An empty u.ID
// is filled with a new random id; u.CreatedDateTime (when nil) and
// u.LastPasswordChangeDateTime (when nil and a password hash is set) are
// filled with the time of the insert. KindConflict (target userPrincipalName
// or identities) when a unique value is taken, KindInvalid when
// userPrincipalName is missing. ev (nil: none) is the audit event stored
// in the insert's transaction.
func (s *Store) CreateUser(ctx context.Context, u *directory.User, ev *directory.AuditEvent) error {
	const op = "postgres: create user"
	if !directory.IsGUID(u.TenantID) {
		return directory.Internal(fmt.Errorf("tenant id %q is not a GUID", u.TenantID), op)
	}
	if u.ID == "" {
		u.ID = uuid.NewString()
	} else if !directory.IsGUID(u.ID) {
		return directory.Internal(fmt.Errorf("user id %q is not a GUID", u.ID), op)
	}
	u.ID = strings.ToLower(u.ID)
	if err := checkIdentities(u.Identities); err != nil {
		return err
	}
	query, args := createUserStatement(u)
	// Nothing after the insert changes the user's columns, so it can
	// return the audit event's new values (audit.go).
	auditValues := auditValuesReturning(ev, &args)
	switch {
	case auditValues == "":
	case len(u.Identities) > 0:
		query = fmt.Sprintf(insertUserIdentitiesSQL, auditValues)
	default:
		query = fmt.Sprintf(insertUserAuditedSQL, auditValues)
	}
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		var created time.Time
		var lastPwd *time.Time
		var raw []byte
		err := s.queryRowx(ctx, tx, preparedStatement, query, args, func(row *sqlx.Row) error {
			if query == insertUserSQL {
				return row.Scan(&created, &lastPwd, &u.Version)
			}
			return row.Scan(&created, &lastPwd, &u.Version, &raw)
		})
		if err != nil {
			return translate(err, op)
		}
		if err := setAuditNewValues(ev, u.ID, raw, op); err != nil {
			return err
		}
		if err := writeExtensionValues(ctx, tx, u.TenantID, u.ID, u.Extensions, op); err != nil {
			return err
		}
		u.CreatedDateTime = utc(&created)
		u.LastPasswordChangeDateTime = utc(lastPwd)
		return nil
	})
}

// createUserStatement is CreateUser's statement for u (ID set) when no
// audit event is pending: the user, and its identities in the same
// statement when it has any.
func createUserStatement(u *directory.User) (string, []any) {
	args := insertUserArgs(u)
	if len(u.Identities) > 0 {
		return insertUserIdentitiesUnauditedSQL, append(args, identityArrays(u.Identities)...)
	}
	return insertUserSQL, args
}

// identityArrays binds ids as three parallel text[] parameters: sign-in
// types, issuers, issuer-assigned ids.
func identityArrays(ids []directory.Identity) []any {
	types := make([]string, len(ids))
	issuers := make([]string, len(ids))
	assigned := make([]string, len(ids))
	for i, id := range ids {
		types[i], issuers[i], assigned[i] = id.SignInType, id.Issuer, id.IssuerAssignedID
	}
	return []any{pq.Array(types), pq.Array(issuers), pq.Array(assigned)}
}

func (s *Store) insertIdentities(ctx context.Context, tx *sqlx.Tx, tenantID, userID string, ids []directory.Identity, op string) error {
	if len(ids) == 0 {
		return nil
	}
	err := s.execTx(ctx, tx, preparedStatement, insertIdentitiesSQL, append([]any{tenantID, userID}, identityArrays(ids)...)...)
	return translate(err, op)
}

// checkIdentities rejects a list that names one (issuer, issuerAssignedId)
// twice, ignoring case, before it reaches the database (whose unique index
// would reject it too, at the cost of a round trip and a logged error).
func checkIdentities(ids []directory.Identity) error {
	seen := make(map[[2]string]bool, len(ids))
	for _, id := range ids {
		k := [2]string{strings.ToLower(id.Issuer), strings.ToLower(id.IssuerAssignedID)}
		if seen[k] {
			return directory.ErrConflict(propIdentities)
		}
		seen[k] = true
	}
	return nil
}

// strArray binds a collection as one text[] parameter; nil binds as '{}'.
func strArray(a []string) any {
	if a == nil {
		a = []string{}
	}
	return pq.Array(a)
}

// ----- Read

// GetUser returns one user with its identities, addressed by id or
// (case-insensitively) by userPrincipalName, without its password state
// (the API never returns it: GetUserWithPassword reads it). KindNotFound
// when the tenant has no such user.
func (s *Store) GetUser(ctx context.Context, tenantID string, key directory.UserKey) (*directory.User, error) {
	return s.getUser(ctx, tenantID, key, false)
}

// GetUserWithPassword is GetUser with the password state (hash and
// force-change flags) in User.Password: for the paths that check or keep a
// password (sign-in), never for a response.
func (s *Store) GetUserWithPassword(ctx context.Context, tenantID string, key directory.UserKey) (*directory.User, error) {
	return s.getUser(ctx, tenantID, key, true)
}

func (s *Store) getUser(ctx context.Context, tenantID string, key directory.UserKey, withPassword bool) (*directory.User, error) {
	const op = "postgres: get user"
	query, args, ok := getUserStatement(tenantID, key, withPassword)
	if !ok || !directory.IsGUID(tenantID) {
		return nil, directory.ErrNotFoundUser(key.String())
	}
	binders := userSelectBinders
	if withPassword {
		binders = userSelectWithPasswordBinders
	}
	r := new(userRow)
	err := s.queryRowx(ctx, nil, preparedStatement, query, args,
		func(row *sqlx.Row) error { return scanUser(row, binders, r) }) // scan.go
	if isNoRows(err) {
		return nil, directory.ErrNotFoundUser(key.String())
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

// getUserStatement is the statement (prepared: preparedStatement) that
// GetUser, or GetUserWithPassword, runs for key; false when key cannot
// match any user.
func getUserStatement(tenantID string, key directory.UserKey, withPassword bool) (string, []any, bool) {
	switch {
	case key.ID != "":
		if !directory.IsGUID(key.ID) {
			return "", nil, false
		}
		if withPassword {
			return getUserWithPasswordByIDSQL, []any{tenantID, key.ID}, true
		}
		return getUserByIDSQL, []any{tenantID, key.ID}, true
	case key.UPN != "":
		if withPassword {
			return getUserWithPasswordByUPNSQL, []any{tenantID, key.UPN}, true
		}
		return getUserByUPNSQL, []any{tenantID, key.UPN}, true
	}
	return "", nil, false
}

// pageSize bounds a requested page size to Graph's range.
func pageSize(top int) int {
	switch {
	case top <= 0:
		return defaultTop
	case top > maxTop:
		return maxTop
	}
	return top
}

// Page sizes: Graph's default and maximum.
const (
	defaultTop = 100
	maxTop     = 999
)

// listUsers returns one page of the users q matches, with identities, in
// one statement: Filter and Search translated through the property
// allow-list (query.go, search.go), ordered by OrderBy then id, after the
// keyset cursor q.After (list.go). Skip applies to the first page only (no
// After). A Top outside 1..999 is taken as 100 (below) or 999 (above).
// Page.Next is set when more rows exist; Page.Count, when q.Count, is the
// number of all matches. KindUnsupported for queries it refuses,
// KindInvalid for a cursor that does not fit the order.
func (s *Store) listUsers(ctx context.Context, tenantID string, q directory.ListQuery) (*directory.Page, error) {
	const op = "postgres: list users"
	top := pageSize(q.Top)
	st, err := buildList(tenantID, q, top)
	if err != nil {
		return nil, err
	}
	page := &directory.Page{Users: []*directory.User{}}
	if !directory.IsGUID(tenantID) {
		if q.Count {
			page.Count = new(int64)
		}
		return page, nil
	}
	rows, err := s.queryx(ctx, preparedList(q), st.sql, st.args)
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	sc, err := newListScanner(rows) // scan.go
	if err != nil {
		return nil, translate(err, op)
	}
	var last listRow
	for rows.Next() {
		var r listRow
		if err := sc.scan(&r); err != nil {
			return nil, translate(err, op)
		}
		u, err := r.user()
		if err != nil {
			return nil, directory.Internal(err, op)
		}
		if page.Count == nil && r.Total != nil {
			page.Count = r.Total
		}
		if len(page.Users) < top {
			page.Users = append(page.Users, u)
			last = r
		} else {
			page.Next = &directory.Cursor{ID: last.u.ID}
			if len(st.keys) > 0 {
				if err := json.Unmarshal(last.SortKeys, &page.Next.Keys); err != nil || len(page.Next.Keys) != len(st.keys) {
					return nil, directory.Internal(fmt.Errorf("decode sort keys %q: %v", last.SortKeys, err), op)
				}
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	if q.Count && page.Count == nil {
		// No row carried the total: either nothing matches, or the page is
		// past the end (Skip, After); only the latter needs counting.
		if q.Skip == 0 && q.After == nil {
			page.Count = new(int64)
		} else {
			n, err := s.countUsers(ctx, tenantID, q)
			if err != nil {
				return nil, err
			}
			page.Count = &n
		}
	}
	return page, nil
}

// listRow is a row of the list statement: the user, its sort-key values as
// a JSON array of strings and nulls, and the total when counting.
type listRow struct {
	userRow
	SortKeys []byte `db:"sort_keys"`
	Total    *int64 `db:"total"`
}

// ----- Update

// auditedUserRow is a row of userSelect followed, in an audited write, by
// the audit event's values (auditValuesReturning).
type auditedUserRow struct {
	userRow
	AuditValues []byte `db:"audit_values"`
	// The audit event's user target (auditFoldedColumns).
	AuditID        *string `db:"audit_id"`
	AuditUPN       *string `db:"audit_upn"`
	AuditOldValues []byte  `db:"audit_old_values"`
}

func (r *auditedUserRow) field(col string) any {
	switch col {
	case "audit_values":
		return &r.AuditValues
	case "audit_id":
		return &r.AuditID
	case "audit_upn":
		return &r.AuditUPN
	case "audit_old_values":
		return &r.AuditOldValues
	}
	return r.userRow.field(col)
}

// scanAuditedUser is scanUser (scan.go) for an auditedUserRow.
func scanAuditedUser(row *sqlx.Row, r *auditedUserRow) error { return scanOne(row, r.field) }

// UpdateUser applies patch in one transaction: the columns named by the
// patch, the identities (replaced wholesale when present) and the password
// state; the user's version increases by one. A property name the store does
// not know is an internal error, never SQL. KindNotFound, KindConflict,
// KindInvalid (userPrincipalName set to null).
func (s *Store) UpdateUser(ctx context.Context, tenantID string, key directory.UserKey, patch directory.UserPatch) (*directory.User, error) {
	const op = "postgres: update user"
	pred, keyArg, ok := keyPredicate(key, 2)
	if !ok || !directory.IsGUID(tenantID) {
		return nil, directory.ErrNotFoundUser(key.String())
	}

	up, err := buildUserUpdate(patch, op)
	if err != nil {
		return nil, err
	}
	args := append([]any{tenantID, keyArg}, up.args...)
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	sets, identities, replaceIdentities := up.sets, up.identities, up.replaceIdentities
	// The audit event's user target is resolved (and its row locked) by a
	// FOR UPDATE subquery of this UPDATE rather than by auditBefore's own
	// statement. Not with a guard: the guard's look at role_assignments
	// must run on a snapshot taken after the row lock is held, as it does
	// when the lock comes first.
	from, audit := "", audited(patch.Audit)
	if patch.Guard == nil {
		from, audit = auditFoldedTarget(patch.Audit, key, pred, &args)
	}
	target, ev := patch.Audit, patch.Audit
	query := updateUserSQL(sets, from, pred, guardSQL(patch.Guard, bind)+versionSQL(patch.IfVersion, bind))
	if from != "" {
		query += `, ` + auditFoldedColumns
	}
	// Nothing after this UPDATE changes the user's columns, so its
	// RETURNING list can carry the audit event's new values (audit.go).
	if auditValues := auditValuesReturning(ev, &args); auditValues != "" {
		query += `, ` + auditValues + ` AS audit_values`
	}

	var u *directory.User
	resolveTried := false
	err = s.inAuditedTx(ctx, op, audit, func(tx *sqlx.Tx) error {
		resolveTried = false
		var r auditedUserRow
		// The text follows the set of patched properties (sorted above), and
		// every shape updates one row by its key: preparedStatement holds.
		err := s.queryRowx(ctx, tx, preparedStatement, query, args, func(row *sqlx.Row) error { return scanAuditedUser(row, &r) })
		if from != "" && (err == nil || isNoRows(err)) {
			resolveTried = true
			if _, unresolved := target.UserToResolve(); unresolved {
				if err == nil && r.AuditID != nil {
					if err := resolveAuditTarget(target, *r.AuditID, r.AuditUPN, r.AuditOldValues); err != nil {
						return err
					}
				} else if err != nil {
					// As auditBefore would have: the failure's event names the
					// user the key addresses, when there is one.
					if err := s.resolveAuditUser(ctx, tx, target, key, true); err != nil {
						return err
					}
				}
			}
		}
		if isNoRows(err) && patch.IfVersion != 0 {
			return conditionMiss(ctx, tx, tenantID, pred, keyArg, key, patch.Guard)
		}
		if isNoRows(err) && patch.Guard != nil {
			return guardMiss(ctx, tx, tenantID, pred, keyArg, key, patch.Guard)
		}
		if isNoRows(err) {
			return directory.ErrNotFoundUser(key.String())
		}
		if err != nil {
			return translate(err, op)
		}
		if u, err = r.user(); err != nil {
			return directory.Internal(err, op)
		}
		if err := setAuditNewValues(ev, u.ID, r.AuditValues, op); err != nil {
			return err
		}
		if replaceIdentities {
			// RETURNING saw the identities before this replacement.
			if err := s.execTx(ctx, tx, preparedStatement, `DELETE FROM user_identities WHERE tenant_id = $1 AND user_id = $2`, u.TenantID, u.ID); err != nil {
				return translate(err, op)
			}
			if err := s.insertIdentities(ctx, tx, u.TenantID, u.ID, identities, op); err != nil {
				return err
			}
			u.Identities = append([]directory.Identity{}, identities...)
		}
		// The UPDATE above holds the user's row lock, so concurrent
		// patches of one user count their extension values one by one.
		return writeExtensionValues(ctx, tx, u.TenantID, u.ID, patch.Extensions, op)
	})
	if err != nil && from != "" && !resolveTried {
		// The UPDATE failed (a trigger, a cancelled statement) and took
		// the transaction with it: the failure's event still names its
		// user, read now.
		if _, unresolved := target.UserToResolve(); unresolved {
			_ = s.resolveAuditUser(ctx, nil, target, key, false) // the write's error is the one to report
		}
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}

// userUpdate is the part of UpdateUser's statement that the patch decides:
// the SET list and its arguments ($3 on: $1 is the tenant, $2 the key),
// and the identities to replace.
type userUpdate struct {
	sets              []string
	args              []any
	identities        []directory.Identity
	replaceIdentities bool
}

// buildUserUpdate translates patch's values and password into SET items,
// through patchProperties; a property name the store does not know is an
// internal error, never SQL.
func buildUserUpdate(patch directory.UserPatch, op string) (*userUpdate, error) {
	up := &userUpdate{sets: []string{"version = u.version + 1"}}
	bind := func(v any) string {
		up.args = append(up.args, v)
		return "$" + strconv.Itoa(2+len(up.args))
	}
	names := make([]string, 0, len(patch.Values))
	for name := range patch.Values {
		names = append(names, name)
	}
	slices.Sort(names) // a stable statement text for the same set of properties
	for _, name := range names {
		v := patch.Values[name]
		if name == propIdentities {
			ids, ok := v.([]directory.Identity)
			if !ok && v != nil {
				return nil, directory.Internal(fmt.Errorf("identities: unexpected value type %T", v), op)
			}
			if err := checkIdentities(ids); err != nil {
				return nil, err
			}
			up.identities, up.replaceIdentities = ids, true
			continue
		}
		p, ok := patchProperties[name]
		if !ok {
			return nil, directory.Internal(fmt.Errorf("property %q cannot be written by the store", name), op)
		}
		arg, err := columnArg(p, v)
		if err != nil {
			return nil, directory.Internal(fmt.Errorf("property %q: %w", name, err), op)
		}
		up.sets = append(up.sets, p.Column+" = "+bind(arg))
	}
	if pw := patch.Password; pw != nil {
		var hash *string
		if pw.Hash != "" {
			hash = &pw.Hash
		}
		var changed *time.Time
		if !patch.PasswordChangedAt.IsZero() {
			changed = &patch.PasswordChangedAt
		}
		up.sets = append(up.sets,
			"password_hash = "+bind(hash),
			"force_change_password_next_sign_in = "+bind(pw.ForceChangePasswordNextSignIn),
			"force_change_password_next_sign_in_with_mfa = "+bind(pw.ForceChangePasswordNextSignInWithMfa),
			"last_password_change_at = COALESCE("+bind(changed)+"::timestamptz, now())",
		)
	}
	return up, nil
}

// updateUserSQL is UpdateUser's statement for a key predicate pred, the
// SET items of a userUpdate, and the WHERE conditions after the key
// (guard, version); from (auditFoldedTarget) may add a FROM item o.
func updateUserSQL(sets []string, from, pred, conds string) string {
	query := `UPDATE users AS u SET ` + strings.Join(sets, ", ")
	if from != "" {
		query += ` FROM ` + from + ` WHERE u.tenant_id = $1 AND u.id = o.id AND `
	} else {
		query += ` WHERE u.tenant_id = $1 AND `
	}
	return query + pred + conds + ` RETURNING ` + userSelectWithPassword
}

// ----- Delete

// DeleteUser moves a user to deleted items (SoftDeleteUser, deleted.go);
// its identities and role assignments stay for a restore. KindNotFound.
// With a guard, the delete happens only when the target's roles pass it
// (same statement); otherwise the guard's error.
func (s *Store) DeleteUser(ctx context.Context, tenantID string, key directory.UserKey, guard ...*directory.TargetGuard) error {
	var g *directory.TargetGuard
	if len(guard) > 0 {
		g = guard[0]
	}
	return s.SoftDeleteUser(ctx, tenantID, key, g, 0, nil)
}

// UserIDBySignInName returns the id of the user one of whose identities has
// issuerAssignedId name (any issuer, case-insensitively), for tools that
// know a customer by their sign-in email. KindNotFound when none does;
// KindConflict when several users share the name under different issuers.
func (s *Store) UserIDBySignInName(ctx context.Context, tenantID, name string) (string, error) {
	const op = "postgres: user by sign-in name"
	if !directory.IsGUID(tenantID) {
		return "", directory.ErrNotFoundUser(name)
	}
	var ids []string
	const query = `SELECT DISTINCT user_id::text FROM user_identities
		WHERE tenant_id = $1 AND lower(issuer_assigned_id) COLLATE "C" = lower($2) AND NOT user_deleted LIMIT 2`
	err := s.stmts.run(ctx, nil, query, func(st *sqlx.Stmt) error {
		if st != nil {
			return st.SelectContext(ctx, &ids, tenantID, name)
		}
		return s.db.SelectContext(ctx, &ids, query, tenantID, name)
	})
	if err != nil {
		return "", translate(err, op)
	}
	switch len(ids) {
	case 0:
		return "", directory.ErrNotFoundUser(name)
	case 1:
		return ids[0], nil
	}
	return "", directory.Errorf(directory.KindConflict, "several users sign in as %q; use the object id", name)
}

// countUsers counts the users q's Filter and Search match (Top, Skip,
// OrderBy and After are ignored). KindUnsupported for queries it refuses.
func (s *Store) countUsers(ctx context.Context, tenantID string, q directory.ListQuery) (int64, error) {
	st, err := buildCount(tenantID, q)
	if err != nil {
		return 0, err
	}
	if !directory.IsGUID(tenantID) {
		return 0, nil
	}
	var n int64
	if err := s.db.GetContext(ctx, &n, st.sql, st.args...); err != nil {
		return 0, translate(err, "postgres: count users")
	}
	return n, nil
}
