package benchdb

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/lib/pq"
)

// SeedType is the employeeType of the users `graphdir bench` seeds, and
// CreatedType that of the users its create scenarios add (removed at the
// start of every run, so repeated runs measure the same database).
const (
	SeedType    = "bench-seed"
	CreatedType = "bench-created"
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
		return "", fmt.Errorf("benchdb: %w", err)
	}
	if !exists {
		if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
			return "", fmt.Errorf("benchdb: create database %s: %w", name, err)
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

// Prepare removes the users earlier bench runs created and returns how
// many seeded users the tenant holds.
func Prepare(ctx context.Context, db *sql.DB, tenantID string) (int64, error) {
	if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = $1 AND employee_type = $2`, tenantID, CreatedType); err != nil {
		return 0, fmt.Errorf("benchdb: cleanup: %w", err)
	}
	var n int64
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE tenant_id = $1 AND employee_type = $2`, tenantID, SeedType).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("benchdb: count: %w", err)
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
func Analyze(ctx context.Context, db *sql.DB) error {
	_, err := db.ExecContext(ctx, `VACUUM (ANALYZE) users, user_identities, user_attrs, user_search_tokens`)
	return err
}

// User is one sampled seeded user: the keys the scenarios look up.
type User struct {
	ID, UPN, DisplayName, Issuer, Email string
}

// Sample returns up to n seeded users of the tenant, spread over the
// whole table, each with its first emailAddress identity.
func Sample(ctx context.Context, db *sql.DB, tenantID string, n int) ([]User, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT u.id, u.user_principal_name, u.display_name, i.issuer, i.issuer_assigned_id
		FROM users u TABLESAMPLE BERNOULLI (1)
		JOIN user_identities i ON i.tenant_id = u.tenant_id AND i.user_id = u.id AND i.sign_in_type = 'emailAddress'
		WHERE u.tenant_id = $1 AND u.employee_type = $2
		ORDER BY random() LIMIT $3`, tenantID, SeedType, n)
	if err != nil {
		return nil, fmt.Errorf("benchdb: sample: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		var u User
		if err := rows.Scan(&u.ID, &u.UPN, &u.DisplayName, &u.Issuer, &u.Email); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// ClearUsers deletes every user of tenantID: the scratch tenant of the
// bench's import-rate run.
func ClearUsers(ctx context.Context, db *sql.DB, tenantID string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = $1`, tenantID)
	return err
}

// ClearRefreshTokens deletes the refresh tokens of one client of the
// tenant: the bench's sign-in application, whose families earlier runs
// left behind.
func ClearRefreshTokens(ctx context.Context, db *sql.DB, tenantID, clientID string) error {
	_, err := db.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE tenant_id = $1 AND client_id = $2`, tenantID, clientID)
	return err
}

// UserTables are the tables that grow with the number of users: the
// user rows, their sign-in identities, the filter-only properties, the
// $search tokens, extension values and the change log delta reads.
var UserTables = []string{"users", "user_identities", "user_attrs", "user_search_tokens", "user_extension_values", "user_changes"}

// TableSize is one table's size on disk with its indexes and TOAST
// (pg_total_relation_size) and the part of it that is indexes.
type TableSize struct {
	Table          string
	Total, Indexes int64
}

// Storage returns the size of each of UserTables and the number of users
// (of every tenant) they hold: bytes per user is what a capacity
// projection multiplies.
func Storage(ctx context.Context, db *sql.DB) ([]TableSize, int64, error) {
	var out []TableSize
	for _, t := range UserTables {
		ts := TableSize{Table: t}
		if err := db.QueryRowContext(ctx, `SELECT pg_total_relation_size($1::regclass), pg_indexes_size($1::regclass)`, t).
			Scan(&ts.Total, &ts.Indexes); err != nil {
			return nil, 0, fmt.Errorf("benchdb: size of %s: %w", t, err)
		}
		out = append(out, ts)
	}
	var n int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("benchdb: counting users: %w", err)
	}
	return out, n, nil
}

// WaitReplayed waits until the streaming replica at replicaURL has
// replayed all the WAL the primary at primaryURL had written when it was
// called. There is no notification to block on, so it polls; the wait is
// bounded by within.
func WaitReplayed(ctx context.Context, primaryURL, replicaURL string, within time.Duration) error {
	p, err := sql.Open("postgres", primaryURL)
	if err != nil {
		return err
	}
	defer p.Close()
	r, err := sql.Open("postgres", replicaURL)
	if err != nil {
		return err
	}
	defer r.Close()
	var lsn string
	if err := p.QueryRowContext(ctx, `SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		return fmt.Errorf("benchdb: the primary's WAL position: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		var ok bool
		if err := r.QueryRowContext(ctx, `SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&ok); err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("benchdb: the replica did not replay up to %s: %w", lsn, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
