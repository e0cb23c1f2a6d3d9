package postgres

import (
	"strings"
	"unicode"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// $search, as Graph's directory answers it (reference/graph-users.md 3.7):
// each clause is "property:text"; on displayName the text is split into
// tokens and every token must be a prefix of some token of the name, in any
// order; on the other string properties a clause is startsWith. Clauses
// combine with AND, OR and NOT; a clause without a property is refused, as
// in Graph.
//
// displayName tokens are computed in the database by graphdir_search_text
// (schema/00002_query_indexes.sql), which renders the name as
// ' tok1 tok2 ... '; "a token starts with p" is then
// graphdir_search_text(display_name) LIKE '% p%', which the trigram index
// users_display_name_search_idx answers (partial: WHERE display_name IS NOT
// NULL, which the condition repeats). searchParts splits the search text
// by the same rules in Go.

// searchCond returns SQL that is TRUE exactly when e evaluates to want. A
// clause on a null property is false (NOT selects those users).
func (c *compiler) searchCond(e odata.SearchExpr, want bool) (string, error) {
	switch e := e.(type) {
	case *odata.SearchBinary:
		x, err := c.searchCond(e.X, want)
		if err != nil {
			return "", err
		}
		y, err := c.searchCond(e.Y, want)
		if err != nil {
			return "", err
		}
		if (e.Op == odata.SearchAnd) == want {
			return "(" + x + " AND " + y + ")", nil
		}
		return "(" + x + " OR " + y + ")", nil
	case *odata.SearchNot:
		return c.searchCond(e.X, !want)
	case *odata.SearchTerm:
		s, err := c.searchTerm(e)
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

func (c *compiler) searchTerm(t *odata.SearchTerm) (string, error) {
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
	conds := make([]string, len(parts))
	for i, part := range parts {
		conds[i] = "graphdir_search_text(u." + p.Column + ") LIKE lower(" + c.bind("% "+likeEscape(part)+"%") + ")"
	}
	// users_display_name_search_idx is partial (00009): names only.
	return "(u." + p.Column + " IS NOT NULL AND " + strings.Join(conds, " AND ") + ")", nil
}

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
