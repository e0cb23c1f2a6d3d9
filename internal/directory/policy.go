package directory

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
var appPermissions = map[Operation][]string{
	OpListUsers:  {PermUserReadAll, PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll},
	OpReadUser:   {PermUserReadAll, PermUserReadWriteAll, PermDirectoryReadAll, PermDirectoryReadWriteAll},
	OpCreateUser: {PermUserReadWriteAll, PermDirectoryReadWriteAll},
	OpUpdateUser: {PermUserReadWriteAll, PermDirectoryReadWriteAll},
	OpDeleteUser: {PermUserReadWriteAll, PermDirectoryReadWriteAll},
}

// delegatedPermissions lists, per operation, the delegated scopes any one of
// which lets a signed-in user attempt it. A scope never exceeds what the user
// may do: a customer (a user with no directory role) can only ever reach
// their own user, whatever scopes the token carries.
var delegatedPermissions = map[Operation][]string{
	OpReadSelf: {PermUserRead, PermUserReadWrite, PermUserReadBasicAll, PermUserReadAll, PermUserReadWriteAll,
		PermDirectoryReadAll, PermDirectoryReadWriteAll},
	OpUpdateSelf: {PermUserReadWrite, PermUserReadWriteAll, PermDirectoryReadWriteAll},
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
		return ErrInsufficientPrivileges(appPermissions[op]...)
	case p.IsUser():
		switch op {
		case OpReadUser:
			// A user may read a user by key only when the key is their
			// own; Service checks which, so a 403 never reveals whether
			// someone else exists.
			op = OpReadSelf
		case OpUpdateUser:
			op = OpUpdateSelf
		}
		if perms := delegatedPermissions[op]; len(perms) > 0 && p.Has(perms...) {
			return nil
		}
		if perms := delegatedPermissions[op]; len(perms) > 0 {
			return ErrInsufficientPrivileges(perms...)
		}
		return ErrInsufficientPrivileges(appPermissions[op]...)
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
