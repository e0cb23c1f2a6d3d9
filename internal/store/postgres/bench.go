package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// Support for `graphdir bench` (cmd/graphdir/bench.go): the dedicated
// database, the seeded-user marker, sampling keys, and the raw-SQL side of
// each scenario, which runs the very statements the store runs so that the
// bench's ratio compares graphdir with PostgreSQL doing the same work.

// BenchSeedType is the employeeType of the users `graphdir bench` seeds, and
// BenchCreatedType that of the users its create scenarios add (removed at
// the start of every run, so repeated runs measure the same database).
const (
	BenchSeedType    = "bench-seed"
	BenchCreatedType = "bench-created"
)

// EnsureDatabase creates database name on the server of adminURL unless it
// exists, and returns adminURL pointed at it.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	db, err := sql.Open("postgres", adminURL)
	if err != nil {
		return "", err
	}
	defer db.Close()
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	if !exists {
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
			return "", fmt.Errorf("postgres: create database %s: %w", name, err)
		}
	}
	if strings.HasPrefix(adminURL, "postgres://") || strings.HasPrefix(adminURL, "postgresql://") {
		u, err := url.Parse(adminURL)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	return adminURL + " dbname=" + name, nil
}

// BenchPrepare removes the users earlier bench runs created and returns how
// many seeded users the tenant holds.
func (s *Store) BenchPrepare(ctx context.Context, tenantID string) (int64, error) {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = $1 AND employee_type = $2`, tenantID, BenchCreatedType); err != nil {
		return 0, fmt.Errorf("postgres: bench cleanup: %w", err)
	}
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE tenant_id = $1 AND employee_type = $2`, tenantID, BenchSeedType).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres: bench count: %w", err)
	}
	return n, nil
}

// Analyze refreshes the planner statistics of the user tables, as a bulk
// load needs before its first queries, and vacuums them, as autovacuum
// would after a while: counts read the live-user indexes of users
// (schema/00013_live_indexes.sql) and $search reads user_search_tokens by
// index-only scans, which visit the heap until the visibility map marks
// its pages all-visible. One statement: VACUUM cannot run in a
// multi-statement string.
func (s *Store) Analyze(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `VACUUM (ANALYZE) users, user_identities, user_attrs, user_search_tokens`)
	return err
}

// BenchUser is one sampled seeded user: the keys the scenarios look up.
type BenchUser struct {
	ID, UPN, DisplayName, Issuer, Email string
}

// BenchSample returns up to n seeded users of the tenant, spread over the
// whole table, each with its first emailAddress identity.
func (s *Store) BenchSample(ctx context.Context, tenantID string, n int) ([]BenchUser, error) {
	rows, err := s.db.QueryContext(ctx, `
		SELECT u.id, u.user_principal_name, u.display_name, i.issuer, i.issuer_assigned_id
		FROM users u TABLESAMPLE BERNOULLI (1)
		JOIN user_identities i ON i.tenant_id = u.tenant_id AND i.user_id = u.id AND i.sign_in_type = 'emailAddress'
		WHERE u.tenant_id = $1 AND u.employee_type = $2
		ORDER BY random() LIMIT $3`, tenantID, BenchSeedType, n)
	if err != nil {
		return nil, fmt.Errorf("postgres: bench sample: %w", err)
	}
	defer rows.Close()
	var out []BenchUser
	for rows.Next() {
		var u BenchUser
		if err := rows.Scan(&u.ID, &u.UPN, &u.DisplayName, &u.Issuer, &u.Email); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
	// Prepared says that the store runs the statement prepared
	// (stmtcache.go), so RawQuery does too: the ratio compares the same
	// protocol work, not graphdir's planning against none or the reverse.
	Prepared bool
}

// GetUserStatement is the statement GetUser runs for key.
func GetUserStatement(tenantID string, key directory.UserKey) (Statement, error) {
	pred, arg, ok := keyPredicate(key, 2)
	if !ok {
		return Statement{}, fmt.Errorf("postgres: bad key %v", key)
	}
	return Statement{SQL: `SELECT ` + userSelect + ` FROM users u WHERE u.tenant_id = $1 AND ` + pred, Args: []any{tenantID, arg}, Prepared: preparedStatement}, nil
}

// ListStatement is the statement ListUsers runs for q.
func ListStatement(tenantID string, q directory.ListQuery) (Statement, error) {
	st, err := buildList(tenantID, q, pageSize(q.Top))
	if err != nil {
		return Statement{}, err
	}
	return Statement{SQL: st.sql, Args: st.args, Prepared: preparedList(q)}, nil
}

// RawQuery runs st and reads every column of every row as raw bytes: what
// PostgreSQL and the driver cost, without graphdir's decoding. It returns
// the number of rows.
func (s *Store) RawQuery(ctx context.Context, st Statement) (int, error) {
	rows, err := s.queryx(ctx, st.Prepared, st.SQL, st.Args)
	if err != nil {
		return 0, err
	}
	return drainRows(rows.Rows)
}

// drainRows reads every column of every row as raw bytes, closes rows and
// returns the number of rows.
func drainRows(rows *sql.Rows) (int, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	vals := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// RawCreateUser inserts u (ID, TenantID and UserPrincipalName set) and its
// identities with CreateUser's two statements in one transaction, without
// the audit hooks, retries and error translation around them.
func (s *Store) RawCreateUser(ctx context.Context, u *directory.User) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	args := insertUserArgs(u)
	// Prepared like CreateUser's; whatever insertUserSQL returns is read as raw bytes.
	if err := s.rawTxQuery(ctx, tx, preparedStatement, insertUserSQL, args, nil); err != nil {
		return err
	}
	if err := s.rawIdentities(ctx, tx, u); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) rawIdentities(ctx context.Context, tx *sqlx.Tx, u *directory.User) error {
	if len(u.Identities) == 0 {
		return nil
	}
	types := make([]string, len(u.Identities))
	issuers := make([]string, len(u.Identities))
	assigned := make([]string, len(u.Identities))
	for i, id := range u.Identities {
		types[i], issuers[i], assigned[i] = id.SignInType, id.Issuer, id.IssuerAssignedID
	}
	return s.execTx(ctx, tx, preparedStatement, insertIdentitiesSQL, u.TenantID, u.ID, pq.Array(types), pq.Array(issuers), pq.Array(assigned))
}

// rawTxQuery runs query in tx as the store would (prepared or not), reads
// its rows as raw bytes and stores their number in *n (when n is not nil).
func (s *Store) rawTxQuery(ctx context.Context, tx *sqlx.Tx, prepared bool, query string, args []any, n *int) error {
	drain := func(rows *sql.Rows, err error) error {
		if err != nil {
			return err
		}
		m, err := drainRows(rows)
		if n != nil {
			*n = m
		}
		return err
	}
	if !prepared {
		return drain(tx.QueryContext(ctx, query, args...))
	}
	return s.stmts.run(ctx, tx, query, func(st *sqlx.Stmt) error {
		if st != nil {
			return drain(st.QueryContext(ctx, args...))
		}
		return drain(tx.QueryContext(ctx, query, args...))
	})
}

// RawPatchUser runs the statement UpdateUser runs for a patch of
// jobTitle and officeLocation (the same text, prepared as UpdateUser
// prepares it), in a transaction, reading the returned row as raw bytes.
func (s *Store) RawPatchUser(ctx context.Context, tenantID, id, jobTitle, office string) error {
	pred, keyArg, ok := keyPredicate(directory.UserKey{ID: id}, 2)
	if !ok {
		return fmt.Errorf("postgres: bad user id %q", id)
	}
	query := `UPDATE users AS u SET version = u.version + 1, ` + patchProperties["jobTitle"].Column + ` = $3, ` +
		patchProperties["officeLocation"].Column + ` = $4 WHERE u.tenant_id = $1 AND ` + pred + ` RETURNING ` + userSelectWithPassword
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	var n int
	if err := s.rawTxQuery(ctx, tx, preparedStatement, query, []any{tenantID, keyArg, jobTitle, office}, &n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("postgres: no user %s", id)
	}
	return tx.Commit()
}

// BenchClearUsers deletes every user of tenantID: the scratch tenant of the
// bench's import-rate run.
func (s *Store) BenchClearUsers(ctx context.Context, tenantID string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = $1`, tenantID)
	return err
}

// BenchSeedNames are the value pools of BenchBulkSeed.
type BenchSeedNames struct {
	First, Last, Cities, Departments, Titles []string
}

// BenchBulkSeed adds users from..to-1 to tenantID the fast way a benchmark
// can afford and a production import cannot: in one transaction it drops
// the secondary indexes of users, user_identities and user_attrs,
// generates the users with INSERT ... SELECT generate_series, and builds
// the indexes again (one sort per index instead of a million insertions
// into each of ~45, nine of them trigram GIN). The users are the ones cmd/graphdir's
// benchUserLine describes: names spread by a multiplicative hash, a UPN
// first.last.N@domain, an emailAddress identity, passwordHash hash. If
// anything fails the transaction rolls back, indexes included.
func (s *Store) BenchBulkSeed(ctx context.Context, tenantID, domain string, from, to int, hash string, n BenchSeedNames) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL statement_timeout = 0`); err != nil {
		return err
	}
	rows, err := tx.QueryContext(ctx, `
		SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = current_schema() AND i.tablename IN ('users', 'user_identities', 'user_attrs', 'user_search_tokens')
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)`)
	if err != nil {
		return err
	}
	var names, defs []string
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return err
		}
		names, defs = append(names, name), append(defs, def)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, `DROP INDEX `+pq.QuoteIdentifier(name)); err != nil {
			return fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	// h is the same multiplicative spread as benchUserLine, in 63 bits.
	const gen = `
		WITH g AS (
			SELECT g, ((g::numeric * 11400714819323198485 + 7145929705339707417) % 18446744073709551616) AS h
			FROM generate_series($3::bigint, $4::bigint - 1) g
		), v AS (
			SELECT g, md5($1::text || ':' || g)::uuid AS id,
				($5::text[])[1 + (h % array_length($5::text[], 1))::int] AS first,
				($6::text[])[1 + (floor(h / 65536) % array_length($6::text[], 1))::int] AS last,
				replace(($7::text[])[1 + (floor(h / 4294967296) % array_length($7::text[], 1))::int], '_', ' ') AS city,
				($8::text[])[1 + (floor(h / 1099511627776) % array_length($8::text[], 1))::int] AS dept,
				($9::text[])[1 + (floor(h / 281474976710656) % array_length($9::text[], 1))::int] AS title
			FROM g
		)`
	if _, err := tx.ExecContext(ctx, gen+`
		INSERT INTO users (tenant_id, id, account_enabled, display_name, given_name, surname, mail_nickname,
			user_principal_name, mail, city, department, job_title, employee_id, employee_type,
			password_hash, force_change_password_next_sign_in, last_password_change_at, created_at)
		SELECT $1::uuid, id, true, first || ' ' || last, first, last, lower(first) || '.' || lower(last) || '.' || g,
			lower(first) || '.' || lower(last) || '.' || g || '@' || $2, lower(first) || '.' || lower(last) || '.' || g || '@example.com',
			city, dept, title, g::text, $10, $11, false, now(), now()
		FROM v`,
		tenantID, domain, from, to, pq.Array(n.First), pq.Array(n.Last), pq.Array(n.Cities), pq.Array(n.Departments), pq.Array(n.Titles),
		BenchSeedType, hash); err != nil {
		return fmt.Errorf("bulk insert users: %w", err)
	}
	if _, err := tx.ExecContext(ctx, gen+`
		INSERT INTO user_identities (tenant_id, user_id, ordinal, sign_in_type, issuer, issuer_assigned_id)
		SELECT $1::uuid, id, 1, 'emailAddress', $2, lower(first) || '.' || lower(last) || '.' || g || '@example.com'
		FROM v`,
		tenantID, domain, from, to, pq.Array(n.First), pq.Array(n.Last), pq.Array(n.Cities), pq.Array(n.Departments), pq.Array(n.Titles)); err != nil {
		return fmt.Errorf("bulk insert identities: %w", err)
	}
	for i, def := range defs {
		if _, err := tx.ExecContext(ctx, def); err != nil {
			return fmt.Errorf("rebuild index %s: %w", names[i], err)
		}
	}
	return tx.Commit()
}
