package postgres

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// $search, as Graph's directory answers it
// (https://learn.microsoft.com/graph/search-query-parameter, "Use $search on
// directory object collections"):
// each clause is "property:text"; on displayName the text is split into
// tokens and every token must be a prefix of some token of the name, in any
// order; on the other string properties a clause is startsWith. Clauses
// combine with AND, OR and NOT; a clause without a property is refused, as
// in Graph.
//
// displayName tokens are computed in the database by graphdir_search_tokens
// (schema/00012_search_tokens.sql, the rules of 00002's
// graphdir_search_text) and kept, one row per distinct token, in
// user_search_tokens (maintained by triggers on users). "A token
// starts with p" is a range of its primary key (tenant_id, token, user_id):
// token LIKE 'p%' in the "C" collation, which the planner turns into an
// index range once lower($n) is folded into a constant (every statement is
// planned with its parameter values). searchParts splits the search text
// by the same rules in Go.

// searchCond returns SQL that is TRUE exactly when e evaluates to want. A
// clause on a null property is false (NOT selects those users).
func (c *compiler) searchCond(e odata.SearchExpr, want bool) (string, error) {
	switch e := e.(type) {
	case *odata.SearchBinary:
		both := (e.Op == odata.SearchAnd) == want
		if !both {
			c.disjunct++
			defer func() { c.disjunct-- }()
		}
		x, err := c.searchCond(e.X, want)
		if err != nil {
			return "", err
		}
		y, err := c.searchCond(e.Y, want)
		if err != nil {
			return "", err
		}
		if both {
			return "(" + x + " AND " + y + ")", nil
		}
		return "(" + x + " OR " + y + ")", nil
	case *odata.SearchNot:
		return c.searchCond(e.X, !want)
	case *odata.SearchTerm:
		s, err := c.searchTerm(e, want)
		if err != nil {
			return "", err
		}
		if want {
			return s, nil
		}
		return "(" + s + ") IS NOT TRUE", nil
	}
	return "", c.unsupported("Unsupported $search expression.")
}

// searchTerm translates one clause; want is its polarity (false under NOT).
func (c *compiler) searchTerm(t *odata.SearchTerm, want bool) (string, error) {
	if t.Kind != odata.SearchPhrase || t.Property == "" {
		return "", c.unsupported(`Invalid $search clause %s: each clause must have the form "property:text".`, t)
	}
	p, ok := lookupQueryProperty(t.Property)
	if !ok {
		if _, known := directory.LookupPropertyFold(t.Property); known {
			return "", c.unsupported("Property '%s' cannot be used in $search.", t.Property)
		}
		return "", c.unknownProperty(t.Property)
	}
	if p.Search == searchNone {
		return "", c.unsupported("Property '%s' cannot be used in $search.", p.Name)
	}
	if t.Text == "" {
		return "", c.unsupported(`The $search clause %s has no text to search for.`, t)
	}
	if p.Search == searchPrefix {
		o := scalarOperand(p)
		if o.attr != 0 && want { // attrs_query.go
			return c.attrSet(o.attr, "a.value LIKE lower("+c.bind(likeEscape(t.Text)+"%")+")"), nil
		}
		s := o.key + " LIKE lower(" + c.bind(likeEscape(t.Text)+"%") + ")"
		if o.notNull != "" {
			s = o.notNull + " AND " + s
		}
		return "(" + s + ")", nil
	}
	parts := searchParts(t.Text)
	if len(parts) == 0 {
		return "", c.unsupported(`The $search clause %s has no words to search for.`, t)
	}
	pattern := func(part string) string { return "lower(" + c.bind(likeEscape(part)+"%") + ")" }
	if want && (c.disjunct > 0 || c.extArray) {
		// Under an OR a semi-join becomes a per-row filter, and a count
		// visits every match: the ids, read once, probe users_pkey instead
		// (BitmapOr under OR), as extSet does. One array per clause, its
		// other words semi-joined through user_search_tokens_user_idx, so
		// that the planner reads the most selective word's range, not
		// every word's ("sur42": all the "sur" tokens). Not when negated:
		// NOT over an id array is a linear search per user, NOT EXISTS a
		// hashed subplan.
		ids := "SELECT st.user_id FROM user_search_tokens st WHERE st.tenant_id = $1 AND st.token LIKE " + pattern(parts[0])
		for _, part := range parts[1:] {
			ids += " AND EXISTS (SELECT 1 FROM user_search_tokens sw WHERE sw.tenant_id = st.tenant_id AND sw.user_id = st.user_id AND sw.token LIKE " + pattern(part) + ")"
		}
		return "(u.id = ANY(ARRAY(" + ids + ")))", nil
	}
	// The longest word is likely the most selective; it may drive.
	drive := 0
	for i, part := range parts {
		if utf8.RuneCountInString(part) > utf8.RuneCountInString(parts[drive]) {
			drive = i
		}
	}
	// A user without a name has no tokens.
	conds := make([]string, len(parts))
	for i, part := range parts {
		if i == drive && utf8.RuneCountInString(part) >= driveLen {
			conds[i] = "u.id IN (SELECT DISTINCT st.user_id FROM user_search_tokens st WHERE st.tenant_id = $1 AND st.token LIKE " + pattern(part) + ")"
			continue
		}
		conds[i] = "EXISTS (SELECT 1 FROM user_search_tokens st WHERE st.tenant_id = u.tenant_id AND st.user_id = u.id AND st.token LIKE " + pattern(part) + ")"
	}
	return "(" + strings.Join(conds, " AND ") + ")", nil
}

// driveLen is the length from which a word's ids drive a page. A page in
// users' order has two good plans, and PostgreSQL 15 finds each from one
// spelling only:
//
//   - EXISTS walks users in the page's order and probes
//     user_search_tokens_user_idx for each user (a merge or nested-loop
//     semi-join). It reads about 100/selectivity users: 2 ms for "a" (16%
//     of 1M users), 11 ms for "ma" (7%), but 180 ms for "bak" (0.8%). The
//     ids of the range sorted first would be better there, but a semi-join
//     makes them unique by a path the planner treats as unordered, so it
//     sorts the joined users instead.
//   - IN (SELECT DISTINCT ...) is a join with a set known unique, whose
//     sorted form probes users_pkey for the page only: it reads the whole
//     range, 23 ms for "bak", 36 ms for "ma", 96 ms for "a".
//
// Prefixes of one or two letters are usually common, longer ones rare.
const driveLen = 3

// searchParts splits search text into tokens: at white space, at
// lower-to-upper case transitions, between digits and other characters,
// and at symbols (which are dropped). Tokens are lower-cased.
func searchParts(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			prev = 0
			continue
		}
		if prev != 0 && (unicode.IsLower(prev) && unicode.IsUpper(r) || isASCIIDigit(prev) != isASCIIDigit(r)) {
			flush()
		}
		cur = append(cur, r)
		prev = r
	}
	flush()
	return out
}

func isASCIIDigit(r rune) bool { return '0' <= r && r <= '9' }
