package directory

import (
	"context"
	"strings"
	"time"
)

// SignInActivity is Graph's signInActivity of a user: when the user last
// tried to sign in interactively (success or failure), last tried
// non-interactively, and last succeeded. The store keeps its parts in
// User.Props under the SignInActivity* names, one column each, set by
// RecordSignIn in the sign-in's own transaction.
type SignInActivity struct {
	LastSignInDateTime               *time.Time
	LastNonInteractiveSignInDateTime *time.Time
	LastSuccessfulSignInDateTime     *time.Time
}

// The stored parts of signInActivity, by their $filter path.
const (
	SignInActivityLast               = "signInActivity/lastSignInDateTime"
	SignInActivityLastNonInteractive = "signInActivity/lastNonInteractiveSignInDateTime"
	SignInActivityLastSuccessful     = "signInActivity/lastSuccessfulSignInDateTime"
)

// SignInActivity returns u's sign-in activity, nil when the user never
// tried to sign in.
func (u *User) SignInActivity() *SignInActivity {
	at := func(name string) *time.Time {
		t, _ := u.Props[name].(*time.Time)
		return t
	}
	a := &SignInActivity{LastSignInDateTime: at(SignInActivityLast),
		LastNonInteractiveSignInDateTime: at(SignInActivityLastNonInteractive),
		LastSuccessfulSignInDateTime:     at(SignInActivityLastSuccessful)}
	if a.LastSignInDateTime == nil && a.LastNonInteractiveSignInDateTime == nil && a.LastSuccessfulSignInDateTime == nil {
		return nil
	}
	return a
}

// IsSignInActivity reports whether a property name or $filter path is
// signInActivity or one of its parts.
func IsSignInActivity(name string) bool {
	head, _, _ := strings.Cut(name, "/")
	return strings.EqualFold(head, "signInActivity")
}

// AuthorizeSignInActivity is the check of reading, filtering or sorting
// users' signInActivity: as Graph, it takes AuditLog.Read.All (and a
// signed-in caller an audit-reader role), besides the right to read the
// users.
func (s *Service) AuthorizeSignInActivity(ctx context.Context) error {
	_, err := s.authorizeAuditReader(ctx)
	return err
}
