package browsertest

import (
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
