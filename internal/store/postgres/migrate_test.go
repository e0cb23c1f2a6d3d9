package postgres_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"

	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func openEmpty(t *testing.T) (*sql.DB, string) {
	t.Helper()
	url := pgtest.NewEmptyURL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, url
}

func tableCount(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_name IN ('tenants', 'tenant_domains', 'users', 'user_identities', 'signing_keys', 'server_secrets')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrate_UpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := openEmpty(t)
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if n := tableCount(t, db); n != 6 {
		t.Fatalf("%d tables after up, want 6", n)
	}
	st, err := postgres.MigrationStatuses(ctx, db)
	if err != nil || len(st) == 0 || !st[0].Applied || st[0].Version != 1 || st[0].Name != "00001_init.sql" {
		t.Fatalf("MigrationStatuses = %+v, %v", st, err)
	}
	if err := postgres.MigrateDown(ctx, db, 0); err != nil {
		t.Fatalf("MigrateDown: %v", err)
	}
	if n := tableCount(t, db); n != 0 {
		t.Fatalf("%d tables after down, want 0", n)
	}
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	if err := postgres.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate with nothing pending: %v", err)
	}
	if n := tableCount(t, db); n != 6 {
		t.Fatalf("%d tables after up again, want 6", n)
	}
}

// Several instances starting at once must not race each other.
func TestMigrate_Concurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, url := openEmpty(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each "instance" has its own pool, as separate processes would.
			own, err := sql.Open("postgres", url)
			if err != nil {
				errs[i] = err
				return
			}
			defer own.Close()
			errs[i] = postgres.Migrate(ctx, own)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate %d: %v", i, err)
		}
	}
	if n := tableCount(t, db); n != 6 {
		t.Fatalf("%d tables, want 6", n)
	}
	var applied int
	if err := db.QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id = 1`).Scan(&applied); err != nil || applied != 1 {
		t.Fatalf("migration 1 recorded %d times (%v), want once", applied, err)
	}
}
