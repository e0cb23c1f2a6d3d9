package directory

import (
	"context"
	"strings"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// ListRoleDefinitions returns the built-in directory roles
// (GET /roleManagement/directory/roleDefinitions).
func (s *Service) ListRoleDefinitions(ctx context.Context) ([]*RoleDefinition, error) {
	if _, err := s.access(ctx, OpReadRoles); err != nil {
		return nil, err
	}
	return roleDefinitions, nil
}

// GetRoleDefinition returns one built-in role by template id.
func (s *Service) GetRoleDefinition(ctx context.Context, id string) (*RoleDefinition, error) {
	if _, err := s.access(ctx, OpReadRoles); err != nil {
		return nil, err
	}
	if r, ok := LookupRole(id); ok && IsGUID(id) {
		return r, nil
	}
	return nil, ErrNotFoundUser(id) // same wording for every resource
}

// ListRoleAssignments returns the caller's tenant's role assignments f matches.
func (s *Service) ListRoleAssignments(ctx context.Context, f RoleAssignmentFilter) ([]*RoleAssignment, error) {
	a, err := s.access(ctx, OpReadRoles)
	if err != nil {
		return nil, err
	}
	return s.store.ListRoleAssignments(ctx, a.P.TenantID, f)
}

// GetRoleAssignment returns one role assignment of the caller's tenant.
func (s *Service) GetRoleAssignment(ctx context.Context, id string) (*RoleAssignment, error) {
	a, err := s.access(ctx, OpReadRoles)
	if err != nil {
		return nil, err
	}
	return s.store.GetRoleAssignment(ctx, a.P.TenantID, id)
}

// CreateRoleAssignment assigns a built-in role to a user of the caller's
// tenant, tenant-wide. KindInvalid for an unknown role, a principal that is
// not a user of the tenant or a scope other than "/"; KindConflict when the
// user already holds the role.
func (s *Service) CreateRoleAssignment(ctx context.Context, principalID, roleDefinitionID, directoryScopeID string) (ra *RoleAssignment, err error) {
	p := PrincipalFrom(ctx)
	if _, err := s.accessFor(ctx, p, OpWriteRoles); err != nil {
		return nil, err // refusals are recorded by the edge (RecordDenied)
	}
	ev := s.ext.audit.BeginFor(ctx, p, ActivityAddRoleMember, AuditTarget{ID: roleDefinitionID, Type: "Role"})
	defer func() { err = s.ext.audit.End(ctx, ev, err) }()
	return s.assignRole(ctx, p.TenantID, principalID, roleDefinitionID, directoryScopeID, ev)
}

// AssignRole is CreateRoleAssignment for operators (the CLI): no caller,
// any tenant; audited with the operator as initiator.
func (s *Service) AssignRole(ctx context.Context, tenantID, principalID, roleDefinitionID string) (ra *RoleAssignment, err error) {
	ev := s.ext.audit.BeginOperator(ctx, tenantID, ActivityAddRoleMember, AuditTarget{ID: roleDefinitionID, Type: "Role"})
	defer func() { err = s.ext.audit.End(ctx, ev, err) }()
	return s.assignRole(ctx, tenantID, principalID, roleDefinitionID, "/", ev)
}

// assignRole checks and stores the assignment, with ev (nil: none) in the
// same transaction.
func (s *Service) assignRole(ctx context.Context, tenantID, principalID, roleDefinitionID, scope string, ev *AuditEvent) (*RoleAssignment, error) {
	switch {
	case principalID == "":
		return nil, &Error{Kind: KindInvalid, Target: "principalId", Message: "Property 'principalId' is required."}
	case roleDefinitionID == "":
		return nil, &Error{Kind: KindInvalid, Target: "roleDefinitionId", Message: "Property 'roleDefinitionId' is required."}
	case scope != "/":
		return nil, &Error{Kind: KindInvalid, Target: "directoryScopeId",
			Message: "Property 'directoryScopeId' must be '/': graphdir assigns roles tenant-wide only."}
	}
	role, ok := LookupRole(roleDefinitionID)
	if !ok || !IsGUID(roleDefinitionID) {
		return nil, &Error{Kind: KindInvalid, Target: "roleDefinitionId",
			Message: "The role definition '" + strings.ToValidUTF8(textlimit.Clip(roleDefinitionID, maxEchoed), "") + "' does not exist. GET /roleManagement/directory/roleDefinitions lists the built-in roles."}
	}
	if !IsGUID(principalID) {
		return nil, &Error{Kind: KindInvalid, Target: "principalId", Message: "Property 'principalId' must be the object id (a GUID) of a user."}
	}
	ra := &RoleAssignment{TenantID: tenantID, PrincipalID: normalizeGUID(principalID), RoleDefinitionID: role.ID, DirectoryScopeID: "/"}
	if err := s.store.CreateRoleAssignment(ctx, ra, ev); err != nil {
		if KindOf(err) == KindNotFound {
			return nil, &Error{Kind: KindInvalid, Target: "principalId",
				Message: "The principal '" + ra.PrincipalID + "' is not a user of this directory."}
		}
		return nil, err
	}
	return ra, nil
}

// DeleteRoleAssignment removes one role assignment of the caller's tenant.
func (s *Service) DeleteRoleAssignment(ctx context.Context, id string) (err error) {
	p := PrincipalFrom(ctx)
	if _, err := s.accessFor(ctx, p, OpWriteRoles); err != nil {
		return err // refusals are recorded by the edge (RecordDenied)
	}
	ev := s.ext.audit.BeginFor(ctx, p, ActivityRemoveRoleMember, AuditTarget{ID: id, Type: "RoleAssignment"})
	defer func() { err = s.ext.audit.End(ctx, ev, err) }()
	return s.store.DeleteRoleAssignment(ctx, p.TenantID, id, ev)
}

// RemoveRole is DeleteRoleAssignment for operators (the CLI): no caller,
// any tenant; audited with the operator as initiator.
func (s *Service) RemoveRole(ctx context.Context, tenantID, id string) (err error) {
	ev := s.ext.audit.BeginOperator(ctx, tenantID, ActivityRemoveRoleMember, AuditTarget{ID: id, Type: "RoleAssignment"})
	defer func() { err = s.ext.audit.End(ctx, ev, err) }()
	return s.store.DeleteRoleAssignment(ctx, tenantID, id, ev)
}
