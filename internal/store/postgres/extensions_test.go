package postgres_test

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// extApp creates an application in tenant tid and returns it.
func extApp(t *testing.T, s *postgres.Store, tid string) *directory.Application {
	t.Helper()
	a := &directory.Application{TenantID: tid, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "ext app",
		Permissions: []string{}, PasswordCredentials: []directory.PasswordCredential{}}
	if err := s.CreateApplication(context.Background(), a, nil); err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
	return a
}

func extDef(t *testing.T, s *postgres.Store, a *directory.Application, name, typ string, multi bool) *directory.ExtensionProperty {
	t.Helper()
	d := &directory.ExtensionProperty{TenantID: a.TenantID, ID: uuid.NewString(), ApplicationID: a.ID, AppID: a.AppID,
		Name: directory.ExtensionName(a.AppID, name), DataType: typ, IsMultiValued: multi, TargetObjects: []string{"User"}}
	if err := s.CreateExtensionProperty(context.Background(), d); err != nil {
		t.Fatalf("CreateExtensionProperty(%s): %v", name, err)
	}
	d.AppDisplayName = a.DisplayName
	return d
}

// extFixture is a tenant with one definition of each type and n users
// whose values follow fixed rules (see value).
type extFixture struct {
	s                                  *postgres.Store
	tenant                             *directory.Tenant
	tier, score, big, vip, since, tags *directory.ExtensionProperty
	users                              []*directory.User // index i has the values of rule i
	defs                               map[string]*directory.ExtensionProperty
	base                               time.Time
}

func (f *extFixture) query(t *testing.T, filter, orderby string) directory.ListQuery {
	t.Helper()
	q := parse(t, filter, orderby, "")
	q.Extensions = f.defs
	return q
}

// Rules: tier "Tier{i%7}" (null when i%5==0); score i*3-200 (null when
// i%4==0); big 2^40+i; vip i%2==0 (null when i%3==0); since base+i hours
// (null when i%6==0); tags ["a{i%3}", "common"] for even i, none for odd.
func (f *extFixture) tierOf(i int) *string {
	if i%5 == 0 {
		return nil
	}
	return ptr(fmt.Sprintf("Tier%d", i%7))
}
func (f *extFixture) scoreOf(i int) *int64 {
	if i%4 == 0 {
		return nil
	}
	return ptr(int64(i*3 - 200))
}
func (f *extFixture) vipOf(i int) *bool {
	if i%3 == 0 {
		return nil
	}
	return ptr(i%2 == 0)
}
func (f *extFixture) sinceOf(i int) *time.Time {
	if i%6 == 0 {
		return nil
	}
	return ptr(f.base.Add(time.Duration(i) * time.Hour))
}
func (f *extFixture) tagsOf(i int) []string {
	if i%2 == 1 {
		return nil
	}
	return []string{fmt.Sprintf("a%d", i%3), "common"}
}

func newExtFixture(t *testing.T, n int) *extFixture {
	t.Helper()
	s, tn := newTenant(t)
	a := extApp(t, s, tn.ID)
	f := &extFixture{s: s, tenant: tn, base: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	f.tier = extDef(t, s, a, "tier", directory.ExtensionString, false)
	f.score = extDef(t, s, a, "score", directory.ExtensionInteger, false)
	f.big = extDef(t, s, a, "big", directory.ExtensionLargeInteger, false)
	f.vip = extDef(t, s, a, "vip", directory.ExtensionBoolean, false)
	f.since = extDef(t, s, a, "since", directory.ExtensionDateTime, false)
	f.tags = extDef(t, s, a, "tags", directory.ExtensionString, true)
	f.defs = map[string]*directory.ExtensionProperty{}
	for _, d := range []*directory.ExtensionProperty{f.tier, f.score, f.big, f.vip, f.since, f.tags} {
		f.defs[strings.ToLower(d.Name)] = d
	}
	for i := 0; i < n; i++ {
		u := newUser(tn.ID, fmt.Sprintf("u%03d@contoso.onmicrosoft.com", i))
		u.Extensions = []directory.ExtensionValue{
			{Def: f.tier, Text: f.tierOf(i)},
			{Def: f.score, Num: f.scoreOf(i)},
			{Def: f.big, Num: ptr(int64(1)<<40 + int64(i))},
			{Def: f.vip, Bool: f.vipOf(i)},
			{Def: f.since, Time: f.sinceOf(i)},
			{Def: f.tags, Texts: f.tagsOf(i)},
		}
		mustCreate(t, s, u)
		f.users = append(f.users, u)
	}
	return f
}

func (f *extFixture) index(t *testing.T, id string) int {
	for i, u := range f.users {
		if u.ID == id {
			return i
		}
	}
	t.Fatalf("unknown user %s", id)
	return -1
}

// listAll pages through q with page size top and returns the indexes of
// the users in order, failing on a repeat.
func (f *extFixture) listAll(t *testing.T, q directory.ListQuery, top int) []int {
	t.Helper()
	q.Top = top
	var out []int
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		page, err := f.s.ListUsers(context.Background(), f.tenant.ID, q)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		for _, u := range page.Users {
			if seen[u.ID] {
				t.Fatalf("user %s returned twice", u.ID)
			}
			seen[u.ID] = true
			out = append(out, f.index(t, u.ID))
		}
		if page.Next == nil {
			return out
		}
		q.After = page.Next
	}
}

func TestExtensions_ValuesRoundTrip(t *testing.T) {
	t.Parallel()
	f := newExtFixture(t, 12)
	ctx := context.Background()
	s, tid := f.s, f.tenant.ID
	all := []*directory.ExtensionProperty{f.tier, f.score, f.big, f.vip, f.since, f.tags}
	ids := []string{f.users[1].ID, f.users[2].ID, f.users[5].ID}
	vals, err := s.ExtensionValues(ctx, tid, ids, all)
	if err != nil {
		t.Fatal(err)
	}
	got := func(i int, d *directory.ExtensionProperty) *directory.ExtensionValue {
		for _, v := range vals[f.users[i].ID] {
			if v.Def.ID == d.ID {
				return &v
			}
		}
		return nil
	}
	if v := got(2, f.tier); v == nil || *v.Text != "Tier2" {
		t.Errorf("tier of user 2 = %+v", v)
	}
	if v := got(2, f.tags); v == nil || !slices.Equal(v.Texts, []string{"a2", "common"}) {
		t.Errorf("tags of user 2 = %+v", v)
	}
	if v := got(1, f.score); v == nil || *v.Num != -197 {
		t.Errorf("score of user 1 = %+v", v)
	}
	if v := got(2, f.big); v == nil || *v.Num != 1<<40+2 {
		t.Errorf("big of user 2 = %+v", v)
	}
	if v := got(1, f.vip); v == nil || *v.Bool != false {
		t.Errorf("vip of user 1 = %+v", v)
	}
	if v := got(1, f.since); v == nil || !v.Time.Equal(f.base.Add(time.Hour)) {
		t.Errorf("since of user 1 = %+v", v)
	}
	if v := got(5, f.tier); v != nil {
		t.Errorf("tier of user 5 = %+v, want none", v)
	}
	if v := got(1, f.tags); v != nil {
		t.Errorf("tags of user 1 = %+v, want none", v)
	}

	// PATCH: replace, null removes, multi-valued replaced wholesale.
	u := f.users[2]
	if _, err := s.UpdateUser(ctx, tid, directory.UserKey{ID: u.ID}, directory.UserPatch{Extensions: []directory.ExtensionValue{
		{Def: f.tier}, {Def: f.score, Num: ptr(int64(7))}, {Def: f.tags, Texts: []string{"z"}},
	}}); err != nil {
		t.Fatal(err)
	}
	vals, err = s.ExtensionValues(ctx, tid, []string{u.ID}, all)
	if err != nil {
		t.Fatal(err)
	}
	if v := got(2, f.tier); v != nil {
		t.Errorf("tier after null = %+v", v)
	}
	if v := got(2, f.score); v == nil || *v.Num != 7 {
		t.Errorf("score after patch = %+v", v)
	}
	if v := got(2, f.tags); v == nil || !slices.Equal(v.Texts, []string{"z"}) {
		t.Errorf("tags after patch = %+v", v)
	}

	// Definitions: by name ignoring case, per tenant, unique.
	defs, err := s.ExtensionPropertiesByName(ctx, tid, []string{strings.ToUpper(f.tier.Name), "extension_nope_x"})
	if err != nil || len(defs) != 1 || defs[0].ID != f.tier.ID || defs[0].AppDisplayName != "ext app" {
		t.Fatalf("ExtensionPropertiesByName = %+v, %v", defs, err)
	}
	dup := *f.tier
	dup.ID = uuid.NewString()
	dup.Name = strings.ToUpper(dup.Name)
	if err := s.CreateExtensionProperty(ctx, &dup); directory.KindOf(err) != directory.KindConflict {
		t.Fatalf("duplicate definition: %v, want conflict", err)
	}
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	if defs, err := s.ExtensionPropertiesByName(ctx, other.ID, []string{f.tier.Name}); err != nil || len(defs) != 0 {
		t.Fatalf("tenant B sees A's definitions: %+v, %v", defs, err)
	}
	if _, err := s.GetExtensionProperty(ctx, other.ID, f.tier.ApplicationID, f.tier.ID); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("tenant B gets A's definition: %v", err)
	}
	if err := s.DeleteExtensionProperty(ctx, other.ID, f.tier.ApplicationID, f.tier.ID); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("tenant B deletes A's definition: %v", err)
	}
	list, err := s.ListExtensionProperties(ctx, tid, f.tier.ApplicationID)
	if err != nil || len(list) != 6 {
		t.Fatalf("ListExtensionProperties = %d, %v", len(list), err)
	}

	// Deleting a definition deletes its values.
	if err := s.DeleteExtensionProperty(ctx, tid, f.tags.ApplicationID, f.tags.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.DB().Get(&n, `SELECT count(*) FROM user_extension_values WHERE ext_id = $1`, f.tags.ID); err != nil || n != 0 {
		t.Fatalf("values of a deleted definition: %d, %v", n, err)
	}
	if err := s.DeleteExtensionProperty(ctx, tid, f.tags.ApplicationID, f.tags.ID); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("second delete: %v", err)
	}
	// A stale definition (deleted meanwhile) cannot be written.
	_, err = s.UpdateUser(ctx, tid, directory.UserKey{ID: u.ID}, directory.UserPatch{Extensions: []directory.ExtensionValue{{Def: f.tags, Texts: []string{"x"}}}})
	if directory.KindOf(err) != directory.KindInvalid {
		t.Fatalf("write of a deleted definition: %v, want invalid", err)
	}
}

func TestExtensions_ValueLimit(t *testing.T) {
	t.Parallel()
	s, tn := newTenant(t)
	ctx := context.Background()
	a := extApp(t, s, tn.ID)
	many := extDef(t, s, a, "many", directory.ExtensionString, true)
	one := extDef(t, s, a, "one", directory.ExtensionInteger, false)
	hundred := make([]string, directory.MaxExtensionValuesPerUser)
	for i := range hundred {
		hundred[i] = fmt.Sprint("v", i)
	}
	u := newUser(tn.ID, "lim@contoso.onmicrosoft.com")
	u.Extensions = []directory.ExtensionValue{{Def: many, Texts: hundred}}
	mustCreate(t, s, u)
	_, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Extensions: []directory.ExtensionValue{{Def: one, Num: ptr(int64(1))}}})
	if directory.KindOf(err) != directory.KindInvalid || !strings.Contains(err.Error(), "at most 100") {
		t.Fatalf("101st value: %v, want 400", err)
	}
	// Removing one makes room, in the same patch.
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Extensions: []directory.ExtensionValue{
		{Def: many, Texts: hundred[:99]}, {Def: one, Num: ptr(int64(1))}}}); err != nil {
		t.Fatal(err)
	}
	u2 := newUser(tn.ID, "lim2@contoso.onmicrosoft.com")
	u2.Extensions = []directory.ExtensionValue{{Def: many, Texts: hundred}, {Def: one, Num: ptr(int64(1))}}
	if err := s.CreateUser(ctx, u2, nil); directory.KindOf(err) != directory.KindInvalid {
		t.Fatalf("create with 101 values: %v, want 400", err)
	}
}

func TestExtensions_FilterAndOrder(t *testing.T) {
	t.Parallel()
	const n = 90
	f := newExtFixture(t, n)
	tierName, scoreName, bigName, vipName, sinceName, tagsName := f.tier.Name, f.score.Name, f.big.Name, f.vip.Name, f.since.Name, f.tags.Name
	ts := func(h int) string { return f.base.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	eqS := func(p *string, v string) bool { return p != nil && strings.EqualFold(*p, v) }
	cases := []struct {
		filter string
		want   func(i int) bool
	}{
		{tierName + " eq 'tier3'", func(i int) bool { return eqS(f.tierOf(i), "Tier3") }},
		{strings.ToUpper(tierName) + " eq 'Tier3'", func(i int) bool { return eqS(f.tierOf(i), "Tier3") }},
		{tierName + " ne 'Tier3'", func(i int) bool { return !eqS(f.tierOf(i), "Tier3") }},
		{"not (" + tierName + " eq 'Tier3')", func(i int) bool { return !eqS(f.tierOf(i), "Tier3") }},
		{tierName + " in ('Tier1', 'tier2')", func(i int) bool { return eqS(f.tierOf(i), "Tier1") || eqS(f.tierOf(i), "Tier2") }},
		{tierName + " in ('Tier1', null)", func(i int) bool { return eqS(f.tierOf(i), "Tier1") || f.tierOf(i) == nil }},
		{tierName + " eq null", func(i int) bool { return f.tierOf(i) == nil }},
		{tierName + " ne null", func(i int) bool { return f.tierOf(i) != nil }},
		{"startsWith(" + tierName + ", 'TIER')", func(i int) bool { return f.tierOf(i) != nil }},
		{"not startsWith(" + tierName + ", 'Tier1')", func(i int) bool { return f.tierOf(i) != nil && !eqS(f.tierOf(i), "Tier1") }},
		{tierName + " ge 'Tier5'", func(i int) bool { return f.tierOf(i) != nil && *f.tierOf(i) >= "Tier5" }},
		{tierName + " eq 'Tier1' or displayName eq 'User u004@contoso.onmicrosoft.com'", func(i int) bool { return eqS(f.tierOf(i), "Tier1") || i == 4 }},
		{scoreName + " gt 0", func(i int) bool { return f.scoreOf(i) != nil && *f.scoreOf(i) > 0 }},
		{scoreName + " le -100", func(i int) bool { return f.scoreOf(i) != nil && *f.scoreOf(i) <= -100 }},
		{scoreName + " eq -197", func(i int) bool { return i == 1 }},
		{scoreName + " in (-197, -194, null)", func(i int) bool { return i == 1 || i == 2 || f.scoreOf(i) == nil }},
		{scoreName + " ge -150 and " + scoreName + " lt -100", func(i int) bool {
			s := f.scoreOf(i)
			return s != nil && *s >= -150 && *s < -100
		}},
		{"not (" + scoreName + " gt 0)", func(i int) bool { return f.scoreOf(i) == nil || *f.scoreOf(i) <= 0 }},
		{bigName + " gt 1099511627806", func(i int) bool { return i > 30 }},
		{vipName + " eq true", func(i int) bool { return f.vipOf(i) != nil && *f.vipOf(i) }},
		{vipName + " ne true", func(i int) bool { return f.vipOf(i) == nil || !*f.vipOf(i) }},
		{vipName + " eq null", func(i int) bool { return f.vipOf(i) == nil }},
		{sinceName + " ge " + ts(40), func(i int) bool { return f.sinceOf(i) != nil && i >= 40 }},
		{sinceName + " lt " + ts(10) + " or " + sinceName + " eq null", func(i int) bool { return i < 10 || f.sinceOf(i) == nil }},
		{sinceName + " eq " + ts(7), func(i int) bool { return i == 7 }},
		{tagsName + "/any(t: t eq 'A1')", func(i int) bool { return i%2 == 0 && i%3 == 1 }},
		{tagsName + "/any(t: t in ('a1', 'a2'))", func(i int) bool { return i%2 == 0 && i%3 != 0 }},
		{tagsName + "/any(t: startsWith(t, 'comm'))", func(i int) bool { return i%2 == 0 }},
		{tagsName + "/any()", func(i int) bool { return i%2 == 0 }},
		{"not " + tagsName + "/any()", func(i int) bool { return i%2 == 1 }},
		{tagsName + "/all(t: t ne 'a0')", func(i int) bool { return i%2 == 1 || i%3 != 0 }},
		{tagsName + "/any(t: t eq 'a0') and " + scoreName + " gt 0", func(i int) bool {
			return i%6 == 0 && f.scoreOf(i) != nil && *f.scoreOf(i) > 0
		}},
	}
	for _, c := range cases {
		q := f.query(t, c.filter, "")
		got := f.listAll(t, q, 999)
		slices.Sort(got)
		var want []int
		for i := 0; i < n; i++ {
			if c.want(i) {
				want = append(want, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", c.filter, got, want)
		}
		cnt, err := f.s.CountUsers(context.Background(), f.tenant.ID, q)
		if err != nil || cnt != int64(len(want)) {
			t.Errorf("count %s = %d, %v; want %d", c.filter, cnt, err, len(want))
		}
	}

	// Refusals: type errors, unknown names, collections used as scalars.
	for _, bad := range []string{
		tierName + " eq 3", scoreName + " eq 'x'", vipName + " gt true", "startsWith(" + scoreName + ", '1')",
		tagsName + " eq 'a1'", tierName + "/any(t: t eq 'x')", "extension_0000_nope eq 'x'", sinceName + " eq 'x'",
	} {
		_, err := f.s.ListUsers(context.Background(), f.tenant.ID, f.query(t, bad, ""))
		if k := directory.KindOf(err); k != directory.KindUnsupported {
			t.Errorf("%s: %v, want KindUnsupported", bad, err)
		}
	}
	if _, err := f.s.ListUsers(context.Background(), f.tenant.ID, f.query(t, "", tagsName)); directory.KindOf(err) != directory.KindUnsupported {
		t.Errorf("orderby multi-valued: %v", err)
	}

	// $orderby, paged 7 at a time: every user exactly once, in order.
	type keyed struct {
		i    int
		null bool
		key  string // comparable form
		id   string
	}
	order := func(name string, keyOf func(i int) (bool, string), desc bool) {
		t.Helper()
		dir := ""
		if desc {
			dir = " desc"
		}
		got := f.listAll(t, f.query(t, "", name+dir), 7)
		var want []keyed
		for i := 0; i < n; i++ {
			null, k := keyOf(i)
			want = append(want, keyed{i, null, k, f.users[i].ID})
		}
		slices.SortFunc(want, func(a, b keyed) int {
			c := 0
			switch {
			case a.null != b.null:
				c = -1
				if !a.null {
					c = 1
				}
			default:
				c = cmp.Or(strings.Compare(a.key, b.key), strings.Compare(a.id, b.id))
			}
			if desc {
				c = -c
			}
			return c
		})
		wantIdx := make([]int, len(want))
		for j, w := range want {
			wantIdx[j] = w.i
		}
		if !slices.Equal(got, wantIdx) {
			t.Errorf("$orderby=%s%s:\n got %v\nwant %v", name, dir, got, wantIdx)
		}
	}
	for _, desc := range []bool{false, true} {
		order(tierName, func(i int) (bool, string) {
			if p := f.tierOf(i); p != nil {
				return false, strings.ToLower(*p)
			}
			return true, ""
		}, desc)
		order(scoreName, func(i int) (bool, string) {
			if p := f.scoreOf(i); p != nil {
				return false, fmt.Sprintf("%08d", *p+1000) // non-negative, fixed width
			}
			return true, ""
		}, desc)
		order(vipName, func(i int) (bool, string) {
			if p := f.vipOf(i); p != nil {
				return false, fmt.Sprint(*p)
			}
			return true, ""
		}, desc)
		order(sinceName, func(i int) (bool, string) {
			if p := f.sinceOf(i); p != nil {
				return false, p.Format(time.RFC3339)
			}
			return true, ""
		}, desc)
	}
	// With a filter and a second key.
	got := f.listAll(t, f.query(t, scoreName+" gt 0", tierName+" desc,displayName"), 5)
	cnt := 0
	for i := 0; i < n; i++ {
		if s := f.scoreOf(i); s != nil && *s > 0 {
			cnt++
		}
	}
	if len(got) != cnt {
		t.Errorf("filtered and ordered: %d users, want %d", len(got), cnt)
	}
}
