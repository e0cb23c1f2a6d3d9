package odata

import (
	"errors"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery("$filter=startswith(displayName,%27J%27)&$Top=5&skip=10&$count=true&$orderby=displayName%20desc" +
		"&$select=id,displayName&$search=%22displayName:wa%22&$skiptoken=X%2527a&@p=1&custom=x+y&$expand=manager")
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Filter.String(); got != "startswith(displayName,'J')" {
		t.Errorf("filter %s", got)
	}
	if *q.Top != 5 || *q.Skip != 10 || !*q.Count || !q.OrderBy[0].Desc || len(q.Select) != 2 {
		t.Errorf("query %+v", q)
	}
	if s := q.Search.(*SearchTerm); s.Property != "displayName" || s.Text != "wa" {
		t.Errorf("search %+v", s)
	}
	if q.SkipToken != "X%27a" || q.Custom["custom"] != "x+y" || q.Other["$expand"] != "manager" || q.Aliases["@p"].String() != "1" {
		t.Errorf("skiptoken %q custom %v other %v aliases %v", q.SkipToken, q.Custom, q.Other, q.Aliases)
	}
	want := "$filter $top $skip $count $orderby $select $search $skiptoken @p custom $expand"
	if got := strings.Join(q.Options, " "); got != want {
		t.Errorf("options %s, want %s", got, want)
	}
	// Positions in the AST are offsets into the decoded value.
	if pos := q.Filter.(*CallExpr).Args[1].Pos(); pos != 23 {
		t.Errorf("literal at %d, want 23", pos)
	}
	if q, err := ParseQuery(""); err != nil || len(q.Options) != 0 {
		t.Errorf("empty query: %v %v", q, err)
	}
}

func TestParseQueryErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		msg    string
	}{
		{"$filter=a eq 1&$filter=b eq 2", 15, "duplicate query option $filter"},
		{"$filter=a eq 1&FILTER=b eq 2", 15, "duplicate query option $filter"},
		{"$bogus=1", 0, "unknown system query option"},
		{"$top=-1", 5, "expected non-negative integer"},
		{"$top", 4, "expected '='"},
		{"$filter=a%20eq%20%27x", 17, "string literal not terminated"},
		{"$filter=a%2", 9, "malformed percent-encoding"},
		{"$filter=a eq (1", 15, "expected ')'"},
		{"$filter=a%20eq%20(1", 19, "expected ')'"},
		{"$count=yes", 7, "expected true or false"},
		{"$search=#", 8, "'#' must be percent-encoded"},
		{"$search=a;b", 9, "';' must be percent-encoded"},
		{"@1=2", 0, "invalid parameter alias"},
		{"$fil ter=1", 4, "invalid character ' '"},
	}
	for _, tt := range tests {
		_, err := ParseQuery(tt.in)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("ParseQuery(%q): %v, want %q at %d", tt.in, err, tt.msg, tt.offset)
			continue
		}
		if e.Offset != tt.offset || !strings.Contains(e.Msg, tt.msg) {
			t.Errorf("ParseQuery(%q): %q at %d, want %q at %d", tt.in, e.Msg, e.Offset, tt.msg, tt.offset)
		}
	}
	// Limits apply per option value and surface as ErrLimitExceeded.
	if _, err := ParseQuery("$filter=" + strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200)); !errors.Is(err, ErrLimitExceeded) {
		t.Errorf("deep $filter: %v", err)
	}
}
