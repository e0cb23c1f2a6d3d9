package directory

import (
	"context"
	"slices"
	"strings"
	"sync"
)

// Permission names beyond the basic set in policy.go.
const (
	PermUserCreate                 = "User.Create"
	PermUserReadUpdateAll          = "User.ReadUpdate.All"
	PermUserDeleteRestoreAll       = "User.DeleteRestore.All"
	PermUserEnableDisableAccount   = "User.EnableDisableAccount.All"
	PermUserPasswordProfileRWAll   = "User-PasswordProfile.ReadWrite.All"
	PermUserManageIdentitiesAll    = "User.ManageIdentities.All"
	PermUserMailReadWriteAll       = "User-Mail.ReadWrite.All"
	PermUserPhoneReadWriteAll      = "User-Phone.ReadWrite.All"
	PermRoleManagementReadDir      = "RoleManagement.Read.Directory"
	PermRoleManagementReadWriteDir = "RoleManagement.ReadWrite.Directory"
)

// Permission sets, least privileged first (the order WWW-Authenticate and
// messages list them in).
var (
	// fullReadPerms read every property of every user.
	fullReadPerms = []string{PermUserReadAll, PermUserReadUpdateAll, PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	// basicReadPerms read the basic profile only; the fine-grained write
	// permissions also read the basic profile
	// (https://learn.microsoft.com/graph/api/resources/users#user-basic-profile-properties).
	basicReadPerms = []string{PermUserReadBasicAll, PermUserPasswordProfileRWAll, PermUserMailReadWriteAll, PermUserPhoneReadWriteAll}
	// appReadPerms read users at either level, least privileged first.
	appReadPerms = append(append([]string{PermUserReadBasicAll}, fullReadPerms...), basicReadPerms[1:]...)
	// generalWritePerms update any property except identities.
	generalWritePerms = []string{PermUserReadUpdateAll, PermUserReadWriteAll, PermDirectoryReadWriteAll}
	// createPerms create users.
	createPerms = []string{PermUserCreate, PermUserReadWriteAll, PermDirectoryReadWriteAll}
	// deletePerms delete users.
	deletePerms = []string{PermUserDeleteRestoreAll, PermUserReadWriteAll, PermDirectoryReadWriteAll}
	// updatePerms is every permission that may update at least one property.
	updatePerms = []string{PermUserReadUpdateAll, PermUserReadWriteAll, PermDirectoryReadWriteAll,
		PermUserEnableDisableAccount, PermUserPasswordProfileRWAll, PermUserManageIdentitiesAll,
		PermUserMailReadWriteAll, PermUserPhoneReadWriteAll}
	// selfReadScopes read the signed-in user's own profile.
	selfReadScopes = []string{PermUserRead, PermUserReadWrite, PermUserReadBasicAll, PermUserReadAll, PermUserReadUpdateAll,
		PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	// selfWriteScopes update the signed-in user's self-service properties.
	selfWriteScopes = []string{PermUserReadWrite, PermUserReadWriteAll, PermDirectoryReadWriteAll}
	// roleReadPerms read role definitions and assignments.
	roleReadPerms = []string{PermRoleManagementReadDir, PermRoleManagementReadWriteDir, PermDirectoryReadAll, PermDirectoryReadWriteAll}
	// roleWritePerms create and delete role assignments.
	roleWritePerms = []string{PermRoleManagementReadWriteDir}
)

// propertyWritePerms lists, for properties with their own least-privileged
// permission, every permission that may write them. Other properties take
// generalWritePerms.
var propertyWritePerms = map[string][]string{
	"accountEnabled":  append([]string{PermUserEnableDisableAccount}, generalWritePerms...),
	"passwordProfile": append([]string{PermUserPasswordProfileRWAll}, generalWritePerms...),
	"otherMails":      append([]string{PermUserMailReadWriteAll}, generalWritePerms...),
	"businessPhones":  append([]string{PermUserPhoneReadWriteAll}, generalWritePerms...),
	"mobilePhone":     append([]string{PermUserPhoneReadWriteAll}, generalWritePerms...),
	// User.ManageIdentities.All is required for identities
	// (https://learn.microsoft.com/graph/api/user-update#permissions).
	"identities": {PermUserManageIdentitiesAll},
}

// WritePermissions returns the permissions any one of which lets a caller
// write property name (subject, for delegated callers, to their roles).
func WritePermissions(name string) []string {
	if p, ok := propertyWritePerms[name]; ok {
		return p
	}
	return generalWritePerms
}

// isSensitive reports whether writing name is a sensitive action (5.4),
// whose allowed targets depend on the target's roles. identities (the
// sign-in names of a customer) are treated as sensitive: changing them hands
// over the account.
func isSensitive(name string) bool {
	if name == "identities" {
		return true
	}
	p, ok := LookupProperty(name)
	return ok && p.Sensitive && p.Type != TypePasswordProfile
}

// ReadLevel is how much of other users a caller may read.
type ReadLevel uint8

// The read levels.
const (
	ReadNone  ReadLevel = iota // only their own profile (delegated) or nothing (app)
	ReadBasic                  // the basic profile of every user (User.ReadBasic.All)
	ReadFull                   // every readable property of every user
)

// Access is what one caller may do, computed once per request: the token's
// permissions and, for a signed-in user, the directory roles assigned to
// that user (read from the store, never from the token).
type Access struct {
	P     *Principal
	Roles []*RoleDefinition
	// RoleIDs are the ids of Roles, for messages and guards.
	RoleIDs []string
}

// accessCache holds one request's Access; WithPrincipal installs an empty
// one so that the edge's early check and the Service share one role lookup.
type accessCache struct {
	once sync.Once
	a    *Access
	err  error
}

type accessKey struct{}

// withAccessCache returns ctx with an empty Access cache.
func withAccessCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, accessKey{}, &accessCache{})
}

// Access returns the caller's Access. Delegated callers' roles come from
// the store in one indexed query, at most once per request.
func (s *Service) Access(ctx context.Context) (*Access, error) {
	return s.accessOf(ctx, PrincipalFrom(ctx))
}

// accessOf is Access for a caller the method has already resolved.
func (s *Service) accessOf(ctx context.Context, p *Principal) (*Access, error) {
	if p == nil {
		return nil, Errorf(KindUnauthenticated, "Access token is empty.")
	}
	load := func() (*Access, error) {
		a := &Access{P: p}
		if !p.IsUser() || !IsGUID(p.UserID) {
			return a, nil
		}
		ids, err := s.store.UserRoles(ctx, p.TenantID, normalizeGUID(p.UserID))
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if r, ok := LookupRole(id); ok {
				a.Roles = append(a.Roles, r)
				a.RoleIDs = append(a.RoleIDs, r.ID)
			}
		}
		return a, nil
	}
	c, _ := ctx.Value(accessKey{}).(*accessCache)
	if c == nil {
		return load()
	}
	c.once.Do(func() { c.a, c.err = load() })
	return c.a, c.err
}

// has reports whether any of the caller's roles has the capability f.
func (a *Access) has(f func(*RoleDefinition) bool) bool {
	return slices.ContainsFunc(a.Roles, f)
}

// ReadLevel returns how much of other users the caller may read.
func (a *Access) ReadLevel() ReadLevel {
	p := a.P
	switch {
	case p.IsApp():
		if p.Has(fullReadPerms...) {
			return ReadFull
		}
		if p.Has(basicReadPerms...) {
			return ReadBasic
		}
	case p.IsUser():
		if !a.has(func(r *RoleDefinition) bool { return r.ReadDirectory }) {
			return ReadNone
		}
		if p.Has(fullReadPerms...) {
			return ReadFull
		}
		if p.Has(PermUserReadBasicAll) {
			return ReadBasic
		}
	}
	return ReadNone
}

// rolesWith returns the display names of built-in roles with capability f,
// for messages.
func rolesWith(f func(*RoleDefinition) bool) string {
	var names []string
	for _, r := range roleDefinitions {
		if f(r) {
			names = append(names, r.DisplayName)
		}
	}
	return strings.Join(names, ", ")
}

// errNeedsRole is the 403 for a delegated caller whose token carries a
// sufficient scope but whose roles do not allow the action. There is no
// insufficient_scope challenge: another token would not help.
func (a *Access) errNeedsRole(action string, f func(*RoleDefinition) bool) *Error {
	held := "no directory role"
	if len(a.RoleIDs) > 0 {
		names := make([]string, len(a.RoleIDs))
		for i, id := range a.RoleIDs {
			names[i] = RoleName(id)
		}
		held = "the directory roles " + strings.Join(names, ", ")
	}
	msg := "Insufficient privileges to complete the operation. " + action + " needs one of the directory roles " +
		rolesWith(f) + "; the signed-in user holds " + held + "."
	if len(a.RoleIDs) == 0 {
		msg += " A user without a directory role may read and change only their own profile (" +
			strings.Join(SelfServiceProperties(), ", ") + ")."
	}
	return &Error{Kind: KindForbidden, Message: msg}
}

// errNeedsPermission is the 403 for a missing permission; the edge turns
// Scope into WWW-Authenticate: ... error="insufficient_scope".
func errNeedsPermission(action string, perms []string) *Error {
	return &Error{Kind: KindForbidden, Scope: perms,
		Message: "Insufficient privileges to complete the operation. " + action + " needs one of the permissions " +
			strings.Join(perms, ", ") + "."}
}

func canRead(r *RoleDefinition) bool      { return r.ReadDirectory }
func canCreate(r *RoleDefinition) bool    { return r.CreateUsers }
func canUpdate(r *RoleDefinition) bool    { return r.UpdateUsers }
func canDelete(r *RoleDefinition) bool    { return r.DeleteUsers }
func canManage(r *RoleDefinition) bool    { return r.ManageRoles }
func canSensitive(r *RoleDefinition) bool { return r.Sensitive != nil }
func canPassword(r *RoleDefinition) bool  { return r.Passwords != nil }

// CheckOperation applies the role half of the operation-level check: what a
// delegated caller's roles allow at all, before any parsing or data access.
// Authorize has already checked the token's permissions. Operations that may
// address the caller's own profile pass here and are decided per target.
func (a *Access) CheckOperation(op Operation) error {
	if !a.P.IsUser() {
		return nil
	}
	switch op {
	case OpListUsers:
		if !a.has(canRead) {
			return a.errNeedsRole("Listing users", canRead)
		}
		if a.ReadLevel() == ReadNone {
			return errNeedsPermission("Listing users", delegatedPermissions[OpListUsers])
		}
	case OpCreateUser:
		if !a.has(canCreate) {
			return a.errNeedsRole("Creating users", canCreate)
		}
		if !a.P.Has(createPerms...) {
			return errNeedsPermission("Creating users", createPerms)
		}
	case OpDeleteUser:
		if !a.has(canDelete) {
			return a.errNeedsRole("Deleting users", canDelete)
		}
	case OpReadRoles:
		if !a.has(canRead) {
			return a.errNeedsRole("Reading directory roles", canRead)
		}
	case OpWriteRoles:
		if !a.has(canManage) {
			return a.errNeedsRole("Managing role assignments", canManage)
		}
	case OpListDeletedUsers:
		if !a.has(canRead) {
			return a.errNeedsRole("Reading deleted users", canRead)
		}
	case OpRestoreUser:
		if !a.has(canDelete) {
			return a.errNeedsRole("Restoring or permanently deleting users", canDelete)
		}
	}
	return nil
}

// AuthorizeOperation is the edge's early check: the token's permissions
// (Authorize) and, for a signed-in user, what their roles allow at all.
// It reads the caller's roles once; the Service reuses them.
func (s *Service) AuthorizeOperation(ctx context.Context, op Operation) error {
	p := PrincipalFrom(ctx)
	if err := Authorize(p, op); err != nil {
		return err
	}
	if !p.IsUser() {
		return nil
	}
	a, err := s.accessOf(ctx, p)
	if err != nil {
		return err
	}
	return a.CheckOperation(op)
}

// access is accessFor the context's caller, for the Service's reads.
func (s *Service) access(ctx context.Context, op Operation) (*Access, error) {
	return s.accessFor(ctx, PrincipalFrom(ctx), op)
}

// accessFor is the access decision of op by p, made once at the top of a
// Service method: the token's permissions (Authorize), the caller's roles
// (read at most once per request) and what they allow (CheckOperation).
func (s *Service) accessFor(ctx context.Context, p *Principal, op Operation) (*Access, error) {
	if err := Authorize(p, op); err != nil {
		return nil, err
	}
	a, err := s.accessOf(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := a.CheckOperation(op); err != nil {
		return nil, err
	}
	return a, nil
}

// union returns the targets any of the lists allows; anyTarget wins.
func union(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		if slices.Equal(l, anyTarget) {
			return anyTarget
		}
		for _, id := range l {
			if !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// intersect returns the targets both lists allow; nil means "no
// restriction yet" for a, so intersect(nil, b) is b.
func intersect(a, b []string) []string {
	switch {
	case a == nil:
		return b
	case slices.Equal(a, anyTarget):
		return b
	case slices.Equal(b, anyTarget):
		return a
	}
	var out []string
	for _, id := range a {
		if slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// appTargets is the reach of application-only callers on sensitive
// actions: a User Administrator's (Graph: "app-only: permission and at
// least User Administrator role on the app",
// https://learn.microsoft.com/graph/api/user-update#permissions). Apps never
// reset the password of, change the sign-in of, or delete a Global,
// Privileged Authentication, Privileged Role or Authentication Administrator.
var appTargets = userAdminTier

// WritePlan is the outcome of checking a write on another user: allowed,
// and the guard the store must apply (nil: none).
type WritePlan struct {
	Guard *TargetGuard
}

// CheckUpdate decides whether the caller may write the named properties of
// another user (or of themselves with administrator rights) before any data
// is touched: the token's permissions per property, then, for delegated
// callers, their roles. Sensitive properties, identities and passwords make
// the write conditional on the target's roles (the returned guard).
func (a *Access) CheckUpdate(names []string) (*WritePlan, error) {
	p := a.P
	var allowed []string // nil: no target restriction
	restrict := func(t []string) { allowed = intersect(allowed, t) }
	slices.Sort(names)
	for _, name := range names {
		perms := WritePermissions(name)
		if !p.Has(perms...) {
			return nil, errNeedsPermission("Updating property '"+name+"'", perms).WithTarget(name)
		}
		if name == "accountEnabled" && !p.Has(generalWritePerms...) && !p.Has(PermUserReadAll, PermDirectoryReadAll) {
			// 5.2: User.EnableDisableAccount.All works together with User.Read.All.
			return nil, (&Error{Kind: KindForbidden, Scope: []string{PermUserReadAll},
				Message: "Insufficient privileges to complete the operation. Updating property 'accountEnabled' with " +
					PermUserEnableDisableAccount + " needs the permissions " + PermUserEnableDisableAccount + " and " +
					PermUserReadAll + " together."}).WithTarget(name)
		}
		switch {
		case p.IsApp():
			if name == "passwordProfile" || isSensitive(name) {
				restrict(appTargets)
			}
		case name == "passwordProfile":
			if !a.has(canPassword) {
				return nil, a.errNeedsRole("Resetting a password", canPassword).WithTarget(name)
			}
			var lists [][]string
			for _, r := range a.Roles {
				lists = append(lists, r.Passwords)
			}
			restrict(union(lists...))
		case isSensitive(name):
			if !a.has(canSensitive) {
				return nil, a.errNeedsRole("Updating the sensitive property '"+name+"'", canSensitive).WithTarget(name)
			}
			var lists [][]string
			for _, r := range a.Roles {
				lists = append(lists, r.Sensitive)
			}
			restrict(union(lists...))
		default:
			if !a.has(canUpdate) {
				return nil, a.errNeedsRole("Updating property '"+name+"'", canUpdate).WithTarget(name)
			}
		}
	}
	plan := &WritePlan{}
	if allowed != nil && !slices.Equal(allowed, anyTarget) {
		plan.Guard = a.guard(allowed, "change the sensitive properties or reset the password of")
	}
	return plan, nil
}

// CheckDelete decides whether the caller may delete another user; the
// guard limits it to the targets the caller's roles (or an app's reach)
// allow.
func (a *Access) CheckDelete() (*WritePlan, error) {
	var allowed []string
	if a.P.IsApp() {
		allowed = appTargets
	} else {
		var lists [][]string
		for _, r := range a.Roles {
			if r.DeleteUsers {
				lists = append(lists, r.Sensitive)
			}
		}
		allowed = union(lists...)
	}
	plan := &WritePlan{}
	if !slices.Equal(allowed, anyTarget) {
		plan.Guard = a.guard(allowed, "delete")
	}
	return plan, nil
}

// guard builds the TargetGuard for allowed, whose denial names the
// target's roles and who could act on them.
func (a *Access) guard(allowed []string, verb string) *TargetGuard {
	caller := "An application"
	if a.P.IsUser() {
		caller = "The signed-in user"
		if len(a.RoleIDs) > 0 {
			names := make([]string, len(a.RoleIDs))
			for i, id := range a.RoleIDs {
				names[i] = RoleName(id)
			}
			caller = "A " + strings.Join(names, " and ")
		}
	}
	return &TargetGuard{
		Allowed: slices.Clone(allowed),
		Denied: func(targetRoles []string) error {
			var blocking []string
			for _, id := range targetRoles {
				if !slices.Contains(allowed, id) {
					blocking = append(blocking, RoleName(id))
				}
			}
			return &Error{Kind: KindForbidden, Message: "Insufficient privileges to complete the operation. " +
				caller + " may not " + verb + " a user who holds the directory role " + strings.Join(blocking, ", ") +
				"; a Privileged Authentication Administrator or Global Administrator can."}
		},
	}
}

// RedactBasic returns a copy of u with only the basic profile
// (https://learn.microsoft.com/graph/api/resources/users#user-basic-profile-properties)
// set; every other property reads as null (or []).
func RedactBasic(u *User) *User {
	out := &User{ID: u.ID, TenantID: u.TenantID, Identities: []Identity{}, Version: u.Version}
	for _, p := range userProperties {
		if p.Basic && p.Name != "id" {
			p.set(out, p.Value(u))
		}
	}
	return out
}

// CheckBasicQuery refuses a query that filters, sorts or searches on a
// property outside the basic profile, so that hidden values cannot be
// guessed from which users match (403 naming the property).
func CheckBasicQuery(q ListQuery) error {
	for _, name := range ReferencedProperties(q) {
		if p, ok := LookupProperty(name); ok && p.Basic {
			continue
		}
		if _, ok := LookupPropertyFold(name); !ok && !IsExtensionName(name) {
			// Unknown names are the store's to refuse (400 naming them).
			continue
		}
		return (&Error{Kind: KindForbidden, Scope: fullReadPerms,
			Message: "Insufficient privileges to complete the operation. With " + PermUserReadBasicAll +
				" a query may filter, sort and search only on the basic profile (" + strings.Join(basicPropertyNames(), ", ") +
				"); '" + name + "' needs one of the permissions " + strings.Join(fullReadPerms, ", ") + "."}).WithTarget(name)
	}
	return nil
}

func basicPropertyNames() []string {
	var out []string
	for _, p := range userProperties {
		if p.Basic {
			out = append(out, p.Name)
		}
	}
	return out
}

// opNames names each operation in denial messages.
var opNames = map[Operation]string{
	OpListUsers:  "Listing users",
	OpReadUser:   "Reading a user",
	OpReadSelf:   "Reading the signed-in user",
	OpCreateUser: "Creating users",
	OpUpdateUser: "Updating a user",
	OpUpdateSelf: "Updating the signed-in user",
	OpDeleteUser: "Deleting users",
	OpReadRoles:  "Reading directory roles",
	OpWriteRoles: "Managing role assignments",

	OpListDeletedUsers: "Reading deleted users",
	OpRestoreUser:      "Restoring or permanently deleting users",
}

// trim applies the caller's read level to a user read from the store:
// with User.ReadBasic.All only the basic profile of other users is shown;
// the signed-in user always sees their own full profile.
func (a *Access) trim(u *User) *User {
	if u == nil || a.ReadLevel() != ReadBasic || a.isSelf(u.ID) {
		return u
	}
	return RedactBasic(u)
}

// isSelf reports whether id is the signed-in user's own object id.
func (a *Access) isSelf(id string) bool {
	return a.P.IsUser() && IsGUID(a.P.UserID) && normalizeGUID(a.P.UserID) == id
}

// readUser serves GetUser once the operation is authorised: callers that
// may read the directory read any user of their tenant (trimmed to their
// level); everyone else only themselves, with the same 403 whether or not
// another user exists.
func (s *Service) readUser(ctx context.Context, a *Access, k UserKey) (*User, error) {
	if a.P.IsUser() && a.ReadLevel() == ReadNone {
		return s.self(ctx, a.P, k)
	}
	u, err := s.store.GetUser(ctx, a.P.TenantID, k)
	if err != nil {
		return nil, err
	}
	return a.trim(u), nil
}

// trimPage applies trim to every user of a page.
func (a *Access) trimPage(page *Page) *Page {
	if page == nil || a.ReadLevel() != ReadBasic {
		return page
	}
	for i, u := range page.Users {
		page.Users[i] = a.trim(u)
	}
	return page
}

// checkListQuery is the caller-dependent rule on what a listing or count
// may touch: with only the basic profile readable, only basic properties
// may be filtered, sorted or searched on.
func (a *Access) checkListQuery(q ListQuery) error {
	if a.ReadLevel() == ReadBasic {
		return CheckBasicQuery(q)
	}
	return nil
}

// selfService reports whether a delegated PATCH of k goes the self-service
// way (5.5): always for a user without administrative write rights, and for
// an administrator addressing their own object id with self-service
// properties only.
func (a *Access) selfService(k UserKey, values map[string]any) bool {
	if !a.P.IsUser() {
		return false
	}
	if !a.has(func(r *RoleDefinition) bool { return r.UpdateUsers || r.Sensitive != nil || r.Passwords != nil }) {
		return true
	}
	if k.ID == "" || !a.isSelf(k.ID) {
		return false
	}
	for name := range values {
		if p, ok := LookupProperty(name); !ok || !p.SelfService {
			return false
		}
	}
	return true
}

// writtenProperties are the properties a PATCH writes, for the permission
// check: its keys, plus userPrincipalName when identities carry a
// userPrincipalName identity (which sets it).
func writtenProperties(values map[string]any) []string {
	names := make([]string, 0, len(values)+1)
	for name := range values {
		names = append(names, name)
	}
	if ids, ok := values["identities"].([]Identity); ok {
		for _, id := range ids {
			if strings.EqualFold(id.SignInType, "userPrincipalName") && !slices.Contains(names, "userPrincipalName") {
				names = append(names, "userPrincipalName")
			}
		}
	}
	return names
}
