package odata

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// conformanceFile holds the OASIS OData ABNF test cases kept for this
// project (see testdata/odata/README.md at the repository root).
const conformanceFile = "../../testdata/odata/filter-cases.json"

type conformanceCase struct {
	Name          string   `json:"name"`
	Rule          string   `json:"rule"`
	Source        string   `json:"source"`
	Path          *string  `json:"path"`
	Query         string   `json:"query"`
	Expression    string   `json:"expression"`
	Options       []string `json:"options"`
	ShouldParse   bool     `json:"shouldParse"`
	FailAt        *int     `json:"failAt"`
	FailAtInQuery *int     `json:"failAtInQuery"`
}

type conformanceFileT struct {
	Cases                  []conformanceCase `json:"cases"`
	OtherFilterExpressions []conformanceCase `json:"otherFilterExpressions"`
}

func loadConformance(t testing.TB) conformanceFileT {
	t.Helper()
	b, err := os.ReadFile(conformanceFile)
	if err != nil {
		t.Fatalf("reading conformance cases: %v", err)
	}
	var f conformanceFileT
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decoding %s: %v", conformanceFile, err)
	}
	if len(f.Cases) == 0 || len(f.OtherFilterExpressions) == 0 {
		t.Fatalf("%s: no cases", conformanceFile)
	}
	return f
}

// Deliberate differences from the OASIS expectations.
//
// acceptedNegatives are negative cases ParseQuery accepts, with the reason.
var acceptedNegatives = map[string]string{
	// The same query string is a positive case with path $entity/Model.Customer:
	// the failure depends on the resource path, which ParseQuery never sees.
	"$id=http://myservice/Customers('ALFKI')&$select=CompanyName,ContactName&$expand=Orders": "path-dependent",
}

// offsetDifferences are negative cases whose error offset deliberately
// differs from failAtInQuery: query -> offset we report.
var offsetDifferences = map[string]int{
	// We point at the offending space itself (8); the ABNF test tool reports
	// the character after it.
	"$filter= true": 8,
	// We point at the ')' where the range variable is missing; the ABNF tool
	// reports the end of input.
	"$filter=Products/all()": 21,
	// An option without '=' is reported at the end of its name ("this",
	// 15..18, so offset 19); the ABNF tool reports the '&' before it.
	"$skiptoken=Not&this": 19,
}

func errOffset(t *testing.T, err error) int {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *odata.Error", err, err)
	}
	return e.Offset
}

func TestConformanceQueries(t *testing.T) {
	f := loadConformance(t)
	var pos, neg int
	for _, c := range f.Cases {
		q, err := ParseQuery(c.Query)
		if c.ShouldParse {
			pos++
			if err != nil {
				t.Errorf("%s: ParseQuery(%q): %v", c.Name, c.Query, err)
				continue
			}
			for _, o := range c.Options {
				if !q.Has(o) {
					t.Errorf("%s: ParseQuery(%q): option %s missing from %v", c.Name, c.Query, o, q.Options)
				}
			}
			checkQueryRoundTrip(t, c.Query, q)
			continue
		}
		neg++
		if reason, ok := acceptedNegatives[c.Query]; ok {
			if err != nil {
				t.Errorf("%s: ParseQuery(%q) = %v; expected acceptance (%s)", c.Name, c.Query, err, reason)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: ParseQuery(%q) succeeded; want an error", c.Name, c.Query)
			continue
		}
		want := -1
		if c.FailAtInQuery != nil {
			want = *c.FailAtInQuery
		}
		if d, ok := offsetDifferences[c.Query]; ok {
			want = d
		}
		if got := errOffset(t, err); want >= 0 && got != want {
			t.Errorf("%s: ParseQuery(%q): error %v at %d, want offset %d", c.Name, c.Query, err, got, want)
		}
	}
	t.Logf("%d positive and %d negative query cases", pos, neg)
}

// checkQueryRoundTrip prints the parsed $filter, $orderby, $select and
// $search and checks that they parse back to equal trees.
func checkQueryRoundTrip(t *testing.T, raw string, q *Query) {
	t.Helper()
	loose := Limits{MaxDepth: 1 << 20, MaxLength: 1 << 30}
	if q.Filter != nil {
		checkExprRoundTrip(t, q.Filter)
	}
	if q.OrderBy != nil {
		s := FormatOrderBy(q.OrderBy)
		got, err := loose.ParseOrderBy(s)
		if err != nil || !Equal(got, q.OrderBy) {
			t.Errorf("%q: $orderby printed as %q re-parses to %v, %v", raw, s, got, err)
		}
	}
	if q.Select != nil {
		s := FormatSelect(q.Select)
		got, err := loose.ParseSelect(s)
		if err != nil || !Equal(got, q.Select) {
			t.Errorf("%q: $select printed as %q re-parses to %v, %v", raw, s, got, err)
		}
	}
	if q.Search != nil {
		s := q.Search.String()
		got, err := loose.ParseSearch(s)
		if err != nil || !Equal(got, q.Search) {
			t.Errorf("%q: $search printed as %q re-parses to %v, %v", raw, s, got, err)
		}
	}
}

func checkExprRoundTrip(t *testing.T, x Expr) {
	t.Helper()
	loose := Limits{MaxDepth: 1 << 20, MaxLength: 1 << 30}
	s := x.String()
	y, err := loose.ParseFilter(s)
	if err != nil {
		t.Errorf("printed %q does not re-parse: %v", s, err)
		return
	}
	if !Equal(x, y) {
		t.Errorf("printed %q re-parses to a different tree", s)
	}
	if s2 := y.String(); s2 != s {
		t.Errorf("printing is not idempotent: %q then %q", s, s2)
	}
}

// lambdaFragment rules are fragments that only occur after a collection
// path ("any()" is the anyExpr rule, not a common expression); they are
// parsed as "Products/" + expression.
var lambdaFragment = map[string]bool{"anyExpr": true}

func TestConformanceExpressions(t *testing.T) {
	f := loadConformance(t)
	var pos, neg int
	defer func() { t.Logf("%d positive and %d negative expression cases", pos, neg) }()
	for _, c := range f.OtherFilterExpressions {
		// The ABNF works on URL text; decode as ParseQuery would.
		src, offs, _, bad := decode(c.Expression)
		if bad >= 0 {
			t.Fatalf("%s: malformed percent-encoding in %q", c.Name, c.Expression)
		}
		prefix := ""
		if lambdaFragment[c.Rule] {
			prefix = "Products/"
		}
		x, err := ParseExpr(prefix + src)
		if c.ShouldParse {
			pos++
			if err != nil {
				t.Errorf("%s: ParseExpr(%q): %v", c.Name, prefix+src, err)
				continue
			}
			checkExprRoundTrip(t, x)
			continue
		}
		neg++
		if err == nil {
			t.Errorf("%s: ParseExpr(%q) succeeded; want an error", c.Name, src)
			continue
		}
		if got := offs[errOffset(t, err)]; c.FailAt != nil && got != *c.FailAt {
			t.Errorf("%s: ParseExpr(%q): error %v at %d, want %d", c.Name, src, err, got, *c.FailAt)
		}
	}
}
