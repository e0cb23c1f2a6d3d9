package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/localpg"
)

// createOutcome is what one create request got.
type createOutcome struct {
	email  string
	status int
}

// TestDatabaseOutageFailsFastAndRecovers runs graphdir on its own private
// PostgreSQL under a steady mix of reads and creates, stops the database,
// checks that requests fail fast with 503 + Retry-After and /readyz says
// not ready, starts the database again and checks that graphdir recovers by
// itself, then that every acknowledged create is stored whole and no
// failed one is half-written.
func TestDatabaseOutageFailsFastAndRecovers(t *testing.T) {
	ctx := context.Background()
	pgOpts := localpg.Options{StateDir: t.TempDir()}
	inst, err := localpg.Start(ctx, pgOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = localpg.Shutdown(context.Background(), pgOpts) })

	const requestTimeout = 20 * time.Second
	env := map[string]string{
		"DATABASE_URL":                inst.URL(),
		"GRAPHDIR_PUBLIC_URL":         testPublicURL,
		"GRAPHDIR_DOMAINS":            "graphdir.test",
		"GRAPHDIR_REQUEST_TIMEOUT":    requestTimeout.String(),
		"GRAPHDIR_DB_CONNECT_TIMEOUT": "2s",
	}
	cfg, getenv, db := openTestDatabase(t, env)
	if err := db.reopenForServing(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	h, iss, err := buildHandler(ctx, cfg, getenv, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	token, err := iss.MintAppToken(ctx, db.tenant.ID, uuid.NewString(), []string{"User.ReadWrite.All"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: requestTimeout + 10*time.Second}
	call := func(method, path string, body any) (int, http.Header) {
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode, res.Header
	}

	// Steady load: creates and reads from several goroutines.
	var (
		mu       sync.Mutex
		outcomes []createOutcome
		statuses = map[int]int{}
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		seq      atomic.Int64
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("fault-%d-%d@example.com", w, seq.Add(1))
				st, _ := call("POST", "/v1.0/users", customer("graphdir.test", email))
				rs, _ := call("GET", "/v1.0/users?$top=5&$select=id", nil)
				mu.Lock()
				outcomes = append(outcomes, createOutcome{email, st})
				statuses[st]++
				statuses[rs]++
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	waitFor(t, 10*time.Second, "creates before the outage", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return statuses[201] >= 10
	})

	// Outage.
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	outageStart := time.Now()
	// The first requests may still meet connections the server is closing;
	// within a few seconds every request must fail fast and cleanly.
	waitFor(t, 10*time.Second, "fast 503s during the outage", func() bool {
		start := time.Now()
		st, hdr := call("GET", "/v1.0/users?$top=1", nil)
		return st == 503 && hdr.Get("Retry-After") != "" && time.Since(start) < 5*time.Second
	})
	for range 5 {
		start := time.Now()
		st, hdr := call("POST", "/v1.0/users", customer("graphdir.test", uuid.NewString()+"@example.com"))
		if d := time.Since(start); st != 503 || hdr.Get("Retry-After") == "" || d > requestTimeout/4 {
			t.Fatalf("create during the outage: status %d, Retry-After %q, after %v; want a fast 503", st, hdr.Get("Retry-After"), d)
		}
		start = time.Now()
		st, hdr = call("GET", "/readyz", nil)
		if d := time.Since(start); st != 503 || hdr.Get("Retry-After") == "" || d > requestTimeout/4 {
			t.Fatalf("/readyz during the outage: status %d after %v", st, d)
		}
	}
	if st, _ := call("GET", "/healthz", nil); st != 200 {
		t.Fatalf("/healthz during the outage: %d (the process is alive)", st)
	}
	time.Sleep(500 * time.Millisecond) // some load against the dead database

	// Recovery, without restarting graphdir.
	if _, err := localpg.Start(ctx, pgOpts); err != nil {
		t.Fatal(err)
	}
	t.Logf("database down for %v", time.Since(outageStart).Round(time.Millisecond))
	restarted := time.Now()
	waitFor(t, 15*time.Second, "recovery after the database restarts", func() bool {
		st, _ := call("GET", "/readyz", nil)
		st2, _ := call("POST", "/v1.0/users", customer("graphdir.test", uuid.NewString()+"@example.com"))
		return st == 200 && st2 == 201
	})
	t.Logf("recovered %v after the database restarted", time.Since(restarted).Round(time.Millisecond))
	mu.Lock()
	before := statuses[201]
	mu.Unlock()
	waitFor(t, 10*time.Second, "creates after recovery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return statuses[201] >= before+10
	})
	close(stop)
	wg.Wait()

	t.Logf("statuses under load: %v", statuses)
	for st, n := range statuses {
		if st != 200 && st != 201 && st != 503 {
			t.Errorf("%d requests got %d; only 200, 201 and 503 are acceptable during an outage", n, st)
		}
	}
	// Every acknowledged create is stored whole; a failed one is absent or
	// (its commit raced the outage) whole, never half-written.
	sqlDB := db.store.DB()
	for _, o := range outcomes {
		var users, identities int
		err := sqlDB.QueryRowContext(ctx, `
			SELECT count(DISTINCT u.id), count(i.user_id)
			FROM users u LEFT JOIN user_identities i ON i.tenant_id = u.tenant_id AND i.user_id = u.id
			WHERE lower(u.mail) = lower($1)`, o.email).Scan(&users, &identities)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case o.status == 201 && (users != 1 || identities != 1):
			t.Errorf("acknowledged create %s: %d users, %d identities in the database", o.email, users, identities)
		case o.status != 201 && users != 0 && identities != users:
			t.Errorf("failed create %s (status %d) is half-written: %d users, %d identities", o.email, o.status, users, identities)
		}
	}
	var orphans int
	if err := sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM users u WHERE NOT EXISTS
		(SELECT 1 FROM user_identities i WHERE i.tenant_id = u.tenant_id AND i.user_id = u.id)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d users without their identity", orphans)
	}
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
