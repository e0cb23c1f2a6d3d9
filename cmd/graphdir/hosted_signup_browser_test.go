package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
	"github.com/graphdir/graphdir/internal/directory"
)

// TestHostedSignUpChoices_Chromium signs up in headless Chromium, in
// English and in French, through a user flow with a radio group, a
// dropdown, a checkbox group and a single checkbox: the details page
// first without the required radio choice (its error tied to the
// fieldset), then filled in by clicking and picking as a user does. axe
// finds no WCAG 2.2 AA violation on any page; each is screenshotted at
// desktop and phone widths into testdata/browser/screenshots/
// (git-ignored). The choices arrive on the new user.
func TestHostedSignUpChoices_Chromium(t *testing.T) {
	s := newMailStack(t)
	br := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	o.Page("/cb", `<!doctype html><html lang="en"><head><title>app</title></head><body><main><h1>app</h1></main></body></html>`)
	redirect := o.URL + "/cb"
	app, _ := s.browserApp("choices", directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{redirect}}})
	interests, newsletter := choiceFlow(t, s, app.AppID)
	shots := screenshotDir(t)
	sess := br.Open(t)
	type action = hostedPageAction
	visit := func(lang, name, goTo string, a action) hostedPageStep {
		t.Helper()
		// The last step is back at the application's page (English).
		a.endsOnApp = strings.HasSuffix(name, "-done")
		return visitHostedPage(t, sess, shots, lang, name, goTo, a)
	}
	const submit = "form[method=post] button[type=submit]"
	reader := s.appToken("User.Read.All")
	for _, lang := range []string{"en", "fr"} {
		email := "chooser-" + lang + "@example.com"
		_, challenge := pkce()
		authorize := s.authorizeURL(url.Values{"client_id": {app.AppID}, "redirect_uri": {redirect}, "response_type": {"code"},
			"scope": {"openid profile"}, "state": {"s"}, "nonce": {"n"}, "code_challenge": {challenge},
			"code_challenge_method": {"S256"}, "ui_locales": {lang}, "prompt": {"create"}})
		visit(lang, "21-signup-choices-email", authorize, action{click: submit, fill: [][2]string{{"#email", email}}})
		visit(lang, "22-signup-choices-code", "", action{click: submit, fill: [][2]string{{"#code", s.lastCode(email)}}})
		// No city chosen: the page comes back with the radio group's error.
		visit(lang, "23-signup-choices", "", action{click: submit,
			fill:    [][2]string{{"#password", "N3w!Passw0rd"}, {"#attr-0", "Chooser"}},
			selects: [][2]string{{"#attr-2", "PT"}}, checks: []string{"#attr-3-0", "#attr-3-2", "#attr-4"}})
		if st := visit(lang, "24-signup-choices-errors", "", action{click: submit,
			fill: [][2]string{{"#password", "N3w!Passw0rd"}}, checks: []string{"#attr-1-1"}}); !strings.Contains(st.URL, "/signup") {
			t.Errorf("%s: after the missing choice: %s", lang, st.URL)
		}
		if st := visit(lang, "25-signup-choices-done", "", action{}); !strings.HasPrefix(st.URL, redirect+"?") {
			t.Errorf("%s: after sign-up: %s", lang, st.URL)
		}
		r := s.do("GET", "/v1.0/users?$filter="+url.QueryEscape("mail eq '"+email+"'")+"&$select="+url.QueryEscape("city,country,"+interests+","+newsletter), reader, nil)
		users, _ := r.JSON(t)["value"].([]any)
		if r.Status != http.StatusOK || len(users) != 1 {
			t.Fatalf("%s: user: %d %s", lang, r.Status, r.Body)
		}
		if u := users[0].(map[string]any); u["city"] != "Berlin" || u["country"] != "PT" || u[interests] != "hiking,music" || u[newsletter] != true {
			t.Errorf("%s: stored values: %s", lang, r.Body)
		}
	}
}
