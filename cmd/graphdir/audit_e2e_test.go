package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// claimOf returns one claim of a compact JWT (unverified; test tokens only).
func claimOf(t *testing.T, token, name string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	v, _ := m[name].(string)
	return v
}

// auditsFor lists the audit events of one request (by its request-id).
func (s *stack) auditsFor(reader, requestID string) []map[string]any {
	s.t.Helper()
	r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$filter="+url.QueryEscape("correlationId eq '"+requestID+"'"), reader, nil)
	if r.Status != 200 {
		s.t.Fatalf("list audits: %d %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, v := range r.JSON(s.t)["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// oneAudit asserts that request r produced exactly one event and returns it.
func (s *stack) oneAudit(reader string, r *response, activity, result, reason string) map[string]any {
	s.t.Helper()
	evs := s.auditsFor(reader, r.Header.Get("request-id"))
	if len(evs) != 1 {
		s.t.Fatalf("%s: %d audit events for one request (status %d %s): %v", activity, len(evs), r.Status, r.Body, evs)
	}
	ev := evs[0]
	if ev["activityDisplayName"] != activity || ev["result"] != result || ev["resultReason"] != reason ||
		ev["loggedByService"] != "Core Directory" || ev["correlationId"] != r.Header.Get("request-id") {
		s.t.Fatalf("%s: event %v", activity, ev)
	}
	if _, err := time.Parse(time.RFC3339Nano, ev["activityDateTime"].(string)); err != nil {
		s.t.Fatalf("activityDateTime: %v", ev["activityDateTime"])
	}
	return ev
}

func target(t *testing.T, ev map[string]any) map[string]any {
	t.Helper()
	ts := ev["targetResources"].([]any)
	if len(ts) != 1 {
		t.Fatalf("targets %v", ts)
	}
	return ts[0].(map[string]any)
}

func modified(t *testing.T, ev map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, m := range target(t, ev)["modifiedProperties"].([]any) {
		mm := m.(map[string]any)
		out[mm["displayName"].(string)] = mm
	}
	return out
}

func TestAuditTrailRecordsWritesAndDenials(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	adminApp := claimOf(t, admin, "azp")
	reader := s.appToken("AuditLog.Read.All")

	// Add user.
	r := s.do("POST", "/v1.0/users", admin, workforceUser("audit1@contoso.com"))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	ev := s.oneAudit(reader, r, "Add user", "success", "")
	if ev["category"] != "UserManagement" || ev["operationType"] != "Add" {
		t.Fatalf("add: %v", ev)
	}
	init := ev["initiatedBy"].(map[string]any)
	if init["user"] != nil || init["app"].(map[string]any)["appId"] != adminApp {
		t.Fatalf("initiatedBy %v", init)
	}
	tg := target(t, ev)
	if tg["id"] != id || tg["type"] != "User" || tg["userPrincipalName"] != "audit1@contoso.com" {
		t.Fatalf("target %v", tg)
	}
	if m := modified(t, ev); m["passwordProfile"] == nil || m["passwordProfile"]["newValue"] != nil || m["displayName"]["newValue"] != `["Adele Vance"]` {
		t.Fatalf("add modifiedProperties %v", m)
	}

	// Update user: old and new values of ordinary properties, none of sensitive ones.
	r = s.do("PATCH", "/v1.0/users/audit1@contoso.com", admin, map[string]any{"displayName": "Adele V.", "jobTitle": "CEO",
		"mobilePhone": "+1 555 0142", "passwordProfile": map[string]any{"password": "R3set!Password"}})
	if r.Status != 204 {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}
	ev = s.oneAudit(reader, r, "Update user", "success", "")
	if target(t, ev)["id"] != id {
		t.Fatalf("update target by UPN not resolved: %v", target(t, ev))
	}
	m := modified(t, ev)
	if m["displayName"]["oldValue"] != `["Adele Vance"]` || m["displayName"]["newValue"] != `["Adele V."]` ||
		m["jobTitle"]["oldValue"] != `[]` || m["jobTitle"]["newValue"] != `["CEO"]` {
		t.Fatalf("values %v", m)
	}
	for _, name := range []string{"mobilePhone", "passwordProfile"} {
		if m[name] == nil || m[name]["oldValue"] != nil || m[name]["newValue"] != nil {
			t.Fatalf("%s: %v", name, m[name])
		}
	}

	// A customer: step-up denial, self-service update, changePassword.
	cid := s.newCustomer(admin, "cust@example.com")
	plain := s.userTokenWith(cid, noMFA, "User.ReadWrite")
	before := s.snapshot()
	r = s.do("PATCH", "/v1.0/me", plain, map[string]any{"mail": "leak@example.com"})
	s.checkDenied(t, r, before)
	ev = s.oneAudit(reader, r, "Update user", "failure", "insufficient_claims")
	if init := ev["initiatedBy"].(map[string]any); init["user"].(map[string]any)["id"] != cid || init["app"] != nil {
		t.Fatalf("initiatedBy %v", init)
	}
	if target(t, ev)["id"] != cid || modified(t, ev)["mail"] == nil {
		t.Fatalf("denied target %v", target(t, ev))
	}
	// A customer writing someone else: denied by the service.
	before = s.snapshot()
	r = s.do("PATCH", "/v1.0/users/"+id, plain, map[string]any{"city": "Nowhere"})
	s.checkDenied(t, r, before)
	s.oneAudit(reader, r, "Update user", "failure", "Authorization_RequestDenied")
	// Denied at the edge (no write permission): the handler never runs.
	before = s.snapshot()
	r = s.do("POST", "/v1.0/users", s.appToken("User.Read.All"), workforceUser("nope@contoso.com"))
	s.checkDenied(t, r, before)
	s.oneAudit(reader, r, "Add user", "failure", "Authorization_RequestDenied")
	before = s.snapshot()
	r = s.do("DELETE", "/v1.0/users/"+id, s.appToken("User.Read.All"), nil)
	s.checkDenied(t, r, before)
	if tg := target(t, s.oneAudit(reader, r, "Delete user", "failure", "Authorization_RequestDenied")); tg["id"] != id {
		t.Fatalf("denied delete target %v", tg)
	}

	mfa := s.userTokenWith(cid, withMFA, "User.ReadWrite")
	r = s.do("PATCH", "/v1.0/me", mfa, map[string]any{"mail": "new-mail@example.com", "city": "Oslo"})
	if r.Status != 204 {
		t.Fatalf("self update: %d %s", r.Status, r.Body)
	}
	ev = s.oneAudit(reader, r, "Update user", "success", "")
	if m := modified(t, ev); m["mail"]["newValue"] != nil || m["city"]["newValue"] != `["Oslo"]` {
		t.Fatalf("self update values %v", m)
	}
	if !strings.Contains(mustJSON(t, ev["additionalDetails"]), `"amr:mfa"`) {
		t.Fatalf("additionalDetails %v", ev["additionalDetails"])
	}
	r = s.do("POST", "/v1.0/me/changePassword", mfa, map[string]any{"currentPassword": "Wr0ng!Password", "newPassword": "Chang3d!Password"})
	s.oneAudit(reader, r, "Change user password", "failure", "InvalidPassword")
	r = s.do("POST", "/v1.0/me/changePassword", mfa, map[string]any{"currentPassword": customerPassword, "newPassword": "Chang3d!Password"})
	if r.Status != 204 {
		t.Fatalf("changePassword: %d %s", r.Status, r.Body)
	}
	if tg := target(t, s.oneAudit(reader, r, "Change user password", "success", "")); tg["id"] != cid {
		t.Fatalf("changePassword target %v", tg)
	}
	r = s.do("POST", "/v1.0/me/changePassword", s.userTokenWith(cid, withMFA, "User.Read"), map[string]any{"currentPassword": "x", "newPassword": "y"})
	s.oneAudit(reader, r, "Change user password", "failure", "Authorization_RequestDenied")

	// Delete user.
	r = s.do("DELETE", "/v1.0/users/"+id, admin, nil)
	if r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	ev = s.oneAudit(reader, r, "Delete user", "success", "")
	// Deletes are recorded right after the (non-transactional) delete: the
	// target is the id the request named.
	if tg := target(t, ev); tg["id"] != id {
		t.Fatalf("delete target %v", tg)
	}
	// Reads are not audited.
	r = s.do("GET", "/v1.0/users", admin, nil)
	if evs := s.auditsFor(reader, r.Header.Get("request-id")); len(evs) != 0 {
		t.Fatalf("a read was audited: %v", evs)
	}

	// No password, hash or sensitive value anywhere in the table.
	var all string
	if err := s.db.store.DB().QueryRowContext(context.Background(),
		`SELECT coalesce(string_agg(a::text, ' | '), '') FROM audit_events a`).Scan(&all); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"xWwvJ]6NMw+bWH-d", "R3set!Password", customerPassword, "Chang3d!Password", "Wr0ng!Password",
		"$argon2id$", "+1 555 0142", "leak@example.com", "new-mail@example.com", "cust@example.com", "eyJ"} {
		if strings.Contains(all, secret) {
			t.Errorf("audit_events contains %q", secret)
		}
	}
}

func TestAuditListingFilterPagingAndAccess(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")
	start := time.Now().UTC().Add(-time.Second)

	const n = 7
	var ids []string
	for i := 0; i < n; i++ {
		upn := "page" + string(rune('a'+i)) + "@contoso.com"
		u := s.create(admin, map[string]any{"accountEnabled": true, "displayName": "P", "mailNickname": "p", "userPrincipalName": upn,
			"passwordProfile": map[string]any{"password": "xWwvJ]6NMw+bWH-d"}})
		ids = append(ids, u["id"].(string))
	}
	for _, id := range ids[:3] {
		if r := s.do("DELETE", "/v1.0/users/"+id, admin, nil); r.Status != 204 {
			t.Fatalf("delete: %d", r.Status)
		}
	}
	end := time.Now().UTC().Add(time.Second)

	// Paging: $top=2 over the time range returns every event exactly once, newest first.
	filter := "activityDateTime ge " + start.Format(time.RFC3339Nano) + " and activityDateTime le " + end.Format(time.RFC3339Nano)
	link := "/v1.0/auditLogs/directoryAudits?$top=2&$filter=" + url.QueryEscape(filter)
	seen := map[string]bool{}
	var last time.Time
	pages := 0
	for link != "" {
		r := s.do("GET", link, reader, nil)
		if r.Status != 200 {
			t.Fatalf("page: %d %s", r.Status, r.Body)
		}
		body := r.JSON(t)
		if body["@odata.context"] != s.srv.URL+"/v1.0/$metadata#auditLogs/directoryAudits" {
			t.Fatalf("context %v", body["@odata.context"])
		}
		vals := body["value"].([]any)
		if len(vals) > 2 {
			t.Fatalf("page of %d", len(vals))
		}
		for _, v := range vals {
			ev := v.(map[string]any)
			id := ev["id"].(string)
			if seen[id] {
				t.Fatalf("event %s twice", id)
			}
			seen[id] = true
			at, _ := time.Parse(time.RFC3339Nano, ev["activityDateTime"].(string))
			if !last.IsZero() && at.After(last) {
				t.Fatalf("not newest first: %s after %s", at, last)
			}
			last = at
		}
		link, _ = body["@odata.nextLink"].(string)
		pages++
	}
	if len(seen) != n+3 || pages != (n+3+1)/2 {
		t.Fatalf("saw %d events in %d pages, want %d", len(seen), pages, n+3)
	}
	// Filters.
	count := func(f string) int {
		r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$filter="+url.QueryEscape(f), reader, nil)
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", f, r.Status, r.Body)
		}
		return len(r.JSON(t)["value"].([]any))
	}
	if got := count("activityDisplayName eq 'Delete user'"); got != 3 {
		t.Fatalf("deletes: %d", got)
	}
	if got := count("activityDateTime lt " + start.Format(time.RFC3339)); got != 0 {
		t.Fatalf("before start: %d", got)
	}
	if got := count("activityDateTime gt " + end.Format(time.RFC3339Nano)); got != 0 {
		t.Fatalf("after end: %d", got)
	}
	if got := count("activityDisplayName eq 'Add user' and activityDateTime ge " + start.Format(time.RFC3339Nano)); got != n {
		t.Fatalf("adds: %d", got)
	}
	for _, bad := range []string{"activityDateTime ge '2024'", "startswith(activityDisplayName,'A')", "targetResources/any(t: t/id eq 'x')",
		"activityDisplayName eq 'A' or activityDisplayName eq 'B'"} {
		r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$filter="+url.QueryEscape(bad), reader, nil)
		if r.Status != 400 {
			t.Fatalf("%s: %d %s", bad, r.Status, r.Body)
		}
		s.checkDenied(t, r, "")
	}
	if r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$skiptoken=forged", reader, nil); r.Status != 400 {
		t.Fatalf("forged skiptoken: %d", r.Status)
	}

	// Access: AuditLog.Read.All is required; a delegated caller also needs a reader role.
	for _, tc := range []struct {
		tok    string
		status int
	}{
		{admin, 403},
		{s.appToken("Directory.Read.All"), 403},
		{s.userTokenWith(ids[4], withMFA, "AuditLog.Read.All"), 403}, // no directory role
		{s.userTokenWith(ids[4], nil, "User.Read"), 403},
	} {
		r := s.do("GET", "/v1.0/auditLogs/directoryAudits", tc.tok, nil)
		if r.Status != tc.status || s.checkDenied(t, r, "") != "Authorization_RequestDenied" {
			t.Fatalf("access: %d %s", r.Status, r.Body)
		}
	}
	r := s.do("GET", "/v1.0/auditLogs/directoryAudits", admin, nil)
	if got := r.Header.Get("WWW-Authenticate"); got != `Bearer realm="graphdir", error="insufficient_scope", scope="AuditLog.Read.All"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	s.assignRole(s.tenant, ids[4], "Global Administrator")
	if r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$top=1", s.userTokenWith(ids[4], nil, "AuditLog.Read.All"), nil); r.Status != 200 {
		t.Fatalf("global admin: %d %s", r.Status, r.Body)
	}

	// Tenant isolation: tenant B sees none of A's events, and A none of B's.
	tb := s.newTenant("tenant-b.test")
	readerB := s.appTokenIn(tb, "AuditLog.Read.All")
	r = s.do("GET", "/v1.0/auditLogs/directoryAudits", readerB, nil)
	if r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 0 {
		t.Fatalf("tenant B sees: %d %s", r.Status, r.Body)
	}
	rb := s.do("POST", "/v1.0/users", s.appTokenIn(tb, "User.ReadWrite.All"), map[string]any{"accountEnabled": true, "displayName": "B",
		"mailNickname": "b", "userPrincipalName": "b@tenant-b.test", "passwordProfile": map[string]any{"password": "xWwvJ]6NMw+bWH-d"}})
	if rb.Status != 201 {
		t.Fatalf("create in B: %d %s", rb.Status, rb.Body)
	}
	if evs := s.auditsFor(reader, rb.Header.Get("request-id")); len(evs) != 0 {
		t.Fatalf("tenant A sees B's event")
	}
	if evs := s.auditsFor(readerB, rb.Header.Get("request-id")); len(evs) != 1 {
		t.Fatalf("tenant B: %d events", len(evs))
	}
	// A skiptoken of tenant A does not page tenant B.
	r = s.do("GET", "/v1.0/auditLogs/directoryAudits?$top=1", reader, nil)
	next, _ := r.JSON(t)["@odata.nextLink"].(string)
	if next == "" {
		t.Fatal("no nextLink")
	}
	if r := s.do("GET", next, readerB, nil); r.Status != 400 {
		t.Fatalf("A's skiptoken in B: %d %s", r.Status, r.Body)
	}
	_ = directory.AuditSuccess
}

func TestAuditRecordsRoleAssignments(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All", "RoleManagement.ReadWrite.Directory")
	reader := s.appToken("AuditLog.Read.All")
	id := s.create(admin, workforceUser("roled@contoso.com"))["id"].(string)
	r := s.do("POST", "/v1.0/roleManagement/directory/roleAssignments", admin, map[string]any{
		"principalId": id, "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1", "directoryScopeId": "/"})
	if r.Status != 201 {
		t.Fatalf("assign: %d %s", r.Status, r.Body)
	}
	assignment := r.JSON(t)["id"].(string)
	ev := s.oneAudit(reader, r, "Add member to role", "success", "")
	if target(t, ev)["id"] != "fe930be7-5e62-47db-91af-98c3a49a38b1" {
		t.Fatalf("assign target %v", target(t, ev))
	}
	r = s.do("DELETE", "/v1.0/roleManagement/directory/roleAssignments/"+assignment, admin, nil)
	if r.Status != 204 {
		t.Fatalf("unassign: %d %s", r.Status, r.Body)
	}
	s.oneAudit(reader, r, "Remove member from role", "success", "")
	// A failed assignment (unknown role) is recorded as a failure.
	r = s.do("POST", "/v1.0/roleManagement/directory/roleAssignments", admin, map[string]any{
		"principalId": id, "roleDefinitionId": "00000000-0000-0000-0000-000000000000", "directoryScopeId": "/"})
	if r.Status != 400 {
		t.Fatalf("bad role: %d %s", r.Status, r.Body)
	}
	s.oneAudit(reader, r, "Add member to role", "failure", "Request_BadRequest")
}

// $orderby=activityDateTime asc lists oldest first, through every page
// (the skiptoken is bound to the order); desc is the default order; any
// other $orderby is refused naming what is supported.
func TestAuditListingOrderBy(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")
	for i := 0; i < 5; i++ {
		s.create(admin, map[string]any{"accountEnabled": true, "displayName": "O", "mailNickname": "o", "userPrincipalName": "order" + string(rune('a'+i)) + "@contoso.com",
			"passwordProfile": map[string]any{"password": "xWwvJ]6NMw+bWH-d"}})
	}
	list := func(orderby string) ([]string, []time.Time) {
		t.Helper()
		link := "/v1.0/auditLogs/directoryAudits?$top=2"
		if orderby != "" {
			link += "&$orderby=" + url.QueryEscape(orderby)
		}
		var ids []string
		var times []time.Time
		for pages := 0; link != ""; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			r := s.do("GET", link, reader, nil)
			if r.Status != 200 {
				t.Fatalf("$orderby=%s: %d %s", orderby, r.Status, r.Body)
			}
			body := r.JSON(t)
			for _, v := range body["value"].([]any) {
				ev := v.(map[string]any)
				at, err := time.Parse(time.RFC3339Nano, ev["activityDateTime"].(string))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, ev["id"].(string))
				times = append(times, at)
			}
			link, _ = body["@odata.nextLink"].(string)
			if link != "" && !strings.Contains(link, "orderby") && orderby != "" {
				t.Fatalf("nextLink drops $orderby: %s", link)
			}
		}
		return ids, times
	}
	ascIDs, asc := list("activityDateTime asc")
	descIDs, desc := list("ActivityDateTime desc")
	defIDs, _ := list("")
	if len(ascIDs) != 5 || !slices.IsSortedFunc(asc, time.Time.Compare) {
		t.Errorf("asc: %d events %v", len(ascIDs), asc)
	}
	if !slices.IsSortedFunc(desc, func(a, b time.Time) int { return b.Compare(a) }) || !slices.Equal(descIDs, defIDs) {
		t.Errorf("desc: %v; default order %v", descIDs, defIDs)
	}
	rev := slices.Clone(ascIDs)
	slices.Reverse(rev)
	if !slices.Equal(rev, descIDs) {
		t.Errorf("asc %v is not desc %v reversed", ascIDs, descIDs)
	}
	if ascIDs2, _ := list("activityDateTime"); !slices.Equal(ascIDs2, ascIDs) {
		t.Errorf("activityDateTime (asc by default) %v, want %v", ascIDs2, ascIDs)
	}
	// A $skiptoken of one order does not continue another.
	r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$top=2&$orderby=activityDateTime+asc", reader, nil)
	next, _ := r.JSON(t)["@odata.nextLink"].(string)
	tok := mustSkipToken(t, next)
	if r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$top=2&$orderby=activityDateTime+desc&$skiptoken="+url.QueryEscape(tok), reader, nil); r.Status != 400 {
		t.Errorf("skiptoken across orders: %d %s", r.Status, r.Body)
	}
	for _, o := range []string{"activityDisplayName", "activityDateTime desc,id", "category asc"} {
		r := s.do("GET", "/v1.0/auditLogs/directoryAudits?$orderby="+url.QueryEscape(o), reader, nil)
		if r.Status != 400 || r.ErrorCode(t) != "Request_UnsupportedQuery" || !strings.Contains(string(r.Body), "activityDateTime") {
			t.Errorf("$orderby=%s: %d %s", o, r.Status, r.Body)
		}
	}
}
