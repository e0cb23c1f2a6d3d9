package directory

import (
	"context"
	"time"
)

// SignInFlow is one multi-step customer flow (sign-in, sign-up, password
// reset, MFA, method registration) between two requests. The handle that
// refers to it is not part of it: internal/flowstate hands that out and the
// store keeps only its hash.
type SignInFlow struct {
	TenantID string
	ID       string
	// ClientID is the application the flow was started for; a handle is
	// refused when another client presents it.
	ClientID string
	// Kind is what the flow does ("signin", "signup", "reset", ...); a handle
	// is refused by endpoints of another kind.
	Kind string
	// Step is where the flow stands; each flow package names its own steps.
	Step string
	// UserID is the account once known (empty during sign-up).
	UserID string
	// Username is the sign-in email the flow was started with.
	Username string
	// AMR lists the factors proven so far ("pwd", "otp", "mfa").
	AMR []string
	// Data holds what the flow collected (attributes, code bindings, ...).
	// Never a password or a code in clear.
	Data map[string]string
	// Version increases with every successful step.
	Version   int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SignInFlowStore keeps sign-in flows in the database, so any instance can
// serve the next step of a flow another instance started.
type SignInFlowStore interface {
	// CreateSignInFlow stores f under handleHash.
	CreateSignInFlow(ctx context.Context, f SignInFlow, handleHash []byte) error
	// SignInFlowByHandle returns the flow whose handle hashes to handleHash
	// (KindNotFound when none, expired or not).
	SignInFlowByHandle(ctx context.Context, tenantID string, handleHash []byte) (SignInFlow, error)
	// AdvanceSignInFlow stores f's step, user, username, AMR and data,
	// bumps its version and moves it from oldHash to newHash, provided the
	// flow is still at f.Version under oldHash and not expired. KindConflict
	// when it is not (another request advanced it, or it ended).
	AdvanceSignInFlow(ctx context.Context, f SignInFlow, oldHash, newHash []byte) error
	// DeleteSignInFlow ends the flow under handleHash; false when there was
	// none.
	DeleteSignInFlow(ctx context.Context, tenantID string, handleHash []byte) (bool, error)
	// PruneSignInFlows deletes flows that expired before t and returns how
	// many.
	PruneSignInFlows(ctx context.Context, before time.Time) (int64, error)
}
