package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
)

// runGraphJS runs a script of testdata/graphjs with node against s, after
// installing the pinned clients (Graph's and openid-client) when needed,
// and returns its last output line.
func runGraphJS(t *testing.T, s *stack, script string, args ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed for the Graph JavaScript client test (install Node.js 18+)")
	}
	dir, err := filepath.Abs("../../testdata/graphjs")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, mod := range []string{"openid-client", filepath.Join("@microsoft", "microsoft-graph-client")} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", mod)); err != nil {
			npm, err := exec.LookPath("npm")
			if err != nil {
				t.Fatal("npm is needed for the Graph JavaScript client test")
			}
			cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("npm ci: %v\n%s", err, out)
			}
			break
		}
	}
	certFile := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
	if err := os.WriteFile(certFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+certFile)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", script, err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// TestGraphJavaScriptClientQueries runs testdata/graphjs/query.mjs: the
// official client's filter/select/orderby/top/count/search with
// ConsistencyLevel and PageIterator must see what plain HTTP sees (the
// script compares the two), and both must be the answer computed here from
// the seed.
func TestGraphJavaScriptClientQueries(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	type seeded struct{ id, name string }
	var matching []seeded
	add := func(name string, ids ...directory.Identity) string {
		upn := "q" + uuid.NewString()[:8] + "@contoso.com"
		u := &directory.User{ID: uuid.NewString(), TenantID: s.tenant, DisplayName: &name, UserPrincipalName: &upn, Identities: ids}
		if err := s.db.store.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(strings.ToLower(name), "ad") {
			matching = append(matching, seeded{u.ID, name})
		}
		return u.ID
	}
	for i := range 9 {
		add(fmt.Sprintf("Ada %02d", i))
		add(fmt.Sprintf("Bob %02d", i))
	}
	add("ADAM Smith")
	add("adele Vance")
	add("Ada 03") // a tie: broken by id
	add("Madame Ada")
	email := "Jo.Customer@Example.com"
	customer := add("Jo Customer", directory.Identity{SignInType: "emailAddress", Issuer: s.domain, IssuerAssignedID: email})

	slices.SortFunc(matching, func(a, b seeded) int {
		if c := strings.Compare(strings.ToLower(b.name), strings.ToLower(a.name)); c != 0 {
			return c
		}
		return strings.Compare(b.id, a.id) // ties by id, in the last key's direction
	})
	want := make([]string, len(matching))
	for i, m := range matching {
		want[i] = m.id
	}

	line := runGraphJS(t, s, "query.mjs", s.srv.URL, s.appToken("User.Read.All"), s.domain, email)
	var res struct {
		IDs           []string `json:"ids"`
		Count         int      `json:"count"`
		CountEndpoint int      `json:"countEndpoint"`
		SignIn        string   `json:"signIn"`
		SyntaxError   string   `json:"syntaxError"`
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("unexpected client output: %s", line)
	}
	if !slices.Equal(res.IDs, want) {
		t.Errorf("client ids = %v\nwant %v", res.IDs, want)
	}
	if res.Count != len(want) || res.CountEndpoint != len(want) {
		t.Errorf("@odata.count %d, /$count %d, want %d", res.Count, res.CountEndpoint, len(want))
	}
	if res.SignIn != customer {
		t.Errorf("sign-in lookup found %q, want %q", res.SignIn, customer)
	}
	if res.SyntaxError != "BadRequest" {
		t.Errorf("syntax error code %q", res.SyntaxError)
	}
}
