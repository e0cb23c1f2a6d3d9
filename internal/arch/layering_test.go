package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/graphdir/graphdir"

// ours lists, for every package of the module (path below the module), the
// packages of ours it may import. It is the table form of the sentences in
// each package's doc.go ("It must not import ...", "It imports nothing of
// ours"); change both together. A package missing here fails the test: a
// new package takes its place in the layering when it is created.
//
// The rule they spell out: cmd -> api, issuer, store/postgres -> directory
// -> pkg/odata; api -> auth; leaf helpers (textlimit, jsonstrict, password,
// ...) import nothing of ours; nothing imports cmd or api.
var ours = map[string][]string{
	"cmd/graphdir": {"*"}, // main wires everything
	// The Go SDK test's own package (slow to compile): only tests, which
	// start the built binary.
	"cmd/graphdir/gosdk": {},
	// The cluster test (build tag cluster): only tests, which start the
	// built binary, PgBouncer and HAProxy.
	"cmd/graphdir/cluster": {},

	"internal/api": {"internal/auth", "internal/consistency", "internal/directory", "internal/jsonstrict", "internal/metrics",
		"internal/nativeauth", "internal/oauth", "internal/textlimit", "internal/throttle", "pkg/odata"},
	"internal/auth":                  {"internal/directory"},
	"internal/issuer":                {"internal/directory"},
	"internal/flowstate":             {"internal/directory"},
	"internal/nativeauth":            {"internal/directory", "internal/flowstate", "internal/oauth", "internal/otp", "internal/protect", "internal/password", "internal/textlimit"},
	"internal/oauth":                 {"internal/directory", "internal/textlimit"},
	"internal/importer":              {"internal/directory", "internal/jsonstrict"},
	"internal/store/postgres":        {"internal/consistency", "internal/directory", "internal/mail", "internal/otp", "pkg/odata", "schema"},
	"internal/store/postgres/pgtest": {"internal/localpg", "internal/store/postgres", "schema"},
	"internal/bench/benchdb":         {"internal/store/postgres", "internal/bench"},
	"internal/directory":             {"internal/jsonstrict", "internal/password", "internal/textlimit", "pkg/odata"},
	"internal/signin":                {"internal/directory", "internal/password", "internal/protect"},
	"internal/protect":               {},
	"internal/otp":                   {"internal/mail"},
	// Leaves of mail: nothing of ours (smtptest is for tests only).
	"internal/mail":          {},
	"internal/mail/smtptest": {},

	// Leaves: nothing of ours.
	"internal/arch":       {},
	"internal/bench":      {},
	"internal/config":     {},
	"internal/jsonstrict": {},
	"internal/logtest":    {},
	"internal/localpg":    {},
	"internal/metrics":    {},
	"internal/password":   {},
	"internal/schedule":   {},
	"internal/textlimit":  {},
	"internal/throttle":   {},
	"pkg/odata":           {},
	"schema":              {},

	// Leaf: the "eventual reads are fine" mark, set by api, read by the store.
	"internal/consistency": {},

	// Test-only helper (its doc.go): drives Chromium for browser tests.
	"internal/browsertest": {},
}

// restricted are imports (path prefixes, ours or not) that only the listed
// packages may have, cmd/graphdir included.
var restricted = []struct {
	prefix string
	only   []string
	why    string
}{
	{"github.com/gin-gonic/", []string{"internal/api"}, "Gin stays at the HTTP edge"},
	{module + "/internal/api", []string{"cmd/graphdir"}, "nothing imports the HTTP edge but main"},
	{"github.com/lib/pq", []string{"internal/store/postgres", "internal/store/postgres/pgtest", "internal/localpg", "internal/bench/benchdb"},
		"SQL stays in the store (localpg probes and pgtest clones test servers; benchdb seeds the bench and runs the store's statements raw)"},
	{"github.com/jmoiron/sqlx", []string{"internal/store/postgres", "internal/store/postgres/pgtest"}, "SQL stays in the store"},
	{"github.com/pressly/goose", []string{"internal/store/postgres"}, "the store applies the migrations"},
	{"database/sql", []string{"internal/store/postgres", "internal/store/postgres/pgtest", "internal/localpg", "internal/metrics", "internal/bench/benchdb"},
		"SQL stays in the store (metrics reads sql.DBStats only; benchdb is the bench's database side)"},
	{module + "/internal/logtest", []string{}, "logtest is for tests only; serving code must not import it"},
	{module + "/internal/mail/smtptest", []string{}, "smtptest is for tests only; serving code must not import it"},
	{module + "/internal/browsertest", []string{}, "browsertest is for tests only; serving code must not import it"},
	{"net/http", []string{"cmd/graphdir", "internal/api", "internal/auth", "internal/metrics", "internal/browsertest"},
		"HTTP stays at the edge (auth fetches JWKS, metrics serves /metrics, browsertest serves test pages)"},
}

// stdOnly are packages that import the standard library (and leaves of
// ours, per ours) only: pkg/odata is a public library, the others are
// small enough that a dependency would be a surprise.
var stdOnly = []string{"pkg/odata", "internal/textlimit", "internal/schedule", "internal/jsonstrict", "schema"}

type goPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Standard   bool
	Module     *struct{ Path string }
	Imports    []string
}

// listPackages runs go list -deps over the module: its own packages and
// everything they import, with the Standard flag of each.
func listPackages(t *testing.T) map[string]*goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Name,Dir,Standard,Module,Imports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*goPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

// TestLayering checks every package of the module against the rules above:
// a non-test import across them fails with the package, the import and the
// rule. Test files may cross the layers (a store test builds rows with the
// importer; the importer's tests load into a real store): the rules govern
// what ships.
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	var mine []string
	for path, p := range pkgs {
		if p.Module != nil && p.Module.Path == module {
			mine = append(mine, path)
		}
	}
	sort.Strings(mine)
	if len(mine) < len(ours)/2 {
		t.Fatalf("go list found only %d packages of the module: %v", len(mine), mine)
	}
	seen := map[string]bool{}
	for _, path := range mine {
		p := pkgs[path]
		rel := strings.TrimPrefix(path, module+"/")
		seen[rel] = true
		allowed, ok := ours[rel]
		if !ok {
			t.Errorf("%s is not in the layering table (internal/arch/layering_test.go): add a row naming what it may import, and say the same in its doc.go", rel)
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/") {
				to := strings.TrimPrefix(imp, module+"/")
				if !slices.Contains(allowed, "*") && !slices.Contains(allowed, to) {
					t.Errorf("%s imports %s, which the layering does not allow (it may import %s of ours); see %s/doc.go. Move the type, not the arrow.",
						rel, to, listOrNothing(allowed), rel)
				}
			}
			for _, r := range restricted {
				if matches(imp, r.prefix) && !slices.Contains(r.only, rel) {
					t.Errorf("%s imports %s: only %s may (%s)", rel, imp, strings.Join(r.only, ", "), r.why)
				}
			}
			if slices.Contains(stdOnly, rel) && !strings.HasPrefix(imp, module+"/") {
				if d, ok := pkgs[imp]; !ok || !d.Standard {
					t.Errorf("%s imports %s, but it uses the standard library only (see %s/doc.go)", rel, imp, rel)
				}
			}
		}
	}
	for rel := range ours {
		if !seen[rel] {
			t.Errorf("the layering table names %s, which go list does not find: remove or rename the row", rel)
		}
	}
}

// importSentence is how a doc.go states the rule: "must not import",
// "imports nothing", "may import", "It imports ...".
var importSentence = regexp.MustCompile(`(?i)must not import|imports nothing|may import|it imports|nothing imports`)

// TestDocFiles checks that every package has a doc.go whose package comment
// says what it owns and what it may or must not import.
func TestDocFiles(t *testing.T) {
	for path, p := range listPackages(t) {
		if p.Module == nil || p.Module.Path != module {
			continue
		}
		rel := strings.TrimPrefix(path, module+"/")
		src, err := os.ReadFile(filepath.Join(p.Dir, "doc.go"))
		if err != nil {
			t.Errorf("%s has no doc.go: every package says there what it owns and what it must not import", rel)
			continue
		}
		doc := string(src)
		head := "// Package " + p.Name + " "
		if p.Name == "main" {
			head = "// Command "
		}
		if !strings.HasPrefix(doc, head) {
			t.Errorf("%s/doc.go does not start with %q", rel, head)
		}
		if !importSentence.MatchString(strings.Join(strings.Fields(strings.ReplaceAll(doc, "//", " ")), " ")) {
			t.Errorf("%s/doc.go does not say what the package may or must not import", rel)
		}
	}
}

// matches reports whether import path imp is prefix or below it (prefix
// ending in "/": any path starting with it).
func matches(imp, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(imp, prefix)
	}
	return imp == prefix || strings.HasPrefix(imp, prefix+"/")
}

func listOrNothing(s []string) string {
	if len(s) == 0 {
		return "nothing"
	}
	return strings.Join(s, ", ")
}
