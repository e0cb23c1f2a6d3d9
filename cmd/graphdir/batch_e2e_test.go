package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

type batchEntry struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// batch posts a $batch and returns its responses by id, after checking the
// outer answer and that every request got exactly one response.
func (s *stack) batch(token string, reqs []map[string]any, headers ...string) (map[string]batchEntry, *response) {
	s.t.Helper()
	r := s.do("POST", "/v1.0/$batch", token, map[string]any{"requests": reqs}, headers...)
	if r.Status != 200 {
		s.t.Fatalf("batch: %d %s", r.Status, r.Body)
	}
	var out struct {
		Responses []batchEntry `json:"responses"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		s.t.Fatalf("batch body: %v\n%s", err, r.Body)
	}
	byID := map[string]batchEntry{}
	for _, e := range out.Responses {
		if _, dup := byID[e.ID]; dup {
			s.t.Fatalf("two responses for %q", e.ID)
		}
		byID[e.ID] = e
	}
	if len(byID) != len(reqs) {
		s.t.Fatalf("%d responses for %d requests: %s", len(byID), len(reqs), r.Body)
	}
	return byID, r
}

func (e batchEntry) errorCode(t *testing.T) string {
	t.Helper()
	res := &response{Status: e.Status, Header: http.Header{"Request-Id": {e.Headers["request-id"]}}, Body: e.Body}
	return res.ErrorCode(t)
}

// asResponse lets the audit helpers find the events of a request inside a
// batch by its own request-id.
func (e batchEntry) asResponse() *response {
	return &response{Status: e.Status, Header: http.Header{"Request-Id": {e.Headers["request-id"]}}, Body: e.Body}
}

func batchUser(upn string) map[string]any {
	u := workforceUser(upn)
	u["mailNickname"] = strings.Split(upn, "@")[0]
	return u
}

// TestBatchOverPostgres sends one batch mixing reads, writes (create, patch,
// delete), a failing request with dependents, a request the token may not
// make and a throttled write, and checks each answer and that the writes
// really happened, each audited under its own request id.
func TestBatchOverPostgres(t *testing.T) {
	// Four writes per application per window: the batch's fifth write is
	// throttled. The batch itself is not charged as a write.
	s, _ := newServingStack(t, map[string]string{"GRAPHDIR_THROTTLE_APP_WRITES": "4"}, io.Discard)
	setup := s.appToken("User.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")
	keep := s.create(setup, batchUser("keep@contoso.com"))
	spared := s.create(setup, batchUser("spared@contoso.com"))
	gone := s.create(setup, batchUser("gone@contoso.com"))
	countBefore := s.do("GET", "/v1.0/users/$count", setup, nil, "ConsistencyLevel", "eventual")
	if countBefore.Status != 200 {
		t.Fatalf("count: %d %s", countBefore.Status, countBefore.Body)
	}
	var before int
	fmt.Sscan(string(countBefore.Body), &before)

	tok := s.appToken("User.ReadWrite.All") // its own throttle buckets
	jsonHdr := map[string]string{"Content-Type": "application/json"}
	missing := uuid.NewString()
	reqs := []map[string]any{
		{"id": "list", "method": "GET", "url": "/users?$select=id,displayName&$filter=endsWith(userPrincipalName,'@contoso.com')&$count=true&$orderby=displayName",
			"headers": map[string]string{"ConsistencyLevel": "eventual"}},
		{"id": "create", "method": "POST", "url": "users", "headers": jsonHdr, "body": batchUser("new@contoso.com")},
		{"id": "getNew", "method": "GET", "url": "/users/new@contoso.com?$select=id,userPrincipalName", "dependsOn": []string{"create"}},
		{"id": "patch", "method": "PATCH", "url": "/users/" + keep["id"].(string), "headers": jsonHdr, "body": map[string]any{"city": "Oslo"}},
		{"id": "missing", "method": "PATCH", "url": "/users/" + missing, "headers": jsonHdr, "body": map[string]any{"city": "Nowhere"}},
		{"id": "dependent", "method": "DELETE", "url": "/users/" + spared["id"].(string), "dependsOn": []string{"missing"}},
		{"id": "transitive", "method": "GET", "url": "/users/" + spared["id"].(string), "dependsOn": []string{"dependent"}},
		{"id": "forbidden", "method": "GET", "url": "/auditLogs/directoryAudits"},
		{"id": "delete", "method": "DELETE", "url": "/users('" + url.PathEscape(gone["id"].(string)) + "')"},
		{"id": "throttled", "method": "POST", "url": "/users", "headers": jsonHdr, "body": batchUser("late@contoso.com")},
		{"id": "count", "method": "GET", "url": "/users/$count", "headers": map[string]string{"ConsistencyLevel": "eventual"}},
		{"id": "nested", "method": "POST", "url": "/$batch", "headers": jsonHdr,
			"body": map[string]any{"requests": []any{map[string]any{"id": "x", "method": "GET", "url": "/users"}}}},
	}
	res, outer := s.batch(tok, reqs, "client-request-id", "batch-e2e")
	want := map[string]int{"list": 200, "create": 201, "getNew": 200, "patch": 204, "missing": 404, "dependent": 424,
		"transitive": 424, "forbidden": 403, "delete": 204, "throttled": 429, "count": 200, "nested": 400}
	for id, st := range want {
		if res[id].Status != st {
			t.Errorf("%s: status %d, want %d: %s", id, res[id].Status, st, res[id].Body)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Reads.
	var list struct {
		Count *int             `json:"@odata.count"`
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(res["list"].Body, &list); err != nil || list.Count == nil || *list.Count != 3 || len(list.Value) != 3 {
		t.Errorf("list: %s", res["list"].Body)
	}
	var got map[string]any
	if err := json.Unmarshal(res["getNew"].Body, &got); err != nil || got["userPrincipalName"] != "new@contoso.com" {
		t.Errorf("getNew: %s", res["getNew"].Body)
	}
	var created map[string]any
	if err := json.Unmarshal(res["create"].Body, &created); err != nil || created["id"] != got["id"] {
		t.Errorf("create: %s", res["create"].Body)
	}
	if loc := res["create"].Headers["Location"]; loc != s.srv.URL+"/v1.0/users/"+created["id"].(string) {
		t.Errorf("create Location %q", loc)
	}
	// One created, one deleted: the same number of users.
	if res["count"].Headers["Content-Type"] == "" || string(res["count"].Body) != fmt.Sprintf("%q", fmt.Sprint(before)) {
		t.Errorf("count: %s (before %d)", res["count"].Body, before)
	}

	// Failures keep Graph's error shape.
	for id, code := range map[string]string{"missing": "Request_ResourceNotFound", "dependent": "FailedDependency",
		"transitive": "FailedDependency", "forbidden": "Authorization_RequestDenied", "throttled": "TooManyRequests", "nested": "BadRequest"} {
		if c := res[id].errorCode(t); c != code {
			t.Errorf("%s: code %q, want %q", id, c, code)
		}
	}
	th := res["throttled"].Headers
	if th["Retry-After"] == "" || th["x-ms-throttle-information"] != "WriteLimitExceeded" || th["x-ms-throttle-scope"] == "" {
		t.Errorf("throttled headers %v", th)
	}
	// Every request that ran has its own request id; all carry the batch's
	// client-request-id.
	seen := map[string]bool{outer.Header.Get("request-id"): true}
	for id, e := range res {
		if id == "dependent" || id == "transitive" {
			continue // answered by the batch, not run
		}
		rid := e.Headers["request-id"]
		if rid == "" || seen[rid] {
			t.Errorf("%s: request-id %q not unique", id, rid)
		}
		seen[rid] = true
		if e.Headers["client-request-id"] != "batch-e2e" {
			t.Errorf("%s: client-request-id %q", id, e.Headers["client-request-id"])
		}
	}

	// The writes happened, and only they.
	if r := s.do("GET", "/v1.0/users/"+keep["id"].(string)+"?$select=city", setup, nil); r.Status != 200 || r.JSON(t)["city"] != "Oslo" {
		t.Errorf("patched user: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/users/new@contoso.com", setup, nil); r.Status != 200 {
		t.Errorf("created user: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/users/"+gone["id"].(string), setup, nil); r.Status != 404 {
		t.Errorf("deleted user: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/users/"+spared["id"].(string), setup, nil); r.Status != 200 {
		t.Errorf("the request that depended on a failure ran: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/users/late@contoso.com", setup, nil); r.Status != 404 {
		t.Errorf("the throttled create ran: %d %s", r.Status, r.Body)
	}

	// Each write is audited under its own request id.
	if tg := target(t, s.oneAudit(reader, res["create"].asResponse(), "Add user", "success", "")); tg["id"] != created["id"] {
		t.Errorf("create audit target %v", tg)
	}
	if tg := target(t, s.oneAudit(reader, res["patch"].asResponse(), "Update user", "success", "")); tg["id"] != keep["id"] {
		t.Errorf("patch audit target %v", tg)
	}
	if tg := target(t, s.oneAudit(reader, res["delete"].asResponse(), "Delete user", "success", "")); tg["id"] != gone["id"] {
		t.Errorf("delete audit target %v", tg)
	}
	if evs := s.auditsFor(reader, res["throttled"].Headers["request-id"]); len(evs) != 0 {
		t.Errorf("the throttled write was audited: %v", evs)
	}
	if evs := s.auditsFor(reader, outer.Header.Get("request-id")); len(evs) != 0 {
		t.Errorf("the batch itself was audited: %v", evs)
	}

	// The token's write bucket is empty now: a write sent alone is refused
	// as it was inside the batch, and reads still go through.
	if r := s.do("PATCH", "/v1.0/users/"+keep["id"].(string), tok, map[string]any{"city": "Bergen"}); r.Status != 429 || r.Header.Get("Retry-After") == "" {
		t.Errorf("write after the batch: %d %s", r.Status, r.Body)
	}
	res, _ = s.batch(tok, []map[string]any{{"id": "r", "method": "GET", "url": "/users/" + keep["id"].(string)}})
	if res["r"].Status != 200 {
		t.Errorf("read in a second batch: %d %s", res["r"].Status, res["r"].Body)
	}
}

// A delegated caller's batch runs with the caller's own rights: /me works,
// what the user may not do is refused inside the batch.
func TestBatchDelegatedOverPostgres(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	me := s.create(admin, batchUser("me@contoso.com"))
	other := s.create(admin, batchUser("other@contoso.com"))
	tok := s.userToken(me["id"].(string), "User.ReadWrite", "User.Read.All")
	res, _ := s.batch(tok, []map[string]any{
		{"id": "1", "method": "GET", "url": "/me?$select=id"},
		{"id": "2", "method": "PATCH", "url": "/me", "headers": map[string]string{"Content-Type": "application/json"}, "body": map[string]any{"city": "Redmond"}},
		{"id": "3", "method": "PATCH", "url": "/users/" + other["id"].(string), "headers": map[string]string{"Content-Type": "application/json"},
			"body": map[string]any{"city": "Redmond"}, "dependsOn": []string{"2"}},
		{"id": "4", "method": "GET", "url": "/me?$select=city", "dependsOn": []string{"2"}},
	})
	if res["1"].Status != 200 || res["2"].Status != 204 || res["3"].Status != 403 || res["4"].Status != 200 ||
		!strings.Contains(string(res["4"].Body), `"city":"Redmond"`) {
		t.Fatalf("statuses 1:%d 2:%d 3:%d 4:%d (%s)", res["1"].Status, res["2"].Status, res["3"].Status, res["4"].Status, res["3"].Body)
	}
	if r := s.do("GET", "/v1.0/users/"+me["id"].(string)+"?$select=city", admin, nil); r.JSON(t)["city"] != "Redmond" {
		t.Errorf("PATCH /me in the batch did not apply: %s", r.Body)
	}
	if r := s.do("GET", "/v1.0/users/"+other["id"].(string)+"?$select=city", admin, nil); r.JSON(t)["city"] != nil {
		t.Errorf("the refused PATCH applied: %s", r.Body)
	}
}

// A malformed batch is a 400 and changes nothing, even when its valid
// requests come first.
func TestBatchMalformedOverPostgres(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	snap := s.snapshot()
	r := s.do("POST", "/v1.0/$batch", admin, map[string]any{"requests": []any{
		map[string]any{"id": "1", "method": "POST", "url": "/users", "headers": map[string]string{"Content-Type": "application/json"}, "body": batchUser("x@contoso.com")},
		map[string]any{"id": "2", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users"},
	}})
	if r.Status != 400 || r.ErrorCode(t) != "BadRequest" || !strings.Contains(string(r.Body), "absolute") {
		t.Fatalf("malformed batch: %d %s", r.Status, r.Body)
	}
	if s.snapshot() != snap {
		t.Fatal("a malformed batch wrote")
	}
}
