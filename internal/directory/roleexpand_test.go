package directory_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// principalLookups counts the store reads $expand=principal makes.
type principalLookups struct {
	*fakeStore
	queries []directory.ListQuery
}

func (p *principalLookups) ListUsers(_ context.Context, _ string, q directory.ListQuery) (*directory.Page, error) {
	p.queries = append(p.queries, q)
	page := &directory.Page{}
	in, _ := q.Filter.(*odata.InExpr)
	if in == nil {
		return nil, fmt.Errorf("not an id in (...) filter: %v", q.Filter)
	}
	for _, item := range in.List {
		id := item.(*odata.Literal).Value
		page.Users = append(page.Users, &directory.User{ID: id, TenantID: tenantID, DisplayName: str("u-" + id), JobTitle: str("secret")})
	}
	return page, nil
}

// TestRoleAssignmentPrincipalsBatches: the principals of any number of
// assignments are read in one query per 999 distinct principals (never one
// per assignment), as the caller may read them, and only by a caller who
// may list users.
func TestRoleAssignmentPrincipalsBatches(t *testing.T) {
	f := &principalLookups{fakeStore: newFakeStore()}
	svc := directory.NewService(f)
	var list []*directory.RoleAssignment
	for i := range 1500 {
		id := fmt.Sprintf("0d9f3b1e-0000-4000-8000-%012x", 0x100+i)
		// Every principal holds two roles: 3000 assignments.
		list = append(list, &directory.RoleAssignment{PrincipalID: id}, &directory.RoleAssignment{PrincipalID: id})
	}
	got, err := svc.RoleAssignmentPrincipals(as(app(directory.PermUserReadAll)), list)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.queries) != 2 || len(got) != 1500 {
		t.Fatalf("%d queries for %d principals, want 2 for 1500", len(f.queries), len(got))
	}
	for _, q := range f.queries {
		if n := len(q.Filter.(*odata.InExpr).List); n > 999 || q.Top != n {
			t.Errorf("a batch of %d ids with $top %d", n, q.Top)
		}
	}
	if u := got[list[0].PrincipalID]; u == nil || u.JobTitle == nil {
		t.Errorf("full read: %+v", u)
	}

	// User.ReadBasic.All: the basic profile, as in a listing.
	f.queries = nil
	got, err = svc.RoleAssignmentPrincipals(as(app(directory.PermUserReadBasicAll)), list[:2])
	if err != nil || len(f.queries) != 1 {
		t.Fatalf("basic: %v, %d queries", err, len(f.queries))
	}
	if u := got[list[0].PrincipalID]; u == nil || u.DisplayName == nil || u.JobTitle != nil {
		t.Errorf("basic read not trimmed: %+v", u)
	}

	// Reading roles is not reading users: refused before any read.
	f.queries = nil
	if _, err := svc.RoleAssignmentPrincipals(as(app(directory.PermRoleManagementReadDir)), list); directory.KindOf(err) != directory.KindForbidden || len(f.queries) != 0 {
		t.Errorf("role reader: %v, %d queries; want 403 before any read", err, len(f.queries))
	}
	// No assignments: no query.
	if got, err := svc.RoleAssignmentPrincipals(as(app(directory.PermUserReadAll)), nil); err != nil || len(got) != 0 || len(f.queries) != 0 {
		t.Errorf("none: %v %v %d", got, err, len(f.queries))
	}
}
