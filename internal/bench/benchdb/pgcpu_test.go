package benchdb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/bench"
	"github.com/graphdir/graphdir/internal/bench/benchdb"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// burnQuery keeps one backend busy for a few hundred milliseconds of CPU.
const burnQuery = `SELECT count(*) FROM generate_series(1, 4000000) g WHERE g % 7 = 3`

// burn runs burnQuery on a connection of its own and returns that
// backend's pid and the CPU it used for it, read from /proc while the
// backend lives; with exit, the connection is closed afterwards.
func burn(t *testing.T, dsn string, exit bool) (int, time.Duration) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	before, err := bench.ProcCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRowContext(ctx, burnQuery).Scan(&n); err != nil {
		t.Fatal(err)
	}
	after, err := bench.ProcCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("the burn used only %s of CPU", after-before)
	}
	if exit {
		// Terminate the backend and wait for its process to go.
		conn.Close()
		db.Close()
		for deadline := time.Now().Add(30 * time.Second); ; {
			// Gone from /proc means reaped: a zombie still has its
			// directory, and its CPU is not yet in the postmaster's
			// cutime.
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, fs.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("backend %d still runs", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return pid, after - before
}

// The database scope charges the measured database with its backends'
// CPU and not with another database's on the same server.
func TestPGCPU_DatabaseScope(t *testing.T) {
	ctx := context.Background()
	mine, other := pgtest.NewURL(t), pgtest.NewURL(t)
	m, err := benchdb.OpenPGCPU(ctx, mine, benchdb.ScopeDatabase)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	// Load in the measured database, through a backend that stays.
	db, err := sql.Open("postgres", mine)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var pid int
	if err := db.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	end, err := m.Begin()
	if err != nil {
		t.Fatal(err)
	}
	cpu0, _ := bench.ProcCPU(pid)
	var n int
	if err := db.QueryRowContext(ctx, burnQuery).Scan(&n); err != nil {
		t.Fatal(err)
	}
	cpu1, _ := bench.ProcCPU(pid)
	got, err := end()
	if err != nil {
		t.Fatal(err)
	}
	used := cpu1 - cpu0
	if used < 50*time.Millisecond || got < used {
		t.Errorf("the database's backend used %s, the meter says %s", used, got)
	}
	if got > used+200*time.Millisecond {
		t.Errorf("the meter says %s, the only busy backend used %s", got, used)
	}

	// Load in another database is not counted.
	end, err = m.Begin()
	if err != nil {
		t.Fatal(err)
	}
	_, otherUsed := burn(t, other, false)
	if got, err := end(); err != nil || got > otherUsed/4 {
		t.Errorf("another database's backend used %s, the meter charged %s (%v)", otherUsed, got, err)
	}
}

// The server scope counts a backend that started and exited within the
// window: the postmaster reaped it, with its whole CPU.
func TestPGCPU_ServerScopeCountsExitedBackends(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewURL(t)
	m, err := benchdb.OpenPGCPU(ctx, dsn, benchdb.ScopeServer)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	end, err := m.Begin()
	if err != nil {
		t.Fatal(err)
	}
	_, used := burn(t, dsn, true)
	got, err := end()
	if err != nil {
		t.Fatal(err)
	}
	// Other work on a shared server only adds; cutime is in 10 ms ticks.
	if got < used-20*time.Millisecond {
		t.Errorf("an exited backend used %s, the server's CPU grew by %s", used, got)
	}
}

func TestOpenPGCPU_BadScope(t *testing.T) {
	if _, err := benchdb.OpenPGCPU(context.Background(), pgtest.NewURL(t), "cluster"); err == nil {
		t.Error("an unknown scope was accepted")
	}
}

// Storage sizes the user tables, and they grow with users.
func TestStorage(t *testing.T) {
	ctx := context.Background()
	s := pgtest.NewStore(t)
	sizes, n, err := benchdb.Storage(ctx, s.DB().DB)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 || len(sizes) != len(benchdb.UserTables) {
		t.Fatalf("empty database: %d users, sizes %+v", n, sizes)
	}
	total := func(ts []benchdb.TableSize) (sum int64) {
		for _, x := range ts {
			if x.Indexes > x.Total {
				t.Errorf("%s: indexes %d > total %d", x.Table, x.Indexes, x.Total)
			}
			sum += x.Total
		}
		return sum
	}
	empty := total(sizes)
	tn, err := s.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "T", DefaultDomain: "bench.test"})
	if err != nil {
		t.Fatal(err)
	}
	hash := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
	if err := benchdb.BulkSeed(ctx, s.DB().DB, tn.ID, tn.DefaultDomain, 0, 2000, hash, benchdb.SeedNames{
		First: []string{"Ann", "Bo"}, Last: []string{"Lee", "Ng"}, Cities: []string{"Oslo"}, Departments: []string{"Sales"}, Titles: []string{"Engineer"},
	}); err != nil {
		t.Fatal(err)
	}
	sizes, n, err = benchdb.Storage(ctx, s.DB().DB)
	if err != nil {
		t.Fatal(err)
	}
	// A user row alone is a few hundred bytes.
	if grown := total(sizes) - empty; n != 2000 || grown < 2000*300 {
		t.Errorf("2,000 users: %d counted, tables grew by %d bytes", n, grown)
	}
}
