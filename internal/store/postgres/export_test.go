package postgres

import (
	"context"
	"slices"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// PatchColumns exposes the property -> column allow-list to package postgres_test.
func PatchColumns() map[string]string {
	m := make(map[string]string, len(patchProperties))
	for prop, p := range patchProperties {
		m[prop] = p.Column
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
	var out []QueryProperty
	for _, p := range userProperties {
		if !p.queryable() {
			continue
		}
		out = append(out, QueryProperty{Name: p.Name, Column: p.Column,
			String: p.Kind == kindString || p.Kind == kindStringNotNull, NotNull: p.Kind == kindStringNotNull,
			EndsWith: p.Ops&allowEndsWith != 0, Sortable: p.Sortable, Collection: p.Kind == kindCollection, Search: p.Search != searchNone,
			Partial: p.partial(), Attr: p.Attr})
	}
	return out
}

// SearchParts exposes the Go tokeniser of $search text.
func SearchParts(s string) []string { return searchParts(s) }

// ImportCheckPlanForTest returns EXPLAIN (FORMAT JSON) of the import's key
// check for upns and their identities (issuer, upn), run as importIn runs it.
func ImportCheckPlanForTest(ctx context.Context, s *Store, tenantID string, upns []string, issuer string) (string, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	if _, err := tx.ExecContext(ctx, importCheckSettings); err != nil {
		return "", err
	}
	lines := make([]int64, len(upns))
	issuers := make([]string, len(upns))
	for i := range upns {
		lines[i], issuers[i] = int64(i+1), issuer
	}
	var plan string
	err = tx.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+importCheckSQL, tenantID, pq.Array(lines), pq.Array(upns),
		pq.Array(lines), pq.Array(issuers), pq.Array(upns)).Scan(&plan)
	return plan, err
}

// The advisory lock keys of the background jobs, for tests that hold them
// as another instance would.
const (
	PurgeLockKey       = purgeLockKey
	PruneLockKey       = pruneLockKey
	SignInPruneLockKey = signInPruneLockKey
)

// AddStringPropertyForTest appends a string property without a field of
// directory.User (its values in User.Props) to the property table, as a
// new row would, and derives the store's statements again; restore undoes
// both. sortable picks str (indexed on users, $orderby allowed) over
// filterStr (user_attrs prop number attr). Not safe while other tests use
// the store: call it from a test that is not parallel, and restore before
// it returns.
func AddStringPropertyForTest(name, column string, sortable bool, attr int16) (restore func()) {
	saved := userProperties
	p := str(name, column, nil)
	if !sortable {
		p = filterStr(name, column, attr, nil)
	}
	userProperties = append(slices.Clip(saved), p)
	deriveUserSQL()
	return func() {
		userProperties = saved
		deriveUserSQL()
	}
}

// AuditListSQL returns the statement ListAuditEvents runs for q.
func AuditListSQL(tenantID string, q directory.AuditQuery) (string, []any, error) {
	return auditListSQL(tenantID, q, defaultTop)
}

// ApplicationListSQL returns the statement ListApplications sends for q.
func ApplicationListSQL(tenantID string, q directory.ListQuery) (string, []any, error) {
	st, args, _, err := buildApplicationList(tenantID, q)
	return st, args, err
}

// ApplicationCountSQL returns the statement CountApplications sends for q.
func ApplicationCountSQL(tenantID string, q directory.ListQuery) (string, []any, error) {
	return buildApplicationCount(tenantID, q)
}
