package postgres_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// deltaRound follows one whole round from q (pages of size top) and
// returns its items and the next round's base.
func deltaRound(t *testing.T, s *postgres.Store, tenantID string, q directory.DeltaQuery) ([]directory.DeltaItem, string) {
	t.Helper()
	var items []directory.DeltaItem
	for {
		page, err := s.UserDelta(context.Background(), tenantID, q)
		if err != nil {
			t.Fatalf("UserDelta(%+v): %v", q, err)
		}
		items = append(items, page.Items...)
		if page.Next == "" {
			return items, page.Target
		}
		q.Base, q.Target, q.After = page.Base, page.Target, page.Next
		if q.Initial {
			q.Target = ""
		}
	}
}

func itemIDs(items []directory.DeltaItem) map[string]directory.DeltaItem {
	m := map[string]directory.DeltaItem{}
	for _, it := range items {
		m[it.ID] = it
	}
	return m
}

func TestUserDeltaRounds(t *testing.T) {
	s, tn := newTenant(t)
	ctx := context.Background()
	db := s.DB()
	var users []*directory.User
	for i := range 5 {
		u := newUser(tn.ID, "d"+string(rune('a'+i))+"@contoso.com")
		mustCreate(t, s, u)
		users = append(users, u)
	}
	// Another tenant's changes never show.
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	mustCreate(t, s, newUser(other.ID, "x@fabrikam.onmicrosoft.com"))

	items, base := deltaRound(t, s, tn.ID, directory.DeltaQuery{Initial: true, Top: 2})
	if len(items) != 5 {
		t.Fatalf("initial round: %d items, want 5", len(items))
	}
	if empty, _ := deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: base, Top: 2}); len(empty) != 0 {
		t.Fatalf("round without changes: %+v", empty)
	}

	// update, soft delete, purge, create, identities change
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: users[0].ID}, directory.UserPatch{Values: map[string]any{"jobTitle": ptr("Boss"), "displayName": nil, "city": nil}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE users SET deleted_at = now(), version = version + 1 WHERE id = $1`, users[1].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DELETE FROM users WHERE id = $1`, users[2].ID); err != nil {
		t.Fatal(err)
	}
	fresh := newUser(tn.ID, "new@contoso.com")
	mustCreate(t, s, fresh)
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: users[3].ID}, directory.UserPatch{Values: map[string]any{
		"identities": []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.com", IssuerAssignedID: "d@x.com"}}}}); err != nil {
		t.Fatal(err)
	}
	// A write that changes nothing visible (version only) is not a change.
	if _, err := db.Exec(`UPDATE users SET version = version + 1 WHERE id = $1`, users[4].ID); err != nil {
		t.Fatal(err)
	}

	items, base2 := deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: base, Top: 2})
	got := itemIDs(items)
	if len(got) != 5 || len(items) != 5 {
		t.Fatalf("change round: %+v", items)
	}
	if it := got[users[0].ID]; it.User == nil || *it.User.JobTitle != "Boss" || !slices.Equal(sorted(it.Changed), []string{"displayName", "jobTitle"}) {
		t.Errorf("updated user: %+v", it)
	}
	if it := got[users[1].ID]; it.Removed != "changed" {
		t.Errorf("soft-deleted user: %+v", it)
	}
	if it := got[users[2].ID]; it.Removed != "deleted" {
		t.Errorf("purged user: %+v", it)
	}
	if it := got[fresh.ID]; it.User == nil || it.Changed != nil {
		t.Errorf("created user: %+v", it)
	}
	if it := got[users[3].ID]; it.User == nil || !slices.Equal(it.Changed, []string{"identities"}) {
		t.Errorf("identities change: %+v", it)
	}

	// Restore: the whole object again.
	if _, err := db.Exec(`UPDATE users SET deleted_at = NULL WHERE id = $1`, users[1].ID); err != nil {
		t.Fatal(err)
	}
	items, _ = deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: base2, Top: 10, IDs: []string{users[1].ID, users[0].ID}})
	if len(items) != 1 || items[0].ID != users[1].ID || items[0].User == nil || items[0].Changed != nil {
		t.Fatalf("restore round (filtered by id): %+v", items)
	}

	// Latest: nothing, a position from now.
	page, err := s.UserDelta(ctx, tn.ID, directory.DeltaQuery{Latest: true, Top: 10})
	if err != nil || len(page.Items) != 0 || page.Target == "" {
		t.Fatalf("latest: %+v %v", page, err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestUserDeltaOutOfOrderCommit is the case a sequence number gets wrong:
// transaction A changes a user first (earlier xid and seq) but commits after
// B, and a reader runs in between. The reader must see B now and A in the
// next round.
func TestUserDeltaOutOfOrderCommit(t *testing.T) {
	s, tn := newTenant(t)
	ctx := context.Background()
	a, b := newUser(tn.ID, "a@contoso.com"), newUser(tn.ID, "b@contoso.com")
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	_, base := deltaRound(t, s, tn.ID, directory.DeltaQuery{Initial: true, Top: 10})

	txA, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer txA.Rollback() //nolint:errcheck
	if _, err := txA.Exec(`UPDATE users SET job_title = 'A' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: b.ID}, directory.UserPatch{Values: map[string]any{"jobTitle": ptr("B")}}); err != nil {
		t.Fatal(err)
	}
	items, base2 := deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: base, Top: 10})
	if len(items) != 1 || items[0].ID != b.ID {
		t.Fatalf("round 1: %+v", items)
	}
	if err := txA.Commit(); err != nil {
		t.Fatal(err)
	}
	items, base3 := deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: base2, Top: 10})
	if len(items) != 1 || items[0].ID != a.ID || *items[0].User.JobTitle != "A" {
		t.Fatalf("round 2 (late commit): %+v", items)
	}
	// A rolled-back write is never reported.
	txC, _ := s.DB().BeginTx(ctx, nil)
	if _, err := txC.Exec(`UPDATE users SET job_title = 'C' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	_ = txC.Rollback()
	if items, _ := deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: base3, Top: 10}); len(items) != 0 {
		t.Fatalf("rolled-back write reported: %+v", items)
	}
}

func TestUserDeltaPruneExpiresTokens(t *testing.T) {
	s, tn := newTenant(t)
	ctx := context.Background()
	u := newUser(tn.ID, "p@contoso.com")
	mustCreate(t, s, u)
	_, base := deltaRound(t, s, tn.ID, directory.DeltaQuery{Initial: true, Top: 10})
	// Pruning with a cutoff in the past keeps everything.
	if _, err := s.PruneUserChanges(ctx, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Values: map[string]any{"city": ptr("Oslo")}}); err != nil {
		t.Fatal(err)
	}
	if items, _ := deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: base, Top: 10}); len(items) != 1 {
		t.Fatalf("before pruning: %+v", items)
	}
	n, err := s.PruneUserChanges(ctx, time.Now().Add(time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("prune: %d %v", n, err)
	}
	_, err = s.UserDelta(ctx, tn.ID, directory.DeltaQuery{Base: base, Top: 10})
	if !errors.Is(err, directory.ErrSyncStateNotFound) {
		t.Fatalf("token older than the horizon: err = %v, want ErrSyncStateNotFound", err)
	}
	// A position taken after pruning works.
	_, fresh := deltaRound(t, s, tn.ID, directory.DeltaQuery{Initial: true, Top: 10})
	if items, _ := deltaRound(t, s, tn.ID, directory.DeltaQuery{Base: fresh, Top: 10}); len(items) != 0 {
		t.Fatalf("fresh round: %+v", items)
	}
}
