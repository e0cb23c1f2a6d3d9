package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" database/sql driver

	"github.com/graphdir/graphdir/internal/directory"
)

// Store is a PostgreSQL-backed directory.Store and directory.KeyStore.
// It is safe for concurrent use.
type Store struct {
	db *sqlx.DB
	// stmts holds the prepared statements of the hot paths (stmtcache.go).
	stmts *stmtCache
	// imports tells when a bulk load has grown users enough to refresh
	// the planner's statistics (import.go).
	imports importGrowth
	// replicas, when attached, answer eventual-consistency reads
	// (replicas.go); nil on a replica's own Store.
	replicas *replicaSet
}

var (
	_ directory.Store    = (*Store)(nil)
	_ directory.KeyStore = (*Store)(nil)
)

// Pool settings. A graphdir instance serves short statements, so a modest pool
// that recycles connections keeps it friendly to poolers and failovers.
const (
	maxOpenConns    = 25
	maxIdleConns    = 25
	connMaxLifetime = 30 * time.Minute
	connMaxIdleTime = 5 * time.Minute
)

// Open connects to the database at url (a lib/pq URL or key=value string),
// configures the connection pool and pings the server. It does not migrate;
// call Migrate for that.
func Open(ctx context.Context, url string) (*Store, error) {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxIdleConns)
	db.SetConnMaxLifetime(connMaxLifetime)
	db.SetConnMaxIdleTime(connMaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: ping: %w", err)
	}
	return New(db), nil
}

// New returns a Store on an existing connection pool, which must use the
// lib/pq driver. Closing the Store closes db.
func New(db *sqlx.DB) *Store { return &Store{db: db, stmts: newStmtCache(db, stmtCacheSize)} }

// DB returns the underlying pool, e.g. for Migrate or health checks.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close closes the connection pool and with it the prepared statements.
func (s *Store) Close() error {
	// The pool first: it frees the statements on the server, and a
	// background Prepare waiting for a connection fails at once.
	if s.replicas != nil {
		s.replicas.close()
	}
	err := s.db.Close()
	s.stmts.close()
	return err
}

// inTxOnce runs fn in a transaction and commits it when fn returns nil.
// Errors from fn are returned as they are, so fn translates its own; the
// default isolation (read committed) is enough because uniqueness is
// enforced by indexes and concurrent writers of one row serialise on its row
// lock. inTx (resilience.go) retries it on serialization failures and
// deadlocks.
func (s *Store) inTxOnce(ctx context.Context, op string, audit txAudit, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return translate(err, op)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	// audit.go: an audited write's event commits with it.
	if err := s.auditBefore(ctx, tx, audit); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	audited, err := s.auditAfter(ctx, tx, audit)
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return translate(err, op)
	}
	audited()
	return nil
}

// isNoRows reports whether err means a query matched nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
