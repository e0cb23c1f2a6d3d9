package directory

import (
	"context"
	"time"
)

// UserKey addresses one user by object id or by userPrincipalName.
// Exactly one of the fields is set.
type UserKey struct {
	ID  string
	UPN string
}

// ParseUserKey reads a path segment as Graph does: a GUID is an object id,
// anything else a userPrincipalName (matched case-insensitively).
func ParseUserKey(s string) UserKey {
	if IsGUID(s) {
		return UserKey{ID: normalizeGUID(s)}
	}
	return UserKey{UPN: s}
}

func (k UserKey) String() string {
	if k.ID != "" {
		return k.ID
	}
	return k.UPN
}

// UserPatch holds the properties a create or update sets, by property name.
// Values are as returned by Property.Decode after the service has checked
// them: *string and *bool (nil clears), []string, []Identity. A password is
// never in a patch; the service replaces it by PasswordHash.
type UserPatch struct {
	Values map[string]any
	// Password, when non-nil, replaces the stored password state.
	Password *PasswordState
	// PasswordChangedAt is set with Password.
	PasswordChangedAt time.Time
}

// ListQuery is what a caller asks of GET /users after the edge has parsed the
// query options. Later query features (filter, order, search) extend it.
type ListQuery struct {
	// Top is the page size, 1..999.
	Top int
	// AfterID continues a listing after the user with this id (keyset paging).
	AfterID string
}

// Page is one page of a listing. NextAfterID is empty on the last page.
type Page struct {
	Users       []*User
	NextAfterID string
}

// Store persists tenants and users. Every method is scoped to one tenant.
// Implementations translate their own errors into *Error kinds at their edge.
type Store interface {
	// EnsureTenant returns the tenant with the given id, creating it with
	// the given default domain when it does not exist. Safe to call
	// concurrently from several instances.
	EnsureTenant(ctx context.Context, t Tenant) (*Tenant, error)
	// DefaultTenant returns the oldest tenant. KindNotFound when none exists.
	DefaultTenant(ctx context.Context) (*Tenant, error)
	// Tenant returns one tenant. KindNotFound when it does not exist.
	Tenant(ctx context.Context, id string) (*Tenant, error)

	// CreateUser inserts u with its identities in one transaction.
	// KindConflict (ErrConflict) when userPrincipalName or an identity is taken.
	CreateUser(ctx context.Context, u *User) error
	// GetUser returns one user. KindNotFound when there is none.
	GetUser(ctx context.Context, tenantID string, key UserKey) (*User, error)
	// ListUsers returns one page in id order.
	ListUsers(ctx context.Context, tenantID string, q ListQuery) (*Page, error)
	// UpdateUser applies patch atomically and returns the updated user.
	// KindNotFound, KindConflict.
	UpdateUser(ctx context.Context, tenantID string, key UserKey, patch UserPatch) (*User, error)
	// DeleteUser removes a user. KindNotFound.
	DeleteUser(ctx context.Context, tenantID string, key UserKey) error
}
