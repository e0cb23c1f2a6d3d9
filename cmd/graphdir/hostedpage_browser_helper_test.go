package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
)

// hostedPageStep is what the hosted-page scenario reports of the page it
// ended on.
type hostedPageStep struct {
	Title, Lang, URL string
	Violations       []browsertest.Violation
}

// hostedPageAction is what the scenario does on a page: fill fields, tick
// boxes, pick options, then click.
type hostedPageAction struct {
	click         string
	fill, selects [][2]string
	checks        []string
	// endsOnApp marks a step that lands back on the application's own
	// page, whose language is not the hosted pages' to choose.
	endsOnApp bool
}

// screenshotDir is testdata/browser/screenshots (git-ignored), created:
// the browser tests leave each page there at desktop and phone widths.
func screenshotDir(t *testing.T) string {
	t.Helper()
	shots, err := filepath.Abs("../../testdata/browser/screenshots")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return shots
}

// visitHostedPage runs the hosted-page scenario in sess (goTo "" stays on
// the current page): axe must find no violation, and the page must be in
// lang. Screenshots are named <lang>-<name>.
func visitHostedPage(t *testing.T, sess *browsertest.Session, shots, lang, name, goTo string, a hostedPageAction) hostedPageStep {
	t.Helper()
	var st hostedPageStep
	sess.Run(t, browsertest.Scenario{Name: "hosted-page", URL: goTo, Args: map[string]any{"tags": browsertest.AxeTags,
		"shots": shots, "name": lang + "-" + name, "fill": a.fill, "check": a.checks, "select": a.selects, "click": a.click}}).Decode(t, &st)
	if len(st.Violations) > 0 {
		t.Errorf("axe on %s (%s):\n%s", name, lang, browsertest.FormatViolations(st.Violations))
	}
	if st.Lang != lang && !a.endsOnApp {
		t.Errorf("%s: lang %q, want %s", name, st.Lang, lang)
	}
	return st
}

// fillPairs turns selector, value, selector, value... into pairs.
func fillPairs(fill []string) [][2]string {
	var pairs [][2]string
	for i := 0; i+1 < len(fill); i += 2 {
		pairs = append(pairs, [2]string{fill[i], fill[i+1]})
	}
	return pairs
}
