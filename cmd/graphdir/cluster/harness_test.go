//go:build cluster

package cluster

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	// The test reads the primary and the replica directly (replay
	// position, the tenant) with the driver graphdir uses.
	_ "github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/localpg"
	"github.com/graphdir/graphdir/internal/mail/smtptest"
)

// cluster is everything the test started: PostgreSQL primary and replica,
// PgBouncer, an SMTP server, three graphdir processes and HAProxy.
type cluster struct {
	dir     string
	bin     string
	pg      *localpg.Replicated
	primary *sql.DB
	replica *sql.DB
	smtp    *smtptest.Server
	haproxy *haproxy
	bouncer *daemon
	env     []string // every instance's environment (base)
	insts   []*instance
	lb      string // HAProxy's frontend, http://127.0.0.1:port
	tenant  string
	admin   string // app-only token: users and applications
}

// Settings every instance shares. The drain covers HAProxy's fall count
// times its check interval (2 x 200ms, see haproxyConfig) several times
// over, for a busy machine.
const (
	shutdownDrain = 2 * time.Second
	shutdownGrace = 10 * time.Second
	checkInter    = 200 * time.Millisecond
)

// startCluster brings the whole cluster up, each step bounded; t.Cleanup
// stops everything in reverse order, also when the test fails.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	began := time.Now()
	haproxyBin, pgbouncerBin := mustFind(t, "haproxy"), mustFind(t, "pgbouncer")
	c := &cluster{dir: t.TempDir()}

	c.bin = filepath.Join(c.dir, "graphdir")
	build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built graphdir in %v", time.Since(began).Round(time.Millisecond))

	step := time.Now()
	pg, err := localpg.StartReplicated(ctx, filepath.Join(c.dir, "pg"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.pg = pg
	t.Cleanup(pg.Stop)
	c.primary, c.replica = openDB(t, pg.Primary.URL()), openDB(t, pg.Replica.URL())
	t.Logf("primary %s and streaming replica %s up in %v", hostOf(pg.Primary.URL()), hostOf(pg.Replica.URL()),
		time.Since(step).Round(time.Millisecond))

	var bouncer string
	bouncer, c.bouncer = startPgBouncer(t, pgbouncerBin, pg.Primary.URL())
	c.smtp = smtptest.Start(t, smtptest.Options{})

	lbPort := freePort(t)
	c.lb = "http://127.0.0.1:" + strconv.Itoa(lbPort)
	c.env = append(cleanEnviron(),
		"DATABASE_URL="+bouncer,
		"GRAPHDIR_DB_MIGRATE_URL="+pg.Primary.URL(),
		"GRAPHDIR_DB_PREPARED_STATEMENTS=false", // PgBouncer 1.18: no max_prepared_statements
		"GRAPHDIR_REPLICA_URLS="+pg.Replica.URL(),
		"GRAPHDIR_PUBLIC_URL="+c.lb,
		"GRAPHDIR_DOMAINS=graphdir.test,contoso.com",
		"GRAPHDIR_STATE_DIR="+filepath.Join(c.dir, "state"),
		"GRAPHDIR_SHUTDOWN_DRAIN="+shutdownDrain.String(),
		"GRAPHDIR_SHUTDOWN_GRACE="+shutdownGrace.String(),
		"GRAPHDIR_LOG_LEVEL=warn",
		// Throttling has its own scenario, with its own limits; the load
		// of the others would otherwise meet the write buckets.
		"GRAPHDIR_THROTTLE=false",
		"GRAPHDIR_SMTP_URL=smtp://"+c.smtp.Addr()+"?starttls=none",
		"GRAPHDIR_MAIL_FROM=no-reply@graphdir.test",
		"GRAPHDIR_MAIL_POLL_INTERVAL=100ms",
		"GRAPHDIR_OTP_RESEND_INTERVAL=1s",
	)
	// Migrations once, before three instances start at the same moment.
	c.cli(t, ctx, "migrate", "up")

	for i := range 3 {
		c.insts = append(c.insts, &instance{c: c, name: fmt.Sprintf("g%d", i+1),
			addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), metrics: "127.0.0.1:" + strconv.Itoa(freePort(t))})
	}
	for _, in := range c.insts {
		// Whatever process an instance runs at the end is stopped.
		t.Cleanup(func() {
			in.stop(syscall.SIGTERM, shutdownDrain+shutdownGrace+5*time.Second)
			if t.Failed() && in.log != nil {
				t.Logf("%s log (last process):\n%s", in.name, tail(in.log.String(), 6000))
			}
		})
	}
	c.haproxy = startHAProxy(t, haproxyBin, c.dir, lbPort, c.insts)
	step = time.Now()
	c.startInstances(t, ctx, nil)
	t.Logf("3 instances ready and UP in HAProxy in %v", time.Since(step).Round(time.Millisecond))

	c.admin = c.cli(t, ctx, "token", "--roles", "User.ReadWrite.All Application.ReadWrite.All EventListener.ReadWrite.All")
	t.Logf("cluster up in %v: HAProxy %s, PgBouncer %s, instances %s", time.Since(began).Round(time.Millisecond),
		c.lb, hostOf(bouncer), c.instAddrs())
	return c
}

func (c *cluster) instAddrs() string {
	var s []string
	for _, in := range c.insts {
		s = append(s, in.name+"="+in.addr)
	}
	return strings.Join(s, " ")
}

// cli runs a graphdir subcommand with the instances' environment (it uses
// GRAPHDIR_DB_MIGRATE_URL, the direct connection) and returns its output.
func (c *cluster) cli(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("graphdir %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// startInstances starts every instance with extra environment and waits
// until each is ready and HAProxy has it UP.
func (c *cluster) startInstances(t *testing.T, ctx context.Context, extra []string) {
	t.Helper()
	for _, in := range c.insts {
		in.start(t, ctx, extra)
	}
	for _, in := range c.insts {
		in.waitReady(t, ctx)
	}
	for _, in := range c.insts {
		c.haproxy.waitStatus(t, in.name, "UP", 30*time.Second)
	}
}

// instance is one `graphdir serve` process; start may run it again on the
// same addresses after it stopped.
type instance struct {
	c       *cluster
	name    string
	addr    string // API listener
	metrics string // GRAPHDIR_METRICS_ADDR

	cmd    *exec.Cmd
	done   chan struct{} // closed at exit, after waited and exited are set
	waited error
	exited time.Time
	log    *lockedBuffer
}

func (in *instance) url() string { return "http://" + in.addr }

var tenantRE = regexp.MustCompile(`\(tenant (\S+), domain `)

func (in *instance) start(t *testing.T, ctx context.Context, extra []string) {
	t.Helper()
	env := append(append(append([]string{}, in.c.env...), extra...),
		"GRAPHDIR_ADDR="+in.addr, "GRAPHDIR_METRICS_ADDR="+in.metrics)
	cmd := exec.Command(in.c.bin, "serve")
	cmd.Env = env
	in.log = &lockedBuffer{}
	cmd.Stderr = in.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Own process group, and SIGKILL should the test process die without
	// its cleanup (a -timeout panic).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in.cmd, in.done = cmd, make(chan struct{})
	tenant := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := tenantRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case tenant <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	done := in.done
	go func() {
		in.waited = cmd.Wait()
		in.exited = time.Now()
		close(done)
	}()
	select {
	case id := <-tenant:
		in.c.tenant = id
	case <-in.done:
		t.Fatalf("%s exited at start: %v\n%s", in.name, in.waited, in.log)
	case <-ctx.Done():
		t.Fatalf("%s did not start: %v\n%s", in.name, ctx.Err(), in.log)
	}
}

// waitReady polls /readyz until it answers 200.
func (in *instance) waitReady(t *testing.T, ctx context.Context) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	waitFor(t, ctx, 30*time.Second, in.name+" /readyz 200", func() bool {
		res, err := client.Get(in.url() + "/readyz")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
}

// running reports whether the process has not exited.
func (in *instance) running() bool {
	if in.done == nil {
		return false
	}
	select {
	case <-in.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the instance's process group.
func (in *instance) signal(sig syscall.Signal) {
	if in.running() {
		_ = syscall.Kill(-in.cmd.Process.Pid, sig)
	}
}

// stop sends sig and waits up to within for the exit, then SIGKILLs.
func (in *instance) stop(sig syscall.Signal, within time.Duration) {
	if !in.running() {
		return
	}
	in.signal(sig)
	select {
	case <-in.done:
	case <-time.After(within):
		in.signal(syscall.SIGKILL)
		<-in.done
	}
}

// metric returns the sum of the samples of the named metric whose labels
// contain label (e.g. `target="replica"`), from the instance's /metrics.
func (in *instance) metric(name, label string) (float64, error) {
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + in.metrics + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var sum float64
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %q", name, line)
		}
		sum += v
	}
	return sum, sc.Err()
}

// sumMetric is metric summed over the instances; it fails t on an error.
func (c *cluster) sumMetric(t *testing.T, name, label string) float64 {
	t.Helper()
	var sum float64
	for _, in := range c.insts {
		v, err := in.metric(name, label)
		if err != nil {
			t.Fatalf("%s /metrics: %v", in.name, err)
		}
		sum += v
	}
	return sum
}

// waitFor polls cond until it holds, failing t after within (or when ctx
// ends). The events waited for here (a process listening, a health check
// verdict, a replica check) have nothing to block on from outside.
func waitFor(t *testing.T, ctx context.Context, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}

// mustFind returns a Debian binary, failing with how to install it: `make
// test-cluster` installs both packages when it runs as root.
func mustFind(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin
		}
	}
	t.Fatalf("%s is not installed: apt-get install %s (make test-cluster does it when run as root)", name, name)
	return ""
}

func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// cleanEnviron is the test's environment without graphdir's settings, so
// a developer's DATABASE_URL or GRAPHDIR_* cannot leak into the cluster.
func cleanEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GRAPHDIR_") && !strings.HasPrefix(kv, "DATABASE_URL=") {
			env = append(env, kv)
		}
	}
	return env
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var hostRE = regexp.MustCompile(`@([^/]+)/`)

// hostOf is a postgres URL's host:port, for the log.
func hostOf(u string) string {
	if m := hostRE.FindStringSubmatch(u); m != nil {
		return m[1]
	}
	return u
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// lockedBuffer collects a process's log for a failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startDaemon starts a foreground daemon in its own process group that
// t.Cleanup stops with SIGTERM (SIGKILL after 10s); it dies with the test
// process too (Pdeathsig), should that end without cleanup.
func startDaemon(t *testing.T, cmd *exec.Cmd, name string) *daemon {
	t.Helper()
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	d := &daemon{name: name, log: log, done: done}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tail(log.String(), 6000))
		}
	})
	return d
}

// daemon is a started PgBouncer or HAProxy.
type daemon struct {
	name string
	log  *lockedBuffer
	done chan struct{} // closed when the process exits
}

// daemonsAlive fails t when PgBouncer or HAProxy died.
func (c *cluster) daemonsAlive(t *testing.T) {
	t.Helper()
	c.bouncer.alive(t)
	c.haproxy.alive(t)
}

// alive fails t when the daemon exited before the test stopped it.
// PgBouncer 1.18 to 1.20 can crash ("FATAL ... bad client state") when a
// client cancels a query (lib/pq sends a CancelRequest when a request's
// context ends mid-query): pgbouncer/pgbouncer#801, #822 and #904, fixed
// in 1.19 and 1.21. Say so, rather than let every later request fail
// without a reason.
func (d *daemon) alive(t *testing.T) {
	t.Helper()
	select {
	case <-d.done:
		t.Fatalf("%s exited during the test (PgBouncer older than 1.21 crashes on some query cancellations, pgbouncer/pgbouncer#801 and #904):\n%s",
			d.name, tail(d.log.String(), 3000))
	default:
	}
}

// startPgBouncer runs PgBouncer in transaction mode in front of the
// primary's postgres database and returns the pooled URL. As root it runs
// as the postgres account (PgBouncer refuses root), which must read its
// configuration: hence a world-readable directory of its own.
func startPgBouncer(t *testing.T, bin, primaryURL string) (string, *daemon) {
	t.Helper()
	host, port, _ := net.SplitHostPort(hostOf(primaryURL))
	dir, err := os.MkdirTemp("", "graphdir-cluster-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	listen := freePort(t)
	// statement_timeout arrives as a start-up parameter, which PgBouncer
	// drops (ignore_startup_parameters); connect_query restores it on the
	// server side. The pool is smaller than three instances' pools.
	ini := fmt.Sprintf(`[databases]
postgres = host=%s port=%s dbname=postgres connect_query='SET statement_timeout = 5000; SET idle_in_transaction_session_timeout = 60000'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = 20
max_client_conn = 1000
ignore_startup_parameters = statement_timeout,idle_in_transaction_session_timeout
server_reset_query =
`, host, port, listen, filepath.Join(dir, "userlist.txt"))
	for name, body := range map[string]string{"pgbouncer.ini": ini, "userlist.txt": `"postgres" ""` + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	if os.Geteuid() == 0 {
		cred, err := accountCredential("postgres")
		if err != nil {
			t.Fatalf("PgBouncer refuses to run as root and there is no postgres account: %v", err)
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	d := startDaemon(t, cmd, "pgbouncer")
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", listen)
	waitFor(t, context.Background(), 30*time.Second, "PgBouncer to accept connections", func() bool {
		d.alive(t)
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", listen), time.Second)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
	return url, d
}

func accountCredential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// haproxy is HAProxy in front of the instances, with its runtime socket.
type haproxy struct {
	sock string
	*daemon
}

// haproxyConfig: round robin; /readyz checked every 200ms, two failures
// mark a server DOWN and two successes UP again; a connection refused is
// retried (only that: retrying a request the server may have begun would
// replay a write) on another server. X-Served-By names the server that
// answered, so the test can see where requests went.
func haproxyConfig(sock string, port int, insts []*instance) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    stats socket %s mode 600 level admin
    maxconn 4000

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout check 3s
    timeout http-keep-alive 10s
    retries 3
    option redispatch 1
    retry-on conn-failure

frontend api
    bind 127.0.0.1:%d
    default_backend graphdir

backend graphdir
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter %dms fastinter %dms downinter %dms fall 2 rise 2
    http-response set-header X-Served-By %%[srv_name]
`, sock, port, checkInter.Milliseconds(), checkInter.Milliseconds()/2, checkInter.Milliseconds())
	for _, in := range insts {
		fmt.Fprintf(&b, "    server %s %s check\n", in.name, in.addr)
	}
	return b.String()
}

func startHAProxy(t *testing.T, bin, dir string, port int, insts []*instance) *haproxy {
	t.Helper()
	h := &haproxy{sock: filepath.Join(dir, "haproxy.sock")}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(h.sock, port, insts)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", cfg).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s", err, out)
	}
	h.daemon = startDaemon(t, exec.Command(bin, "-db", "-f", cfg), "haproxy")
	waitFor(t, context.Background(), 30*time.Second, "HAProxy's runtime socket", func() bool {
		_, err := h.command("show info")
		return err == nil
	})
	return h
}

// command runs one runtime API command and returns its answer.
func (h *haproxy) command(cmd string) (string, error) {
	conn, err := net.DialTimeout("unix", h.sock, time.Second)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", err
	}
	out, err := io.ReadAll(conn)
	return string(out), err
}

// serverStat is one server's row of `show stat`.
type serverStat struct {
	Status              string // UP, DOWN, "UP 1/2" (going down), "DOWN 1/2" (coming up), ...
	Retries, Redispatch int
}

// stats reads `show stat` for the graphdir backend's servers.
func (h *haproxy) stats() (map[string]serverStat, error) {
	out, err := h.command("show stat")
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(out, "# ")))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("show stat: %v %q", err, out)
	}
	col := map[string]int{}
	for i, name := range rows[0] {
		col[name] = i
	}
	stats := map[string]serverStat{}
	for _, row := range rows[1:] {
		if len(row) <= col["status"] || row[col["pxname"]] != "graphdir" || row[col["svname"]] == "BACKEND" {
			continue
		}
		retr, _ := strconv.Atoi(row[col["wretr"]])
		redis, _ := strconv.Atoi(row[col["wredis"]])
		stats[row[col["svname"]]] = serverStat{Status: row[col["status"]], Retries: retr, Redispatch: redis}
	}
	return stats, nil
}

// status is one server's state ("" when unreadable).
func (h *haproxy) status(server string) string {
	s, err := h.stats()
	if err != nil {
		return ""
	}
	return s[server].Status
}

// waitStatus polls until HAProxy reports server in state (exactly) and
// returns when it first saw it.
func (h *haproxy) waitStatus(t *testing.T, server, state string, within time.Duration) time.Time {
	t.Helper()
	var at time.Time
	waitFor(t, context.Background(), within, "HAProxy to mark "+server+" "+state, func() bool {
		if h.status(server) == state {
			at = time.Now()
			return true
		}
		return false
	})
	return at
}
