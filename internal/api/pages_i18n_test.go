package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestPageCatalogues: every text the hosted pages show (the templates'
// {{.T "..."}} and the sentences the page handlers pass) has a French
// entry, and every French entry is used; a format's verbs survive.
func TestPageCatalogues(t *testing.T) {
	used := map[string]bool{}
	tmpl := regexp.MustCompile(`\{\{\$?\.T "([^"]*)"\}\}`)
	entries, err := os.ReadDir("pages")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile("pages/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tmpl.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	// Sentences in the page handlers, except protocol error descriptions
	// (respondError: they go to the application, not the page), logs
	// and the sign-in log's failure reason.
	notPage := map[string]bool{"Authentication failed during strong authentication request: the one-time code was wrong or expired.": true}
	for _, f := range []string{"authorize.go", "browser.go", "mfa.go", "logout.go", "selfservice.go", "signupfields.go", "consent.go", "codepages.go"} {
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		skip := map[ast.Node]bool{}
		ast.Inspect(file, func(n ast.Node) bool {
			if ce, ok := n.(*ast.CallExpr); ok {
				if se, ok := ce.Fun.(*ast.SelectorExpr); ok && (se.Sel.Name == "respondError" || se.Sel.Name == "Error" || se.Sel.Name == "New") {
					for _, a := range ce.Args {
						ast.Inspect(a, func(m ast.Node) bool { skip[m] = true; return true })
					}
				}
			}
			if bl, ok := n.(*ast.BasicLit); ok && bl.Kind == token.STRING && !skip[bl] {
				s, _ := strconv.Unquote(bl.Value)
				if s != "" && unicode.IsUpper([]rune(s)[0]) && strings.Contains(s, " ") && !notPage[s] {
					used[s] = true
				}
			}
			return true
		})
	}
	// The consent page lists scopes in the directory's plain words.
	for _, d := range directory.ScopeDescriptions() {
		used[d] = true
	}
	if len(used) < 50 {
		t.Fatalf("found only %d page strings: the scan is broken", len(used))
	}
	for s := range used {
		fr, ok := catalogueFR[s]
		if !ok || fr == "" {
			t.Errorf("no French for %q", s)
		}
		if strings.Count(fr, "%s") != strings.Count(s, "%s") {
			t.Errorf("French for %q changes its verbs: %q", s, fr)
		}
	}
	for s := range catalogueFR {
		if !used[s] {
			t.Errorf("French entry %q is not used by any page", s)
		}
	}
}

// TestPageLang: ui_locales first, then Accept-Language, else English.
func TestPageLang(t *testing.T) {
	for _, tc := range []struct{ ui, accept, want string }{
		{"", "", "en"},
		{"fr-CA en", "", "fr"},
		{"", "fr-FR,fr;q=0.9,en;q=0.5", "fr"},
		{"en", "fr-FR", "en"},
		{"de", "", "en"},
		{"de", "fr", "fr"},
		{"", "de-DE,de;q=0.9", "en"},
	} {
		c, _ := gin.CreateTestContext(httptest.NewRecorder())
		c.Request = httptest.NewRequest("GET", "/", nil)
		if tc.accept != "" {
			c.Request.Header.Set("Accept-Language", tc.accept)
		}
		if tc.ui != "" {
			c.Set(uiLocalesKey, tc.ui)
		}
		if got := pageLang(c); got != tc.want {
			t.Errorf("ui_locales %q, Accept-Language %q: %s, want %s", tc.ui, tc.accept, got, tc.want)
		}
	}
}
