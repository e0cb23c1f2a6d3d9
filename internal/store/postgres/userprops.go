package postgres

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// What the store derives from userProperties (properties.go), computed once
// at init by deriveUserSQL and never per request. Nothing below names a
// property: a row of the table is all a new property needs here.

// The password state: columns of users that no property reads or writes
// (passwordProfile is write-only), read only where a caller needs them
// (GetUserWithPassword, UpdateUser's result, ChangePassword), written by
// INSERT, COPY and a password patch. last_password_change_at follows them
// in INSERT and COPY because its value depends on the hash.
var passwordColumns = []string{"password_hash", "force_change_password_next_sign_in", "force_change_password_next_sign_in_with_mfa"}

var (
	// userSelect lists the columns of users u that userRow scans, plus the
	// user's identities as one JSON array, so that reading a user is one
	// statement. No password state: see userSelectWithPassword.
	userSelect string
	// userSelectWithPassword is userSelect and passwordColumns.
	userSelectWithPassword string

	// getUserByIDSQL and getUserByUPNSQL are GetUser's statements ($1
	// tenant, $2 key); getUserWithPasswordByIDSQL and ...ByUPNSQL those
	// of GetUserWithPassword.
	getUserByIDSQL, getUserByUPNSQL                         string
	getUserWithPasswordByIDSQL, getUserWithPasswordByUPNSQL string

	// userWriteColumns are the users columns INSERT and COPY set, in
	// order: tenant_id, id, the table's writable columns, passwordColumns,
	// last_password_change_at. userWriteArgs binds them.
	userWriteColumns []string
	// insertUserValues is the column list and VALUES of insertUserSQL
	// ($1..$len(userWriteColumns)).
	insertUserValues string
	// insertUserSQL inserts one user, returning what the database decided.
	insertUserSQL string
	// insertUserIdentitiesSQL is insertUserSQL and insertIdentitiesSQL in
	// one statement (one round trip): the identities (three text[]
	// parameters after the user's) read the new user's key from the first
	// insert, and user_identities' foreign key is checked at the end of
	// the statement, when the user row exists. A unique violation still
	// names the users index first, as the users insert runs before the
	// identities insert reads its row. %s is the audit values expression
	// (auditValuesReturning) or NULL.
	insertUserIdentitiesSQL string
	// insertUserIdentitiesUnauditedSQL is insertUserIdentitiesSQL without
	// audit values.
	insertUserIdentitiesUnauditedSQL string
	// insertUserAuditedSQL is insertUserSQL returning the audit values too
	// (%s, auditValuesReturning), for a user without identities.
	insertUserAuditedSQL string
	// copyUsersSQL is the COPY of userWriteColumns (import.go, import_raw.go).
	copyUsersSQL string

	// storedProperties are the rows with a users column other than the
	// key, in table order: the body of userSelect.
	storedProperties []*userProperty
	// insertProperties are the storedProperties INSERT and COPY bind.
	insertProperties []*userProperty
	// patchProperties are the properties a UserPatch may set through a
	// plain column, by Graph name. identities and the password are written
	// separately; id, createdDateTime and lastPasswordChangeDateTime are
	// set by the store itself. The read-only creationType and
	// proxyAddresses are here because the service maintains them.
	patchProperties map[string]*userProperty
	// queryPropertyByFold is the query allow-list by lower-cased name.
	queryPropertyByFold map[string]*userProperty
	// propertyOfColumn maps users columns (and id) back to Graph names, so
	// that a NOT NULL violation can name the property.
	propertyOfColumn map[string]string
	// deltaPropertyOfColumn maps the change log's columns to the readable
	// properties they hold (delta.go).
	deltaPropertyOfColumn map[string]string
	// userBinders give, for each column userSelect (or
	// userSelectWithPassword) can return, its scan target in a userRow.
	userBinders map[string]func(*userRow) any
	// userSelectBinders and userSelectWithPasswordBinders are userBinders
	// in the column order of the two select lists (GetUser scans by
	// position, without looking the names up).
	userSelectBinders, userSelectWithPasswordBinders []func(*userRow) any
	// collectionProperties are the stored collections, which read as []
	// rather than null.
	collectionProperties []*userProperty
	// createdArg is the position of created_at in userWriteArgs.
	createdArg int
)

func init() { deriveUserSQL() }

// identitiesSelect is the user's identities as one JSON array (decoded by
// decodeIdentities).
const identitiesSelect = `COALESCE((SELECT json_agg(json_build_object(
			'signInType', i.sign_in_type,
			'issuer', i.issuer,
			'issuerAssignedId', i.issuer_assigned_id) ORDER BY i.ordinal)
		FROM user_identities i
		WHERE i.tenant_id = u.tenant_id AND i.user_id = u.id), '[]') AS identities`

// deriveUserSQL computes every variable above from userProperties.
func deriveUserSQL() {
	storedProperties, insertProperties, collectionProperties = nil, nil, nil
	patchProperties = map[string]*userProperty{}
	queryPropertyByFold = map[string]*userProperty{}
	propertyOfColumn = map[string]string{"id": "id"}
	deltaPropertyOfColumn = map[string]string{propIdentities: propIdentities}
	userBinders = map[string]func(*userRow) any{
		"tenant_id":  func(r *userRow) any { return &r.u.TenantID },
		"id":         func(r *userRow) any { return &r.u.ID },
		"version":    func(r *userRow) any { return &r.u.Version },
		"deleted_at": func(r *userRow) any { return scanUTC{&r.u.DeletedDateTime} },
		"identities": func(r *userRow) any { return &r.identities },
		"password_hash": func(r *userRow) any {
			return scanString{&r.passwordHash}
		},
		"force_change_password_next_sign_in": func(r *userRow) any {
			return &r.u.Password.ForceChangePasswordNextSignIn
		},
		"force_change_password_next_sign_in_with_mfa": func(r *userRow) any {
			return &r.u.Password.ForceChangePasswordNextSignInWithMfa
		},
	}
	for i := range userProperties {
		p := &userProperties[i]
		if p.queryable() {
			queryPropertyByFold[strings.ToLower(p.Name)] = p
		}
		if p.Column == "" || p.Kind == kindID {
			continue
		}
		storedProperties = append(storedProperties, p)
		propertyOfColumn[p.Column] = p.Name
		deltaPropertyOfColumn[p.Column] = p.Name
		userBinders[p.Column] = p.binder()
		if p.Kind == kindCollection {
			collectionProperties = append(collectionProperties, p)
		}
		if p.Write != writeNone {
			insertProperties = append(insertProperties, p)
		}
		if p.Write == writeValue {
			patchProperties[p.Name] = p
		}
	}

	// SELECT
	head := []string{"tenant_id", "id"}
	var cols []string
	cols = append(cols, head...)
	for _, p := range storedProperties {
		cols = append(cols, p.Column)
	}
	cols = append(cols, "version", "deleted_at")
	list := func(cols []string) string {
		var b strings.Builder
		for _, c := range cols {
			b.WriteString("u." + c + ", ")
		}
		return b.String()
	}
	withPassword := slices.Concat(cols, passwordColumns)
	userSelect = list(cols) + identitiesSelect
	userSelectWithPassword = list(withPassword) + identitiesSelect
	binders := func(cols []string) []func(*userRow) any {
		out := make([]func(*userRow) any, 0, len(cols)+1)
		for _, c := range slices.Concat(cols, []string{"identities"}) {
			out = append(out, userBinders[c])
		}
		return out
	}
	userSelectBinders = binders(cols)
	userSelectWithPasswordBinders = binders(withPassword)
	byID, _, _ := keyPredicate(directory.UserKey{ID: "00000000-0000-0000-0000-000000000000"}, 2)
	byUPN, _, _ := keyPredicate(directory.UserKey{UPN: "-"}, 2)
	getUserByIDSQL = `SELECT ` + userSelect + ` FROM users u WHERE u.tenant_id = $1 AND ` + byID
	getUserByUPNSQL = `SELECT ` + userSelect + ` FROM users u WHERE u.tenant_id = $1 AND ` + byUPN
	getUserWithPasswordByIDSQL = `SELECT ` + userSelectWithPassword + ` FROM users u WHERE u.tenant_id = $1 AND ` + byID
	getUserWithPasswordByUPNSQL = `SELECT ` + userSelectWithPassword + ` FROM users u WHERE u.tenant_id = $1 AND ` + byUPN

	// INSERT and COPY
	userWriteColumns = append([]string{}, head...)
	values := []string{"$1", "$2"}
	param := func() string { return "$" + strconv.Itoa(len(values)+1) }
	for _, p := range insertProperties {
		v := param()
		if p.Write == writeCreateOnly {
			createdArg = len(values)
			v = "COALESCE(" + v + ", now())"
		}
		userWriteColumns = append(userWriteColumns, p.Column)
		values = append(values, v)
	}
	hash := param()
	for _, c := range passwordColumns {
		userWriteColumns = append(userWriteColumns, c)
		values = append(values, param())
	}
	last := param()
	userWriteColumns = append(userWriteColumns, "last_password_change_at")
	values = append(values, "CASE WHEN "+hash+"::text IS NULL THEN "+last+"::timestamptz ELSE COALESCE("+last+", now()) END")
	n := len(values)
	insertUserValues = "(\n\t" + strings.Join(userWriteColumns, ", ") + ")\nVALUES (\n\t" + strings.Join(values, ", ") + ")"
	insertUserSQL = `INSERT INTO users ` + insertUserValues + `
RETURNING created_at, last_password_change_at, version`
	ids := func(k int) string { return "$" + strconv.Itoa(n+k) + "::text[]" }
	insertUserIdentitiesSQL = `WITH u AS (
	INSERT INTO users AS u ` + insertUserValues + `
	RETURNING u.tenant_id, u.id, u.created_at, u.last_password_change_at, u.version, %s AS audit_values),
ins AS (
	INSERT INTO user_identities (tenant_id, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id)
	SELECT u.tenant_id, u.id, i.ord, i.sign_in_type, i.issuer, i.issuer_assigned_id
	FROM u, unnest(` + ids(1) + `, ` + ids(2) + `, ` + ids(3) + `) WITH ORDINALITY
		AS i(sign_in_type, issuer, issuer_assigned_id, ord))
SELECT created_at, last_password_change_at, version, audit_values FROM u`
	insertUserIdentitiesUnauditedSQL = fmt.Sprintf(insertUserIdentitiesSQL, "NULL::json")
	insertUserAuditedSQL = `INSERT INTO users AS u ` + insertUserValues + `
RETURNING created_at, last_password_change_at, version, %s AS audit_values`
	copyUsersSQL = "COPY users (" + strings.Join(userWriteColumns, ", ") + ") FROM STDIN"
}

// userWriteArgs binds userWriteColumns for u in tenantID: created and
// lastPasswordChange are the values of created_at and
// last_password_change_at (INSERT passes u's, which may be nil; COPY the
// load's time).
func userWriteArgs(tenantID string, u *directory.User, created, lastPasswordChange *time.Time) []any {
	args := make([]any, 0, len(userWriteColumns)+3) // + the identities of insertUserIdentitiesSQL
	args = append(args, tenantID, u.ID)
	for _, p := range insertProperties {
		args = append(args, p.value(u))
	}
	var hash *string
	if u.Password.Hash != "" {
		hash = &u.Password.Hash
	}
	args = append(args, hash, u.Password.ForceChangePasswordNextSignIn, u.Password.ForceChangePasswordNextSignInWithMfa, lastPasswordChange)
	args[createdArg] = created
	return args
}

// insertUserArgs are the arguments of insertUserSQL for u.
func insertUserArgs(u *directory.User) []any {
	return userWriteArgs(u.TenantID, u, u.CreatedDateTime, u.LastPasswordChangeDateTime)
}

// value returns p's value on u as a statement argument.
func (p *userProperty) value(u *directory.User) any {
	switch {
	case p.str != nil:
		return *p.str(u)
	case p.b != nil:
		return *p.b(u)
	case p.dt != nil:
		return *p.dt(u)
	case p.coll != nil:
		return strArray(*p.coll(u))
	}
	v := u.Props[p.Name]
	if p.Kind == kindCollection {
		c, _ := v.([]string)
		return strArray(c)
	}
	if v == nil {
		return nil
	}
	return v
}

// binder returns the scan target of p's column in a userRow.
func (p *userProperty) binder() func(*userRow) any {
	switch {
	case p.str != nil:
		f := p.str
		return func(r *userRow) any { return scanString{f(&r.u)} }
	case p.b != nil:
		f := p.b
		return func(r *userRow) any { return scanBool{f(&r.u)} }
	case p.dt != nil:
		f := p.dt
		return func(r *userRow) any { return scanUTC{f(&r.u)} }
	case p.coll != nil:
		f := p.coll
		return func(r *userRow) any { return (*pq.StringArray)(f(&r.u)) }
	}
	return func(r *userRow) any { return scanProp{u: &r.u, p: p} }
}

// columnArg checks that v, a UserPatch value of p, has the Go type p's
// column expects, and returns the value to bind.
func columnArg(p *userProperty, v any) (any, error) {
	switch p.Kind {
	case kindString, kindStringNotNull:
		switch v := v.(type) {
		case *string:
			return v, nil
		case string:
			return v, nil
		case nil:
			return nil, nil
		}
	case kindBool:
		switch v := v.(type) {
		case *bool:
			return v, nil
		case bool:
			return v, nil
		case nil:
			return nil, nil
		}
	case kindCollection:
		switch v := v.(type) {
		case []string:
			return strArray(v), nil
		case nil:
			return strArray(nil), nil
		}
	}
	return nil, fmt.Errorf("unexpected value type %T", v)
}

// scanProp scans the column of a property without a field of
// directory.User into u.Props.
type scanProp struct {
	u *directory.User
	p *userProperty
}

func (s scanProp) Scan(src any) error {
	var v any
	switch s.p.Kind {
	case kindString, kindStringNotNull:
		var p *string
		if err := (scanString{&p}).Scan(src); err != nil {
			return err
		}
		if p != nil {
			v = p
		}
	case kindBool:
		var p *bool
		if err := (scanBool{&p}).Scan(src); err != nil {
			return err
		}
		if p != nil {
			v = p
		}
	case kindDateTime:
		var p *time.Time
		if err := (scanUTC{&p}).Scan(src); err != nil {
			return err
		}
		if p != nil {
			v = p
		}
	case kindCollection:
		var a pq.StringArray
		if err := a.Scan(src); err != nil {
			return err
		}
		v = nonNil(a)
	default:
		return fmt.Errorf("property %s: cannot scan kind %d", s.p.Name, s.p.Kind)
	}
	if v == nil {
		return nil
	}
	if s.u.Props == nil {
		s.u.Props = make(map[string]any)
	}
	s.u.Props[s.p.Name] = v
	return nil
}
