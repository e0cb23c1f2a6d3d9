package flowstate

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
)

// DefaultLifetime bounds a whole flow. Entra's continuation tokens last
// minutes; a customer reading a code from their mailbox needs a few.
const DefaultLifetime = 15 * time.Minute

// handlePrefix marks graphdir flow handles so logs and support can tell them
// from other opaque strings without decoding them. It carries no secret.
const handlePrefix = "gdf1."

// ErrInvalid means the handle is unknown, malformed, already used by a step
// that succeeded, or belongs to another tenant, client or kind of flow.
// Callers do not say which: the distinction would help a guesser.
var ErrInvalid = errors.New("flowstate: invalid or used flow handle")

// ErrExpired means the handle was valid but its flow's time is up.
var ErrExpired = errors.New("flowstate: flow expired")

// Flows starts, resumes and advances flows.
type Flows struct {
	store    directory.SignInFlowStore
	lifetime time.Duration
	now      func() time.Time
}

// Option configures Flows.
type Option func(*Flows)

// WithLifetime sets how long a flow lives from its start (<= 0: the default).
func WithLifetime(d time.Duration) Option {
	return func(f *Flows) {
		if d > 0 {
			f.lifetime = d
		}
	}
}

// WithClock replaces time.Now, for tests of expiry.
func WithClock(now func() time.Time) Option { return func(f *Flows) { f.now = now } }

// New returns Flows over store.
func New(store directory.SignInFlowStore, opts ...Option) *Flows {
	f := &Flows{store: store, lifetime: DefaultLifetime, now: time.Now}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Start stores a new flow and returns its first handle. TenantID, ClientID,
// Kind and Step must be set; ID, CreatedAt and ExpiresAt are filled in.
func (f *Flows) Start(ctx context.Context, fl directory.SignInFlow) (string, directory.SignInFlow, error) {
	if !directory.IsGUID(fl.TenantID) || fl.ClientID == "" || fl.Kind == "" || fl.Step == "" {
		return "", fl, fmt.Errorf("flowstate: start needs tenant, client, kind and step")
	}
	now := f.now().UTC()
	fl.ID = uuid.NewString()
	fl.CreatedAt, fl.ExpiresAt = now, now.Add(f.lifetime)
	fl.Version = 1
	handle, hash, err := newHandle()
	if err != nil {
		return "", fl, err
	}
	if err := f.store.CreateSignInFlow(ctx, fl, hash); err != nil {
		return "", fl, err
	}
	return handle, fl, nil
}

// Resume returns the flow behind handle, provided it belongs to tenantID and
// clientID and is of one of kinds (none: any kind).
func (f *Flows) Resume(ctx context.Context, tenantID, clientID, handle string, kinds ...string) (directory.SignInFlow, error) {
	hash, ok := hashHandle(handle)
	if !ok {
		return directory.SignInFlow{}, ErrInvalid
	}
	fl, err := f.store.SignInFlowByHandle(ctx, strings.ToLower(tenantID), hash)
	if directory.KindOf(err) == directory.KindNotFound {
		return directory.SignInFlow{}, ErrInvalid
	}
	if err != nil {
		return directory.SignInFlow{}, err
	}
	if fl.ClientID != clientID || (len(kinds) > 0 && !slices.Contains(kinds, fl.Kind)) {
		return directory.SignInFlow{}, ErrInvalid
	}
	if !f.now().Before(fl.ExpiresAt) {
		return directory.SignInFlow{}, ErrExpired
	}
	return fl, nil
}

// Advance records fl (as changed by the caller after a step that succeeded)
// and returns the flow's next handle; the one presented stops working. When
// another request advanced the flow first, or it expired meanwhile, the
// answer is ErrInvalid and nothing changes.
func (f *Flows) Advance(ctx context.Context, handle string, fl directory.SignInFlow) (string, directory.SignInFlow, error) {
	oldHash, ok := hashHandle(handle)
	if !ok {
		return "", fl, ErrInvalid
	}
	next, newHash, err := newHandle()
	if err != nil {
		return "", fl, err
	}
	err = f.store.AdvanceSignInFlow(ctx, fl, oldHash, newHash)
	if directory.KindOf(err) == directory.KindConflict {
		return "", fl, ErrInvalid
	}
	if err != nil {
		return "", fl, err
	}
	fl.Version++
	return next, fl, nil
}

// Finish ends the flow behind handle (its last step succeeded: tokens were
// issued). ErrInvalid when another request finished it first, so a handle
// redeems tokens once.
func (f *Flows) Finish(ctx context.Context, tenantID, handle string) error {
	hash, ok := hashHandle(handle)
	if !ok {
		return ErrInvalid
	}
	deleted, err := f.store.DeleteSignInFlow(ctx, strings.ToLower(tenantID), hash)
	if err != nil {
		return err
	}
	if !deleted {
		return ErrInvalid
	}
	return nil
}

// Prune deletes flows that expired a while ago; a background job calls it.
// The margin keeps "expired" answers (rather than "invalid") for a client
// that comes back just late.
func (f *Flows) Prune(ctx context.Context) (int64, error) {
	return f.store.PruneSignInFlows(ctx, f.now().Add(-f.lifetime))
}

func newHandle() (handle string, hash []byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", nil, fmt.Errorf("flowstate: random: %w", err)
	}
	handle = handlePrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(handle))
	return handle, sum[:], nil
}

// hashHandle refuses anything that newHandle cannot have produced before it
// reaches the database.
func hashHandle(handle string) ([]byte, bool) {
	raw, ok := strings.CutPrefix(handle, handlePrefix)
	if !ok || len(raw) != 43 {
		return nil, false
	}
	if b, err := base64.RawURLEncoding.DecodeString(raw); err != nil || len(b) != 32 {
		return nil, false
	}
	sum := sha256.Sum256([]byte(handle))
	return sum[:], true
}
