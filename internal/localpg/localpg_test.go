package localpg

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests start real servers, so they need PostgreSQL server binaries;
// without them they skip rather than fail (the error text is what a user
// would see, and is checked in TestInstallHelp).
func requireBinaries(t *testing.T) {
	t.Helper()
	dir, err := findBinDir(context.Background(), "")
	if dir == "" || err != nil {
		t.Skipf("no PostgreSQL server binaries: %v", err)
	}
}

// cleanupState stops whatever runs under dir and removes the /tmp
// relocation, which t.TempDir's cleanup would not reach.
func cleanupState(t *testing.T, dir string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := Shutdown(ctx, Options{StateDir: dir}); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		os.RemoveAll(shortDir(dir))
	})
}

func selectOne(t *testing.T, url string) {
	t.Helper()
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("SELECT 1 on %s: %v, %d", url, err, n)
	}
}

func TestStartReuseStop(t *testing.T) {
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// t.TempDir is 0700 root-owned under root: the real "checkout under
	// /root" case, which must relocate for the postgres account.
	state := t.TempDir()
	cleanupState(t, state)
	var log bytes.Buffer

	first, err := Start(ctx, Options{StateDir: state, Log: &log})
	if err != nil {
		t.Fatalf("Start: %v\nlog:\n%s", err, log.String())
	}
	if !first.Started() {
		t.Fatal("first Start did not start a server")
	}
	if strings.Contains(first.URL(), ":5432/") {
		t.Fatalf("private instance on 5432: %s", first.URL())
	}
	selectOne(t, first.URL())
	if os.Geteuid() == 0 {
		if strings.HasPrefix(first.DataDir(), state) {
			t.Errorf("as root with a private state dir the cluster should be relocated, got %s", first.DataDir())
		}
		if _, err := os.Stat(filepath.Join(state, "pgbase")); err != nil {
			t.Errorf("relocation not recorded: %v", err)
		}
	}

	second, err := Start(ctx, Options{StateDir: state})
	if err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if second.Started() || second.URL() != first.URL() {
		t.Fatalf("second Start should reuse %s, got %s (started=%v)", first.URL(), second.URL(), second.Started())
	}
	if err := second.Stop(); err != nil {
		t.Fatal(err)
	}
	selectOne(t, first.URL()) // a reuser's Stop leaves the server alone

	if err := first.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := ping(ctx, first.URL(), 2*time.Second); err == nil {
		t.Fatal("server still answers after Stop")
	}
	if err := first.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	// A restart keeps the data directory and the recorded port.
	third, err := Start(ctx, Options{StateDir: state})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if !third.Started() || third.URL() != first.URL() {
		t.Fatalf("restart: want a started server at %s, got %s (started=%v)", first.URL(), third.URL(), third.Started())
	}
	selectOne(t, third.URL())
	if err := third.Stop(); err != nil {
		t.Fatal(err)
	}
}

// TestHelperStart is the other side of TestConcurrentStart: a separate
// process racing to start the same instance, as parallel `go test`
// package binaries do.
func TestHelperStart(t *testing.T) {
	state := os.Getenv("LOCALPG_HELPER_STATE")
	if state == "" {
		t.Skip("helper process for TestConcurrentStart")
	}
	inst, err := Start(context.Background(), Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("RESULT %s %v\n", inst.URL(), inst.Started())
}

func TestConcurrentStart(t *testing.T) {
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A traversable state dir: the non-relocated layout, as in a checkout
	// under /work or /home.
	state := t.TempDir()
	for _, d := range []string{filepath.Dir(state), state} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cleanupState(t, state)

	type result struct {
		url     string
		started bool
		err     error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	add := func(r result) { mu.Lock(); results = append(results, r); mu.Unlock() }
	for range 2 {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperStart$", "-test.v")
			cmd.Env = append(os.Environ(), "LOCALPG_HELPER_STATE="+state)
			out, err := cmd.CombinedOutput()
			var r result
			if _, serr := fmt.Sscanf(afterMarker(string(out)), "RESULT %s %t", &r.url, &r.started); err != nil || serr != nil {
				r.err = fmt.Errorf("helper: %v %v\n%s", err, serr, out)
			}
			add(r)
		})
		wg.Go(func() {
			inst, err := Start(ctx, Options{StateDir: state})
			if err != nil {
				add(result{err: err})
				return
			}
			add(result{url: inst.URL(), started: inst.Started()})
		})
	}
	wg.Wait()

	starters := 0
	for _, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.url != results[0].url {
			t.Fatalf("racers got different URLs: %+v", results)
		}
		if r.started {
			starters++
		}
	}
	if starters != 1 {
		t.Fatalf("want exactly one starter, got %d: %+v", starters, results)
	}
	selectOne(t, results[0].url)
	if os.Geteuid() == 0 {
		if want := filepath.Join(state, "pgdata"); existingLayout(state).dataDir != want {
			t.Errorf("traversable state dir was relocated to %s", existingLayout(state).dataDir)
		}
	}
}

func afterMarker(out string) string {
	if i := strings.Index(out, "RESULT "); i >= 0 {
		return out[i:]
	}
	return out
}

func TestTestServerURL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	t.Run("env", func(t *testing.T) {
		const want = "postgres://someone@db.example:6543/x?sslmode=require"
		got, err := TestServerURL(ctx, env(map[string]string{"GRAPHDIR_TEST_DATABASE_URL": want}))
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	})

	t.Run("5432", func(t *testing.T) {
		if err := probe(ctx, publicServerURL); err != nil {
			t.Skipf("no usable server on 127.0.0.1:5432 here: %v", err)
		}
		got, err := TestServerURL(ctx, env(map[string]string{"GRAPHDIR_STATE_DIR": t.TempDir()}))
		if err != nil || got != publicServerURL {
			t.Fatalf("got %q, %v; want %q", got, err, publicServerURL)
		}
	})

	t.Run("private", func(t *testing.T) {
		requireBinaries(t)
		// Point the probe at a port nobody listens on.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := ln.Addr().String()
		ln.Close()
		saved := publicServerURL
		publicServerURL = "postgres://postgres@" + dead + "/postgres?sslmode=disable"
		t.Cleanup(func() { publicServerURL = saved })

		state := t.TempDir()
		cleanupState(t, state)
		got, err := TestServerURL(ctx, env(map[string]string{"GRAPHDIR_STATE_DIR": state}))
		if err != nil {
			t.Fatal(err)
		}
		if got == publicServerURL || strings.Contains(got, dead) {
			t.Fatalf("expected the private instance, got %s", got)
		}
		selectOne(t, got)
		// Left running for later test packages; Shutdown stops it.
		if err := Shutdown(ctx, Options{StateDir: state}); err != nil {
			t.Fatal(err)
		}
		if err := ping(ctx, got, 2*time.Second); err == nil {
			t.Fatal("still running after Shutdown")
		}
	})
}

func TestInstallHelp(t *testing.T) {
	for _, s := range []string{"apt-get install postgresql", "dnf install postgresql-server", "brew install postgresql@15"} {
		if !strings.Contains(installHelp, s) {
			t.Errorf("install help lacks %q", s)
		}
	}
}

func TestHelpers(t *testing.T) {
	if got := hostPort("postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"); got != "127.0.0.1:5432" {
		t.Errorf("hostPort = %q", got)
	}
	if compareVersions("10", "9.6") <= 0 || compareVersions("15", "16") >= 0 || compareVersions("15", "15") != 0 {
		t.Error("compareVersions misorders")
	}
	deep := "/" + strings.Repeat("d", 120)
	if l := layoutAt(deep, deep); !strings.HasPrefix(l.socketDir, "/tmp/graphdir-pg-") || len(l.socketDir) > maxSocketDir {
		t.Errorf("deep state dir: socket dir %q", l.socketDir)
	}
	if l := layoutAt("/w/.graphdir", "/w/.graphdir"); l.socketDir != "/w/.graphdir/run" {
		t.Errorf("socket dir %q", l.socketDir)
	}
}

// TestRestartAfterKill covers a postmaster killed with SIGKILL whose zombie
// or recycled PID still makes postmaster.pid look live (containers without
// a reaping init): Start must clear the stale lock files and start afresh.
func TestRestartAfterKill(t *testing.T) {
	requireBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	state := t.TempDir()
	cleanupState(t, state)
	first, err := Start(ctx, Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(first.DataDir(), "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscan(string(b), &pid); err != nil {
		t.Fatal(err)
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		if _, ok := runningPort(first.DataDir()); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("killed postmaster still looks alive")
		}
		time.Sleep(50 * time.Millisecond)
	}
	again, err := Start(ctx, Options{StateDir: state})
	if err != nil {
		t.Fatalf("Start after kill: %v", err)
	}
	if !again.Started() || again.URL() != first.URL() {
		t.Fatalf("want a fresh start at %s, got %s (started=%v)", first.URL(), again.URL(), again.Started())
	}
	selectOne(t, again.URL())
}
