package directory

import (
	"context"
	"errors"
	"slices"
)

// Delta query (GET /v1.0/users/delta,
// https://learn.microsoft.com/graph/api/user-delta): a client first
// pages through every live user (the initial round), then follows the
// deltaLink it got at the end to learn what changed since, round after
// round. The store keeps a change log written by triggers in the writers'
// own transactions and positions rounds with PostgreSQL snapshots, not
// sequence numbers (internal/store/postgres/delta.go has the argument that
// no change is ever missed). Here the positions are opaque strings the
// edge carries in HMAC-protected tokens.

// DeltaQuery is one page request of a delta round.
type DeltaQuery struct {
	// IDs restricts the round to these user ids ($filter=id eq ... or ...),
	// normalized; nil for every user.
	IDs []string
	// Latest asks only for the current position (deltatoken=latest): no
	// users, a page whose Target is "now".
	Latest bool
	// Initial is a page of the initial round (current live users by id).
	Initial bool
	// Base is the position the client's view is as of: for a change round
	// the snapshot of the deltaLink followed; for later pages of the initial
	// round, that round's own position. "" on the first initial page.
	Base string
	// Target is the position a change round reports up to, fixed by its
	// first page and carried by its nextLinks; "" on a round's first page.
	Target string
	// After continues after this user id (the previous page's last); "" for
	// a round's first page.
	After string
	// Top is the page size, 1..999.
	Top int
}

// DeltaItem is one entry of a delta page: a live user, or a removal.
type DeltaItem struct {
	ID string
	// User is the user's current state; nil for a removal.
	User *User
	// Removed is "" for a live user, "changed" for a user in deleted items
	// (soft-deleted), "deleted" for a purged one.
	Removed string
	// Changed names the properties that changed since the round's base
	// (for Prefer: return=minimal); nil means all of them (a user created or
	// restored in the window, or the initial round).
	Changed []string
}

// DeltaPage is one page of a delta round.
type DeltaPage struct {
	Items []DeltaItem
	// Base and Target are the round's positions (see DeltaQuery). When Next
	// is "", the round is complete and Target is the base of the next one.
	Base, Target string
	// Next is the user id to continue after; "" on the round's last page.
	Next string
}

// DeltaStore is implemented by stores that keep the change log.
type DeltaStore interface {
	// UserDelta returns one page of a delta round. ErrSyncStateNotFound
	// (wrapped in a KindNotFound *Error) when Base is older than the change
	// log's retention or unknown to this database.
	UserDelta(ctx context.Context, tenantID string, q DeltaQuery) (*DeltaPage, error)
}

// ErrSyncStateNotFound is wrapped by the error for a delta token whose
// position the change log no longer (or never) covers: the client must
// start again with a new initial round. The edge answers it with Graph's
// 410 syncStateNotFound.
var ErrSyncStateNotFound = errors.New("delta: sync state not found")

// ErrDeltaExpired is the error stores return for ErrSyncStateNotFound.
func ErrDeltaExpired() *Error {
	return &Error{Kind: KindNotFound, Err: ErrSyncStateNotFound,
		Message: "The delta token has expired or is unknown: the changes since it are no longer kept. " +
			"Start a new delta round (GET /v1.0/users/delta without a token) and replace your local state with it."}
}

// MaxDeltaIDs is how many ids one delta $filter may name (Graph's limit).
const MaxDeltaIDs = 50

// UsersDelta serves one page of GET /users/delta. It needs what listing
// needs (OpListUsers: a delta round is a listing of the whole directory
// followed by its changes); Graph lets its User.Read callers use delta too
// (https://learn.microsoft.com/graph/api/user-delta#permissions),
// graphdir does not (README "Delta query"). With
// User.ReadBasic.All, users are trimmed to the basic profile as in a
// listing, and changes to other properties are not reported.
func (s *Service) UsersDelta(ctx context.Context, q DeltaQuery) (*DeltaPage, error) {
	a, err := s.access(ctx, OpListUsers)
	if err != nil {
		return nil, err
	}
	if q.Top < 1 || q.Top > 999 {
		return nil, Errorf(KindUnsupported, "Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.Top)
	}
	if len(q.IDs) > MaxDeltaIDs {
		return nil, Errorf(KindUnsupported, "A delta $filter may name at most %d ids.", MaxDeltaIDs)
	}
	page, err := s.store.UserDelta(ctx, a.P.TenantID, q)
	if err != nil {
		return nil, err
	}
	basic := a.ReadLevel() == ReadBasic
	for i := range page.Items {
		it := &page.Items[i]
		if it.User == nil {
			continue
		}
		it.User = a.trim(it.User)
		if basic && it.Changed != nil && !a.isSelf(it.ID) {
			it.Changed = slices.DeleteFunc(it.Changed, func(name string) bool {
				p, ok := LookupProperty(name)
				return !ok || !p.Basic
			})
		}
	}
	return page, nil
}
