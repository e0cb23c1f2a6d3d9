package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
	"github.com/graphdir/graphdir/internal/directory"
)

// TestBrowserSignIn_MSALLoginRedirect: @azure/msal-browser, unmodified, in
// headless Chromium on another origin: loginRedirect to graphdir's
// authorization endpoint (fragment mode, PKCE, nonce, MSAL's extra
// parameters), the hosted page typed into and submitted, the code redeemed
// cross-origin by MSAL (no preflight), the ID token's nonce accepted,
// acquireTokenSilent through the refresh token grant, and the access token
// good for /v1.0/me. axe-core checks the sign-in page on the way.
func TestBrowserSignIn_MSALLoginRedirect(t *testing.T) {
	s := newBrowserStack(t, nil)
	b := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	page := o.Page("/app", `<!doctype html><html lang="en"><head><title>app</title>
<script src="/_browsertest/msal-browser.js"></script></head><body></body></html>`)
	redirect := o.URL + "/app"
	spas := []string{redirect}
	app, _ := s.browserApp("msal spa", directory.SignInInput{SPA: &spas})
	user := s.customer("erin@example.com", "Corr3ct!Horse")

	config := map[string]any{"auth": map[string]any{
		"clientId": app.AppID, "authority": s.srv.URL + "/" + s.tenant,
		"knownAuthorities": []string{strings.TrimPrefix(s.srv.URL, "https://")}, "redirectUri": redirect,
	}}
	request := map[string]any{"scopes": []string{"User.Read"}}
	sess := b.Open(t)
	res := sess.Run(t, browsertest.Scenario{Name: "msal-login-redirect", URL: page, Args: map[string]any{
		"config": config, "request": request, "authorize": s.srv.URL + "/" + s.tenant + "/oauth2/v2.0/authorize",
	}})
	var at struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	res.Decode(t, &at)
	if at.Status != http.StatusOK || at.Title != "Sign in" {
		t.Fatalf("MSAL's authorize request landed on %+v", at)
	}
	// The hosted sign-in page as MSAL's user sees it: no WCAG 2.2 AA
	// violation axe-core can find.
	var violations []browsertest.Violation
	sess.Run(t, browsertest.Scenario{Name: "axe", Args: map[string]any{"tags": browsertest.AxeTags}}).Decode(t, &violations)
	if len(violations) > 0 {
		t.Errorf("axe on the sign-in page:\n%s", browsertest.FormatViolations(violations))
	}
	res = sess.Run(t, browsertest.Scenario{Name: "msal-hosted-signin", Args: map[string]any{
		"config": config, "request": request, "app": redirect, "username": "erin@example.com", "password": "Corr3ct!Horse",
	}})
	var out struct {
		Username, HomeAccountID, TenantID, Nonce, OID string
		Scopes                                        []string
		AccessToken, SilentAccessToken                string
	}
	res.Decode(t, &out)
	if out.Username != "erin@example.com" || out.OID != user.ID || out.TenantID != s.tenant || out.Nonce == "" ||
		out.HomeAccountID != user.ID+"."+s.tenant || out.SilentAccessToken == "" || out.SilentAccessToken == out.AccessToken {
		t.Fatalf("MSAL's result: %+v", out)
	}
	for _, tok := range []string{out.AccessToken, out.SilentAccessToken} {
		if r := s.do("GET", "/v1.0/me", tok, nil); r.Status != http.StatusOK || r.JSON(t)["id"] != user.ID {
			t.Fatalf("/me: %d %s", r.Status, r.Body)
		}
	}
}
