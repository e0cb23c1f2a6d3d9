package main

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/mail/smtptest"
)

// The hosted code pages' resend control, the MFA address registration
// and the decoy code of an address without an account, through the real
// router, against PostgreSQL, with mail read from a real SMTP server.

// newCodePagesStack is the SMTP-backed stack with a 3-minute resend
// interval (its wait reads "3 minutes" however slow the machine) and a
// cap of 3 codes per address and hour, a web app and the customer
// fixUser.
func newCodePagesStack(t *testing.T) (*nativeStack, *oidcFix) {
	n := newNativeStack(t, "GRAPHDIR_OTP_RESEND_INTERVAL", "3m", "GRAPHDIR_OTP_SENDS_PER_HOUR", "3")
	f := &oidcFix{t: t, s: n.stack}
	f.web, f.webSecret = n.browserApp("rp web", directorySignInWeb(fixWebRedirect))
	f.user = n.customer(fixUser, fixPassword)
	return n, f
}

// mfaFlow gives app a user flow that requires MFA.
func (n *nativeStack) mfaFlow(appID string) {
	n.t.Helper()
	n.newFlow([]string{appID}, func(b map[string]any) { b["graphdirMfaRequired"] = true })
}

// age moves every code, send and flow into the past by d, as time
// passing looks to graphdir (the database holds those times), instead of
// sleeping.
func (s *stack) age(d time.Duration) {
	n := s // the stack of every hosted-page test, SMTP-backed or not
	n.t.Helper()
	db := n.db.store.DB()
	for _, q := range []string{
		`UPDATE otp_codes SET sent_at = sent_at - make_interval(secs => $1), expires_at = expires_at - make_interval(secs => $1)`,
		`UPDATE otp_sends SET sent_at = sent_at - make_interval(secs => $1)`,
		`UPDATE signin_flows SET created_at = created_at - make_interval(secs => $1), expires_at = expires_at - make_interval(secs => $1)`,
	} {
		if _, err := db.Exec(q, d.Seconds()); err != nil {
			n.t.Fatal(err)
		}
	}
}

// resend presses the code page's "Send a new code".
func (b *browser) resend(p page) page {
	b.t.Helper()
	return b.submit(p, "/resend")
}

// requestRe is an error page's request id, different on every answer.
var requestRe = regexp.MustCompile(`<small>.*?</small>`)

// TestHostedMFARegistration: a user flow requires MFA and the account has
// no MFA email. After the password the pages ask for one (autocomplete
// "email", a label, the sign-in email offered); an invalid one is refused
// on the page; a code goes to the new address; "Send a new code" too soon
// says how long to wait; later it mails a new code and the first stops
// working; the new code registers the address (otherMails, as native
// authentication's JIT registration) and finishes the sign-in with amr
// mfa, logged. The next sign-in asks for the MFA code at that address,
// without registration, and its resend control works there too.
func TestHostedMFARegistration(t *testing.T) {
	n, f := newCodePagesStack(t)
	n.mfaFlow(f.web.AppID)
	const mfaAddr = "dana.codes@example.org"

	b := n.newBrowser()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	p := b.signIn(b.get(n.authorizeURL(params)), fixUser, fixPassword)
	if p.status != http.StatusOK || !strings.Contains(p.body, `action="/`+n.tenant+`/oauth2/v2.0/mfareg"`) ||
		!strings.Contains(p.body, `<label for="email">Email address for verification codes</label>`) ||
		!strings.Contains(p.body, `type="email" autocomplete="email" required value="`+fixUser+`"`) {
		t.Fatalf("after the password: %d %s", p.status, p.body)
	}
	if r := b.submit(p, "/mfareg", "email", "not an address"); r.status != http.StatusBadRequest ||
		!strings.Contains(r.body, `aria-invalid="true" aria-describedby="email-error"`) || !strings.Contains(r.body, "Enter a valid email address") {
		t.Fatalf("invalid address: %d %s", r.status, r.body)
	}
	p = b.submit(p, "/mfareg", "email", mfaAddr)
	if p.status != http.StatusOK || !strings.Contains(p.body, `autocomplete="one-time-code"`) || !strings.Contains(p.body, mfaAddr) ||
		!strings.Contains(p.body, `action="/`+n.tenant+`/oauth2/v2.0/resend"`) {
		t.Fatalf("registration code page: %d %s", p.status, p.body)
	}
	first := n.code(mfaAddr)
	_, before := pageForm(t, p, "/mfareg")

	// Too soon: 429, Retry-After, the wait in words; the page keeps its flow.
	soon := b.resend(p)
	_, after := pageForm(t, soon, "/mfareg")
	if soon.status != http.StatusTooManyRequests || soon.header.Get("Retry-After") == "" ||
		!strings.Contains(soon.body, "A new code was sent moments ago. Wait 3 minutes, then ask for a new code.") ||
		!strings.Contains(soon.body, `aria-describedby="resend-hint resend-error"`) || after.Get("flow") != before.Get("flow") {
		t.Fatalf("early resend: %d %v %s", soon.status, soon.header, soon.body)
	}
	n.age(3 * time.Minute)
	again := b.resend(soon)
	if again.status != http.StatusOK || !strings.Contains(again.body, "We sent a new code. Codes sent before it no longer work.") {
		t.Fatalf("resend: %d %s", again.status, again.body)
	}
	second := n.code(mfaAddr)
	if first == second {
		t.Fatalf("the resend mailed the same code %s", first)
	}
	if r := b.submit(again, "/mfareg", "code", first); r.status != http.StatusBadRequest || !strings.Contains(r.body, "That code is not right") {
		t.Fatalf("the replaced code: %d %s", r.status, r.body)
	}
	_, q := location(t, b.submit(again, "/mfareg", "code", second))
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	id := idClaims(t, out["id_token"].(string))
	if amr, _ := id["amr"].([]any); !slices.Contains(amr, any("mfa")) || !slices.Contains(amr, any("pwd")) {
		t.Fatalf("id token amr %v", id["amr"])
	}
	u, err := n.db.store.GetUser(context.Background(), n.tenant, directory.UserKey{ID: f.user.ID})
	if err != nil || len(u.OtherMails) == 0 || u.OtherMails[0] != mfaAddr {
		t.Fatalf("registered method: %v %v", u, err)
	}
	var log []struct {
		Code int    `db:"error_code"`
		Req  string `db:"authentication_requirement"`
	}
	if err := n.db.store.DB().Select(&log, `SELECT error_code, authentication_requirement FROM sign_ins WHERE user_id = $1
		ORDER BY created_at, error_code DESC`, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || log[0].Code != 0 || log[1].Code != 500121 || log[2].Code != 0 || log[2].Req != "multiFactorAuthentication" {
		t.Fatalf("sign-in log: %+v", log)
	}

	// The next sign-in: the MFA code goes to the registered address.
	b = n.newBrowser()
	params, verifier = f.authParams(f.web, fixWebRedirect)
	p = b.signIn(b.get(n.authorizeURL(params)), fixUser, fixPassword)
	if p.status != http.StatusOK || !strings.Contains(p.body, `action="/`+n.tenant+`/oauth2/v2.0/verify"`) || strings.Contains(p.body, "/mfareg") {
		t.Fatalf("second sign-in: %d %s", p.status, p.body)
	}
	code := n.code(mfaAddr)
	if r := b.resend(p); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Wait 3 minutes") {
		t.Fatalf("early resend on the MFA page: %d %s", r.status, r.body)
	}
	_, q = location(t, b.submit(p, "/verify", "code", code))
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusOK ||
		!slices.Contains(idClaims(t, out["id_token"].(string))["amr"].([]any), any("mfa")) {
		t.Fatalf("second sign-in token: %d %v", st, out)
	}
}

// TestHostedResend_French: the wait and the confirmation are localised.
func TestHostedResend_French(t *testing.T) {
	n, f := newCodePagesStack(t)
	b := n.newBrowser()
	params, _ := f.authParams(f.web, fixWebRedirect)
	params.Set("ui_locales", "fr")
	p := b.submit(b.submit(b.get(n.authorizeURL(params)), "/reset", "stage", "start"), "/reset", "email", fixUser)
	if r := b.resend(p); r.status != http.StatusTooManyRequests ||
		!strings.Contains(r.body, "Un nouveau code vient d&#39;être envoyé. Patientez 3 minutes, puis demandez un nouveau code.") ||
		!strings.Contains(r.body, "Envoyer un nouveau code") {
		t.Fatalf("early resend in French: %d %s", r.status, r.body)
	}
	n.age(3 * time.Minute)
	if r := b.resend(p); r.status != http.StatusOK || !strings.Contains(r.body, "Nous avons envoyé un nouveau code.") {
		t.Fatalf("resend in French: %d %s", r.status, r.body)
	}
}

// TestHostedCodePages_DecoyLikeReal: a code page for an address without
// an account (reset, email-code sign-in) or with one (sign-up) pretends a
// code was sent. Run side by side with a real one, every step answers
// alike: the same status, page (address aside), Retry-After and handle,
// for an early resend, six wrong codes (the fifth kills the code: "start
// again"), a resend later (a fresh code: wrong again is just wrong), the
// hourly cap, and the 10-minute expiry of a new flow's code.
func TestHostedCodePages_DecoyLikeReal(t *testing.T) {
	for _, tc := range []struct {
		name, path, real, decoy string
		codesOnly               bool
	}{
		{"reset", "/reset", fixUser, "nobody@example.com", false},
		{"signup", "/signup", "newcomer@example.com", fixUser, false},
		{"signin", "/signin", fixUser, "nobody@example.com", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, f := newCodePagesStack(t)
			if tc.codesOnly {
				n.newFlow([]string{f.web.AppID}, func(b map[string]any) {
					b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
				})
			}
			type side struct {
				b     *browser
				p     page
				email string
			}
			open := func(email string) *side {
				b := n.newBrowser()
				params, _ := f.authParams(f.web, fixWebRedirect)
				p := b.get(n.authorizeURL(params))
				field := "username"
				if !tc.codesOnly {
					p, field = b.submit(p, tc.path, "stage", "start"), "email"
				}
				return &side{b: b, p: b.submit(p, tc.path, field, email), email: email}
			}
			// view is what a user (or a script) can observe of an answer.
			view := func(s *side, p page) string {
				_, prev := pageForm(t, s.p, "/resend")
				same := "error page"
				if strings.Contains(p.body, `action="/`+n.tenant+`/oauth2/v2.0/resend"`) {
					_, now := pageForm(t, p, "/resend")
					same = fmt.Sprint("same handle ", now.Get("flow") == prev.Get("flow"))
				}
				ra := ""
				if v := p.header.Get("Retry-After"); v != "" {
					secs, _ := strconv.Atoi(v)
					ra = fmt.Sprint((secs + 59) / 60) // minutes: seconds tick between the two sides
				}
				body := requestRe.ReplaceAllString(stripTokens(p.body, s.email), "")
				return fmt.Sprintf("%d retry-after=%s %s\n%s", p.status, ra, same, body)
			}
			real, decoy := open(tc.real), open(tc.decoy)
			steps := 0
			// both does act on each side, compares what they show and
			// returns the real side's answer; a page with the code form
			// becomes the side's page (an error page is left with Back).
			both := func(what string, act func(s *side) page) page {
				t.Helper()
				steps++
				rp, dp := act(real), act(decoy)
				if rv, dv := view(real, rp), view(decoy, dp); rv != dv {
					t.Fatalf("%s: the real and the decoy code pages differ:\n%s\n---\n%s", what, rv, dv)
				}
				if strings.Contains(rp.body, "/resend") {
					real.p, decoy.p = rp, dp
				}
				return rp
			}
			expect := func(p page, status int, text string) {
				t.Helper()
				if p.status != status || !strings.Contains(p.body, text) {
					t.Fatalf("want %d %q, got %d %s", status, text, p.status, p.body)
				}
			}
			wrong := func(s *side) page { return s.b.submit(s.p, tc.path, "code", "00000000") }
			resend := func(s *side) page { return s.b.resend(s.p) }
			expect(both("first page", func(s *side) page { return s.p }), http.StatusOK, `autocomplete="one-time-code"`)
			expect(both("early resend", resend), http.StatusTooManyRequests, "Wait 3 minutes, then ask for a new code.")
			for i := 1; i <= 6; i++ {
				p := both(fmt.Sprintf("wrong code %d", i), wrong)
				if i < 5 {
					expect(p, http.StatusBadRequest, "That code is not right")
				} else {
					expect(p, http.StatusBadRequest, "This code can no longer be used")
				}
			}
			n.age(3 * time.Minute)
			expect(both("resend after the interval", resend), http.StatusOK, "We sent a new code.")
			expect(both("wrong code on the new code", wrong), http.StatusBadRequest, "That code is not right")
			n.age(3 * time.Minute)
			expect(both("third send", resend), http.StatusOK, "We sent a new code.")
			n.age(3 * time.Minute)
			expect(both("hourly cap", resend), http.StatusTooManyRequests, "Too many codes were sent to this address in the last hour. Wait 51 minutes")

			// An hour on, a new flow each: its code dies 10 minutes after
			// it was sent.
			n.age(time.Hour)
			real, decoy = open(tc.real), open(tc.decoy)
			n.age(9*time.Minute + 50*time.Second)
			expect(both("wrong code before expiry", wrong), http.StatusBadRequest, "That code is not right")
			n.age(10 * time.Second)
			expect(both("wrong code at expiry", wrong), http.StatusBadRequest, "This code can no longer be used")
			if steps != 14 {
				t.Fatalf("%d steps compared", steps)
			}
			if tc.name == "signup" {
				// The taken address's owner got notices (first page and
				// resends), never a code.
				if err := n.mailJob.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
				notices := 0
				for more := true; more; {
					select {
					case m := <-n.smtp.Mail:
						p, err := m.Parse()
						if err != nil {
							t.Fatal(err)
						}
						if slices.Contains(m.To, tc.decoy) {
							notices++
							if c := eightDigits.FindString(p.Text); c != "" {
								t.Fatalf("a code (%s) went to the taken address: %s", c, p.Text)
							}
						}
					default:
						more = false
					}
				}
				if notices < 2 {
					t.Fatalf("%d notices to the taken address, want the first and the resends'", notices)
				}
			}
		})
	}
}

// setMFAEmail gives a user an MFA address (otherMails, as an
// administrator provisions it through Graph).
func (s *stack) setMFAEmail(userID, addr string) {
	s.t.Helper()
	if r := s.do("PATCH", "/v1.0/users/"+userID, s.appToken("User.ReadWrite.All"), map[string]any{"otherMails": []string{addr}}); r.Status != http.StatusNoContent {
		s.t.Fatalf("set otherMails: %d %s", r.Status, r.Body)
	}
}

// TestHostedCodePages_UnknownAddressCapAcrossFlows: the hourly cap per
// address counts the sends of separate flows, for an address without an
// account as for one with: a new flow each time (a new browser, its own
// email step), side by side, the same status and page at each step, the
// first three sent and the fourth refused at the cap (3 per hour on this
// stack); an hour on, both send again. Every code went to the real
// address; none, and no queued mail, to the unknown one.
func TestHostedCodePages_UnknownAddressCapAcrossFlows(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		codesOnly  bool
	}{
		{"reset", "/reset", false},
		{"signin", "/signin", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, f := newCodePagesStack(t)
			if tc.codesOnly {
				n.newFlow([]string{f.web.AppID}, func(b map[string]any) {
					b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
				})
			}
			const unknown = "nobody@example.com"
			// start is a new flow's email step for email: the answer a
			// user (or a script) sees.
			start := func(email string) (int, string) {
				b := n.newBrowser()
				params, _ := f.authParams(f.web, fixWebRedirect)
				p := b.get(n.authorizeURL(params))
				field := "username"
				if !tc.codesOnly {
					p, field = b.submit(p, tc.path, "stage", "start"), "email"
				}
				p = b.submit(p, tc.path, field, email)
				return p.status, requestRe.ReplaceAllString(stripTokens(p.body, email), "")
			}
			var realSeq, unknownSeq []int
			for i := 1; i <= 5; i++ {
				if i == 5 {
					n.age(time.Hour) // the first sends leave the cap's window
				}
				rs, rb := start(fixUser)
				us, ub := start(unknown)
				realSeq, unknownSeq = append(realSeq, rs), append(unknownSeq, us)
				if rb != ub {
					t.Fatalf("flow %d: the pages differ:\n%s\n---\n%s", i, rb, ub)
				}
			}
			want := []int{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusServiceUnavailable, http.StatusOK}
			if !slices.Equal(realSeq, want) || !slices.Equal(unknownSeq, want) {
				t.Fatalf("statuses: real %v, unknown %v, want %v for both", realSeq, unknownSeq, want)
			}
			queued := map[string]int{}
			rows, err := n.db.store.DB().Query(`SELECT recipient, count(*) FROM mail_outbox GROUP BY recipient`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var to string
				var c int
				if err := rows.Scan(&to, &c); err != nil {
					t.Fatal(err)
				}
				queued[to] = c
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if queued[fixUser] != 4 || queued[unknown] != 0 {
				t.Fatalf("queued mail: %v, want 4 to %s and none to %s", queued, fixUser, unknown)
			}
			if err := n.mailJob.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The four queued mails arrive (waited for, not slept on);
			// then nothing else may be waiting.
			sent := map[string]int{}
			count := func(m smtptest.Received) {
				for _, to := range m.To {
					sent[to]++
				}
			}
			for range 4 {
				count(n.smtp.Wait(t, 30*time.Second))
			}
			for more := true; more; {
				select {
				case m := <-n.smtp.Mail:
					count(m)
				default:
					more = false
				}
			}
			if sent[fixUser] != 4 || sent[unknown] != 0 {
				t.Fatalf("mail sent: %v, want 4 to %s and none to %s", sent, fixUser, unknown)
			}
		})
	}
}
