package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/consistency"
	"github.com/graphdir/graphdir/internal/directory"
)

// Read replicas.
//
// A read whose context carries consistency.Eventual (the HTTP edge sets it
// for Graph's `ConsistencyLevel: eventual`) may be answered by a streaming
// replica: user lists (with $filter, $search, $orderby, $count) and
// /users/$count. Every other statement, and every read without the mark,
// goes to the primary, so a client that does not opt in reads its own
// writes. The domain layer passes contexts through and knows nothing of
// this.
//
// Delta stays on the primary on purpose. A delta token is a PostgreSQL
// snapshot (delta.go), and the correctness argument there needs each page's
// snapshot to contain the round's base and target. A replica behind the
// primary has older snapshots: a primary-issued token would look "from the
// future" to it (syncStateNotFound: a needless full resync for the client),
// and a later page read there could write a user in a state older than the
// change the round reports, which the client would then never see
// corrected. A standby's visibility order also follows WAL commit records
// rather than the primary's proc array, so even a caught-up replica's
// snapshot is not guaranteed to be a subset of the primary's next one.
// Serving delta from replicas would need a containment check with fallback
// on every page; delta is a sync job's traffic, not a portal's, so it is
// not worth that risk.
//
// Health: a background loop asks every replica, each ReplicaOptions.Interval,
// how far behind it is. Requests never wait for that check; they read the
// last verdict. A replica that is down, not in recovery (promoted, or a
// primary named by mistake) or behind by more than MaxLag is skipped, and
// when none is usable the read goes to the primary. A request that fails on
// a replica for any reason but a fault of the query itself is run again on
// the primary, so stopping a replica costs its in-flight eventual reads one
// retry, never an error.

// ReplicaOptions configure AttachReplicas.
type ReplicaOptions struct {
	// MaxLag is the staleness beyond which a replica is skipped (default 5s).
	MaxLag time.Duration
	// Interval is how often each replica's lag is measured (default 1s).
	Interval time.Duration
	// Log receives one line per change of a replica's state (may be nil).
	Log *slog.Logger
	// Observer receives lag measurements and reads by target (may be nil).
	Observer ReplicaObserver
}

// ReplicaObserver is told what the replica router measures and does;
// cmd/graphdir connects it to the Prometheus metrics.
type ReplicaObserver interface {
	// ReplicaLag reports one measurement: the replica's name (host:port),
	// its lag in seconds (+Inf when unknown or down) and whether reads
	// may use it.
	ReplicaLag(name string, seconds float64, usable bool)
	// ReadServed counts one routable read by the target that answered it
	// (TargetPrimary or TargetReplica).
	ReadServed(target string)
}

// Read targets as ReplicaObserver.ReadServed names them.
const (
	TargetPrimary = "primary"
	TargetReplica = "replica"
)

const (
	defaultReplicaMaxLag   = 5 * time.Second
	defaultReplicaInterval = time.Second
	replicaCheckTimeout    = 2 * time.Second
)

// replicaSet is the primary Store's view of its replicas.
type replicaSet struct {
	nodes []*replica
	next  atomic.Uint64 // round-robin position among usable replicas
	opts  ReplicaOptions
	stop  context.CancelFunc
	done  chan struct{}
}

// replica is one replica's pool and last verdict.
type replica struct {
	name   string
	st     *Store
	usable atomic.Bool

	mu    sync.Mutex
	state string // "" until the first check; logged on every change
}

// AttachReplicas opens a pool per replica URL (not connecting yet: a
// replica that is down at start is just skipped), measures each once so the
// first requests can already use them, and keeps measuring in the
// background until Close. Call it at most once, before serving.
func (s *Store) AttachReplicas(ctx context.Context, urls []string, o ReplicaOptions) error {
	if len(urls) == 0 {
		return nil
	}
	if s.replicas != nil {
		return errors.New("postgres: replicas already attached")
	}
	if o.MaxLag <= 0 {
		o.MaxLag = defaultReplicaMaxLag
	}
	if o.Interval <= 0 {
		o.Interval = defaultReplicaInterval
	}
	rs := &replicaSet{opts: o, done: make(chan struct{})}
	for i, u := range urls {
		db, err := sqlx.Open("postgres", u)
		if err != nil {
			rs.close()
			return fmt.Errorf("postgres: replica %d: %w", i+1, err)
		}
		db.SetMaxOpenConns(maxOpenConns)
		db.SetMaxIdleConns(maxIdleConns)
		db.SetConnMaxLifetime(connMaxLifetime)
		db.SetConnMaxIdleTime(connMaxIdleTime)
		st := New(db)
		s.stmts.mu.Lock()
		off := s.stmts.off
		s.stmts.mu.Unlock()
		if off {
			st.DisablePreparedStatements()
		}
		rs.nodes = append(rs.nodes, &replica{name: replicaName(u, i), st: st})
	}
	rs.checkAll(ctx)
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	rs.stop = cancel
	go rs.loop(loopCtx)
	s.replicas = rs
	return nil
}

// replicaName is host:port of a URL, never its credentials; key=value
// strings are numbered instead of parsed.
func replicaName(u string, i int) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host
	}
	return fmt.Sprintf("replica-%d", i+1)
}

func (rs *replicaSet) loop(ctx context.Context) {
	defer close(rs.done)
	t := time.NewTicker(rs.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rs.checkAll(ctx)
		}
	}
}

func (rs *replicaSet) checkAll(ctx context.Context) {
	for _, r := range rs.nodes {
		rs.check(ctx, r)
	}
}

// lagQuery measures a standby. now() - pg_last_xact_replay_timestamp()
// alone grows without bound while the primary is idle (nothing to replay),
// so a standby that is streaming and has replayed all it received counts as
// current; otherwise its lag is the age of the last transaction it replayed.
// (What it received may itself trail the primary on a slow link; that part
// is not visible from the standby.) pg_stat_wal_receiver has a row while a
// WAL receiver runs; its status is NULL to roles without
// pg_read_all_stats, which then count a running receiver as streaming.
const lagQuery = `SELECT pg_is_in_recovery() AS in_recovery,
	COALESCE(pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), false) AS caught_up,
	EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE COALESCE(status, 'streaming') = 'streaming') AS streaming,
	EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_age`

func (rs *replicaSet) check(ctx context.Context, r *replica) {
	ctx, cancel := context.WithTimeout(ctx, replicaCheckTimeout)
	defer cancel()
	var m struct {
		InRecovery bool     `db:"in_recovery"`
		CaughtUp   bool     `db:"caught_up"`
		Streaming  bool     `db:"streaming"`
		ReplayAge  *float64 `db:"replay_age"`
	}
	lag := math.Inf(1)
	var state string
	err := r.st.db.GetContext(ctx, &m, lagQuery)
	switch {
	case err != nil:
		state = "down"
	case !m.InRecovery:
		state = "not a standby"
	default:
		if m.CaughtUp && m.Streaming {
			lag = 0
		} else if m.ReplayAge != nil {
			lag = max(*m.ReplayAge, 0)
		}
		state = "usable"
		if lag > rs.opts.MaxLag.Seconds() {
			state = "lagging"
		}
	}
	if ctx.Err() != nil && err != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // shutting down, not a verdict
	}
	rs.setState(r, state, lag, err)
	if o := rs.opts.Observer; o != nil {
		o.ReplicaLag(r.name, lag, state == "usable")
	}
}

// setState records a verdict, logging only when it differs from the last.
func (rs *replicaSet) setState(r *replica, state string, lag float64, cause error) {
	r.usable.Store(state == "usable")
	r.mu.Lock()
	prev := r.state
	r.state = state
	r.mu.Unlock()
	if prev == state || rs.opts.Log == nil {
		return
	}
	attrs := []any{"replica", r.name, "state", state, "max_lag", rs.opts.MaxLag.String()}
	if !math.IsInf(lag, 1) {
		attrs = append(attrs, "lag_seconds", lag)
	}
	if cause != nil {
		attrs = append(attrs, "error", cause.Error())
	}
	if state == "usable" {
		rs.opts.Log.Info("read replica in use", attrs...)
	} else {
		rs.opts.Log.Warn("read replica skipped; eventual reads go to the primary", attrs...)
	}
}

// pick returns a usable replica for ctx's read, or nil for the primary.
func (rs *replicaSet) pick(ctx context.Context) *replica {
	if !consistency.Eventual(ctx) {
		return nil
	}
	n := uint64(len(rs.nodes))
	start := rs.next.Add(1)
	for i := range n {
		if r := rs.nodes[(start+i)%n]; r.usable.Load() {
			return r
		}
	}
	return nil
}

func (rs *replicaSet) served(target string) {
	if o := rs.opts.Observer; o != nil {
		o.ReadServed(target)
	}
}

func (rs *replicaSet) close() {
	if rs.stop != nil {
		rs.stop()
		<-rs.done
	}
	for _, r := range rs.nodes {
		r.st.Close()
	}
}

// queryFault reports errors the primary would return just the same (the
// query is refused or its cursor invalid): no reason to run it twice.
func queryFault(err error) bool {
	var de *directory.Error
	if !errors.As(err, &de) {
		return false
	}
	switch de.Kind {
	case directory.KindInvalid, directory.KindUnsupported, directory.KindNotFound:
		return true
	}
	return false
}

// routeRead runs read on a usable replica when ctx allows eventual
// consistency, else (or when the replica fails) on s, the primary.
func routeRead[T any](ctx context.Context, s *Store, read func(*Store) (T, error)) (T, error) {
	rs := s.replicas
	if rs == nil {
		return read(s)
	}
	if r := rs.pick(ctx); r != nil {
		v, err := read(r.st)
		if err == nil || queryFault(err) || ctx.Err() != nil {
			rs.served(TargetReplica)
			return v, err
		}
		// Down since the last check: skip it until the next one says
		// otherwise, and answer from the primary.
		rs.setState(r, "down", math.Inf(1), err)
	}
	rs.served(TargetPrimary)
	return read(s)
}

// ListUsers is listUsers (users.go), on a replica when ctx allows.
func (s *Store) ListUsers(ctx context.Context, tenantID string, q directory.ListQuery) (*directory.Page, error) {
	return routeRead(ctx, s, func(st *Store) (*directory.Page, error) { return st.listUsers(ctx, tenantID, q) })
}

// CountUsers is countUsers (users.go), on a replica when ctx allows.
func (s *Store) CountUsers(ctx context.Context, tenantID string, q directory.ListQuery) (int64, error) {
	return routeRead(ctx, s, func(st *Store) (int64, error) { return st.countUsers(ctx, tenantID, q) })
}
