//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Load shape of the scenarios: workers in flight at most, and the pace.
const (
	loadWorkers   = 8
	loadPerSecond = 120
)

// TestCluster starts the cluster once and runs the scenarios of issue 15
// item 5 against it, in an order where each leaves the cluster whole for
// the next (an instance stopped is started again on the same address).
func TestCluster(t *testing.T) {
	began := time.Now()
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()

	// Users the load reads and updates.
	lb := c.balancer(t)
	var seeds []string
	for i := range 12 {
		m := want(t, lb.do("POST", "/v1.0/users", c.admin, workforceUser(fmt.Sprintf("seed%02d@contoso.com", i), "Seed")), http.StatusCreated, "seed user")
		seeds = append(seeds, m["id"].(string))
	}

	t.Run("eventual reads on the replica, ordinary reads see writes made on another instance", func(t *testing.T) {
		defer c.daemonsAlive(t)
		c.waitReplicaUsable(t, ctx, true)
		// Quiet cluster: every routable read below is one of ours.
		rep0, prim0 := c.reads(t)
		lb := c.balancer(t)
		const n = 30
		served := map[string]int{}
		for range n {
			r := lb.do("GET", "/v1.0/users?$count=true&$top=3&$select=id", c.admin, nil, "ConsistencyLevel", "eventual")
			want(t, r, http.StatusOK, "eventual list")
			served[r.Header.Get("X-Served-By")]++
		}
		rep1, prim1 := c.reads(t)
		t.Logf("%d eventual lists through HAProxy (answered by %s): replica reads +%.0f, primary reads +%.0f", n, fmtCounts(served), rep1-rep0, prim1-prim0)
		if rep1-rep0 < n || prim1 != prim0 || len(served) != 3 {
			t.Errorf("eventual lists: replica +%.0f (want >= %d), primary +%.0f (want 0), instances %v (want all 3)", rep1-rep0, n, prim1-prim0, served)
		}
		for range 10 {
			want(t, lb.do("GET", "/v1.0/users?$top=3&$select=id", c.admin, nil), http.StatusOK, "ordinary list")
		}
		rep2, prim2 := c.reads(t)
		if rep2 != rep1 || prim2-prim1 < 10 {
			t.Errorf("ordinary lists: replica +%.0f (want 0), primary +%.0f (want >= 10)", rep2-rep1, prim2-prim1)
		}

		// Read-your-writes across instances, under the mixed load: each
		// user is created on one instance and read at once, by key and by
		// filter, on the two others.
		l := startLoad(t, "read-your-writes", c.mixedOps("ryw", seeds), loadWorkers, loadPerSecond)
		for i := range 9 {
			a, b, d := c.insts[i%3].api(t), c.insts[(i+1)%3].api(t), c.insts[(i+2)%3].api(t)
			upn := fmt.Sprintf("ryw%02d@contoso.com", i)
			id := want(t, a.do("POST", "/v1.0/users", c.admin, workforceUser(upn, "RYW")), http.StatusCreated, "create on "+a.name)["id"].(string)
			if got := want(t, b.do("GET", "/v1.0/users/"+id+"?$select=userPrincipalName", c.admin, nil), http.StatusOK, "read on "+b.name); got["userPrincipalName"] != upn {
				t.Errorf("read on %s of a user created on %s: %v", b.name, a.name, got)
			}
			f := url.QueryEscape("userPrincipalName eq '" + upn + "'")
			if got := want(t, d.do("GET", "/v1.0/users?$filter="+f+"&$select=id", c.admin, nil), http.StatusOK, "list on "+d.name); len(got["value"].([]any)) != 1 {
				t.Errorf("filter on %s for a user created on %s: %v", d.name, a.name, got)
			}
		}
		if rep := l.finish(); len(rep.failures) > 0 {
			t.Errorf("%d requests of the load failed", len(rep.failures))
		}
	})

	t.Run("stopping the replica moves eventual reads to the primary without an error", func(t *testing.T) {
		defer c.daemonsAlive(t)
		l := startLoad(t, "replica stopped", c.mixedOps("replica", seeds), loadWorkers, loadPerSecond)
		l.waitOK(100, l.from, 30*time.Second)
		rep0, _ := c.reads(t)
		stop := time.Now()
		if err := c.pg.Replica.StopServer(ctx); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		c.waitReplicaUsable(t, ctx, false)
		skipped := time.Now()
		rep1, prim1 := c.reads(t)
		l.waitOK(100, skipped, 30*time.Second)
		rep2, prim2 := c.reads(t)
		r := l.finish()
		t.Logf("replica stopped in %v; every instance skipped it %v after the stop; eventual reads on the replica meanwhile +%.0f, then replica +%.0f, primary +%.0f",
			stopped.Sub(stop).Round(time.Millisecond), skipped.Sub(stop).Round(time.Millisecond), rep1-rep0, rep2-rep1, prim2-prim1)
		if len(r.failures) > 0 {
			t.Errorf("%d requests failed while the replica stopped", len(r.failures))
		}
		if rep2 != rep1 || prim2-prim1 < 10 {
			t.Errorf("after the stop: replica reads +%.0f (want 0), primary +%.0f (want the eventual reads)", rep2-rep1, prim2-prim1)
		}

		// And back: the replica takes eventual reads again.
		back := time.Now()
		if err := c.pg.Replica.Start(ctx); err != nil {
			t.Fatal(err)
		}
		c.waitReplicaUsable(t, ctx, true)
		t.Logf("replica restarted and usable on every instance after %v", time.Since(back).Round(time.Millisecond))
		rep3, _ := c.reads(t)
		lb := c.balancer(t)
		for range 6 {
			// $count answers text/plain.
			if r := lb.do("GET", "/v1.0/users/$count", c.admin, nil, "ConsistencyLevel", "eventual"); r.Status != http.StatusOK {
				t.Fatalf("eventual count: %d %s", r.Status, r.Body)
			}
		}
		if rep4, _ := c.reads(t); rep4-rep3 < 6 {
			t.Errorf("replica back: +%.0f replica reads, want 6", rep4-rep3)
		}
	})

	t.Run("a sign-in flow started on one instance finishes on another", func(t *testing.T) {
		defer c.daemonsAlive(t)
		l := startLoad(t, "sign-in flows", c.mixedOps("flows", seeds), loadWorkers/2, loadPerSecond/2)
		apps := c.registerSignInApps(t)
		c.nativeAuthAcrossInstances(t, apps)
		c.browserRedirectAcrossInstances(t, apps)
		if rep := l.finish(); len(rep.failures) > 0 {
			t.Errorf("%d requests of the load failed", len(rep.failures))
		}
	})

	t.Run("SIGTERM of an instance under load fails no request", func(t *testing.T) {
		defer c.daemonsAlive(t)
		in := c.insts[1]
		l := startLoad(t, "SIGTERM "+in.name, c.mixedOps("term", seeds), loadWorkers, loadPerSecond)
		l.waitOK(100, l.from, 30*time.Second)
		term := time.Now()
		in.signal(syscall.SIGTERM)
		down := c.haproxy.waitStatus(t, in.name, "DOWN", 10*time.Second)
		select {
		case <-in.done:
		case <-time.After(shutdownDrain + shutdownGrace + 5*time.Second):
			t.Fatalf("%s did not exit after SIGTERM\n%s", in.name, in.log)
		}
		if in.waited != nil {
			t.Errorf("%s exited with %v after SIGTERM, want 0\n%s", in.name, in.waited, in.log)
		}
		l.waitOK(100, in.exited, 30*time.Second)
		r := l.finish()
		last := lastServed(r, in.name)
		t.Logf("SIGTERM %s: HAProxy marked it DOWN %v after the signal; its last request started %v after; it exited %v after; %d requests failed",
			in.name, down.Sub(term).Round(time.Millisecond), last.Sub(term).Round(time.Millisecond), in.exited.Sub(term).Round(time.Millisecond), len(r.failures))
		if len(r.failures) > 0 {
			t.Errorf("%d requests failed across the SIGTERM of %s", len(r.failures), in.name)
		}
		// The balancer took it out while it still served (drain), not
		// because its listener closed.
		if !down.Before(term.Add(shutdownDrain)) {
			t.Errorf("HAProxy marked %s DOWN %v after SIGTERM, after the drain of %v", in.name, down.Sub(term), shutdownDrain)
		}
		// Shutdown cancelled no statement: a cancellation cut short by
		// the exit is what crashes PgBouncer 1.18 (pgbouncer#801).
		if n := strings.Count(c.bouncer.log.String(), "sending cancel request"); n > 0 {
			t.Errorf("%d statements were cancelled through PgBouncer around the SIGTERM of %s", n, in.name)
		}
		c.restart(t, ctx, in, nil)
	})

	t.Run("SIGKILL of an instance fails only its requests in flight; HAProxy routes around it within 3s", func(t *testing.T) {
		defer c.daemonsAlive(t)
		in := c.insts[2]
		l := startLoad(t, "SIGKILL "+in.name, c.mixedOps("kill", seeds), loadWorkers, loadPerSecond)
		l.waitOK(100, l.from, 30*time.Second)
		before, _ := c.haproxy.stats()
		kill := time.Now()
		in.signal(syscall.SIGKILL)
		down := c.haproxy.waitStatus(t, in.name, "DOWN", 10*time.Second)
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still runs 10s after SIGKILL", in.name)
		}
		// On a busy machine the signal takes effect a little later than
		// it is sent; what ran until then was the instance's in flight.
		dead := in.exited
		l.waitOK(100, down, 30*time.Second)
		r := l.finish()
		after, _ := c.haproxy.stats()
		inFlight := 0
		for _, o := range r.outcomes {
			if o.start.Before(dead) && o.end.After(kill) {
				inFlight++
			}
		}
		var lastFailure time.Time
		for _, f := range r.failures {
			if !f.start.Before(dead) {
				t.Errorf("a request that started %v after %s was dead (%v after the SIGKILL) failed: %s %s",
					f.start.Sub(dead), in.name, dead.Sub(kill), f.op, f.err)
			}
			lastFailure = maxTime(lastFailure, f.end)
		}
		reroute := down.Sub(kill)
		t.Logf("SIGKILL %s: reaped %v after the signal; HAProxy marked it DOWN %v after the kill; %d requests in flight at the kill, %d failed (last failure ended %v after the kill); HAProxy retries +%d, redispatches +%d",
			in.name, dead.Sub(kill).Round(time.Millisecond), reroute.Round(time.Millisecond), inFlight, len(r.failures), durationSince(lastFailure, kill),
			after[in.name].Retries-before[in.name].Retries, after[in.name].Redispatch-before[in.name].Redispatch)
		if len(r.failures) > inFlight {
			t.Errorf("%d failures, more than the %d requests in flight at the kill", len(r.failures), inFlight)
		}
		if reroute > 3*time.Second {
			t.Errorf("HAProxy took %v to route around the killed instance, want < 3s", reroute)
		}
		if last := lastServed(r, in.name); last.After(dead) {
			t.Errorf("%s answered a request that started %v after it was dead", in.name, last.Sub(dead))
		}
		c.restart(t, ctx, in, nil)
	})

	t.Run("throttling limits hold across instances", func(t *testing.T) {
		defer c.daemonsAlive(t)
		c.throttleAcrossInstances(t, ctx, seeds[0])
	})
	t.Logf("TestCluster: %v in all", time.Since(began).Round(time.Millisecond))
}

// reads is graphdir_db_reads_total by target, summed over the instances.
func (c *cluster) reads(t *testing.T) (replica, primary float64) {
	t.Helper()
	return c.sumMetric(t, "graphdir_db_reads_total", `target="replica"`), c.sumMetric(t, "graphdir_db_reads_total", `target="primary"`)
}

// waitReplicaUsable waits until every instance's replica check says the
// replica takes eventual reads (usable) or is skipped.
func (c *cluster) waitReplicaUsable(t *testing.T, ctx context.Context, usable bool) {
	t.Helper()
	wantV := 0.0
	if usable {
		wantV = 1
	}
	waitFor(t, ctx, 30*time.Second, fmt.Sprintf("graphdir_replica_usable %v on every instance", wantV), func() bool {
		for _, in := range c.insts {
			v, err := in.metric("graphdir_replica_usable", "replica=")
			if err != nil || v != wantV {
				return false
			}
		}
		return true
	})
}

// restart starts a stopped instance again on its address and waits until
// HAProxy has it UP.
func (c *cluster) restart(t *testing.T, ctx context.Context, in *instance, extra []string) {
	t.Helper()
	up := time.Now()
	in.start(t, ctx, extra)
	in.waitReady(t, ctx)
	c.haproxy.waitStatus(t, in.name, "UP", 30*time.Second)
	t.Logf("%s restarted and UP in HAProxy after %v", in.name, time.Since(up).Round(time.Millisecond))
}

// lastServed is when the last request the named instance answered started.
func lastServed(r loadReport, server string) time.Time {
	var last time.Time
	for _, o := range r.outcomes {
		if o.server == server {
			last = maxTime(last, o.start)
		}
	}
	return last
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func durationSince(t, since time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Sub(since).Round(time.Millisecond).String()
}
