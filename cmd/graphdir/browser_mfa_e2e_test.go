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
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// newMailStack is newBrowserStack with the development outbox on, so the
// hosted pages can send one-time codes (read back from mail_outbox, as a
// test reads a mail sink).
func newMailStack(t *testing.T) *stack {
	t.Helper()
	var h http.Handler
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	env := map[string]string{
		"DATABASE_URL":        pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL": "https://" + srv.Listener.Addr().String(),
		"GRAPHDIR_DOMAINS":    "graphdir.test,contoso.com",
		"GRAPHDIR_DEV_OUTBOX": "1",
	}
	cfg, getenv, db := openTestDatabase(t, env)
	gd, iss, err := buildHandler(context.Background(), cfg, getenv, db, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	h = gd
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return &stack{t: t, srv: srv, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID, domain: db.tenant.DefaultDomain, client: srv.Client()}
}

// lastCode reads the newest one-time code mailed to addr.
func (s *stack) lastCode(addr string) string {
	s.t.Helper()
	var body string
	if err := s.db.store.DB().Get(&body, `SELECT text_body FROM mail_outbox WHERE recipient = $1 ORDER BY id DESC LIMIT 1`, addr); err != nil {
		s.t.Fatal(err)
	}
	code := regexp.MustCompile(`\b\d{6,8}\b`).FindString(body)
	if code == "" {
		s.t.Fatalf("no code in %q", body)
	}
	return code
}

// TestBrowserSignIn_MFAEmailCode: an application whose user flow requires
// MFA: after the password, a code page (one-time-code field); a wrong code
// shows the page again with the error; the mailed code finishes the
// sign-in, and the tokens show MFA (amr mfa, acrs c1). The session then
// satisfies a claims step-up silently.
func TestBrowserSignIn_MFAEmailCode(t *testing.T) {
	s := newMailStack(t)
	f := &oidcFix{t: t, s: s}
	f.web, f.webSecret = s.browserApp("rp web", directorySignInWeb(fixWebRedirect))
	f.user = s.customer(fixUser, fixPassword)
	s.setMFAEmail(f.user.ID, fixUser) // its MFA address (without one, the pages register one first)
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	body := graphFlowBody("mfa flow", []string{f.web.AppID})
	body["graphdirMfaRequired"] = true
	if r := s.do("POST", flowsURL, admin, body); r.Status != http.StatusCreated {
		t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}

	b := s.newBrowser()
	params, verifier := f.authParams(f.web, fixWebRedirect)
	p := b.signIn(b.get(s.authorizeURL(params)), fixUser, fixPassword)
	if p.status != http.StatusOK || !strings.Contains(p.body, `autocomplete="one-time-code"`) || p.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("after the password: %d %s", p.status, p.body)
	}
	action, form := p.form(t)
	form.Set("code", "00000000")
	wrong := b.post(action, form)
	if wrong.status != http.StatusBadRequest || !strings.Contains(wrong.body, `aria-describedby="code-error"`) {
		t.Fatalf("wrong code: %d %s", wrong.status, wrong.body)
	}
	// The password step cannot be replayed on this flow.
	if r := b.post("/"+s.tenant+"/oauth2/v2.0/signin", url.Values{"flow": {form.Get("flow")}, "client_id": {form.Get("client_id")},
		"csrf_token": {form.Get("csrf_token")}, "username": {fixUser}, "password": {fixPassword}}); r.status == http.StatusSeeOther {
		t.Fatal("the password form finished an MFA flow")
	}
	form.Set("code", s.lastCode(fixUser))
	_, q := location(t, b.post(action, form))
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK {
		t.Fatalf("token: %d %v", st, out)
	}
	at := idClaims(t, out["access_token"].(string))
	amr, _ := at["amr"].([]any)
	acrs, _ := at["acrs"].([]any)
	if !slices.Contains(amr, any("mfa")) || !slices.Contains(acrs, any("c1")) {
		t.Fatalf("access token amr %v acrs %v", at["amr"], at["acrs"])
	}
	// The sign-in log has the password, the wrong code and the MFA.
	var log []struct {
		Code int    `db:"error_code"`
		Req  string `db:"authentication_requirement"`
		UPN  string `db:"user_principal_name"`
	}
	if err := s.db.store.DB().Select(&log, `SELECT error_code, authentication_requirement, user_principal_name FROM sign_ins
		WHERE user_id = $1 ORDER BY created_at, error_code DESC`, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 || log[0].Code != 0 || log[1].Code != 500121 || log[2].Code != 0 || log[2].Req != "multiFactorAuthentication" ||
		log[2].UPN != *f.user.UserPrincipalName {
		t.Fatalf("sign-in log: %+v", log)
	}
	// The same code does not work twice.
	if r := b.post(action, form); r.status == http.StatusSeeOther {
		t.Fatal("the code page worked twice")
	}
	// SSO with MFA: a step-up request is served silently.
	params, _ = f.authParams(f.web, fixWebRedirect)
	params.Set("prompt", "none")
	params.Set("claims", `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)
	if _, q := location(t, b.get(s.authorizeURL(params))); q.Get("code") == "" {
		t.Fatalf("silent step-up: %v", q)
	}
}
