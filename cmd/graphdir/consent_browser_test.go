package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
	"github.com/graphdir/graphdir/internal/directory"
)

// TestConsentPage_Chromium: in headless Chromium, in English and in French
// (ui_locales), a customer signs in to an app that asks for a scope it has
// no tenant-wide consent for (User.Read) and reaches the consent page;
// axe-core finds no WCAG 2.2 AA violation on it, it is screenshotted at
// desktop and phone widths into testdata/browser/screenshots/ (git-ignored)
// as <lang>-consent-*.png, Accept brings the browser back to the app with a
// code, and the code exchange grants User.Read. The admin-approval page (a
// scope only an administrator may grant) is checked and screenshotted too.
func TestConsentPage_Chromium(t *testing.T) {
	s := newBrowserStack(t, nil)
	br := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	o.Page("/cb", `<!doctype html><html lang="en"><head><title>app</title></head><body><main><h1>app</h1></main></body></html>`)
	redirect := o.URL + "/cb"
	app, secret := s.scopedApp("Contoso Shop", []string{"openid", "profile", "offline_access"},
		directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{redirect}}})
	shots := screenshotDir(t)
	for _, lang := range []string{"en", "fr"} {
		user := "consent-" + lang + "@example.com"
		s.customer(user, fixPassword)
		sess := br.Open(t)
		check := func(name, goTo, click string, fill ...string) hostedPageStep {
			t.Helper()
			return visitHostedPage(t, sess, shots, lang, name, goTo, hostedPageAction{click: click, fill: fillPairs(fill)})
		}
		verifier, challenge := pkce()
		authorize := func(scope string) string {
			return s.authorizeURL(url.Values{"client_id": {app.AppID}, "redirect_uri": {redirect}, "response_type": {"code"},
				"scope": {scope}, "state": {"st-" + lang}, "nonce": {"n"}, "code_challenge": {challenge},
				"code_challenge_method": {"S256"}, "ui_locales": {lang}})
		}
		check("consent-signin", authorize("openid profile offline_access User.Read"), "form[method=post] button[type=submit]",
			"#username", user, "#password", fixPassword)
		if st := check("consent", "", "button[value=accept]"); !strings.Contains(st.URL, "/authorize") && !strings.Contains(st.URL, "/signin") {
			t.Errorf("consent page at %s", st.URL)
		}
		var at string
		sess.Run(t, browsertest.Eval("() => location.href", nil)).Decode(t, &at)
		cb, err := url.Parse(at)
		if err != nil || cb.Path != "/cb" || cb.Query().Get("code") == "" || cb.Query().Get("state") != "st-"+lang {
			t.Fatalf("%s: after Accept the browser is at %s", lang, at)
		}
		st, out := postTokenForm(t, s, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")},
			"redirect_uri": {redirect}, "code_verifier": {verifier}}, app.AppID, secret)
		if st != http.StatusOK || !strings.Contains(out["scope"].(string), "User.Read") {
			t.Fatalf("%s: exchange: %d %v", lang, st, out)
		}
		// The admin-approval page (the session signs the user in).
		check("consent-admin", authorize("openid Directory.Read.All"), "")
	}
}

// postTokenForm posts form to the stack's token endpoint with
// client_secret_basic.
func postTokenForm(t *testing.T, s *stack, form url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	f := &oidcFix{t: t, s: s}
	st, out, _ := f.token(form, id, secret)
	return st, out
}
