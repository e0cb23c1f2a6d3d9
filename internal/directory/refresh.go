package directory

import (
	"context"
	"time"
)

// RefreshToken is one stored refresh token: what it was granted for, its
// family (the chain of rotations since one sign-in) and its lifetimes. The
// token itself is never stored; the store keys rows by its SHA-256.
type RefreshToken struct {
	TenantID  string
	FamilyID  string
	UserID    string
	ClientID  string
	Scopes    []string
	AMR       []string
	ACRS      []string
	AuthTime  time.Time
	SessionID string
	CreatedAt time.Time
	// ExpiresAt is the idle (sliding) expiry, never after FamilyExpiresAt.
	ExpiresAt       time.Time
	FamilyExpiresAt time.Time
	// RotatedAt is when the token was exchanged for its successor.
	RotatedAt *time.Time
	// RevokedAt is when the family died (reuse, sign-in session revocation,
	// password change, disable, delete, consent removal).
	RevokedAt *time.Time
}

// RefreshTokenStore persists refresh tokens and the user's sign-in
// session boundary (signInSessionsValidFromDateTime). Every method is
// scoped to one tenant.
type RefreshTokenStore interface {
	// CreateRefreshToken stores t under hash, but only while the user is
	// live and not disabled (checked and locked in the same statement, so a
	// concurrent disable cannot miss it). KindNotFound otherwise.
	CreateRefreshToken(ctx context.Context, hash []byte, t RefreshToken) error
	// RotateRefreshToken exchanges the token stored under hash for its
	// successor in one transaction: a single conditional UPDATE marks it
	// rotated at `at` only if it was issued to clientID (compared
	// case-insensitively) and is neither rotated, revoked nor expired,
	// then the successor (same grant and family, created at `at`, idle
	// expiry at+idle capped by the family's) is stored under successorHash,
	// subject to CreateRefreshToken's user check. rotated reports whether
	// this call did the rotation; otherwise the token's current row is
	// returned for the caller to judge. KindNotFound for an unknown hash.
	RotateRefreshToken(ctx context.Context, tenantID, clientID string, hash, successorHash []byte, at time.Time, idle time.Duration) (t *RefreshToken, rotated bool, err error)
	// RevokeRefreshFamily revokes every token of the family.
	RevokeRefreshFamily(ctx context.Context, tenantID, familyID string, at time.Time) error
	// SignInSessionsValidFrom returns the user's
	// signInSessionsValidFromDateTime, deleted users included (nil when
	// never set). KindNotFound when no such user row exists.
	SignInSessionsValidFrom(ctx context.Context, tenantID, userID string) (*time.Time, error)
	// RevokeSignInSessions sets the user's signInSessionsValidFromDateTime
	// to now and revokes their refresh tokens, in one transaction that also
	// records audit (nil: none). KindNotFound, the guard's error.
	RevokeSignInSessions(ctx context.Context, tenantID string, key UserKey, guard *TargetGuard, audit *AuditEvent) error
}
