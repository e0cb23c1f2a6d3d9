package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// buildBinary compiles graphdir into a temporary directory, statically
// (CGO_ENABLED=0), as the Dockerfile does.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "graphdir")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSIGTERMUnderWriteLoadLosesNoAcknowledgedWrite runs the real binary,
// creates users from several goroutines, sends SIGTERM mid-load and checks
// that the process exits 0 within the grace period and that every create
// that got a 201 is in the database.
func TestSIGTERMUnderWriteLoadLosesNoAcknowledgedWrite(t *testing.T) {
	bin := buildBinary(t)
	dbURL := pgtest.NewURL(t)
	const grace = 10 * time.Second
	env := append(os.Environ(),
		"DATABASE_URL="+dbURL,
		"GRAPHDIR_PUBLIC_URL=http://127.0.0.1:1",
		"GRAPHDIR_DOMAINS=graphdir.test",
		"GRAPHDIR_SHUTDOWN_GRACE="+grace.String(),
		"GRAPHDIR_ADDR=127.0.0.1:0",
		"GRAPHDIR_TRUSTED_ISSUERS=",
		"GRAPHDIR_TRUSTED_ISSUERS_FILE=",
	)
	tokCmd := exec.Command(bin, "token", "--roles", "User.ReadWrite.All")
	tokCmd.Env = env
	out, err := tokCmd.Output()
	if err != nil {
		t.Fatalf("graphdir token: %v", err)
	}
	token := strings.TrimSpace(string(out))

	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	addrRE := regexp.MustCompile(`serving \S+ on (127\.0\.0\.1:\d+)`)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatalf("graphdir did not start:\n%s", stderr.String())
	}
	base := "http://" + addr

	var (
		mu    sync.Mutex
		acked []string
		seq   atomic.Int64
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				email := fmt.Sprintf("term-%d-%d@example.com", w, seq.Add(1))
				b, _ := json.Marshal(customer("graphdir.test", email))
				req, _ := http.NewRequest("POST", base+"/v1.0/users", bytes.NewReader(b))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					return // the listener is closed: shutdown has begun
				}
				res.Body.Close()
				if res.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, email)
					mu.Unlock()
				}
			}
		}()
	}
	waitFor(t, 20*time.Second, "creates under load", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 20
	})
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("graphdir exited with %v after SIGTERM; want 0\n%s", err, stderr.String())
		}
	case <-time.After(grace + 5*time.Second):
		t.Fatalf("graphdir did not exit within the grace period (%v)\n%s", grace, stderr.String())
	}
	exited := time.Since(sent)
	wg.Wait()
	t.Logf("exited %v after SIGTERM; %d creates acknowledged", exited.Round(time.Millisecond), len(acked))
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no clean-stop log line:\n%s", stderr.String())
	}

	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, email := range acked {
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM users WHERE lower(mail) = lower($1)`, email).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("acknowledged create %s is not in the database", email)
		}
	}
}

// TestSIGTERMGoesUnreadyBeforeTheListenerCloses: with
// GRAPHDIR_SHUTDOWN_DRAIN, SIGTERM turns /readyz to 503 at once while the
// listener still answers (/healthz 200), so a balancer's health check
// takes the instance out before requests could meet a closed port; then
// the process exits 0. The cluster test (make test-cluster) shows the same
// behind HAProxy under load.
func TestSIGTERMGoesUnreadyBeforeTheListenerCloses(t *testing.T) {
	bin := buildBinary(t)
	const drain = 3 * time.Second
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL=http://127.0.0.1:1",
		"GRAPHDIR_DOMAINS=graphdir.test",
		"GRAPHDIR_SHUTDOWN_DRAIN="+drain.String(),
		"GRAPHDIR_ADDR=127.0.0.1:0",
		"GRAPHDIR_TRUSTED_ISSUERS=",
		"GRAPHDIR_TRUSTED_ISSUERS_FILE=",
	)
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	addrRE := regexp.MustCompile(`serving \S+ on (127\.0\.0\.1:\d+)`)
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				addrc <- m[1]
			}
		}
	}()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case <-time.After(30 * time.Second):
		t.Fatalf("graphdir did not start:\n%s", stderr.String())
	}
	client := &http.Client{Timeout: 5 * time.Second}
	status := func(path string) int {
		res, err := client.Get(base + path)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	waitFor(t, 20*time.Second, "/readyz 200", func() bool { return status("/readyz") == http.StatusOK })

	term := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, drain, "/readyz 503 after SIGTERM", func() bool { return status("/readyz") == http.StatusServiceUnavailable })
	unready := time.Since(term)
	if h := status("/healthz"); h != http.StatusOK || time.Since(term) >= drain {
		t.Fatalf("during the drain: /healthz %d after %v, want 200 before %v", h, time.Since(term), drain)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(drain + 20*time.Second):
		t.Fatalf("graphdir did not exit after the drain\n%s", stderr.String())
	}
	exited := time.Since(term)
	if exited < drain {
		t.Errorf("exited %v after SIGTERM, before the drain of %v ended", exited, drain)
	}
	t.Logf("unready %v after SIGTERM, exited after %v (drain %v)", unready.Round(time.Millisecond), exited.Round(time.Millisecond), drain)
}
