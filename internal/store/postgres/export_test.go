package postgres

import "github.com/graphdir/graphdir/internal/directory"

// PatchColumns exposes the property -> column allow-list to package postgres_test.
func PatchColumns() map[string]string {
	m := make(map[string]string, len(patchColumns))
	for prop, c := range patchColumns {
		m[prop] = c.name
	}
	return m
}

// ListSQL returns the list statement ListUsers runs for q (Top 0 means 100).
func ListSQL(tenantID string, q directory.ListQuery) (string, []any, error) {
	top := q.Top
	if top <= 0 {
		top = defaultTop
	}
	st, err := buildList(tenantID, q, top)
	if err != nil {
		return "", nil, err
	}
	return st.sql, st.args, nil
}

// CountSQL returns the statement CountUsers runs for q.
func CountSQL(tenantID string, q directory.ListQuery) (string, []any, error) {
	st, err := buildCount(tenantID, q)
	if err != nil {
		return "", nil, err
	}
	return st.sql, st.args, nil
}

// QueryProperty describes one row of the query allow-list for tests.
type QueryProperty struct {
	Name, Column       string
	String, NotNull    bool // a scalar string property (NotNull: a NOT NULL column)
	EndsWith, Sortable bool
	Collection, Search bool
	Partial            bool  // filter-only string, indexed in user_attrs
	Attr               int16 // its prop number in user_attrs (00010)
}

// QueryProperties returns the allow-list.
func QueryProperties() []QueryProperty {
	out := make([]QueryProperty, len(queryProperties))
	for i, p := range queryProperties {
		out[i] = QueryProperty{Name: p.Name, Column: p.Column,
			String: p.Kind == kindString || p.Kind == kindStringNotNull, NotNull: p.Kind == kindStringNotNull,
			EndsWith: p.Ops&allowEndsWith != 0, Sortable: p.Sortable, Collection: p.Kind == kindCollection, Search: p.Search != searchNone,
			Partial: p.partial(), Attr: p.Attr}
	}
	return out
}

// SearchParts exposes the Go tokeniser of $search text.
func SearchParts(s string) []string { return searchParts(s) }
