package main

// The OpenID Foundation's Basic OP modules (oidcc-basic-certification-
// test-plan, browser-redirect.md §2.1) that graphdir's endpoints can
// pass, re-implemented as Go tests: one per module, named after it. The
// "user" is a scripted browser (cookie jar, plain HTTP).

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// checkIDToken applies the suite's ValidateIdToken checks.
func (f *oidcFix) checkIDToken(raw, clientID, nonce string) map[string]any {
	f.t.Helper()
	c := idClaims(f.t, raw)
	now := float64(time.Now().Unix())
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	at, _ := c["auth_time"].(float64)
	switch {
	case c["iss"] != f.s.iss.IssuerURL(f.s.tenant):
		f.t.Errorf("iss %v", c["iss"])
	case c["aud"] != clientID:
		f.t.Errorf("aud %v, want %s", c["aud"], clientID)
	case exp <= now || exp > now+50*365*24*3600:
		f.t.Errorf("exp %v", c["exp"])
	case iat > now+5 || iat < now-300:
		f.t.Errorf("iat %v", c["iat"])
	case at == 0 || at > now+5:
		f.t.Errorf("auth_time %v", c["auth_time"])
	case c["sub"] != strings.ToLower(f.user.ID):
		f.t.Errorf("sub %v", c["sub"])
	}
	if nonce == "" {
		if _, ok := c["nonce"]; ok {
			f.t.Errorf("nonce %v in an ID token of a request without one", c["nonce"])
		}
	} else if c["nonce"] != nonce {
		f.t.Errorf("nonce %v, want %s", c["nonce"], nonce)
	}
	return c
}

// TestOIDCC_server: the happy code flow as the Basic plan runs it: a
// confidential client with client_secret_basic and no PKCE (the app has
// graphdirPkceRequired off); state and iss in the callback, the token
// response, ID token checks, userinfo.
func TestOIDCC_server(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	params := f.legacyParams()
	q := f.login(b, params)
	if q.Get("state") != params.Get("state") || q.Get("iss") != f.s.iss.IssuerURL(f.s.tenant) || q.Has("error") {
		t.Fatalf("callback: %v", q)
	}
	st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixLegacyRedir}},
		f.legacy.AppID, f.legacySecret)
	if st != http.StatusOK || out["token_type"] != "Bearer" || out["access_token"] == nil || out["id_token"] == nil {
		t.Fatalf("token: %d %v", st, out)
	}
	if _, isInt := out["expires_in"].(float64); !isInt {
		t.Fatalf("expires_in %v", out["expires_in"])
	}
	f.checkIDToken(out["id_token"].(string), f.legacy.AppID, params.Get("nonce"))
	if st, ui := f.userinfo(http.MethodGet, out["access_token"].(string), false); st != http.StatusOK || ui["sub"] != strings.ToLower(f.user.ID) {
		t.Fatalf("userinfo: %d %v", st, ui)
	}
}

// TestOIDCC_server_client_secret_post: the happy flow with the secret in
// the body, without PKCE as the plan runs it, and with PKCE on an app
// that requires it.
func TestOIDCC_server_client_secret_post(t *testing.T) {
	f := newOIDCFix(t)
	params := f.legacyParams()
	q := f.login(f.s.newBrowser(), params)
	st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixLegacyRedir},
		"client_id": {f.legacy.AppID}, "client_secret": {f.legacySecret}}, "", "")
	if st != http.StatusOK {
		t.Fatalf("token without PKCE: %d %v", st, out)
	}
	f.checkIDToken(out["id_token"].(string), f.legacy.AppID, params.Get("nonce"))

	params, verifier := f.authParams(f.web, fixWebRedirect)
	q = f.login(f.s.newBrowser(), params)
	st, out, _ = f.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixWebRedirect},
		"code_verifier": {verifier}, "client_id": {f.web.AppID}, "client_secret": {f.webSecret}}, "", "")
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	f.checkIDToken(out["id_token"].(string), f.web.AppID, params.Get("nonce"))
}

// TestOIDCC_response_type_missing: no response_type is an error sent to
// the (valid) redirect URI, with state and iss.
func TestOIDCC_response_type_missing(t *testing.T) {
	f := newOIDCFix(t)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Del("response_type")
	u, q := location(t, f.s.newBrowser().get(f.s.authorizeURL(params)))
	if !strings.HasPrefix(u.String(), fixWebRedirect+"?") || q.Get("error") != "invalid_request" || q.Get("state") != params.Get("state") || q.Get("iss") == "" {
		t.Fatalf("redirect %s", u)
	}
	params.Set("response_type", "token")
	if _, q := location(t, f.s.newBrowser().get(f.s.authorizeURL(params))); q.Get("error") != "unsupported_response_type" {
		t.Fatalf("response_type=token: %v", q)
	}
}

// TestOIDCC_userinfo_get, _post_header, _post_body: the three ways to
// call userinfo.
func TestOIDCC_userinfo_get(t *testing.T) { userinfoModule(t, http.MethodGet, false) }

func TestOIDCC_userinfo_post_header(t *testing.T) { userinfoModule(t, http.MethodPost, false) }

func TestOIDCC_userinfo_post_body(t *testing.T) { userinfoModule(t, http.MethodPost, true) }

func userinfoModule(t *testing.T, method string, inBody bool) {
	f := newOIDCFix(t)
	out, _ := f.webLogin(f.s.newBrowser(), nil)
	st, ui := f.userinfo(method, out["access_token"].(string), inBody)
	if st != http.StatusOK || ui["sub"] != strings.ToLower(f.user.ID) || ui["email"] != fixUser {
		t.Fatalf("userinfo: %d %v", st, ui)
	}
	// An ID token is not an access token; garbage is not either.
	for _, bad := range []string{out["id_token"].(string), "not-a-token"} {
		if st, _ := f.userinfo(method, bad, inBody); st != http.StatusUnauthorized {
			t.Fatalf("userinfo with %.10s…: %d", bad, st)
		}
	}
}

// TestOIDCC_ensure_request_without_nonce_succeeds_for_code_flow: no nonce,
// and then none in the ID token.
func TestOIDCC_ensure_request_without_nonce_succeeds_for_code_flow(t *testing.T) {
	f := newOIDCFix(t)
	params, verifier := f.authParams(f.web, fixWebRedirect)
	params.Del("nonce")
	q := f.login(f.s.newBrowser(), params)
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	f.checkIDToken(out["id_token"].(string), f.web.AppID, "")
}

// TestOIDCC_scope_profile and _scope_email: the claims of the scopes come
// back from userinfo.
func TestOIDCC_scope_profile(t *testing.T) {
	f := newOIDCFix(t)
	out, _ := f.webLogin(f.s.newBrowser(), url.Values{"scope": {"openid profile"}})
	_, ui := f.userinfo(http.MethodGet, out["access_token"].(string), false)
	if ui["name"] == nil || ui["preferred_username"] != fixUser {
		t.Fatalf("userinfo: %v", ui)
	}
}

func TestOIDCC_scope_email(t *testing.T) {
	f := newOIDCFix(t)
	out, _ := f.webLogin(f.s.newBrowser(), url.Values{"scope": {"openid email"}})
	_, ui := f.userinfo(http.MethodGet, out["access_token"].(string), false)
	if ui["email"] != fixUser || ui["email_verified"] != true {
		t.Fatalf("userinfo: %v", ui)
	}
}

// TestOIDCC_alternate_happy_flow: scope and parameter order do not matter.
func TestOIDCC_alternate_happy_flow(t *testing.T) {
	f := newOIDCFix(t)
	out, _ := f.webLogin(f.s.newBrowser(), url.Values{"scope": {"User.Read email offline_access profile openid"}})
	if out["refresh_token"] == nil || !strings.Contains(out["scope"].(string), "User.Read") {
		t.Fatalf("token: %v", out)
	}
}

// TestOIDCC_display_page and _display_popup: display is accepted.
func TestOIDCC_display_page(t *testing.T) {
	f := newOIDCFix(t)
	f.webLogin(f.s.newBrowser(), url.Values{"display": {"page"}})
}

func TestOIDCC_display_popup(t *testing.T) {
	f := newOIDCFix(t)
	f.webLogin(f.s.newBrowser(), url.Values{"display": {"popup"}})
}

// TestOIDCC_prompt_login: with a session, prompt=login shows the sign-in
// page again, and the new auth_time is later than the session's.
func TestOIDCC_prompt_login(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	f.ageSession(2 * time.Second)
	before := f.silentAuthTime(b)
	second, _ := f.webLogin(b, url.Values{"prompt": {"login"}}) // login() fails unless the page is shown
	if after := idClaims(t, second["id_token"].(string))["auth_time"].(float64); after <= before {
		t.Fatalf("auth_time %v then %v", before, after)
	}
}

// silentAuthTime is the auth_time a silent sign-in (prompt=none) gets now:
// the session's.
func (f *oidcFix) silentAuthTime(b *browser) float64 {
	f.t.Helper()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "none")
	_, q := location(f.t, b.get(f.s.authorizeURL(params)))
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		f.t.Fatalf("silent sign-in: %d %v", st, out)
	}
	return idClaims(f.t, out["id_token"].(string))["auth_time"].(float64)
}

// ageSession moves every session's sign-in into the past (instead of
// sleeping): the database holds auth_time, so this is what time passing
// looks like to graphdir.
func (f *oidcFix) ageSession(d time.Duration) {
	f.t.Helper()
	if _, err := f.s.db.store.DB().Exec(`UPDATE browser_sessions SET auth_time = auth_time - make_interval(secs => $1), created_at = created_at - make_interval(secs => $1)`, d.Seconds()); err != nil {
		f.t.Fatal(err)
	}
}

// TestOIDCC_prompt_none_not_logged_in: login_required to the redirect URI,
// no page.
func TestOIDCC_prompt_none_not_logged_in(t *testing.T) {
	f := newOIDCFix(t)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "none")
	_, q := location(t, f.s.newBrowser().get(f.s.authorizeURL(params)))
	if q.Get("error") != "login_required" || q.Get("state") != params.Get("state") || q.Get("iss") == "" {
		t.Fatalf("callback: %v", q)
	}
}

// TestOIDCC_prompt_none_logged_in: with a session, prompt=none answers with
// a code at once; sub and auth_time agree with the first sign-in.
func TestOIDCC_prompt_none_logged_in(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	first, _ := f.webLogin(b, nil)
	params, verifier := f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "none")
	_, q := location(t, b.get(f.s.authorizeURL(params)))
	st, second := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, second)
	}
	c1, c2 := idClaims(t, first["id_token"].(string)), f.checkIDToken(second["id_token"].(string), f.web.AppID, params.Get("nonce"))
	if c1["sub"] != c2["sub"] || c1["auth_time"] != c2["auth_time"] || c1["sid"] != c2["sid"] {
		t.Fatalf("first %v, silent %v", c1, c2)
	}
}

// TestOIDCC_max_age_1: a sign-in older than max_age asks for the password
// again and the new ID token has a newer auth_time.
func TestOIDCC_max_age_1(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	f.ageSession(2 * time.Second)
	before := f.silentAuthTime(b)
	second, _ := f.webLogin(b, url.Values{"max_age": {"1"}}) // the page must be shown
	if after := idClaims(t, second["id_token"].(string))["auth_time"].(float64); after <= before {
		t.Fatalf("auth_time %v then %v", before, after)
	}
}

// TestOIDCC_max_age_10000: a recent sign-in serves max_age=10000 silently,
// with the original auth_time.
func TestOIDCC_max_age_10000(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	first, _ := f.webLogin(b, nil)
	params, verifier := f.authParams(f.web, fixWebRedirect)
	params.Set("max_age", "10000")
	_, q := location(t, b.get(f.s.authorizeURL(params)))
	_, second := f.redeem(q.Get("code"), verifier)
	if idClaims(t, second["id_token"].(string))["auth_time"] != idClaims(t, first["id_token"].(string))["auth_time"] {
		t.Fatal("auth_time changed")
	}
}

// TestOIDCC_ensure_request_with_unknown_parameter_succeeds: extra=foobar
// and MSAL's extras are ignored.
func TestOIDCC_ensure_request_with_unknown_parameter_succeeds(t *testing.T) {
	f := newOIDCFix(t)
	f.webLogin(f.s.newBrowser(), url.Values{"extra": {"foobar"}, "client_info": {"1"}, "x-client-SKU": {"msal.js.browser"}, "pocd": {"1"},
		"client-request-id": {"4b4bd9ae-1f3a-4c36-b3a9-6c0b8d7d8a1e"}})
}

// TestOIDCC_id_token_hint: prompt=none with the first ID token as hint
// succeeds silently.
func TestOIDCC_id_token_hint(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	first, _ := f.webLogin(b, nil)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "none")
	params.Set("id_token_hint", first["id_token"].(string))
	if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("code") == "" {
		t.Fatalf("callback: %v", q)
	}
}

// TestOIDCC_login_hint: login_hint is accepted and fills the email field.
func TestOIDCC_login_hint(t *testing.T) {
	f := newOIDCFix(t)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("login_hint", "hinted@example.com")
	p := f.s.newBrowser().get(f.s.authorizeURL(params))
	if p.status != http.StatusOK || !strings.Contains(p.body, `value="hinted@example.com"`) {
		t.Fatalf("page: %d %s", p.status, p.body)
	}
}

// TestOIDCC_ui_locales and _claims_locales: accepted.
func TestOIDCC_ui_locales(t *testing.T) {
	f := newOIDCFix(t)
	f.webLogin(f.s.newBrowser(), url.Values{"ui_locales": {"de-DE en"}})
}

func TestOIDCC_claims_locales(t *testing.T) {
	f := newOIDCFix(t)
	f.webLogin(f.s.newBrowser(), url.Values{"claims_locales": {"de-DE en"}})
}

// TestOIDCC_ensure_request_with_acr_values_succeeds: acr_values accepted.
func TestOIDCC_ensure_request_with_acr_values_succeeds(t *testing.T) {
	f := newOIDCFix(t)
	f.webLogin(f.s.newBrowser(), url.Values{"acr_values": {"1 2"}})
}

// TestOIDCC_codereuse: a code works once; the second use is invalid_grant
// and revokes the refresh token the first use produced.
func TestOIDCC_codereuse(t *testing.T) {
	f := newOIDCFix(t)
	params, verifier := f.authParams(f.web, fixWebRedirect)
	q := f.login(f.s.newBrowser(), params)
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK || out["refresh_token"] == nil {
		t.Fatalf("first use: %d %v", st, out)
	}
	st, again := f.redeem(q.Get("code"), verifier)
	if st != http.StatusBadRequest || again["error"] != "invalid_grant" {
		t.Fatalf("second use: %d %v", st, again)
	}
	st, ref, _ := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {out["refresh_token"].(string)}}, f.web.AppID, f.webSecret)
	if st != http.StatusBadRequest || ref["error"] != "invalid_grant" {
		t.Fatalf("refresh after code replay: %d %v", st, ref)
	}
}

// TestOIDCC_ensure_registered_redirect_uri: an unregistered redirect URI
// gets an error page, never a redirect.
func TestOIDCC_ensure_registered_redirect_uri(t *testing.T) {
	f := newOIDCFix(t)
	params, _ := f.authParams(f.web, "https://attacker.example/cb")
	p := f.s.newBrowser().get(f.s.authorizeURL(params))
	if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || !strings.Contains(p.body, "Redirect URI not registered") {
		t.Fatalf("%d %v %s", p.status, p.header, p.body)
	}
}

// TestOIDCC_ensure_post_request_succeeds: the authorization request as a
// form POST.
func TestOIDCC_ensure_post_request_succeeds(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	p := b.post("/"+f.s.tenant+"/oauth2/v2.0/authorize", params)
	if p.status != http.StatusOK {
		t.Fatalf("POST authorize: %d %s", p.status, p.body)
	}
	_, q := location(t, b.signIn(p, fixUser, fixPassword))
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
}

// TestOIDCC_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported
func TestOIDCC_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(t *testing.T) {
	f := newOIDCFix(t)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("request_uri", "https://rp.example/request.jwt")
	if _, q := location(t, f.s.newBrowser().get(f.s.authorizeURL(params))); q.Get("error") != "request_uri_not_supported" {
		t.Fatalf("callback: %v", q)
	}
}

// TestOIDCC_unsigned_request_object_supported_correctly_or_rejected_as_unsupported
func TestOIDCC_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(t *testing.T) {
	f := newOIDCFix(t)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("request", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.")
	if _, q := location(t, f.s.newBrowser().get(f.s.authorizeURL(params))); q.Get("error") != "request_not_supported" {
		t.Fatalf("callback: %v", q)
	}
}

// TestOIDCC_claims_essential: a claims request for name succeeds.
func TestOIDCC_claims_essential(t *testing.T) {
	f := newOIDCFix(t)
	f.webLogin(f.s.newBrowser(), url.Values{"claims": {`{"userinfo":{"name":{"essential":true}}}`}})
}

// TestOIDCC_refresh_token: refresh works, keeps iss/sub/aud/auth_time,
// and is bound to the client.
func TestOIDCC_refresh_token(t *testing.T) {
	f := newOIDCFix(t)
	out, _ := f.webLogin(f.s.newBrowser(), nil)
	rt := out["refresh_token"].(string)
	other, otherSecret := f.s.browserApp("other web", directorySignInWeb("https://other.example/cb"))
	if st, bad, _ := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, other.AppID, otherSecret); st != http.StatusBadRequest || bad["error"] != "invalid_grant" {
		t.Fatalf("another client's refresh: %d %v", st, bad)
	}
	st, ref, h := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, f.web.AppID, f.webSecret)
	if st != http.StatusOK || h.Get("Cache-Control") != "no-store" || ref["refresh_token"] == nil || ref["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v %v", st, ref, h)
	}
	c1, c2 := idClaims(t, out["id_token"].(string)), idClaims(t, ref["id_token"].(string))
	for _, k := range []string{"iss", "sub", "aud", "auth_time"} {
		if c1[k] != c2[k] {
			t.Errorf("%s: %v then %v", k, c1[k], c2[k])
		}
	}
}

// TestOIDCC_ensure_request_with_valid_pkce_succeeds: PKCE S256 works for
// the public (native) client, which x/oauth2 authenticates as Basic with
// an empty password; the loopback redirect URI may use any port (RFC 8252).
func TestOIDCC_ensure_request_with_valid_pkce_succeeds(t *testing.T) {
	f := newOIDCFix(t)
	redirect := "http://127.0.0.1:51234/native"
	params, verifier := f.authParams(f.pub, redirect)
	q := f.login(f.s.newBrowser(), params)
	st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {redirect},
		"code_verifier": {verifier}}, f.pub.AppID, "")
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	f.checkIDToken(out["id_token"].(string), f.pub.AppID, params.Get("nonce"))
}
