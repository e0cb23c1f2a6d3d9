package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// TestBackgroundJobs_LockHolderDies: for each job that runs on one
// instance at a time, instance A is stopped in the middle of its run
// (holding the job's advisory lock) by a table lock the test holds; B's
// run meanwhile skips. Then A's connection is killed
// (pg_terminate_backend, as when A's machine dies): its transaction rolls
// back and, being transaction-scoped, its lock goes with it, so B's next
// run does the whole job. No lock is left behind on any connection, which
// is also what keeps the jobs correct behind PgBouncer in transaction
// mode.
func TestBackgroundJobs_LockHolderDies(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	tn, err := b.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DefaultDomain: "contoso.onmicrosoft.com"})
	if err != nil {
		t.Fatal(err)
	}
	// Due work for every job: deleted users (and so logged changes), and
	// old sign-ins.
	for i := range 3 {
		u := newUser(tn.ID, "failover"+strconv.Itoa(i)+"@contoso.onmicrosoft.com")
		mustCreate(t, b, u)
		if err := b.DeleteUser(ctx, tn.ID, directory.UserKey{ID: u.ID}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.DB().Exec(`INSERT INTO sign_ins (tenant_id, id, created_at, error_code) VALUES ($1, $2, now() - interval '400 days', 0)`,
			tn.ID, uuid.NewString()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.PruneUserChanges(ctx, time.Now().Add(-time.Hour)); err != nil { // a first mark
		t.Fatal(err)
	}
	count := func(query string) (n int) {
		t.Helper()
		if err := b.DB().QueryRow(query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	future := time.Now().Add(time.Hour)
	for _, job := range []struct {
		name string
		key  int64
		// block is the table whose SHARE lock stops the job mid-run.
		block string
		run   func(s *postgres.Store) (int64, error)
		left  string
	}{
		{"PurgeDeleted", postgres.PurgeLockKey, "users",
			func(s *postgres.Store) (int64, error) { return s.PurgeDeleted(ctx, future, 1) }, `SELECT count(*) FROM users`},
		{"PruneUserChanges", postgres.PruneLockKey, "user_change_marks",
			func(s *postgres.Store) (int64, error) { return s.PruneUserChanges(ctx, future) }, `SELECT count(*) FROM user_changes`},
		{"PruneSignIns", postgres.SignInPruneLockKey, "sign_ins",
			func(s *postgres.Store) (int64, error) { return s.PruneSignIns(ctx, future) }, `SELECT count(*) FROM sign_ins`},
	} {
		t.Run(job.name, func(t *testing.T) {
			before := count(job.left)
			if before == 0 {
				t.Fatal("no work to do")
			}
			blocker, err := b.DB().BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer blocker.Rollback() //nolint:errcheck // rolled back below on the normal path
			if _, err := blocker.Exec(`LOCK TABLE ` + job.block + ` IN SHARE MODE`); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { _, err := job.run(a); done <- err }()

			// Wait for the event: A holds the job's lock and waits on the
			// table lock. The advisory key is split into pg_locks' classid
			// (high 32 bits) and objid (low 32 bits).
			var holder int
			deadline := time.Now().Add(30 * time.Second)
			for holder == 0 {
				err := b.DB().QueryRow(`SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
					WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND l.classid = ($1::bigint >> 32)::oid AND l.objid = ($1::bigint & 4294967295)::oid
					  AND a.wait_event_type = 'Lock'`, job.key).Scan(&holder)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					t.Fatal(err)
				}
				select {
				case err := <-done:
					t.Fatalf("A's run ended before it was stopped: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("A never held the lock while waiting")
				}
			}
			// Meanwhile B's tick skips: the lock is held.
			if n, err := job.run(b); n != 0 || err != nil {
				t.Fatalf("B while A holds the lock: %d, %v; want 0, nil", n, err)
			}
			// A dies.
			var killed bool
			if err := b.DB().QueryRow(`SELECT pg_terminate_backend($1)`, holder).Scan(&killed); err != nil || !killed {
				t.Fatalf("pg_terminate_backend: %v, %v", killed, err)
			}
			if err := <-done; err == nil {
				t.Fatal("A's run survived the loss of its connection")
			}
			if err := blocker.Rollback(); err != nil {
				t.Fatal(err)
			}
			if left := count(job.left); left != before {
				t.Fatalf("A's killed run left %d rows of %d: its transaction was not rolled back", left, before)
			}
			// B's next tick does the whole job.
			n, err := job.run(b)
			if n == 0 || err != nil {
				t.Fatalf("B after A died: %d, %v; want the work done", n, err)
			}
			if left := count(job.left); left != before-int(n) {
				t.Fatalf("%d rows left after B removed %d of %d", left, n, before)
			}
			if held := count(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`); held != 0 {
				t.Fatalf("%d advisory locks left held", held)
			}
		})
	}
}
