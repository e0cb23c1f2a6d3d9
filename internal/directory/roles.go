package directory

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Built-in directory role template ids, as Microsoft Entra ID publishes them.
// graphdir stores a role assignment by template id, so a tool that knows
// Entra's ids (az cli, Graph PowerShell, Terraform) addresses the same role.
const (
	RoleGlobalAdministrator                   = "62e90394-69f5-4237-9190-012177145e10"
	RolePrivilegedRoleAdministrator           = "e8611ab8-c189-46e8-94e1-60213ab1f814"
	RolePrivilegedAuthenticationAdministrator = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
	RoleUserAdministrator                     = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	RoleAuthenticationAdministrator           = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
	RoleHelpdeskAdministrator                 = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
	RolePasswordAdministrator                 = "966707d0-3269-4727-9be2-8c3a10f19b9d"
	RoleDirectoryReaders                      = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
	RoleGuestInviter                          = "95e79109-95c0-4d8e-aee3-d01accf2d47b"
)

// RoleDefinition is a built-in directory role: what a signed-in user holding
// it may do through the users and role-management APIs. A delegated caller's
// effective rights are the intersection of the token's scopes and the union
// of its roles' rights (Access).
type RoleDefinition struct {
	ID          string
	DisplayName string
	Description string
	// ResourceActions are Entra's allowedResourceActions this definition
	// stands for, shown by GET roleDefinitions (documentation only; the
	// fields below are what graphdir enforces).
	ResourceActions []string

	// ReadDirectory lets the holder read every user of the tenant (and list,
	// count, search) and read role assignments.
	ReadDirectory bool
	// CreateUsers lets the holder create users.
	CreateUsers bool
	// UpdateUsers lets the holder change non-sensitive properties of any user.
	UpdateUsers bool
	// DeleteUsers lets the holder delete users whose roles Sensitive allows.
	DeleteUsers bool
	// ManageRoles lets the holder create and delete role assignments.
	ManageRoles bool
	// Sensitive decides the targets on which the holder may change
	// sensitive properties (SensitiveProperty) and delete: nil means none,
	// anyTarget means every user, otherwise the target's every role must be
	// in the list (a user without roles is always allowed).
	Sensitive []string
	// Passwords decides, the same way, whose passwordProfile the holder may
	// reset.
	Passwords []string
}

// anyTarget marks a Sensitive or Passwords list that allows every target.
var anyTarget = []string{"*"}

// Target tiers of Graph's sensitive actions
// (https://learn.microsoft.com/graph/api/resources/users#who-can-perform-sensitive-actions)
// and the password-reset variant (#who-can-reset-passwords on that page).
var (
	// readerTier: roles any admin with sensitive rights may act on.
	readerTier = []string{RoleDirectoryReaders, RoleGuestInviter, RolePasswordAdministrator}
	// userAdminTier: the User Administrator column of 5.4.
	userAdminTier = append(slices.Clip(readerTier), RoleHelpdeskAdministrator, RoleUserAdministrator)
	// authAdminTier: the Authentication Administrator column of 5.4.
	authAdminTier = append(slices.Clip(readerTier), RoleAuthenticationAdministrator)
	// passwordAdminTier: whom a Password Administrator may reset.
	passwordAdminTier = slices.Clip(readerTier)
	// helpdeskTier: whom a Helpdesk Administrator may reset.
	helpdeskTier = append(slices.Clip(readerTier), RoleHelpdeskAdministrator)
)

// PrivilegedRoles are the roles only a Global Administrator or Privileged
// Authentication Administrator may act on (the last row of 5.4), and that
// application-only callers never act on (see CheckTarget).
var PrivilegedRoles = []string{RoleGlobalAdministrator, RolePrivilegedAuthenticationAdministrator, RolePrivilegedRoleAdministrator}

var roleDefinitions = []*RoleDefinition{
	{
		ID: RoleGlobalAdministrator, DisplayName: "Global Administrator",
		Description:     "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
		ResourceActions: []string{"microsoft.directory/users/allProperties/allTasks", "microsoft.directory/roleAssignments/allProperties/allTasks"},
		ReadDirectory:   true, CreateUsers: true, UpdateUsers: true, DeleteUsers: true, ManageRoles: true,
		Sensitive: anyTarget, Passwords: anyTarget,
	},
	{
		ID: RolePrivilegedRoleAdministrator, DisplayName: "Privileged Role Administrator",
		Description:     "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management.",
		ResourceActions: []string{"microsoft.directory/users/standard/read", "microsoft.directory/roleAssignments/allProperties/allTasks"},
		ReadDirectory:   true, ManageRoles: true,
	},
	{
		ID: RolePrivilegedAuthenticationAdministrator, DisplayName: "Privileged Authentication Administrator",
		Description:     "Can access to view, set and reset authentication method information for any user (admin or non-admin).",
		ResourceActions: []string{"microsoft.directory/users/standard/read", "microsoft.directory/users/authenticationMethods/allProperties/allTasks", "microsoft.directory/users/password/update", "microsoft.directory/users/delete"},
		ReadDirectory:   true, DeleteUsers: true,
		Sensitive: anyTarget, Passwords: anyTarget,
	},
	{
		ID: RoleUserAdministrator, DisplayName: "User Administrator",
		Description:     "Can manage all aspects of users and groups, including resetting passwords for limited admins.",
		ResourceActions: []string{"microsoft.directory/users/create", "microsoft.directory/users/delete", "microsoft.directory/users/basic/update", "microsoft.directory/users/password/update", "microsoft.directory/users/standard/read"},
		ReadDirectory:   true, CreateUsers: true, UpdateUsers: true, DeleteUsers: true,
		Sensitive: userAdminTier, Passwords: userAdminTier,
	},
	{
		ID: RoleAuthenticationAdministrator, DisplayName: "Authentication Administrator",
		Description:     "Can access to view, set and reset authentication method information for any non-admin user.",
		ResourceActions: []string{"microsoft.directory/users/standard/read", "microsoft.directory/users/authenticationMethods/allProperties/allTasks", "microsoft.directory/users/password/update"},
		ReadDirectory:   true,
		Sensitive:       authAdminTier, Passwords: authAdminTier,
	},
	{
		ID: RoleHelpdeskAdministrator, DisplayName: "Helpdesk Administrator",
		Description:     "Can reset passwords for non-administrators and Helpdesk Administrators.",
		ResourceActions: []string{"microsoft.directory/users/standard/read", "microsoft.directory/users/password/update"},
		ReadDirectory:   true,
		Passwords:       helpdeskTier,
	},
	{
		ID: RolePasswordAdministrator, DisplayName: "Password Administrator",
		Description:     "Can reset passwords for non-administrators and Password Administrators.",
		ResourceActions: []string{"microsoft.directory/users/standard/read", "microsoft.directory/users/password/update"},
		ReadDirectory:   true,
		Passwords:       passwordAdminTier,
	},
	{
		ID: RoleDirectoryReaders, DisplayName: "Directory Readers",
		Description:     "Can read basic directory information. Commonly used to grant directory read access to applications and guests.",
		ResourceActions: []string{"microsoft.directory/users/standard/read", "microsoft.directory/roleAssignments/standard/read"},
		ReadDirectory:   true,
	},
	{
		ID: RoleGuestInviter, DisplayName: "Guest Inviter",
		Description:     "Can invite guest users independent of the 'members can invite guests' setting. (graphdir: no rights on the users API.)",
		ResourceActions: []string{"microsoft.directory/users/inviteGuest"},
	},
}

// RoleDefinitions returns the built-in roles. Callers must not modify them.
func RoleDefinitions() []*RoleDefinition { return roleDefinitions }

// LookupRole returns the built-in role with the given template id (any
// case) or display name (case-insensitively).
func LookupRole(idOrName string) (*RoleDefinition, bool) {
	for _, r := range roleDefinitions {
		if strings.EqualFold(r.ID, idOrName) || strings.EqualFold(r.DisplayName, strings.TrimSpace(idOrName)) {
			return r, true
		}
	}
	return nil, false
}

// RoleName returns the display name of a role id, or the id itself.
func RoleName(id string) string {
	if r, ok := LookupRole(id); ok {
		return r.DisplayName
	}
	return id
}

// RoleAssignment assigns a directory role to a user, tenant-wide
// (directoryScopeId "/"), in Graph's unifiedRoleAssignment shape.
type RoleAssignment struct {
	ID               string
	TenantID         string
	PrincipalID      string
	RoleDefinitionID string
	DirectoryScopeID string
	CreatedAt        time.Time
}

// RoleAssignmentFilter narrows a listing; empty fields match everything.
type RoleAssignmentFilter struct {
	PrincipalID      string
	RoleDefinitionID string
}

// TargetGuard makes a write conditional on the target user's roles: the
// store performs it only when every role the target holds is in Allowed,
// checked in the same statement as the write, so a role granted to the
// target concurrently can never slip between the check and the write. When
// the target exists but holds another role, the store returns the error
// Denied builds from those roles (KindForbidden).
type TargetGuard struct {
	Allowed []string
	Denied  func(targetRoles []string) error
}

// RoleStore persists role assignments. Every method is scoped to one tenant.
type RoleStore interface {
	// UserRoles returns the role definition ids assigned to a user (none for
	// an unknown user): one indexed query.
	UserRoles(ctx context.Context, tenantID, userID string) ([]string, error)
	// CreateRoleAssignment inserts a; KindConflict when the user already
	// holds the role, KindNotFound when the user does not exist. audit
	// (nil: none) is stored in the same transaction.
	CreateRoleAssignment(ctx context.Context, a *RoleAssignment, audit *AuditEvent) error
	// ListRoleAssignments returns the tenant's assignments f matches, oldest first.
	ListRoleAssignments(ctx context.Context, tenantID string, f RoleAssignmentFilter) ([]*RoleAssignment, error)
	// GetRoleAssignment returns one assignment. KindNotFound.
	GetRoleAssignment(ctx context.Context, tenantID, id string) (*RoleAssignment, error)
	// DeleteRoleAssignment removes one assignment. KindNotFound. audit
	// (nil: none) is stored in the same transaction.
	DeleteRoleAssignment(ctx context.Context, tenantID, id string, audit *AuditEvent) error
}
