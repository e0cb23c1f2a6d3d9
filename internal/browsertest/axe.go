package browsertest

import (
	"fmt"
	"strings"
	"testing"
)

// Violation is one axe-core rule a page breaks, with the elements that do.
type Violation struct {
	ID      string          `json:"id"` // axe rule id, e.g. "label", "color-contrast"
	Impact  string          `json:"impact"`
	Help    string          `json:"help"`
	HelpURL string          `json:"helpUrl"`
	Nodes   []ViolationNode `json:"nodes"`
}

// ViolationNode is one offending element.
type ViolationNode struct {
	Target         []string `json:"target"` // CSS selectors
	HTML           string   `json:"html"`
	FailureSummary string   `json:"failureSummary"`
}

// AxeTags are the rule sets Axe checks by default: WCAG 2.0, 2.1 and 2.2,
// levels A and AA (the bar for hosted pages, browser-redirect.md §4.3).
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"}

// Axe opens url in a fresh context and returns axe-core's violations of
// the given tags (AxeTags when none). To check a page in a state reached
// by interaction, call axe() inside a scenario module instead.
func (b *Browser) Axe(t testing.TB, url string, tags ...string) []Violation {
	t.Helper()
	res := b.Run(t, Scenario{Name: "axe", URL: url, Args: map[string]any{"tags": tags}})
	var v []Violation
	res.Decode(t, &v)
	return v
}

// FormatViolations renders violations for a failure message.
func FormatViolations(vs []Violation) string {
	var s strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&s, "%s (%s): %s  %s\n", v.ID, v.Impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&s, "    %s  %s\n      %s\n", strings.Join(n.Target, " "), n.HTML,
				strings.ReplaceAll(n.FailureSummary, "\n", "\n      "))
		}
	}
	return s.String()
}

// IDs lists the rule ids of violations, for compact assertions.
func IDs(vs []Violation) []string {
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	return ids
}
