package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// oidcFix is the OpenID Foundation modules' setting: a TLS graphdir whose
// public URL is its listener, a confidential web app, a native (public)
// app with a loopback redirect URI, a single-page app, and a customer.
type oidcFix struct {
	t         *testing.T
	s         *stack
	web       *directory.Application
	webSecret string
	pub       *directory.Application
	spa       *directory.Application
	user      *directory.User
	// legacy is a confidential web app with graphdirPkceRequired off, as
	// the Basic plan's happy flow (no code_challenge) needs.
	legacy       *directory.Application
	legacySecret string
}

const (
	fixWebRedirect = "https://rp.example/cb"
	fixWebLogout   = "https://rp.example/signed-out"
	fixPubRedirect = "http://127.0.0.1/native"
	fixSPARedirect = "https://spa.example/app"
	fixSPAOrigin   = "https://spa.example"
	fixLegacyRedir = "https://legacy.example/cb"
	fixUser        = "dana@example.com"
	fixPassword    = "Corr3ct!Horse"
)

func newOIDCFix(t *testing.T) *oidcFix {
	s := newBrowserStack(t, nil)
	f := &oidcFix{t: t, s: s}
	logout := fixWebLogout
	f.web, f.webSecret = s.browserApp("rp web", directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{fixWebRedirect}, LogoutURL: &logout}})
	pubs, spas := []string{fixPubRedirect}, []string{fixSPARedirect}
	f.pub, _ = s.browserApp("rp native", directory.SignInInput{PublicClient: &pubs})
	f.spa, _ = s.browserApp("rp spa", directory.SignInInput{SPA: &spas})
	pkceOff := false
	f.legacy, f.legacySecret = s.browserApp("rp legacy web", directory.SignInInput{
		Web: &directory.WebInput{RedirectURIs: []string{fixLegacyRedir}}, PKCERequired: &pkceOff})
	f.user = s.customer(fixUser, fixPassword)
	return f
}

// authParams is a complete code-flow request of app to redirect; verifier
// is the PKCE verifier of its challenge.
func (f *oidcFix) authParams(app *directory.Application, redirect string) (params url.Values, verifier string) {
	verifier, challenge := pkce()
	return url.Values{
		"client_id": {app.AppID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid profile email offline_access User.Read"}, "state": {"s-" + randomString()}, "nonce": {"n-" + randomString()},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}, verifier
}

// legacyParams is the Basic plan's request: the legacy web app, no PKCE.
func (f *oidcFix) legacyParams() url.Values {
	params, _ := f.authParams(f.legacy, fixLegacyRedir)
	params.Del("code_challenge")
	params.Del("code_challenge_method")
	return params
}

// login runs the interactive part: GET authorize, the sign-in page, the
// redirect back. It returns the callback's parameters.
func (f *oidcFix) login(b *browser, params url.Values) url.Values {
	f.t.Helper()
	p := b.get(f.s.authorizeURL(params))
	if p.status != http.StatusOK || !strings.Contains(p.body, `autocomplete="current-password"`) {
		f.t.Fatalf("authorize did not show the sign-in page: %d %s", p.status, p.body)
	}
	_, q := location(f.t, b.signIn(p, fixUser, fixPassword))
	if q.Get("code") == "" {
		f.t.Fatalf("no code: %v", q)
	}
	return q
}

// token posts form to the token endpoint; basic (id, secret) is sent as
// HTTP Basic when id is not empty.
func (f *oidcFix) token(form url.Values, basicID, basicSecret string, headers ...string) (int, map[string]any, http.Header) {
	f.t.Helper()
	return f.postForm("/"+f.s.tenant+"/oauth2/v2.0/token", form, basicID, basicSecret, headers...)
}

func (f *oidcFix) postForm(path string, form url.Values, basicID, basicSecret string, headers ...string) (int, map[string]any, http.Header) {
	f.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.s.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.s.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(body, &out)
	return resp.StatusCode, out, resp.Header
}

// redeem exchanges a web app's code with client_secret_basic.
func (f *oidcFix) redeem(code, verifier string) (int, map[string]any) {
	f.t.Helper()
	st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {fixWebRedirect},
		"code_verifier": {verifier}}, f.web.AppID, f.webSecret)
	return st, out
}

// webLogin signs in to the web app and redeems the code.
func (f *oidcFix) webLogin(b *browser, extra url.Values) (map[string]any, url.Values) {
	f.t.Helper()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	for k, v := range extra {
		params[k] = v
	}
	q := f.login(b, params)
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		f.t.Fatalf("token: %d %v", st, out)
	}
	return out, params
}

// idClaims decodes a JWT's payload (the signature is go-oidc's test).
func idClaims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64URLDecode(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// userinfo calls /oidc/userinfo.
func (f *oidcFix) userinfo(method, accessToken string, inBody bool) (int, map[string]any) {
	f.t.Helper()
	var req *http.Request
	if inBody {
		req, _ = http.NewRequest(method, f.s.srv.URL+"/oidc/userinfo", strings.NewReader(url.Values{"access_token": {accessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, f.s.srv.URL+"/oidc/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	resp, err := f.s.client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func base64URLDecode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func directorySignInWeb(redirect string) directory.SignInInput {
	return directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{redirect}}}
}
