package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// registerSPA registers an application with one spa redirect URI in
// tenant, as an administrator of that tenant would.
func (s *stack) registerSPA(tenant, redirectURI string) {
	s.t.Helper()
	admin := s.appTokenIn(tenant, "Application.ReadWrite.All")
	res := s.do("POST", "/v1.0/applications", admin, map[string]any{
		"displayName": "spa " + redirectURI,
		"spa":         map[string]any{"redirectUris": []string{redirectURI}},
	})
	if res.Status != http.StatusCreated {
		s.t.Fatalf("register spa %s: %d %s", redirectURI, res.Status, res.Body)
	}
}

// preflight sends a CORS preflight as a browser does: no token.
func (s *stack) preflight(path, origin, method, headers string) *response {
	s.t.Helper()
	h := []string{"Origin", origin, "Access-Control-Request-Method", method}
	if headers != "" {
		h = append(h, "Access-Control-Request-Headers", headers)
	}
	return s.do("OPTIONS", path, "", nil, h...)
}

func varies(r *response, name string) bool {
	for _, v := range r.Header.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

// checkGranted asserts a grant to origin on an actual (not preflight)
// response, and that credentials mode is never granted.
func checkGranted(t *testing.T, what string, r *response, origin string) {
	t.Helper()
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Fatalf("%s: Access-Control-Allow-Origin = %q, want %q (status %d)", what, got, origin, r.Status)
	}
	expose := r.Header.Get("Access-Control-Expose-Headers")
	for _, h := range []string{"request-id", "client-request-id", "ETag", "Location", "Retry-After"} {
		if !strings.Contains(expose, h) {
			t.Fatalf("%s: Access-Control-Expose-Headers %q lacks %s", what, expose, h)
		}
	}
	if r.Header.Get("Access-Control-Allow-Credentials") != "" || !varies(r, "Origin") {
		t.Fatalf("%s: credentials granted or no Vary: Origin: %v", what, r.Header)
	}
}

func checkNotGranted(t *testing.T, what string, r *response) {
	t.Helper()
	if r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Methods") != "" ||
		r.Header.Get("Access-Control-Expose-Headers") != "" || r.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf("%s: CORS granted: %d %v", what, r.Status, r.Header)
	}
	if r.Status >= 500 {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
}

func TestCORS_Preflight(t *testing.T) {
	s := newStack(t)
	other := s.newTenant("other-cors.example")
	s.registerSPA(s.tenant, "https://spa.example/auth/callback")
	s.registerSPA(other, "http://localhost:5173/")

	res := s.preflight("/v1.0/me", "https://spa.example", "GET", "authorization,consistencylevel,client-request-id")
	if res.Status != http.StatusNoContent || len(res.Body) != 0 {
		t.Fatalf("granted preflight: %d %s", res.Status, res.Body)
	}
	h := res.Header
	if h.Get("Access-Control-Allow-Origin") != "https://spa.example" || h.Get("Access-Control-Max-Age") == "" ||
		h.Get("Access-Control-Allow-Credentials") != "" || !varies(res, "Origin") {
		t.Fatalf("granted preflight headers: %v", h)
	}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
			t.Fatalf("Access-Control-Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), m)
		}
	}
	for _, name := range []string{"Authorization", "Content-Type", "ConsistencyLevel", "client-request-id", "Prefer", "If-Match", "SdkVersion"} {
		if !strings.Contains(h.Get("Access-Control-Allow-Headers"), name) {
			t.Fatalf("Access-Control-Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), name)
		}
	}
	// Any /v1.0 URL, known route or not: the preflight names no tenant.
	if res := s.preflight("/v1.0/users/"+uuid.NewString(), "https://spa.example", "PATCH", "content-type,if-match"); res.Status != http.StatusNoContent ||
		res.Header.Get("Access-Control-Allow-Origin") != "https://spa.example" {
		t.Fatalf("preflight of PATCH: %d %v", res.Status, res.Header)
	}
	// A preflight carries no token, so an origin registered in another
	// tenant of the deployment is granted here too (the request that
	// follows is narrowed to the token's tenant: TestCORS_ActualRequests).
	if res := s.preflight("/v1.0/me", "http://localhost:5173", "GET", "authorization"); res.Status != http.StatusNoContent ||
		res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:5173" {
		t.Fatalf("other tenant's origin: %d %v", res.Status, res.Header)
	}

	// Denied: unregistered origins, near misses, malformed or non-canonical
	// values, a second Origin header. They get today's answer: 401, as any
	// tokenless /v1.0 request.
	for _, origin := range []string{"https://evil.example", "https://spa.example:8443", "http://spa.example", "https://spa.example.evil",
		"null", "https://SPA.example", "https://spa.example/", "https://spa.example/auth/callback", "file://", "javascript:alert(1)",
		"https://spa.example\tx", strings.Repeat("a", 5000)} {
		res := s.preflight("/v1.0/me", origin, "GET", "authorization")
		checkNotGranted(t, "preflight from "+origin, res)
		if res.Status != http.StatusUnauthorized {
			t.Fatalf("denied preflight from %q: %d, want today's 401", origin, res.Status)
		}
	}
	res = s.do("OPTIONS", "/v1.0/me", "", nil, "Origin", "https://spa.example", "Origin", "https://spa.example", "Access-Control-Request-Method", "GET")
	checkNotGranted(t, "two Origin headers", res)

	// Outside /v1.0 nothing changes (the issuer documents keep their own
	// wildcard, the token endpoint its own answers).
	res = s.preflight("/healthz", "https://spa.example", "GET", "")
	checkNotGranted(t, "/healthz", res)
}

func TestCORS_OptionsWithoutOriginUnchanged(t *testing.T) {
	s := newStack(t)
	s.registerSPA(s.tenant, "https://spa.example/cb")
	tok := s.appToken("User.Read.All")
	// Not a preflight (no Access-Control-Request-Method) or no Origin:
	// the route table's answers are as before.
	for _, c := range []struct {
		token   string
		headers []string
		want    int
	}{
		{"", nil, http.StatusUnauthorized},
		{tok, nil, http.StatusMethodNotAllowed},
		{"", []string{"Origin", "https://spa.example"}, http.StatusUnauthorized},
		{tok, []string{"Origin", "https://spa.example"}, http.StatusMethodNotAllowed},
		{tok, []string{"Access-Control-Request-Method", "GET"}, http.StatusMethodNotAllowed},
	} {
		res := s.do("OPTIONS", "/v1.0/users", c.token, nil, c.headers...)
		if res.Status != c.want {
			t.Fatalf("OPTIONS %v (token %v): %d, want %d %s", c.headers, c.token != "", res.Status, c.want, res.Body)
		}
		res.ErrorCode(t)
		if len(c.headers) == 0 || c.headers[0] != "Origin" {
			checkNotGranted(t, "no Origin", res)
		}
	}
}

func TestCORS_ActualRequests(t *testing.T) {
	s := newStack(t)
	other := s.newTenant("other-cors2.example")
	s.registerSPA(s.tenant, "https://spa.example/cb")
	s.registerSPA(other, "https://other.example/cb")
	uid := s.rawUser(s.tenant, "ann@"+s.domain)
	me := s.userToken(uid, "User.Read")
	const spa = "https://spa.example"

	res := s.do("GET", "/v1.0/me", me, nil, "Origin", spa)
	if res.Status != 200 {
		t.Fatalf("GET /me: %d %s", res.Status, res.Body)
	}
	checkGranted(t, "GET /me", res, spa)

	// Errors carry the grant, so the app can read them: 401 (no tenant
	// known yet), 403, 404, 405.
	res = s.do("GET", "/v1.0/me", "", nil, "Origin", spa)
	if res.Status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", res.Status)
	}
	res.ErrorCode(t)
	checkGranted(t, "401", res, spa)
	res = s.do("GET", "/v1.0/me", "not-a-token", nil, "Origin", spa)
	checkGranted(t, "401 bad token", res, spa)
	res = s.do("GET", "/v1.0/users", me, nil, "Origin", spa)
	if res.Status != http.StatusForbidden {
		t.Fatalf("list users with User.Read: %d %s", res.Status, res.Body)
	}
	checkGranted(t, "403", res, spa)
	res = s.do("GET", "/v1.0/users/"+uuid.NewString(), s.appToken("User.Read.All"), nil, "Origin", spa)
	if res.Status != http.StatusNotFound {
		t.Fatalf("unknown user: %d", res.Status)
	}
	checkGranted(t, "404", res, spa)
	res = s.do("PUT", "/v1.0/me", me, "{}", "Origin", spa)
	if res.Status != http.StatusMethodNotAllowed {
		t.Fatalf("PUT /me: %d", res.Status)
	}
	checkGranted(t, "405", res, spa)

	// An origin registered only in another tenant: the preflight was
	// granted, the request with this tenant's token is not.
	res = s.do("GET", "/v1.0/me", me, nil, "Origin", "https://other.example")
	if res.Status != 200 {
		t.Fatalf("GET /me from other tenant's origin: %d", res.Status)
	}
	checkNotGranted(t, "other tenant's origin", res)
	// ... and the other tenant's token is.
	res = s.do("GET", "/v1.0/users", s.appTokenIn(other, "User.Read.All"), nil, "Origin", "https://other.example")
	if res.Status != 200 {
		t.Fatalf("other tenant lists: %d %s", res.Status, res.Body)
	}
	checkGranted(t, "other tenant's own origin", res, "https://other.example")

	// Unregistered origins get nothing, success or error.
	for _, tok := range []string{me, ""} {
		res = s.do("GET", "/v1.0/me", tok, nil, "Origin", "https://evil.example")
		checkNotGranted(t, "evil origin", res)
		if !varies(res, "Origin") {
			t.Fatalf("response to a cross-origin request without Vary: Origin")
		}
	}
	// No Origin: no CORS headers at all.
	res = s.do("GET", "/v1.0/me", me, nil)
	checkNotGranted(t, "same-origin", res)
}

// TestCORS_Throttled: a 429 carries the grant, so the app can read
// Retry-After.
func TestCORS_Throttled(t *testing.T) {
	s, _ := newServingStack(t, map[string]string{"GRAPHDIR_THROTTLE_APP_WRITES": "1"}, io.Discard)
	s.registerSPA(s.tenant, "https://spa.example/cb") // the one write of its own app token
	tok := s.appToken("Application.ReadWrite.All")
	var last *response
	for range 2 {
		last = s.do("POST", "/v1.0/applications", tok, map[string]any{"displayName": "throttled"}, "Origin", "https://spa.example")
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
		t.Fatalf("second write: %d %v %s", last.Status, last.Header, last.Body)
	}
	checkGranted(t, "429", last, "https://spa.example")
}
