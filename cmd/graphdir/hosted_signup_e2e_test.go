package main

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/mail/smtptest"
	"github.com/graphdir/graphdir/internal/schedule"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// smtpPages is the hosted pages served as serve wires them, with mail
// going through the outbox job to a real SMTP server on loopback.
type smtpPages struct {
	*oidcFix
	smtp    *smtptest.Server
	mailJob schedule.Job
}

func newSMTPPagesFix(t *testing.T, env ...string) *smtpPages {
	t.Helper()
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	mailSrv := smtptest.Start(t, smtptest.Options{})
	e := map[string]string{
		"DATABASE_URL":        pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL": "https://" + srv.Listener.Addr().String(),
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
		"GRAPHDIR_SMTP_URL":   "smtp://" + mailSrv.Host + ":" + strconv.Itoa(mailSrv.Port) + "?starttls=none",
		"GRAPHDIR_MAIL_FROM":  "no-reply@graphdir.test",
	}
	for i := 0; i+1 < len(env); i += 2 {
		e[env[i]] = env[i+1]
	}
	cfg, getenv, db := openTestDatabase(t, e)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	gd, iss, err := buildHandler(context.Background(), cfg, getenv, db, logger)
	if err != nil {
		t.Fatal(err)
	}
	h = gd
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s := &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID, domain: db.tenant.DefaultDomain, client: srv.Client()}
	p := &smtpPages{oidcFix: &oidcFix{t: t, s: s}, smtp: mailSrv}
	for _, j := range backgroundJobs(cfg, db.store, logger) {
		if j.Name == "send queued mail" {
			p.mailJob = j
		}
	}
	if p.mailJob.Run == nil {
		t.Fatal("no mail job")
	}
	p.web, p.webSecret = s.browserApp("rp web", directorySignInWeb(fixWebRedirect))
	p.user = s.customer(fixUser, fixPassword)
	return p
}

// mails delivers the queued mail and returns it by recipient. The outbox
// job returns once the relay accepted each message, and the test server
// hands a message over before accepting it, so all of them are there.
func (p *smtpPages) mails() map[string][]smtptest.Parsed {
	p.t.Helper()
	if err := p.mailJob.Run(context.Background()); err != nil {
		p.t.Fatal(err)
	}
	out := map[string][]smtptest.Parsed{}
	for {
		select {
		case m := <-p.smtp.Mail:
			parsed, err := m.Parse()
			if err != nil {
				p.t.Fatal(err)
			}
			for _, to := range m.To {
				out[to] = append(out[to], parsed)
			}
		default:
			return out
		}
	}
}

// signUpAt opens "Create account" in a new browser with ui_locales lang
// and submits email; it returns the browser and every page on the way
// (the email page, the code page).
func (p *smtpPages) signUpAt(email, lang string) (*browser, []page) {
	p.t.Helper()
	b := p.s.newBrowser()
	params, _ := p.authParams(p.web, fixWebRedirect)
	params.Set("ui_locales", lang)
	start := b.submit(b.get(p.s.authorizeURL(params)), "/signup", "stage", "start")
	return b, []page{start, b.submit(start, "/signup", "email", email)}
}

// TestHostedSignUp_TakenAddressMailsTheOwner: sign-up with an address
// that has an account and with a new one give the same pages with the
// same statuses all the way (email page, code page, each wrong code, the
// dead code after the last try), in French here; the new address gets a
// code, the taken one's owner a French notice with no code, saying to
// sign in or reset the password. The notices go through the codes' hourly
// cap: past it, the taken address's sign-up is refused exactly as a new
// address's is, so the notice cannot be used to flood an inbox.
func TestHostedSignUp_TakenAddressMailsTheOwner(t *testing.T) {
	f := newSMTPPagesFix(t, "GRAPHDIR_OTP_SENDS_PER_HOUR", "2")
	const fresh = "fresh@example.com"
	tb, taken := f.signUpAt(fixUser, "fr")
	nb, newer := f.signUpAt(fresh, "fr")
	// Error pages carry their request id.
	guid := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	same := func(what string, a, b page) {
		t.Helper()
		if a.status != b.status || guid.ReplaceAllString(stripTokens(a.body, fixUser), "") != guid.ReplaceAllString(stripTokens(b.body, fresh), "") {
			t.Fatalf("%s: taken and new addresses differ: %d vs %d\n%s\n---\n%s", what, a.status, b.status, a.body, b.body)
		}
	}
	for i := range taken {
		same("page "+strconv.Itoa(i), taken[i], newer[i])
	}
	if last := taken[len(taken)-1]; last.status != http.StatusOK || !strings.Contains(last.body, `autocomplete="one-time-code"`) || !strings.Contains(last.body, `lang="fr"`) {
		t.Fatalf("code page: %d %s", last.status, last.body)
	}
	mail := f.mails()
	if len(mail[fixUser]) != 1 || len(mail[fresh]) != 1 {
		t.Fatalf("mail: %d to the owner, %d to the new address; want 1 each", len(mail[fixUser]), len(mail[fresh]))
	}
	notice, code := mail[fixUser][0], eightDigits.FindString(mail[fresh][0].Text)
	if code == "" {
		t.Fatalf("no code for the new address: %q", mail[fresh][0].Text)
	}
	if !strings.HasPrefix(notice.Subject, "Quelqu'un a tenté de créer un compte") || !strings.Contains(notice.Text, "rp web") ||
		!strings.Contains(notice.Text, "connectez-vous") || !strings.Contains(notice.Text, "Mot de passe oublié ?") {
		t.Fatalf("notice: %q\n%s", notice.Subject, notice.Text)
	}
	if regexp.MustCompile(`\d{4,}`).MatchString(notice.Text+notice.HTML) || strings.Contains(notice.HTML, "href") {
		t.Fatalf("the notice holds a code or a link:\n%s", notice.Text)
	}
	// Wrong codes: the same page each time on both flows, then the same
	// dead end. The new address's real code is never tried on its own flow.
	tp, np := taken[1], newer[1]
	for i := 1; i <= 5; i++ {
		guess := wrongCode(code)
		a, b := tb.submit(tp, "/signup", "code", guess), nb.submit(np, "/signup", "code", guess)
		same("wrong code "+strconv.Itoa(i), a, b)
		if i < 5 && (a.status != http.StatusBadRequest || !strings.Contains(a.body, `aria-describedby="code-error"`)) {
			t.Fatalf("wrong code %d: %d %s", i, a.status, a.body)
		}
		if i == 5 && (a.status != http.StatusBadRequest || strings.Contains(a.body, `name="code"`)) {
			t.Fatalf("after the last try: %d %s", a.status, a.body)
		}
	}
	// The hourly cap (2 here): one more of each is admitted, the next of
	// each is refused the same way, and the owner got exactly the
	// admitted notices.
	_, t2 := f.signUpAt(fixUser, "en")
	_, n2 := f.signUpAt(fresh, "en")
	same("second sign-up", t2[1], n2[1])
	_, t3 := f.signUpAt(fixUser, "en")
	_, n3 := f.signUpAt(fresh, "en")
	same("third sign-up", t3[1], n3[1])
	if t3[1].status != http.StatusServiceUnavailable {
		t.Fatalf("past the hourly cap: %d %s", t3[1].status, t3[1].body)
	}
	mail = f.mails()
	if len(mail[fixUser]) != 1 || len(mail[fresh]) != 1 || !strings.HasPrefix(mail[fixUser][0].Subject, "Someone tried to create") {
		t.Fatalf("after the cap: %d to the owner, %d to the new address", len(mail[fixUser]), len(mail[fresh]))
	}
	// Nothing was created for the taken address, and its password works.
	if n := countUsers(t, f.s); n != 1 {
		t.Fatalf("%d accounts, want only %s's", n, fixUser)
	}
	b := f.s.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	if _, q := location(t, b.signIn(b.get(f.s.authorizeURL(params)), fixUser, fixPassword)); q.Get("code") == "" {
		t.Fatalf("sign-in after the notice: %v", q)
	}
}

// usersWithMail counts the live users whose mail is addr.
func usersWithMail(t *testing.T, s *stack, addr string) int {
	t.Helper()
	var n int
	if err := s.db.store.DB().Get(&n, `SELECT count(*) FROM users WHERE tenant_id = $1 AND lower(mail) = lower($2) AND deleted_at IS NULL`, s.tenant, addr); err != nil {
		t.Fatal(err)
	}
	return n
}

// choiceFlow gives app a user flow collecting displayName (text), city
// (radioSingleSelect, 3 options: a radio group), country
// (radioSingleSelect, 7 options: a dropdown), an extension of interests
// (checkboxMultiSelect: a checkbox group) and a boolean extension
// (boolean: one checkbox). It returns the two extensions' names.
func choiceFlow(t *testing.T, s *stack, appID string) (interests, newsletter string) {
	t.Helper()
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	owner := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "extensions"})
	if owner.Status != http.StatusCreated {
		t.Fatalf("app: %d %s", owner.Status, owner.Body)
	}
	ext := func(name, dataType string) string {
		r := s.do("POST", "/v1.0/applications/"+owner.JSON(t)["id"].(string)+"/extensionProperties", admin,
			map[string]any{"name": name, "dataType": dataType, "targetObjects": []string{"User"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("extension %s: %d %s", name, r.Status, r.Body)
		}
		return r.JSON(t)["name"].(string)
	}
	interests, newsletter = ext("Interests", "String"), ext("Newsletter", "Boolean")
	opts := func(vs ...string) []any {
		var out []any
		for _, v := range vs {
			out = append(out, map[string]any{"label": "Label " + v, "value": v})
		}
		return out
	}
	in := func(id, label, typ string, required bool, options []any, dataType, kind string) map[string]any {
		m := map[string]any{
			"attr":  map[string]any{"id": id, "displayName": label, "userFlowAttributeType": kind, "dataType": dataType},
			"input": map[string]any{"attribute": id, "label": label, "inputType": typ, "required": required, "editable": true, "writeToDirectory": true},
		}
		if options != nil {
			m["input"].(map[string]any)["options"] = options
		}
		return m
	}
	body := graphFlowBody("choices", []string{appID},
		in("city", "City", "radioSingleSelect", true, opts("Paris", "Berlin", "Lisbon"), "string", "builtIn"),
		in("country", "Country/Region", "radioSingleSelect", false, opts("FR", "DE", "PT", "ES", "IT", "NL", "BE"), "string", "builtIn"),
		in(interests, "Interests", "checkboxMultiSelect", false, opts("hiking", "reading", "music"), "string", "custom"),
		in(newsletter, "Send me the newsletter", "boolean", false, nil, "boolean", "custom"))
	if r := s.do("POST", flowsURL, admin, body); r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	return interests, newsletter
}

// detailsPage runs a sign-up up to its details page.
func (p *smtpPages) detailsPage(email, lang string) (*browser, page, string) {
	p.t.Helper()
	b := p.s.newBrowser()
	params, verifier := p.authParams(p.web, fixWebRedirect)
	params.Set("ui_locales", lang)
	params.Set("prompt", "create")
	cp := b.submit(b.get(p.s.authorizeURL(params)), "/signup", "email", email)
	code := eightDigits.FindString(p.mails()[email][0].Text)
	d := b.submit(cp, "/signup", "code", code)
	if d.status != http.StatusOK || !strings.Contains(d.body, `autocomplete="new-password"`) {
		p.t.Fatalf("details page: %d %s", d.status, d.body)
	}
	return b, d, verifier
}

// TestHostedSignUp_ChoiceInputs: the user flow's choice attributes render
// as their accessible controls (radio group and checkbox group in a
// fieldset with a legend, a labelled dropdown, a labelled checkbox); a
// value no option has, for each of them, is a 400 with the field's error
// tied to it and nothing written; a required choice left empty says so;
// good values are stored on the user (built-in and extension), and the
// sign-up's sign-in is in the sign-in log.
func TestHostedSignUp_ChoiceInputs(t *testing.T) {
	f := newSMTPPagesFix(t)
	s := f.s
	interests, newsletter := choiceFlow(t, s, f.web.AppID)
	const email = "chooser@example.com"
	b, d, verifier := f.detailsPage(email, "en")
	// attr-0 is displayName; then city, country, interests, newsletter.
	for _, want := range []string{
		"<fieldset>\n<legend>City <span aria-hidden=\"true\">*</span></legend>",
		`<input id="attr-1-0" name="attr_city" type="radio" value="Paris" required><label for="attr-1-0">Label Paris</label>`,
		`<label for="attr-2">Country/Region</label>`,
		`<select id="attr-2" name="attr_country" autocomplete="country-name">`,
		`<option value="BE">Label BE</option>`,
		"<fieldset>\n<legend>Interests</legend>",
		`<input id="attr-3-2" name="attr_` + interests + `.2" type="checkbox" value="music"><label for="attr-3-2">Label music</label>`,
		`<div class="choice single"><input id="attr-4" name="attr_` + newsletter + `" type="checkbox" value="true"><label for="attr-4">Send me the newsletter</label>`,
	} {
		if !strings.Contains(d.body, want) {
			t.Fatalf("details page lacks %s:\n%s", want, d.body)
		}
	}
	good := []string{"password", "N3w!Passw0rd", "attr_displayName", "Chooser", "attr_city", "Berlin", "attr_country", "PT",
		"attr_" + interests + ".0", "hiking", "attr_" + interests + ".2", "music", "attr_" + newsletter, "true"}
	with := func(kv ...string) []string {
		out := slices.Clone(good)
		for i := 0; i+1 < len(kv); i += 2 {
			j := slices.Index(out, kv[i])
			out[j+1] = kv[i+1]
		}
		return out
	}
	for _, c := range []struct {
		name, field, want string
		fields            []string
	}{
		{"radio", "attr-1", `<fieldset aria-describedby="attr-1-error">`, with("attr_city", "Atlantis")},
		{"required radio", "attr-1", `<fieldset aria-describedby="attr-1-error">`, with("attr_city", "")},
		{"dropdown", "attr-2", `aria-invalid="true" aria-describedby="attr-2-error"`, with("attr_country", "XX")},
		{"checkbox group", "attr-3", `<fieldset aria-describedby="attr-3-error">`, with("attr_"+interests+".2", "gambling")},
		{"checkbox", "attr-4", `aria-invalid="true" aria-describedby="attr-4-error"`, with("attr_"+newsletter, "maybe")},
	} {
		r := b.submit(d, "/signup", c.fields...)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, c.want) || !strings.Contains(r.body, `<p id="`+c.field+`-error" class="error">`) {
			t.Fatalf("%s: %d %s", c.name, r.status, r.body)
		}
		// The other fields keep what was chosen.
		if c.name != "dropdown" && !strings.Contains(r.body, `<option value="PT" selected>`) {
			t.Fatalf("%s: the dropdown lost its choice: %s", c.name, r.body)
		}
		if n := usersWithMail(t, s, email); n != 0 {
			t.Fatalf("%s: an account was written", c.name)
		}
	}
	done := b.submit(d, "/signup", good...)
	_, q := location(t, done)
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	reader := s.appToken("User.Read.All", "AuditLog.Read.All")
	r := s.do("GET", "/v1.0/users?$filter="+url.QueryEscape("mail eq '"+email+"'")+"&$select="+url.QueryEscape("id,displayName,city,country,"+interests+","+newsletter), reader, nil)
	users, _ := r.JSON(t)["value"].([]any)
	if r.Status != http.StatusOK || len(users) != 1 {
		t.Fatalf("user: %d %s", r.Status, r.Body)
	}
	u := users[0].(map[string]any)
	if u["city"] != "Berlin" || u["country"] != "PT" || u[interests] != "hiking,music" || u[newsletter] != true || u["displayName"] != "Chooser" {
		t.Fatalf("stored values: %s", r.Body)
	}
	// The sign-up's sign-in, as native authentication logs it.
	row := signInRow(t, s, reader, u["id"].(string))
	if row["userPrincipalName"] != email || row["appId"] != f.web.AppID || row["appDisplayName"] != "rp web" || row["isInteractive"] != true ||
		row["clientAppUsed"] != "Browser" || row["authenticationRequirement"] != "singleFactorAuthentication" ||
		row["status"].(map[string]any)["errorCode"] != float64(0) || row["ipAddress"] == "" {
		t.Fatalf("sign-up sign-in row: %v", row)
	}
}

// signInRow returns the one sign-in log row of userID.
func signInRow(t *testing.T, s *stack, token, userID string) map[string]any {
	t.Helper()
	rows := signInRows(t, s, token, userID)
	if len(rows) != 1 {
		t.Fatalf("%d sign-in rows for %s: %v", len(rows), userID, rows)
	}
	return rows[0]
}

// signInRows returns userID's sign-in log rows, newest first, through
// GET /v1.0/auditLogs/signIns.
func signInRows(t *testing.T, s *stack, token, userID string) []map[string]any {
	t.Helper()
	r := s.do("GET", "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("userId eq '"+userID+"'"), token, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("signIns: %d %s", r.Status, r.Body)
	}
	var out []map[string]any
	for _, v := range r.JSON(t)["value"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

// TestHostedEmailCodeSignIn_SignInLog: a hosted email-code sign-in logs
// a wrong code (50181, the failure reason native authentication logs)
// and the sign-in (errorCode 0), with the account, the sign-in email, the
// application and the IP; an unknown address's tries log nothing.
func TestHostedEmailCodeSignIn_SignInLog(t *testing.T) {
	f := newSMTPPagesFix(t)
	s := f.s
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	body := graphFlowBody("codes flow", []string{f.web.AppID})
	body["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
	if r := s.do("POST", flowsURL, admin, body); r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	b := s.newBrowser()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	p := b.submit(b.get(s.authorizeURL(params)), "/signin", "username", fixUser)
	code := eightDigits.FindString(f.mails()[fixUser][0].Text)
	if r := b.submit(p, "/signin", "code", wrongCode(code)); r.status != http.StatusBadRequest {
		t.Fatalf("wrong code: %d %s", r.status, r.body)
	}
	_, q := location(t, b.submit(p, "/signin", "code", code))
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	reader := s.appToken("AuditLog.Read.All")
	rows := signInRows(t, s, reader, f.user.ID)
	if len(rows) != 2 {
		t.Fatalf("%d rows: %v", len(rows), rows)
	}
	for i, want := range []struct {
		code   float64
		reason string
	}{{0, ""}, {50181, "The one-time code was wrong, expired or spent."}} {
		r := rows[i]
		st := r["status"].(map[string]any)
		if st["errorCode"] != want.code || (want.reason != "" && st["failureReason"] != want.reason) || r["userPrincipalName"] != fixUser ||
			r["appId"] != f.web.AppID || r["appDisplayName"] != "rp web" || r["clientAppUsed"] != "Browser" || r["isInteractive"] != true ||
			r["authenticationRequirement"] != "singleFactorAuthentication" || r["ipAddress"] == "" {
			t.Fatalf("row %d: %v", i, r)
		}
	}
	// An unknown address: the same page, no mail, no row.
	before := len(signInRows(t, s, reader, f.user.ID))
	ub := s.newBrowser()
	params, _ = f.authParams(f.web, fixWebRedirect)
	up := ub.submit(ub.get(s.authorizeURL(params)), "/signin", "username", "nobody@example.com")
	if r := ub.submit(up, "/signin", "code", "00000000"); r.status != http.StatusBadRequest {
		t.Fatalf("unknown address: %d", r.status)
	}
	all := s.do("GET", "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("userPrincipalName eq 'nobody@example.com'"), reader, nil)
	if all.Status != http.StatusOK || len(all.JSON(t)["value"].([]any)) != 0 || before != 2 {
		t.Fatalf("unknown address logged: %s", all.Body)
	}
}
