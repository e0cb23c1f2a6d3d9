package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/localpg"
	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/metrics"
)

// replicaPair is a primary with a streaming replica, and the handles the
// tests use to steer the replica.
type replicaPair struct {
	*localpg.Replicated
	primary, replica *sql.DB
}

func startReplicaPair(t testing.TB) *replicaPair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := localpg.StartReplicated(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	p := &replicaPair{Replicated: r}
	for _, x := range []struct {
		dst **sql.DB
		url string
	}{{&p.primary, r.Primary.URL()}, {&p.replica, r.Replica.URL()}} {
		db, err := sql.Open("postgres", x.url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		*x.dst = db
	}
	return p
}

// caughtUp waits until the replica has replayed everything the primary
// has written so far.
func (p *replicaPair) caughtUp(t testing.TB) {
	t.Helper()
	var lsn string
	if err := p.primary.QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&lsn); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the replica replays "+lsn, func() bool {
		var ok bool
		err := p.replica.QueryRow(`SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn`, lsn).Scan(&ok)
		return err == nil && ok
	})
}

func (p *replicaPair) replay(t testing.TB, on bool) {
	t.Helper()
	fn := "pg_wal_replay_pause"
	if on {
		fn = "pg_wal_replay_resume"
	}
	if _, err := p.replica.Exec(`SELECT ` + fn + `()`); err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls cond until it holds; the events waited for (a WAL
// record replayed, a background lag check) have no notification to block
// on. Bounded, so a regression fails instead of hanging.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replicaInstance is one graphdir instance over the pair: the primary as
// DATABASE_URL, the replica as GRAPHDIR_REPLICA_URLS (unless noReplica),
// with its own metrics and log.
type replicaInstance struct {
	*stack
	m    *metrics.Metrics
	logs *logtest.Buffer
}

func newReplicaInstance(t *testing.T, p *replicaPair, maxLag string, noReplica bool) *replicaInstance {
	// A short check interval keeps the tests' waits for a verdict short.
	return newReplicaInstanceChecking(t, p, maxLag, noReplica, 50*time.Millisecond)
}

func newReplicaInstanceChecking(t *testing.T, p *replicaPair, maxLag string, noReplica bool, every time.Duration) *replicaInstance {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":             p.Primary.URL(),
		"GRAPHDIR_PUBLIC_URL":      testPublicURL,
		"GRAPHDIR_DOMAINS":         "graphdir.test,contoso.com",
		"GRAPHDIR_REPLICA_URLS":    p.Replica.URL(),
		"GRAPHDIR_REPLICA_MAX_LAG": maxLag,
		"GRAPHDIR_THROTTLE":        "false",
	}
	if noReplica {
		delete(env, "GRAPHDIR_REPLICA_URLS")
	}
	cfg, getenv, db := openTestDatabase(t, env)
	ctx := context.Background()
	logs := &logtest.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	m := metrics.New()
	if err := db.attachReplicas(ctx, cfg, log, m, every); err != nil {
		t.Fatal(err)
	}
	h, iss, err := buildHandlerWith(ctx, cfg, getenv, db, log, m)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	st := &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID, domain: db.tenant.DefaultDomain, client: srv.Client()}
	return &replicaInstance{stack: st, m: m, logs: logs}
}

// metric reads one sample (name with labels, as exposed) from the
// instance's /metrics; 0 when absent.
func (ri *replicaInstance) metric(t testing.TB, sample string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	ri.m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %q", sample, v)
			}
			return f
		}
	}
	return 0
}

func (ri *replicaInstance) reads(t testing.TB, target string) float64 {
	return ri.metric(t, `graphdir_db_reads_total{target="`+target+`"}`)
}

func (ri *replicaInstance) usable(t testing.TB, p *replicaPair) float64 {
	return ri.metric(t, `graphdir_replica_usable{replica="`+p.replicaHost(t)+`"}`)
}

// replicaHost is the replica's name in metrics and logs.
func (p *replicaPair) replicaHost(t testing.TB) string {
	u, err := url.Parse(p.Replica.URL())
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

var eventual = []string{"ConsistencyLevel", "eventual"}

// listIDs follows a listing through its nextLinks, sending the i-th page
// to servers[i%len] with headers[i%len], and returns the ids in order.
func listIDs(t *testing.T, token, first string, servers []*replicaInstance, headers [][]string) []string {
	t.Helper()
	var ids []string
	link := first
	for i := 0; link != ""; i++ {
		s := servers[i%len(servers)]
		if strings.HasPrefix(link, "https://") {
			link = link[strings.Index(link, "/v1.0/"):]
		}
		r := s.do("GET", link, token, nil, headers[i%len(headers)]...)
		if r.Status != 200 {
			t.Fatalf("page %d GET %s: %d %s", i+1, link, r.Status, r.Body)
		}
		m := r.JSON(t)
		for _, v := range m["value"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		link, _ = m["@odata.nextLink"].(string)
	}
	return ids
}

func contains(ids []string, id string) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestReadReplicas(t *testing.T) {
	p := startReplicaPair(t)
	a := newReplicaInstance(t, p, "1h", false)
	b := newReplicaInstance(t, p, "1h", false)    // a second instance: skiptokens cross instances too
	l := newReplicaInstance(t, p, "300ms", false) // a strict one, for the lag verdict
	// One that checks only at start: whatever it learns later, it learns
	// from failing requests.
	d := newReplicaInstanceChecking(t, p, "1h", false, time.Hour)
	admin := a.appToken("User.ReadWrite.All")

	var early []string
	for i := range 5 {
		u := a.create(admin, workforceUser(fmt.Sprintf("early%d@contoso.com", i)))
		early = append(early, u["id"].(string))
	}
	p.caughtUp(t)
	waitUntil(t, "instance a uses the replica", func() bool { return a.usable(t, p) == 1 })

	t.Run("eventual reads come from the replica, others from the primary", func(t *testing.T) {
		// With replay paused the replica cannot know a user created now;
		// whatever sees it was answered by the primary.
		p.replay(t, false)
		defer p.replay(t, true)
		late := a.create(admin, map[string]any{
			"accountEnabled": true, "displayName": "Late Arrival", "mailNickname": "late", "userPrincipalName": "late@contoso.com",
			"passwordProfile": map[string]any{"password": "xWwvJ]6NMw+bWH-d"},
		})["id"].(string)

		replicaBefore, primaryBefore := a.reads(t, "replica"), a.reads(t, "primary")
		ids := listIDs(t, admin, "/v1.0/users", []*replicaInstance{a}, [][]string{eventual})
		if contains(ids, late) || len(ids) != len(early) {
			t.Errorf("eventual list = %d users (late included: %v); want the %d the replica has", len(ids), contains(ids, late), len(early))
		}
		if got := a.reads(t, "replica") - replicaBefore; got != 1 {
			t.Errorf("replica reads +%v, want +1", got)
		}
		// Read-your-writes without the header.
		ids = listIDs(t, admin, "/v1.0/users", []*replicaInstance{a}, [][]string{nil})
		if !contains(ids, late) {
			t.Errorf("list without ConsistencyLevel misses the user just created")
		}
		if got := a.reads(t, "primary") - primaryBefore; got != 1 {
			t.Errorf("primary reads +%v, want +1", got)
		}
		for _, tc := range []struct {
			path string
			hdr  []string
			want string
		}{
			{"/v1.0/users/$count", eventual, "5"},
			{"/v1.0/users/$count", nil, "6"},
			{`/v1.0/users/$count?$search="displayName:Late"`, eventual, "0"},
			{`/v1.0/users/$count?$search="displayName:Late"`, nil, "1"},
		} {
			if r := a.do("GET", tc.path, admin, nil, tc.hdr...); r.Status != 200 || string(r.Body) != tc.want {
				t.Errorf("GET %s %v: %d %s, want %s", tc.path, tc.hdr, r.Status, r.Body, tc.want)
			}
		}
		r := a.do("GET", `/v1.0/users?$search="displayName:Late"&$select=id`, admin, nil, eventual...)
		if r.Status != 200 || strings.Contains(string(r.Body), late) {
			t.Errorf("eventual $search: %d %s; want the replica's empty answer", r.Status, r.Body)
		}
		// Delta stays on the primary even with the header (replicas.go).
		r = a.do("GET", "/v1.0/users/delta?$select=id", admin, nil, eventual...)
		if r.Status != 200 || !strings.Contains(string(r.Body), late) {
			t.Errorf("eventual delta: %d; want the primary's answer with the new user: %s", r.Status, r.Body)
		}

		// Lag above the maximum: instance l skips the replica, logs it
		// once, and its eventual reads see the primary.
		waitUntil(t, "instance l judges the replica lagging", func() bool { return l.usable(t, p) == 0 })
		lagging := l.metric(t, `graphdir_replica_lag_seconds{replica="`+p.replicaHost(t)+`"}`)
		if lagging <= 0.3 {
			t.Errorf("lag gauge = %v, want above the 300ms maximum", lagging)
		}
		replicaBefore = l.reads(t, "replica")
		for range 3 {
			ids = listIDs(t, admin, "/v1.0/users", []*replicaInstance{l}, [][]string{eventual})
			if !contains(ids, late) {
				t.Fatalf("eventual list on a lagging replica's instance misses the new user")
			}
		}
		if got := l.reads(t, "replica") - replicaBefore; got != 0 {
			t.Errorf("lagging replica served %v reads", got)
		}
		if n := strings.Count(l.logs.String(), "read replica skipped"); n != 1 {
			t.Errorf("%d 'skipped' log lines, want 1:\n%s", n, l.logs.String())
		}
	})

	t.Run("caught up again, the replica is used again", func(t *testing.T) {
		// The last transaction the replica replayed committed well over
		// l's 300ms ago, and nothing is written now: only the rule "caught
		// up and streaming counts as current" makes it usable again (an
		// idle primary must not make its replicas look stale).
		p.caughtUp(t)
		waitUntil(t, "instance l uses the replica again", func() bool { return l.usable(t, p) == 1 })
		before := l.reads(t, "replica")
		ids := listIDs(t, admin, "/v1.0/users", []*replicaInstance{l}, [][]string{eventual})
		if len(ids) != len(early)+1 {
			t.Errorf("eventual list after catch-up: %d users, want %d", len(ids), len(early)+1)
		}
		if got := l.reads(t, "replica") - before; got != 1 {
			t.Errorf("replica reads +%v, want +1", got)
		}
		if !strings.Contains(l.logs.String(), "read replica in use") {
			t.Errorf("no 'in use' log line:\n%s", l.logs.String())
		}
	})

	t.Run("skiptokens work whichever target and instance answers", func(t *testing.T) {
		all := listIDs(t, admin, "/v1.0/users?$top=100", []*replicaInstance{a}, [][]string{nil})
		for _, tc := range []struct {
			name    string
			servers []*replicaInstance
			headers [][]string
		}{
			{"replica then primary", []*replicaInstance{a}, [][]string{eventual, nil}},
			{"primary then replica", []*replicaInstance{a}, [][]string{nil, eventual}},
			{"across instances", []*replicaInstance{a, b}, [][]string{eventual, nil, nil, eventual}},
		} {
			ra, pa := a.reads(t, "replica"), a.reads(t, "primary")
			got := listIDs(t, admin, "/v1.0/users?$top=2&$orderby=displayName", tc.servers, tc.headers)
			if len(got) != len(all) {
				t.Errorf("%s: %d users over the pages, want %d", tc.name, len(got), len(all))
			}
			seen := map[string]bool{}
			for _, id := range got {
				if seen[id] || !contains(all, id) {
					t.Errorf("%s: %s twice or unknown", tc.name, id)
				}
				seen[id] = true
			}
			if len(tc.servers) == 1 && (a.reads(t, "replica")-ra == 0 || a.reads(t, "primary")-pa == 0) {
				t.Errorf("%s: replica +%v, primary +%v; want both used", tc.name, a.reads(t, "replica")-ra, a.reads(t, "primary")-pa)
			}
		}
	})

	// The cost of routing, measured in one run on one machine: the same
	// eventual list answered by the replica, by the primary through the
	// router (no header), and by an instance without replicas. On a single
	// machine both servers share the CPUs, so this shows the routing cost
	// only, never the capacity a second machine adds. go test -v prints it.
	t.Run("routing cost", func(t *testing.T) {
		c := newReplicaInstance(t, p, "1h", true)
		const n = 200
		path := "/v1.0/users?$top=10&$select=id,displayName&$orderby=displayName"
		variants := []struct {
			name string
			ri   *replicaInstance
			hdr  []string
		}{
			{"eventual via replica", a, eventual},
			{"no header via primary (router in place)", a, nil},
			{"eventual, no replicas configured", c, eventual},
			{"no header, no replicas configured", c, nil},
		}
		for range 20 { // warm pools and statement caches alike
			for _, v := range variants {
				v.ri.do("GET", path, admin, nil, v.hdr...)
			}
		}
		total := make([]time.Duration, len(variants))
		before := a.reads(t, "replica")
		for range n {
			for i, v := range variants {
				start := time.Now()
				r := v.ri.do("GET", path, admin, nil, v.hdr...)
				total[i] += time.Since(start)
				if r.Status != 200 {
					t.Fatalf("%s: %d %s", v.name, r.Status, r.Body)
				}
			}
		}
		if got := a.reads(t, "replica") - before; got != n {
			t.Errorf("replica answered %v of %d eventual lists", got, n)
		}
		for i, v := range variants {
			t.Logf("%-42s %6.0f µs per request (%d requests)", v.name, float64(total[i].Microseconds())/n, n)
		}
	})

	t.Run("a stopped replica sends eventual reads to the primary without errors", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Replica.StopServer(ctx); err != nil {
			t.Fatal(err)
		}
		// Instance d has not checked since it started: its first eventual
		// read fails on the replica and is answered by the primary.
		if d.usable(t, p) != 1 {
			t.Fatal("instance d does not believe the replica usable")
		}
		for range 5 {
			if ids := listIDs(t, admin, "/v1.0/users", []*replicaInstance{d}, [][]string{eventual}); len(ids) != len(early)+1 {
				t.Fatalf("eventual list with the replica down: %d users", len(ids))
			}
		}
		waitUntil(t, "instance a judges the replica down", func() bool { return a.usable(t, p) == 0 })
		before := a.reads(t, "replica")
		for range 5 {
			if r := a.do("GET", "/v1.0/users/$count", admin, nil, eventual...); r.Status != 200 || string(r.Body) != "6" {
				t.Fatalf("eventual $count with the replica down: %d %s", r.Status, r.Body)
			}
		}
		if got := a.reads(t, "replica") - before; got != 0 {
			t.Errorf("a down replica served %v reads", got)
		}
		for name, ri := range map[string]*replicaInstance{"a": a, "d": d} {
			if n := strings.Count(ri.logs.String(), `"state":"down"`); n != 1 {
				t.Errorf("instance %s logged the replica down %d times, want once:\n%s", name, n, ri.logs.String())
			}
		}
	})
}
