package main

// Negative tests of the browser redirect sign-in (RFC 9700 and
// browser-redirect.md rules): open redirects, PKCE, client authentication
// before the code, CSRF, clickjacking headers, cookies, enumeration,
// response modes, cross-origin redemption, revocation, hostile input.

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestBrowserSignIn_RedirectURIMismatch: anything but an exact registered
// URI (or a native loopback URI on another port) is an error page, never a
// redirect; so is an unknown or missing client.
func TestBrowserSignIn_RedirectURIMismatch(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	for _, c := range []struct {
		app      string
		redirect string
	}{
		{f.web.AppID, fixWebRedirect + "/"},
		{f.web.AppID, strings.ToUpper(fixWebRedirect)},
		{f.web.AppID, fixWebRedirect + "?next=https://attacker.example"},
		{f.web.AppID, strings.Replace(fixWebRedirect, "https", "http", 1)},
		{f.web.AppID, fixWebRedirect + "#x"},
		{f.web.AppID, "https://rp.example:8443/cb"},
		{f.web.AppID, fixSPARedirect}, // another app's URI
		{f.pub.AppID, "http://127.0.0.1:5000/other"},
		{f.pub.AppID, "http://localhost:5000/native"}, // loopback freedom is for the port only
		{f.pub.AppID, "https://127.0.0.1:5000/native"},
		{"00000000-0000-4000-8000-000000000000", fixWebRedirect},
		{"not-a-guid", fixWebRedirect},
		{"", fixWebRedirect},
		{f.web.AppID, ""},
	} {
		params, _ := f.authParams(f.web, c.redirect)
		params.Set("client_id", c.app)
		p := b.get(f.s.authorizeURL(params))
		if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || p.header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s %q: %d %v", c.app, c.redirect, p.status, p.header.Get("Location"))
		}
	}
	// Duplicate redirect_uri: refused, even when one is right.
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Add("redirect_uri", "https://attacker.example/")
	if p := b.get(f.s.authorizeURL(params)); p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
		t.Errorf("duplicate redirect_uri: %d", p.status)
	}
}

// TestBrowserSignIn_PKCE: required (web and public), S256 only; a wrong
// or missing verifier fails the exchange.
func TestBrowserSignIn_PKCE(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	for name, edit := range map[string]func(url.Values){
		"missing":       func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") },
		"no method":     func(v url.Values) { v.Del("code_challenge_method") },
		"plain":         func(v url.Values) { v.Set("code_challenge_method", "plain") },
		"bad challenge": func(v url.Values) { v.Set("code_challenge", "short") },
	} {
		for _, app := range []struct {
			id, redirect string
		}{{f.web.AppID, fixWebRedirect}, {f.pub.AppID, fixPubRedirect}} {
			params, _ := f.authParams(f.web, app.redirect)
			params.Set("client_id", app.id)
			edit(params)
			if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("error") != "invalid_request" || q.Get("iss") == "" {
				t.Errorf("%s (%s): %v", name, app.redirect, q)
			}
		}
	}
	params, verifier := f.authParams(f.web, fixWebRedirect)
	q := f.login(b, params)
	wrong, _ := pkce()
	for _, v := range []string{wrong, ""} {
		if st, out := f.redeem(q.Get("code"), v); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
			t.Errorf("verifier %q: %d %v", v, st, out)
		}
	}
	// A failed PKCE check spent the code: the right verifier comes too late.
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusBadRequest {
		t.Errorf("after a wrong verifier: %d %v", st, out)
	}
}

// TestBrowserSignIn_ClientAuthenticatedBeforeCode: a confidential client
// without or with a wrong secret is invalid_client and the code stays
// unspent (x/oauth2 retries with another authentication style).
func TestBrowserSignIn_ClientAuthenticatedBeforeCode(t *testing.T) {
	f := newOIDCFix(t)
	params, verifier := f.authParams(f.web, fixWebRedirect)
	q := f.login(f.s.newBrowser(), params)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixWebRedirect}, "code_verifier": {verifier}}
	if st, out, _ := f.token(form, f.web.AppID, ""); st != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Fatalf("no secret: %d %v", st, out)
	}
	if st, out, _ := f.token(form, f.web.AppID, f.webSecret+"x"); st != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, out)
	}
	// Another redirect URI or client does not spend it either.
	if st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixPubRedirect},
		"code_verifier": {verifier}}, f.pub.AppID, ""); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("other client: %d %v", st, out)
	}
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusOK {
		t.Fatalf("the code was spent by a failed authentication: %d %v", st, out)
	}
}

// TestBrowserSignIn_CSRF: the sign-in form is refused cross-site, without
// its per-form token, and from another browser than the one that opened
// it.
func TestBrowserSignIn_CSRF(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	p := b.get(f.s.authorizeURL(params))
	action, form := p.form(t)
	form.Set("username", fixUser)
	form.Set("password", fixPassword)

	if r := b.post(action, form, "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
		t.Errorf("cross-site: %d", r.status)
	}
	if r := b.post(action, form, "Origin", "https://attacker.example"); r.status != http.StatusForbidden {
		t.Errorf("foreign Origin: %d", r.status)
	}
	noToken := url.Values{}
	for k, v := range form {
		noToken[k] = v
	}
	noToken.Del("csrf_token")
	if r := b.post(action, noToken); r.status != http.StatusForbidden {
		t.Errorf("no csrf_token: %d", r.status)
	}
	noToken.Set("csrf_token", randomString())
	if r := b.post(action, noToken); r.status != http.StatusForbidden {
		t.Errorf("wrong csrf_token: %d", r.status)
	}
	// Login CSRF: the attacker's own form, submitted by the victim's
	// browser, lacks the victim's binding cookie.
	victim := f.s.newBrowser()
	if r := victim.post(action, form); r.status != http.StatusForbidden {
		t.Errorf("another browser: %d", r.status)
	}
	// Same origin, everything right: signed in.
	if r := b.post(action, form, "Sec-Fetch-Site", "same-origin", "Origin", f.s.srv.URL); r.status != http.StatusSeeOther {
		t.Errorf("same origin: %d %s", r.status, r.body)
	}
}

// TestBrowserSignIn_PageHeadersAndCookies: clickjacking and caching
// headers on the pages, a CSP without script, the session cookie's
// attributes, and the form's accessibility basics.
func TestBrowserSignIn_PageHeadersAndCookies(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	p := b.get(f.s.authorizeURL(params))
	csp := p.header.Get("Content-Security-Policy")
	// form-action names the redirect URI's origin too: Chromium applies it
	// to the redirect that follows the form (found by the MSAL test).
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'none'", "default-src 'none'", "base-uri 'none'", "form-action 'self' https://rp.example;"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for h, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
		"X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
		if got := p.header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if strings.Contains(p.body, "<script") || strings.Contains(p.body, "onclick") || strings.Contains(p.body, "onload") {
		t.Error("script on the page")
	}
	for _, want := range []string{`<label for="username">`, `<label for="password">`, `autocomplete="username"`, `autocomplete="current-password"`, `<html lang="en">`} {
		if !strings.Contains(p.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	r := b.signIn(p, fixUser, fixPassword)
	var session string
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "__Host-gd-session-"+f.s.tenant+"=") {
			session = c
		}
	}
	for _, want := range []string{"Path=/", "Secure", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(session, want) {
			t.Errorf("session cookie %q lacks %s", session, want)
		}
	}
	if strings.Contains(strings.ToLower(session), "domain=") {
		t.Errorf("session cookie has a Domain: %q", session)
	}
	// A failed attempt shows the error tied to the fields.
	other := f.s.newBrowser()
	r = other.signIn(other.get(f.s.authorizeURL(params)), fixUser, "wrong")
	if !strings.Contains(r.body, `role="alert"`) || !strings.Contains(r.body, `aria-describedby="signin-error"`) || !strings.Contains(r.body, `aria-invalid="true"`) {
		t.Errorf("error page: %s", r.body)
	}
}

// TestBrowserSignIn_NoEnumeration: an unknown account and a wrong password
// get the same status and text.
func TestBrowserSignIn_NoEnumeration(t *testing.T) {
	f := newOIDCFix(t)
	params, _ := f.authParams(f.web, fixWebRedirect)
	answer := func(user, pw string) (int, string) {
		b := f.s.newBrowser()
		r := b.signIn(b.get(f.s.authorizeURL(params)), user, pw)
		i := strings.Index(r.body, `role="alert">`)
		if i < 0 {
			t.Fatalf("no error for %s: %d %s", user, r.status, r.body)
		}
		return r.status, r.body[i : i+strings.Index(r.body[i:], "</p>")]
	}
	s1, m1 := answer("nobody@example.com", "Whatever1!")
	s2, m2 := answer(fixUser, "Wr0ng!Password")
	if s1 != s2 || m1 != m2 {
		t.Fatalf("unknown: %d %q; wrong password: %d %q", s1, m1, s2, m2)
	}
}

// TestBrowserSignIn_ResponseModes: fragment and form_post carry code,
// state (byte for byte) and iss; a request without state gets none back.
func TestBrowserSignIn_ResponseModes(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	weird := "eyJpZCI6IjEifQ==|a b+c/%&é"

	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("response_mode", "fragment")
	params.Set("state", weird)
	p := b.get(f.s.authorizeURL(params))
	u, q := location(t, p)
	if u.RawQuery != "" || q.Get("code") == "" || q.Get("state") != weird || q.Get("iss") != f.s.iss.IssuerURL(f.s.tenant) {
		t.Fatalf("fragment: %s", p.header.Get("Location"))
	}

	params.Set("response_mode", "form_post")
	p = b.get(f.s.authorizeURL(params))
	action, form := p.form(t)
	if p.status != http.StatusOK || action != fixWebRedirect || form.Get("code") == "" || form.Get("state") != weird || form.Get("iss") == "" {
		t.Fatalf("form_post: %d %s", p.status, p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://rp.example") || strings.Contains(p.body, "<script") {
		t.Fatalf("form_post CSP %q", csp)
	}

	params.Del("response_mode")
	params.Del("state")
	_, q = location(t, b.get(f.s.authorizeURL(params)))
	if _, has := q["state"]; has || q.Get("code") == "" {
		t.Fatalf("no state sent, got %v", q)
	}
}

// TestBrowserSignIn_SPACrossOrigin: a spa code is redeemed from the
// browser only (Origin of its redirect URI), and the response grants that
// origin; a preflight from it works, from elsewhere it gets nothing.
func TestBrowserSignIn_SPACrossOrigin(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	params, verifier := f.authParams(f.spa, fixSPARedirect)
	params.Set("response_mode", "fragment")
	q := f.login(b, params)
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {f.spa.AppID}, "code": {q.Get("code")},
		"redirect_uri": {fixSPARedirect}, "code_verifier": {verifier}, "client_info": {"1"}}
	if st, out, _ := f.token(form, "", ""); st != http.StatusBadRequest || !strings.Contains(mustJSON(t, out["error_codes"]), "9002327") {
		t.Fatalf("without Origin: %d %v", st, out)
	}
	if st, out, _ := f.token(form, "", "", "Origin", "https://attacker.example"); st != http.StatusBadRequest {
		t.Fatalf("foreign Origin: %d %v", st, out)
	}
	st, out, h := f.token(form, "", "", "Origin", fixSPAOrigin)
	if st != http.StatusOK || h.Get("Access-Control-Allow-Origin") != fixSPAOrigin || out["client_info"] == nil || out["refresh_token_expires_in"] == nil {
		t.Fatalf("from the SPA: %d %v %v", st, out, h)
	}
	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, f.s.srv.URL+"/"+f.s.tenant+"/oauth2/v2.0/revoke", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-anchormailbox")
		resp, err := f.s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	// The token endpoint's preflight is native authentication's (its own
	// tests); the revocation endpoint's is this one.
	if r := pre(fixSPAOrigin); r.StatusCode != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != fixSPAOrigin ||
		r.Header.Get("Access-Control-Allow-Headers") != "content-type, x-anchormailbox" {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := pre("https://attacker.example"); r.Header.Get("Access-Control-Allow-Origin") != "" || r.StatusCode == http.StatusNoContent {
		t.Fatalf("foreign preflight: %d %v", r.StatusCode, r.Header)
	}
}

// TestBrowserSignIn_Revoke: RFC 7009 on refresh tokens.
func TestBrowserSignIn_Revoke(t *testing.T) {
	f := newOIDCFix(t)
	out, _ := f.webLogin(f.s.newBrowser(), nil)
	rt := out["refresh_token"].(string)
	path := "/" + f.s.tenant + "/oauth2/v2.0/revoke"
	if st, o, _ := f.postForm(path, url.Values{"token": {rt}}, f.web.AppID, ""); st != http.StatusUnauthorized {
		t.Fatalf("confidential client without its secret: %d %v", st, o)
	}
	if st, o, _ := f.postForm(path, url.Values{"token": {"unknown-token"}}, f.web.AppID, f.webSecret); st != http.StatusOK {
		t.Fatalf("unknown token: %d %v", st, o)
	}
	if st, o, _ := f.postForm(path, url.Values{"token": {rt}}, f.web.AppID, f.webSecret); st != http.StatusOK {
		t.Fatalf("revoke: %d %v", st, o)
	}
	if st, o, _ := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, f.web.AppID, f.webSecret); st != http.StatusBadRequest || o["error"] != "invalid_grant" {
		t.Fatalf("refresh after revoke: %d %v", st, o)
	}
	// A public client names itself; another client's token is left alone.
	params, verifier := f.authParams(f.pub, fixPubRedirect)
	q := f.login(f.s.newBrowser(), params)
	_, pubOut, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "client_id": {f.pub.AppID}, "code": {q.Get("code")},
		"redirect_uri": {fixPubRedirect}, "code_verifier": {verifier}}, "", "")
	pubRT := pubOut["refresh_token"].(string)
	if st, _, _ := f.postForm(path, url.Values{"token": {pubRT}}, f.web.AppID, f.webSecret); st != http.StatusOK {
		t.Fatalf("foreign token: %d", st)
	}
	if st, o, _ := f.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {f.pub.AppID}, "refresh_token": {pubRT}}, "", ""); st != http.StatusOK {
		t.Fatalf("a foreign client revoked the token: %d %v", st, o)
	}
}

// TestBrowserSignIn_SessionEndsWithRevokeSignInSessions: revoking the
// user's sessions (Graph) ends the hosted-page session too.
func TestBrowserSignIn_SessionEndsWithRevokeSignInSessions(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	f.ageSession(2e9) // the revocation boundary is in whole seconds
	r := f.s.do("POST", "/v1.0/users/"+f.user.ID+"/revokeSignInSessions", f.s.appToken("User.ReadWrite.All"), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("revokeSignInSessions: %d %s", r.Status, r.Body)
	}
	f.promptNoneFails(b)
}

// TestBrowserSignIn_StepUpWithoutMFA: a claims request for an
// authentication context needs MFA, which needs mail for its code; without
// mail configured: interaction_required, never a token without it.
func TestBrowserSignIn_StepUpWithoutMFA(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("claims", `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)
	if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("error") != "interaction_required" {
		t.Fatalf("step-up: %v", q)
	}
	params.Set("claims", `{"access_token":`)
	if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("error") != "invalid_request" {
		t.Fatalf("malformed claims: %v", q)
	}
}

// TestBrowserSignIn_HostileInput: odd tenants, methods and bodies never
// get a 5xx.
func TestBrowserSignIn_HostileInput(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	for _, path := range []string{
		"/common/oauth2/v2.0/authorize?" + params.Encode(),
		"/" + f.s.tenant + "/oauth2/v2.0/authorize?%zz",
		"/" + f.s.tenant + "/oauth2/v2.0/authorize?client_id=%00&redirect_uri=%00",
		"/" + f.s.tenant + "/oauth2/v2.0/authorize?" + params.Encode() + "&state=" + strings.Repeat("x", 5000),
		"/" + f.s.tenant + "/oauth2/v2.0/authorize?" + params.Encode() + "&max_age=-1",
		"/" + f.s.tenant + "/oauth2/v2.0/authorize?" + params.Encode() + "&prompt=none%20login",
		"/" + f.s.tenant + "/oauth2/v2.0/logout?post_logout_redirect_uri=%00",
	} {
		if p := b.get(path); p.status >= 500 {
			t.Errorf("%.80s: %d", path, p.status)
		}
	}
	for _, form := range []url.Values{{}, {"flow": {"x"}, "client_id": {"y"}}, {"flow": {strings.Repeat("a", 3000)}}} {
		if p := b.post("/"+f.s.tenant+"/oauth2/v2.0/signin", form); p.status >= 500 || p.status == http.StatusSeeOther {
			t.Errorf("signin %v: %d", form, p.status)
		}
	}
	if p := b.post("/"+f.s.tenant+"/oauth2/v2.0/signin", url.Values{"a": {strings.Repeat("b", 64<<10)}}); p.status >= 500 {
		t.Errorf("big form: %d", p.status)
	}
}

// TestBrowserSignIn_UserFlowMFARequired: an application whose user flow
// requires MFA, on a graphdir without mail (no code can be sent), gets
// interaction_required, never a code after the password alone; a flow
// without passwords gets access_denied. (With mail: TestBrowserSignIn_MFAEmailCode.)
func TestBrowserSignIn_UserFlowMFARequired(t *testing.T) {
	f := newOIDCFix(t)
	admin := f.s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	body := graphFlowBody("mfa flow", []string{f.web.AppID})
	body["graphdirMfaRequired"] = true
	r := f.s.do("POST", flowsURL, admin, body)
	if r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	b := f.s.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("error") != "interaction_required" || q.Has("code") {
		t.Fatalf("MFA flow: %v", q)
	}
	patch := map[string]any{"@odata.type": "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow", "graphdirMfaRequired": false,
		"onAuthenticationMethodLoadStart": map[string]any{"identityProviders": []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}}}
	if r := f.s.do("PATCH", flowsURL+"/"+id, admin, patch); r.Status != http.StatusNoContent {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("error") != "access_denied" {
		t.Fatalf("OTP-only flow: %v", q)
	}
}

// TestBrowserSignIn_PromptNoneErrors: with a session, prompt=none that
// needs a new sign-in (max_age) is login_required; one that needs only
// MFA is interaction_required.
func TestBrowserSignIn_PromptNoneErrors(t *testing.T) {
	f := newOIDCFix(t)
	b := f.s.newBrowser()
	f.webLogin(b, nil)
	f.ageSession(5e9)
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "none")
	params.Set("max_age", "1")
	if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("error") != "login_required" {
		t.Fatalf("max_age: %v", q)
	}
	params.Del("max_age")
	params.Set("claims", `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)
	if _, q := location(t, b.get(f.s.authorizeURL(params))); q.Get("error") != "interaction_required" {
		t.Fatalf("step-up: %v", q)
	}
}

// TestBrowserSignIn_TwoInstances: sessions, flows and codes live in
// PostgreSQL, so a second instance over the same database serves the next
// step: a code issued by one is redeemed at the other (once), and the
// session cookie set by one signs the browser in silently at the other.
func TestBrowserSignIn_TwoInstances(t *testing.T) {
	f := newOIDCFix(t)
	other, _, err := buildHandler(context.Background(), f.s.cfg, f.s.env(), f.s.db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srvB := httptest.NewTLSServer(other)
	t.Cleanup(srvB.Close)
	clientB := srvB.Client()

	b := f.s.newBrowser()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	q := f.login(b, params)
	redeemAt := func(base string) int {
		req, _ := http.NewRequest(http.MethodPost, base+"/"+f.s.tenant+"/oauth2/v2.0/token", strings.NewReader(url.Values{
			"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixWebRedirect}, "code_verifier": {verifier}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(f.web.AppID, f.webSecret)
		c := f.s.client
		if base == srvB.URL {
			c = clientB
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := redeemAt(srvB.URL); st != http.StatusOK {
		t.Fatalf("redeem at B: %d", st)
	}
	if st := redeemAt(f.s.srv.URL); st != http.StatusBadRequest {
		t.Fatalf("replay at A: %d", st)
	}
	u, _ := url.Parse(f.s.srv.URL)
	req, _ := http.NewRequest(http.MethodGet, srvB.URL+"/"+f.s.tenant+"/oauth2/v2.0/authorize?"+params.Encode(), nil)
	for _, ck := range b.c.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	clientB.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := clientB.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("SSO at B: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestBrowserSignIn_PKCESwitch: graphdirPkceRequired off lets only a
// confidential web app skip PKCE. An app that keeps the default is refused
// without a challenge; public clients are refused whatever their switch
// says; a code_verifier for a code issued without a challenge is refused
// (RFC 9700 §4.8, a downgrade); a method without a challenge is refused.
func TestBrowserSignIn_PKCESwitch(t *testing.T) {
	f := newOIDCFix(t)
	noPKCE := func(app *directory.Application, redirect string) url.Values {
		p, _ := f.authParams(app, redirect)
		p.Del("code_challenge")
		p.Del("code_challenge_method")
		return p
	}
	off := false
	spas := []string{"https://spa2.example/app"}
	spa, _ := f.s.browserApp("spa with the switch off", directory.SignInInput{SPA: &spas, PKCERequired: &off})
	for name, c := range map[string]struct {
		app      *directory.Application
		redirect string
	}{"web default": {f.web, fixWebRedirect}, "public client": {f.pub, fixPubRedirect}, "spa switched off": {spa, spas[0]}} {
		params := noPKCE(c.app, c.redirect)
		if _, q := location(t, f.s.newBrowser().get(f.s.authorizeURL(params))); q.Get("error") != "invalid_request" || q.Has("code") {
			t.Errorf("%s without PKCE: %v", name, q)
		}
	}
	params := f.legacyParams()
	params.Set("code_challenge_method", "S256")
	if _, q := location(t, f.s.newBrowser().get(f.s.authorizeURL(params))); q.Get("error") != "invalid_request" {
		t.Errorf("method without challenge: %v", q)
	}

	q := f.login(f.s.newBrowser(), f.legacyParams())
	verifier, _ := pkce()
	st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixLegacyRedir},
		"code_verifier": {verifier}}, f.legacy.AppID, f.legacySecret)
	if st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("verifier without challenge: %d %v", st, out)
	}
	// The legacy app may still use PKCE, and then it is checked.
	params, _ = f.authParams(f.legacy, fixLegacyRedir)
	q = f.login(f.s.newBrowser(), params)
	wrong, _ := pkce()
	if st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {fixLegacyRedir},
		"code_verifier": {wrong}}, f.legacy.AppID, f.legacySecret); st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: %d %v", st, out)
	}
}
