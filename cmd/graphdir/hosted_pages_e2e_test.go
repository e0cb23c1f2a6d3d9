package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// pageForm reads the form of page p whose action ends in suffix: its
// action and hidden fields (the sign-in page has several forms).
func pageForm(t *testing.T, p page, suffix string) (string, url.Values) {
	t.Helper()
	for _, part := range strings.Split(p.body, "<form ")[1:] {
		part = strings.SplitN(part, "</form>", 2)[0]
		m := regexp.MustCompile(`action="([^"]*)"`).FindStringSubmatch(part)
		if m == nil || !strings.HasSuffix(html.UnescapeString(m[1]), suffix) {
			continue
		}
		v := url.Values{}
		for _, h := range hiddenRe.FindAllStringSubmatch(part, -1) {
			v.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
		}
		return html.UnescapeString(m[1]), v
	}
	t.Fatalf("no form posting to %s on the page (%d): %s", suffix, p.status, p.body)
	return "", nil
}

// submit posts page p's form (action ending in suffix) with fields added.
func (b *browser) submit(p page, suffix string, fields ...string) page {
	b.t.Helper()
	action, form := pageForm(b.t, p, suffix)
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return b.post(action, form)
}

func newPagesFix(t *testing.T) *oidcFix {
	s := newMailStack(t)
	f := &oidcFix{t: t, s: s}
	f.web, f.webSecret = s.browserApp("rp web", directorySignInWeb(fixWebRedirect))
	f.user = s.customer(fixUser, fixPassword)
	return f
}

func (s *stack) mailCount(addr string) int {
	s.t.Helper()
	var n int
	if err := s.db.store.DB().Get(&n, `SELECT count(*) FROM mail_outbox WHERE recipient = $1`, addr); err != nil {
		s.t.Fatal(err)
	}
	return n
}

var attrErrorRe = regexp.MustCompile(`aria-invalid="true" aria-describedby="(attr-\d+)-error"`)

// TestHostedSignUp: prompt=create opens the sign-up page; the email is
// confirmed with a mailed code (a wrong one is refused on the page); the
// password and the user flow's required displayName are checked with
// their errors tied to the fields; the account is created, signed in, and
// the browser goes back with a code that redeems; the new password then
// signs in.
func TestHostedSignUp(t *testing.T) {
	f := newPagesFix(t)
	s := f.s
	b := s.newBrowser()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "create")
	p := b.get(s.authorizeURL(params))
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="email"`) || !strings.Contains(p.body, "Create your account") {
		t.Fatalf("prompt=create: %d %s", p.status, p.body)
	}
	if r := b.submit(p, "/signup", "email", "not-an-email"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-describedby="email-error"`) {
		t.Fatalf("bad email: %d %s", r.status, r.body)
	}
	const email = "newcomer@example.com"
	p = b.submit(p, "/signup", "email", email)
	if p.status != http.StatusOK || !strings.Contains(p.body, `autocomplete="one-time-code"`) || s.mailCount(email) != 1 {
		t.Fatalf("code page: %d %s (mails %d)", p.status, p.body, s.mailCount(email))
	}
	if r := b.submit(p, "/signup", "code", "00000000"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-describedby="code-error"`) {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	p = b.submit(p, "/signup", "code", s.lastCode(email))
	if p.status != http.StatusOK || !strings.Contains(p.body, `autocomplete="new-password"`) || !strings.Contains(p.body, `autocomplete="name"`) {
		t.Fatalf("details page: %d %s", p.status, p.body)
	}
	bad := b.submit(p, "/signup", "password", "short")
	if bad.status != http.StatusBadRequest || !strings.Contains(bad.body, `aria-describedby="password-hint password-error"`) ||
		!attrErrorRe.MatchString(bad.body) || !strings.Contains(bad.body, `role="alert"`) {
		t.Fatalf("invalid details: %d %s", bad.status, bad.body)
	}
	field := "attr_displayName"
	done := b.submit(bad, "/signup", "password", "N3w!Passw0rd", field, "New Comer")
	_, q := location(t, done)
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	id := idClaims(t, out["id_token"].(string))
	if id["name"] != "New Comer" {
		t.Fatalf("id token: %v", id)
	}
	// The new account signs in with its password.
	b2 := s.newBrowser()
	params, _ = f.authParams(f.web, fixWebRedirect)
	if _, q := location(t, b2.signIn(b2.get(s.authorizeURL(params)), email, "N3w!Passw0rd")); q.Get("code") == "" {
		t.Fatalf("sign-in after sign-up: %v", q)
	}
	// The finished flow cannot be replayed.
	if r := b.submit(bad, "/signup", "password", "N3w!Passw0rd", field, "New Comer"); r.status == http.StatusSeeOther {
		t.Fatal("the sign-up form worked twice")
	}
}

// TestHostedSignUp_NoEnumeration: "Create one" on the sign-in page, then
// an email that already has an account: the code page reads the same as
// for a new address, the owner is mailed a notice rather than a code, and
// no code is ever right.
func TestHostedSignUp_NoEnumeration(t *testing.T) {
	f := newPagesFix(t)
	s := f.s
	codePage := func(email string) (*browser, page) {
		b := s.newBrowser()
		params, _ := f.authParams(f.web, fixWebRedirect)
		p := b.submit(b.get(s.authorizeURL(params)), "/signup", "stage", "start")
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="email"`) {
			t.Fatalf("create account: %d %s", p.status, p.body)
		}
		return b, b.submit(p, "/signup", "email", email)
	}
	b, taken := codePage(fixUser)
	_, fresh := codePage("nobody@example.com")
	if taken.status != http.StatusOK || taken.status != fresh.status || stripTokens(taken.body, fixUser) != stripTokens(fresh.body, "nobody@example.com") {
		t.Fatalf("taken and new addresses differ:\n%s\n---\n%s", taken.body, fresh.body)
	}
	var subject, text string
	if err := s.db.store.DB().QueryRow(`SELECT subject, text_body FROM mail_outbox WHERE recipient = $1`, fixUser).Scan(&subject, &text); err != nil ||
		!strings.HasPrefix(subject, "Someone tried to create") || eightDigits.MatchString(text) {
		t.Fatalf("the owner of a taken address got %q %q (%v), want the notice without a code", subject, text, err)
	}
	for _, code := range []string{"00000000", "12345678"} {
		if p := b.submit(taken, "/signup", "code", code); p.status != http.StatusBadRequest || !strings.Contains(p.body, `aria-describedby="code-error"`) {
			t.Fatalf("code %s for a taken address: %d %s", code, p.status, p.body)
		}
	}
}

// stripTokens removes what differs between two renderings of one page
// (style nonce, flow handle, CSRF token) and the email address.
func stripTokens(body, email string) string {
	body = strings.ReplaceAll(body, email, "X")
	return regexp.MustCompile(`(nonce|value)="[^"]*"`).ReplaceAllString(body, `$1=""`)
}

// TestHostedReset: "Forgot your password?" -> email -> the code page says
// "if an account exists" (the same for an unknown address, which gets no
// mail) -> the mailed code -> a weak password is refused on the page -> a
// new password. The account's refresh tokens from before stop working,
// the sign-in page comes back and the new password signs in.
func TestHostedReset(t *testing.T) {
	f := newPagesFix(t)
	s := f.s
	before, _ := f.webLogin(s.newBrowser(), nil)
	codePage := func(email string) (*browser, page) {
		b := s.newBrowser()
		params, _ := f.authParams(f.web, fixWebRedirect)
		p := b.submit(b.get(s.authorizeURL(params)), "/reset", "stage", "start")
		if p.status != http.StatusOK || !strings.Contains(p.body, `name="email"`) {
			t.Fatalf("forgot password: %d %s", p.status, p.body)
		}
		return b, b.submit(p, "/reset", "email", email)
	}
	b, p := codePage(fixUser)
	ub, unknown := codePage("nobody@example.com")
	if p.status != http.StatusOK || !strings.Contains(p.body, "If an account exists") ||
		stripTokens(p.body, fixUser) != stripTokens(unknown.body, "nobody@example.com") {
		t.Fatalf("known and unknown addresses differ:\n%s\n---\n%s", p.body, unknown.body)
	}
	if s.mailCount("nobody@example.com") != 0 {
		t.Fatal("a reset code was mailed to an unknown address")
	}
	if r := ub.submit(unknown, "/reset", "code", "00000000"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-describedby="code-error"`) {
		t.Fatalf("code for an unknown address: %d %s", r.status, r.body)
	}
	p = b.submit(p, "/reset", "code", s.lastCode(fixUser))
	if p.status != http.StatusOK || !strings.Contains(p.body, `autocomplete="new-password"`) {
		t.Fatalf("new password page: %d %s", p.status, p.body)
	}
	if r := b.submit(p, "/reset", "password", "weak"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-describedby="password-hint password-error"`) {
		t.Fatalf("weak password: %d %s", r.status, r.body)
	}
	const newPW = "Res3t!Passw0rd"
	p = b.submit(p, "/reset", "password", newPW)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Your password has been changed") || !strings.Contains(p.body, `autocomplete="current-password"`) {
		t.Fatalf("after the reset: %d %s", p.status, p.body)
	}
	st, out, _ := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {before["refresh_token"].(string)}}, f.web.AppID, f.webSecret)
	if st != http.StatusBadRequest || out["error"] != "invalid_grant" {
		t.Fatalf("refresh token from before the reset: %d %v", st, out)
	}
	if r := b.signIn(p, fixUser, fixPassword); r.status != http.StatusBadRequest {
		t.Fatalf("old password after the reset: %d", r.status)
	}
	if _, q := location(t, b.signIn(p, fixUser, newPW)); q.Get("code") == "" {
		t.Fatalf("new password: %v", q)
	}
}

// TestHostedPages_CSRF: every sign-up and reset form refuses a post from
// another site, a wrong per-form token, and another browser (no binding
// cookie).
func TestHostedPages_CSRF(t *testing.T) {
	f := newPagesFix(t)
	s := f.s
	b := s.newBrowser()
	for _, suffix := range []string{"/signup", "/reset"} {
		params, _ := f.authParams(f.web, fixWebRedirect)
		p := b.get(s.authorizeURL(params))
		for _, step := range [][2]string{{"stage", "start"}, {"email", fixUser}, {"code", "00000000"}} {
			action, form := pageForm(t, p, suffix)
			form.Set(step[0], step[1])
			if r := b.post(action, form, "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
				t.Fatalf("%s %s cross-site: %d", suffix, step[0], r.status)
			}
			wrong := url.Values{}
			for k, v := range form {
				wrong[k] = v
			}
			wrong.Set("csrf_token", randomString())
			if r := b.post(action, wrong); r.status != http.StatusForbidden {
				t.Fatalf("%s %s wrong token: %d", suffix, step[0], r.status)
			}
			if r := s.newBrowser().post(action, form); r.status != http.StatusForbidden {
				t.Fatalf("%s %s other browser: %d", suffix, step[0], r.status)
			}
			p = b.post(action, form)
		}
	}
}

// TestHostedAuthorize_RateLimit: interactive authorize requests (each
// stores a flow) are limited per client IP: past the bucket, 429 with
// Retry-After and no flow row.
func TestHostedAuthorize_RateLimit(t *testing.T) {
	f := newPagesFix(t)
	s := f.s
	b := s.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	var last page
	n := 0
	for ; n < 200; n++ {
		if last = b.get(s.authorizeURL(params)); last.status != http.StatusOK {
			break
		}
	}
	if last.status != http.StatusTooManyRequests || last.header.Get("Retry-After") == "" || n < 30 {
		t.Fatalf("after %d requests: %d %v", n, last.status, last.header)
	}
	var flows int
	if err := s.db.store.DB().Get(&flows, `SELECT count(*) FROM signin_flows`); err != nil {
		t.Fatal(err)
	}
	if flows != n {
		t.Fatalf("%d flows for %d admitted requests", flows, n)
	}
}

// TestHostedEmailCodeSignIn: a user flow with email codes only: the
// sign-in page asks for the email (no password field), a code goes to an
// existing account (an unknown address sees the same page, gets no mail),
// and the code signs in (amr otp).
func TestHostedEmailCodeSignIn(t *testing.T) {
	f := newPagesFix(t)
	s := f.s
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	body := graphFlowBody("codes flow", []string{f.web.AppID})
	body["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
	if r := s.do("POST", flowsURL, admin, body); r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	codePage := func(email string) (*browser, page, string) {
		b := s.newBrowser()
		params, verifier := f.authParams(f.web, fixWebRedirect)
		p := b.get(s.authorizeURL(params))
		if p.status != http.StatusOK || strings.Contains(p.body, `type="password"`) || !strings.Contains(p.body, "Send code") {
			t.Fatalf("code-only sign-in page: %d %s", p.status, p.body)
		}
		return b, b.submit(p, "/signin", "username", email), verifier
	}
	b, p, verifier := codePage(fixUser)
	_, unknown, _ := codePage("nobody@example.com")
	if p.status != http.StatusOK || !strings.Contains(p.body, `autocomplete="one-time-code"`) ||
		stripTokens(p.body, fixUser) != stripTokens(unknown.body, "nobody@example.com") || s.mailCount("nobody@example.com") != 0 {
		t.Fatalf("known and unknown addresses differ:\n%s\n---\n%s", p.body, unknown.body)
	}
	if r := b.submit(p, "/signin", "code", "00000000"); r.status != http.StatusBadRequest || !strings.Contains(r.body, `aria-describedby="code-error"`) {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	_, q := location(t, b.submit(p, "/signin", "code", s.lastCode(fixUser)))
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	if amr, _ := idClaims(t, out["access_token"].(string))["amr"].([]any); len(amr) != 1 || amr[0] != "otp" {
		t.Fatalf("amr %v", amr)
	}
}

// TestHostedPages_LocaleAndBranding: the pages speak French when
// ui_locales or Accept-Language asks for it (lang attribute, labels,
// errors), English otherwise; the tenant's branding (background colour,
// banner logo from graphdir's own origin, sign-in page text, username
// hint) shows on the pages and a change shows at once.
func TestHostedPages_LocaleAndBranding(t *testing.T) {
	f := newPagesFix(t)
	s := f.s
	b := s.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	p := b.get(s.authorizeURL(params))
	if !strings.Contains(p.body, `<html lang="en">`) || !strings.Contains(p.body, ">Email address<") || strings.Contains(p.body, "placeholder=") {
		t.Fatalf("default page: %s", p.body)
	}
	params.Set("ui_locales", "fr-CA en")
	p = b.get(s.authorizeURL(params), "Accept-Language", "en-US")
	if !strings.Contains(p.body, `<html lang="fr">`) || !strings.Contains(p.body, ">Adresse e-mail<") || !strings.Contains(p.body, "Mot de passe oublié") {
		t.Fatalf("ui_locales fr: %s", p.body)
	}
	// The language holds on the flow's next pages, errors included.
	if r := b.signIn(p, fixUser, "wrong"); !strings.Contains(r.body, `<html lang="fr">`) || !strings.Contains(r.body, "Votre adresse e-mail ou votre mot de passe est incorrect.") {
		t.Fatalf("French error: %s", r.body)
	}
	params.Del("ui_locales")
	if p = b.get(s.authorizeURL(params), "Accept-Language", "fr-FR,fr;q=0.9"); !strings.Contains(p.body, `<html lang="fr">`) {
		t.Fatalf("Accept-Language fr: %s", p.body)
	}

	admin := s.appToken("OrganizationalBranding.ReadWrite.All")
	base := s.brandingURL(s.tenant)
	if r := s.do("PATCH", base, admin, `{"backgroundColor":"#0a1B2c","signInPageText":"Welcome to Contoso","usernameHintText":"you@contoso.com"}`); r.Status != 204 {
		t.Fatalf("PATCH branding: %d %s", r.Status, r.Body)
	}
	if r := s.putLogo(base+"/bannerLogo", admin, "image/png", pngOf(t, 200, 30, false)); r.Status != 204 {
		t.Fatalf("PUT bannerLogo: %d %s", r.Status, r.Body)
	}
	p = b.get(s.authorizeURL(params))
	logo := regexp.MustCompile(`<img class="banner" src="([^"]+)" alt="">`).FindStringSubmatch(p.body)
	if !strings.Contains(p.body, "body{background:#0a1B2c}") || !strings.Contains(p.body, "<p>Welcome to Contoso</p>") ||
		!strings.Contains(p.body, `placeholder="you@contoso.com"`) || logo == nil {
		t.Fatalf("branded page: %s", p.body)
	}
	if img := b.get(html.UnescapeString(logo[1])); img.status != http.StatusOK || !strings.HasPrefix(img.header.Get("Content-Type"), "image/png") {
		t.Fatalf("banner logo: %d %v", img.status, img.header)
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self'") {
		t.Fatalf("CSP: %s", csp)
	}
	// The reset pages are branded too.
	if r := b.submit(p, "/reset", "stage", "start"); !strings.Contains(r.body, "body{background:#0a1B2c}") || !strings.Contains(r.body, `placeholder="you@contoso.com"`) {
		t.Fatalf("branded reset page: %s", r.body)
	}
}
