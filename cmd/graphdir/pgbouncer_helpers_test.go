package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// pgBouncer is a PgBouncer process a test started in front of the test
// PostgreSQL, stopped at the test's cleanup.
type pgBouncer struct {
	URL     string // postgres:// URL of the test database through PgBouncer
	Version [2]int // major, minor
}

// pgBouncerOptions shape the pooler's configuration.
type pgBouncerOptions struct {
	PoolSize int
	// MaxPreparedStatements > 0 turns on PgBouncer's prepared-statement
	// tracking (1.21+).
	MaxPreparedStatements int
}

// pgBouncerStatementTimeoutMS is what connect_query sets on every server
// connection: PgBouncer drops graphdir's statement_timeout start-up
// parameter (ignore_startup_parameters), so the pooler's side restores it.
const pgBouncerStatementTimeoutMS = 5000

// findPgBouncer returns the pgbouncer binary, installing Debian's package
// when it is missing and we are root with apt-get (as internal/localpg does
// for PostgreSQL); "" with the reason when it cannot be had.
func findPgBouncer(t *testing.T) (string, string) {
	t.Helper()
	for _, p := range []string{"pgbouncer", "/usr/sbin/pgbouncer"} {
		if bin, err := exec.LookPath(p); err == nil {
			return bin, ""
		}
	}
	aptGet, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		return "", "pgbouncer is not installed and cannot be installed here (needs root and apt-get): sudo apt-get install pgbouncer"
	}
	t.Log("pgbouncer: not found; installing the pgbouncer package with apt-get")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "pgbouncer"}} {
		cmd := exec.CommandContext(ctx, aptGet, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Sprintf("apt-get %s: %v\n%s", args[0], err, out)
		}
	}
	if _, err := os.Stat("/usr/sbin/pgbouncer"); err != nil {
		return "", "apt-get installed pgbouncer but /usr/sbin/pgbouncer is missing"
	}
	return "/usr/sbin/pgbouncer", ""
}

var pgBouncerVersionRE = regexp.MustCompile(`PgBouncer (\d+)\.(\d+)`)

func pgBouncerVersion(t *testing.T, bin string) [2]int {
	t.Helper()
	out, err := exec.Command(bin, "--version").CombinedOutput()
	m := pgBouncerVersionRE.FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("pgbouncer --version: %v %s", err, out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	return [2]int{major, minor}
}

// startPgBouncer starts PgBouncer in transaction mode on a free loopback
// port in front of directURL's server and database (trust authentication,
// as the test PostgreSQL has), and waits until it listens.
func startPgBouncer(t *testing.T, bin string, directURL string, o pgBouncerOptions) *pgBouncer {
	t.Helper()
	u, err := url.Parse(directURL)
	if err != nil {
		t.Fatal(err)
	}
	dbname := strings.TrimPrefix(u.Path, "/")
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	dbUser := "postgres"
	if u.User != nil && u.User.Username() != "" {
		dbUser = u.User.Username()
	}

	// Not t.TempDir: when we run as root PgBouncer drops to the postgres
	// user, which must be able to read its configuration.
	dir, err := os.MkdirTemp("", "graphdir-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listenPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	ini := fmt.Sprintf(`[databases]
%s = host=%s port=%s dbname=%s connect_query='SET statement_timeout = %d; SET idle_in_transaction_session_timeout = 60000'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 500
ignore_startup_parameters = statement_timeout,idle_in_transaction_session_timeout
server_reset_query =
`, dbname, host, port, dbname, pgBouncerStatementTimeoutMS, listenPort, filepath.Join(dir, "userlist.txt"), o.PoolSize)
	if o.MaxPreparedStatements > 0 {
		ini += fmt.Sprintf("max_prepared_statements = %d\n", o.MaxPreparedStatements)
	}
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("SKIPPED LOUDLY: running as root and there is no postgres user for PgBouncer to run as: %v", err)
		}
		ini += "user = " + pg.Username + "\n"
	}
	for name, body := range map[string]string{
		"pgbouncer.ini": ini,
		"userlist.txt":  fmt.Sprintf("%q \"\"\n", dbUser),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(bin, filepath.Join(dir, "pgbouncer.ini"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logText strings.Builder
	up := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			logMu.Lock()
			logText.WriteString(sc.Text() + "\n")
			logMu.Unlock()
			if !seen && strings.Contains(sc.Text(), "process up") {
				seen = true
				close(up)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	log := func() string { logMu.Lock(); defer logMu.Unlock(); return logText.String() }
	t.Cleanup(func() {
		// SIGINT: PgBouncer closes its connections and exits at once.
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", log())
		}
	})
	select {
	case <-up:
	case <-exited:
		t.Fatalf("pgbouncer exited before listening:\n%s", log())
	case <-time.After(15 * time.Second):
		t.Fatalf("pgbouncer did not come up within 15s:\n%s", log())
	}
	pu := *u
	pu.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(listenPort))
	return &pgBouncer{URL: pu.String(), Version: pgBouncerVersion(t, bin)}
}
