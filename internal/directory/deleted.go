package directory

import (
	"context"
	"time"
)

// Deleted items (README "Deleted items and ETags";
// https://learn.microsoft.com/graph/api/directory-deleteditems-list).
// DELETE /users/{id} moves a user to
// deleted items: the row stays with deletedDateTime set and its version
// bumped, and every read of live users (get, /me, list, $count, filters,
// lookups, role checks) skips it. A deleted user can be listed, read,
// restored or purged (permanently deleted); the background purge removes
// those deleted longer than the retention period.
//
// Sign-in names: as in Entra, a deleted user's userPrincipalName and
// identities are free for live users (the unique indexes cover live users
// only), so nobody can sign in as or be looked up as a deleted user, and a
// new user may take the name. Restoring the deleted user then fails with
// Graph's conflict (400 Request_BadRequest, ObjectConflict naming
// userPrincipalName or identities) and changes nothing.

// deletedReadPerms list, read and count deleted users (5.2: the read
// permissions, plus User.DeleteRestore.All).
var deletedReadPerms = []string{PermUserReadAll, PermUserDeleteRestoreAll, PermUserReadUpdateAll, PermUserReadWriteAll,
	PermDirectoryReadAll, PermDirectoryReadWriteAll}

// Audited activities of deleted items (Entra's names).
var (
	ActivityRestoreUser    = Activity{"Restore user", "Restore", "UserManagement", "User"}
	ActivityHardDeleteUser = Activity{"Hard delete user", "Delete", "UserManagement", "User"}
)

// DeletedStore persists deleted items. ListUsers and CountUsers serve the
// listing with ListQuery.Deleted set.
type DeletedStore interface {
	// SoftDeleteUser moves a live user to deleted items (deleted_at = now,
	// version + 1). KindNotFound; guard as DeleteUser; ifVersion, when
	// non-zero, must equal the user's version (KindPreconditionFailed),
	// checked in the same statement.
	// audit (nil: none) is stored in the same transaction, as by every
	// audited write below.
	SoftDeleteUser(ctx context.Context, tenantID string, key UserKey, guard *TargetGuard, ifVersion int64, audit *AuditEvent) error
	// GetDeletedUser returns one deleted user by object id. KindNotFound.
	GetDeletedUser(ctx context.Context, tenantID, id string) (*User, error)
	// RestoreUser brings a deleted user back (deleted_at = NULL, version + 1)
	// and returns it. KindNotFound; KindConflict when its userPrincipalName
	// or an identity was taken meanwhile (nothing changes).
	RestoreUser(ctx context.Context, tenantID, id string, guard *TargetGuard, audit *AuditEvent) (*User, error)
	// PurgeUser permanently deletes a deleted user. KindNotFound.
	PurgeUser(ctx context.Context, tenantID, id string, guard *TargetGuard, audit *AuditEvent) error
}

// ifMatchKey carries a request's If-Match precondition.
type ifMatchKey struct{}

// WithIfMatch returns ctx carrying an If-Match precondition on the user a
// PATCH or DELETE addresses: version is the ETag's version (never 0; a
// negative value never matches). "If-Match: *" needs no precondition: any
// existing user matches, and a missing one is a 404 anyway.
func WithIfMatch(ctx context.Context, version int64) context.Context {
	return context.WithValue(ctx, ifMatchKey{}, version)
}

// ifMatch returns the precondition of ctx, 0 for none.
func ifMatch(ctx context.Context) int64 {
	v, _ := ctx.Value(ifMatchKey{}).(int64)
	return v
}

// ErrPreconditionFailed is the 412 of a write whose If-Match no longer
// matches the user.
func ErrPreconditionFailed(key string) *Error {
	return &Error{Kind: KindPreconditionFailed, Target: "If-Match",
		Message: "The ETag in If-Match does not match the current version of '" + key + "'; " +
			"it was changed since it was read. Read it again and retry."}
}

// ListDeletedUsers returns one page of the tenant's deleted users.
func (s *Service) ListDeletedUsers(ctx context.Context, q ListQuery) (*Page, error) {
	a, err := s.access(ctx, OpListDeletedUsers)
	if err != nil {
		return nil, err
	}
	if q.Top < 1 || q.Top > 999 {
		return nil, Errorf(KindUnsupported, "Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.Top)
	}
	if q.Skip < 0 {
		return nil, (&Error{Kind: KindBadRequest, Message: "Invalid $skip value: must be a non-negative integer."}).WithTarget("$skip")
	}
	q.Deleted = true
	return s.store.ListUsers(ctx, a.P.TenantID, q)
}

// CountDeletedUsers counts the tenant's deleted users q's Filter and
// Search match.
func (s *Service) CountDeletedUsers(ctx context.Context, q ListQuery) (int64, error) {
	a, err := s.access(ctx, OpListDeletedUsers)
	if err != nil {
		return 0, err
	}
	return s.store.CountUsers(ctx, a.P.TenantID, ListQuery{Filter: q.Filter, Search: q.Search, Deleted: true})
}

// GetDeletedUser returns one deleted user by object id.
func (s *Service) GetDeletedUser(ctx context.Context, id string) (*User, error) {
	a, err := s.access(ctx, OpListDeletedUsers)
	if err != nil {
		return nil, err
	}
	if !IsGUID(id) {
		return nil, ErrNotFoundUser(id)
	}
	return s.store.GetDeletedUser(ctx, a.P.TenantID, normalizeGUID(id))
}

// RestoreUser restores a deleted user and returns it.
func (s *Service) RestoreUser(ctx context.Context, id string) (_ *User, err error) {
	p, k := PrincipalFrom(ctx), ParseUserKey(id)
	ev := s.auditUser(ctx, p, ActivityRestoreUser, k, nil)
	defer s.auditEnd(ctx, ev, &err)
	a, err := s.accessFor(ctx, p, OpRestoreUser)
	if err != nil {
		return nil, err
	}
	if k.ID == "" {
		return nil, ErrNotFoundUser(id)
	}
	plan, err := a.CheckDelete()
	if err != nil {
		return nil, err
	}
	return s.store.RestoreUser(ctx, p.TenantID, k.ID, plan.Guard, ev)
}

// PurgeUser permanently deletes a deleted user.
func (s *Service) PurgeUser(ctx context.Context, id string) (err error) {
	p, k := PrincipalFrom(ctx), ParseUserKey(id)
	ev := s.auditUser(ctx, p, ActivityHardDeleteUser, k, nil)
	defer s.auditEnd(ctx, ev, &err)
	a, err := s.accessFor(ctx, p, OpRestoreUser)
	if err != nil {
		return err
	}
	if k.ID == "" {
		return ErrNotFoundUser(id)
	}
	plan, err := a.CheckDelete()
	if err != nil {
		return err
	}
	return s.store.PurgeUser(ctx, p.TenantID, k.ID, plan.Guard, ev)
}

// DefaultDeletedRetention is how long a deleted user stays restorable
// before the background purge removes it (Graph: 30 days).
const DefaultDeletedRetention = 30 * 24 * time.Hour

func init() {
	// A refusal at the edge's permission check joins the audit trail.
	RegisterAuditedOperation(OpRestoreUser, "POST", ActivityRestoreUser)
	RegisterAuditedOperation(OpRestoreUser, "DELETE", ActivityHardDeleteUser)
}
