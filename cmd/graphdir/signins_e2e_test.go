package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/protect"
	"github.com/graphdir/graphdir/internal/signin"
)

// signInCore is the sign-in core over the stack's store, as the flows use
// it, with limits that a test does not reach.
func (s *stack) signInCore(now func() time.Time) *signin.Core {
	s.t.Helper()
	g := protect.New(s.db.store, protect.Policy{PerIP: 100000, PerTenant: 100000}, protect.WithClock(now))
	c, err := signin.New(s.db.store, g, signin.WithClock(now))
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// customer creates a user signing in with email and password pw.
func (s *stack) customer(email, pw string) *directory.User {
	s.t.Helper()
	hash, err := password.Hash(pw)
	if err != nil {
		s.t.Fatal(err)
	}
	upn := strings.ReplaceAll(email, "@", "_") + "@" + s.domain
	name, on := "Customer "+email, true
	u := &directory.User{TenantID: s.tenant, UserPrincipalName: &upn, DisplayName: &name, AccountEnabled: &on,
		Password:   directory.PasswordState{Hash: hash},
		Identities: []directory.Identity{{SignInType: "emailAddress", Issuer: s.domain, IssuerAssignedID: email}}}
	if err := s.db.store.CreateUser(context.Background(), u, nil); err != nil {
		s.t.Fatal(err)
	}
	return u
}

const appA, appB = "aaaaaaaa-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"

// TestSignInsEndpoint: GET /v1.0/auditLogs/signIns shows every outcome of
// the password check in Graph's signIn shape; filters, order, paging,
// get by id, hostile input.
func TestSignInsEndpoint(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	base := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	clock := base
	core := s.signInCore(func() time.Time { return clock })
	ann := s.customer("ann@example.com", "Str0ng!Passw0rd")
	try := func(name, pw, app string) {
		clock = clock.Add(time.Minute)
		_, _ = core.CheckPassword(ctx, signin.PasswordAttempt{TenantID: s.tenant, ClientID: app, AppDisplayName: "App " + app[:1],
			Username: name, Password: pw, IP: "203.0.113.5"})
	}
	try("ann@example.com", "Str0ng!Passw0rd", appA) // 12:01 success
	try("ann@example.com", "wrong", appA)           // 12:02 50126
	try("ghost@example.com", "wrong", appB)         // 12:03 50034
	try("ann@example.com", "Str0ng!Passw0rd", appB) // 12:04 success
	try("ANN@example.com", "wrong", appB)           // 12:05 50126

	reader := s.appToken("AuditLog.Read.All")
	list := func(query string) []map[string]any {
		t.Helper()
		r := s.do("GET", "/v1.0/auditLogs/signIns"+query, reader, nil)
		if r.Status != 200 {
			t.Fatalf("GET signIns%s: %d %s", query, r.Status, r.Body)
		}
		var out []map[string]any
		for _, v := range r.JSON(t)["value"].([]any) {
			out = append(out, v.(map[string]any))
		}
		return out
	}
	all := list("")
	if len(all) != 5 {
		t.Fatalf("%d sign-ins, want 5", len(all))
	}
	first := all[0] // newest: the wrong password at 12:05
	st := first["status"].(map[string]any)
	if first["createdDateTime"] != "2026-02-01T12:05:00Z" || first["userId"] != ann.ID || st["errorCode"] != float64(50126) ||
		first["conditionalAccessStatus"] != "notApplied" || first["authenticationRequirement"] != "singleFactorAuthentication" ||
		first["appId"] != appB || first["ipAddress"] != "203.0.113.5" || first["isInteractive"] != true || first["clientAppUsed"] != "Browser" {
		t.Fatalf("newest sign-in: %v", first)
	}
	codes := func(rows []map[string]any) string {
		var b []string
		for _, r := range rows {
			b = append(b, fmt.Sprint(r["status"].(map[string]any)["errorCode"]))
		}
		return strings.Join(b, ",")
	}
	q := func(f string) string { return "?$filter=" + url.QueryEscape(f) }
	for f, want := range map[string]string{
		"status/errorCode eq 0":                                 "0,0",
		"status/errorCode eq 50034":                             "50034",
		"userId eq '" + ann.ID + "'":                            "50126,0,50126,0",
		"userPrincipalName eq 'GHOST@example.com'":              "50034",
		"userPrincipalName eq '" + *ann.UserPrincipalName + "'": "50126,0,50126,0",
		"appId eq '" + appA + "'":                               "50126,0",
		"createdDateTime ge 2026-02-01T12:02:00Z and createdDateTime lt 2026-02-01T12:04:00Z": "50034,50126",
		"createdDateTime gt 2026-02-01T12:04:00Z":                                             "50126",
		"createdDateTime le 2026-02-01T12:01:00Z":                                             "0",
		"appId eq '" + appB + "' and status/errorCode eq 50126":                               "50126",
	} {
		if got := codes(list(q(f))); got != want {
			t.Errorf("$filter=%s: %s, want %s", f, got, want)
		}
	}
	if got := codes(list("?$orderby=" + url.QueryEscape("createdDateTime asc"))); got != "0,50126,50034,0,50126" {
		t.Errorf("ascending: %s", got)
	}
	// Paging: $top=2 and nextLinks, to the end, none repeated.
	seen := map[string]bool{}
	link := "/v1.0/auditLogs/signIns?$top=2&$filter=" + url.QueryEscape("createdDateTime ge 2026-01-01T00:00:00Z")
	pages := 0
	for link != "" {
		r := s.do("GET", link, reader, nil)
		if r.Status != 200 {
			t.Fatalf("page %d: %d %s", pages, r.Status, r.Body)
		}
		body := r.JSON(t)
		if body["@odata.context"] != s.srv.URL+"/v1.0/$metadata#auditLogs/signIns" {
			t.Fatalf("context %v", body["@odata.context"])
		}
		for _, v := range body["value"].([]any) {
			id := v.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("sign-in %s on two pages", id)
			}
			seen[id] = true
		}
		link, _ = body["@odata.nextLink"].(string)
		link = strings.TrimPrefix(link, s.srv.URL)
		pages++
	}
	if pages != 3 || len(seen) != 5 {
		t.Fatalf("%d pages, %d sign-ins", pages, len(seen))
	}
	// One by id.
	r := s.do("GET", "/v1.0/auditLogs/signIns/"+all[2]["id"].(string), reader, nil)
	if r.Status != 200 || r.JSON(t)["userPrincipalName"] != "ghost@example.com" ||
		r.JSON(t)["@odata.context"] != s.srv.URL+"/v1.0/$metadata#auditLogs/signIns/$entity" {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	for _, id := range []string{"00000000-0000-4000-8000-000000000000", "not-a-guid", strings.Repeat("x", 300)} {
		if r := s.do("GET", "/v1.0/auditLogs/signIns/"+id, reader, nil); r.Status != 404 {
			t.Fatalf("get %s: %d %s", id[:8], r.Status, r.Body)
		}
	}
	// Hostile and unsupported input: Graph errors, never a 5xx.
	for query, status := range map[string]int{
		q("ipAddress eq '1.2.3.4'"):                                   400,
		q("userId ne 'x'"):                                            400,
		q("status/errorCode eq 'x'"):                                  400,
		q("status/errorCode eq 99999999999"):                          400,
		q("createdDateTime ge 'yesterday'"):                           400,
		q("createdDateTime ne 2026-01-01T00:00:00Z"):                  400,
		q("userId eq 'a' or userId eq 'b'"):                           400,
		q("startsWith(userPrincipalName,'a')"):                        400,
		q("status/errorCode/x eq 1"):                                  400,
		q("userPrincipalName eq '\x00'"):                              400,
		q("userId eq 'not-a-guid'"):                                   200,
		q("userPrincipalName eq '" + strings.Repeat("é", 2000) + "'"): 200,
		"?$orderby=userId":                                            400,
		"?$select=id":                                                 400,
		"?$count=true":                                                400,
		"?$skip=1":                                                    400,
		"?$top=0":                                                     400,
		"?$top=1000":                                                  400,
		"?$skiptoken=forged":                                          400,
		"?$filter=":                                                   400,
		"?$filter=(((((":                                              400,
	} {
		r := s.do("GET", "/v1.0/auditLogs/signIns"+query, reader, nil)
		if r.Status != status {
			t.Errorf("GET signIns%.80s: %d, want %d: %.300s", query, r.Status, status, r.Body)
			continue
		}
		if status != 200 {
			if e, ok := r.JSON(t)["error"].(map[string]any); !ok || e["code"] == "" || e["message"] == "" {
				t.Errorf("GET signIns%.80s: not a Graph error: %s", query, r.Body)
			}
		}
	}
	// Tenant isolation.
	tb := s.newTenant("tenant-b.test")
	if r := s.do("GET", "/v1.0/auditLogs/signIns", s.appTokenIn(tb, "AuditLog.Read.All"), nil); r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 0 {
		t.Fatalf("tenant B sees A's sign-ins: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/auditLogs/signIns/"+all[0]["id"].(string), s.appTokenIn(tb, "AuditLog.Read.All"), nil); r.Status != 404 {
		t.Fatalf("tenant B reads A's sign-in: %d", r.Status)
	}
}

// TestSignInActivity: users' signInActivity is returned only when
// selected, follows the sign-ins, and filters with ge/le (an index).
func TestSignInActivity(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	clock := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	core := s.signInCore(func() time.Time { return clock })
	early := s.customer("early@example.com", "Str0ng!Passw0rd")
	late := s.customer("late@example.com", "Str0ng!Passw0rd")
	never := s.customer("never@example.com", "Str0ng!Passw0rd")
	signIn := func(name, pw string) {
		if _, err := core.CheckPassword(ctx, signin.PasswordAttempt{TenantID: s.tenant, Username: name, Password: pw}); err != nil && pw == "Str0ng!Passw0rd" {
			t.Fatal(err)
		}
	}
	signIn("early@example.com", "Str0ng!Passw0rd") // 08:00 success
	clock = clock.Add(24 * time.Hour)
	signIn("early@example.com", "wrong") // 2026-03-11 08:00 failure: last attempt, not last success
	clock = clock.Add(24 * time.Hour)
	signIn("late@example.com", "Str0ng!Passw0rd") // 2026-03-12 08:00

	reader := s.appToken("User.Read.All", "AuditLog.Read.All")
	// Not in the default set.
	if r := s.do("GET", "/v1.0/users/"+early.ID, reader, nil); r.Status != 200 || strings.Contains(string(r.Body), "signInActivity") {
		t.Fatalf("default set: %d %s", r.Status, r.Body)
	}
	r := s.do("GET", "/v1.0/users/"+early.ID+"?$select=id,signInActivity", reader, nil)
	if r.Status != 200 {
		t.Fatalf("select: %d %s", r.Status, r.Body)
	}
	act := r.JSON(t)["signInActivity"].(map[string]any)
	if act["lastSignInDateTime"] != "2026-03-11T08:00:00Z" || act["lastSuccessfulSignInDateTime"] != "2026-03-10T08:00:00Z" ||
		act["lastNonInteractiveSignInDateTime"] != nil {
		t.Fatalf("signInActivity = %v", act)
	}
	if r := s.do("GET", "/v1.0/users/"+never.ID+"?$select=signInActivity", reader, nil); r.Status != 200 || r.JSON(t)["signInActivity"] != nil {
		t.Fatalf("never signed in: %d %s", r.Status, r.Body)
	}
	ids := func(filter string) string {
		t.Helper()
		r := s.do("GET", "/v1.0/users?$select=id,signInActivity&$filter="+url.QueryEscape(filter), reader, nil)
		if r.Status != 200 {
			t.Fatalf("$filter=%s: %d %s", filter, r.Status, r.Body)
		}
		var out []string
		for _, v := range r.JSON(t)["value"].([]any) {
			switch v.(map[string]any)["id"] {
			case early.ID:
				out = append(out, "early")
			case late.ID:
				out = append(out, "late")
			default:
				out = append(out, "other")
			}
		}
		return strings.Join(out, ",")
	}
	for f, want := range map[string]string{
		"signInActivity/lastSignInDateTime le 2026-03-11T12:00:00Z":                                                               "early",
		"signInActivity/lastSignInDateTime ge 2026-03-11T12:00:00Z":                                                               "late",
		"signInActivity/lastSignInDateTime ge 2026-01-01T00:00:00Z and signInActivity/lastSignInDateTime le 2026-12-31T00:00:00Z": "early,late",
		"signInActivity/lastSignInDateTime eq 2026-03-12T08:00:00Z":                                                               "late",
		"signInActivity/lastSignInDateTime eq null":                                                                               "other",
		"signInActivity/lastSignInDateTime ne 2026-03-12T08:00:00Z":                                                               "early,other",
	} {
		got := strings.Split(ids(f), ",")
		if strings.Join(sortedCopy(got), ",") != want {
			t.Errorf("$filter=%s: %v, want %s", f, got, want)
		}
	}
	// Refused: other operators, the parts that are not filterable,
	// ordering, delta.
	for _, q := range []string{
		"$filter=" + url.QueryEscape("signInActivity/lastSuccessfulSignInDateTime le 2026-03-11T12:00:00Z"),
		"$filter=" + url.QueryEscape("signInActivity/lastSignInDateTime eq 'x'"),
		"$filter=" + url.QueryEscape("signInActivity eq null"),
		"$filter=" + url.QueryEscape("signInActivity/nope le 2026-03-11T12:00:00Z"),
		"$orderby=" + url.QueryEscape("signInActivity/lastSignInDateTime"),
	} {
		if r := s.do("GET", "/v1.0/users?"+q, reader, nil); r.Status != 400 {
			t.Errorf("GET /users?%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := s.do("GET", "/v1.0/users/delta?$select=signInActivity", reader, nil); r.Status != 400 {
		t.Errorf("delta with signInActivity: %d %s", r.Status, r.Body)
	}
	// Without AuditLog.Read.All: 403 naming it, before any data is read.
	plain := s.appToken("User.Read.All")
	for _, q := range []string{"/v1.0/users/" + early.ID + "?$select=signInActivity", "/v1.0/users?$select=id,signInActivity",
		"/v1.0/users?$filter=" + url.QueryEscape("signInActivity/lastSignInDateTime le 2026-03-11T12:00:00Z"),
		"/v1.0/users/$count?$filter=" + url.QueryEscape("signInActivity/lastSignInDateTime le 2026-03-11T12:00:00Z")} {
		r := s.do("GET", q, plain, nil, "ConsistencyLevel", "eventual")
		if r.Status != 403 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "AuditLog.Read.All") {
			t.Errorf("GET %s without AuditLog.Read.All: %d %s", q, r.Status, r.Body)
		}
	}
	// A sign-in is no change for delta: the user does not come back.
	r = s.do("GET", "/v1.0/users/delta", reader, nil)
	if r.Status != 200 {
		t.Fatalf("delta: %d %s", r.Status, r.Body)
	}
	for r.Status == 200 {
		body := r.JSON(t)
		next, _ := body["@odata.nextLink"].(string)
		if next == "" {
			dl := strings.TrimPrefix(body["@odata.deltaLink"].(string), s.srv.URL)
			signIn("late@example.com", "Str0ng!Passw0rd")
			r = s.do("GET", dl, reader, nil)
			if r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 0 {
				t.Fatalf("delta after a sign-in: %d %s", r.Status, r.Body)
			}
			break
		}
		r = s.do("GET", strings.TrimPrefix(next, s.srv.URL), reader, nil)
	}
	if r.Status != 200 {
		t.Fatalf("delta page: %d %s", r.Status, r.Body)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestSignInLogRetention runs serve's background jobs once: sign-ins
// older than GRAPHDIR_SIGNIN_LOG_RETENTION go, newer ones stay; ended
// rate windows go too.
func TestSignInLogRetention(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.customer("kept@example.com", "Str0ng!Passw0rd")
	at := time.Now().Add(-40 * 24 * time.Hour)
	old := s.signInCore(func() time.Time { return at })
	for i := 0; i < 3; i++ {
		_, _ = old.CheckPassword(ctx, signin.PasswordAttempt{TenantID: s.tenant, Username: "kept@example.com", Password: "wrong", IP: "192.0.2.1"})
	}
	core, err := newSignInCore(s.cfg, s.db.store) // serve's wiring, the real clock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.CheckPassword(ctx, signin.PasswordAttempt{TenantID: s.tenant, Username: "kept@example.com", Password: "Str0ng!Passw0rd", IP: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		var n int
		if err := s.db.store.DB().Get(&n, q); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM sign_ins`); n != 4 {
		t.Fatalf("%d sign-ins before the prune", n)
	}
	if n := count(`SELECT count(*) FROM rate_windows`); n < 2 {
		t.Fatalf("%d rate windows before the prune", n)
	}
	cfg := *s.cfg // the default retention: 30 days
	for _, job := range backgroundJobs(&cfg, s.db.store, slog.New(slog.DiscardHandler)) {
		if err := job.Run(ctx); err != nil {
			t.Fatalf("%s: %v", job.Name, err)
		}
	}
	if n := count(`SELECT count(*) FROM sign_ins`); n != 1 {
		t.Fatalf("%d sign-ins after the prune, want the recent one", n)
	}
	if n := count(`SELECT count(*) FROM sign_ins WHERE error_code = 0 AND created_at > now() - interval '1 hour'`); n != 1 {
		t.Fatal("the recent sign-in was pruned")
	}
	if n := count(`SELECT count(*) FROM rate_windows WHERE window_start < now() - interval '1 day'`); n != 0 {
		t.Fatalf("%d ended rate windows left", n)
	}
}
