package directory

import (
	"context"
	"slices"
	"testing"

	"github.com/graphdir/graphdir/pkg/odata"
)

func TestReferencedProperties(t *testing.T) {
	f, err := odata.ParseFilter("identities/any(i:i/issuer eq 'x' and i/issuerAssignedId eq 'y') and (SURNAME eq 'a' or not startsWith(displayName,'b')) and otherMails/$count eq 0 and nope eq 1 and surname ne null")
	if err != nil {
		t.Fatal(err)
	}
	s, err := odata.ParseSearch(`"displayName:a" OR NOT "mail:b"`)
	if err != nil {
		t.Fatal(err)
	}
	o, err := odata.ParseOrderBy("createdDateTime desc,userprincipalname")
	if err != nil {
		t.Fatal(err)
	}
	got := ReferencedProperties(ListQuery{Filter: f, Search: s, OrderBy: o})
	want := []string{"identities", "surname", "displayName", "otherMails", "nope", "mail", "createdDateTime", "userPrincipalName"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if got := ReferencedProperties(ListQuery{}); len(got) != 0 {
		t.Errorf("empty query: %v", got)
	}
}

// queryStore records what reaches the store.
type queryStore struct {
	Store
	list, count *ListQuery
}

func (s *queryStore) ListUsers(_ context.Context, _ string, q ListQuery) (*Page, error) {
	s.list = &q
	return &Page{}, nil
}

func (s *queryStore) CountUsers(_ context.Context, _ string, q ListQuery) (int64, error) {
	s.count = &q
	return 7, nil
}

func TestServiceQueries(t *testing.T) {
	st := &queryStore{}
	svc := NewService(st)
	f, _ := odata.ParseFilter("city eq 'Oslo'")
	q := ListQuery{Filter: f, Top: 5, Skip: 2, Count: true, After: &Cursor{ID: "x"}}
	app := WithPrincipal(context.Background(), &Principal{Kind: PrincipalApp, TenantID: "t", Permissions: []string{PermUserReadAll}})
	customer := WithPrincipal(context.Background(), &Principal{Kind: PrincipalUser, TenantID: "t", UserID: "u", Permissions: []string{PermUserRead}})
	noRoles := WithPrincipal(context.Background(), &Principal{Kind: PrincipalApp, TenantID: "t"})

	if _, err := svc.ListUsers(app, q); err != nil || st.list == nil || st.list.Filter != f || st.list.Skip != 2 || st.list.After == nil {
		t.Errorf("ListUsers: %v %+v", err, st.list)
	}
	n, err := svc.CountUsers(app, q)
	if err != nil || n != 7 || st.count.Filter != f || st.count.Top != 0 || st.count.Skip != 0 || st.count.After != nil || st.count.Count {
		t.Errorf("CountUsers: %d %v %+v", n, err, st.count)
	}
	for _, ctx := range []context.Context{customer, noRoles, context.Background()} {
		st.list, st.count = nil, nil
		if _, err := svc.CountUsers(ctx, q); err == nil || st.count != nil {
			t.Errorf("CountUsers without the listing permission: %v", err)
		}
		if _, err := svc.ListUsers(ctx, q); err == nil || st.list != nil {
			t.Errorf("ListUsers without the listing permission: %v", err)
		}
	}
	for _, bad := range []ListQuery{{Top: 0}, {Top: 1000}, {Top: 5, Skip: -1}} {
		if _, err := svc.ListUsers(app, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
