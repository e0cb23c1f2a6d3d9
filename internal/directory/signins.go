package directory

import (
	"context"
	"slices"
	"time"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// SignIn is one credential-checking outcome, Graph's signIn resource
// (auditLogs/signIns) in the subset graphdir records.
type SignIn struct {
	ID              string
	TenantID        string
	CreatedDateTime time.Time
	// UserID is empty when no account matched the name (the name typed
	// is then in UserPrincipalName, as Entra logs it).
	UserID            string
	UserPrincipalName string
	UserDisplayName   string
	AppID             string
	AppDisplayName    string
	IPAddress         string
	ClientAppUsed     string
	// ErrorCode is Entra's (SignInErrorCode*): 0 for success.
	ErrorCode         int
	FailureReason     string
	AdditionalDetails string
	// AuthenticationRequirement is singleFactorAuthentication or
	// multiFactorAuthentication.
	AuthenticationRequirement string
	IsInteractive             bool
	CorrelationID             string
}

// Entra's sign-in error codes graphdir logs (status.errorCode of signIn;
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes).
const (
	SignInSuccess             = 0
	SignInErrorBadCredentials = 50126 // invalid username or password
	SignInErrorUserNotFound   = 50034 // the account does not exist in the directory
	SignInErrorLocked         = 50053 // locked (smart lockout), or blocked for the source's request rate
	SignInErrorDisabled       = 50057 // the account is disabled
)

// Authentication requirements of a signIn.
const (
	SingleFactorAuthentication = "singleFactorAuthentication"
	MultiFactorAuthentication  = "multiFactorAuthentication"
)

// SignInQuery selects sign-ins, newest first.
type SignInQuery struct {
	// From and To bound createdDateTime (strict with the Exclusive flags).
	From, To                   *time.Time
	FromExclusive, ToExclusive bool
	// UserID, UserPrincipalName (ignoring case) and AppID match exactly
	// when set; ErrorCode when not nil.
	UserID            string
	UserPrincipalName string
	AppID             string
	ErrorCode         *int
	// Ascending lists oldest first.
	Ascending bool
	// Top is the page size, 1..999.
	Top int
	// After continues after the sign-in the cursor names.
	After *AuditCursor
}

// SignInPage is one page of sign-ins; Next is nil on the last page.
type SignInPage struct {
	SignIns []*SignIn
	Next    *AuditCursor
}

// SignInLog stores sign-ins and finds the account a sign-in name names.
// Every method is scoped to one tenant, PruneSignIns aside.
type SignInLog interface {
	// RecordSignIn stores si. When it is a success of a user, the user's
	// signInActivity is updated in the same transaction.
	RecordSignIn(ctx context.Context, si *SignIn) error
	// ListSignIns returns one page of the tenant's sign-ins q selects.
	ListSignIns(ctx context.Context, tenantID string, q SignInQuery) (*SignInPage, error)
	// GetSignIn returns one sign-in; KindNotFound.
	GetSignIn(ctx context.Context, tenantID, id string) (*SignIn, error)
	// PruneSignIns deletes the sign-ins (of every tenant) created before
	// cutoff, returning how many; safe with several instances.
	PruneSignIns(ctx context.Context, cutoff time.Time) (int64, error)
	// UserBySignInName returns the live user, with its password state,
	// whose emailAddress identity or userPrincipalName is name (ignoring
	// case): one index-backed statement. KindNotFound when none.
	UserBySignInName(ctx context.Context, tenantID, name string) (*User, error)
}

// authorizeAuditReader is the check of every audit-log read: the token's
// AuditLog.Read.All, and for a signed-in user one of auditReaderRoles.
func (s *Service) authorizeAuditReader(ctx context.Context) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if err := AuthorizeAuditRead(p); err != nil {
		return nil, err
	}
	if p.IsUser() {
		a, err := s.accessOf(ctx, p)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(a.RoleIDs, func(id string) bool { return slices.Contains(auditReaderRoles, id) }) {
			return nil, &Error{Kind: KindForbidden,
				Message: "Insufficient privileges to complete the operation. Reading the audit log needs the Global Administrator role (or Global Reader, Security Administrator, Security Reader, Reports Reader)."}
		}
	}
	return p, nil
}

// ListSignIns returns one page of the caller's tenant's sign-ins, newest
// first, with the permission rules of ListDirectoryAudits.
func (s *Service) ListSignIns(ctx context.Context, q SignInQuery) (*SignInPage, error) {
	p, err := s.authorizeAuditReader(ctx)
	if err != nil {
		return nil, err
	}
	if q.Top < 1 || q.Top > 999 {
		return nil, Errorf(KindUnsupported, "Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.Top)
	}
	return s.store.ListSignIns(ctx, p.TenantID, q)
}

// GetSignIn returns one of the caller's tenant's sign-ins.
func (s *Service) GetSignIn(ctx context.Context, id string) (*SignIn, error) {
	p, err := s.authorizeAuditReader(ctx)
	if err != nil {
		return nil, err
	}
	if !IsGUID(id) {
		return nil, Errorf(KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", textlimit.Clip(id, maxEchoed))
	}
	return s.store.GetSignIn(ctx, p.TenantID, normalizeGUID(id))
}

// Sanitize makes si's text storable whatever a client sent (the name
// typed, a user agent): NUL and invalid UTF-8 escaped, long values cut,
// as audit events are.
func (si *SignIn) Sanitize() {
	for _, f := range []*string{&si.UserPrincipalName, &si.UserDisplayName, &si.AppID, &si.AppDisplayName,
		&si.IPAddress, &si.ClientAppUsed, &si.FailureReason, &si.AdditionalDetails, &si.CorrelationID} {
		*f = auditText(*f)
	}
}
