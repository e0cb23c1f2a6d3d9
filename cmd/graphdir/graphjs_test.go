package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGraphJavaScriptClient drives create, get, update, list (PageIterator)
// and delete with the official @microsoft/microsoft-graph-client, installed
// from npm at the version pinned in testdata/graphjs/package-lock.json and
// pointed, unmodified, at this server over HTTPS.
func TestGraphJavaScriptClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the Graph JavaScript client test (install Node.js 18+)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is needed for the Graph JavaScript client test")
	}
	dir, err := filepath.Abs("../../testdata/graphjs")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@microsoft", "microsoft-graph-client")); err != nil {
		cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}

	s := newStack(t)
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(certFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	token := s.appToken("User.ReadWrite.All")
	cmd := exec.CommandContext(ctx, node, "crud.mjs", s.srv.URL, token, s.domain)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Graph JavaScript client: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var res struct {
		Created  string `json:"created"`
		Listed   int    `json:"listed"`
		Conflict string `json:"conflict"`
		Deleted  bool   `json:"deleted"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("unexpected client output: %s", out)
	}
	if res.Created == "" || res.Listed < 2 || res.Conflict != "Request_BadRequest" || !res.Deleted {
		t.Fatalf("client results: %+v", res)
	}
	if s.snapshot() != "" && countUsers(t, s) != 0 {
		t.Errorf("the client deleted its users, yet %d remain", countUsers(t, s))
	}
}

func countUsers(t *testing.T, s *stack) int {
	var n int
	// Live users: a deleted one waits in deleted items.
	if err := s.db.store.DB().QueryRow(`SELECT count(*) FROM users WHERE deleted_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
