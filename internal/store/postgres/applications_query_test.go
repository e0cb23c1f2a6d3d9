package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// TestApplications_Query checks each supported option of the applications
// listing against real rows: what matches, in which order, the count, and
// keyset pages that neither skip nor repeat a row.
func TestApplications_Query(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid, other := appTenant(t, st), appTenant(t, st)
	names := []string{"Payroll Sync", "payroll export", "HR Portal", "Contoso Sync Job", "Zeta", "alpha"}
	byName := map[string]*directory.Application{}
	for _, n := range names {
		a := &directory.Application{TenantID: tid, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: n}
		if err := st.CreateApplication(ctx, a, nil); err != nil {
			t.Fatal(err)
		}
		byName[n] = a
	}
	// Another tenant's application of the same name never shows.
	if err := st.CreateApplication(ctx, &directory.Application{TenantID: other, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "Payroll Sync"}, nil); err != nil {
		t.Fatal(err)
	}
	list := func(q directory.ListQuery) []string {
		t.Helper()
		if q.Top == 0 {
			q.Top = 100
		}
		var out []string
		for {
			page, next, err := st.ListApplications(ctx, tid, q)
			if err != nil {
				t.Fatalf("ListApplications: %v", err)
			}
			for _, a := range page {
				out = append(out, a.DisplayName)
			}
			if next == nil {
				return out
			}
			q.After = next
		}
	}
	payroll, hr := byName["Payroll Sync"], byName["HR Portal"]
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	for _, c := range []struct {
		filter, orderby, search string
		want                    []string
		ordered                 bool
	}{
		{filter: "displayName eq 'payroll sync'", want: []string{"Payroll Sync"}},
		{filter: "startsWith(displayName, 'PAY')", want: sorted("Payroll Sync", "payroll export")},
		{filter: "appId eq '" + payroll.AppID + "'", want: []string{"Payroll Sync"}},
		{filter: "id eq '" + hr.ID + "'", want: []string{"HR Portal"}},
		{filter: "id eq 'not-a-guid'", want: nil},
		{filter: "id in ('" + hr.ID + "', '" + payroll.ID + "')", want: sorted("HR Portal", "Payroll Sync")},
		{filter: "displayName in ('zeta', 'Alpha')", want: sorted("Zeta", "alpha")},
		{filter: "displayName ne 'Zeta' and not startsWith(displayName, 'pay')", want: sorted("HR Portal", "Contoso Sync Job", "alpha")},
		{filter: "displayName eq 'Zeta' or appId eq '" + hr.AppID + "'", want: sorted("HR Portal", "Zeta")},
		{orderby: "displayName", ordered: true, want: []string{"alpha", "Contoso Sync Job", "HR Portal", "payroll export", "Payroll Sync", "Zeta"}},
		{orderby: "displayName desc", ordered: true, want: []string{"Zeta", "Payroll Sync", "payroll export", "HR Portal", "Contoso Sync Job", "alpha"}},
		{search: `"displayName:sync"`, want: sorted("Payroll Sync", "Contoso Sync Job")},
		{search: `"displayName:con"`, orderby: "displayName", ordered: true, want: []string{"Contoso Sync Job"}},
		{search: `"displayName:yroll"`, want: nil}, // words begin with the term
		{search: `"displayName:zeta" OR "displayName:portal"`, want: sorted("HR Portal", "Zeta")},
	} {
		name := fmt.Sprintf("filter=%s orderby=%s search=%s", c.filter, c.orderby, c.search)
		q := parse(t, c.filter, c.orderby, c.search)
		for _, top := range []int{1, 2, 100} {
			q.Top = top
			got := list(q)
			if !c.ordered {
				slices.Sort(got)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%s $top=%d: got %q, want %q", name, top, got, c.want)
			}
		}
		n, err := st.CountApplications(ctx, tid, q)
		if err != nil || n != int64(len(c.want)) {
			t.Errorf("%s: count %d, %v; want %d", name, n, err, len(c.want))
		}
	}
	for _, c := range []struct{ filter, orderby, search, names string }{
		{filter: "createdDateTime ge 2024-01-01T00:00:00Z", names: "createdDateTime"},
		{filter: "startsWith(appId, 'a')", names: "appId"},
		{filter: "displayName gt 'a'", names: "displayName"},
		{filter: "endsWith(displayName, 'a')", names: "endsWith"},
		{orderby: "appId", names: "appId"},
		{orderby: "displayName, id", names: "more than one"},
		{search: `"signInAudience:x"`, names: "signInAudience"},
		{search: "sync", names: "property:value"},
	} {
		q := parse(t, c.filter, c.orderby, c.search)
		q.Top = 10
		_, _, err := st.ListApplications(ctx, tid, q)
		var de *directory.Error
		if !errors.As(err, &de) || de.Kind != directory.KindUnsupported || !strings.Contains(de.Message, c.names) {
			t.Errorf("%+v: %v, want KindUnsupported naming %q", c, err, c.names)
		}
	}
}

// TestApplications_ExplainUsesIndexes runs EXPLAIN on the statements
// ListApplications and CountApplications send for every supported shape
// ($filter eq/in/startsWith, $orderby with a keyset page, $search) on a
// table of 20,000 applications (one tenant) plus 2,000 of another, after
// ANALYZE, and fails on a sequential scan of applications. Exempt, as for
// users: ne and not, which select most rows by nature.
func TestApplications_ExplainUsesIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	db := s.DB()
	for _, seed := range []struct {
		tenant string
		n      int
	}{{tn.ID, 20000}, {other.ID, 2000}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO applications (tenant_id, id, app_id, display_name)
			SELECT $1::uuid, md5($1::text || g)::uuid, md5('app' || $1::text || g)::uuid, 'App ' || g || ' Sync ' || (g * 7 % 10007)
			FROM generate_series(1, $2::int) AS g`, seed.tenant, seed.n); err != nil {
			t.Fatalf("seed applications: %v", err)
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE applications; ANALYZE application_roles"); err != nil {
		t.Fatal(err)
	}
	var appID, id string
	if err := db.QueryRowContext(ctx, `SELECT app_id, id FROM applications WHERE tenant_id = $1 LIMIT 1`, tn.ID).Scan(&appID, &id); err != nil {
		t.Fatal(err)
	}
	checks := []struct{ filter, orderby, search string }{
		{filter: "displayName eq 'App 1234 Sync 2631'"},
		{filter: "displayName in ('App 1 Sync 7', 'App 2 Sync 14')"},
		{filter: "startsWith(displayName, 'App 123')"},
		{filter: "appId eq '" + appID + "'"},
		{filter: "appId in ('" + appID + "', '" + uuid.NewString() + "')"},
		{filter: "id eq '" + id + "'"},
		{filter: "displayName eq 'App 1 Sync 7' or appId eq '" + appID + "'"},
		{orderby: "displayName"},
		{orderby: "displayName desc"},
		{filter: "startsWith(displayName, 'App 12')", orderby: "displayName"},
		{search: `"displayName:app12"`},
		{search: `"displayName:1234"`},
		{},
	}
	explained := 0
	for _, c := range checks {
		name := fmt.Sprintf("$filter=%s $orderby=%s $search=%s", c.filter, c.orderby, c.search)
		q := parse(t, c.filter, c.orderby, c.search)
		q.Top = 100
		sql, args, err := postgres.ApplicationListSQL(tn.ID, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explainWithout(t, db, name, sql, args, "applications")
		explained++
		if c.filter == "" && c.search == "" {
			continue // an unfiltered count reads every row of the tenant by nature
		}
		sql, args, err = postgres.ApplicationCountSQL(tn.ID, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explainWithout(t, db, "count "+name, sql, args, "applications")
		explained++
	}
	for _, orderby := range []string{"displayName", "displayName desc", ""} {
		q := parse(t, "", orderby, "")
		q.Top = 100
		q.After = &directory.Cursor{ID: uuid.NewString()}
		if orderby != "" {
			q.After.Keys = []*string{ptr("app 5000 sync 4979")}
		}
		sql, args, err := postgres.ApplicationListSQL(tn.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		explainWithout(t, db, "keyset page $orderby="+orderby, sql, args, "applications")
		explained++
	}
	t.Logf("%d statements explained without a sequential scan of applications", explained)
}
