package postgres_test

import (
	"context"
	"slices"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

func TestRoleAssignmentsAndGuards(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.example")
	ga := newUser(tn.ID, "ga@contoso.onmicrosoft.com")
	plain := newUser(tn.ID, "plain@contoso.onmicrosoft.com")
	foreign := newUser(other.ID, "x@fabrikam.example")
	for _, u := range []*directory.User{ga, plain, foreign} {
		mustCreate(t, s, u)
	}
	a := &directory.RoleAssignment{TenantID: tn.ID, PrincipalID: ga.ID, RoleDefinitionID: directory.RoleGlobalAdministrator}
	if err := s.CreateRoleAssignment(ctx, a, nil); err != nil || !directory.IsGUID(a.ID) || a.DirectoryScopeID != "/" {
		t.Fatalf("create: %v %+v", err, a)
	}
	dup := &directory.RoleAssignment{TenantID: tn.ID, PrincipalID: ga.ID, RoleDefinitionID: directory.RoleGlobalAdministrator}
	if err := s.CreateRoleAssignment(ctx, dup, nil); directory.KindOf(err) != directory.KindConflict {
		t.Errorf("duplicate: %v", err)
	}
	cross := &directory.RoleAssignment{TenantID: tn.ID, PrincipalID: foreign.ID, RoleDefinitionID: directory.RoleGlobalAdministrator}
	if err := s.CreateRoleAssignment(ctx, cross, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("another tenant's user: %v", err)
	}
	if roles, err := s.UserRoles(ctx, tn.ID, ga.ID); err != nil || !slices.Equal(roles, []string{directory.RoleGlobalAdministrator}) {
		t.Errorf("UserRoles = %v %v", roles, err)
	}
	if roles, _ := s.UserRoles(ctx, other.ID, ga.ID); len(roles) != 0 {
		t.Errorf("roles visible from another tenant: %v", roles)
	}
	if _, err := s.GetRoleAssignment(ctx, other.ID, a.ID); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("assignment visible from another tenant: %v", err)
	}
	if err := s.DeleteRoleAssignment(ctx, other.ID, a.ID, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("assignment deletable from another tenant: %v", err)
	}
	if list, _ := s.ListRoleAssignments(ctx, tn.ID, directory.RoleAssignmentFilter{RoleDefinitionID: directory.RoleGlobalAdministrator}); len(list) != 1 {
		t.Errorf("list by role: %v", list)
	}

	denied := &directory.Error{Kind: directory.KindForbidden, Message: "guarded"}
	guard := &directory.TargetGuard{Allowed: []string{directory.RoleUserAdministrator}, Denied: func([]string) error { return denied }}
	patch := directory.UserPatch{Values: map[string]any{"accountEnabled": ptr(false)}, Guard: guard}
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: ga.ID}, patch); err != denied {
		t.Errorf("guarded update of a Global Administrator: %v", err)
	}
	if u, _ := s.GetUser(ctx, tn.ID, directory.UserKey{ID: ga.ID}); !*u.AccountEnabled {
		t.Error("the guarded update was written")
	}
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: plain.ID}, patch); err != nil {
		t.Errorf("guarded update of a user without roles: %v", err)
	}
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{UPN: "nobody@contoso.onmicrosoft.com"}, patch); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("guarded update of a missing user: %v", err)
	}
	if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: ga.ID}, guard); err != denied {
		t.Errorf("guarded delete of a Global Administrator: %v", err)
	}
	if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: ga.ID}); err != nil {
		t.Fatalf("unguarded delete: %v", err)
	}
	// A deleted user's assignments stay (for a restore) but grant nothing.
	if ids, err := s.UserRoles(ctx, tn.ID, ga.ID); err != nil || len(ids) != 0 {
		t.Errorf("roles of a deleted user = %v, %v", ids, err)
	}
	if err := s.PurgeUser(ctx, tn.ID, ga.ID, guard, nil); err != denied {
		t.Errorf("guarded purge of a Global Administrator: %v", err)
	}
	if err := s.PurgeUser(ctx, tn.ID, ga.ID, nil, nil); err != nil {
		t.Fatalf("purge: %v", err)
	}
	if list, _ := s.ListRoleAssignments(ctx, tn.ID, directory.RoleAssignmentFilter{}); len(list) != 0 {
		t.Errorf("assignments outlived their user: %v", list)
	}
}
