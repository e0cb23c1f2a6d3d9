package odata

import (
	"errors"
	"strings"
	"testing"
)

// fuzzSeeds returns the conformance expressions and $filter values plus the
// table-test inputs.
func fuzzSeeds(t testing.TB) []string {
	f := loadConformance(t)
	var seeds []string
	for _, c := range f.OtherFilterExpressions {
		if s, _, _, bad := decode(c.Expression); bad < 0 {
			seeds = append(seeds, s)
		}
	}
	for _, c := range f.Cases {
		seeds = append(seeds, c.Query)
		for _, part := range strings.Split(c.Query, "&") {
			if v, ok := strings.CutPrefix(part, "$filter="); ok {
				if s, _, _, bad := decode(v); bad < 0 {
					seeds = append(seeds, s)
				}
			}
		}
	}
	for _, tt := range filterTests {
		seeds = append(seeds, tt.in)
	}
	return seeds
}

// checkErr verifies that a parse error is a positioned ErrorList whose
// offset lies within the input.
func checkErr(t *testing.T, in string, err error) {
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("%q: error %v (%T) is not a non-empty ErrorList", in, err, err)
	}
	if off := list[0].Offset; off < 0 || off > len(in) {
		t.Fatalf("%q: error offset %d outside the input", in, off)
	}
}

// FuzzParseFilter checks that ParseFilter never panics and that printing a
// parsed tree and re-parsing it yields an equal tree, and printing that
// again yields the same text. The re-parse uses loose depth and length
// limits: the canonical form may add parentheses.
func FuzzParseFilter(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	loose := Limits{MaxDepth: 1 << 20, MaxLength: 1 << 30}
	f.Fuzz(func(t *testing.T, in string) {
		x, err := ParseFilter(in)
		if err != nil {
			checkErr(t, in, err)
			return
		}
		s := x.String()
		y, err := loose.ParseFilter(s)
		if err != nil {
			t.Fatalf("%q printed as %q does not re-parse: %v", in, s, err)
		}
		if !Equal(x, y) {
			t.Fatalf("%q printed as %q re-parses to a different tree", in, s)
		}
		if s2 := y.String(); s2 != s {
			t.Fatalf("%q: printing not idempotent: %q, then %q", in, s, s2)
		}
	})
}

// FuzzParseSearch is FuzzParseFilter for $search.
func FuzzParseSearch(f *testing.F) {
	for _, s := range []string{`"displayName:wa" OR "mail:x"`, "blue NOT green", "AND OR NOT", `'"blue'`, "(a OR b) c", `"a\"b\\c"`} {
		f.Add(s)
	}
	loose := Limits{MaxDepth: 1 << 20, MaxLength: 1 << 30}
	f.Fuzz(func(t *testing.T, in string) {
		x, err := ParseSearch(in)
		if err != nil {
			checkErr(t, in, err)
			return
		}
		s := x.String()
		y, err := loose.ParseSearch(s)
		if err != nil || !Equal(x, y) {
			t.Fatalf("%q printed as %q re-parses to %v, %v", in, s, y, err)
		}
		if s2 := y.String(); s2 != s {
			t.Fatalf("%q: printing not idempotent: %q, then %q", in, s, s2)
		}
	})
}

// FuzzParseQuery checks that ParseQuery never panics, reports offsets
// inside the raw query and that the parsed options print and re-parse.
func FuzzParseQuery(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		q, err := ParseQuery(in)
		if err != nil {
			checkErr(t, in, err)
			return
		}
		checkQueryRoundTrip(t, in, q)
	})
}
