package directory

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
)

// Activity describes one kind of audited action, in the terms of Graph's
// directoryAudit resource.
type Activity struct {
	// DisplayName is activityDisplayName, e.g. "Update user".
	DisplayName string
	// OperationType is operationType: Add, Update, Delete, Assign, Unassign.
	OperationType string
	// Category is category: UserManagement, RoleManagement, ApplicationManagement.
	Category string
	// TargetType is the type of the first target resource: User, Role, Application.
	TargetType string
}

// The audited activities, worded as Microsoft Entra's audit log words them.
var (
	ActivityAddUser        = Activity{"Add user", "Add", "UserManagement", "User"}
	ActivityUpdateUser     = Activity{"Update user", "Update", "UserManagement", "User"}
	ActivityDeleteUser     = Activity{"Delete user", "Delete", "UserManagement", "User"}
	ActivityChangePassword = Activity{"Change user password", "Update", "UserManagement", "User"}

	ActivityAddRoleMember    = Activity{"Add member to role", "Assign", "RoleManagement", "Role"}
	ActivityRemoveRoleMember = Activity{"Remove member from role", "Unassign", "RoleManagement", "Role"}

	ActivityAddApplication           = Activity{"Add application", "Add", "ApplicationManagement", "Application"}
	ActivityDeleteApplication        = Activity{"Delete application", "Delete", "ApplicationManagement", "Application"}
	ActivityUpdateApplicationSecrets = Activity{"Update application – Certificates and secrets management", "Update", "ApplicationManagement", "Application"}
)

// Audit results (Graph's operationResult).
const (
	AuditSuccess = "success"
	AuditFailure = "failure"
)

// LoggedByService is the loggedByService of every graphdir event.
const LoggedByService = "Core Directory"

// AuditEvent is one entry of the audit trail (Graph's directoryAudit). It
// names who did what to which object, when, under which request id, and
// how it ended. It never holds a password, a token or the value of a
// sensitive property: modified properties carry names, and values only for
// properties whose values may be shown (auditShowsValue).
type AuditEvent struct {
	ID               string
	TenantID         string
	ActivityDateTime time.Time
	Activity         Activity
	// CorrelationID is the request-id of the HTTP request.
	CorrelationID string
	Result        string
	// ResultReason is a stable code for a failure ("" on success), e.g.
	// Authorization_RequestDenied or insufficient_claims.
	ResultReason      string
	InitiatedBy       AuditInitiator
	Targets           []AuditTarget
	AdditionalDetails []AuditDetail

	// Recording state (not stored).
	persisted bool
	// targetKey addresses the user target before the write resolves it.
	targetKey UserKey
	resolved  bool
	// newValuesSet: SetNewValues ran in the current attempt of the write's
	// transaction (ForgetNewValues starts an attempt).
	newValuesSet bool
}

// AuditInitiator is who acted: a signed-in user (UserID set) through an
// application (AppID), or an application alone.
type AuditInitiator struct {
	AppID string `json:"appId,omitempty"`
	// DisplayName names an initiator that is neither a user nor a
	// registered application: the operator at the command line.
	DisplayName        string `json:"displayName,omitempty"`
	ServicePrincipalID string `json:"servicePrincipalId,omitempty"`
	UserID             string `json:"userId,omitempty"`
	UserPrincipalName  string `json:"userPrincipalName,omitempty"`
}

// AuditTarget is one object the action was about.
type AuditTarget struct {
	ID                 string                  `json:"id"`
	Type               string                  `json:"type"`
	DisplayName        string                  `json:"displayName,omitempty"`
	UserPrincipalName  string                  `json:"userPrincipalName,omitempty"`
	ModifiedProperties []AuditModifiedProperty `json:"modifiedProperties"`
}

// AuditModifiedProperty is one changed property. OldValue and NewValue are
// Graph's JSON-array text ("[\"Jane\"]", "[]") and nil when the value is not
// recorded (sensitive properties, failures, deletes).
type AuditModifiedProperty struct {
	DisplayName string  `json:"displayName"`
	OldValue    *string `json:"oldValue"`
	NewValue    *string `json:"newValue"`
}

// AuditDetail is one key/value of additionalDetails.
type AuditDetail struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	// From and To bound activityDateTime; FromExclusive / ToExclusive make
	// the bound strict (gt / lt instead of ge / le).
	From, To                   *time.Time
	FromExclusive, ToExclusive bool
	// ActivityDisplayName, CorrelationID, Result and Category match exactly
	// (activityDisplayName ignoring case) when set.
	ActivityDisplayName string
	CorrelationID       string
	Result              string
	Category            string
	// Ascending lists oldest first ($orderby=activityDateTime asc); the
	// default is newest first.
	Ascending bool
	// Top is the page size, 1..999.
	Top int
	// After continues after the event the cursor names.
	After *AuditCursor
}

// AuditCursor is the position of the last event of a page in the listing
// order (activityDateTime, then id, both descending, or both ascending).
type AuditCursor struct {
	Time time.Time
	ID   string
}

// AuditPage is one page of events; Next is nil on the last page.
type AuditPage struct {
	Events []*AuditEvent
	Next   *AuditCursor
}

// AuditLog stores audit events. Every method is scoped to one tenant.
// The audited writes of Store take their event as a parameter and write it
// in their own transaction; AppendAuditEvent stores the others (failures,
// refusals, single-statement writes).
type AuditLog interface {
	// AppendAuditEvent stores one event on its own.
	AppendAuditEvent(ctx context.Context, ev *AuditEvent) error
	// ListAuditEvents returns one page of the tenant's events q selects.
	ListAuditEvents(ctx context.Context, tenantID string, q AuditQuery) (*AuditPage, error)
}

// ----- recording

// Auditor records audit events into an AuditLog. It is the one hook every
// write path calls; the event is an explicit parameter of the write:
//
//	ev := auditor.Begin(ctx, directory.ActivityAddApplication, directory.AuditTarget{})
//	err := store.CreateApplication(ctx, app, ev) // writes ev in its transaction
//	err = auditor.End(ctx, ev, err)              // records a failure, or a success no write stored
//
// A nil *Auditor records nothing. Events are recorded with the request's
// context stripped of its cancellation, so a client that hangs up cannot
// suppress its own audit entry.
type Auditor struct {
	log     AuditLog
	now     func() time.Time
	newID   func() string
	onError func(ctx context.Context, err error)
}

// AuditorOption configures an Auditor.
type AuditorOption func(*Auditor)

// WithAuditClock replaces time.Now.
func WithAuditClock(now func() time.Time) AuditorOption { return func(a *Auditor) { a.now = now } }

// WithAuditErrorHandler receives the errors of events that could not be
// stored on their own (failures and denials); by default they are dropped.
func WithAuditErrorHandler(f func(ctx context.Context, err error)) AuditorOption {
	return func(a *Auditor) { a.onError = f }
}

// NewAuditor returns an Auditor over log; nil log returns nil.
func NewAuditor(log AuditLog, opts ...AuditorOption) *Auditor {
	if log == nil {
		return nil
	}
	a := &Auditor{log: log, now: time.Now, newID: uuid.NewString, onError: func(context.Context, error) {}}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Log returns the AuditLog the Auditor writes to.
func (a *Auditor) Log() AuditLog {
	if a == nil {
		return nil
	}
	return a.log
}

// Begin starts an event of act on target by the context's caller. Pass it
// to the write (which stores it in its transaction) and then to End.
// Without a caller or with a nil Auditor it returns nil, which every
// write and End accept.
func (a *Auditor) Begin(ctx context.Context, act Activity, target AuditTarget) *AuditEvent {
	return a.BeginFor(ctx, PrincipalFrom(ctx), act, target)
}

// BeginFor is Begin for a caller the method has already resolved.
func (a *Auditor) BeginFor(ctx context.Context, p *Principal, act Activity, target AuditTarget) *AuditEvent {
	if a == nil || p == nil || !IsGUID(p.TenantID) {
		return nil
	}
	in := AuditInitiator{AppID: p.AppID}
	if p.IsUser() {
		in.UserID = p.UserID
	}
	return a.begin(ctx, normalizeGUID(p.TenantID), in, act, target)
}

// OperatorAppID and OperatorDisplayName name the initiator of the writes
// an operator makes at the command line (graphdir role, graphdir tenant),
// which have no token and hence no caller.
const (
	OperatorAppID       = "graphdir-cli"
	OperatorDisplayName = "graphdir command line"
)

// BeginOperator starts an event of act on target in tenantID by the
// operator at the command line.
func (a *Auditor) BeginOperator(ctx context.Context, tenantID string, act Activity, target AuditTarget) *AuditEvent {
	if a == nil || !IsGUID(tenantID) {
		return nil
	}
	return a.begin(ctx, normalizeGUID(tenantID), AuditInitiator{AppID: OperatorAppID, DisplayName: OperatorDisplayName}, act, target)
}

func (a *Auditor) begin(ctx context.Context, tenantID string, in AuditInitiator, act Activity, target AuditTarget) *AuditEvent {
	if target.Type == "" {
		target.Type = act.TargetType
	}
	if target.ModifiedProperties == nil {
		target.ModifiedProperties = []AuditModifiedProperty{}
	}
	// A user target is resolved by the write from the key the request
	// used: its object id, or else its userPrincipalName.
	var key UserKey
	if target.Type == "User" {
		if key.ID = target.ID; key.ID == "" {
			key.UPN = target.UserPrincipalName
		}
	}
	return &AuditEvent{
		targetKey:        key,
		ID:               a.newID(),
		TenantID:         tenantID,
		ActivityDateTime: a.now().UTC().Truncate(time.Microsecond),
		Activity:         act,
		CorrelationID:    RequestIDFrom(ctx),
		Result:           AuditSuccess,
		InitiatedBy:      in,
		Targets:          []AuditTarget{target},
	}
}

// End finishes ev: with err == nil and no write having stored it, it
// stores the success now ("right after" the change); with err != nil it
// stores a failure with a reason code and no property values, and returns
// err marked as recorded (Audited), so that the edge does not record the
// same failure again. A nil ev does nothing and returns err as it is.
//
//	defer func() { err = auditor.End(ctx, ev, err) }()
func (a *Auditor) End(ctx context.Context, ev *AuditEvent, err error) error {
	if a == nil || ev == nil {
		return err
	}
	if err != nil && !Audited(err) {
		err = &auditedError{err}
	}
	if ev.persisted {
		return err
	}
	if err != nil {
		ev.Result = AuditFailure
		ev.ResultReason = AuditReason(err)
		ev.clearValues()
	}
	ev.Sanitize()
	ev.persisted = true
	if werr := a.log.AppendAuditEvent(context.WithoutCancel(ctx), ev); werr != nil {
		a.onError(ctx, werr)
	}
	return err
}

// Record stores a finished event in one call: Begin then End with err,
// which it returns marked as recorded. Handlers use it for refusals that
// happen before any write is attempted.
func (a *Auditor) Record(ctx context.Context, act Activity, target AuditTarget, err error) error {
	return a.End(ctx, a.Begin(ctx, act, target), err)
}

// auditedError is a failed write's error whose event End has recorded.
type auditedError struct{ err error }

func (e *auditedError) Error() string { return e.err.Error() }
func (e *auditedError) Unwrap() error { return e.err }

// Audited reports whether err is the error of a write whose failure event
// the domain has recorded. The edge records the refusals it makes itself
// (a body it cannot decode, a malformed key) and asks this so that no
// attempt is recorded twice.
func Audited(err error) bool {
	var ae *auditedError
	return errors.As(err, &ae)
}

// Persisted reports whether a committed write or End has stored ev.
func (ev *AuditEvent) Persisted() bool { return ev != nil && ev.persisted }

// MarkPersisted tells the event that a committed transaction holds it.
func (ev *AuditEvent) MarkPersisted() { ev.persisted = true }

// AddDetail appends one additionalDetails entry.
func (ev *AuditEvent) AddDetail(key, value string) {
	if ev != nil {
		ev.AdditionalDetails = append(ev.AdditionalDetails, AuditDetail{Key: key, Value: value})
	}
}

// UserToResolve returns the key of the event's user target while the
// store still has to resolve it (to its id and userPrincipalName, with the
// old values of the modified properties, inside the write's transaction).
func (ev *AuditEvent) UserToResolve() (UserKey, bool) {
	if ev == nil || ev.resolved || len(ev.Targets) == 0 || ev.Targets[0].Type != "User" {
		return UserKey{}, false
	}
	k := ev.targetKey
	if k.ID == "" && k.UPN == "" {
		return UserKey{}, false
	}
	return k, true
}

// TargetUserID returns the id of the event's user target, "" when unknown.
func (ev *AuditEvent) TargetUserID() string {
	if ev == nil || len(ev.Targets) == 0 || ev.Targets[0].Type != "User" || !IsGUID(ev.Targets[0].ID) {
		return ""
	}
	return ev.Targets[0].ID
}

// ValueProperties returns the modified properties whose values may be
// recorded.
func (ev *AuditEvent) ValueProperties() []string {
	if ev == nil || len(ev.Targets) == 0 {
		return nil
	}
	var out []string
	for _, m := range ev.Targets[0].ModifiedProperties {
		if auditShowsValue(m.DisplayName) {
			out = append(out, m.DisplayName)
		}
	}
	return out
}

// ResolveUser records the user target's id and userPrincipalName and the
// stored JSON values of ValueProperties before the write.
func (ev *AuditEvent) ResolveUser(id, upn string, old map[string]json.RawMessage) {
	if ev == nil || len(ev.Targets) == 0 {
		return
	}
	ev.resolved = true
	t := &ev.Targets[0]
	t.ID, t.UserPrincipalName = id, upn
	ev.setValues(old, false)
}

// SetNewValues records the stored JSON values of ValueProperties after the write.
func (ev *AuditEvent) SetNewValues(values map[string]json.RawMessage) {
	if ev != nil && len(ev.Targets) > 0 {
		ev.setValues(values, true)
		ev.newValuesSet = true
	}
}

// NewValuesSet reports whether SetNewValues ran since ForgetNewValues: a
// store that took the new values from its write's own statement need not
// read them again.
func (ev *AuditEvent) NewValuesSet() bool { return ev != nil && ev.newValuesSet }

// ForgetNewValues marks the start of an attempt of the write's
// transaction: new values set by an attempt that rolled back must be set
// again.
func (ev *AuditEvent) ForgetNewValues() {
	if ev != nil {
		ev.newValuesSet = false
	}
}

func (ev *AuditEvent) setValues(values map[string]json.RawMessage, isNew bool) {
	mp := ev.Targets[0].ModifiedProperties
	for i := range mp {
		raw, ok := values[mp[i].DisplayName]
		if !ok || !auditShowsValue(mp[i].DisplayName) {
			continue
		}
		v := graphAuditValue(raw)
		if isNew {
			mp[i].NewValue = &v
		} else {
			mp[i].OldValue = &v
		}
	}
}

func (ev *AuditEvent) clearValues() {
	for i := range ev.Targets {
		for j := range ev.Targets[i].ModifiedProperties {
			ev.Targets[i].ModifiedProperties[j].OldValue = nil
			ev.Targets[i].ModifiedProperties[j].NewValue = nil
		}
	}
}

// graphAuditValue writes a stored JSON value as Graph's audit logs do: a
// JSON array of the values ("[\"Jane\"]"), "[]" for null.
func graphAuditValue(raw json.RawMessage) string {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil || v == nil {
		return "[]"
	}
	if _, isArray := v.([]any); isArray {
		b, _ := json.Marshal(v)
		return string(b)
	}
	b, _ := json.Marshal([]any{v})
	return string(b)
}

// auditHiddenValues are properties whose values never enter the audit log
// even though the property table does not mark them sensitive: personal
// contact and sign-in data.
var auditHiddenValues = []string{"mail", "identities", "passwordPolicies"}

// auditShowsValue reports whether the old and new values of a property may
// be recorded: never for write-only (passwordProfile), sensitive
// (accountEnabled, phones, otherMails, userPrincipalName) or personal
// sign-in properties (mail, identities), nor for unknown names.
func auditShowsValue(name string) bool {
	p, ok := LookupProperty(name)
	if !ok || p.WriteOnly || p.Sensitive || p.Type == TypeIdentities || p.Type == TypePasswordProfile {
		return false
	}
	return !slices.Contains(auditHiddenValues, name)
}

// modifiedProperties lists names (sorted) without values.
func modifiedProperties(names []string) []AuditModifiedProperty {
	names = slices.Clone(names)
	slices.Sort(names)
	out := make([]AuditModifiedProperty, 0, len(names))
	for _, n := range names {
		out = append(out, AuditModifiedProperty{DisplayName: n})
	}
	return out
}

// ----- reasons

// AuditReason is the resultReason recorded for a failed write: a stable
// code, never the message (which may echo client input).
func AuditReason(err error) string {
	var de *Error
	if !errors.As(err, &de) {
		return "InternalError"
	}
	if de.Claims != "" {
		return "insufficient_claims"
	}
	if len(de.Details) > 0 && de.Details[0].Code != "" {
		return de.Details[0].Code
	}
	switch de.Kind {
	case KindInvalid, KindReadOnly, KindConflict:
		return "Request_BadRequest"
	case KindUnsupported:
		return "Request_UnsupportedQuery"
	case KindBadRequest:
		return "BadRequest"
	case KindNotFound:
		return "Request_ResourceNotFound"
	case KindUnauthenticated:
		return "InvalidAuthenticationToken"
	case KindForbidden:
		return "Authorization_RequestDenied"
	case KindPreconditionFailed:
		return "Request_PreconditionFailed"
	case KindTooManyRequests:
		return "TooManyRequests"
	case KindUnavailable:
		return "serviceNotAvailable"
	}
	return "InternalError"
}

// IsDenial reports whether err refuses a caller for lack of rights: a
// missing permission or role (403) or a missing step-up (401 with a
// claims challenge).
func IsDenial(err error) bool {
	var de *Error
	if !errors.As(err, &de) {
		return false
	}
	return de.Kind == KindForbidden || de.Claims != ""
}
