package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/throttle"
)

type batchResult struct {
	Responses []struct {
		ID      string            `json:"id"`
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"responses"`
}

func decodeBatch(t *testing.T, w *httptest.ResponseRecorder) batchResult {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("batch status %d: %s", w.Code, w.Body.String())
	}
	var out batchResult
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("batch body: %v\n%s", err, w.Body.String())
	}
	return out
}

// byID returns the response of one request.
func (b batchResult) byID(t *testing.T, id string) (int, map[string]string, json.RawMessage) {
	t.Helper()
	for _, r := range b.Responses {
		if r.ID == id {
			return r.Status, r.Headers, r.Body
		}
	}
	t.Fatalf("no response for request %q", id)
	return 0, nil, nil
}

func (b batchResult) statuses() map[string]int {
	out := map[string]int{}
	for _, r := range b.Responses {
		out[r.ID] = r.Status
	}
	return out
}

func innerErrorCode(t *testing.T, body json.RawMessage) string {
	t.Helper()
	var e struct {
		Error struct {
			Code       string            `json:"code"`
			Message    string            `json:"message"`
			InnerError map[string]string `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || e.Error.InnerError["request-id"] == "" {
		t.Fatalf("not a Graph error envelope: %s", body)
	}
	return e.Error.Code
}

func batchBody(_ *testing.T, reqs ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"requests": reqs})
	if err != nil {
		panic(err)
	}
	return b
}

var jsonHeaders = map[string]any{"Content-Type": "application/json"}

func TestBatchRunsEachRequestThroughTheAPI(t *testing.T) {
	a := newTestAPI(t)
	a.users.count = 7
	body := batchBody(t,
		map[string]any{"id": "get", "method": "GET", "url": "/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd?$select=id,displayName"},
		map[string]any{"id": "create", "method": "POST", "url": "users", "headers": jsonHeaders,
			"body": map[string]any{"displayName": "New", "accountEnabled": true, "mailNickname": "n", "userPrincipalName": "n@contoso.com",
				"passwordProfile": map[string]any{"password": "Secret-123!"}}},
		map[string]any{"id": "patch", "method": "PATCH", "url": "/users/x", "headers": jsonHeaders, "body": map[string]any{"city": "Oslo"},
			"dependsOn": []string{"create"}},
		map[string]any{"id": "count", "method": "GET", "url": "/users/$count?$filter=city eq 'Oslo'",
			"headers": map[string]any{"ConsistencyLevel": "eventual", "client-request-id": "mine-1"}},
		map[string]any{"id": "delete", "method": "delete", "url": "/users('x')"},
	)
	w := a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: body,
		header: map[string]string{"client-request-id": "outer-1"}})
	res := decodeBatch(t, w)
	if got := a.users.called(); !slices.Equal(got, []string{"GetUser", "CreateUser", "UpdateUser", "CountUsers", "DeleteUser"}) {
		t.Fatalf("calls %v", got)
	}
	var order []string
	for _, r := range res.Responses {
		order = append(order, r.ID)
	}
	if !slices.Equal(order, []string{"get", "create", "patch", "count", "delete"}) {
		t.Fatalf("responses in order %v", order)
	}
	if c, _ := a.users.values["city"].(*string); c == nil || *c != "Oslo" {
		t.Errorf("patch values %v", a.users.values)
	}
	if a.users.query.Filter == nil {
		t.Errorf("count filter not passed: %+v", a.users.query)
	}

	st, h, b := res.byID(t, "get")
	var u map[string]any
	if st != 200 || json.Unmarshal(b, &u) != nil || u["displayName"] != `Adele "AV" Vance` || len(u) != 3 {
		t.Errorf("get: %d %s", st, b)
	}
	if h["Content-Type"] != contentTypeJSON || h["OData-Version"] != "4.0" {
		t.Errorf("get headers %v", h)
	}
	outerID := w.Header().Get("request-id")
	if h["request-id"] == "" || h["request-id"] == outerID {
		t.Errorf("inner request-id %q (outer %q)", h["request-id"], outerID)
	}
	if h["client-request-id"] != "outer-1" {
		t.Errorf("inner client-request-id %q, want the batch's", h["client-request-id"])
	}
	if st, h, _ := res.byID(t, "create"); st != 201 || !strings.HasSuffix(h["Location"], "/v1.0/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd") ||
		!strings.HasPrefix(h["Location"], "http://graph.test:8080/") {
		t.Errorf("create: %d %v", st, h)
	}
	if st, _, b := res.byID(t, "patch"); st != 204 || string(b) != "null" {
		t.Errorf("patch: %d %s", st, b)
	}
	if st, h, b := res.byID(t, "count"); st != 200 || string(b) != `"7"` || h["client-request-id"] != "mine-1" {
		t.Errorf("count: %d %s %v", st, b, h)
	}
	if st, _, _ := res.byID(t, "delete"); st != 204 || a.users.key != "x" {
		t.Errorf("delete: %d key %q", st, a.users.key)
	}
	// Each request is logged on its own, by route, besides the batch.
	logs := a.logs.String()
	for _, route := range []string{`"route":"/v1.0/$batch"`, `"route":"/v1.0/users/:key"`, `"route":"/v1.0/users/$count"`, `"route":"/v1.0/users"`} {
		if !strings.Contains(logs, route) {
			t.Errorf("no access log line with %s", route)
		}
	}
	validateAgainst(t, loadOpenAPI(t), "POST", "/v1.0/$batch", request{method: "POST", target: "/v1.0/$batch"}, w)
}

func TestBatchDelegatedMe(t *testing.T) {
	a := newTestAPI(t)
	res := decodeBatch(t, a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "user-rw", body: batchBody(t,
		map[string]any{"id": "1", "method": "GET", "url": "/me"},
		map[string]any{"id": "2", "method": "PATCH", "url": "me", "headers": jsonHeaders, "body": map[string]any{"city": "Redmond"}},
		map[string]any{"id": "3", "method": "GET", "url": "/users"}, // User.ReadWrite cannot list
	)}))
	if got := res.statuses(); got["1"] != 200 || got["2"] != 204 || got["3"] != 403 {
		t.Fatalf("statuses %v", got)
	}
	if _, _, b := res.byID(t, "3"); innerErrorCode(t, b) != "Authorization_RequestDenied" {
		t.Errorf("403: %s", b)
	}
}

// A request the token may not make is refused inside the batch; the others
// run.
func TestBatchForbiddenRequestDoesNotStopOthers(t *testing.T) {
	a := newTestAPI(t)
	res := decodeBatch(t, a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-read", body: batchBody(t,
		map[string]any{"id": "read", "method": "GET", "url": "/users"},
		map[string]any{"id": "write", "method": "PATCH", "url": "/users/x", "headers": jsonHeaders, "body": map[string]any{"city": "Oslo"}},
		map[string]any{"id": "after", "method": "GET", "url": "/users/x", "dependsOn": []string{"read"}},
	)}))
	if got := res.statuses(); got["read"] != 200 || got["write"] != 403 || got["after"] != 200 {
		t.Fatalf("statuses %v", got)
	}
	if _, _, b := res.byID(t, "write"); innerErrorCode(t, b) != "Authorization_RequestDenied" {
		t.Errorf("write: %s", b)
	}
	if got := a.users.called(); !slices.Equal(got, []string{"ListUsers", "GetUser"}) {
		t.Errorf("calls %v", got)
	}
}

func TestBatchFailedDependency(t *testing.T) {
	a := newTestAPI(t)
	res := decodeBatch(t, a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: batchBody(t,
		map[string]any{"id": "bad", "method": "GET", "url": "/nothing"},
		map[string]any{"id": "ok", "method": "GET", "url": "/users/x"},
		map[string]any{"id": "dep", "method": "DELETE", "url": "/users/x", "dependsOn": []string{"ok", "bad"}},
		map[string]any{"id": "transitive", "method": "GET", "url": "/users/y", "dependsOn": []string{"dep"}},
		map[string]any{"id": "fine", "method": "GET", "url": "/users/z", "dependsOn": []string{"ok"}},
	)}))
	want := map[string]int{"bad": 404, "ok": 200, "dep": 424, "transitive": 424, "fine": 200}
	if got := res.statuses(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	_, h, b := res.byID(t, "dep")
	if innerErrorCode(t, b) != "FailedDependency" || !strings.Contains(string(b), "'bad'") || h["Content-Type"] != contentTypeJSON {
		t.Errorf("424: %s %v", b, h)
	}
	if _, _, b := res.byID(t, "transitive"); !strings.Contains(string(b), "'dep'") {
		t.Errorf("transitive 424 names %s", b)
	}
	if got := a.users.called(); !slices.Equal(got, []string{"GetUser", "GetUser"}) {
		t.Errorf("a request with a failed dependency ran: %v", got)
	}
}

func TestBatchCannotNest(t *testing.T) {
	a := newTestAPI(t)
	inner := map[string]any{"requests": []any{map[string]any{"id": "x", "method": "GET", "url": "/users"}}}
	res := decodeBatch(t, a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: batchBody(t,
		map[string]any{"id": "1", "method": "POST", "url": "/$batch", "headers": jsonHeaders, "body": inner},
		map[string]any{"id": "2", "method": "POST", "url": "$batch", "headers": jsonHeaders, "body": inner},
		map[string]any{"id": "3", "method": "POST", "url": "%24batch", "headers": jsonHeaders, "body": inner},
		map[string]any{"id": "4", "method": "GET", "url": "users"},
	)}))
	for _, id := range []string{"1", "2", "3"} {
		if st, _, b := res.byID(t, id); st/100 != 4 || innerErrorCode(t, b) == "" {
			t.Errorf("nested batch %s: %d %s", id, st, b)
		}
	}
	if got := a.users.called(); !slices.Equal(got, []string{"ListUsers"}) {
		t.Errorf("calls %v", got)
	}
}

// A malformed batch is a 400 naming the problem, and nothing in it runs.
func TestBatchMalformed(t *testing.T) {
	many := make([]map[string]any, 21)
	for i := range many {
		many[i] = map[string]any{"id": fmt.Sprint(i), "method": "GET", "url": "/users"}
	}
	ok := map[string]any{"id": "ok", "method": "GET", "url": "/users"}
	cases := map[string]struct {
		body string
		want string // in the message
	}{
		"not JSON":               {`{"requests":[`, "Invalid JSON"},
		"array":                  {`[]`, "JSON object"},
		"unknown member":         {`{"requests":[],"extra":1}`, "Unknown property"},
		"duplicate member":       {`{"requests":[],"requests":[]}`, "Duplicate"},
		"no requests":            {`{}`, "'requests'"},
		"requests not array":     {`{"requests":{}}`, "array"},
		"empty":                  {`{"requests":[]}`, "at least one"},
		"too many":               {string(batchBody(nil, many...)), "at most 20"},
		"item not object":        {`{"requests":["x"]}`, "JSON object"},
		"item unknown member":    {`{"requests":[{"id":"1","method":"GET","url":"/users","Body":{}}]}`, "Unknown property"},
		"item duplicate member":  {`{"requests":[{"id":"1","id":"2","method":"GET","url":"/users"}]}`, "Duplicate"},
		"nested duplicate":       {`{"requests":[{"id":"1","method":"POST","url":"/users","headers":{"Content-Type":"application/json"},"body":{"a":1,"a":2}}]}`, "Duplicate"},
		"missing id":             {`{"requests":[{"method":"GET","url":"/users"}]}`, "'id'"},
		"numeric id":             {`{"requests":[{"id":1,"method":"GET","url":"/users"}]}`, "string"},
		"empty id":               {`{"requests":[{"id":"","method":"GET","url":"/users"}]}`, "1 to 128"},
		"duplicate ids":          {string(batchBody(nil, ok, ok)), "more than once"},
		"missing method":         {`{"requests":[{"id":"1","url":"/users"}]}`, "'method'"},
		"bad method":             {`{"requests":[{"id":"1","method":"HEAD","url":"/users"}]}`, "not supported"},
		"missing url":            {`{"requests":[{"id":"1","method":"GET"}]}`, "'url'"},
		"absolute url":           {`{"requests":[{"id":"1","method":"GET","url":"https://evil.example/users"}]}`, "relative"},
		"scheme-relative url":    {`{"requests":[{"id":"1","method":"GET","url":"//evil.example/users"}]}`, "relative"},
		"versioned url":          {`{"requests":[{"id":"1","method":"GET","url":"/v1.0/users"}]}`, "not '/v1.0/users'"},
		"dot segments":           {`{"requests":[{"id":"1","method":"GET","url":"/../healthz"}]}`, "'..'"},
		"mailto url":             {`{"requests":[{"id":"1","method":"GET","url":"mailto:a@b.c"}]}`, "relative"},
		"fragment":               {`{"requests":[{"id":"1","method":"GET","url":"/users#x"}]}`, "'#'"},
		"headers not object":     {`{"requests":[{"id":"1","method":"GET","url":"/users","headers":["a"]}]}`, "object of string"},
		"header not string":      {`{"requests":[{"id":"1","method":"GET","url":"/users","headers":{"X-A":1}}]}`, "string value"},
		"header bad name":        {`{"requests":[{"id":"1","method":"GET","url":"/users","headers":{"X A":"1"}}]}`, "invalid header"},
		"header bad value":       {`{"requests":[{"id":"1","method":"GET","url":"/users","headers":{"X-A":"1\r\nX-B: 2"}}]}`, "invalid header"},
		"header twice":           {`{"requests":[{"id":"1","method":"GET","url":"/users","headers":{"x-a":"1","X-A":"2"}}]}`, "more than once"},
		"inner authorization":    {`{"requests":[{"id":"1","method":"GET","url":"/users","headers":{"authorization":"Bearer app-rw"}}]}`, "Authorization"},
		"inner content-encoding": {`{"requests":[{"id":"1","method":"GET","url":"/users","headers":{"Content-Encoding":"gzip"}}]}`, "Content-Encoding"},
		"body without type":      {`{"requests":[{"id":"1","method":"PATCH","url":"/users/x","body":{"city":"x"}}]}`, "Content-Type"},
		"dependsOn not array":    {`{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":"0"}]}`, "array"},
		"dependsOn unknown":      {`{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["9"]}]}`, "not in the batch"},
		"dependsOn self":         {`{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["1"]}]}`, "not declared before"},
		"dependsOn later":        {`{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["2"]},{"id":"2","method":"GET","url":"/users"}]}`, "not declared before"},
		"cycle":                  {`{"requests":[{"id":"1","method":"GET","url":"/users","dependsOn":["2"]},{"id":"2","method":"GET","url":"/users","dependsOn":["1"]}]}`, "not declared before"},
	}
	a := newTestAPI(t)
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: []byte(c.body)})
			if w.Code != 400 {
				t.Fatalf("status %d: %s", w.Code, w.Body.String())
			}
			var e errorEnvelope
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code != "BadRequest" {
				t.Fatalf("body %s", w.Body.String())
			}
			if !strings.Contains(e.Error.Message, c.want) {
				t.Errorf("message %q does not mention %q", e.Error.Message, c.want)
			}
		})
	}
	if got := a.users.called(); len(got) != 0 {
		t.Fatalf("a malformed batch ran requests: %v", got)
	}
}

func TestBatchOuterRequest(t *testing.T) {
	a := newTestAPI(t) // MaxBodyBytes 4096
	one := batchBody(t, map[string]any{"id": "1", "method": "GET", "url": "/users"})
	for name, c := range map[string]struct {
		req    request
		status int
	}{
		"no token":         {request{method: "POST", target: "/v1.0/$batch", body: one}, 401},
		"bad token":        {request{method: "POST", target: "/v1.0/$batch", token: "nope", body: one}, 401},
		"wrong media type": {request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: one, header: map[string]string{"Content-Type": "text/plain"}}, 415},
		"too large": {request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: batchBody(t, map[string]any{
			"id": "1", "method": "PATCH", "url": "/users/x", "headers": jsonHeaders, "body": map[string]any{"city": strings.Repeat("x", 5000)}})}, 413},
		"GET": {request{method: "GET", target: "/v1.0/$batch", token: "app-rw"}, 405},
	} {
		t.Run(name, func(t *testing.T) {
			if w := a.do(t, c.req); w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
		})
	}
	if got := a.users.called(); len(got) != 0 {
		t.Fatalf("calls %v", got)
	}
}

// Each request is throttled on its own: a write beyond the write bucket is
// a 429 inside the batch with its own Retry-After, the batch itself is not
// charged as a write, and reads go on.
func TestBatchThrottlesEachRequest(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	lim := throttle.New(throttle.Limits{AppTenantWrites: 2, AppTenantWriteWindow: time.Hour}, nil)
	lim.SetClock(clock.Now)
	a := newTestAPI(t, func(o *Options) { o.Throttle = lim })
	patch := func(id string) map[string]any {
		return map[string]any{"id": id, "method": "PATCH", "url": "/users/x", "headers": jsonHeaders, "body": map[string]any{"city": id}}
	}
	w := a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: batchBody(t,
		patch("w1"), patch("w2"), patch("w3"),
		map[string]any{"id": "read", "method": "GET", "url": "/users?$top=5"},
		map[string]any{"id": "dep", "method": "GET", "url": "/users/x", "dependsOn": []string{"w3"}},
	)})
	res := decodeBatch(t, w)
	want := map[string]int{"w1": 204, "w2": 204, "w3": 429, "read": 200, "dep": 424}
	if got := res.statuses(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	_, h, b := res.byID(t, "w3")
	if innerErrorCode(t, b) != "TooManyRequests" || h["Retry-After"] == "" || h["x-ms-throttle-information"] != "WriteLimitExceeded" ||
		!strings.HasPrefix(h["x-ms-throttle-scope"], "Tenant_Application/Write/") {
		t.Errorf("429: %s %v", b, h)
	}
	if _, h, _ := res.byID(t, "read"); h["x-ms-resource-unit"] != "1" {
		t.Errorf("read headers %v", h)
	}
	if w.Header().Get("x-ms-resource-unit") != "1" {
		t.Errorf("the batch itself cost %q", w.Header().Get("x-ms-resource-unit"))
	}
	if got := a.users.called(); !slices.Equal(got, []string{"UpdateUser", "UpdateUser", "ListUsers"}) {
		t.Errorf("calls %v", got)
	}
}

// Requests inside a batch run in the batch's concurrency slot: a batch is
// served even when it takes the only one.
func TestBatchUsesItsOwnSlot(t *testing.T) {
	a := newTestAPI(t, func(o *Options) { o.MaxConcurrent = 1 })
	res := decodeBatch(t, a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: batchBody(t,
		map[string]any{"id": "1", "method": "GET", "url": "/users"},
		map[string]any{"id": "2", "method": "GET", "url": "/users/x"},
	)}))
	if got := res.statuses(); got["1"] != 200 || got["2"] != 200 {
		t.Fatalf("statuses %v", got)
	}
}

func TestBatchInnerErrorsKeepTheirShape(t *testing.T) {
	a := newTestAPI(t, func(o *Options) { o.MaxBodyBytes = 64 << 10 })
	res := decodeBatch(t, a.do(t, request{method: "POST", target: "/v1.0/$batch", token: "app-rw", body: batchBody(t,
		map[string]any{"id": "filter", "method": "GET", "url": "/users?$filter=displayName eq"},
		map[string]any{"id": "body", "method": "PATCH", "url": "/users/x", "headers": jsonHeaders, "body": map[string]any{"DisplayName": "x"}},
		map[string]any{"id": "media", "method": "PATCH", "url": "/users/x", "headers": map[string]any{"Content-Type": "text/plain"}, "body": "x"},
		map[string]any{"id": "method", "method": "PUT", "url": "/users/x", "headers": jsonHeaders, "body": map[string]any{}},
		map[string]any{"id": "long", "method": "GET", "url": "/users?$filter=" + strings.Repeat("a", DefaultMaxURLBytes)},
	)}))
	want := map[string]int{"filter": 400, "body": 400, "media": 415, "method": 405, "long": 414}
	if got := res.statuses(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	for id := range want {
		_, _, b := res.byID(t, id)
		innerErrorCode(t, b)
	}
	if got := a.users.called(); len(got) != 0 {
		t.Errorf("calls %v", got)
	}
}

func TestBatchTarget(t *testing.T) {
	for raw, want := range map[string]string{
		"/users":                       "/v1.0/users",
		"users":                        "/v1.0/users",
		"/users?$filter=city eq 'x'":   "/v1.0/users?$filter=city eq 'x'",
		"/users('a%40b.c')":            "/v1.0/users('a%40b.c')",
		"me":                           "/v1.0/me",
		"users/$count?$search=\"a:b\"": "/v1.0/users/$count?$search=\"a:b\"",
	} {
		u, err := batchTarget(raw)
		if err != nil {
			t.Errorf("%q: %v", raw, err)
			continue
		}
		if got := u.RequestURI(); got != want {
			t.Errorf("%q -> %q, want %q", raw, got, want)
		}
	}
}
