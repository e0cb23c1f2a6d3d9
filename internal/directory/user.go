package directory

import "time"

// User is a directory user. Nullable scalar properties are pointers so that
// "unset" (JSON null) differs from the empty string; collections are never
// reported as null, an unset one reads as [].
type User struct {
	ID       string
	TenantID string

	AccountEnabled          *bool
	AgeGroup                *string
	BusinessPhones          []string
	City                    *string
	CompanyName             *string
	ConsentProvidedForMinor *string
	Country                 *string
	CreatedDateTime         *time.Time
	CreationType            *string
	Department              *string
	DisplayName             *string
	EmployeeID              *string
	EmployeeType            *string
	FaxNumber               *string
	GivenName               *string
	Identities              []Identity
	JobTitle                *string
	Mail                    *string
	MailNickname            *string
	MobilePhone             *string
	OfficeLocation          *string
	OtherMails              []string
	PasswordPolicies        *string
	PostalCode              *string
	PreferredLanguage       *string
	ProxyAddresses          []string
	State                   *string
	StreetAddress           *string
	Surname                 *string
	UsageLocation           *string
	UserPrincipalName       *string
	UserType                *string

	LastPasswordChangeDateTime *time.Time
	// SignInSessionsValidFromDateTime is Graph's read-only session
	// boundary: refresh tokens and delegated access tokens of the built-in
	// issuer issued before it are refused.
	SignInSessionsValidFromDateTime *time.Time

	// Props holds, by Graph name, the values of the stored properties
	// that have no field above: a property added as one row of
	// userProperties (properties.go) and of the store's table, without a
	// field of its own. Values are in the form Property.Value returns
	// (*string, *bool, *time.Time, []string); nil when no such property
	// has a value.
	Props map[string]any

	// Extensions are directory extension values (extensions.go): written
	// by CreateUser, read only when the caller selects them.
	Extensions []ExtensionValue

	// DeletedDateTime is when the user was moved to deleted items; nil for
	// a live user (deleted.go).
	DeletedDateTime *time.Time
	// Version increases with every write; the edge shows it as the ETag
	// W/"<version>" and @odata.etag (etag.go).
	Version int64

	// Password holds the write-only password state. It never leaves the
	// server: no property accessor returns it.
	Password PasswordState
}

// Identity is one sign-in identity (Graph's objectIdentity).
type Identity struct {
	SignInType       string `json:"signInType"`
	Issuer           string `json:"issuer"`
	IssuerAssignedID string `json:"issuerAssignedId"`
}

// PasswordProfile is the write-only passwordProfile property as a client sends it.
type PasswordProfile struct {
	Password                             *string `json:"password"`
	ForceChangePasswordNextSignIn        *bool   `json:"forceChangePasswordNextSignIn"`
	ForceChangePasswordNextSignInWithMfa *bool   `json:"forceChangePasswordNextSignInWithMfa"`
}

// PasswordState is what is stored of a password: its hash, never the password.
type PasswordState struct {
	Hash                                 string
	ForceChangePasswordNextSignIn        bool
	ForceChangePasswordNextSignInWithMfa bool
}

// Tenant is one directory. Every user belongs to exactly one tenant, and
// every query is scoped to the caller's.
type Tenant struct {
	ID            string
	DisplayName   string
	DefaultDomain string
	// Domains are the verified domains a userPrincipalName may use.
	Domains   []string
	CreatedAt time.Time
	// HideUserNotFound is the tenant's choice whether native
	// authentication answers an unknown username as if the account existed
	// (no user_not_found); nil: the deployment's default
	// (GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND).
	HideUserNotFound *bool
}

// HasDomain reports whether d is one of the tenant's verified domains,
// compared case-insensitively as the directory does.
func (t *Tenant) HasDomain(d string) bool {
	for _, have := range t.Domains {
		if equalFoldASCII(have, d) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// AllIdentities returns the stored identities followed by the
// userPrincipalName identity, which Graph reports for every user and
// graphdir derives from userPrincipalName instead of storing it.
func (u *User) AllIdentities() []Identity {
	out := make([]Identity, 0, len(u.Identities)+1)
	out = append(out, u.Identities...)
	if u.UserPrincipalName != nil {
		upn := *u.UserPrincipalName
		domain := upn
		for i := len(upn) - 1; i >= 0; i-- {
			if upn[i] == '@' {
				domain = upn[i+1:]
				break
			}
		}
		out = append(out, Identity{SignInType: "userPrincipalName", Issuer: domain, IssuerAssignedID: upn})
	}
	return out
}
