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

// userSelect lists the columns of users u that userRow scans, plus the user's
// identities as one JSON array, so that reading a user is one statement.
const userSelect = `u.tenant_id, u.id,
	u.account_enabled, u.age_group, u.business_phones, u.city, u.company_name,
	u.consent_provided_for_minor, u.country, u.created_at, u.creation_type,
	u.department, u.display_name, u.employee_id, u.employee_type, u.fax_number,
	u.given_name, u.job_title, u.mail, u.mail_nickname, u.mobile_phone,
	u.office_location, u.other_mails, u.password_policies, u.postal_code,
	u.preferred_language, u.proxy_addresses, u.state, u.street_address,
	u.surname, u.usage_location, u.user_principal_name, u.user_type,
	u.password_hash, u.force_change_password_next_sign_in,
	u.force_change_password_next_sign_in_with_mfa, u.last_password_change_at,
	u.version, u.deleted_at,
	COALESCE((SELECT json_agg(json_build_object(
			'signInType', i.sign_in_type,
			'issuer', i.issuer,
			'issuerAssignedId', i.issuer_assigned_id) ORDER BY i.ordinal)
		FROM user_identities i
		WHERE i.tenant_id = u.tenant_id AND i.user_id = u.id), '[]') AS identities`

// userRow is one row of userSelect.
type userRow struct {
	TenantID                string         `db:"tenant_id"`
	ID                      string         `db:"id"`
	AccountEnabled          *bool          `db:"account_enabled"`
	AgeGroup                *string        `db:"age_group"`
	BusinessPhones          pq.StringArray `db:"business_phones"`
	City                    *string        `db:"city"`
	CompanyName             *string        `db:"company_name"`
	ConsentProvidedForMinor *string        `db:"consent_provided_for_minor"`
	Country                 *string        `db:"country"`
	CreatedAt               time.Time      `db:"created_at"`
	CreationType            *string        `db:"creation_type"`
	Department              *string        `db:"department"`
	DisplayName             *string        `db:"display_name"`
	EmployeeID              *string        `db:"employee_id"`
	EmployeeType            *string        `db:"employee_type"`
	FaxNumber               *string        `db:"fax_number"`
	GivenName               *string        `db:"given_name"`
	JobTitle                *string        `db:"job_title"`
	Mail                    *string        `db:"mail"`
	MailNickname            *string        `db:"mail_nickname"`
	MobilePhone             *string        `db:"mobile_phone"`
	OfficeLocation          *string        `db:"office_location"`
	OtherMails              pq.StringArray `db:"other_mails"`
	PasswordPolicies        *string        `db:"password_policies"`
	PostalCode              *string        `db:"postal_code"`
	PreferredLanguage       *string        `db:"preferred_language"`
	ProxyAddresses          pq.StringArray `db:"proxy_addresses"`
	State                   *string        `db:"state"`
	StreetAddress           *string        `db:"street_address"`
	Surname                 *string        `db:"surname"`
	UsageLocation           *string        `db:"usage_location"`
	UserPrincipalName       *string        `db:"user_principal_name"`
	UserType                *string        `db:"user_type"`
	PasswordHash            *string        `db:"password_hash"`
	ForceChange             bool           `db:"force_change_password_next_sign_in"`
	ForceChangeWithMfa      bool           `db:"force_change_password_next_sign_in_with_mfa"`
	LastPasswordChangeAt    *time.Time     `db:"last_password_change_at"`
	Version                 int64          `db:"version"`
	DeletedAt               *time.Time     `db:"deleted_at"`
	Identities              []byte         `db:"identities"`
}

func (r *userRow) user() (*directory.User, error) {
	u := &directory.User{
		ID:                      r.ID,
		TenantID:                r.TenantID,
		AccountEnabled:          r.AccountEnabled,
		AgeGroup:                r.AgeGroup,
		BusinessPhones:          nonNil(r.BusinessPhones),
		City:                    r.City,
		CompanyName:             r.CompanyName,
		ConsentProvidedForMinor: r.ConsentProvidedForMinor,
		Country:                 r.Country,
		CreatedDateTime:         utc(&r.CreatedAt),
		CreationType:            r.CreationType,
		Department:              r.Department,
		DisplayName:             r.DisplayName,
		EmployeeID:              r.EmployeeID,
		EmployeeType:            r.EmployeeType,
		FaxNumber:               r.FaxNumber,
		GivenName:               r.GivenName,
		JobTitle:                r.JobTitle,
		Mail:                    r.Mail,
		MailNickname:            r.MailNickname,
		MobilePhone:             r.MobilePhone,
		OfficeLocation:          r.OfficeLocation,
		OtherMails:              nonNil(r.OtherMails),
		PasswordPolicies:        r.PasswordPolicies,
		PostalCode:              r.PostalCode,
		PreferredLanguage:       r.PreferredLanguage,
		ProxyAddresses:          nonNil(r.ProxyAddresses),
		State:                   r.State,
		StreetAddress:           r.StreetAddress,
		Surname:                 r.Surname,
		UsageLocation:           r.UsageLocation,
		UserPrincipalName:       r.UserPrincipalName,
		UserType:                r.UserType,

		LastPasswordChangeDateTime: utc(r.LastPasswordChangeAt),
		DeletedDateTime:            utc(r.DeletedAt),
		Version:                    r.Version,
		Password: directory.PasswordState{
			ForceChangePasswordNextSignIn:        r.ForceChange,
			ForceChangePasswordNextSignInWithMfa: r.ForceChangeWithMfa,
		},
	}
	if r.PasswordHash != nil {
		u.Password.Hash = *r.PasswordHash
	}
	u.Identities = []directory.Identity{}
	if err := decodeIdentities(r.Identities, &u.Identities); err != nil { // identities.go
		return nil, fmt.Errorf("decode identities: %w", err)
	}
	return u, nil
}

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

const insertUserSQL = `INSERT INTO users ` + insertUserValues + `
RETURNING created_at, last_password_change_at, version`

// insertUserValues is the column list and VALUES of insertUserSQL
// ($1..$37).
const insertUserValues = `(
	tenant_id, id, account_enabled, age_group, business_phones, city, company_name,
	consent_provided_for_minor, country, created_at, creation_type, department,
	display_name, employee_id, employee_type, fax_number, given_name, job_title,
	mail, mail_nickname, mobile_phone, office_location, other_mails,
	password_policies, postal_code, preferred_language, proxy_addresses, state,
	street_address, surname, usage_location, user_principal_name, user_type,
	password_hash, force_change_password_next_sign_in,
	force_change_password_next_sign_in_with_mfa, last_password_change_at)
VALUES (
	$1, $2, $3, $4, $5, $6, $7,
	$8, $9, COALESCE($10, now()), $11, $12,
	$13, $14, $15, $16, $17, $18,
	$19, $20, $21, $22, $23,
	$24, $25, $26, $27, $28,
	$29, $30, $31, $32, $33,
	$34, $35,
	$36, CASE WHEN $34::text IS NULL THEN $37::timestamptz ELSE COALESCE($37, now()) END)`

// insertUserIdentitiesSQL is insertUserSQL and insertIdentitiesSQL in one
// statement (one round trip): the identities ($38..$40) read the new
// user's key from the first insert, and user_identities' foreign key is
// checked at the end of the statement, when the user row exists. A
// unique violation still names the users index first, as the users
// insert runs before the identities insert reads its row. %s is the
// audit values expression (auditValuesReturning) or NULL.
const insertUserIdentitiesSQL = `WITH u AS (
	INSERT INTO users AS u ` + insertUserValues + `
	RETURNING u.tenant_id, u.id, u.created_at, u.last_password_change_at, u.version, %s AS audit_values),
ins AS (
	INSERT INTO user_identities (tenant_id, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id)
	SELECT u.tenant_id, u.id, i.ord, i.sign_in_type, i.issuer, i.issuer_assigned_id
	FROM u, unnest($38::text[], $39::text[], $40::text[]) WITH ORDINALITY
		AS i(sign_in_type, issuer, issuer_assigned_id, ord))
SELECT created_at, last_password_change_at, version, audit_values FROM u`

// insertUserAuditedSQL is insertUserSQL returning the audit values too
// (%s, auditValuesReturning), for a user without identities.
const insertUserAuditedSQL = `INSERT INTO users AS u ` + insertUserValues + `
RETURNING created_at, last_password_change_at, version, %s AS audit_values`

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
// userPrincipalName is missing.
func (s *Store) CreateUser(ctx context.Context, u *directory.User) error {
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
	args := insertUserArgs(u)
	query := insertUserSQL
	if len(u.Identities) > 0 {
		args = append(args, identityArrays(u.Identities)...)
		query = insertUserIdentitiesSQL
	}
	// Nothing after the insert changes the user's columns, so it can
	// return the audit event's new values (audit.go).
	auditValues, ev := auditValuesReturning(ctx, op, &args)
	switch {
	case query == insertUserIdentitiesSQL && auditValues == "":
		query = fmt.Sprintf(query, "NULL::json")
	case query == insertUserIdentitiesSQL:
		query = fmt.Sprintf(query, auditValues)
	case auditValues != "":
		query = fmt.Sprintf(insertUserAuditedSQL, auditValues)
	}
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
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
// (case-insensitively) by userPrincipalName. KindNotFound when the tenant has
// no such user.
func (s *Store) GetUser(ctx context.Context, tenantID string, key directory.UserKey) (*directory.User, error) {
	const op = "postgres: get user"
	pred, arg, ok := keyPredicate(key, 2)
	if !ok || !directory.IsGUID(tenantID) {
		return nil, directory.ErrNotFoundUser(key.String())
	}
	var r userRow
	err := s.queryRowx(ctx, nil, preparedStatement, `SELECT `+userSelect+` FROM users u WHERE u.tenant_id = $1 AND `+pred, []any{tenantID, arg},
		func(row *sqlx.Row) error { return scanUser(row, &r) }) // scan.go
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

// ListUsers returns one page of the users q matches, with identities, in
// one statement: Filter and Search translated through the property
// allow-list (query.go, search.go), ordered by OrderBy then id, after the
// keyset cursor q.After (list.go). Skip applies to the first page only (no
// After). A Top outside 1..999 is taken as 100 (below) or 999 (above).
// Page.Next is set when more rows exist; Page.Count, when q.Count, is the
// number of all matches. KindUnsupported for queries it refuses,
// KindInvalid for a cursor that does not fit the order.
func (s *Store) ListUsers(ctx context.Context, tenantID string, q directory.ListQuery) (*directory.Page, error) {
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
			page.Next = &directory.Cursor{ID: last.ID}
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
			n, err := s.CountUsers(ctx, tenantID, q)
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
func scanAuditedUser(row *sqlx.Row, r *auditedUserRow) error { return scanOne(row, r.field, r) }

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

	args := []any{tenantID, keyArg}
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	sets := []string{"version = u.version + 1"}

	var identities []directory.Identity
	replaceIdentities := false
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
			identities, replaceIdentities = ids, true
			continue
		}
		col, ok := patchColumns[name]
		if !ok {
			return nil, directory.Internal(fmt.Errorf("property %q cannot be written by the store", name), op)
		}
		arg, err := columnArg(col, v)
		if err != nil {
			return nil, directory.Internal(fmt.Errorf("property %q: %w", name, err), op)
		}
		sets = append(sets, col.name+" = "+bind(arg))
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
		sets = append(sets,
			"password_hash = "+bind(hash),
			"force_change_password_next_sign_in = "+bind(pw.ForceChangePasswordNextSignIn),
			"force_change_password_next_sign_in_with_mfa = "+bind(pw.ForceChangePasswordNextSignInWithMfa),
			"last_password_change_at = COALESCE("+bind(changed)+"::timestamptz, now())",
		)
	}
	// The audit event's user target is resolved (and its row locked) by a
	// FOR UPDATE subquery of this UPDATE rather than by auditBefore's own
	// statement. Not with a guard: the guard's look at role_assignments
	// must run on a snapshot taken after the row lock is held, as it does
	// when the lock comes first.
	txCtx, from := ctx, ""
	var target *directory.AuditEvent
	if patch.Guard == nil {
		from, txCtx, target = auditFoldedTarget(ctx, op, key, pred, &args)
	}
	query := `UPDATE users AS u SET ` + strings.Join(sets, ", ")
	if from != "" {
		query += ` FROM ` + from + ` WHERE u.tenant_id = $1 AND u.id = o.id AND `
	} else {
		query += ` WHERE u.tenant_id = $1 AND `
	}
	query += pred + guardSQL(patch.Guard, bind) + versionSQL(patch.IfVersion, bind) + ` RETURNING ` + userSelect
	if from != "" {
		query += `, ` + auditFoldedColumns
	}
	// Nothing after this UPDATE changes the user's columns, so its
	// RETURNING list can carry the audit event's new values (audit.go).
	auditValues, ev := auditValuesReturning(ctx, op, &args)
	if auditValues != "" {
		query += `, ` + auditValues + ` AS audit_values`
	}

	var u *directory.User
	resolveTried := false
	err := s.inTx(txCtx, op, func(tx *sqlx.Tx) error {
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

// columnArg checks that v has the Go type col expects and returns the value to bind.
func columnArg(col column, v any) (any, error) {
	switch col.typ {
	case colString:
		switch v := v.(type) {
		case *string:
			return v, nil
		case string:
			return v, nil
		case nil:
			return nil, nil
		}
	case colBool:
		switch v := v.(type) {
		case *bool:
			return v, nil
		case bool:
			return v, nil
		case nil:
			return nil, nil
		}
	case colStrings:
		switch v := v.(type) {
		case []string:
			return strArray(v), nil
		case nil:
			return strArray(nil), nil
		}
	}
	return nil, fmt.Errorf("unexpected value type %T", v)
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
	return s.SoftDeleteUser(ctx, tenantID, key, g, 0)
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

// CountUsers counts the users q's Filter and Search match (Top, Skip,
// OrderBy and After are ignored). KindUnsupported for queries it refuses.
func (s *Store) CountUsers(ctx context.Context, tenantID string, q directory.ListQuery) (int64, error) {
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

// insertUserArgs are the arguments $1..$37 of insertUserSQL for u.
func insertUserArgs(u *directory.User) []any {
	var hash *string
	if u.Password.Hash != "" {
		hash = &u.Password.Hash
	}
	return []any{
		u.TenantID, u.ID, u.AccountEnabled, u.AgeGroup, strArray(u.BusinessPhones), u.City, u.CompanyName,
		u.ConsentProvidedForMinor, u.Country, u.CreatedDateTime, u.CreationType, u.Department,
		u.DisplayName, u.EmployeeID, u.EmployeeType, u.FaxNumber, u.GivenName, u.JobTitle,
		u.Mail, u.MailNickname, u.MobilePhone, u.OfficeLocation, strArray(u.OtherMails),
		u.PasswordPolicies, u.PostalCode, u.PreferredLanguage, strArray(u.ProxyAddresses), u.State,
		u.StreetAddress, u.Surname, u.UsageLocation, u.UserPrincipalName, u.UserType,
		hash, u.Password.ForceChangePasswordNextSignIn,
		u.Password.ForceChangePasswordNextSignInWithMfa, u.LastPasswordChangeDateTime,
	}
}
