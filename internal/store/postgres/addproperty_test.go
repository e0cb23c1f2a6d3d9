package postgres_test

import (
	"context"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/pkg/odata"
)

// TestAddPropertyByTableRow adds a property the way the recipe does: one
// row in the store's property table (here through a test hook, for a
// property directory.User has no field for) and the migration's column and
// index. Nothing else changes, and the store creates, reads, patches,
// filters, sorts and searches it. Not parallel: the hook changes the
// package's table while it runs (restored before the test returns, before
// any parallel test resumes).
func TestAddPropertyByTableRow(t *testing.T) {
	restore := postgres.AddStringPropertyForTest("pagerNumber", "pager_number", true, 0)
	defer restore()
	ctx := context.Background()
	s, tn := newTenant(t)
	// The migration: the column, and the index the row's Index names, in
	// the shape of the other sortable strings (00002, 00013).
	if _, err := s.DB().Exec(`ALTER TABLE users ADD COLUMN pager_number text;
		CREATE INDEX users_pager_number_key_idx ON users (tenant_id, (pager_number IS NOT NULL), (COALESCE(lower(pager_number), '')) COLLATE "C", id)`); err != nil {
		t.Fatal(err)
	}

	pager := func(u *directory.User) any {
		if v, ok := u.Props["pagerNumber"].(*string); ok {
			return *v
		}
		return u.Props["pagerNumber"]
	}
	a := newUser(tn.ID, "a@contoso.onmicrosoft.com")
	a.Props = map[string]any{"pagerNumber": ptr("555-0100")}
	b := newUser(tn.ID, "b@contoso.onmicrosoft.com")
	b.Props = map[string]any{"pagerNumber": ptr("555-0200")}
	c := newUser(tn.ID, "c@contoso.onmicrosoft.com") // without one
	for _, u := range []*directory.User{a, b, c} {
		mustCreate(t, s, u)
	}

	// Create, then GET by id and by userPrincipalName.
	for _, key := range []directory.UserKey{{ID: a.ID}, {UPN: "A@contoso.onmicrosoft.com"}} {
		got, err := s.GetUser(ctx, tn.ID, key)
		if err != nil {
			t.Fatal(err)
		}
		if pager(got) != "555-0100" {
			t.Errorf("GetUser(%v): pagerNumber = %v, want 555-0100", key, pager(got))
		}
	}
	if got, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: c.ID}); err != nil || pager(got) != nil {
		t.Errorf("user without pagerNumber reads %v (%v), want none", pager(got), err)
	}

	// PATCH: set, and the UPDATE's own result.
	got, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: c.ID}, directory.UserPatch{Values: map[string]any{"pagerNumber": ptr("555-0050")}})
	if err != nil {
		t.Fatal(err)
	}
	if pager(got) != "555-0050" {
		t.Errorf("UpdateUser returned pagerNumber %v, want 555-0050", pager(got))
	}
	if got, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: c.ID}); err != nil || pager(got) != "555-0050" {
		t.Errorf("after PATCH: pagerNumber %v (%v), want 555-0050", pager(got), err)
	}

	list := func(filter, orderby string) []string {
		t.Helper()
		var q directory.ListQuery
		if filter != "" {
			if q.Filter, err = odata.ParseFilter(filter); err != nil {
				t.Fatal(err)
			}
		}
		if orderby != "" {
			if q.OrderBy, err = odata.ParseOrderBy(orderby); err != nil {
				t.Fatal(err)
			}
		}
		page, err := s.ListUsers(ctx, tn.ID, q)
		if err != nil {
			t.Fatalf("ListUsers($filter=%s, $orderby=%s): %v", filter, orderby, err)
		}
		var out []string
		for _, u := range page.Users {
			// $select is the edge's projection of what the store read:
			// every listed user carries the new property.
			v, _ := pager(u).(string)
			out = append(out, v)
		}
		return out
	}
	if got := list("pagerNumber eq '555-0200'", ""); len(got) != 1 || got[0] != "555-0200" {
		t.Errorf("$filter eq: %q", got)
	}
	if got := list("startsWith(pagerNumber,'555-01')", ""); len(got) != 1 || got[0] != "555-0100" {
		t.Errorf("$filter startsWith: %q", got)
	}
	if got := list("", "pagerNumber desc"); len(got) != 3 || got[0] != "555-0200" || got[1] != "555-0100" || got[2] != "555-0050" {
		t.Errorf("$orderby desc: %q", got)
	}

	// PATCH to null removes the value.
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: b.ID}, directory.UserPatch{Values: map[string]any{"pagerNumber": nil}}); err != nil {
		t.Fatal(err)
	}
	if got := list("pagerNumber eq null", "pagerNumber"); len(got) != 1 || got[0] != "" {
		t.Errorf("$filter eq null after PATCH to null: %q", got)
	}

	// The statement the store exports runs the same SQL (the bench's raw side).
	st, err := postgres.GetUserStatement(tn.ID, directory.UserKey{ID: a.ID})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM (`+st.SQL+`) x WHERE x.pager_number = '555-0100'`, st.Args...).Scan(&n); err != nil || n != 1 {
		t.Errorf("GetUserStatement does not select pager_number: %d (%v)", n, err)
	}
}
