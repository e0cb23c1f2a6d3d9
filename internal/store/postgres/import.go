package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// Bulk import (graphdir import). Each batch is one transaction:
//
//  1. COPY the batch into two temporary staging tables (dropped at commit);
//  2. find staged rows whose userPrincipalName or identity already exists in
//     the tenant, and keys that repeat inside the batch, both with
//     PostgreSQL's own lower() so that the verdict is the unique indexes';
//  3. decide in line order which rows load (the first line to claim a key
//     wins, as sequential creates would have it);
//  4. INSERT ... SELECT the rest from staging into users and user_identities.
//
// A unique violation at step 4 can only come from a concurrent writer that
// committed after step 2; the batch is retried once (step 2 then sees the
// new rows), and if it fails again it is split in halves until the rows that
// still collide stand alone and are rejected.

var _ directory.ImportStore = (*Store)(nil)

// importUserColumns are the staged user columns, in COPY order. The insert
// adds tenant_id, created_at and last_password_change_at.
var importUserColumns = []string{
	"line", "id", "account_enabled", "age_group", "business_phones", "city", "company_name",
	"consent_provided_for_minor", "country", "creation_type", "department",
	"display_name", "employee_id", "employee_type", "fax_number", "given_name", "job_title",
	"mail", "mail_nickname", "mobile_phone", "office_location", "other_mails",
	"password_policies", "postal_code", "preferred_language", "proxy_addresses", "state",
	"street_address", "surname", "usage_location", "user_principal_name", "user_type",
	"password_hash", "force_change_password_next_sign_in",
	"force_change_password_next_sign_in_with_mfa",
}

var importIdentityColumns = []string{"line", "user_id", "ordinal", "sign_in_type", "issuer", "issuer_assigned_id"}

// The COPY statements (lib/pq runs COPY ... FROM STDIN prepared in a
// transaction as a copy-in stream).
var (
	copyUsersSQL      = "COPY import_users (" + strings.Join(importUserColumns, ", ") + ") FROM STDIN"
	copyIdentitiesSQL = "COPY import_identities (" + strings.Join(importIdentityColumns, ", ") + ") FROM STDIN"
)

const importStageSQL = `
CREATE TEMP TABLE import_users (
	line integer NOT NULL, id uuid NOT NULL,
	account_enabled boolean, age_group text, business_phones text[] NOT NULL, city text, company_name text,
	consent_provided_for_minor text, country text, creation_type text, department text,
	display_name text, employee_id text, employee_type text, fax_number text, given_name text, job_title text,
	mail text, mail_nickname text, mobile_phone text, office_location text, other_mails text[] NOT NULL,
	password_policies text, postal_code text, preferred_language text, proxy_addresses text[] NOT NULL, state text,
	street_address text, surname text, usage_location text, user_principal_name text NOT NULL, user_type text,
	password_hash text, force_change_password_next_sign_in boolean NOT NULL,
	force_change_password_next_sign_in_with_mfa boolean NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_identities (
	line integer NOT NULL, user_id uuid NOT NULL, ordinal integer NOT NULL,
	sign_in_type text NOT NULL, issuer text NOT NULL, issuer_assigned_id text NOT NULL
) ON COMMIT DROP;
-- Each staged row is checked by one probe of the unique indexes, whatever
-- the statistics say: the staging tables have none, and a bulk load grows
-- users far faster than autovacuum re-analyzes it, so the planner believes
-- the tenant nearly empty and would rather scan all of it for every staged
-- row (quadratic in the load). Only the parameterized index scan is left
-- enabled; the huge cost that leaves on the other paths must not trigger JIT
-- compilation (half a second per batch).
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off;
SET LOCAL enable_material = off;
SET LOCAL enable_bitmapscan = off;
SET LOCAL enable_seqscan = off;
SET LOCAL jit = off`

// importExistingSQL lists staged rows whose keys are taken in the tenant.
// The comparisons are in the "C" collation of the unique indexes
// (users_upn_key, user_identities_issuer_key), so that each is an index probe.
// The probes are LATERAL ... LIMIT 1 rather than EXISTS: PostgreSQL turns an
// EXISTS on users into a de-duplicated scan of the whole tenant joined back
// to every staged row (20 s for 5,000 rows against 10,000 users), while a
// lateral subquery with a limit can only run per staged row, as a probe.
const importExistingSQL = `
SELECT s.line, 'userPrincipalName', s.user_principal_name, ''
FROM import_users s
CROSS JOIN LATERAL (SELECT 1 FROM users u
	WHERE u.tenant_id = $1 AND lower(u.user_principal_name) COLLATE "C" = lower(s.user_principal_name)
		AND u.deleted_at IS NULL
	LIMIT 1) taken
UNION ALL
SELECT s.line, 'identities', s.issuer, s.issuer_assigned_id
FROM import_identities s
CROSS JOIN LATERAL (SELECT 1 FROM user_identities i
	WHERE i.tenant_id = $1 AND lower(i.issuer) COLLATE "C" = lower(s.issuer)
		AND lower(i.issuer_assigned_id) COLLATE "C" = lower(s.issuer_assigned_id) AND NOT i.user_deleted
	LIMIT 1) taken`

// importRepeatsSQL lists the staged rows whose keys occur on more than one
// line of the batch, with the key as the unique indexes compare it.
const importRepeatsSQL = `
SELECT line, 'userPrincipalName', k, '' FROM (
	SELECT line, lower(user_principal_name) AS k,
		count(*) OVER (PARTITION BY lower(user_principal_name) COLLATE "C") AS n
	FROM import_users) d
WHERE n > 1
UNION ALL
SELECT line, 'identities', k1, k2 FROM (
	SELECT line, lower(issuer) AS k1, lower(issuer_assigned_id) AS k2,
		count(*) OVER (PARTITION BY lower(issuer) COLLATE "C", lower(issuer_assigned_id) COLLATE "C") AS n
	FROM import_identities) d
WHERE n > 1`

const importInsertUsersSQL = `
INSERT INTO users (
	tenant_id, id, account_enabled, age_group, business_phones, city, company_name,
	consent_provided_for_minor, country, created_at, creation_type, department,
	display_name, employee_id, employee_type, fax_number, given_name, job_title,
	mail, mail_nickname, mobile_phone, office_location, other_mails,
	password_policies, postal_code, preferred_language, proxy_addresses, state,
	street_address, surname, usage_location, user_principal_name, user_type,
	password_hash, force_change_password_next_sign_in,
	force_change_password_next_sign_in_with_mfa, last_password_change_at)
SELECT
	$1, id, account_enabled, age_group, business_phones, city, company_name,
	consent_provided_for_minor, country, now(), creation_type, department,
	display_name, employee_id, employee_type, fax_number, given_name, job_title,
	mail, mail_nickname, mobile_phone, office_location, other_mails,
	password_policies, postal_code, preferred_language, proxy_addresses, state,
	street_address, surname, usage_location, user_principal_name, user_type,
	password_hash, force_change_password_next_sign_in,
	force_change_password_next_sign_in_with_mfa,
	CASE WHEN password_hash IS NULL THEN NULL ELSE now() END
FROM import_users
WHERE line <> ALL($2::integer[])`

const importInsertIdentitiesSQL = `
INSERT INTO user_identities (tenant_id, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id)
SELECT $1, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id
FROM import_identities
WHERE line <> ALL($2::integer[])`

// ImportUsers loads batch (rows in increasing line order, each User fully
// prepared by directory.Importer) into tenantID in one transaction and
// returns the rows it refused: userPrincipalName or an identity already in
// the tenant, or repeating an earlier line of the batch. An error means
// nothing of the batch was written (KindUnavailable for connection
// trouble, KindInternal otherwise).
func (s *Store) ImportUsers(ctx context.Context, tenantID string, batch []directory.ImportRow) ([]directory.ImportReject, error) {
	const op = "postgres: import users"
	if !directory.IsGUID(tenantID) {
		return nil, directory.Internal(fmt.Errorf("tenant id %q is not a GUID", tenantID), op)
	}
	var early []directory.ImportReject
	ok := batch[:0:0]
	for i, r := range batch {
		if r.User == nil || !directory.IsGUID(r.User.ID) || r.User.UserPrincipalName == nil {
			return nil, directory.Internal(fmt.Errorf("line %d: user not prepared", r.Line), op)
		}
		if i > 0 && r.Line <= batch[i-1].Line {
			return nil, directory.Internal(fmt.Errorf("line %d: batch not in line order", r.Line), op)
		}
		// One user listing an identity twice would fail the whole batch
		// at the unique index.
		if err := checkIdentities(r.User.Identities); err != nil {
			if early == nil {
				ok = append(ok, batch[:i]...)
			}
			early = append(early, directory.ImportReject{Line: r.Line, Property: propIdentities,
				Reason: "The same identity (issuer, issuerAssignedId) is listed twice, ignoring case."})
			continue
		}
		if early != nil {
			ok = append(ok, r)
		}
	}
	if early == nil {
		return s.importBatch(ctx, tenantID, batch, true)
	}
	rejected, err := s.importBatch(ctx, tenantID, ok, true)
	if err != nil {
		return nil, err
	}
	rejected = append(rejected, early...)
	slices.SortFunc(rejected, func(a, b directory.ImportReject) int { return a.Line - b.Line })
	return rejected, nil
}

// importBatch loads batch; on a unique violation it retries once when
// retry is set, then splits the batch.
func (s *Store) importBatch(ctx context.Context, tenantID string, batch []directory.ImportRow, retry bool) ([]directory.ImportReject, error) {
	const op = "postgres: import users"
	if len(batch) == 0 {
		return nil, nil
	}
	rejected, err := s.importOnce(ctx, tenantID, batch)
	if err == nil {
		return rejected, nil
	}
	var pe *pq.Error
	if !errors.As(err, &pe) {
		return nil, translate(err, op)
	}
	switch pe.Code {
	case "23505": // unique_violation
	case "40P01", "40001": // deadlock, serialization failure: worth one more try
		if retry {
			return s.importBatch(ctx, tenantID, batch, false)
		}
		return nil, translate(err, op)
	default:
		return nil, translate(err, op)
	}
	if retry {
		return s.importBatch(ctx, tenantID, batch, false)
	}
	if len(batch) == 1 {
		prop := conflictProperty[pe.Constraint]
		if prop == "" {
			prop = "userPrincipalName"
		}
		return []directory.ImportReject{{Line: batch[0].Line, Property: prop,
			Reason: "Another object with the same " + prop + " was created by a concurrent writer during the import."}}, nil
	}
	half := len(batch) / 2
	first, err := s.importBatch(ctx, tenantID, batch[:half], false)
	if err != nil {
		return nil, err
	}
	second, err := s.importBatch(ctx, tenantID, batch[half:], false)
	if err != nil {
		return nil, err
	}
	return append(first, second...), nil
}

// importOnce runs one transaction of the batch. Driver errors are returned
// untranslated so that importBatch can tell unique violations apart.
func (s *Store) importOnce(ctx context.Context, tenantID string, batch []directory.ImportRow) (_ []directory.ImportReject, err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that matters is err
		}
	}()
	if _, err := tx.ExecContext(ctx, importStageSQL); err != nil {
		return nil, err
	}
	if err := copyUsers(ctx, tx, batch); err != nil {
		return nil, err
	}
	if err := copyIdentities(ctx, tx, batch); err != nil {
		return nil, err
	}
	taken, err := importKeys(ctx, tx, importExistingSQL, tenantID)
	if err != nil {
		return nil, err
	}
	repeats, err := importKeys(ctx, tx, importRepeatsSQL)
	if err != nil {
		return nil, err
	}
	rejected := decideImport(batch, taken, repeats)
	lines := make([]int64, len(rejected))
	for i, r := range rejected {
		lines[i] = int64(r.Line)
	}
	if len(rejected) < len(batch) {
		if _, err := tx.ExecContext(ctx, importInsertUsersSQL, tenantID, pq.Array(lines)); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, importInsertIdentitiesSQL, tenantID, pq.Array(lines)); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return rejected, nil
}

// importKey is one row of importExistingSQL or importRepeatsSQL: a line and
// the key (property and one or two values) it claims.
type importKey struct {
	line   int
	prop   string
	v1, v2 string
}

func importKeys(ctx context.Context, tx *sqlx.Tx, query string, args ...any) ([]importKey, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []importKey
	for rows.Next() {
		var k importKey
		if err := rows.Scan(&k.line, &k.prop, &k.v1, &k.v2); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// decideImport walks the batch in line order: a line is refused when one of
// its keys is taken in the tenant, or was claimed by an earlier line that
// loads. The result is in line order.
func decideImport(batch []directory.ImportRow, taken, repeats []importKey) []directory.ImportReject {
	if len(taken) == 0 && len(repeats) == 0 {
		return nil
	}
	takenBy := make(map[int]importKey, len(taken))
	for _, k := range taken {
		if old, ok := takenBy[k.line]; !ok || old.prop == "identities" && k.prop == "userPrincipalName" {
			takenBy[k.line] = k
		}
	}
	keysOf := make(map[int][]importKey, len(repeats))
	for _, k := range repeats {
		keysOf[k.line] = append(keysOf[k.line], k)
	}
	for _, ks := range keysOf {
		// userPrincipalName first, so that a repeat names it when both repeat.
		slices.SortStableFunc(ks, func(a, b importKey) int { return strings.Compare(b.prop, a.prop) })
	}
	claimed := make(map[importKey]int) // key with line 0 -> line that loads it
	var rejected []directory.ImportReject
	for _, r := range batch {
		if k, ok := takenBy[r.Line]; ok {
			rejected = append(rejected, takenReject(r.Line, k))
			continue
		}
		ks := keysOf[r.Line]
		refused := false
		for _, k := range ks {
			k.line = 0
			if first, ok := claimed[k]; ok {
				what := "userPrincipalName"
				if k.prop == "identities" {
					what = "identity (issuer, issuerAssignedId)"
				}
				rejected = append(rejected, directory.ImportReject{Line: r.Line, Property: k.prop,
					Reason: "Repeats line " + strconv.Itoa(first) + ": the same " + what + ", ignoring case."})
				refused = true
				break
			}
		}
		if refused {
			continue
		}
		for _, k := range ks {
			k.line = 0
			claimed[k] = r.Line
		}
	}
	return rejected
}

func takenReject(line int, k importKey) directory.ImportReject {
	if k.prop == "identities" {
		return directory.ImportReject{Line: line, Property: k.prop,
			Reason: "Another user in the tenant already has the identity (issuer '" + k.v1 + "', issuerAssignedId '" + k.v2 + "'), ignoring case."}
	}
	return directory.ImportReject{Line: line, Property: k.prop,
		Reason: "Another user in the tenant already has the userPrincipalName '" + k.v1 + "', ignoring case."}
}

func copyUsers(ctx context.Context, tx *sqlx.Tx, batch []directory.ImportRow) error {
	stmt, err := tx.PrepareContext(ctx, copyUsersSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range batch {
		u := r.User
		var hash *string
		if u.Password.Hash != "" {
			hash = &u.Password.Hash
		}
		if _, err := stmt.ExecContext(ctx,
			r.Line, u.ID, u.AccountEnabled, u.AgeGroup, strArray(u.BusinessPhones), u.City, u.CompanyName,
			u.ConsentProvidedForMinor, u.Country, u.CreationType, u.Department,
			u.DisplayName, u.EmployeeID, u.EmployeeType, u.FaxNumber, u.GivenName, u.JobTitle,
			u.Mail, u.MailNickname, u.MobilePhone, u.OfficeLocation, strArray(u.OtherMails),
			u.PasswordPolicies, u.PostalCode, u.PreferredLanguage, strArray(u.ProxyAddresses), u.State,
			u.StreetAddress, u.Surname, u.UsageLocation, u.UserPrincipalName, u.UserType,
			hash, u.Password.ForceChangePasswordNextSignIn,
			u.Password.ForceChangePasswordNextSignInWithMfa,
		); err != nil {
			return err
		}
	}
	_, err = stmt.ExecContext(ctx)
	return err
}

func copyIdentities(ctx context.Context, tx *sqlx.Tx, batch []directory.ImportRow) error {
	var stmt *sql.Stmt
	for _, r := range batch {
		for i, id := range r.User.Identities {
			if stmt == nil {
				var err error
				if stmt, err = tx.PrepareContext(ctx, copyIdentitiesSQL); err != nil {
					return err
				}
				defer stmt.Close()
			}
			if _, err := stmt.ExecContext(ctx, r.Line, r.User.ID, i+1, id.SignInType, id.Issuer, id.IssuerAssignedID); err != nil {
				return err
			}
		}
	}
	if stmt == nil {
		return nil
	}
	_, err := stmt.ExecContext(ctx)
	return err
}
