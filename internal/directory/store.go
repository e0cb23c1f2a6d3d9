package directory

import (
	"context"
	"time"

	"github.com/graphdir/graphdir/pkg/odata"
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
	// Guard, when set, makes the update conditional on the target's
	// directory roles, checked in the same statement (authz.go).
	Guard *TargetGuard
	// Extensions are the extension values to set (null ones removed), in
	// the same transaction (extensions.go).
	Extensions []ExtensionValue
	// IfVersion, when non-zero, makes the update conditional on the
	// user's version, in the same statement (If-Match, etag.go):
	// KindPreconditionFailed when it has changed.
	IfVersion int64
	// Audit, when non-nil, is the write's audit event: the store resolves
	// its user target, records old and new values and stores it in the
	// update's transaction.
	Audit *AuditEvent
}

// ListQuery is what a caller asks of GET /users after the edge has parsed
// the query options. Filter, Search and OrderBy are syntax trees: the store
// resolves every property through its allow-list, type-checks and refuses
// what it cannot answer from an index (KindUnsupported, Graph's
// Request_UnsupportedQuery, naming the property or operator).
type ListQuery struct {
	// Filter is the parsed $filter, nil for none.
	Filter odata.Expr
	// Search is the parsed $search, nil for none.
	Search odata.SearchExpr
	// OrderBy is the parsed $orderby; ties are always broken by id.
	OrderBy []odata.OrderItem
	// Top is the page size, 1..999.
	Top int
	// Skip skips that many matches before the first page (beyond Graph).
	Skip int
	// Count asks for the total number of matches in Page.Count.
	Count bool
	// After continues a listing after the row the cursor describes
	// (keyset paging; nil for the first page).
	After *Cursor
	// Extensions are the tenant's definitions of the extension properties
	// Filter and OrderBy name, by lower-cased name (the Service fills it).
	Extensions map[string]*ExtensionProperty
	// Deleted lists deleted items (users with deletedDateTime set, where
	// deletedDateTime may be filtered and sorted on) instead of live users.
	Deleted bool
}

// Cursor is the position of the last row of a page: its sort-key values
// (text form, nil for null, in OrderBy order) and its id. The edge carries it
// in an HMAC-protected $skiptoken bound to the query it came from.
type Cursor struct {
	Keys []*string `json:"k,omitempty"`
	ID   string    `json:"id"`
}

// Page is one page of a listing. Next is nil on the last page; Count is set
// when the query asked for it.
type Page struct {
	Users []*User
	Next  *Cursor
	Count *int64
}

// Store is everything the domain persists: tenants and users here, and
// every other capability embedded below, so that a Service or Applications
// built over a Store can use all of them without asking (as Kratos's
// Persister does). internal/store/postgres checks that it implements it
// (var _ directory.Store = (*Store)(nil)); a test fake embeds Store and
// overrides only the methods its test reaches. Every method is scoped to
// one tenant. Implementations translate their own errors into *Error kinds
// at their edge.
//
// Audited writes take their *AuditEvent as a parameter (nil: not audited):
// the store writes it in the write's own transaction and marks it
// persisted, so a change and its event commit together (audit.go).
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
	// audit (nil: none) is stored in the insert's transaction.
	CreateUser(ctx context.Context, u *User, audit *AuditEvent) error
	// GetUser returns one user. KindNotFound when there is none.
	GetUser(ctx context.Context, tenantID string, key UserKey) (*User, error)
	// ListUsers returns one page of the users q matches, in q's order.
	// KindUnsupported / KindInvalid for queries it refuses.
	ListUsers(ctx context.Context, tenantID string, q ListQuery) (*Page, error)
	// CountUsers counts the users q's Filter and Search match (Top, Skip,
	// OrderBy and After are ignored).
	CountUsers(ctx context.Context, tenantID string, q ListQuery) (int64, error)
	// UpdateUser applies patch atomically and returns the updated user.
	// KindNotFound, KindConflict.
	UpdateUser(ctx context.Context, tenantID string, key UserKey, patch UserPatch) (*User, error)
	// DeleteUser removes a user. KindNotFound. A guard makes the delete
	// conditional on the target's directory roles, in the same statement.
	DeleteUser(ctx context.Context, tenantID string, key UserKey, guard ...*TargetGuard) error

	TenantStore
	RoleStore
	DeletedStore
	ExtensionStore
	PasswordStore
	DeltaStore
	ApplicationStore
	AuditLog
	KeyStore
	UserFlowStore // userflows.go
	RefreshTokenStore
	SignInLog
	BrandingStore // branding.go
}
