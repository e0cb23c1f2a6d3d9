package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/graphdir/graphdir/internal/bench"
	"github.com/graphdir/graphdir/internal/bench/benchdb"
	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/importer"
	"github.com/graphdir/graphdir/internal/localpg"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// The read-scaling run of `graphdir bench` (issue 15): eventual reads
// against graphdir on a primary alone and on the same primary with a
// streaming replica, in one run, on a primary and replica the bench
// starts for itself (localpg.StartReplicated), so that the whole-server
// CPU of each is the bench's alone.

// benchReadScalingName is its name in BENCH_SCENARIOS.
const benchReadScalingName = "read scaling"

// benchRounds is how often the two configurations alternate: A, B, A, B
// spreads whatever else the machine does over both.
const benchRounds = 2

// readCounter counts the router's reads by target.
type readCounter struct{ primary, replica atomic.Int64 }

func (c *readCounter) ReplicaLag(string, float64, bool) {}

func (c *readCounter) ReadServed(target string) {
	if target == postgres.TargetReplica {
		c.replica.Add(1)
	} else {
		c.primary.Add(1)
	}
}

// pairMeter is the bench.Meter of the primary and the replica together,
// keeping each one's share of the last window.
type pairMeter struct {
	primary, replica *benchdb.PGCPU
	lastP, lastR     time.Duration
}

func (m *pairMeter) Begin() (func() (time.Duration, error), error) {
	endP, err := m.primary.Begin()
	if err != nil {
		return nil, err
	}
	endR, err := m.replica.Begin()
	if err != nil {
		return nil, err
	}
	return func() (time.Duration, error) {
		p, errP := endP()
		r, errR := endR()
		m.lastP, m.lastR = p, r
		return p + r, errors.Join(errP, errR)
	}, nil
}

// readTarget is one graphdir configuration under test.
type readTarget struct {
	name, base, token string
	reads             *readCounter // nil: no replicas
}

// benchReadScaling runs the read-scaling comparison and returns its
// section of the report.
func benchReadScaling(ctx context.Context, s benchSettings, getenv func(string) string, stderr io.Writer) (string, error) {
	n := min(s.replicaUsers, s.users)
	if n < 1 {
		return "", errors.New("no users to seed (BENCH_REPLICA_USERS)")
	}
	dir, err := os.MkdirTemp("", "graphdir-bench-replica-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(stderr, "bench: read scaling: starting a primary and a streaming replica under %s\n", dir)
	pair, err := localpg.StartReplicated(ctx, dir, io.Discard)
	if err != nil {
		return "", err
	}
	defer pair.Stop()

	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	open := func(replicas string) (_ *database, _ *config.Config, _ func(string) string, _ net.Listener, err error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, nil, err
		}
		defer func() {
			if err != nil {
				ln.Close()
			}
		}()
		env := benchEnvFor(getenv, pair.Primary.URL(), "http://"+ln.Addr().String(), map[string]string{"GRAPHDIR_REPLICA_URLS": replicas})
		cfg, err := config.Load(nil, env, stderr)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		db, err := openDatabase(ctx, cfg, stderr)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		return db, cfg, env, ln, nil
	}
	dbA, cfgA, envA, lnA, err := open("")
	if err != nil {
		return "", err
	}
	defer dbA.Close()
	defer lnA.Close()

	// Seed the primary; the replica follows by streaming.
	hash, err := password.Hash("Bench-Passw0rd!")
	if err != nil {
		return "", err
	}
	fmt.Fprintf(stderr, "bench: read scaling: seeding %d users on the primary\n", n)
	t0 := time.Now()
	if err := benchdb.BulkSeed(ctx, dbA.store.DB().DB, dbA.tenant.ID, dbA.tenant.DefaultDomain, 0, n, hash, benchdb.SeedNames{
		First: benchFirstNames, Last: benchSurnames, Cities: benchCities, Departments: benchDepartments, Titles: benchTitles,
	}); err != nil {
		return "", err
	}
	if err := benchdb.Analyze(ctx, dbA.store.DB().DB); err != nil {
		return "", err
	}
	if err := benchdb.WaitReplayed(ctx, pair.Primary.URL(), pair.Replica.URL(), 5*time.Minute); err != nil {
		return "", err
	}
	seeded := time.Since(t0)

	dbB, cfgB, envB, lnB, err := open(pair.Replica.URL())
	if err != nil {
		return "", err
	}
	defer dbB.Close()
	defer lnB.Close()
	reads := &readCounter{}
	var targets []readTarget
	for _, x := range []struct {
		name string
		db   *database
		cfg  *config.Config
		env  func(string) string
		ln   net.Listener
		obs  *readCounter
	}{{"primary alone", dbA, cfgA, envA, lnA, nil}, {"primary + replica", dbB, cfgB, envB, lnB, reads}} {
		if err := x.db.reopenForServing(ctx, x.cfg); err != nil {
			return "", err
		}
		if x.obs != nil {
			if err := x.db.attachReplicas(ctx, x.cfg, log, x.obs, replicaCheckInterval); err != nil {
				return "", err
			}
		}
		h, iss, err := buildHandlerWith(ctx, x.cfg, x.env, x.db, log, nil)
		if err != nil {
			return "", err
		}
		srv := newHTTPServer(x.cfg, h, log)
		go srv.Serve(x.ln) //nolint:errcheck // ends with Close below
		defer srv.Close()
		tok, err := iss.MintAppToken(ctx, x.db.tenant.ID, "b3c4e5f6-0000-4000-8000-00000000be9c", []string{"User.ReadWrite.All"}, 2*time.Hour)
		if err != nil {
			return "", err
		}
		targets = append(targets, readTarget{name: x.name, base: "http://" + x.ln.Addr().String(), token: tok, reads: x.obs})
	}

	// Both servers are this bench's own: every process of each counts.
	mp, err := benchdb.OpenPGCPU(ctx, pair.Primary.URL(), benchdb.ScopeServer)
	if err != nil {
		return "", err
	}
	defer mp.Close()
	mr, err := benchdb.OpenPGCPU(ctx, pair.Replica.URL(), benchdb.ScopeServer)
	if err != nil {
		return "", err
	}
	defer mr.Close()
	meter := &pairMeter{primary: mp, replica: mr}

	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: 2 * s.clients, MaxIdleConnsPerHost: s.clients, MaxConnsPerHost: s.clients,
		DisableCompression: true, IdleConnTimeout: time.Minute,
	}}
	defer client.CloseIdleConnections()

	type run struct {
		target         readTarget
		res            bench.Result
		pgP, pgR       time.Duration
		onReplica, all int64
	}
	var runs []run
	for round := 1; round <= benchRounds; round++ {
		for _, tg := range targets {
			fmt.Fprintf(stderr, "bench: read scaling: %s (round %d) ...", tg.name, round)
			var r0, p0 int64
			if tg.reads != nil {
				r0, p0 = tg.reads.replica.Load(), tg.reads.primary.Load()
			}
			res := bench.RunMetered(ctx, s.clients, s.warmup, s.duration, eventualReadOp(client, tg), meter)
			r := run{target: tg, res: res, pgP: meter.lastP, pgR: meter.lastR}
			if tg.reads != nil {
				r.onReplica = tg.reads.replica.Load() - r0
				r.all = r.onReplica + tg.reads.primary.Load() - p0
			}
			fmt.Fprintf(stderr, " %.0f/s\n", res.PerSecond())
			runs = append(runs, r)
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
		}
	}

	var b strings.Builder
	fmt.Fprintf(&b, "## Read scaling: eventual reads on the primary alone and on primary + streaming replica\n\n")
	fmt.Fprintf(&b, "%s users seeded (in %s, with the replica caught up) into a primary the bench started with one streaming replica (localpg.StartReplicated, pg_basebackup), both on this machine; %d clients; %s per run after %s warm-up, the two configurations alternating %d times. Each read is, in turn, `$count=true` with a `city eq` filter and `$search` on displayName, sent with `ConsistencyLevel: eventual`.\n\n",
		importer.Group(int64(n)), seeded.Round(time.Second), s.clients, s.duration, s.warmup, benchRounds)
	fmt.Fprintln(&b, "| configuration (round) | reads/s | p50 ms | p99 ms | graphdir CPU µs/read | primary PostgreSQL CPU µs/read | replica PostgreSQL CPU µs/read | answered by the replica | errors |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	per := func(d time.Duration, ops int64) float64 {
		if ops == 0 {
			return 0
		}
		return bench.Us(d / time.Duration(ops))
	}
	type sum struct {
		ops, errs     int64
		cpu, pgP, pgR time.Duration
		el            time.Duration
	}
	totals := map[string]*sum{}
	for i, r := range runs {
		share := "—"
		if r.target.reads != nil && r.all > 0 {
			share = fmt.Sprintf("%.0f%%", 100*float64(r.onReplica)/float64(r.all))
		}
		fmt.Fprintf(&b, "| %s (%d) | %.0f | %s | %s | %.0f | %.0f | %.0f | %s | %d |\n", r.target.name, i/len(targets)+1,
			r.res.PerSecond(), bench.Ms(r.res.P50), bench.Ms(r.res.P99), per(r.res.CPU, r.res.Ops),
			per(r.pgP, r.res.Ops), per(r.pgR, r.res.Ops), share, r.res.Errors)
		t := totals[r.target.name]
		if t == nil {
			t = &sum{}
			totals[r.target.name] = t
		}
		t.ops += r.res.Ops
		t.errs += r.res.Errors
		t.cpu += r.res.CPU
		t.pgP += r.pgP
		t.pgR += r.pgR
		t.el += r.res.Elapsed
	}
	a, c := totals[targets[0].name], totals[targets[1].name]
	rate := func(t *sum) float64 { return float64(t.ops-t.errs) / t.el.Seconds() }
	fmt.Fprintln(&b)
	fmt.Fprintf(&b, "- over both rounds: primary alone %.0f reads/s, graphdir %.0f µs + PostgreSQL %.0f µs of CPU per read; primary + replica %.0f reads/s, graphdir %.0f µs + PostgreSQL %.0f µs (primary %.0f, replica %.0f) per read.\n",
		rate(a), per(a.cpu, a.ops), per(a.pgP+a.pgR, a.ops), rate(c), per(c.cpu, c.ops), per(c.pgP+c.pgR, c.ops), per(c.pgP, c.ops), per(c.pgR, c.ops))
	fmt.Fprintf(&b, "- **routing overhead**: %+.0f µs of graphdir CPU per read (%+.1f%%) and %+.0f µs of PostgreSQL CPU per read, both servers together (%+.1f%%), with the replica; rate %+.1f%%.\n",
		per(c.cpu, c.ops)-per(a.cpu, a.ops), pct(per(c.cpu, c.ops), per(a.cpu, a.ops)),
		per(c.pgP+c.pgR, c.ops)-per(a.pgP+a.pgR, a.ops), pct(per(c.pgP+c.pgR, c.ops), per(a.pgP+a.pgR, a.ops)), pct(rate(c), rate(a)))
	// The same configuration's rounds differ by noise alone: the scale
	// against which to read the overhead.
	spread := 0.0
	for _, tg := range targets {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range runs {
			if r.target.name == tg.name {
				v := per(r.res.CPU, r.res.Ops)
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
		spread = math.Max(spread, hi-lo)
	}
	fmt.Fprintf(&b, "- the same configuration's rounds differed by up to %.0f µs of graphdir CPU per read: an overhead smaller than that is within this machine's noise.\n", spread)
	fmt.Fprintln(&b, "- **This shows the routing's cost, not the gain.** The primary, the replica, graphdir and the load generator share this machine's cores, so a replica adds no CPU to read with: the eventual reads only move from one PostgreSQL to another on the same cores. The gain comes from a replica on a machine of its own: then its PostgreSQL CPU per read (the replica column above) is capacity added, and the primary keeps only the writes and the primary reads (SCALING.md, Capacity model). Replica CPU in the \"primary alone\" rows is WAL replay and idle background work.")
	fmt.Fprintln(&b, "- PostgreSQL CPU here: every process of each server (the bench started both; backends, WAL sender and receiver, the replica's startup process replaying WAL), from /proc.")
	return b.String(), nil
}

// pct is how much larger a is than b, in percent.
func pct(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * (a - b) / b
}

// eventualReadOp is the read-scaling load: $count with a filter and
// $search in turn, with ConsistencyLevel: eventual.
func eventualReadOp(client *http.Client, tg readTarget) bench.Op {
	return func(ctx context.Context, w, seq int) error {
		var target string
		if seq%2 == 0 {
			city := strings.ReplaceAll(benchCities[(w+seq)%len(benchCities)], "_", " ")
			target = "/v1.0/users?$count=true&$filter=" + url.QueryEscape("city eq '"+city+"'")
		} else {
			target = "/v1.0/users?$search=" + url.QueryEscape(`"displayName:`+strings.ToLower(benchSurnames[(w*31+seq)%len(benchSurnames)][:3])+`"`)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, tg.base+target, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tg.token)
		req.Header.Set("ConsistencyLevel", "eventual")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%w %d for %s: %.300s", errStatus, resp.StatusCode, target, body)
		}
		return nil
	}
}
