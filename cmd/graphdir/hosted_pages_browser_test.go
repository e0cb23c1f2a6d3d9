package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
	"github.com/graphdir/graphdir/internal/directory"
)

// TestHostedPages_Chromium walks every hosted page in headless Chromium,
// in English and in French (ui_locales), in one browser session: the
// sign-in page (and with its error), sign-up (email, code, details, details
// with errors), password reset (email, code, new password, back at
// sign-in), the MFA code page, the error page and the sign-out page.
// axe-core finds no WCAG 2.2 AA violation on any of them; each is
// screenshotted at desktop and phone widths into
// testdata/browser/screenshots/ (git-ignored) for review.
func TestHostedPages_Chromium(t *testing.T) {
	s := newMailStack(t)
	br := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	o.Page("/cb", `<!doctype html><html lang="en"><head><title>app</title></head><body><main><h1>app</h1></main></body></html>`)
	redirect := o.URL + "/cb"
	app, _ := s.browserApp("hosted pages", directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{redirect}}})
	mfaApp, _ := s.browserApp("hosted pages mfa", directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{redirect}}})
	s.setMFAEmail(s.customer(fixUser, fixPassword).ID, fixUser)
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	body := graphFlowBody("mfa flow", []string{mfaApp.AppID})
	body["graphdirMfaRequired"] = true
	if r := s.do("POST", flowsURL, admin, body); r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	shots := screenshotDir(t)
	sess := br.Open(t)
	authorize := func(client, lang string) string {
		_, challenge := pkce()
		return s.authorizeURL(url.Values{"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid profile"}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {challenge},
			"code_challenge_method": {"S256"}, "ui_locales": {lang}, "prompt": {"login"}})
	}
	check := func(lang, name, goTo, click string, fill ...string) hostedPageStep {
		t.Helper()
		return visitHostedPage(t, sess, shots, lang, name, goTo, hostedPageAction{click: click, fill: fillPairs(fill)})
	}
	const submit = "form[method=post] button[type=submit]"
	for _, lang := range []string{"en", "fr"} {
		newcomer := "newcomer-" + lang + "@example.com"
		// Sign-in, then its error state.
		check(lang, "01-signin", authorize(app.AppID, lang), submit, "#username", fixUser, "#password", "wrong")
		check(lang, "02-signin-error", "", `form[action$="/signup"] button`)
		// Sign-up.
		check(lang, "03-signup-email", "", submit, "#email", newcomer)
		check(lang, "04-signup-code", "", submit, "#code", s.lastCode(newcomer))
		check(lang, "05-signup-details", "", submit, "#password", "short")
		if st := check(lang, "06-signup-details-errors", "", submit, "#password", "N3w!Passw0rd", "#attr-0", "New Comer"); !strings.Contains(st.URL, "/signup") {
			t.Errorf("after the invalid details: %s", st.URL)
		}
		// Reset.
		check(lang, "07-signin-reset", authorize(app.AppID, lang), `form[action$="/reset"] button`)
		check(lang, "08-reset-email", "", submit, "#email", fixUser)
		check(lang, "09-reset-code", "", submit, "#code", s.lastCode(fixUser))
		newPW := fixPassword + lang
		check(lang, "10-reset-password", "", submit, "#password", newPW)
		check(lang, "11-reset-done", "", "")
		// MFA.
		check(lang, "12-signin-mfa", authorize(mfaApp.AppID, lang), submit, "#username", fixUser, "#password", newPW)
		check(lang, "13-mfa-code", "", "")
		// The error page and the sign-out page.
		check(lang, "14-error", authorize("00000000-0000-0000-0000-000000000000", lang), "")
		// The sign-up signed this session in to app: its logout asks to
		// confirm the way back, then says signed out.
		logout := s.srv.URL + "/" + s.tenant + "/oauth2/v2.0/logout?" + url.Values{"ui_locales": {lang}, "client_id": {app.AppID},
			"post_logout_redirect_uri": {redirect}}.Encode()
		check(lang, "15-logout-confirm", logout, "")
		check(lang, "16-signed-out", s.srv.URL+"/"+s.tenant+"/oauth2/v2.0/logout?ui_locales="+lang, "")
	}
}
