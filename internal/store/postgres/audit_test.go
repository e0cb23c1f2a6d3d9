package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
)

// newEvent begins an event the way directory.Auditor does, by an app.
func newEvent(t *testing.T, tenantID string, act directory.Activity, target directory.AuditTarget) *directory.AuditEvent {
	t.Helper()
	ctx := directory.WithPrincipal(context.Background(), &directory.Principal{Kind: directory.PrincipalApp, TenantID: tenantID, AppID: uuid.NewString()})
	ev := directory.NewAuditor(nopLog{}).Begin(ctx, act, target)
	if ev == nil {
		t.Fatal("no event")
	}
	return ev
}

// nopLog is an AuditLog the tests never reach: the store under test
// writes the events itself.
type nopLog struct{ directory.AuditLog }

// The audit event is a parameter of the write: a write handed one stores
// it in its transaction (and marks it persisted), a write handed nil
// stores nothing, whatever the operation.
func TestAudit_EventIsAParameterOfTheWrite(t *testing.T) {
	s, tn := newTenant(t)
	ctx := context.Background()
	count := func() int {
		t.Helper()
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	u := newUser(tn.ID, "plain@contoso.onmicrosoft.com")
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Values: map[string]any{"city": ptr("Oslo")}}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("writes without an event stored %d events", n)
	}

	audited := newUser(tn.ID, "audited@contoso.onmicrosoft.com")
	ev := newEvent(t, tn.ID, directory.ActivityAddUser, directory.AuditTarget{Type: "User", ID: audited.ID,
		ModifiedProperties: []directory.AuditModifiedProperty{{DisplayName: "displayName"}}})
	if err := s.CreateUser(ctx, audited, ev); err != nil {
		t.Fatal(err)
	}
	if !ev.Persisted() || count() != 1 {
		t.Fatalf("create: persisted %v, %d events", ev.Persisted(), count())
	}
	if v := ev.Targets[0].ModifiedProperties[0].NewValue; v == nil || *v != `["User audited@contoso.onmicrosoft.com"]` {
		t.Errorf("create new value %v", v)
	}

	// The folded PATCH: target resolved by the UPDATE itself, by UPN.
	ev = newEvent(t, tn.ID, directory.ActivityUpdateUser, directory.AuditTarget{Type: "User", UserPrincipalName: "audited@contoso.onmicrosoft.com",
		ModifiedProperties: []directory.AuditModifiedProperty{{DisplayName: "city"}}})
	patch := directory.UserPatch{Values: map[string]any{"city": ptr("Rome")}, Audit: ev}
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{UPN: "audited@contoso.onmicrosoft.com"}, patch); err != nil {
		t.Fatal(err)
	}
	if count() != 2 || ev.Targets[0].ID != audited.ID {
		t.Fatalf("update: %d events, target %+v", count(), ev.Targets[0])
	}
	m := ev.Targets[0].ModifiedProperties[0]
	if m.OldValue == nil || *m.OldValue != "[]" || m.NewValue == nil || *m.NewValue != `["Rome"]` {
		t.Errorf("update values %v -> %v", m.OldValue, m.NewValue)
	}

	// A failed write stores nothing; the Auditor records the failure.
	ev = newEvent(t, tn.ID, directory.ActivityDeleteUser, directory.AuditTarget{Type: "User", ID: uuid.NewString()})
	err := s.SoftDeleteUser(ctx, tn.ID, directory.UserKey{ID: ev.Targets[0].ID}, nil, 0, ev)
	if directory.KindOf(err) != directory.KindNotFound || ev.Persisted() || count() != 2 {
		t.Fatalf("failed delete: %v, persisted %v, %d events", err, ev.Persisted(), count())
	}
}

// Hostile text cannot cost an event: NUL (which text and jsonb refuse),
// invalid UTF-8 and 100 KB strings are stored escaped and cut.
func TestAudit_HostileTextIsStored(t *testing.T) {
	s, tn := newTenant(t)
	ctx := context.Background()
	hostile := "a\x00b\xff\xed\xa0\x80" + strings.Repeat("x", 100<<10)
	ev := newEvent(t, tn.ID, directory.ActivityDeleteUser, directory.AuditTarget{Type: "User", ID: hostile, UserPrincipalName: hostile, DisplayName: "\x00"})
	ev.CorrelationID = "req\x00id"
	ev.AddDetail("k\x00", hostile)
	ev.Result, ev.ResultReason = directory.AuditFailure, "Request_ResourceNotFound"
	if err := s.AppendAuditEvent(ctx, ev); err != nil {
		t.Fatalf("AppendAuditEvent: %v", err)
	}
	page, err := s.ListAuditEvents(ctx, tn.ID, directory.AuditQuery{Top: 10, From: ptr(time.Now().Add(-time.Hour))})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("list: %v %v", err, page)
	}
	got := page.Events[0]
	tg := got.Targets[0]
	if !strings.HasPrefix(tg.ID, `a\x00b\xff\xed\xa0\x80xxx`) || len(tg.ID) > directory.MaxAuditString || !strings.HasSuffix(tg.ID, "…[truncated]") {
		t.Errorf("target id %.60q (%d bytes)", tg.ID, len(tg.ID))
	}
	if tg.DisplayName != `\x00` || got.CorrelationID != `req\x00id` || got.AdditionalDetails[0].Key != `k\x00` {
		t.Errorf("displayName %q correlation %q detail %q", tg.DisplayName, got.CorrelationID, got.AdditionalDetails[0].Key)
	}
}

// Role assignments, application deletes and secret removals store their
// event in the write's transaction: with the change, or not at all. A
// write that changes nothing stores no success (the Auditor then records
// the failure), and a write whose event cannot be stored is rolled back.
func TestAudit_DeletesAndAssignmentsStoreTheEventWithTheChange(t *testing.T) {
	s, tn := newTenant(t)
	ctx := context.Background()
	events := func() int {
		t.Helper()
		var n int
		if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND result = 'success'`, tn.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	rows := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := s.DB().QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// replay is an event whose id is already stored: its insert violates
	// audit_events_pkey, so the write it rides on must roll back.
	replay := func(stored *directory.AuditEvent, act directory.Activity) *directory.AuditEvent {
		ev := newEvent(t, tn.ID, act, directory.AuditTarget{})
		ev.ID = stored.ID
		return ev
	}
	const succeeds = directory.Kind(255) // no Kind: the write succeeds
	type step struct {
		name    string
		write   func(ev *directory.AuditEvent) error
		act     directory.Activity
		kind    directory.Kind // of the write's error, or succeeds
		changed func() bool    // whether the write's change is in the table
	}
	u := newUser(tn.ID, "member@contoso.onmicrosoft.com")
	mustCreate(t, s, u)
	assignment := &directory.RoleAssignment{TenantID: tn.ID, PrincipalID: u.ID, RoleDefinitionID: directory.RoleUserAdministrator}
	assigned := func() bool {
		return rows(`SELECT count(*) FROM role_assignments WHERE tenant_id = $1 AND principal_id = $2`, tn.ID, u.ID) == 1
	}
	app := &directory.Application{TenantID: tn.ID, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "job",
		PasswordCredentials: []directory.PasswordCredential{{KeyID: uuid.NewString(), Hint: "abc", SecretHash: "h",
			StartDateTime: time.Now(), EndDateTime: time.Now().Add(time.Hour)}}}
	if err := s.CreateApplication(ctx, app, nil); err != nil {
		t.Fatal(err)
	}
	keyID := app.PasswordCredentials[0].KeyID
	hasSecret := func() bool {
		return rows(`SELECT count(*) FROM application_secrets WHERE tenant_id = $1 AND key_id = $2`, tn.ID, keyID) == 1
	}
	hasApp := func() bool {
		return rows(`SELECT count(*) FROM applications WHERE tenant_id = $1 AND id = $2`, tn.ID, app.ID) == 1
	}

	var first *directory.AuditEvent
	assign := func(ev *directory.AuditEvent) error {
		a := *assignment
		return s.CreateRoleAssignment(ctx, &a, ev)
	}
	unassign := func(ev *directory.AuditEvent) error {
		var id string
		if err := s.DB().QueryRowContext(ctx, `SELECT id::text FROM role_assignments WHERE tenant_id = $1 AND principal_id = $2`, tn.ID, u.ID).Scan(&id); err != nil {
			return err
		}
		return s.DeleteRoleAssignment(ctx, tn.ID, id, ev)
	}
	removeSecret := func(key string) func(*directory.AuditEvent) error {
		return func(ev *directory.AuditEvent) error { return s.RemovePasswordCredential(ctx, tn.ID, app.ID, key, ev) }
	}
	deleteApp := func(id string) func(*directory.AuditEvent) error {
		return func(ev *directory.AuditEvent) error { return s.DeleteApplication(ctx, tn.ID, id, ev) }
	}
	notAssigned := func() bool { return !assigned() }
	steps := []step{
		{"assign", assign, directory.ActivityAddRoleMember, succeeds, assigned},
		{"assign twice", assign, directory.ActivityAddRoleMember, directory.KindConflict, assigned},
		{"unassign, event not storable", unassign, directory.ActivityRemoveRoleMember, directory.KindConflict, assigned},
		{"unassign a missing assignment", func(ev *directory.AuditEvent) error {
			return s.DeleteRoleAssignment(ctx, tn.ID, uuid.NewString(), ev)
		}, directory.ActivityRemoveRoleMember, directory.KindNotFound, assigned},
		{"unassign", unassign, directory.ActivityRemoveRoleMember, succeeds, notAssigned},
		{"assign, event not storable", assign, directory.ActivityAddRoleMember, directory.KindConflict, notAssigned},
		{"remove a missing secret", removeSecret(uuid.NewString()), directory.ActivityUpdateApplicationSecrets, directory.KindNotFound, hasSecret},
		{"remove secret, event not storable", removeSecret(keyID), directory.ActivityUpdateApplicationSecrets, directory.KindConflict, hasSecret},
		{"remove secret", removeSecret(keyID), directory.ActivityUpdateApplicationSecrets, succeeds, func() bool { return !hasSecret() }},
		{"delete a missing application", deleteApp(uuid.NewString()), directory.ActivityDeleteApplication, directory.KindNotFound, hasApp},
		{"delete application, event not storable", deleteApp(app.ID), directory.ActivityDeleteApplication, directory.KindConflict, hasApp},
		{"delete application", deleteApp(app.ID), directory.ActivityDeleteApplication, succeeds, func() bool { return !hasApp() }},
	}
	want := 0
	for _, st := range steps {
		ev := newEvent(t, tn.ID, st.act, directory.AuditTarget{ID: uuid.NewString()})
		if strings.HasSuffix(st.name, "event not storable") {
			ev = replay(first, st.act)
		}
		err := st.write(ev)
		if st.kind == succeeds {
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			want++
			if first == nil {
				first = ev
			}
		} else if directory.KindOf(err) != st.kind {
			t.Fatalf("%s: error %v, want kind %s", st.name, err, st.kind)
		}
		if ev.Persisted() != (st.kind == succeeds) || events() != want {
			t.Errorf("%s: persisted %v, %d success events, want %d", st.name, ev.Persisted(), events(), want)
		}
		if !st.changed() {
			t.Errorf("%s: the change is not as it should be", st.name)
		}
	}
}
