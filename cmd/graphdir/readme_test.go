package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// readmeCall is what the test expects of one curl call of the README's
// examples, in the order they run.
type readmeCall struct {
	method, path string // path: a substring of the URL
	status       int
	check        func(body []byte) error // the shape the README shows; nil: status only
}

func jsonCheck(f func(m map[string]any) error) func([]byte) error {
	return func(b []byte) error {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("not a JSON object: %v", err)
		}
		return f(m)
	}
}

func valueLen(n int, more ...func(items []any) error) func([]byte) error {
	return jsonCheck(func(m map[string]any) error {
		v, ok := m["value"].([]any)
		if !ok || len(v) != n {
			return fmt.Errorf("want %d items in value", n)
		}
		for _, f := range more {
			if err := f(v); err != nil {
				return err
			}
		}
		return nil
	})
}

func field(name string, want any) func([]byte) error {
	return jsonCheck(func(m map[string]any) error {
		if m[name] != want {
			return fmt.Errorf("%s = %v, want %v", name, m[name], want)
		}
		return nil
	})
}

// readmeCalls are the README's curl examples from the quick start on, in
// order. A new example in the README needs a line here; one that stops
// answering as shown fails the test.
var readmeCalls = []readmeCall{
	// Quick start.
	{"POST", "/v1.0/users", 201, field("displayName", "Jane Doe")},
	{"POST", "/v1.0/users", 201, field("userPrincipalName", "AdeleV@graphdir.local")},
	{"GET", "/v1.0/users?$top=10", 200, valueLen(2, func(items []any) error {
		for _, it := range items {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range it.(map[string]any) {
					if !strings.HasPrefix(k, "@") && !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(keys, []string{"displayName", "id", "identities"}) {
				return fmt.Errorf("$select=id,displayName,identities returned %v", keys)
			}
		}
		return nil
	})},
	{"GET", "/v1.0/users/AdeleV@graphdir.local", 200, field("displayName", "Adele Vance")},
	{"PATCH", "/v1.0/users/AdeleV@graphdir.local", 204, nil},
	{"DELETE", "/v1.0/users/AdeleV@graphdir.local", 204, nil},
	{"GET", "/v1.0/me", 200, field("displayName", "Jane Doe")},
	{"PATCH", "/v1.0/me", 204, nil},
	// Queries: the sign-in email finds the quick start's Jane.
	{"GET", "/v1.0/users", 200, valueLen(1, func(items []any) error {
		if items[0].(map[string]any)["displayName"] != "Jane Doe" {
			return fmt.Errorf("found %v, want Jane Doe", items[0])
		}
		return nil
	})},
	{"GET", "/v1.0/users", 200, field("@odata.count", 1.0)},
	{"GET", "/v1.0/users/$count", 200, func(b []byte) error {
		if _, err := strconv.Atoi(string(b)); err != nil {
			return fmt.Errorf("not a bare integer: %q", b)
		}
		return nil
	}},
	{"GET", "/v1.0/users", 200, valueLen(0)},
	// OData metadata.
	{"GET", "/v1.0/$metadata", 200, func(b []byte) error {
		if !strings.HasPrefix(string(b), "<?xml") || !strings.Contains(string(b), `Namespace="microsoft.graph"`) {
			return fmt.Errorf("not the CSDL document: %.200s", b)
		}
		return nil
	}},
	{"GET", "/v1.0/", 200, jsonCheck(func(m map[string]any) error {
		if !strings.Contains(fmt.Sprint(m["value"]), "name:users") || !strings.HasSuffix(fmt.Sprint(m["@odata.context"]), "/v1.0/$metadata") {
			return fmt.Errorf("not the service document: %v", m)
		}
		return nil
	})},
	// JSON batching.
	{"POST", "/v1.0/$batch", 200, jsonCheck(func(m map[string]any) error {
		r, _ := m["responses"].([]any)
		if len(r) != 2 {
			return fmt.Errorf("want 2 responses")
		}
		first, second := r[0].(map[string]any), r[1].(map[string]any)
		body, _ := second["body"].(map[string]any)
		if first["status"] != 201.0 || second["status"] != 200.0 || body["@odata.count"] != 1.0 {
			return fmt.Errorf("responses: %v", r)
		}
		return nil
	})},
	// Extension attributes.
	{"POST", "/v1.0/applications", 201, field("displayName", "b2c-extensions-app")},
	{"POST", "/extensionProperties", 201, jsonCheck(func(m map[string]any) error {
		if n, _ := m["name"].(string); !regexp.MustCompile(`^extension_[0-9a-f]{32}_loyaltyTier$`).MatchString(n) ||
			m["appDisplayName"] != "b2c-extensions-app" || m["dataType"] != "String" || m["isMultiValued"] != false {
			return fmt.Errorf("definition: %v", m)
		}
		return nil
	})},
	{"GET", "/v1.0/users", 200, valueLen(1)},
	{"PATCH", "/v1.0/users/", 204, nil},
	{"GET", "loyaltyTier", 200, valueLen(1, func(items []any) error {
		for k, v := range items[0].(map[string]any) {
			if strings.HasSuffix(k, "_loyaltyTier") && v == "Gold" {
				return nil
			}
		}
		return fmt.Errorf("no loyaltyTier Gold in %v", items[0])
	})},
	// Tenants.
	{"POST", "/v1.0/users", 201, field("userPrincipalName", "admin@fabrikam.example")},
	// Client credentials.
	{"POST", "/oauth2/v2.0/token", 200, jsonCheck(func(m map[string]any) error {
		if m["token_type"] != "Bearer" || m["access_token"] == nil || m["expires_in"] == nil {
			return fmt.Errorf("token response: %v", m)
		}
		return nil
	})},
	// Account protection and sign-in logs (no sign-in has happened).
	{"GET", "/v1.0/auditLogs/signIns", 200, valueLen(0)},
	{"GET", "signInActivity", 200, valueLen(0)},
}

// readmeScript returns the README's shell examples from the quick start
// on (every ```sh and ```bash block but `make run`), in order, pointed at
// base instead of http://localhost:8080.
func readmeScript(t *testing.T, base string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Quick start")
	if start < 0 {
		t.Fatal("README has no Quick start section")
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?ms)^```(sh|bash)\n(.*?)^```\n").FindAllStringSubmatch(readme[start:], -1) {
		if strings.HasPrefix(m[2], "make ") {
			continue // make run serves forever; the test starts the server itself
		}
		blocks = append(blocks, m[2])
	}
	if len(blocks) < 8 {
		t.Fatalf("found only %d shell examples in the README", len(blocks))
	}
	return strings.ReplaceAll(strings.Join(blocks, "\n"), "http://localhost:8080", base)
}

// curlRecorder wraps curl so that every call's arguments, status and body
// are kept in $README_OUT (numbered through a file, as calls inside $(…)
// run in subshells) and the body still goes to stdout for pipes.
const curlRecorder = `
curl() {
  local n=$(( $(cat "$README_OUT/n") + 1 ))
  echo $n > "$README_OUT/n"
  local d="$README_OUT/$(printf %03d $n)"
  printf '%s\n' "$@" > "$d.args"
  command curl -sS -o "$d.body" -w '%{http_code}' "$@" > "$d.status" || return 1
  cat "$d.body"
}
`

// TestREADMEExamples runs the README's shell examples in order, as a
// newcomer would after make run: the CLI built from this tree, a server
// it started, curl. Each curl answer is checked against readmeCalls.
func TestREADMEExamples(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "awk", "sed"} {
		needTool(t, tool)
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "graphdir"), ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := "http://" + addr
	env := append(os.Environ(),
		"DATABASE_URL="+pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL="+base,
		"GRAPHDIR_STATE_DIR="+filepath.Join(dir, ".graphdir"),
		"GRAPHDIR_BOOTSTRAP_APP=1",
	)
	serve := exec.Command(filepath.Join(dir, "bin", "graphdir"), "serve", "--addr", addr)
	serve.Dir, serve.Env = dir, env
	var serveOut strings.Builder
	serve.Stdout, serve.Stderr = &serveOut, &serveOut
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = serve.Process.Signal(syscall.SIGTERM)
		_ = serve.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("graphdir serve did not become ready: %v\n%s", err, serveOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	out := filepath.Join(dir, "calls")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "n"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	script := "set -e\n" + curlRecorder + readmeScript(t, base)
	sh := exec.CommandContext(ctx, "bash", "-c", script)
	sh.Dir, sh.Env = dir, append(env, "README_OUT="+out)
	shOut, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("README examples stopped: %v\n%s", err, shOut)
	}

	n, _ := os.ReadFile(filepath.Join(out, "n"))
	calls, _ := strconv.Atoi(strings.TrimSpace(string(n)))
	if calls != len(readmeCalls) {
		t.Errorf("the README makes %d curl calls, the test expects %d: update readmeCalls with the README", calls, len(readmeCalls))
	}
	for i := 0; i < min(calls, len(readmeCalls)); i++ {
		want := readmeCalls[i]
		p := filepath.Join(out, fmt.Sprintf("%03d", i+1))
		args, _ := os.ReadFile(p + ".args")
		status, _ := os.ReadFile(p + ".status")
		body, _ := os.ReadFile(p + ".body")
		argv := strings.Split(strings.TrimSpace(string(args)), "\n")
		method := "GET"
		if i := slices.Index(argv, "-X"); i >= 0 && i+1 < len(argv) {
			method = argv[i+1]
		} else if !slices.Contains(argv, "-G") && !slices.Contains(argv, "-sG") && slices.ContainsFunc(argv, func(a string) bool {
			return a == "-d" || strings.HasPrefix(a, "--data")
		}) {
			method = "POST" // curl's default with a body
		}
		var url string
		for _, a := range argv {
			if strings.HasPrefix(a, base) {
				url = strings.TrimPrefix(a, base)
			}
		}
		what := fmt.Sprintf("README curl #%d (%s %s)", i+1, method, url)
		if method != want.method || !strings.Contains(url, want.path) {
			t.Errorf("%s: the test expects %s …%s… here", what, want.method, want.path)
			continue
		}
		if got, _ := strconv.Atoi(string(status)); got != want.status {
			t.Errorf("%s: status %d, want %d\n%s", what, got, want.status, body)
			continue
		}
		if want.check != nil {
			if err := want.check(body); err != nil {
				t.Errorf("%s: %v\n%.500s", what, err, body)
			}
		}
	}
}

// needTool finds a command the README's examples use. As `make run` does
// for PostgreSQL, a missing one is installed from Debian's packages when
// the test runs as root where apt-get exists (CI); otherwise the test
// says what to install.
func needTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err == nil {
		return
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil || os.Geteuid() != 0 {
		t.Fatalf("the README examples need %s: install it", tool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", tool}} {
		cmd := exec.CommandContext(ctx, apt, args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("apt-get %v: %v\n%s", args, err, out)
		}
	}
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is still missing after apt-get install", tool)
	}
}
