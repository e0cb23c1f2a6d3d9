package browsertest

import (
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// seen records what a test server was asked.
type seen struct {
	mu   sync.Mutex
	reqs []seenRequest
}

type seenRequest struct {
	Method, Path string
	Query, Form  url.Values
	Header       http.Header
}

func (s *seen) record(r *http.Request) {
	_ = r.ParseForm()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, seenRequest{r.Method, r.URL.Path, r.URL.Query(), r.PostForm, r.Header.Clone()})
}

func (s *seen) find(method, path string) (seenRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reqs {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return seenRequest{}, false
}

// TestCustomAuthSignInReachesServer loads msal-browser's custom-auth build
// in a page, creates a CustomAuthPublicClientApplication pointed at a
// stand-in native-auth API on another loopback origin, and signs in: the
// SDK must preflight and POST /<tenant>/oauth2/v2.0/initiate with its form
// fields, and turn the server's user_not_found into a failed result.
func TestCustomAuthSignInReachesServer(t *testing.T) {
	t.Parallel()
	b := Shared(t)
	o := NewOrigin(t)
	page := o.Page("/", `<!doctype html><html lang="en"><head><title>app</title>
<script src="/_browsertest/msal-custom-auth.js"></script></head><body></body></html>`)

	var got seen
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		w.Header().Set("Access-Control-Allow-Origin", o.URL)
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"error": "user_not_found", "error_description": "AADSTS50034: The user account does not exist.",
			"error_codes": []int{50034}, "correlation_id": r.Header.Get("client-request-id"),
		})
	}))
	t.Cleanup(api.Close)

	const clientID = "11111111-2222-3333-4444-555555555555"
	res := b.Run(t, Scenario{Name: "custom-auth-signin", URL: page, Args: map[string]any{
		"config": map[string]any{
			"auth": map[string]any{"clientId": clientID, "authority": "https://graphdir.test/tenant1"},
			"customAuth": map[string]any{
				"challengeTypes": []string{"password", "oob"}, "authApiProxyUrl": api.URL + "/tenant1",
			},
		},
		"username": "alice@example.com",
	}})
	var out struct {
		Failed  bool     `json:"failed"`
		ErrorIs []string `json:"errorIs"`
		Error   *struct {
			Error string `json:"error"`
		} `json:"error"`
	}
	res.Decode(t, &out)
	if !out.Failed || out.Error == nil || out.Error.Error != "user_not_found" || !slices.Contains(out.ErrorIs, "isUserNotFound") {
		t.Errorf("sign-in result %s, want failed with user_not_found", res.Value)
	}

	const path = "/tenant1/oauth2/v2.0/initiate"
	pre, ok := got.find(http.MethodOptions, path)
	if !ok || !strings.Contains(pre.Header.Get("Access-Control-Request-Headers"), "x-client-sku") {
		t.Errorf("no CORS preflight for %s naming x-client-sku: %+v", path, pre)
	}
	req, ok := got.find(http.MethodPost, path)
	if !ok {
		t.Fatalf("the SDK never posted %s; requests: %+v", path, got.reqs)
	}
	want := url.Values{"client_id": {clientID}, "username": {"alice@example.com"}, "challenge_type": {"password oob redirect"}}
	for k, v := range want {
		if !slices.Equal(req.Form[k], v) {
			t.Errorf("form %s = %q, want %q (form %v)", k, req.Form[k], v, req.Form)
		}
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type %q", ct)
	}
	if req.Header.Get("Origin") != o.URL || req.Header.Get("x-client-SKU") != "msal.browser" || req.Header.Get("client-request-id") == "" {
		t.Errorf("headers %v", req.Header)
	}
}

// TestLoginRedirectReachesAuthorize starts MSAL's PublicClientApplication
// against a stand-in https authority (discovery only) and calls
// loginRedirect: the browser must arrive at the authorization endpoint with
// an authorization-code + PKCE request.
func TestLoginRedirectReachesAuthorize(t *testing.T) {
	t.Parallel()
	b := Shared(t)
	o := NewOrigin(t)
	page := o.Page("/app", `<!doctype html><html lang="en"><head><title>app</title>
<script src="/_browsertest/msal-browser.js"></script></head><body></body></html>`)

	var got seen
	var idp *httptest.Server
	idp = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.record(r)
		base := idp.URL + "/tenant1"
		switch r.URL.Path {
		case "/tenant1/v2.0/.well-known/openid-configuration":
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{
				"issuer": base + "/v2.0", "authorization_endpoint": base + "/oauth2/v2.0/authorize",
				"token_endpoint": base + "/oauth2/v2.0/token", "jwks_uri": base + "/discovery/v2.0/keys",
				"end_session_endpoint": base + "/oauth2/v2.0/logout",
			})
		case "/tenant1/oauth2/v2.0/authorize":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(`<!doctype html><html lang="en"><head><title>Sign in</title></head><body><h1>Sign in</h1></body></html>`))
		default:
			http.NotFound(w, r)
		}
	}))
	// Chromium tries the certificate before ignoring its errors: quiet
	// http.Server's log of that first handshake.
	idp.Config.ErrorLog = log.New(io.Discard, "", 0)
	idp.StartTLS()
	t.Cleanup(idp.Close)
	host := strings.TrimPrefix(idp.URL, "https://")

	const clientID = "11111111-2222-3333-4444-555555555555"
	redirect := o.URL + "/app"
	res := b.Run(t, Scenario{Name: "msal-login-redirect", URL: page, Args: map[string]any{
		"config": map[string]any{"auth": map[string]any{
			"clientId": clientID, "authority": idp.URL + "/tenant1", "knownAuthorities": []string{host},
			"redirectUri": redirect,
		}},
		"request":   map[string]any{"scopes": []string{"User.Read"}},
		"authorize": idp.URL + "/tenant1/oauth2/v2.0/authorize",
	}})
	var out struct {
		URL    string `json:"url"`
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	res.Decode(t, &out)
	if out.Status != http.StatusOK || out.Title != "Sign in" {
		t.Errorf("browser ended at %+v", out)
	}
	req, ok := got.find(http.MethodGet, "/tenant1/oauth2/v2.0/authorize")
	if !ok {
		t.Fatalf("the browser never reached the authorization endpoint; requests: %+v", got.reqs)
	}
	q := req.Query
	for k, v := range map[string]string{"client_id": clientID, "redirect_uri": redirect, "response_type": "code",
		"code_challenge_method": "S256", "response_mode": "fragment"} {
		if q.Get(k) != v {
			t.Errorf("authorize %s = %q, want %q", k, q.Get(k), v)
		}
	}
	for _, k := range []string{"nonce", "state", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorize request has no %s: %v", k, q)
		}
	}
	if scope := strings.Fields(q.Get("scope")); !slices.Contains(scope, "User.Read") || !slices.Contains(scope, "openid") {
		t.Errorf("scope %q", q.Get("scope"))
	}
	if out.URL != idp.URL+"/tenant1/oauth2/v2.0/authorize?"+req.Query.Encode() && !strings.HasPrefix(out.URL, idp.URL+"/tenant1/oauth2/v2.0/authorize?") {
		t.Errorf("browser URL %s", out.URL)
	}
}
