package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
	"github.com/graphdir/graphdir/pkg/odata"
)

func TestPreparedList_OnlyValueIndependentShapes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter, orderby, search string
		count                   bool
		skip                    int
		want                    bool
	}{
		{want: true},
		{orderby: "displayName desc", want: true},
		{filter: "id eq '0b7ad7a2-4e44-4d67-a7a8-1de1b9f4c4a6'", want: true},
		{filter: "userPrincipalName eq 'a@b.c'", want: true},
		{filter: "'a@b.c' eq UserPrincipalName", want: true},
		{filter: "identities/any(i:i/issuerAssignedId eq 'a@b.c' and i/issuer eq 'x.com')", want: true},
		{filter: "identities/any(x:x/Issuer eq 'x.com' and x/issuerAssignedId eq 'a@b.c')", want: true},
		{filter: "identities/any(i:i/issuerAssignedId eq 'a@b.c')"},
		{filter: "identities/any(i:i/signInType eq 'emailAddress' and i/issuer eq 'x.com')"},
		{filter: "identities/all(i:i/issuerAssignedId eq 'a@b.c' and i/issuer eq 'x.com')"},
		{filter: "city eq 'Oslo'"},
		{filter: "startsWith(displayName,'a')", orderby: "displayName"},
		{filter: "userPrincipalName eq 'a@b.c' or city eq 'Oslo'"},
		{filter: "userPrincipalName ne 'a@b.c'"},
		{search: `"displayName:ann"`},
		{count: true},
		{skip: 10},
	} {
		q := directory.ListQuery{Count: tc.count, Skip: tc.skip}
		var err error
		if tc.filter != "" {
			if q.Filter, err = odata.ParseFilter(tc.filter); err != nil {
				t.Fatal(err)
			}
		}
		if tc.orderby != "" {
			if q.OrderBy, err = odata.ParseOrderBy(tc.orderby); err != nil {
				t.Fatal(err)
			}
		}
		if tc.search != "" {
			if q.Search, err = odata.ParseSearch(tc.search); err != nil {
				t.Fatal(err)
			}
		}
		if got := postgres.PreparedListForTest(q); got != tc.want {
			t.Errorf("preparedList(filter %q, orderby %q, search %q, count %v, skip %d) = %v, want %v",
				tc.filter, tc.orderby, tc.search, tc.count, tc.skip, got, tc.want)
		}
	}
}

// openStore opens a store of its own on a fresh database, so that the
// test may alter the schema and kill the pool's connections.
func openStore(t *testing.T) (*postgres.Store, *sql.DB) {
	t.Helper()
	u := pgtest.NewURL(t)
	s, err := postgres.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	admin, err := sql.Open("postgres", u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	return s, admin
}

// TestPreparedStatements runs every prepared path enough times to go
// through its unprepared first run, its prepared runs and PostgreSQL's
// switch to a generic plan (after five), and checks that each run answers
// what the first did, also across a plan-invalidating index, ANALYZE, a
// column type change and the server terminating the pool's connections.
func TestPreparedStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, admin := openStore(t)
	tn := mustTenant(t, s, "prep.onmicrosoft.com")
	var users []*directory.User
	for i := range 8 {
		u := newUser(tn.ID, fmt.Sprintf("user%d@prep.onmicrosoft.com", i),
			directory.Identity{SignInType: "emailAddress", Issuer: "prep.onmicrosoft.com", IssuerAssignedID: fmt.Sprintf("user%d@example.com", i)})
		u.City = ptr("Oslo")
		mustCreate(t, s, u)
		users = append(users, u)
	}
	filter := func(f string) odata.Expr {
		e, err := odata.ParseFilter(f)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	u0 := users[0]
	lists := map[string]directory.ListQuery{
		"all":      {Top: 3},
		"by id":    {Filter: filter("id eq '" + u0.ID + "'")},
		"by upn":   {Filter: filter("userPrincipalName eq 'USER0@prep.onmicrosoft.com'")},
		"by email": {Filter: filter("identities/any(i:i/issuerAssignedId eq 'user0@example.com' and i/issuer eq 'prep.onmicrosoft.com')")},
	}
	// snapshot reads everything the prepared paths answer.
	snapshot := func() map[string]any {
		t.Helper()
		out := map[string]any{}
		for _, u := range users {
			for _, key := range []directory.UserKey{{ID: u.ID}, {UPN: *u.UserPrincipalName}} {
				got, err := s.GetUser(ctx, tn.ID, key)
				if err != nil {
					t.Fatalf("GetUser(%v): %v", key, err)
				}
				out["get "+key.String()] = got
			}
		}
		for name, q := range lists {
			page, err := s.ListUsers(ctx, tn.ID, q)
			if err != nil {
				t.Fatalf("ListUsers(%s): %v", name, err)
			}
			out["list "+name] = page
		}
		id, err := s.UserIDBySignInName(ctx, tn.ID, "USER1@example.com")
		if err != nil {
			t.Fatalf("UserIDBySignInName: %v", err)
		}
		out["signin"] = id
		return out
	}
	want := snapshot()
	if len(want["list by email"].(*directory.Page).Users) != 1 || want["signin"] != users[1].ID {
		t.Fatalf("lookups found %v and %v", want["list by email"], want["signin"])
	}
	same := func(when string) {
		t.Helper()
		for i := range 7 {
			if got := snapshot(); !reflect.DeepEqual(got, want) {
				for k := range want {
					if !reflect.DeepEqual(got[k], want[k]) {
						t.Errorf("%s, run %d: %s = %+v, want %+v", when, i+2, k, got[k], want[k])
					}
				}
				t.FailNow()
			}
		}
	}
	same("prepared")
	if n := postgres.PreparedCountForTest(s); n < 6 {
		t.Fatalf("%d statements prepared, want the reads' (at least 6)", n)
	}

	// Writes, each shape several times: created, patched, deleted users
	// read back equal to what the unprepared first run returned.
	patch := func(u *directory.User, i int) {
		t.Helper()
		got, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Values: map[string]any{
			"jobTitle": ptr(fmt.Sprintf("Engineer %d", i)), "officeLocation": ptr("B1"),
			"identities": []directory.Identity{{SignInType: "emailAddress", Issuer: "prep.onmicrosoft.com", IssuerAssignedID: fmt.Sprintf("p%d@example.com", i)}},
		}})
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		read, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: u.ID})
		if err != nil {
			t.Fatal(err)
		}
		if *got.JobTitle != fmt.Sprintf("Engineer %d", i) || !reflect.DeepEqual(got, read) {
			t.Fatalf("UpdateUser returned %+v, GetUser %+v", got, read)
		}
	}
	var extra []*directory.User
	for i := range 8 {
		u := newUser(tn.ID, fmt.Sprintf("extra%d@prep.onmicrosoft.com", i),
			directory.Identity{SignInType: "emailAddress", Issuer: "prep.onmicrosoft.com", IssuerAssignedID: fmt.Sprintf("extra%d@example.com", i)})
		mustCreate(t, s, u)
		got, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: u.ID})
		if err != nil || *got.UserPrincipalName != *u.UserPrincipalName || got.Version != u.Version || len(got.Identities) != 1 {
			t.Fatalf("created user %d reads back as %+v, %v", i, got, err)
		}
		patch(u, i)
		extra = append(extra, u)
	}
	for _, u := range extra[:6] {
		if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: u.ID}); err != nil {
			t.Fatalf("DeleteUser: %v", err)
		}
		if _, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: u.ID}); directory.KindOf(err) != directory.KindNotFound {
			t.Fatalf("deleted user: GetUser = %v", err)
		}
	}

	want = snapshot() // the writes added users to "all"

	// Plans invalidated under the cached statements: PostgreSQL re-plans.
	for _, ddl := range []string{
		`CREATE INDEX prep_test_city ON users (tenant_id, city)`,
		`ANALYZE users`,
		`DROP INDEX prep_test_city`,
	} {
		if _, err := admin.ExecContext(ctx, ddl); err != nil {
			t.Fatal(err)
		}
		same("after " + ddl)
	}
	// A new result row type: PostgreSQL refuses the old statements, the
	// store prepares them again, inside transactions too.
	if _, err := admin.ExecContext(ctx, `ALTER TABLE users ALTER COLUMN city TYPE varchar(300)`); err != nil {
		t.Fatal(err)
	}
	same("after a column type change")
	patch(extra[6], 60)
	if _, err := admin.ExecContext(ctx, `ALTER TABLE users ALTER COLUMN city TYPE text`); err != nil {
		t.Fatal(err)
	}
	patch(extra[6], 61)
	if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: extra[6].ID}); err != nil {
		t.Fatalf("DeleteUser after a column type change: %v", err)
	}
	want = snapshot() // the delete may have changed "all"

	// The server ends every connection of the pool (several are open):
	// the next calls succeed on new connections, prepared again there.
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := s.DB().ExecContext(ctx, `SELECT pg_sleep(0.05)`); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := s.DB().Stats().Idle; n < 2 {
		t.Fatalf("%d idle connections, want several", n)
	}
	if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := admin.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends still alive", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	same("after the backends were terminated")
	patch(extra[7], 70)
}

// TestStmtCacheBounded: however many statement shapes run, the cache
// holds at most its bound, and evicted statements are closed on the
// server too.
func TestStmtCacheBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	const bound = 4
	postgres.SetStmtCacheSizeForTest(s, bound)
	// One connection, so pg_prepared_statements (per session) sees all.
	s.DB().SetMaxOpenConns(1)
	u := newUser(tn.ID, "bounded@contoso.onmicrosoft.com")
	mustCreate(t, s, u)
	props := []string{"city", "country", "department", "jobTitle", "officeLocation", "state", "surname", "givenName"}
	for i, p := range props {
		for j := range 3 { // past the first, unprepared run
			v := fmt.Sprintf("%s %d", p, j)
			got, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Values: map[string]any{p: &v, props[(i+1)%len(props)]: ptr("x")}})
			if err != nil {
				t.Fatalf("UpdateUser(%s): %v", p, err)
			}
			if got.Version != u.Version+int64(3*i+j+1) {
				t.Fatalf("version %d after %d updates", got.Version, 3*i+j+1)
			}
			if n := postgres.PreparedCountForTest(s); n > bound {
				t.Fatalf("%d statements cached, bound %d", n, bound)
			}
		}
	}
	if n := postgres.PreparedCountForTest(s); n != bound {
		t.Fatalf("%d statements cached after %d shapes, want %d", n, len(props), bound)
	}
	var onServer int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements`).Scan(&onServer); err != nil {
		t.Fatal(err)
	}
	if onServer > bound {
		t.Fatalf("%d statements prepared on the server, bound %d", onServer, bound)
	}
}

// TestStmtCacheConcurrentEviction: callers racing on a cache too small for
// their statements (each run evicts another's statement, maybe while it
// runs) all get right answers.
func TestStmtCacheConcurrentEviction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	postgres.SetStmtCacheSizeForTest(s, 2)
	u := newUser(tn.ID, "racer@contoso.onmicrosoft.com",
		directory.Identity{SignInType: "emailAddress", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "racer@example.com"})
	mustCreate(t, s, u)
	byEmail, err := odata.ParseFilter("identities/any(i:i/issuerAssignedId eq 'racer@example.com' and i/issuer eq 'contoso.onmicrosoft.com')")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 25 {
				var id string
				var err error
				switch (w + i) % 4 {
				case 0:
					got, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: u.ID})
					if err != nil {
						t.Error(err)
						return
					}
					id = got.ID
				case 1:
					got, err := s.GetUser(ctx, tn.ID, directory.UserKey{UPN: *u.UserPrincipalName})
					if err != nil {
						t.Error(err)
						return
					}
					id = got.ID
				case 2:
					if id, err = s.UserIDBySignInName(ctx, tn.ID, "racer@example.com"); err != nil {
						t.Error(err)
						return
					}
				case 3:
					page, err := s.ListUsers(ctx, tn.ID, directory.ListQuery{Filter: byEmail})
					if err != nil || len(page.Users) != 1 {
						t.Errorf("ListUsers: %v, %v", page, err)
						return
					}
					id = page.Users[0].ID
				}
				if id != u.ID {
					t.Errorf("worker %d, run %d: found %q, want %q", w, i, id, u.ID)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := postgres.PreparedCountForTest(s); n > 2 {
		t.Fatalf("%d statements cached, bound 2", n)
	}
}

// TestPreparedStatementsDisabled: with preparing switched off (for poolers
// in transaction mode) nothing is prepared, on the client or the server,
// and reads and writes still work.
func TestPreparedStatementsDisabled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	s.DisablePreparedStatements()
	s.DB().SetMaxOpenConns(1) // pg_prepared_statements is per session
	u := newUser(tn.ID, "unprepared@contoso.onmicrosoft.com")
	mustCreate(t, s, u)
	for i := range 8 {
		v := fmt.Sprintf("Title %d", i)
		if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Values: map[string]any{"jobTitle": &v}}); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
		got, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: u.ID})
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if got.JobTitle == nil || *got.JobTitle != v {
			t.Fatalf("jobTitle %v after setting %q", got.JobTitle, v)
		}
	}
	if n := postgres.PreparedCountForTest(s); n != 0 {
		t.Fatalf("%d statements cached with preparing off", n)
	}
	var onServer int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements`).Scan(&onServer); err != nil {
		t.Fatal(err)
	}
	if onServer != 0 {
		t.Fatalf("%d statements prepared on the server with preparing off", onServer)
	}
}
