package directory

import (
	"context"
	"sync"
	"time"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// serviceExt holds the Service's step-up, audit and password-attempt
// state (stepup.go, audit_service.go, changepassword.go), kept in one
// field so that service.go only carries hook calls.
type serviceExt struct {
	stepUp   *StepUp
	audit    *Auditor
	attempts attemptLimiter // this process's, when no PasswordAttempts is given
	shared   PasswordAttempts
	sessions sessionCache  // signInSessionsValidFromDateTime per user (sessions.go)
	branding brandingCache // each tenant's brandings at their version (branding_service.go)
}

// WithAuditLog makes the Service record an audit event for every user
// write it performs or refuses (Add user, Update user, Delete user, Change
// user password), and serve ListDirectoryAudits from log. A log that is a
// transactional store writes each successful write's event in the write's
// own transaction.
func WithAuditLog(log AuditLog, opts ...AuditorOption) ServiceOption {
	return func(s *Service) {
		opts = append([]AuditorOption{WithAuditClock(func() time.Time { return s.now() })}, opts...)
		s.ext.audit = NewAuditor(log, opts...)
	}
}

// Auditor returns the Service's Auditor (nil without WithAuditLog), for
// other write paths (role assignments, applications) to record through.
func (s *Service) Auditor() *Auditor { return s.ext.audit }

// auditUserWrite begins the event of a user write by p: act on the user
// k addresses (the zero key for a new user), naming the properties in
// values. nil without an audit log or a caller.
func (s *Service) auditUserWrite(ctx context.Context, p *Principal, act Activity, k UserKey, values map[string]any) *AuditEvent {
	if s.ext.audit == nil {
		return nil
	}
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	return s.auditUser(ctx, p, act, k, names)
}

func (s *Service) auditUser(ctx context.Context, p *Principal, act Activity, k UserKey, names []string) *AuditEvent {
	if s.ext.audit == nil {
		return nil
	}
	// The target shows the key clipped; the write resolves the full one.
	t := AuditTarget{Type: "User", ID: k.ID, UserPrincipalName: textlimit.Clip(k.UPN, maxAuditText), ModifiedProperties: modifiedProperties(names)}
	ev := s.ext.audit.BeginFor(ctx, p, act, t)
	if ev != nil {
		ev.targetKey = k
	}
	return ev
}

// selfKey is the key of the signed-in user p ("me"); the zero key when p
// is not a user with an object id.
func selfKey(p *Principal) UserKey {
	if p.IsUser() && IsGUID(p.UserID) {
		return UserKey{ID: normalizeGUID(p.UserID)}
	}
	return UserKey{}
}

// auditEnd finishes ev with *errp, marking *errp recorded; for defer.
func (s *Service) auditEnd(ctx context.Context, ev *AuditEvent, errp *error) {
	*errp = s.ext.audit.End(ctx, ev, *errp)
}

// auditNewUser names the user a create is about to insert, before the
// store writes the event in the insert's transaction.
func auditNewUser(ev *AuditEvent, u *User) {
	if ev == nil || len(ev.Targets) == 0 {
		return
	}
	ev.resolved = true
	ev.Targets[0].ID = u.ID
	if u.UserPrincipalName != nil {
		ev.Targets[0].UserPrincipalName = *u.UserPrincipalName
	}
}

// maxAuditText bounds a caller-supplied value an audit target records.
const maxAuditText = 256

// ----- denials at the edge

// auditedOp maps an operation (and HTTP method, "" for any) to the
// activity a refused attempt records.
type auditedOp struct {
	op     Operation
	method string
}

var (
	auditedOpsMu sync.RWMutex
	auditedOps   = map[auditedOp]Activity{
		{OpCreateUser, ""}:       ActivityAddUser,
		{OpUpdateUser, ""}:       ActivityUpdateUser,
		{OpUpdateSelf, ""}:       ActivityUpdateUser,
		{OpDeleteUser, ""}:       ActivityDeleteUser,
		{OpWriteRoles, "POST"}:   ActivityAddRoleMember,
		{OpWriteRoles, "DELETE"}: ActivityRemoveRoleMember,
	}
)

// RegisterAuditedOperation makes a refusal of op (for HTTP method, "" for
// any) at the edge's permission check record act. Write operations added
// later (applications) register here once, at init.
func RegisterAuditedOperation(op Operation, method string, act Activity) {
	auditedOpsMu.Lock()
	defer auditedOpsMu.Unlock()
	auditedOps[auditedOp{op, method}] = act
}

// AuditedActivity returns the activity a refusal of op/method records.
func AuditedActivity(op Operation, method string) (Activity, bool) {
	auditedOpsMu.RLock()
	defer auditedOpsMu.RUnlock()
	if a, ok := auditedOps[auditedOp{op, method}]; ok {
		return a, true
	}
	a, ok := auditedOps[auditedOp{op, ""}]
	return a, ok
}

// RecordDenied records that the edge refused a write for lack of rights
// (IsDenial) before reaching the Service: act on target (the path key as
// sent, "me" for /me). Nothing about the target is read. Other errors
// (malformed requests, app tokens at /me) are not recorded.
func (s *Service) RecordDenied(ctx context.Context, act Activity, target string, err error) {
	if IsDenial(err) {
		s.RecordRefused(ctx, act, target, err)
	}
}

// RecordRefused records that the edge refused a write after its
// permission check but before any Service method recorded it: a body it
// cannot decode (invalid UTF-8, a wrong type), a malformed key, a failed
// precondition. act on target (the path key as sent, "me" for /me). An
// error the domain has already recorded (Audited) and a nil error record
// nothing, so every attempt at a write leaves exactly one event.
func (s *Service) RecordRefused(ctx context.Context, act Activity, target string, err error) {
	if s.ext.audit == nil || err == nil || Audited(err) {
		return
	}
	if act.TargetType != "User" {
		s.ext.audit.Record(ctx, act, AuditTarget{ID: textlimit.Clip(target, maxAuditText)}, err)
		return
	}
	p := PrincipalFrom(ctx)
	k := ParseUserKey(target)
	if target == "me" {
		k = selfKey(p)
	}
	s.ext.audit.End(ctx, s.auditUser(ctx, p, act, k, nil), err)
}

// ----- reading

// PermAuditLogReadAll is the permission that reads the audit log.
const PermAuditLogReadAll = "AuditLog.Read.All"

// auditReaderRoles are the directory roles whose holders may read the audit
// log with a delegated AuditLog.Read.All token (Entra: Global
// Administrator, Global Reader, Security Administrator, Security Reader,
// Reports Reader). Only Global Administrator is one of graphdir's built-in
// roles today; the others are accepted should they be assigned.
var auditReaderRoles = []string{
	RoleGlobalAdministrator,
	"f2ef992c-3afb-46b9-b7cf-a126ee74c451", // Global Reader
	"194ae4cb-b126-40b2-bd5b-6091b380977d", // Security Administrator
	"5d6b6bb7-de71-4623-b4af-96380a352509", // Security Reader
	"4a5d8f65-41da-4de4-8968-e035b65339cf", // Reports Reader
}

// AuthorizeAuditRead is the token-level check of GET
// auditLogs/directoryAudits: AuditLog.Read.All, as an application
// permission or a delegated scope (the user's role is checked by
// ListDirectoryAudits).
func AuthorizeAuditRead(p *Principal) error {
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case p.Has(PermAuditLogReadAll):
		return nil
	}
	return ErrInsufficientPrivileges(PermAuditLogReadAll)
}

// ListDirectoryAudits returns one page of the caller's tenant's audit
// events, newest first. Applications need AuditLog.Read.All; signed-in
// users need the scope and one of auditReaderRoles.
func (s *Service) ListDirectoryAudits(ctx context.Context, q AuditQuery) (*AuditPage, error) {
	p, err := s.authorizeAuditReader(ctx) // signins.go
	if err != nil {
		return nil, err
	}
	if s.ext.audit == nil {
		return nil, Errorf(KindNotFound, "The audit log is not enabled.")
	}
	if q.Top < 1 || q.Top > 999 {
		return nil, Errorf(KindUnsupported, "Invalid page size specified: '%d'. Must be between 1 and 999 inclusive.", q.Top)
	}
	return s.ext.audit.log.ListAuditEvents(ctx, p.TenantID, q)
}
