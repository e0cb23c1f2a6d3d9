package benchdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/graphdir/graphdir/internal/bench"
)

// CPU scopes of a PGCPU: which of the server's processes it charges.
const (
	// ScopeDatabase counts the processes pg_stat_activity shows in the
	// measured database that serve queries: its client backends and
	// their parallel workers. Right on a server other work shares (other
	// databases' load is not counted), but it leaves out autovacuum
	// (whose work lands on whichever scenario runs when it wakes, not on
	// the writes that caused it), the server-wide processes (WAL writer,
	// checkpointer, background writer, WAL senders) and a backend's CPU
	// after its last reading when it exits within the window.
	ScopeDatabase = "database"
	// ScopeServer counts every process of the server: the postmaster,
	// its live children and the children it has reaped. Exact for a
	// server the bench has to itself; on a shared one it charges the
	// bench with everybody's load.
	ScopeServer = "server"
)

// PGCPU reads the CPU time a PostgreSQL server on this machine spends,
// from /proc (bench.ProcCPU, bench.TreeCPU), and is the bench.Meter that
// charges a scenario with it. It holds one connection of its own to list
// the database's processes; that backend is never counted.
type PGCPU struct {
	db         *sql.DB
	scope      string
	postmaster int
	dbName     string
}

// OpenPGCPU connects to dsn and checks that its server runs on this
// machine: the backend's process must exist here, be PostgreSQL's, and
// its parent (the postmaster) must have started when the server says it
// did. A server elsewhere (or a pid that only happens to exist here) is
// an error: its CPU cannot be read.
func OpenPGCPU(ctx context.Context, dsn, scope string) (*PGCPU, error) {
	if scope != ScopeDatabase && scope != ScopeServer {
		return nil, fmt.Errorf("benchdb: CPU scope %q: want %q or %q", scope, ScopeDatabase, ScopeServer)
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	// One connection, kept: its pid is the one the listing leaves out.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	m := &PGCPU{db: db, scope: scope}
	if err := m.locate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return m, nil
}

func (m *PGCPU) locate(ctx context.Context) error {
	var (
		pid     int
		started time.Time
	)
	if err := m.db.QueryRowContext(ctx, `SELECT pg_backend_pid(), pg_postmaster_start_time(), current_database()`).
		Scan(&pid, &started, &m.dbName); err != nil {
		return fmt.Errorf("benchdb: CPU meter: %w", err)
	}
	st, err := bench.ReadProcStat(pid)
	if err != nil {
		return fmt.Errorf("benchdb: PostgreSQL is not on this machine (no process %d): %w", pid, err)
	}
	if st.Comm != "postgres" {
		return fmt.Errorf("benchdb: PostgreSQL is not on this machine (process %d is %q)", pid, st.Comm)
	}
	pmStart, err := bench.StartTime(st.PPID)
	if err != nil {
		return fmt.Errorf("benchdb: the postmaster (%d): %w", st.PPID, err)
	}
	// Ticks are 10 ms and btime is rounded to the second.
	if d := pmStart.Sub(started); d > 2*time.Second || d < -2*time.Second {
		return fmt.Errorf("benchdb: process %d's parent started at %s, the server at %s: not this server",
			pid, pmStart.Format(time.RFC3339), started.Format(time.RFC3339))
	}
	m.postmaster = st.PPID
	return nil
}

// Close closes the meter's connection.
func (m *PGCPU) Close() error { return m.db.Close() }

// Scope is the scope the meter counts.
func (m *PGCPU) Scope() string { return m.scope }

// Describe says in a sentence what the meter counts, for a report.
func (m *PGCPU) Describe() string {
	if m.scope == ScopeServer {
		return fmt.Sprintf("every process of the PostgreSQL server (postmaster %d, its live children and those it reaped: backends, WAL writer, checkpointer, WAL senders, autovacuum), from /proc/<pid>/schedstat and the postmaster's cutime+cstime", m.postmaster)
	}
	return fmt.Sprintf("the PostgreSQL processes serving database %s (client backends and their parallel workers, from pg_stat_activity), from /proc/<pid>/schedstat; not autovacuum, nor the server-wide WAL writer, checkpointer and background writer", m.dbName)
}

// Snapshot is one reading: per process for ScopeDatabase, one total for
// ScopeServer.
type Snapshot struct {
	total time.Duration
	procs map[int]time.Duration
}

// Read takes a reading.
func (m *PGCPU) Read(ctx context.Context) (Snapshot, error) {
	if m.scope == ScopeServer {
		t, err := bench.TreeCPU(m.postmaster)
		if err != nil {
			return Snapshot{}, fmt.Errorf("benchdb: the postmaster's CPU: %w", err)
		}
		return Snapshot{total: t}, nil
	}
	rows, err := m.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type IN ('client backend', 'parallel worker')`)
	if err != nil {
		return Snapshot{}, fmt.Errorf("benchdb: listing backends: %w", err)
	}
	defer rows.Close()
	s := Snapshot{procs: map[int]time.Duration{}}
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			return Snapshot{}, err
		}
		cpu, err := bench.ProcCPU(pid)
		if errors.Is(err, bench.ErrNoProc) {
			continue // exited since the listing
		}
		if err != nil {
			return Snapshot{}, err
		}
		s.procs[pid] = cpu
	}
	return s, rows.Err()
}

// Since is the CPU spent between an earlier reading and s. A process in
// s but not in earlier started in between and counts whole; one whose
// CPU went down is a new process under a reused pid and counts whole too.
func (s Snapshot) Since(earlier Snapshot) time.Duration {
	if s.procs == nil {
		return s.total - earlier.total
	}
	var d time.Duration
	for pid, cpu := range s.procs {
		if before, ok := earlier.procs[pid]; ok && before <= cpu {
			d += cpu - before
		} else {
			d += cpu
		}
	}
	return d
}

// Begin implements bench.Meter.
func (m *PGCPU) Begin() (func() (time.Duration, error), error) {
	// The readings are bounded: a stuck server must not stall the bench.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s0, err := m.Read(ctx)
	if err != nil {
		return nil, err
	}
	return func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s1, err := m.Read(ctx)
		if err != nil {
			return 0, err
		}
		return s1.Since(s0), nil
	}, nil
}
