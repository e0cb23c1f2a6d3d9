package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/localpg"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/schema"
)

// setupTimeout bounds finding the server, building the template and cloning.
const setupTimeout = 2 * time.Minute

// templateLockKey is the server-wide advisory lock (held on the admin
// database) that serialises template creation across test processes.
const templateLockKey int64 = 0x6772617068646972 // "graphdir"

// server is the per-process state: the admin pool and the template's name.
var server struct {
	once     sync.Once
	err      error
	adminURL string
	admin    *sql.DB
	template string
}

// NewStore returns a Store on a fresh, migrated database private to t. The
// store is closed and the database dropped when t ends.
func NewStore(t testing.TB) *postgres.Store {
	t.Helper()
	return postgres.New(NewDB(t))
}

// NewDB returns a connection pool to a fresh, migrated database private to
// t. The pool is closed and the database dropped when t ends.
func NewDB(t testing.TB) *sqlx.DB {
	t.Helper()
	u := NewURL(t)
	db, err := sqlx.Open("postgres", u)
	if err != nil {
		t.Fatalf("pgtest: open test database: %v", err)
	}
	// Registered after NewURL's drop, so it runs before it.
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("pgtest: connect to test database: %v", err)
	}
	return db
}

// NewURL creates a fresh, migrated database private to t and returns its
// connection URL, for code under test that opens its own pool (for example
// the server's run function given DATABASE_URL). The database is dropped when
// t ends; the caller closes any pool it opened before then.
func NewURL(t testing.TB) string {
	t.Helper()
	return createDatabase(t, true)
}

// NewEmptyURL is NewURL without the migrations: the database has no tables,
// for tests of migrating itself.
func NewEmptyURL(t testing.TB) string {
	t.Helper()
	return createDatabase(t, false)
}

func createDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	server.once.Do(func() { server.err = setUp(ctx) })
	if server.err != nil {
		t.Fatalf("pgtest: no PostgreSQL for tests: %v\n"+
			"Run the tests with `make test`, start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), "+
			"or set GRAPHDIR_TEST_DATABASE_URL to an admin URL.", server.err)
	}
	name := "t_" + randomHex(8)
	create := "CREATE DATABASE " + pq.QuoteIdentifier(name)
	if migrated {
		create += " TEMPLATE " + pq.QuoteIdentifier(server.template)
	}
	if _, err := server.admin.ExecContext(ctx, create); err != nil {
		t.Fatalf("pgtest: create test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := server.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop test database %s: %v", name, err)
		}
	})
	u, err := withDatabase(server.adminURL, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// AdminURL returns the URL of the test server's maintenance database
// (postgres), for tests that manage databases themselves.
func AdminURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	server.once.Do(func() { server.err = setUp(ctx) })
	if server.err != nil {
		t.Fatalf("pgtest: no PostgreSQL for tests: %v", server.err)
	}
	return server.adminURL
}

// setUp finds the server and makes sure the template for the current schema exists.
func setUp(ctx context.Context) error {
	adminURL, err := localpg.TestServerURL(ctx, os.Getenv)
	if err != nil {
		return err
	}
	admin, err := sql.Open("postgres", adminURL)
	if err != nil {
		return err
	}
	admin.SetMaxOpenConns(8)
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		return fmt.Errorf("connect to %s: %w", redact(adminURL), err)
	}
	sum, err := SchemaHash()
	if err != nil {
		admin.Close()
		return err
	}
	template := "graphdir_tmpl_" + sum[:16]
	if err := ensureTemplate(ctx, admin, adminURL, template); err != nil {
		admin.Close()
		return fmt.Errorf("build template %s: %w", template, err)
	}
	server.adminURL, server.admin, server.template = adminURL, admin, template
	return nil
}

// ensureTemplate builds the template unless a complete one exists. A
// database of that name that is not marked IS_TEMPLATE is the remains of a
// process that died while building it, and is rebuilt.
func ensureTemplate(ctx context.Context, admin *sql.DB, adminURL, name string) (err error) {
	conn, err := admin.Conn(ctx) // the advisory lock belongs to this session
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, templateLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() {
		if _, uerr := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, templateLockKey); uerr != nil && err == nil {
			err = fmt.Errorf("unlock: %w", uerr)
		}
	}()

	var complete sql.NullBool
	err = conn.QueryRowContext(ctx, `SELECT datistemplate FROM pg_database WHERE datname = $1`, name).Scan(&complete)
	switch {
	case err == nil && complete.Bool:
		return nil
	case err == nil: // half-built
		if _, err := conn.ExecContext(ctx, "DROP DATABASE "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
			return err
		}
	case err != sql.ErrNoRows:
		return err
	}
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)); err != nil {
		return err
	}
	u, err := withDatabase(adminURL, name)
	if err != nil {
		return err
	}
	db, err := sql.Open("postgres", u)
	if err != nil {
		return err
	}
	err = postgres.Migrate(ctx, db)
	// Every session on the template must be gone before it can be cloned.
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	_, err = conn.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(name)+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
	return err
}

// SchemaHash returns a hex SHA-256 over the names and contents of the
// migration files, which names the template for the current schema.
func SchemaHash() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(schema.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(schema.FS, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// withDatabase returns connection string u pointed at database name. It
// accepts both URL (postgres://...) and key=value forms.
func withDatabase(u, name string) (string, error) {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		parsed, err := url.Parse(u)
		if err != nil {
			return "", fmt.Errorf("parse database URL: %w", err)
		}
		parsed.Path = "/" + name
		return parsed.String(), nil
	}
	// In lib/pq's key=value form a later key overrides an earlier one.
	return u + " dbname=" + name, nil
}

// redact hides the password of a URL for error messages.
func redact(u string) string {
	if parsed, err := url.Parse(u); err == nil && parsed.User != nil {
		return parsed.Redacted()
	}
	return u
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
