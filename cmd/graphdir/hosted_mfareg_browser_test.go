package main

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/browsertest"
	"github.com/graphdir/graphdir/internal/directory"
)

// TestHostedMFARegistration_Chromium walks just-in-time MFA registration
// in headless Chromium, in English and in French (ui_locales): sign-in,
// the address page (and its error), the code page, "Send a new code" too
// early (the wait) and later (a new code), the new code back to the app.
// axe-core finds no WCAG 2.2 AA violation on any of them; each is
// screenshotted at desktop and phone widths into
// testdata/browser/screenshots/ (git-ignored), as the other pages are.
func TestHostedMFARegistration_Chromium(t *testing.T) {
	s := newMailStack(t)
	br := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	o.Page("/cb", `<!doctype html><html lang="en"><head><title>app</title></head><body><main><h1>app</h1></main></body></html>`)
	redirect := o.URL + "/cb"
	app, _ := s.browserApp("jit pages", directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{redirect}}})
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	body := graphFlowBody("mfa flow", []string{app.AppID})
	body["graphdirMfaRequired"] = true
	if r := s.do("POST", flowsURL, admin, body); r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	shots := screenshotDir(t)
	sess := br.Open(t)
	check := func(lang, name, goTo, click string, fill ...string) hostedPageStep {
		t.Helper()
		return visitHostedPage(t, sess, shots, lang, name, goTo, hostedPageAction{click: click, fill: fillPairs(fill)})
	}
	const submit = "form[method=post] button[type=submit]"
	const resend = `form[action$="/resend"] button`
	for _, lang := range []string{"en", "fr"} {
		user, addr := "jit-"+lang+"@example.com", "jit-"+lang+".codes@example.org"
		id := s.customer(user, fixPassword).ID
		_, challenge := pkce()
		authorize := s.authorizeURL(url.Values{"client_id": {app.AppID}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid profile"}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {challenge},
			"code_challenge_method": {"S256"}, "ui_locales": {lang}, "prompt": {"login"}})
		check(lang, "21-jit-signin", authorize, submit, "#username", user, "#password", fixPassword)
		check(lang, "22-jit-email", "", submit, "#email", "not an address")
		check(lang, "23-jit-email-error", "", submit, "#email", addr)
		check(lang, "24-jit-code", "", resend)
		first := s.lastCode(addr)
		s.age(time.Minute) // the resend interval (60 s by default) is over
		check(lang, "25-jit-resend-wait", "", resend)
		second := s.lastCode(addr)
		if first == second {
			t.Fatalf("%s: no new code after the resend", lang)
		}
		check(lang, "26-jit-resent", "", submit, "#code", second)
		u, err := s.db.store.GetUser(context.Background(), s.tenant, directory.UserKey{ID: id})
		if err != nil || len(u.OtherMails) != 1 || u.OtherMails[0] != addr {
			t.Errorf("%s: registered address %v %v", lang, u, err)
		}
	}
}
