package postgres

import (
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// $orderby and keyset paging.
//
// OData orders nulls first ascending and last descending, ties broken by
// id. Each sortable string property has the index
// (tenant_id, (col IS NOT NULL), COALESCE(lower(col), '') COLLATE "C", id)
// and is sorted by the same components: "col IS NOT NULL" puts nulls
// (false) first ascending and last descending, and the COALESCE makes every
// component non-null, so the position after a cursor is one row comparison
//
//	ROW(col IS NOT NULL, COALESCE(lower(col), '') COLLATE "C", u.id) > ROW($a, $b, $c)
//
// (< for descending) that a forward or backward scan of that index answers
// without a sort, nulls included. id follows the direction of the last
// $orderby key (ascending without one), so a single-key order is one index
// scan either way; several keys with mixed directions get the lexicographic
// OR form of the comparison. A cursor carries the keys' values as text
// (lower(col) for strings, nil for null) plus the id.

// sortKey is one $orderby item resolved through the allow-list.
type sortKey struct {
	prop *userProperty
	desc bool
	ext  *extSort // set (and prop nil) for an extension property
}

// components returns the never-null SQL expressions the key sorts by.
func (k sortKey) components() []string {
	if k.ext != nil {
		return k.ext.components()
	}
	o := scalarOperand(k.prop)
	if o.notNull != "" {
		return []string{"(" + o.notNull + ")", o.key}
	}
	return []string{o.key}
}

// cursorText is the SQL of the key's value as the cursor stores it.
func (k sortKey) cursorText() string {
	if k.ext != nil {
		return k.ext.cursorText()
	}
	col := "u." + k.prop.Column
	switch k.prop.Kind {
	case kindString, kindStringNotNull:
		return "lower(" + col + ")"
	case kindBool:
		return col + "::text"
	case kindDateTime:
		return `to_char(` + col + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	}
	return col + "::text"
}

// cursorValues binds a cursor value and returns the SQL of each component.
func (c *compiler) cursorValues(k sortKey, v *string) ([]string, error) {
	if k.ext != nil {
		return c.extCursorValues(k.ext, v)
	}
	switch k.prop.Kind {
	case kindString:
		if v == nil {
			return []string{c.bind(false) + "::boolean", c.bind("") + "::text"}, nil
		}
		return []string{c.bind(true) + "::boolean", c.bind(*v) + "::text"}, nil
	case kindStringNotNull:
		if v == nil {
			return nil, errInvalidCursor()
		}
		return []string{c.bind(*v) + "::text"}, nil
	case kindBool:
		if v == nil {
			return []string{c.bind(false) + "::boolean", c.bind(false) + "::boolean"}, nil
		}
		if *v != "true" && *v != "false" {
			return nil, errInvalidCursor()
		}
		return []string{c.bind(true) + "::boolean", c.bind(*v == "true") + "::boolean"}, nil
	case kindDateTime:
		if v == nil {
			return nil, errInvalidCursor()
		}
		t, err := time.Parse(time.RFC3339Nano, *v)
		if err != nil {
			return nil, errInvalidCursor()
		}
		return []string{c.bind(t) + "::timestamptz"}, nil
	}
	return nil, errInvalidCursor()
}

func errInvalidCursor() error {
	return &directory.Error{Kind: directory.KindInvalid, Target: "$skiptoken", Message: "The specified page token value has expired or is invalid."}
}

// orderBy resolves $orderby. A key after id (or a repeated key) cannot
// change the order and is dropped. It reports whether id was one of the
// keys and, if so, its direction.
func (c *compiler) orderBy(items []odata.OrderItem) (keys []sortKey, idDesc bool, err error) {
	seen := map[string]bool{}
	idSet := false
	for _, it := range items {
		path, ok := it.Expr.(*odata.PathExpr)
		if !ok || path.Base != nil || len(path.Segments) != 1 {
			return nil, false, c.unsupported("Unsupported sort property '%s' for 'User'.", it.Expr)
		}
		if d := c.extByName(path.Segments[0]); d != nil {
			if idSet || seen[d.Name] {
				continue
			}
			seen[d.Name] = true
			k, err := c.extSortKey(d, it.Desc)
			if err != nil {
				return nil, false, err
			}
			keys = append(keys, k)
			continue
		}
		p, ok := c.lookup(path.Segments[0])
		if !ok || !p.Sortable {
			return nil, false, c.unsupported("Unsupported sort property '%s' for 'User'.", path.Segments[0])
		}
		if idSet || seen[p.Name] {
			continue
		}
		seen[p.Name] = true
		if p.Kind == kindID {
			idSet, idDesc = true, it.Desc
			continue
		}
		keys = append(keys, sortKey{prop: p, desc: it.Desc})
	}
	if !idSet && len(keys) > 0 {
		idDesc = keys[len(keys)-1].desc
	}
	return keys, idDesc, nil
}

// statement is one translated query.
type statement struct {
	sql  string
	args []any
	// keys are the $orderby keys (without id), whose values the list
	// statement returns as the JSON array sort_keys.
	keys []sortKey
}

// where translates Filter and Search into the WHERE clause for tenant $1.
func (c *compiler) where(q directory.ListQuery) (string, error) {
	c.ext = q.Extensions
	// The one place every listing and count chooses live users or deleted
	// items (deleted.go): the key indexes of users are partial on liveUser
	// (schema/00013_live_indexes.sql), so counts of live users can be
	// index-only; the partial users_deleted_key_idx serves the deleted ones.
	w := "u.tenant_id = $1 AND " + liveUser
	if q.Deleted {
		w = "u.tenant_id = $1 AND " + deletedUser
		c.deleted = true
	}
	if q.Filter != nil {
		c.option = "$filter"
		f, err := c.cond(q.Filter, true)
		if err != nil {
			return "", err
		}
		w += " AND " + f
	}
	if q.Search != nil {
		c.option = "$search"
		s, err := c.searchCond(q.Search, true)
		if err != nil {
			return "", err
		}
		w += " AND " + s
	}
	return w, nil
}

// buildCount translates q into SELECT count(*).
func buildCount(tenantID string, q directory.ListQuery) (*statement, error) {
	c := newCompiler(tenantID)
	c.extArray = true // extensions_query.go
	w, err := c.where(q)
	if err != nil {
		return nil, err
	}
	return &statement{sql: "SELECT count(*) FROM users u WHERE " + w, args: c.args}, nil
}

// buildList translates q into the statement of one page of top rows (it
// fetches top+1 to know whether more exist).
func buildList(tenantID string, q directory.ListQuery, top int) (*statement, error) {
	c := newCompiler(tenantID)
	w, err := c.where(q)
	if err != nil {
		return nil, err
	}
	c.option = "$orderby"
	keys, idDesc, err := c.orderBy(q.OrderBy)
	if err != nil {
		return nil, err
	}

	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(userSelect)
	if len(keys) > 0 {
		texts := make([]string, len(keys))
		for i, k := range keys {
			texts[i] = k.cursorText()
		}
		b.WriteString(",\n\tjson_build_array(" + strings.Join(texts, ", ") + ") AS sort_keys")
	}
	if q.Count {
		// An uncorrelated scalar subquery: evaluated once, over every match.
		b.WriteString(",\n\t(SELECT count(*) FROM users u WHERE " + w + ") AS total")
	}
	b.WriteString("\nFROM users u\nWHERE " + w)

	// Sort components, each with its direction.
	var exprs []string
	var descs []bool
	for _, k := range keys {
		for _, e := range k.components() {
			exprs = append(exprs, e)
			descs = append(descs, k.desc)
		}
	}
	exprs = append(exprs, "u.id")
	descs = append(descs, idDesc)

	if a := q.After; a != nil {
		c.option = "$skiptoken"
		if len(a.Keys) != len(keys) || !directory.IsGUID(a.ID) {
			return nil, errInvalidCursor()
		}
		var vals []string
		for i, k := range keys {
			v, err := c.cursorValues(k, a.Keys[i])
			if err != nil {
				return nil, err
			}
			vals = append(vals, v...)
		}
		vals = append(vals, c.bind(strings.ToLower(a.ID))+"::uuid")
		b.WriteString("\n\tAND " + after(exprs, descs, vals))
	}

	b.WriteString("\nORDER BY ")
	for i, e := range exprs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e)
		if descs[i] {
			b.WriteString(" DESC")
		}
	}
	b.WriteString("\nLIMIT " + c.bind(top+1))
	if q.Skip > 0 && q.After == nil {
		b.WriteString(" OFFSET " + c.bind(q.Skip))
	}
	return &statement{sql: b.String(), args: c.args, keys: keys}, nil
}

// after returns the predicate "the row sorts after the cursor" over the
// never-null components exprs with directions descs and cursor values vals.
func after(exprs []string, descs []bool, vals []string) string {
	same := true
	for _, d := range descs {
		same = same && d == descs[0]
	}
	op := func(desc bool) string {
		if desc {
			return " < "
		}
		return " > "
	}
	if same {
		if len(exprs) == 1 {
			return exprs[0] + op(descs[0]) + vals[0]
		}
		// One row comparison: an index range condition.
		return "ROW(" + strings.Join(exprs, ", ") + ")" + op(descs[0]) + "ROW(" + strings.Join(vals, ", ") + ")"
	}
	var ors []string
	for i := range exprs {
		var ands []string
		for j := 0; j < i; j++ {
			ands = append(ands, exprs[j]+" = "+vals[j])
		}
		ands = append(ands, exprs[i]+op(descs[i])+vals[i])
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")"
}
