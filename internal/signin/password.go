package signin

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/protect"
)

// Store is what the sign-in core needs persisted: account lookup by
// sign-in name and the sign-in log (internal/store/postgres).
type Store interface {
	UserBySignInName(ctx context.Context, tenantID, name string) (*directory.User, error)
	RecordSignIn(ctx context.Context, si *directory.SignIn) error
}

// Core checks credentials and records the outcomes.
type Core struct {
	store Store
	guard *protect.Guard
	now   func() time.Time
	newID func() string
	// dummy is verified when the name matches no account (or an account
	// without a password), so that the answer costs the same argon2id
	// work as a wrong password.
	dummy string
}

// Option configures a Core.
type Option func(*Core)

// WithClock replaces time.Now for the sign-in log's timestamps.
func WithClock(now func() time.Time) Option { return func(c *Core) { c.now = now } }

// New returns a Core over store, guarded by guard. It hashes a random
// password once for the dummy verification, with the parameters new
// passwords get (password.DefaultParams).
func New(store Store, guard *protect.Guard, opts ...Option) (*Core, error) {
	dummy, err := password.Hash(uuid.NewString())
	if err != nil {
		return nil, err
	}
	c := &Core{store: store, guard: guard, now: time.Now, newID: uuid.NewString, dummy: dummy}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// PasswordAttempt is one email + password first factor.
type PasswordAttempt struct {
	TenantID       string
	ClientID       string // the application's appId
	AppDisplayName string
	Username       string // the sign-in email or userPrincipalName, as typed
	Password       string
	IP             string
	// UserAgent is kept for the flows' own use; the sign-in log does not
	// store it (v1.0's signIn has no such property).
	UserAgent string
	// ClientAppUsed is Graph's clientAppUsed ("Browser", "Mobile Apps and
	// Desktop clients"); empty is "Browser".
	ClientAppUsed string
	CorrelationID string // empty: a new one
}

// CheckPassword checks an email + password first factor:
//
//  1. the IP's and tenant's rate limits and the name's lockout, before
//     anything else (ReasonRateLimited, ReasonLocked);
//  2. the account by sign-in name (an emailAddress identity or the
//     userPrincipalName), then argon2id against its hash, or against a
//     dummy hash when there is no such account or it has no password, so
//     both cost the same;
//  3. a wrong password or unknown name: a lockout failure and
//     ReasonInvalidCredentials, the same error either way (UserNotFound
//     tells them apart for callers whose protocol must);
//  4. a disabled account is refused only after the hash, with the right
//     password (ReasonDisabled);
//  5. success clears the name's failures.
//
// Every outcome is written to the sign-in log; when that fails the check
// fails with the store's error (no unlogged sign-in).
func (c *Core) CheckPassword(ctx context.Context, a PasswordAttempt) (*directory.User, error) {
	at := protect.Attempt{TenantID: a.TenantID, Identifier: a.Username, IP: a.IP, Step: protect.StepPassword}
	ev := c.event(a)
	if err := c.guard.Admit(ctx, at); err != nil {
		var r *protect.Refusal
		if !errors.As(err, &r) {
			return nil, err
		}
		e := &Error{Reason: ReasonRateLimited, RetryAfter: r.RetryAfter, ErrorCode: directory.SignInErrorLocked}
		ev.FailureReason = "Sign-in was blocked: too many attempts from this " + r.Scope + "."
		if r.Locked {
			e.Reason = ReasonLocked
			ev.FailureReason = "Account is locked because the user tried to sign in too many times with an incorrect user ID or password."
		}
		return nil, c.fail(ctx, ev, e)
	}
	u, err := c.store.UserBySignInName(ctx, a.TenantID, a.Username)
	if err != nil && directory.KindOf(err) != directory.KindNotFound {
		return nil, err
	}
	hash := c.dummy
	if u != nil && u.Password.Hash != "" {
		hash = u.Password.Hash
	}
	verr := password.Verify(hash, a.Password)
	if u != nil {
		ev.UserID, ev.UserDisplayName = u.ID, deref(u.DisplayName)
		if u.UserPrincipalName != nil {
			ev.UserPrincipalName = *u.UserPrincipalName
		}
	}
	if verr != nil || u == nil || u.Password.Hash == "" {
		if err := c.guard.Failed(ctx, at); err != nil && !errors.Is(err, protect.ErrLocked) {
			return nil, err
		}
		e := &Error{Reason: ReasonInvalidCredentials, UserNotFound: u == nil, ErrorCode: directory.SignInErrorBadCredentials}
		ev.FailureReason = "Error validating credentials due to invalid username or password."
		if u == nil {
			e.ErrorCode = directory.SignInErrorUserNotFound
			ev.FailureReason = "The user account does not exist in the directory."
		}
		return nil, c.fail(ctx, ev, e)
	}
	if u.AccountEnabled != nil && !*u.AccountEnabled {
		ev.FailureReason = "The user account is disabled."
		return nil, c.fail(ctx, ev, &Error{Reason: ReasonDisabled, ErrorCode: directory.SignInErrorDisabled})
	}
	if err := c.guard.Succeeded(ctx, at); err != nil {
		return nil, err
	}
	ev.ErrorCode = directory.SignInSuccess
	if err := c.store.RecordSignIn(ctx, ev); err != nil {
		return nil, err
	}
	u.Password = directory.PasswordState{} // the hash stays here
	return u, nil
}

// fail records ev as the failure e and returns e (or the recording's
// error).
func (c *Core) fail(ctx context.Context, ev *directory.SignIn, e *Error) error {
	ev.ErrorCode = e.ErrorCode
	if err := c.store.RecordSignIn(ctx, ev); err != nil {
		return err
	}
	return e
}

func (c *Core) event(a PasswordAttempt) *directory.SignIn {
	corr := a.CorrelationID
	if corr == "" {
		corr = c.newID()
	}
	client := a.ClientAppUsed
	if client == "" {
		client = "Browser"
	}
	return &directory.SignIn{
		ID: c.newID(), TenantID: a.TenantID, CreatedDateTime: c.now().UTC(),
		UserPrincipalName: a.Username, AppID: a.ClientID, AppDisplayName: a.AppDisplayName,
		IPAddress: a.IP, ClientAppUsed: client,
		AuthenticationRequirement: directory.SingleFactorAuthentication, IsInteractive: true,
		CorrelationID: corr,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
