package directory

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/graphdir/graphdir/internal/password"
)

// PasswordStore is the store half of POST /me/changePassword.
type PasswordStore interface {
	// ChangePassword locks the user's row, reads its password state and
	// passwordPolicies, calls change with them and, when change returns a
	// new state, stores it with lastPasswordChangeDateTime = at; all in one
	// transaction, which also stores audit (nil: none). An
	// error from change is returned as it is and nothing is written.
	// KindNotFound when the user does not exist.
	ChangePassword(ctx context.Context, tenantID, userID string, at time.Time,
		change func(current PasswordState, policies *string) (*PasswordState, error), audit *AuditEvent) error
}

// Permissions that allow POST /me/changePassword (delegated only). Graph
// documents Directory.AccessAsUser.All; graphdir also accepts User.ReadWrite,
// the scope its customer-facing apps already hold for self-service edits.
var changePasswordScopes = []string{"Directory.AccessAsUser.All", PermUserReadWrite}

// Failed current-password attempts allowed per user within the window
// before changePassword answers 429.
const (
	DefaultPasswordAttempts      = 5
	DefaultPasswordAttemptWindow = 15 * time.Minute
)

// WithPasswordAttemptLimit sets how many wrong current passwords a user may
// send within window before POST /me/changePassword is refused with 429
// until the window ends.
func WithPasswordAttemptLimit(n int, window time.Duration) ServiceOption {
	return func(s *Service) { s.ext.attempts.max, s.ext.attempts.window = n, window }
}

// PasswordAttempts counts wrong current passwords per subject (a tenant
// and user) and says how long a subject must wait (0: it may try now).
// serve gives internal/protect's, kept in PostgreSQL, so a user refused
// through one instance is refused by every instance; without it the
// Service counts in this process's memory (WithPasswordAttemptLimit).
type PasswordAttempts interface {
	Wait(ctx context.Context, subject string) (time.Duration, error)
	Fail(ctx context.Context, subject string) error
	Clear(ctx context.Context, subject string) error
}

// WithPasswordAttempts makes changePassword count wrong current passwords
// in c.
func WithPasswordAttempts(c PasswordAttempts) ServiceOption {
	return func(s *Service) { s.ext.shared = c }
}

// passwordAttempts is the Service's counter.
func (s *Service) passwordAttempts() PasswordAttempts {
	if s.ext.shared != nil {
		return s.ext.shared
	}
	return memoryAttempts{&s.ext.attempts, s.now}
}

// memoryAttempts is attemptLimiter as a PasswordAttempts.
type memoryAttempts struct {
	l   *attemptLimiter
	now func() time.Time
}

func (m memoryAttempts) Wait(_ context.Context, key string) (time.Duration, error) {
	return m.l.blocked(key, m.now()), nil
}
func (m memoryAttempts) Fail(_ context.Context, key string) error { m.l.fail(key, m.now()); return nil }
func (m memoryAttempts) Clear(_ context.Context, key string) error {
	m.l.reset(key)
	return nil
}

// AuthorizeChangePassword is the token-level check of POST
// /me/changePassword: a signed-in user (an app token is 400 as for /me)
// holding one of changePasswordScopes.
func AuthorizeChangePassword(p *Principal) error {
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case p.IsApp():
		return Errorf(KindBadRequest, "/me request is only valid with delegated authentication flow.")
	case !p.IsUser():
		return Errorf(KindUnauthenticated, "Access token validation failure.")
	case !p.Has(changePasswordScopes...):
		return ErrInsufficientPrivileges(changePasswordScopes...)
	}
	return nil
}

// errWrongCurrentPassword is Graph's answer to a wrong currentPassword.
func errWrongCurrentPassword() *Error {
	return &Error{Kind: KindInvalid, Target: "currentPassword", Message: "Invalid currentPassword.",
		Details: []Detail{{Code: "InvalidPassword", Message: "The current password is incorrect.", Target: "currentPassword"}}}
}

// ChangePassword changes the signed-in user's password after checking the
// current one (POST /me/changePassword): step-up when the step-up set
// holds passwordProfile, a per-user limit on wrong current passwords, the
// complexity rule (unless the user's passwordPolicies say
// DisableStrongPassword), a new argon2id hash and
// lastPasswordChangeDateTime, in one transaction with the audit event.
// Neither password is ever logged, returned or recorded.
func (s *Service) ChangePassword(ctx context.Context, currentPassword, newPassword string) (err error) {
	p := PrincipalFrom(ctx)
	ev := s.auditUser(ctx, p, ActivityChangePassword, selfKey(p), []string{"passwordProfile"})
	defer s.auditEnd(ctx, ev, &err)
	if err := AuthorizeChangePassword(p); err != nil {
		return err
	}
	if !IsGUID(p.UserID) {
		return ErrInsufficientPrivileges()
	}
	if su := s.stepUpRule(); su.Requires("passwordProfile") {
		how, ok := su.Satisfied(p)
		if !ok {
			return su.challenge([]string{"password"})
		}
		ev.AddDetail("stepUp", how)
	}
	switch {
	case currentPassword == "":
		return &Error{Kind: KindInvalid, Target: "currentPassword", Message: "Property 'currentPassword' is required."}
	case newPassword == "":
		return &Error{Kind: KindInvalid, Target: "newPassword", Message: "Property 'newPassword' is required."}
	case len(currentPassword) > 4*password.MaxLength:
		// Longer than any stored password can be; no need to hash it.
		return errWrongCurrentPassword()
	}
	userID := normalizeGUID(p.UserID)
	limitKey := normalizeGUID(p.TenantID) + "/" + userID
	attempts := s.passwordAttempts()
	wait, err := attempts.Wait(ctx, limitKey)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &tooManyAttempts{err: &Error{Kind: KindTooManyRequests,
			Message: "Too many incorrect current passwords. Please retry again later."}, after: wait}
	}
	wrong := false
	err = s.store.ChangePassword(ctx, p.TenantID, userID, s.now().UTC().Truncate(time.Microsecond),
		func(cur PasswordState, policies *string) (*PasswordState, error) {
			// password.Verify compares in constant time; a user without a
			// local password (federated) gets the same answer as a wrong one.
			if cur.Hash == "" || password.Verify(cur.Hash, currentPassword) != nil {
				wrong = true
				return nil, errWrongCurrentPassword()
			}
			if newPassword == currentPassword {
				return nil, &Error{Kind: KindInvalid, Target: "newPassword",
					Message: "The new password must be different from the current password."}
			}
			st, err := s.passwordState(&PasswordProfile{Password: &newPassword}, policies)
			if err != nil {
				if de, ok := err.(*Error); ok && de.Target == "passwordProfile.password" {
					de.Target = "newPassword"
				}
				return nil, err
			}
			return st, nil
		}, ev)
	if KindOf(err) == KindNotFound {
		return ErrNotFoundUser(userID)
	}
	switch {
	case wrong:
		if ferr := attempts.Fail(ctx, limitKey); ferr != nil {
			return ferr
		}
	case err == nil:
		// The password is changed; a counter left behind only means the
		// user's next wrong password counts from where it was.
		_ = attempts.Clear(ctx, limitKey)
	}
	return err
}

// tooManyAttempts is a 429 that knows when the caller may retry.
type tooManyAttempts struct {
	err   *Error
	after time.Duration
}

func (e *tooManyAttempts) Error() string             { return e.err.Error() }
func (e *tooManyAttempts) Unwrap() error             { return e.err }
func (e *tooManyAttempts) RetryAfter() time.Duration { return e.after }

// attemptLimiter counts failures per key in fixed windows, in this
// process's memory.
type attemptLimiter struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	m      map[string]*attempts
}

type attempts struct {
	n     int
	start time.Time
}

// maxTrackedKeys bounds the limiter's memory; expired entries are dropped
// when it is reached.
const maxTrackedKeys = 100_000

func (l *attemptLimiter) limits() (int, time.Duration) {
	n, w := l.max, l.window
	if n <= 0 {
		n = DefaultPasswordAttempts
	}
	if w <= 0 {
		w = DefaultPasswordAttemptWindow
	}
	return n, w
}

// blocked returns how long key must wait, 0 when it may try.
func (l *attemptLimiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, w := l.limits()
	a := l.m[key]
	if a == nil || now.Sub(a.start) >= w || a.n < n {
		return 0
	}
	return a.start.Add(w).Sub(now)
}

func (l *attemptLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, w := l.limits()
	if l.m == nil {
		l.m = make(map[string]*attempts)
	}
	if len(l.m) >= maxTrackedKeys {
		for k, a := range l.m {
			if now.Sub(a.start) >= w {
				delete(l.m, k)
			}
		}
	}
	a := l.m[key]
	if a == nil || now.Sub(a.start) >= w {
		a = &attempts{start: now}
		l.m[key] = a
	}
	a.n++
}

func (l *attemptLimiter) reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, strings.Clone(key))
}
