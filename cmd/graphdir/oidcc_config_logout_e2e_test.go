package main

// The OpenID Foundation's Config OP module and the RP-Initiated Logout OP
// modules (browser-redirect.md §2.1) as Go tests, named after them.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestOIDCC_discovery_endpoint_verification: the Config OP plan's one
// module: discovery as JSON, the issuer its base, https endpoints, a JWKS
// with distinct kids, openid among the scopes, the required lists.
func TestOIDCC_discovery_endpoint_verification(t *testing.T) {
	f := newOIDCFix(t)
	issuer := f.s.iss.IssuerURL(f.s.tenant)
	resp, err := f.s.client.Get(issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != issuer {
		t.Fatalf("issuer %v", d["issuer"])
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint", "revocation_endpoint"} {
		v, _ := d[k].(string)
		if u, err := url.Parse(v); err != nil || u.Scheme != "https" || u.Host == "" {
			t.Errorf("%s = %q: not an https URL", k, v)
		}
	}
	for _, k := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
		"scopes_supported", "claims_supported", "grant_types_supported", "code_challenge_methods_supported", "response_modes_supported"} {
		if a, ok := d[k].([]any); !ok || len(a) == 0 {
			t.Errorf("%s = %v: not a non-empty array", k, d[k])
		}
	}
	if !strings.Contains(mustJSON(t, d["scopes_supported"]), `"openid"`) {
		t.Errorf("scopes_supported: %v", d["scopes_supported"])
	}
	kr, err := f.s.client.Get(d["jwks_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Body.Close()
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	body, _ := io.ReadAll(kr.Body)
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) == 0 {
		t.Fatalf("jwks: %v %s", err, body)
	}
	seen := map[any]bool{}
	for _, k := range set.Keys {
		if k["kid"] == nil || seen[k["kid"]] {
			t.Fatalf("kid missing or repeated: %v", set.Keys)
		}
		seen[k["kid"]] = true
	}
}

// logout GETs the end-session endpoint.
func (f *oidcFix) logout(b *browser, params url.Values) page {
	f.t.Helper()
	return b.get("/" + f.s.tenant + "/oauth2/v2.0/logout?" + params.Encode())
}

// promptNoneFails checks the browser has no session any more.
func (f *oidcFix) promptNoneFails(b *browser) {
	f.t.Helper()
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "none")
	if _, q := location(f.t, b.get(f.s.authorizeURL(params))); q.Get("error") != "login_required" {
		f.t.Fatalf("prompt=none after logout: %v", q)
	}
}

// TestOIDCC_rp_initiated_logout_discovery_endpoint_verification
func TestOIDCC_rp_initiated_logout_discovery_endpoint_verification(t *testing.T) {
	f := newOIDCFix(t)
	r := f.s.do("GET", "/"+f.s.tenant+"/v2.0/.well-known/openid-configuration", "", nil)
	if r.JSON(t)["end_session_endpoint"] != f.s.srv.URL+"/"+f.s.tenant+"/oauth2/v2.0/logout" {
		t.Fatalf("%s", r.Body)
	}
}

// TestOIDCC_rp_initiated_logout: the session ends; with a valid
// id_token_hint the browser goes straight to the registered
// post_logout_redirect_uri with state; without one (MSAL's request) a
// confirmation page leads there, once; prompt=none then fails.
func TestOIDCC_rp_initiated_logout(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	out, _ := f.webLogin(b, nil)
	p := f.logout(b, url.Values{"post_logout_redirect_uri": {fixWebLogout}, "state": {"bye=="}, "id_token_hint": {out["id_token"].(string)}})
	if p.status != http.StatusFound || p.header.Get("Location") != fixWebLogout+"?state=bye%3D%3D" {
		t.Fatalf("logout with a hint: %d %v", p.status, p.header)
	}
	f.promptNoneFails(b)

	f.webLogin(b, nil)
	p = f.logout(b, url.Values{"post_logout_redirect_uri": {fixWebLogout}, "state": {"bye=="}})
	if p.status != http.StatusOK || p.header.Get("Location") != "" {
		t.Fatalf("logout: %d %s", p.status, p.body)
	}
	action, form := p.form(t)
	back := b.post(action, form)
	if back.status != http.StatusSeeOther || back.header.Get("Location") != fixWebLogout+"?state=bye%3D%3D" {
		t.Fatalf("confirm: %d %v", back.status, back.header)
	}
	f.promptNoneFails(b)
	// The confirmation works once.
	if again := b.post(action, form); again.status != http.StatusBadRequest || again.header.Get("Location") != "" {
		t.Fatalf("second confirm: %d %v", again.status, again.header)
	}
	// A valid hint of another client does not open this client's URI, nor
	// does a client_id that disagrees with the hint.
	pubParams, pubVerifier := f.authParams(f.pub, fixPubRedirect)
	q := f.login(f.s.newBrowser(), pubParams)
	_, pubOut, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.pub.AppID}, "code": {q.Get("code")},
		"redirect_uri": {fixPubRedirect}, "code_verifier": {pubVerifier}}, "", "")
	for _, v := range []url.Values{
		{"post_logout_redirect_uri": {fixWebLogout}, "id_token_hint": {pubOut["id_token"].(string)}},
		{"post_logout_redirect_uri": {fixWebLogout}, "id_token_hint": {out["id_token"].(string)}, "client_id": {f.pub.AppID}},
	} {
		if p := f.logout(f.s.newBrowser(), v); p.header.Get("Location") != "" {
			t.Fatalf("%v: redirected to %s", v, p.header.Get("Location"))
		}
	}
}

// TestOIDCC_rp_initiated_logout_bad_post_logout_redirect_uri and
// _query_added_to_post_logout_redirect_uri: no way back to a URI that is
// not registered exactly.
func TestOIDCC_rp_initiated_logout_bad_post_logout_redirect_uri(t *testing.T) {
	logoutNoRedirect(t, "https://attacker.example/")
}

func TestOIDCC_rp_initiated_logout_query_added_to_post_logout_redirect_uri(t *testing.T) {
	logoutNoRedirect(t, fixWebLogout+"?foo=bar")
}

func logoutNoRedirect(t *testing.T, target string) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	p := f.logout(b, url.Values{"post_logout_redirect_uri": {target}, "state": {"x"}})
	if p.status != http.StatusOK || p.header.Get("Location") != "" || strings.Contains(p.body, "<form") || strings.Contains(p.body, "attacker") {
		t.Fatalf("logout: %d %s", p.status, p.body)
	}
	f.promptNoneFails(b)
}

// TestOIDCC_rp_initiated_logout_no_id_token_hint (and the bad and
// modified hint modules): never a redirect without the confirmation page.
func TestOIDCC_rp_initiated_logout_no_id_token_hint(t *testing.T) {
	f := newOIDCFix(t)
	for _, hint := range []string{"", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "garbage"} {
		b := f.s.newBrowser()
		f.webLogin(b, nil)
		p := f.logout(b, url.Values{"post_logout_redirect_uri": {fixWebLogout}, "id_token_hint": {hint}})
		if p.status != http.StatusOK || p.header.Get("Location") != "" || !strings.Contains(p.body, "<form") {
			t.Fatalf("hint %q: want the confirmation page, got %d %v %s", hint, p.status, p.header, p.body)
		}
		f.promptNoneFails(b)
	}
}

// TestOIDCC_rp_initiated_logout_no_params, _only_state and
// _no_post_logout_redirect_uri: logged out, "you have signed out".
func TestOIDCC_rp_initiated_logout_no_params(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	p := f.logout(b, url.Values{})
	if p.status != http.StatusOK || !strings.Contains(p.body, "You have signed out") || strings.Contains(p.body, "<form") {
		t.Fatalf("%d %s", p.status, p.body)
	}
	f.promptNoneFails(b)
}

func TestOIDCC_rp_initiated_logout_only_state(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	if p := f.logout(b, url.Values{"state": {"s"}}); p.status != http.StatusOK || !strings.Contains(p.body, "You have signed out") {
		t.Fatalf("%d %s", p.status, p.body)
	}
	f.promptNoneFails(b)
}

// TestOIDCC_rp_initiated_logout_no_state: the way back carries no state.
func TestOIDCC_rp_initiated_logout_no_state(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	p := f.logout(b, url.Values{"post_logout_redirect_uri": {fixWebLogout}})
	action, form := p.form(t)
	if back := b.post(action, form); back.header.Get("Location") != fixWebLogout {
		t.Fatalf("confirm: %d %v", back.status, back.header)
	}
}
