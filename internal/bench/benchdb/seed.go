package benchdb

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/lib/pq"
)

// SeedNames are the value pools of BulkSeed.
type SeedNames struct {
	First, Last, Cities, Departments, Titles []string
}

// BulkSeed adds users from..to-1 to tenantID the fast way a benchmark
// can afford and a production import cannot: in one transaction it drops
// the secondary indexes of users, user_identities and user_attrs,
// generates the users with INSERT ... SELECT generate_series, and builds
// the indexes again (one sort per index instead of a million insertions
// into each of ~45, nine of them trigram GIN). The users are the ones cmd/graphdir's
// benchUserLine describes: names spread by a multiplicative hash, a UPN
// first.last.N@domain, an emailAddress identity, passwordHash hash. If
// anything fails the transaction rolls back, indexes included.
func BulkSeed(ctx context.Context, db *sql.DB, tenantID, domain string, from, to int, hash string, n SeedNames) error {
	tx, err := db.BeginTx(ctx, nil)
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
		SeedType, hash); err != nil {
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
