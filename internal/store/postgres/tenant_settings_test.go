package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
)

// A tenant's hide-user-not-found setting round-trips through every read
// (Tenant, Tenants, the primary-key lookup): unset, true, false and back
// to unset, each write with its audit event in the same transaction; one
// tenant's setting leaves another's alone, and a write to no tenant is
// KindNotFound and stores no event.
func TestStore_TenantHideUserNotFound(t *testing.T) {
	t.Parallel()
	s, a := newTenant(t)
	b := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	ctx := context.Background()
	events := func() int {
		t.Helper()
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1`, a.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// check asserts every read of tenant id gives want.
	check := func(id string, want *bool) {
		t.Helper()
		got, err := s.TenantHideUserNotFound(ctx, id)
		if err != nil || show(got) != show(want) {
			t.Fatalf("TenantHideUserNotFound(%s) = %s, %v; want %s", id, show(got), err, show(want))
		}
		tn, err := s.Tenant(ctx, id)
		if err != nil || show(tn.HideUserNotFound) != show(want) {
			t.Fatalf("Tenant(%s).HideUserNotFound = %v, %v; want %s", id, tn, err, show(want))
		}
		all, err := s.Tenants(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tn := range all {
			if tn.ID == id && show(tn.HideUserNotFound) != show(want) {
				t.Fatalf("Tenants: %s has %s; want %s", id, show(tn.HideUserNotFound), show(want))
			}
		}
	}
	check(a.ID, nil)
	check(b.ID, nil)

	yes, no := true, false
	for i, want := range []*bool{&yes, &no, nil} {
		ev := newEvent(t, a.ID, directory.ActivityUpdateTenantSettings, directory.AuditTarget{ID: a.ID})
		if err := s.SetTenantHideUserNotFound(ctx, a.ID, want, ev); err != nil {
			t.Fatal(err)
		}
		if !ev.Persisted() || events() != i+1 {
			t.Fatalf("set %s: persisted %v, %d events", show(want), ev.Persisted(), events())
		}
		check(a.ID, want)
		check(b.ID, nil)
	}
	if err := s.SetTenantHideUserNotFound(ctx, b.ID, &yes, nil); err != nil {
		t.Fatal(err)
	}
	check(b.ID, &yes)
	check(a.ID, nil)

	// No such tenant: not found, nothing written, no event.
	ev := newEvent(t, a.ID, directory.ActivityUpdateTenantSettings, directory.AuditTarget{ID: a.ID})
	err := s.SetTenantHideUserNotFound(ctx, uuid.NewString(), &yes, ev)
	if directory.KindOf(err) != directory.KindNotFound || ev.Persisted() || events() != 3 {
		t.Fatalf("set on no tenant: %v, persisted %v, %d events", err, ev.Persisted(), events())
	}
	for _, id := range []string{uuid.NewString(), "not-a-guid"} {
		if _, err := s.TenantHideUserNotFound(ctx, id); directory.KindOf(err) != directory.KindNotFound {
			t.Errorf("TenantHideUserNotFound(%q): %v; want not found", id, err)
		}
	}
	if err := s.SetTenantHideUserNotFound(ctx, "not-a-guid", &yes, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("set on a non-GUID: %v", err)
	}
}

// show spells a nullable setting for messages and comparisons.
func show(v *bool) string {
	if v == nil {
		return "unset"
	}
	return fmt.Sprint(*v)
}
