package odata

import (
	"errors"
	"strings"
	"testing"
)

func TestParseSearch(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"displayName:wa"`, `"displayName:wa"`},
		{`"displayName:wa" OR "displayName:ad"`, `"displayName:wa" OR "displayName:ad"`},
		{`"displayName:a b" AND ("mail:x" OR "mail:y")`, `"displayName:a b" AND ("mail:x" OR "mail:y")`},
		{`"description:say \"hi\" \\o/"`, `"description:say \"hi\" \\o/"`},
		{"blue green", "blue AND green"},
		{"blue NOT green", "blue AND NOT green"},
		{"NOT (blue green)", "NOT (blue AND green)"},
		{"a OR b c", "a OR b AND c"},
		{"(a OR b) c", "(a OR b) AND c"},
		{"a OR (b OR c)", "a OR (b OR c)"},
		{"AND", "(AND)"},
		{"NOT NOT", "NOT (NOT)"},
		{"AND OR NOT", "(AND) OR (NOT)"},
		{"a and b", "a AND and AND b"},
		{`'"blue'`, `'"blue'`},
		{"  blue  ", "blue"},
		{"Daniel's 08/15 $search", "Daniel's AND 08/15 AND $search"},
	}
	for _, tt := range tests {
		x, err := ParseSearch(tt.in)
		if err != nil {
			t.Errorf("ParseSearch(%q): %v", tt.in, err)
			continue
		}
		if got := x.String(); got != tt.want {
			t.Errorf("ParseSearch(%q) = %s, want %s", tt.in, got, tt.want)
			continue
		}
		y, err := ParseSearch(x.String())
		if err != nil || !Equal(x, y) {
			t.Errorf("ParseSearch(%q): printed form re-parses to %v, %v", tt.in, y, err)
		}
	}
	x, _ := ParseSearch(`"displayName:a:b" x`)
	b := x.(*SearchBinary)
	term := b.X.(*SearchTerm)
	if term.Property != "displayName" || term.Text != "a:b" || term.Kind != SearchPhrase || b.Y.Pos() != 18 {
		t.Errorf("term %+v, Y at %d", term, b.Y.Pos())
	}
}

func TestParseSearchErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{"", 0, "expected search term"},
		{`"blue`, 5, "not terminated"},
		{`"blue"green`, 6, "expected space after search phrase"},
		{`""`, 0, "empty search phrase"},
		{"(a", 2, "expected ')'"},
		{"a)", 1, "unexpected ')'"},
		{"'a", 2, "not terminated"},
		{"'a' b", 4, "unexpected text after quoted search string"},
		{"a 'b", 2, "cannot start with a single quote"},
		{"NOT(a)", 3, "expected space after search word"},
	}
	for _, tt := range tests {
		_, err := ParseSearch(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseSearch(%q): %v, want %q at %d", tt.in, err, tt.msg, tt.offset)
			continue
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("ParseSearch(%q): %q at %d, want %q at %d", tt.in, e.Msg, e.Offset, tt.msg, tt.offset)
		}
	}
}
