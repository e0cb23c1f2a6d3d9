package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
	"github.com/graphdir/graphdir/pkg/odata"
)

func pgtestStore(t *testing.T) *postgres.Store { return pgtest.NewStore(t) }

// queryFixture is a small tenant whose users cover nulls, mixed case,
// unicode, LIKE metacharacters, identities and string collections, plus a
// second tenant with look-alike data that must never leak in.
type queryFixture struct {
	s      *postgres.Store
	tenant string
	ids    map[string]string // name -> id
	names  map[string]string // id -> name
}

func day(s string) *time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func newQueryFixture(t *testing.T) *queryFixture {
	t.Helper()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	f := &queryFixture{s: s, tenant: tn.ID, ids: map[string]string{}, names: map[string]string{}}
	id := func(typ, iss, assigned string) directory.Identity {
		return directory.Identity{SignInType: typ, Issuer: iss, IssuerAssignedID: assigned}
	}
	const local = "contoso.onmicrosoft.com"
	users := map[string]*directory.User{
		"adele": {DisplayName: ptr("Adele Vance"), GivenName: ptr("Adele"), Surname: ptr("Vance"), Mail: ptr("AdeleV@contoso.com"),
			City: ptr("Oslo"), Country: ptr("NO"), AccountEnabled: ptr(true), UserType: ptr("Member"), CreatedDateTime: day("2024-01-01"),
			OtherMails: []string{"adele@home.example", "A.Vance@Other.example"}, BusinessPhones: []string{"+1 425 555 0109"},
			ProxyAddresses: []string{"SMTP:AdeleV@contoso.com", "smtp:adele@contoso.net"},
			Identities:     []directory.Identity{id("emailAddress", local, "adele@adatum.com"), id("federated", "facebook.com", "5eecb0cd")}},
		"oscar": {DisplayName: ptr("Oscar Ward"), GivenName: ptr("Oscar"), Surname: ptr("Ward"), City: ptr("oslo"), AccountEnabled: ptr(false),
			UserType: ptr("Member"), CreatedDateTime: day("2024-02-01"), JobTitle: ptr(`50%_off \ sale`),
			Identities: []directory.Identity{id("userName", local, "oscar")}},
		"zoe": {DisplayName: ptr("Zoë Ångström-Lee"), GivenName: ptr("Zoë"), Surname: ptr("Ångström-Lee"), Mail: ptr("zoe@b.c"), City: ptr("Bergen"),
			UserType: ptr("Guest"), CreatedDateTime: day("2024-03-01"), OtherMails: []string{"ZOE@b.c"},
			Identities: []directory.Identity{id("emailAddress", local, "Zoe@B.C")}},
		"nocity": {Mail: ptr("nc@contoso.com"), AccountEnabled: ptr(true), CreatedDateTime: day("2024-04-01"),
			Identities: []directory.Identity{id("federated", "google.com", "1234")}},
		"hello": {DisplayName: ptr("HelloWorld42 McDonald"), GivenName: ptr("Hello"), Surname: ptr("McDonald"), Mail: ptr("guthrie@contoso.com"),
			City: ptr("Trondheim"), AccountEnabled: ptr(true), UserType: ptr("Member"), CreatedDateTime: day("2024-05-01"),
			JobTitle: ptr("50 percent off"), OtherMails: []string{"h@x.y", "h2@x.y"}, MobilePhone: ptr("+47 555")},
		"inject": {DisplayName: ptr("'; DROP TABLE users; --"), Mail: ptr("under_score@contoso.com"), City: ptr("x%y"), AccountEnabled: ptr(true),
			UserType: ptr("Member"), CreatedDateTime: day("2024-06-01"), JobTitle: ptr(`back\slash`)},
		"dup": {DisplayName: ptr("adele vance"), GivenName: ptr("adele"), Mail: ptr("underXscore@contoso.com"), AccountEnabled: ptr(true),
			UserType: ptr("Member"), CreatedDateTime: day("2024-07-01")},
	}
	for name, u := range users {
		u.TenantID, u.ID, u.UserPrincipalName = tn.ID, uuid.NewString(), ptr(name+"@"+local)
		mustCreate(t, s, u)
		f.ids[name], f.names[u.ID] = u.ID, name
	}
	// Look-alikes in another tenant.
	foreign := &directory.User{TenantID: other.ID, ID: uuid.NewString(), UserPrincipalName: ptr("adele@fabrikam.onmicrosoft.com"),
		DisplayName: ptr("Adele Vance"), City: ptr("Oslo"), AccountEnabled: ptr(true), OtherMails: []string{"adele@home.example"},
		Identities: []directory.Identity{id("emailAddress", local, "adele@adatum.com")}}
	mustCreate(t, s, foreign)
	return f
}

// parse builds a ListQuery from option strings.
func parse(t *testing.T, filter, orderby, search string) directory.ListQuery {
	t.Helper()
	var q directory.ListQuery
	var err error
	if filter != "" {
		if q.Filter, err = odata.ParseFilter(filter); err != nil {
			t.Fatalf("ParseFilter(%q): %v", filter, err)
		}
	}
	if orderby != "" {
		if q.OrderBy, err = odata.ParseOrderBy(orderby); err != nil {
			t.Fatalf("ParseOrderBy(%q): %v", orderby, err)
		}
	}
	if search != "" {
		if q.Search, err = odata.ParseSearch(search); err != nil {
			t.Fatalf("ParseSearch(%q): %v", search, err)
		}
	}
	return q
}

// all pages through q with page size top and returns the names in order,
// failing on a repeated user, an over-full or (before the last) short page.
func (f *queryFixture) all(t *testing.T, q directory.ListQuery, top int) []string {
	t.Helper()
	ctx := context.Background()
	q.Top = top
	var out []string
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 50 {
			t.Fatalf("paging does not end")
		}
		page, err := f.s.ListUsers(ctx, f.tenant, q)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		if len(page.Users) > top || page.Next != nil && len(page.Users) != top {
			t.Fatalf("page of %d users with top %d (next %v)", len(page.Users), top, page.Next != nil)
		}
		for _, u := range page.Users {
			name, ok := f.names[u.ID]
			if !ok {
				t.Fatalf("user %s (%v) is not in the tenant's fixture", u.ID, u.DisplayName)
			}
			if seen[name] {
				t.Fatalf("user %s returned twice", name)
			}
			seen[name] = true
			out = append(out, name)
		}
		if page.Next == nil {
			return out
		}
		q.After = page.Next
	}
}

// byID orders names by their ids, as ties are broken.
func (f *queryFixture) byID(names ...string) []string {
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(f.ids[a], f.ids[b]) })
	return names
}

func TestQuery_FilterSemantics(t *testing.T) {
	t.Parallel()
	f := newQueryFixture(t)
	everyone := []string{"adele", "oscar", "zoe", "nocity", "hello", "inject", "dup"}
	but := func(except ...string) string {
		var out []string
		for _, n := range everyone {
			if !slices.Contains(except, n) {
				out = append(out, n)
			}
		}
		return strings.Join(out, " ")
	}
	cases := []struct{ filter, search, want string }{
		// eq / ne / null, case-insensitive
		{filter: "displayName eq 'ADELE VANCE'", want: "adele dup"},
		{filter: "City eq 'OSLO'", want: "adele oscar"},
		{filter: "'oslo' eq city", want: "adele oscar"},
		{filter: "city ne 'Oslo'", want: "zoe nocity hello inject dup"},
		{filter: "not (city eq 'Oslo')", want: "zoe nocity hello inject dup"},
		{filter: "city eq null", want: "nocity dup"},
		{filter: "city ne null", want: "adele oscar zoe hello inject"},
		{filter: "mail eq null", want: "oscar"},
		{filter: "displayName eq 'zoë ångström-lee'", want: "zoe"},
		// ordering comparisons: null is never greater or smaller
		{filter: "city gt 'p'", want: "hello inject"},
		{filter: "not (city gt 'p')", want: "adele oscar zoe nocity dup"},
		{filter: "city le 'bergen'", want: "zoe"},
		{filter: "city lt null", want: ""},
		{filter: "not (city lt null)", want: but()},
		{filter: "createdDateTime ge 2024-03-01T00:00:00Z", want: "zoe nocity hello inject dup"},
		{filter: "createdDateTime lt 2024-02-01T00:00:00Z", want: "adele"},
		{filter: "createdDateTime le 2024-02-01T01:00:00+01:00", want: "adele oscar"},
		{filter: "createdDateTime gt 2024-06-30T23:59:59.999999Z", want: "dup"},
		// string functions: null in, null out
		{filter: "startsWith(city, 'o')", want: "adele oscar"},
		{filter: "not startsWith(city, 'O')", want: "zoe hello inject"},
		{filter: "startsWith(city, null)", want: ""},
		{filter: "not startsWith(city, null)", want: ""},
		{filter: "endsWith(mail, '@CONTOSO.com')", want: "adele nocity hello inject dup"},
		{filter: "not endsWith(mail, '@contoso.com')", want: "zoe"},
		{filter: "endsWith(userPrincipalName, 'R@contoso.onmicrosoft.com')", want: "oscar"},
		// LIKE metacharacters are literal
		{filter: "startsWith(city, 'x%')", want: "inject"},
		{filter: "startsWith(city, 'x_')", want: ""},
		{filter: "startsWith(mail, 'under_')", want: "inject"},
		{filter: "startsWith(jobTitle, '50%')", want: "oscar"},
		{filter: "startsWith(jobTitle, '50%_off \\')", want: "oscar"},
		{filter: "startsWith(jobTitle, 'back\\')", want: "inject"},
		{filter: "endsWith(mail, '%')", want: ""},
		{filter: "endsWith(mail, '_score@contoso.com')", want: "inject"},
		// SQL-shaped values are values
		{filter: "displayName eq '''; DROP TABLE users; --'", want: "inject"},
		{filter: "mail eq 'x'' OR ''1''=''1'", want: ""},
		// in
		{filter: "city in ('oslo', 'BERGEN')", want: "adele oscar zoe"},
		{filter: "city in ('Bergen', null)", want: "zoe nocity dup"},
		{filter: "not (city in ('Bergen'))", want: but("zoe")},
		{filter: "userType in ('guest')", want: "zoe"},
		{filter: "userType ne 'Member'", want: "zoe nocity"},
		// Boolean property
		{filter: "accountEnabled eq true", want: "adele nocity hello inject dup"},
		{filter: "accountEnabled ne true", want: "oscar zoe"},
		{filter: "accountEnabled eq null", want: "zoe"},
		{filter: "accountEnabled", want: "adele nocity hello inject dup"},
		{filter: "not accountEnabled", want: "oscar"},
		{filter: "accountEnabled in (false, null)", want: "oscar zoe"},
		// and / or / not precedence and three-valued logic
		{filter: "city eq 'Oslo' or city eq 'Bergen' and accountEnabled eq true", want: "adele oscar"},
		{filter: "(city eq 'Oslo' or city eq 'Bergen') and accountEnabled eq true", want: "adele"},
		{filter: "not (city eq 'Oslo' and accountEnabled eq true)", want: but("adele")},
		{filter: "not (startsWith(city, 'O') or accountEnabled eq false)", want: "zoe hello inject"},
		// zoe: Bergen and null is null; nocity, dup: null and true is null.
		{filter: "not (startsWith(city, 'B') and accountEnabled)", want: "adele oscar hello inject"},
		{filter: "true", want: but()},
		{filter: "false or null", want: ""},
		// id
		{filter: "id eq '" + strings.ToUpper(f.ids["zoe"]) + "'", want: "zoe"},
		{filter: "id in ('" + f.ids["zoe"] + "', " + f.ids["oscar"] + ")", want: "oscar zoe"},
		{filter: "id ne '" + f.ids["zoe"] + "'", want: but("zoe")},
		// string collections
		{filter: "otherMails/any(m: m eq 'ADELE@home.example')", want: "adele"},
		{filter: "otherMails/any(m: startsWith(m, 'a.v'))", want: "adele"},
		{filter: "otherMails/any(m: endsWith(m, '@X.y'))", want: "hello"},
		{filter: "otherMails/any(m: contains(m, 'vance'))", want: "adele"},
		{filter: "otherMails/any(m: m in ('h2@x.y', 'zoe@B.C'))", want: "zoe hello"},
		{filter: "otherMails/any(m: m ne 'h@x.y')", want: "adele zoe hello"},
		{filter: "otherMails/any()", want: "adele zoe hello"},
		{filter: "not otherMails/any()", want: "oscar nocity inject dup"},
		{filter: "otherMails/$count eq 0", want: "oscar nocity inject dup"},
		{filter: "otherMails/$count ge 2", want: "adele hello"},
		{filter: "otherMails/all(m: endsWith(m, '@x.y'))", want: "oscar nocity hello inject dup"},
		{filter: "not otherMails/all(m: endsWith(m, '@x.y'))", want: "adele zoe"},
		{filter: "not otherMails/any(m: m eq 'zoe@b.c')", want: but("zoe")},
		{filter: "proxyAddresses/any(p: startsWith(p, 'smtp:adele'))", want: "adele"},
		{filter: "proxyAddresses/any(p: p eq 'smtp:adelev@contoso.com')", want: "adele"},
		{filter: "businessPhones/any(p: p eq '+1 425 555 0109')", want: "adele"},
		{filter: "businessPhones/any(p: startsWith(p, '+1 4'))", want: "adele"},
		{filter: "businessPhones/any(p: startsWith(p, '+1 5'))", want: ""},
		// identities
		{filter: "identities/any(i: i/issuerAssignedId eq 'ADELE@adatum.com' and i/issuer eq 'contoso.onmicrosoft.com')", want: "adele"},
		{filter: "identities/any(i: i/issuerAssignedId eq 'adele@adatum.com' and i/issuer eq 'facebook.com')", want: ""},
		{filter: "identities/any(x: x/issuerAssignedId eq 'zoe@b.c')", want: "zoe"},
		{filter: "identities/any(i: i/signInType eq 'federated')", want: "adele nocity"},
		{filter: "identities/any(i: i/issuer eq 'google.com' or i/issuer eq 'facebook.com')", want: "adele nocity"},
		{filter: "identities/any(i: startsWith(i/issuerAssignedId, 'OSC') and i/signInType in ('userName'))", want: "oscar"},
		{filter: "identities/any(i: startsWith(i/issuer, 'contoso.') and i/signInType eq 'emailAddress')", want: "adele zoe"},
		{filter: "not identities/any(i: i/signInType eq 'federated')", want: "oscar zoe hello inject dup"},
		{filter: "identities/all(i: i/signInType eq 'emailAddress')", want: "zoe hello inject dup"},
		{filter: "identities/$count eq 1", want: "hello inject dup"},
		{filter: "identities/$count eq 3", want: "adele"},
		{filter: "identities/any()", want: but()},
		{filter: "city eq 'Bergen' or identities/any(i: i/signInType eq 'federated')", want: "adele zoe nocity"},
		{filter: "not (city ne 'Bergen' and not identities/any(i: i/signInType eq 'federated'))", want: "adele zoe nocity"},
		{filter: "identities/any(i: i/issuer eq 'google.com') or otherMails/any(m: m eq 'h@x.y')", want: "nocity hello"},
		// $search
		{search: `"displayName:wa"`, want: "oscar"},
		{search: `"displayName:va"`, want: "adele dup"},
		{search: `"displayName:Ward Osc"`, want: "oscar"},
		{search: `"displayName:world"`, want: "hello"},
		{search: `"displayName:hellow"`, want: "hello"},
		{search: `"displayName:42"`, want: "hello"},
		{search: `"displayName:mcd"`, want: "hello"},
		{search: `"displayName:donald"`, want: "hello"},
		{search: `"displayName:Ång"`, want: "zoe"},
		{search: `"displayName:lee"`, want: "zoe"},
		{search: `"displayName:drop table"`, want: "inject"},
		{search: `"displayName:ance"`, want: ""},
		{search: `"displayName:50%"`, want: ""},
		{search: `"mail:GUTH"`, want: "hello"},
		{search: `"mobilePhone:+47"`, want: "hello"},
		{search: `"givenName:zo" OR "surname:ward"`, want: "oscar zoe"},
		{search: `"displayName:adele" AND NOT "mail:adelev"`, want: "dup"},
		{search: `NOT "displayName:adele"`, want: "oscar zoe nocity hello inject"},
		{search: `"displayName:adele"`, filter: "city eq 'Oslo'", want: "adele"},
	}
	for _, c := range cases {
		q := parse(t, c.filter, "", c.search)
		got := f.all(t, q, 999)
		slices.Sort(got)
		want := strings.Fields(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("$filter=%s $search=%s: got %v, want %v", c.filter, c.search, got, want)
			continue
		}
		n, err := f.s.CountUsers(context.Background(), f.tenant, q)
		if err != nil || n != int64(len(want)) {
			t.Errorf("$filter=%s $search=%s: CountUsers = %d, %v; want %d", c.filter, c.search, n, err, len(want))
		}
	}
}

func TestQuery_OrderAndKeysetPaging(t *testing.T) {
	t.Parallel()
	f := newQueryFixture(t)
	ordered := []struct{ filter, orderby, search string }{
		{orderby: "displayName"}, {orderby: "displayName desc"},
		{orderby: "city"}, {orderby: "city desc"},
		{orderby: "userPrincipalName desc"}, {orderby: "mail"}, {orderby: "givenName desc"}, {orderby: "surname"},
		{orderby: "createdDateTime desc"}, {orderby: "createdDateTime"},
		{orderby: "accountEnabled"}, {orderby: "accountEnabled desc"},
		{orderby: "city, displayName desc"}, {orderby: "city desc, accountEnabled, givenName desc"},
		{orderby: "accountEnabled desc, id"}, {orderby: "id desc"}, {orderby: ""},
		{filter: "city ne 'Oslo'", orderby: "city desc"},
		{filter: "not startsWith(displayName, 'z')", orderby: "displayName"},
		{filter: "accountEnabled", orderby: "mail desc, createdDateTime"},
		{search: `"displayName:adele" OR "displayName:o"`, orderby: "displayName desc"},
	}
	want := map[string][]string{
		"displayName":            append(append([]string{"nocity", "inject"}, f.byID("adele", "dup")...), "hello", "oscar", "zoe"),
		"city":                   append(append(f.byID("nocity", "dup"), "zoe"), append(f.byID("adele", "oscar"), "hello", "inject")...),
		"createdDateTime desc":   {"dup", "inject", "hello", "nocity", "zoe", "oscar", "adele"},
		"accountEnabled":         append([]string{"zoe", "oscar"}, f.byID("adele", "nocity", "hello", "inject", "dup")...),
		"city, displayName desc": append([]string{"dup", "nocity", "zoe", "oscar", "adele"}, "hello", "inject"),
	}
	for _, c := range ordered {
		q := parse(t, c.filter, c.orderby, c.search)
		full := f.all(t, q, 999)
		if w, ok := want[c.orderby]; ok && c.filter == "" {
			if !slices.Equal(full, w) {
				t.Errorf("$orderby=%s: got %v, want %v", c.orderby, full, w)
			}
			rev := slices.Clone(w)
			slices.Reverse(rev)
			if !strings.Contains(c.orderby, ",") && !strings.HasSuffix(c.orderby, "desc") {
				qd := parse(t, "", c.orderby+" desc", "")
				if got := f.all(t, qd, 999); !slices.Equal(got, rev) {
					t.Errorf("$orderby=%s desc: got %v, want %v", c.orderby, got, rev)
				}
			}
		}
		for _, top := range []int{1, 2, 3} {
			if got := f.all(t, q, top); !slices.Equal(got, full) {
				t.Errorf("$filter=%s $orderby=%s $search=%s top %d: pages give %v, one page %v", c.filter, c.orderby, c.search, top, got, full)
			}
		}
		// Skip on the first page, then keyset.
		qs := q
		qs.Skip = 2
		if got := f.all(t, qs, 2); !slices.Equal(got, full[min(2, len(full)):]) {
			t.Errorf("$orderby=%s $skip=2: got %v, want %v", c.orderby, got, full[min(2, len(full)):])
		}
	}
}

func TestQuery_Count(t *testing.T) {
	t.Parallel()
	f := newQueryFixture(t)
	ctx := context.Background()
	q := parse(t, "accountEnabled eq true", "displayName", "")
	q.Top, q.Count = 2, true
	for pages := 0; ; pages++ {
		page, err := f.s.ListUsers(ctx, f.tenant, q)
		if err != nil {
			t.Fatal(err)
		}
		if page.Count == nil || *page.Count != 5 {
			t.Fatalf("page %d: Count = %v, want 5", pages, page.Count)
		}
		if page.Next == nil {
			break
		}
		q.After = page.Next
	}
	// Past the end, and nothing matching.
	q = parse(t, "accountEnabled eq true", "", "")
	q.Top, q.Count, q.Skip = 2, true, 10
	page, err := f.s.ListUsers(ctx, f.tenant, q)
	if err != nil || len(page.Users) != 0 || page.Count == nil || *page.Count != 5 {
		t.Fatalf("skip past the end: %+v, %v", page, err)
	}
	q = parse(t, "city eq 'nowhere'", "", "")
	q.Count = true
	page, err = f.s.ListUsers(ctx, f.tenant, q)
	if err != nil || len(page.Users) != 0 || page.Count == nil || *page.Count != 0 {
		t.Fatalf("no match: %+v, %v", page, err)
	}
	// Without Count, no count.
	page, err = f.s.ListUsers(ctx, f.tenant, directory.ListQuery{})
	if err != nil || page.Count != nil || len(page.Users) != 7 {
		t.Fatalf("no count asked: %+v, %v", page, err)
	}
	n, err := f.s.CountUsers(ctx, f.tenant, directory.ListQuery{})
	if err != nil || n != 7 {
		t.Fatalf("CountUsers = %d, %v", n, err)
	}
}

func TestQuery_TenantIsolation(t *testing.T) {
	t.Parallel()
	f := newQueryFixture(t)
	ctx := context.Background()
	// The fixture's all() fails on any user not in the tenant; the foreign
	// look-alike matches each of these.
	for _, filter := range []string{"displayName eq 'Adele Vance'", "city eq 'Oslo'", "otherMails/any(m: m eq 'adele@home.example')",
		"identities/any(i: i/issuerAssignedId eq 'adele@adatum.com')", "true"} {
		f.all(t, parse(t, filter, "displayName", ""), 2)
	}
	page, err := f.s.ListUsers(ctx, uuid.NewString(), parse(t, "true", "", ""))
	if err != nil || len(page.Users) != 0 {
		t.Fatalf("unknown tenant: %+v, %v", page, err)
	}
}

func TestQuery_Errors(t *testing.T) {
	t.Parallel()
	f := newQueryFixture(t)
	ctx := context.Background()
	cases := []struct {
		filter, orderby, search string
		after                   *directory.Cursor
		kind                    directory.Kind
		target, msg             string
	}{
		{filter: "accountEnabled eq 'true'", kind: directory.KindUnsupported, target: "$filter", msg: "'accountEnabled' is of type Edm.Boolean"},
		{filter: "city eq 42", kind: directory.KindUnsupported, target: "$filter", msg: "'city' is of type Edm.String"},
		{filter: "createdDateTime ge '2024-01-01'", kind: directory.KindUnsupported, target: "$filter", msg: "Edm.DateTimeOffset"},
		{filter: "nope eq 'x'", kind: directory.KindUnsupported, target: "$filter", msg: "Property 'nope' does not exist as a declared property or extension property."},
		{filter: "passwordProfile eq null", kind: directory.KindUnsupported, target: "$filter", msg: "Unsupported or invalid query filter clause specified for property 'passwordProfile' of resource 'User'."},
		{filter: "city add 1 eq 2", kind: directory.KindUnsupported, target: "$filter", msg: "'add'"},
		{filter: "city has 'x'", kind: directory.KindUnsupported, target: "$filter", msg: "'has'"},
		{filter: "concat(city, 'x') eq 'y'", kind: directory.KindUnsupported, target: "$filter", msg: "'concat'"},
		{filter: "city", kind: directory.KindUnsupported, target: "$filter", msg: "must be Boolean"},
		{filter: "endsWith(city, 'o')", kind: directory.KindUnsupported, target: "$filter", msg: "'endsWith' is not supported for property 'city'"},
		{filter: "endsWith(displayName, 'o')", kind: directory.KindUnsupported, target: "$filter", msg: "'endsWith' is not supported for property 'displayName'"},
		{filter: "contains(displayName, 'vance')", kind: directory.KindUnsupported, target: "$filter", msg: "users support no contains"},
		{orderby: "jobTitle", kind: directory.KindUnsupported, target: "$orderby", msg: "Unsupported sort property 'jobTitle' for 'User'."},
		{filter: "city/all(c: c eq 'x')", kind: directory.KindUnsupported, target: "$filter", msg: "not a collection"},
		{filter: "identities/any(i: i/signInType eq 'userPrincipalName')", kind: directory.KindUnsupported, target: "$filter", msg: "filter on userPrincipalName instead"},
		{orderby: "otherMails", kind: directory.KindUnsupported, target: "$orderby", msg: "Unsupported sort property 'otherMails' for 'User'."},
		{orderby: "nope desc", kind: directory.KindUnsupported, target: "$orderby", msg: "Unsupported sort property 'nope' for 'User'."},
		{search: `"wa"`, kind: directory.KindUnsupported, target: "$search", msg: `"property:text"`},
		{search: `"nope:x"`, kind: directory.KindUnsupported, target: "$search", msg: "Property 'nope' does not exist"},
		{orderby: "displayName", after: &directory.Cursor{ID: uuid.NewString()}, kind: directory.KindInvalid, target: "$skiptoken"},
		{orderby: "createdDateTime", after: &directory.Cursor{Keys: []*string{ptr("'; DROP TABLE users; --")}, ID: uuid.NewString()}, kind: directory.KindInvalid, target: "$skiptoken"},
		{after: &directory.Cursor{ID: "x' OR 1=1 --"}, kind: directory.KindInvalid, target: "$skiptoken"},
	}
	for _, c := range cases {
		q := parse(t, c.filter, c.orderby, c.search)
		q.After = c.after
		_, err := f.s.ListUsers(ctx, f.tenant, q)
		t.Run(fmt.Sprintf("%s%s%s", c.filter, c.orderby, c.search), func(t *testing.T) {
			wantKind(t, err, c.kind, c.target)
			if !strings.Contains(directory.AsError(err).Message, c.msg) {
				t.Errorf("message %q does not contain %q", directory.AsError(err).Message, c.msg)
			}
		})
		if c.after == nil && c.orderby == "" { // CountUsers ignores OrderBy
			_, err = f.s.CountUsers(ctx, f.tenant, q)
			if directory.KindOf(err) != c.kind {
				t.Errorf("CountUsers(%s%s%s) = %v, want kind %v", c.filter, c.orderby, c.search, err, c.kind)
			}
		}
	}
	// A hostile cursor value on a string key is only a value.
	q := parse(t, "", "displayName", "")
	q.After = &directory.Cursor{Keys: []*string{ptr("'; DROP TABLE users; --")}, ID: f.ids["adele"]}
	if _, err := f.s.ListUsers(ctx, f.tenant, q); err != nil {
		t.Fatal(err)
	}
	if n, err := f.s.CountUsers(ctx, f.tenant, directory.ListQuery{}); err != nil || n != 7 {
		t.Fatalf("after hostile input: %d users, %v", n, err)
	}
}

// The Go tokeniser of search text and graphdir_search_text agree: every
// part Go makes of a name is one of the name's tokens in the database, so a
// user is found by searching for their own display name.
func TestQuery_SearchTokenisersAgree(t *testing.T) {
	t.Parallel()
	s := pgtestStore(t)
	for _, name := range []string{"Oscar Ward", "HelloWorld", "HELLOworld", "hello.world", "hello123world", "a1b2c3",
		"McDonald-O'Brien", "Zoë Ångström-Lee", "José  Álvarez\tRuiz", "user_name@contoso.com", "ÉCOLE École", "x", "42"} {
		var text string
		if err := s.DB().QueryRow(`SELECT graphdir_search_text($1)`, name).Scan(&text); err != nil {
			t.Fatal(err)
		}
		tokens := strings.Fields(text)
		for _, part := range postgres.SearchParts(name) {
			var lowered string
			if err := s.DB().QueryRow(`SELECT lower($1)`, part).Scan(&lowered); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(tokens, lowered) {
				t.Errorf("%q: Go part %q is not among the SQL tokens %q", name, part, tokens)
			}
		}
	}
}
