package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

var (
	guidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`)
)

// checkEnvelope asserts Graph's error envelope and headers and returns the
// error object.
func checkEnvelope(t *testing.T, w *httptest.ResponseRecorder, status int, code string) map[string]any {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status = %d, want %d; body %s", w.Code, status, w.Body)
	}
	if got := w.Header().Get("Content-Type"); got != contentTypeJSON {
		t.Errorf("Content-Type = %q", got)
	}
	if w.Header().Get("OData-Version") != "4.0" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("headers = %v", w.Header())
	}
	rid := w.Header().Get("request-id")
	if !guidRE.MatchString(rid) {
		t.Errorf("request-id header = %q", rid)
	}
	var env map[string]map[string]any
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("body is not an envelope: %v: %s", err, w.Body)
	}
	if len(env) != 1 || env["error"] == nil {
		t.Fatalf("envelope keys: %s", w.Body)
	}
	e := env["error"]
	if e["code"] != code {
		t.Errorf("code = %v, want %s (message %v)", e["code"], code, e["message"])
	}
	if m, _ := e["message"].(string); m == "" {
		t.Errorf("empty message")
	}
	inner, _ := e["innerError"].(map[string]any)
	if inner == nil {
		t.Fatalf("no innerError: %s", w.Body)
	}
	if d, _ := inner["date"].(string); !dateRE.MatchString(d) {
		t.Errorf("innerError.date = %v", inner["date"])
	} else if ts, _ := time.Parse("2006-01-02T15:04:05", d); time.Since(ts).Abs() > time.Minute {
		t.Errorf("innerError.date %v is not now in UTC", d)
	}
	if inner["request-id"] != rid {
		t.Errorf("innerError.request-id = %v, header %s", inner["request-id"], rid)
	}
	if inner["client-request-id"] != w.Header().Get("client-request-id") {
		t.Errorf("innerError.client-request-id = %v, header %s", inner["client-request-id"], w.Header().Get("client-request-id"))
	}
	for k := range e {
		switch k {
		case "code", "message", "innerError", "details", "target":
		default:
			t.Errorf("unexpected error member %q", k)
		}
	}
	return e
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestErrorPaths(t *testing.T) {
	bomb := gzipBytes(t, append([]byte(`{"displayName":"`), bytes.Repeat([]byte("a"), 3<<20)...))
	if len(bomb) >= 4096 {
		t.Fatalf("the bomb (%d bytes) must fit the wire limit to test the decompressed one", len(bomb))
	}
	tests := []struct {
		name       string
		req        request
		svcErr     error
		panic      bool
		status     int
		code       string
		message    string // substring
		header     map[string]string
		noHeader   []string
		wantCalled bool
	}{
		{name: "no token", req: request{method: "GET", target: "/v1.0/users"},
			status: 401, code: "InvalidAuthenticationToken", message: "Access token is empty.",
			header: map[string]string{"WWW-Authenticate": `Bearer realm="graphdir"`}},
		{name: "basic scheme", req: request{method: "GET", target: "/v1.0/users", header: map[string]string{"Authorization": "Basic dXNlcjpwYXNz"}},
			status: 401, code: "InvalidAuthenticationToken",
			header: map[string]string{"WWW-Authenticate": `Bearer realm="graphdir"`}},
		{name: "invalid token", req: request{method: "GET", target: "/v1.0/users", token: "garbage"},
			status: 401, code: "InvalidAuthenticationToken",
			header: map[string]string{"WWW-Authenticate": `Bearer realm="graphdir", error="invalid_token", error_description="The access token is invalid."`}},
		{name: "no token on unknown api route", req: request{method: "GET", target: "/v1.0/groups"},
			status: 401, code: "InvalidAuthenticationToken"},
		{name: "no token on wrong method", req: request{method: "PUT", target: "/v1.0/users"},
			status: 401, code: "InvalidAuthenticationToken", noHeader: []string{"Allow"}},
		{name: "missing permission", req: request{method: "GET", target: "/v1.0/users", token: "app-none"},
			status: 403, code: "Authorization_RequestDenied", message: "Insufficient privileges",
			header: map[string]string{"WWW-Authenticate": `Bearer realm="graphdir", error="insufficient_scope", scope="User.ReadBasic.All User.Read.All User.ReadUpdate.All User.ReadWrite.All Directory.Read.All Directory.ReadWrite.All User-PasswordProfile.ReadWrite.All User-Mail.ReadWrite.All User-Phone.ReadWrite.All"`}},
		{name: "forbidden before body parsing", req: request{method: "POST", target: "/v1.0/users", token: "app-read", body: []byte(`{"nope":1,"nope":2`)},
			status: 403, code: "Authorization_RequestDenied"},
		{name: "forbidden before query parsing", req: request{method: "GET", target: "/v1.0/users?$top=0&$bogus=1", token: "app-none"},
			status: 403, code: "Authorization_RequestDenied"},
		{name: "me with app token", req: request{method: "GET", target: "/v1.0/me", token: "app-rw"},
			status: 400, code: "BadRequest", message: "/me request is only valid with delegated authentication flow."},
		{name: "unknown api route", req: request{method: "GET", target: "/v1.0/groups", token: "app-rw"},
			status: 404, code: "Request_ResourceNotFound", message: "Resource not found for the segment 'groups'."},
		{name: "unknown user navigation", req: request{method: "GET", target: "/v1.0/users/x@contoso.com/manager", token: "app-rw"},
			status: 404, code: "Request_ResourceNotFound", message: "Resource not found for the segment 'manager'."},
		{name: "unknown path outside api", req: request{method: "GET", target: "/nope"},
			status: 404, code: "Request_ResourceNotFound"},
		{name: "beta is not served", req: request{method: "GET", target: "/beta/users", token: "app-rw"},
			status: 404, code: "Request_ResourceNotFound"},
		{name: "wrong method", req: request{method: "PUT", target: "/v1.0/users", token: "app-rw"},
			status: 405, code: "Request_BadRequest", header: map[string]string{"Allow": "GET, POST"}},
		{name: "wrong method on me", req: request{method: "DELETE", target: "/v1.0/me", token: "user-rw"},
			status: 405, code: "Request_BadRequest", header: map[string]string{"Allow": "GET, PATCH"}},
		{name: "wrong method on healthz", req: request{method: "POST", target: "/healthz"},
			status: 405, code: "Request_BadRequest", header: map[string]string{"Allow": "GET"}},
		{name: "body too large", req: request{method: "POST", target: "/v1.0/users", token: "app-rw",
			body: []byte(`{"displayName":"` + strings.Repeat("a", 5000) + `"}`)},
			status: 413, code: "Request_EntityTooLarge"},
		{name: "body too large without content-length", req: request{method: "PATCH", target: "/v1.0/me", token: "user-rw",
			unknownLength: true,
			body:          []byte(`{"displayName":"` + strings.Repeat("a", 5000) + `"}`)},
			status: 413, code: "Request_EntityTooLarge"},
		{name: "gzip bomb", req: request{method: "PATCH", target: "/v1.0/users/x@contoso.com", token: "app-rw",
			header: map[string]string{"Content-Encoding": "gzip"}, body: bomb},
			status: 413, code: "Request_EntityTooLarge"},
		{name: "bad gzip", req: request{method: "PATCH", target: "/v1.0/users/x@contoso.com", token: "app-rw",
			header: map[string]string{"Content-Encoding": "gzip"}, body: []byte(`{"displayName":"x"}`)},
			status: 400, code: "BadRequest"},
		{name: "text/plain body", req: request{method: "POST", target: "/v1.0/users", token: "app-rw",
			header: map[string]string{"Content-Type": "text/plain"}, body: []byte(`{}`)},
			status: 415, code: "Request_UnsupportedMediaType"},
		{name: "no content type", req: request{method: "PATCH", target: "/v1.0/me", token: "user-rw",
			header: map[string]string{"Content-Type": ""}, body: []byte(`{}`)},
			status: 415, code: "Request_UnsupportedMediaType"},
		{name: "latin1 charset", req: request{method: "PATCH", target: "/v1.0/me", token: "user-rw",
			header: map[string]string{"Content-Type": "application/json; charset=iso-8859-1"}, body: []byte(`{}`)},
			status: 415, code: "Request_UnsupportedMediaType"},
		{name: "brotli", req: request{method: "POST", target: "/v1.0/users", token: "app-rw",
			header: map[string]string{"Content-Encoding": "br"}, body: []byte(`{}`)},
			status: 415, code: "Request_UnsupportedMediaType"},
		{name: "panic", req: request{method: "GET", target: "/v1.0/users", token: "app-rw"}, panic: true,
			status: 500, code: "generalException", message: "An internal error occurred.", wantCalled: true},
		{name: "internal error", req: request{method: "GET", target: "/v1.0/users/x@contoso.com", token: "app-rw"},
			svcErr: directory.Internal(errBoom, "get user"),
			status: 500, code: "generalException", message: "An internal error occurred.", wantCalled: true},
		{name: "unclassified error", req: request{method: "DELETE", target: "/v1.0/users/x@contoso.com", token: "app-rw"},
			svcErr: errBoom,
			status: 500, code: "generalException", message: "An internal error occurred.", wantCalled: true},
		{name: "not found", req: request{method: "GET", target: "/v1.0/users/x@contoso.com", token: "app-rw"},
			svcErr: directory.ErrNotFoundUser("x@contoso.com"),
			status: 404, code: "Request_ResourceNotFound", message: "Resource 'x@contoso.com' does not exist", wantCalled: true},
		{name: "invalid value", req: request{method: "POST", target: "/v1.0/users", token: "app-rw", body: []byte(`{"displayName":"x"}`)},
			svcErr: directory.Errorf(directory.KindInvalid, "One or more properties contains invalid values."),
			status: 400, code: "Request_BadRequest", wantCalled: true},
		{name: "object forbidden without scope", req: request{method: "PATCH", target: "/v1.0/me", token: "user-rw", body: []byte(`{"mail":"a@b.c"}`)},
			svcErr: &directory.Error{Kind: directory.KindForbidden, Message: "Insufficient privileges to complete the operation."},
			status: 403, code: "Authorization_RequestDenied", noHeader: []string{"WWW-Authenticate"}, wantCalled: true},
		{name: "precondition", req: request{method: "DELETE", target: "/v1.0/users/x@contoso.com", token: "app-rw"},
			svcErr: directory.Errorf(directory.KindPreconditionFailed, "ETag mismatch."),
			status: 412, code: "Request_PreconditionFailed", wantCalled: true},
		{name: "throttled", req: request{method: "GET", target: "/v1.0/users", token: "app-rw"},
			svcErr: directory.Errorf(directory.KindTooManyRequests, "Please retry again later."),
			status: 429, code: "TooManyRequests", header: map[string]string{"Retry-After": "5"}, wantCalled: true},
		{name: "unavailable", req: request{method: "GET", target: "/v1.0/users", token: "app-rw"},
			svcErr: &directory.Error{Kind: directory.KindUnavailable, Message: "Service busy.", Err: errBoom},
			status: 503, code: "serviceNotAvailable", header: map[string]string{"Retry-After": "5"}, wantCalled: true},
		{name: "two authorization headers", req: request{method: "GET", target: "/v1.0/users", token: "app-rw"},
			status: 400, code: "BadRequest",
			header: map[string]string{"WWW-Authenticate": `Bearer realm="graphdir", error="invalid_request"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAPI(t)
			a.users.err, a.users.panic = tt.svcErr, tt.panic
			req := tt.req
			var w *httptest.ResponseRecorder
			if tt.name == "two authorization headers" {
				r := httptest.NewRequest("GET", "http://graph.test/v1.0/users", nil)
				r.Header.Add("Authorization", "Bearer app-rw")
				r.Header.Add("Authorization", "Bearer app-rw")
				w = httptest.NewRecorder()
				a.h.ServeHTTP(w, r)
			} else {
				w = a.do(t, req)
			}
			e := checkEnvelope(t, w, tt.status, tt.code)
			if msg, _ := e["message"].(string); !strings.Contains(msg, tt.message) {
				t.Errorf("message = %q, want %q", msg, tt.message)
			}
			for k, v := range tt.header {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, k := range tt.noHeader {
				if got := w.Header().Get(k); got != "" {
					t.Errorf("%s = %q, want none", k, got)
				}
			}
			if called := len(a.users.called()) > 0; called != tt.wantCalled {
				t.Errorf("service called = %v (%v), want %v", called, a.users.called(), tt.wantCalled)
			}
			if tt.status == 500 {
				if strings.Contains(w.Body.String(), "hunter2") || strings.Contains(w.Body.String(), "10.0.0.7") {
					t.Errorf("internals leaked: %s", w.Body)
				}
				logs := a.logs.String()
				if !strings.Contains(logs, w.Header().Get("request-id")) {
					t.Errorf("log lacks the request id: %s", logs)
				}
				if !strings.Contains(logs, "hunter2") && !strings.Contains(logs, "10.0.0.7") {
					t.Errorf("log lacks the real error: %s", logs)
				}
			}
		})
	}
}

func TestConflictDetails(t *testing.T) {
	a := newTestAPI(t)
	a.users.err = directory.ErrConflict("userPrincipalName")
	w := a.do(t, request{method: "POST", target: "/v1.0/users", token: "app-rw", body: []byte(`{"userPrincipalName":"a@contoso.com"}`)})
	e := checkEnvelope(t, w, 400, "Request_BadRequest")
	if e["message"] != "Another object with the same value for property userPrincipalName already exists." {
		t.Errorf("message = %v", e["message"])
	}
	details, _ := e["details"].([]any)
	if len(details) != 1 {
		t.Fatalf("details = %v", e["details"])
	}
	d := details[0].(map[string]any)
	if d["code"] != "ObjectConflict" || d["target"] != "userPrincipalName" || d["message"] == "" {
		t.Errorf("detail = %v", d)
	}
}

func TestClassifyCoversEveryKind(t *testing.T) {
	for k := directory.KindInternal; k <= directory.KindBadRequest; k++ {
		g := classify(&directory.Error{Kind: k, Message: "m"})
		if g.status < 400 || g.code == "" || g.message == "" {
			t.Errorf("%v -> %+v", k, g)
		}
		if k != directory.KindInternal && g.status == http.StatusInternalServerError {
			t.Errorf("%v falls through to 500", k)
		}
	}
}
