package directory

import "slices"

// Operation is an action on the users API that needs a permission.
type Operation uint8

// The operations. Self operations address the caller's own user (/me, or
// /users/{own id}).
const (
	OpListUsers Operation = iota + 1
	OpReadUser
	OpReadSelf
	OpCreateUser
	OpUpdateUser
	OpUpdateSelf
	OpDeleteUser
	// OpReadRoles reads role definitions and role assignments.
	OpReadRoles
	// OpWriteRoles creates and deletes role assignments.
	OpWriteRoles
	// OpListDeletedUsers lists, counts and reads deleted items (deleted.go).
	OpListDeletedUsers
	// OpRestoreUser restores or permanently deletes a deleted user.
	OpRestoreUser
)

// Graph permission names graphdir understands.
const (
	PermUserRead              = "User.Read"
	PermUserReadWrite         = "User.ReadWrite"
	PermUserReadBasicAll      = "User.ReadBasic.All"
	PermUserReadAll           = "User.Read.All"
	PermUserReadWriteAll      = "User.ReadWrite.All"
	PermDirectoryReadAll      = "Directory.Read.All"
	PermDirectoryReadWriteAll = "Directory.ReadWrite.All"
)

// appPermissions lists, per operation, the application permissions (roles)
// any one of which allows it. /me operations are absent: they need a user.
// Per-property rules (authz.go) narrow updates further.
var appPermissions = map[Operation][]string{
	OpListUsers:  appReadPerms,
	OpReadUser:   appReadPerms,
	OpCreateUser: createPerms,
	OpUpdateUser: updatePerms,
	OpDeleteUser: deletePerms,
	OpReadRoles:  roleReadPerms,
	OpWriteRoles: roleWritePerms,

	OpListDeletedUsers: deletedReadPerms,
	OpRestoreUser:      deletePerms,
}

// delegatedPermissions lists, per operation, the delegated scopes any one of
// which lets a signed-in user attempt it. A scope never exceeds what the user
// may do: the user's directory roles decide next (Access.CheckOperation), and
// a customer (a user with no directory role) can only ever reach their own
// user, whatever scopes the token carries.
var delegatedPermissions = map[Operation][]string{
	OpReadSelf:   selfReadScopes,
	OpReadUser:   selfReadScopes,
	OpListUsers:  append([]string{PermUserReadBasicAll}, fullReadPerms...),
	OpUpdateSelf: selfWriteScopes,
	OpUpdateUser: append(slices.Clone(selfWriteScopes), updatePerms...),
	OpCreateUser: createPerms,
	OpDeleteUser: deletePerms,
	OpReadRoles:  roleReadPerms,
	OpWriteRoles: roleWritePerms,

	OpListDeletedUsers: deletedReadPerms,
	OpRestoreUser:      deletePerms,
}

// Authorize checks that p may attempt op at all. It needs no data, so the
// edge calls it before parsing anything; object- and property-level rules
// follow in Service. Returns KindUnauthenticated without a principal,
// KindBadRequest for /me with an app token, KindForbidden (with the
// permissions that would have sufficed) otherwise.
func Authorize(p *Principal, op Operation) error {
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case p.IsApp():
		if op == OpReadSelf || op == OpUpdateSelf {
			return Errorf(KindBadRequest, "/me request is only valid with delegated authentication flow.")
		}
		if perms := appPermissions[op]; p.Has(perms...) {
			return nil
		}
		return errNeedsPermission(opNames[op], appPermissions[op])
	case p.IsUser():
		// Only the token's scopes here: whether the user's roles allow op
		// (and, for a key, whether it is their own) is decided next, by
		// Access.CheckOperation and the Service, before any data is read
		// that could reveal whether someone else exists.
		if perms := delegatedPermissions[op]; p.Has(perms...) {
			return nil
		}
		return errNeedsPermission(opNames[op], delegatedPermissions[op])
	}
	return Errorf(KindUnauthenticated, "Access token validation failure.")
}

// SelfServiceProperties lists what a customer may change on their own profile.
func SelfServiceProperties() []string {
	var out []string
	for _, p := range userProperties {
		if p.SelfService {
			out = append(out, p.Name)
		}
	}
	return out
}
