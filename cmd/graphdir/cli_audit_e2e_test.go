package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// auditsWhere lists a tenant's audit events that $filter selects.
func (s *stack) auditsWhere(reader, filter string) []map[string]any {
	s.t.Helper()
	r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$filter="+url.QueryEscape(filter), reader, nil)
	if r.Status != 200 {
		s.t.Fatalf("list audits: %d %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, v := range r.JSON(s.t)["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// The command line's writes go through the domain and join the audit
// trail like the API's: `tenant create`, `role assign` and `role remove`
// each leave one event whose initiator is the command line.
func TestCLIWritesAreAudited(t *testing.T) {
	s := newStack(t)
	b := s.newTenant("fabrikam.example")
	reader := s.appTokenIn(b, "AuditLog.Read.All")
	home := s.appToken("AuditLog.Read.All") // the default tenant's reader

	fromCLI := func(what string, ev map[string]any) {
		t.Helper()
		app, _ := ev["initiatedBy"].(map[string]any)["app"].(map[string]any)
		if app == nil || app["appId"] != directory.OperatorAppID || app["displayName"] != directory.OperatorDisplayName {
			t.Errorf("%s: initiatedBy %v", what, ev["initiatedBy"])
		}
		if ev["result"] != "success" {
			t.Errorf("%s: result %v %v", what, ev["result"], ev["resultReason"])
		}
	}

	// A tenant's creation is in the default tenant's trail (the new
	// tenant's own starts empty).
	evs := s.auditsWhere(home, "activityDisplayName eq 'Create company'")
	if len(evs) != 1 {
		t.Fatalf("tenant create: %d events: %v", len(evs), evs)
	}
	fromCLI("tenant create", evs[0])
	if tg := target(t, evs[0]); tg["id"] != b || tg["displayName"] != "Tenant fabrikam.example" {
		t.Errorf("tenant create target %v", tg)
	}
	if evs := s.auditsWhere(reader, "activityDisplayName eq 'Create company'"); len(evs) != 0 {
		t.Errorf("the new tenant's trail holds %v", evs)
	}

	// A refused tenant create (the domain is taken) is recorded too.
	if _, err := s.cli("tenant", "create", "--domain", "fabrikam.example"); err == nil ||
		!strings.Contains(err.Error(), "already belongs") {
		t.Errorf("second tenant with a taken domain: %v", err)
	}
	evs = s.auditsWhere(home, "activityDisplayName eq 'Create company' and result eq 'failure'")
	if len(evs) != 1 || evs[0]["resultReason"] != "Request_BadRequest" {
		t.Errorf("refused tenant create: %v", evs)
	}

	user := s.rawUser(b, "ops@fabrikam.example")
	out, err := s.cli("role", "assign", "--tenant", b, "--user", user, "--role", "User Administrator")
	if err != nil {
		t.Fatal(err)
	}
	assignment := strings.Fields(out)[0]
	evs = s.auditsWhere(reader, "activityDisplayName eq 'Add member to role'")
	if len(evs) != 1 {
		t.Fatalf("role assign: %d events: %v", len(evs), evs)
	}
	fromCLI("role assign", evs[0])

	if _, err := s.cli("role", "remove", "--tenant", b, "--id", assignment); err != nil {
		t.Fatal(err)
	}
	evs = s.auditsWhere(reader, "activityDisplayName eq 'Remove member from role'")
	if len(evs) != 1 {
		t.Fatalf("role remove: %d events: %v", len(evs), evs)
	}
	fromCLI("role remove", evs[0])
	if tg := target(t, evs[0]); tg["id"] != assignment {
		t.Errorf("role remove target %v", tg)
	}

	// Removing it again fails, and the failure is recorded too.
	if _, err := s.cli("role", "remove", "--tenant", b, "--id", assignment); err == nil {
		t.Error("an assignment was removed twice")
	}
	evs = s.auditsWhere(reader, "activityDisplayName eq 'Remove member from role' and result eq 'failure'")
	if len(evs) != 1 || evs[0]["resultReason"] != "Request_ResourceNotFound" {
		t.Errorf("failed role remove: %v", evs)
	}
}
