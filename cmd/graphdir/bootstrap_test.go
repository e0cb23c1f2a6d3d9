package main

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

var bootstrapLine = regexp.MustCompile(`client id:\s+(\S+)\n\s+client secret:\s+(\S+)\n`)

// serveUntilReady runs `graphdir serve` in-process until it has printed its
// banner, then stops it, and returns stdout and stderr (the JSON log).
func serveUntilReady(t *testing.T, env map[string]string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errs logtest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, &out, &errs)
	}()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), "graphdir is serving") {
		select {
		case err := <-done:
			t.Fatalf("serve stopped: %v\n%s\n%s", err, out.String(), errs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s\n%s", out.String(), errs.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	return out.String(), errs.String()
}

// With GRAPHDIR_BOOTSTRAP_APP (as `make run` sets it), the first start
// prints an administrator application's client id and secret once: two
// instances starting together print one, a restart prints none, and the
// secret never reaches the log. Without the variable nothing is created.
func TestServe_BootstrapApplication(t *testing.T) {
	dbURL := pgtest.NewURL(t)
	env := map[string]string{
		"DATABASE_URL":           dbURL,
		"GRAPHDIR_PUBLIC_URL":    "http://127.0.0.1:1",
		"GRAPHDIR_DOMAINS":       "graphdir.test",
		"GRAPHDIR_BOOTSTRAP_APP": "1",
	}
	off := map[string]string{}
	for k, v := range env {
		off[k] = v
	}
	delete(off, "GRAPHDIR_BOOTSTRAP_APP")
	if out, _ := serveUntilReady(t, off); strings.Contains(out, "client secret") {
		t.Fatalf("bootstrap without GRAPHDIR_BOOTSTRAP_APP:\n%s", out)
	}

	var wg sync.WaitGroup
	outs := make([]string, 2)
	logs := make([]string, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], logs[i] = serveUntilReady(t, env)
		}()
	}
	wg.Wait()
	var printed []string
	for _, o := range outs {
		if strings.Contains(o, "client secret") {
			printed = append(printed, o)
		}
	}
	if len(printed) != 1 {
		t.Fatalf("%d instances printed a bootstrap secret:\n%s", len(printed), strings.Join(outs, "\n----\n"))
	}
	m := bootstrapLine.FindStringSubmatch(printed[0])
	if m == nil || !strings.Contains(printed[0], "curl -s -u '"+m[1]+":"+m[2]+"' -d grant_type=client_credentials") ||
		!strings.Contains(printed[0], "/oauth2/v2.0/token") {
		t.Fatalf("bootstrap output:\n%s", printed[0])
	}
	clientID, secret := m[1], m[2]
	for _, l := range logs {
		if strings.Contains(l, secret) {
			t.Fatal("the bootstrap secret reached the JSON log")
		}
	}
	if out, _ := serveUntilReady(t, env); strings.Contains(out, "client secret") {
		t.Fatalf("a restart printed a secret again:\n%s", out)
	}

	// The printed credentials authenticate, with the bootstrap permissions.
	_, _, db := openTestDatabase(t, env)
	apps, err := newApplications(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	a, err := apps.AuthenticateClient(context.Background(), db.tenant.ID, clientID, secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.Permissions, " "); !strings.Contains(got, "Application.ReadWrite.All") || !strings.Contains(got, "User.ReadWrite.All") {
		t.Errorf("bootstrap permissions: %s", got)
	}
}
