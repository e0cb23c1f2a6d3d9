package browsertest

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestScenarioFailure: a scenario that throws, or waits for what never
// comes, is an error carrying what a developer needs: the error, the page,
// its console and its network log.
func TestScenarioFailure(t *testing.T) {
	t.Parallel()
	b := Shared(t)
	o := NewOrigin(t)
	page := o.Page("/p", `<!doctype html><html lang="en"><head><title>p</title></head>
<body><script>console.warn("from the page"); fetch("/missing");</script></body></html>`)
	dir := t.TempDir()
	throws := filepath.Join(dir, "throws.mjs")
	waits := filepath.Join(dir, "waits.mjs")
	for file, src := range map[string]string{
		throws: `export default async ({ page }) => {
			await page.waitForResponse((r) => r.url().endsWith("/missing"));
			throw new Error("scenario says no");
		};`,
		waits: `export default async ({ page }) => { await page.waitForSelector("#never"); };`,
	} {
		if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	_, err := b.Try(Scenario{Name: throws, URL: page})
	if err == nil {
		t.Fatal("a throwing scenario succeeded")
	}
	for _, want := range []string{"scenario says no", "--- page " + page, "warning: from the page",
		"-> GET " + o.URL + "/missing", "<- 404 GET " + o.URL + "/missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("failure text lacks %q:\n%s", want, err)
		}
	}

	_, err = b.Try(Scenario{Name: waits, URL: page, Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "#never") {
		t.Errorf("a scenario waiting past its timeout: %v", err)
	}

	if _, err := b.Try(Scenario{Name: "no-such-scenario"}); err == nil || !strings.Contains(err.Error(), "no-such-scenario.mjs") {
		t.Errorf("a missing scenario module: %v", err)
	}
}

// TestSession: a session keeps its page between steps, and Eval works on a
// page whose Content-Security-Policy forbids eval and inline script.
func TestSession(t *testing.T) {
	t.Parallel()
	b := Shared(t)
	o := NewOrigin(t)
	o.Handle("GET /strict", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><html lang="en"><head><title>strict</title></head><body></body></html>`))
	}))
	s := b.Open(t)
	first := Eval(`() => { window.kept = 41; sessionStorage.setItem("k", "v"); return true; }`, nil)
	first.URL = o.URL + "/strict"
	s.Run(t, first)
	var n int
	s.Run(t, Eval(`(d) => window.kept + d`, 1)).Decode(t, &n)
	if n != 42 {
		t.Errorf("the session's page forgot its state: %d", n)
	}
	var inline bool
	s.Run(t, Eval(`() => new Promise((ok) => {
		document.addEventListener("securitypolicyviolation", () => ok(false), { once: true });
		const el = document.createElement("script");
		el.textContent = "window.inlineRan = true";
		document.body.append(el);
		queueMicrotask(() => { if (window.inlineRan) ok(true); });
	})`, nil)).Decode(t, &inline)
	if inline {
		t.Error("the page's CSP did not apply: an inline script ran")
	}

	// Another scenario, outside the session, starts clean.
	fresh := Eval(`() => sessionStorage.getItem("k")`, nil)
	fresh.URL = o.URL + "/strict"
	var got *string
	b.Run(t, fresh).Decode(t, &got)
	if got != nil {
		t.Errorf("a fresh context saw the session's storage: %q", *got)
	}
}

// TestTLSOriginOnLocalhost: an https origin on 127.0.0.1 is reachable by
// the name localhost (same-site with an https graphdir there), and is a
// secure context despite httptest's certificate.
func TestTLSOriginOnLocalhost(t *testing.T) {
	t.Parallel()
	b := Shared(t)
	o := NewTLSOrigin(t)
	u := Localhost(o.Page("/x", `<!doctype html><html lang="en"><head><title>x</title></head><body></body></html>`))
	if !strings.HasPrefix(u, "https://localhost:") {
		t.Fatalf("Localhost(%s) = %s", o.URL, u)
	}
	sc := Eval(`() => [location.href, isSecureContext]`, nil)
	sc.URL = u
	var got []any
	b.Run(t, sc).Decode(t, &got)
	if len(got) != 2 || got[0] != u || got[1] != true {
		t.Errorf("page at %s reports %v", u, got)
	}
}
