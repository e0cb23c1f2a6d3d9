package postgres_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

func TestDeleted_SoftDeleteHidesAndRestores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	u := fullUser(tn.ID)
	mustCreate(t, s, u)
	if u.Version != 1 {
		t.Errorf("created version = %d, want 1", u.Version)
	}
	keep := newUser(tn.ID, "keep@contoso.onmicrosoft.com")
	mustCreate(t, s, keep)

	if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: u.ID}); err != nil {
		t.Fatal(err)
	}
	_, err := s.GetUser(ctx, tn.ID, directory.UserKey{UPN: *u.UserPrincipalName})
	wantKind(t, err, directory.KindNotFound, "")
	if _, err := s.UserIDBySignInName(ctx, tn.ID, "AdeleV@adatum.com"); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("lookup by sign-in name of a deleted user: %v, want not found", err)
	}
	page, err := s.ListUsers(ctx, tn.ID, directory.ListQuery{Top: 10, Count: true})
	if err != nil || len(page.Users) != 1 || page.Users[0].ID != keep.ID || *page.Count != 1 {
		t.Fatalf("live listing = %+v, %v", page, err)
	}
	n, err := s.CountUsers(ctx, tn.ID, parse(t, "identities/any(i: i/issuerAssignedId eq 'AdeleV@adatum.com')", "", ""))
	if err != nil || n != 0 {
		t.Errorf("count by identity = %d, %v; want 0", n, err)
	}
	_, err = s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Values: map[string]any{"city": ptr("X")}})
	wantKind(t, err, directory.KindNotFound, "")

	d, err := s.GetDeletedUser(ctx, tn.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.DeletedDateTime == nil || d.Version != 2 || len(d.Identities) != 3 {
		t.Errorf("deleted user: deletedDateTime %v, version %d, identities %v", d.DeletedDateTime, d.Version, d.Identities)
	}
	q := parse(t, "startsWith(displayName, 'Adele')", "deletedDateTime desc", "")
	q.Deleted, q.Top, q.Count = true, 10, true
	page, err = s.ListUsers(ctx, tn.ID, q)
	if err != nil || len(page.Users) != 1 || page.Users[0].ID != u.ID || *page.Count != 1 {
		t.Fatalf("deleted listing = %+v, %v", page, err)
	}
	// deletedDateTime is not a property of the live listing's queries.
	_, err = s.ListUsers(ctx, tn.ID, directory.ListQuery{Top: 10, OrderBy: parse(t, "", "deletedDateTime", "").OrderBy})
	wantKind(t, err, directory.KindUnsupported, "$orderby")

	r, err := s.RestoreUser(ctx, tn.ID, u.ID, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeletedDateTime != nil || r.Version != 3 || len(r.Identities) != 3 {
		t.Errorf("restored: %+v", r)
	}
	if _, err := s.UserIDBySignInName(ctx, tn.ID, "AdeleV@adatum.com"); err != nil {
		t.Errorf("lookup after restore: %v", err)
	}
	_, err = s.RestoreUser(ctx, tn.ID, u.ID, nil, nil)
	wantKind(t, err, directory.KindNotFound, "")
	wantKind(t, s.PurgeUser(ctx, tn.ID, u.ID, nil, nil), directory.KindNotFound, "")
}

func TestDeleted_RestoreConflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	for _, tc := range []struct {
		name   string
		taker  func(*directory.User) *directory.User
		target string
	}{
		{"userPrincipalName", func(u *directory.User) *directory.User {
			return newUser(tn.ID, "ADELEV@contoso.onmicrosoft.com")
		}, "userPrincipalName"},
		{"identity", func(u *directory.User) *directory.User {
			return newUser(tn.ID, "other@contoso.onmicrosoft.com",
				directory.Identity{SignInType: "federated", Issuer: "FACEBOOK.com", IssuerAssignedID: "5eecb0cd"})
		}, "identities"},
	} {
		u := fullUser(tn.ID)
		mustCreate(t, s, u)
		if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: u.ID}); err != nil {
			t.Fatal(err)
		}
		// The names are free for a live user meanwhile.
		taker := tc.taker(u)
		mustCreate(t, s, taker)
		before := counts(t, s.DB())
		_, err := s.RestoreUser(ctx, tn.ID, u.ID, nil, nil)
		wantKind(t, err, directory.KindConflict, tc.target)
		if d := directory.AsError(err).Details; len(d) == 0 || d[0].Code != "ObjectConflict" {
			t.Errorf("%s: details = %+v, want ObjectConflict", tc.name, d)
		}
		if c := counts(t, s.DB()); c != before {
			t.Errorf("%s: rows %v -> %v", tc.name, before, c)
		}
		if d, err := s.GetDeletedUser(ctx, tn.ID, u.ID); err != nil || d.Version != 2 {
			t.Errorf("%s: still deleted, unchanged? %v %v", tc.name, d, err)
		}
		// Once the taker is gone for good, the restore works.
		if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: taker.ID}); err != nil {
			t.Fatal(err)
		}
		if err := s.PurgeUser(ctx, tn.ID, taker.ID, nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RestoreUser(ctx, tn.ID, u.ID, nil, nil); err != nil {
			t.Fatalf("%s: restore after purge of the taker: %v", tc.name, err)
		}
		if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: u.ID}); err != nil {
			t.Fatal(err)
		}
		if err := s.PurgeUser(ctx, tn.ID, u.ID, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if c := counts(t, s.DB()); c != [2]int{0, 0} {
		t.Errorf("rows after purges = %v", c)
	}
}

func TestDeleted_IfVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	u := newUser(tn.ID, "v@contoso.onmicrosoft.com")
	mustCreate(t, s, u)
	key := directory.UserKey{ID: u.ID}
	_, err := s.UpdateUser(ctx, tn.ID, key, directory.UserPatch{Values: map[string]any{"city": ptr("A")}, IfVersion: 7})
	wantKind(t, err, directory.KindPreconditionFailed, "If-Match")
	got, err := s.UpdateUser(ctx, tn.ID, key, directory.UserPatch{Values: map[string]any{"city": ptr("A")}, IfVersion: 1})
	if err != nil || got.Version != 2 {
		t.Fatalf("update with current version: %v, %v", got, err)
	}
	wantKind(t, s.SoftDeleteUser(ctx, tn.ID, key, nil, 1, nil), directory.KindPreconditionFailed, "If-Match")
	_, err = s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
		directory.UserPatch{Values: map[string]any{"city": ptr("A")}, IfVersion: 1})
	wantKind(t, err, directory.KindNotFound, "")

	// Two writers with the same version: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.UpdateUser(ctx, tn.ID, key, directory.UserPatch{Values: map[string]any{"city": ptr("B")}, IfVersion: 2})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch directory.KindOf(err) {
		case directory.KindPreconditionFailed:
		default:
			if err != nil {
				t.Errorf("racing update: %v", err)
			}
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d of %d racing updates won, want 1", won, len(errs))
	}
	if err := s.SoftDeleteUser(ctx, tn.ID, key, nil, 3, nil); err != nil {
		t.Fatal(err)
	}
}

func TestDeleted_BackgroundPurge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	const n = 230
	for i := range n {
		tid := tn.ID
		if i%3 == 0 {
			tid = other.ID
		}
		u := newUser(tid, "p"+strconv.Itoa(i)+"@x.example", directory.Identity{SignInType: "emailAddress", Issuer: "x", IssuerAssignedID: "p" + strconv.Itoa(i) + "@x.example"})
		mustCreate(t, s, u)
		if err := s.DeleteUser(ctx, tid, directory.UserKey{ID: u.ID}); err != nil {
			t.Fatal(err)
		}
	}
	live := newUser(tn.ID, "live@contoso.onmicrosoft.com")
	mustCreate(t, s, live)
	recent := newUser(tn.ID, "recent@contoso.onmicrosoft.com")
	mustCreate(t, s, recent)
	// Everything deleted so far is older than the retention below.
	if _, err := s.DB().Exec(`UPDATE users SET deleted_at = deleted_at - interval '2 hours' WHERE deleted_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: recent.ID}); err != nil {
		t.Fatal(err)
	}

	// Several purgers at once, small batches: no errors, each row once.
	var wg sync.WaitGroup
	purged := make([]int64, 4)
	errs := make([]error, 4)
	for i := range purged {
		wg.Add(1)
		go func() {
			defer wg.Done()
			purged[i], errs[i] = s.PurgeDeleted(ctx, time.Now().Add(-time.Hour), 7)
		}()
	}
	wg.Wait()
	var total int64
	for i := range purged {
		if errs[i] != nil {
			t.Errorf("purger %d: %v", i, errs[i])
		}
		total += purged[i]
	}
	if total != n {
		t.Errorf("purged %d (%v), want %d", total, purged, n)
	}
	if c := counts(t, s.DB()); c != [2]int{2, 0} {
		t.Errorf("rows = %v, want the live and the recently deleted user", c)
	}
	if _, err := s.GetDeletedUser(ctx, tn.ID, recent.ID); err != nil {
		t.Errorf("recently deleted user: %v", err)
	}
}

// TestBackgroundJobs_OneInstanceAtATime holds each job's advisory lock as
// another instance would: PurgeDeleted and PruneUserChanges then do nothing
// and report no error, and do their work once it is released.
func TestBackgroundJobs_OneInstanceAtATime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	for i := range 3 {
		u := newUser(tn.ID, "lock"+strconv.Itoa(i)+"@contoso.onmicrosoft.com")
		mustCreate(t, s, u)
		if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: u.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PruneUserChanges(ctx, time.Now().Add(-time.Hour)); err != nil { // a first mark
		t.Fatal(err)
	}
	changes := func() (n int) {
		t.Helper()
		if err := s.DB().QueryRow(`SELECT count(*) FROM user_changes`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if changes() == 0 {
		t.Fatal("no changes logged to prune")
	}
	for _, job := range []struct {
		name string
		key  int64
		run  func() (int64, error)
		left func() int
	}{
		{"PurgeDeleted", postgres.PurgeLockKey, func() (int64, error) { return s.PurgeDeleted(ctx, time.Now().Add(time.Hour), 1) },
			func() int { return counts(t, s.DB())[0] }},
		{"PruneUserChanges", postgres.PruneLockKey, func() (int64, error) { return s.PruneUserChanges(ctx, time.Now().Add(time.Hour)) },
			changes},
	} {
		before := job.left()
		holder, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := holder.Exec(`SELECT pg_advisory_xact_lock($1)`, job.key); err != nil {
			t.Fatal(err)
		}
		if n, err := job.run(); n != 0 || err != nil {
			t.Errorf("%s while another instance holds its lock: %d, %v; want 0, nil", job.name, n, err)
		}
		if left := job.left(); left != before {
			t.Errorf("%s while another instance holds its lock: %d rows left, want %d", job.name, left, before)
		}
		if err := holder.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n, err := job.run(); n == 0 || err != nil {
			t.Errorf("%s after the lock was released: %d, %v; want work done", job.name, n, err)
		}
	}
}
