package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// sdkPreflightHeaders is what Chromium lists in the SDK's preflights
// (reference §1.4).
const sdkPreflightHeaders = "client-request-id,x-client-cpu,x-client-current-telemetry,x-client-last-telemetry,x-client-os,x-client-sku,x-client-ver"

func (n *nativeStack) preflight(path, origin, headers string) *response {
	n.t.Helper()
	req, err := http.NewRequest("OPTIONS", n.srv.URL+"/"+n.tenant+path, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", headers)
	return n.roundTrip(req)
}

// The SDK's preflight is answered for the origins of the tenant's spa
// redirect URIs, on every native endpoint and the token endpoint; other
// origins get no CORS headers. Every actual answer, errors included,
// carries the origin, Vary: Origin and the exposed x-ms-request-id.
func TestNativeAuth_CORS(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	paths := []string{"/oauth2/v2.0/initiate", "/oauth2/v2.0/challenge", "/oauth2/v2.0/token", "/oauth2/v2.0/introspect",
		"/signup/v1.0/start", "/signup/v1.0/challenge", "/signup/v1.0/continue",
		"/resetpassword/v1.0/start", "/resetpassword/v1.0/challenge", "/resetpassword/v1.0/continue",
		"/resetpassword/v1.0/submit", "/resetpassword/v1.0/poll_completion",
		"/register/v1.0/introspect", "/register/v1.0/challenge", "/register/v1.0/continue"}
	for _, p := range paths {
		r := n.preflight(p, spaOrigin, sdkPreflightHeaders+",x-app-trace")
		h := r.Header
		if r.Status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != spaOrigin ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") || h.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("preflight %s: %d %v", p, r.Status, h)
		}
		allowed := h.Get("Access-Control-Allow-Headers")
		for _, want := range strings.Split(sdkPreflightHeaders+",x-app-trace", ",") {
			if !strings.Contains(allowed, want) {
				t.Fatalf("preflight %s does not allow %s: %q", p, want, allowed)
			}
		}
		for _, origin := range []string{"http://127.0.0.1:8081", "https://127.0.0.1:8080", "null", "http://evil.example", strings.Repeat("x", 3000)} {
			r := n.preflight(p, origin, sdkPreflightHeaders)
			if r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" || r.Header.Get("Access-Control-Allow-Headers") != "" {
				t.Fatalf("preflight %s from %s: %d %v", p, origin, r.Status, r.Header)
			}
		}
	}
	// A header the SDK never sends and that is not x-… stays unlisted.
	if h := n.preflight("/signup/v1.0/start", spaOrigin, "authorization,cookie").Header.Get("Access-Control-Allow-Headers"); strings.Contains(h, "authorization") || strings.Contains(h, "cookie") {
		t.Fatalf("allowed headers: %q", h)
	}

	// Actual answers: success and error alike.
	ok1 := n.post("/signup/v1.0/start", n.form("username", "cors@example.com", "challenge_type", "oob password redirect"), "Origin", spaOrigin)
	bad := n.post("/signup/v1.0/start", n.form("username", "nope", "challenge_type", "oob password redirect"), "Origin", spaOrigin)
	tok := n.post("/oauth2/v2.0/token", n.form("continuation_token", "x", "grant_type", "continuation_token"), "Origin", spaOrigin)
	for _, r := range []*response{ok1, bad, tok} {
		h := r.Header
		if h.Get("Access-Control-Allow-Origin") != spaOrigin || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") ||
			!strings.Contains(h.Get("Access-Control-Expose-Headers"), "x-ms-request-id") || h.Get("x-ms-request-id") == "" {
			t.Fatalf("answer %d without CORS headers: %v", r.Status, h)
		}
	}
	if ok1.Status != 200 || bad.Status != 400 || tok.Status != 400 {
		t.Fatalf("statuses %d %d %d", ok1.Status, bad.Status, tok.Status)
	}
	// An unknown origin's request is answered, without CORS headers (the
	// browser then withholds the answer from the page).
	r := n.post("/signup/v1.0/start", n.form("username", "cors2@example.com", "challenge_type", "oob redirect"), "Origin", "http://evil.example")
	if r.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
		t.Fatalf("unknown origin: %v", r.Header)
	}
	// An origin registered in another tenant does not count here.
	other := n.newTenant("fabrikam.test")
	req, _ := http.NewRequest("OPTIONS", n.srv.URL+"/"+other+"/signup/v1.0/start", nil)
	req.Header.Set("Origin", spaOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	if r := n.roundTrip(req); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another tenant's preflight: %d %v", r.Status, r.Header)
	}
}

// Hostile form input on every native endpoint: wrong media types, bad
// encodings, repeated or enormous parameters, odd tenants and tokens.
// Nothing is a 5xx and every answer is Entra's JSON error shape.
func TestNativeAuth_HostileInput(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	paths := []string{"/oauth2/v2.0/initiate", "/oauth2/v2.0/challenge", "/oauth2/v2.0/introspect",
		"/signup/v1.0/start", "/signup/v1.0/challenge", "/signup/v1.0/continue",
		"/resetpassword/v1.0/start", "/resetpassword/v1.0/challenge", "/resetpassword/v1.0/continue",
		"/resetpassword/v1.0/submit", "/resetpassword/v1.0/poll_completion",
		"/register/v1.0/introspect", "/register/v1.0/challenge", "/register/v1.0/continue"}
	good := n.form("username", "h@example.com", "challenge_type", "oob password redirect").Encode()
	cases := []struct {
		name, ctype, body string
		status            int
	}{
		{"json body", "application/json", `{"client_id":"x"}`, 415},
		{"no content type", "", good, 415},
		{"latin1", "application/x-www-form-urlencoded; charset=iso-8859-1", good, 415},
		{"repeated parameter", "application/x-www-form-urlencoded", good + "&username=b%40example.com", 400},
		{"bad escape", "application/x-www-form-urlencoded", "client_id=%zz", 400},
		{"invalid utf-8", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&username=%ff%fe", 400},
		{"control character", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&username=a%00b%40example.com", 400},
		{"too large", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&attributes=" + strings.Repeat("a", 40<<10), 413},
		{"empty", "application/x-www-form-urlencoded", "", 400},
		{"huge username", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&challenge_type=oob+redirect&username=" + strings.Repeat("a", 20000) + "%40example.com", 400},
		{"garbage token", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&challenge_type=oob+redirect&grant_type=oob&oob=1&continuation_token=" + url.QueryEscape("' OR 1=1 --\u202e"), 400},
		{"long token", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&challenge_type=oob+redirect&continuation_token=gdf1." + strings.Repeat("A", 10000), 400},
		{"attributes nested", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&challenge_type=oob+redirect&username=h2%40example.com&attributes=" + url.QueryEscape(`{"displayName":{"a":[1,2]}}`), 400},
		{"attributes not json", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&challenge_type=oob+redirect&username=h3%40example.com&attributes=%7B", 400},
		{"huge challenge types", "application/x-www-form-urlencoded", "client_id=" + n.appID + "&username=h4%40example.com&challenge_type=" + strings.Repeat("oob+", 3000) + "redirect", 200},
	}
	for _, p := range paths {
		for _, c := range cases {
			r := n.postRaw(p, c.ctype, c.body)
			if r.Status >= 500 {
				t.Fatalf("%s %s: %d %s", p, c.name, r.Status, r.Body)
			}
			if r.Status == 200 {
				continue // the one accepted case, at the start endpoints
			}
			if c.status != 200 && r.Status != c.status {
				t.Fatalf("%s %s: want %d, got %d %s", p, c.name, c.status, r.Status, r.Body)
			}
			m := r.JSON(t)
			if s, _ := m["error"].(string); s == "" || m["error_codes"] == nil || m["trace_id"] == nil {
				t.Fatalf("%s %s: not Entra's error shape: %s", p, c.name, r.Body)
			}
		}
	}
	// Odd tenants.
	for _, tenant := range []string{"not-a-tenant", "00000000-0000-0000-0000-000000000000", "%27%3B--", strings.Repeat("a", 300)} {
		req, _ := http.NewRequest("POST", n.srv.URL+"/"+tenant+"/signup/v1.0/start", strings.NewReader(good))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r := n.roundTrip(req)
		if r.Status != 400 || r.JSON(t)["error"] != "unauthorized_client" {
			t.Fatalf("tenant %q: %d %s", tenant, r.Status, r.Body)
		}
	}
}
