package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/mail/smtptest"
	"github.com/graphdir/graphdir/internal/schedule"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// nativeStack is graphdir wired as serve wires it, with mail going to a
// real SMTP server on loopback, and one application enabled for native
// authentication whose spa redirect URI makes spaOrigin a CORS origin.
type nativeStack struct {
	*stack
	smtp    *smtptest.Server
	mailJob schedule.Job
	appID   string
	admin   string
}

const spaOrigin = "http://127.0.0.1:8080"

// consentedScopes consents an application to openid, profile,
// offline_access, User.Read and User.ReadWrite of Graph.
var consentedScopes = []any{map[string]any{
	"resourceAppId": "00000003-0000-0000-c000-000000000000",
	"resourceAccess": []any{
		map[string]any{"id": "37f7f235-527c-4136-accd-4a02d197296e", "type": "Scope"},
		map[string]any{"id": "14dad69e-099b-42c9-810b-d002981feec1", "type": "Scope"},
		map[string]any{"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "type": "Scope"},
		map[string]any{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"},
		map[string]any{"id": "b4e74841-8e56-480b-be8b-910348b18b4c", "type": "Scope"},
	},
}}

func newNativeStack(t *testing.T, env ...string) *nativeStack {
	t.Helper()
	srv := smtptest.Start(t, smtptest.Options{})
	e := map[string]string{
		"DATABASE_URL":                 pgtest.NewURL(t),
		"GRAPHDIR_PUBLIC_URL":          testPublicURL,
		"GRAPHDIR_DOMAINS":             "graphdir.test,contoso.com",
		"GRAPHDIR_SMTP_URL":            "smtp://" + srv.Host + ":" + strconv.Itoa(srv.Port) + "?starttls=none",
		"GRAPHDIR_MAIL_FROM":           "no-reply@graphdir.test",
		"GRAPHDIR_OTP_RESEND_INTERVAL": "1s",
	}
	for i := 0; i+1 < len(env); i += 2 {
		e[env[i]] = env[i+1]
	}
	cfg, getenv, db := openTestDatabase(t, e)
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, iss, err := buildHandler(context.Background(), cfg, getenv, db, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewTLSServer(h)
	t.Cleanup(hs.Close)
	s := &stack{t: t, srv: hs, db: db, iss: iss, cfg: cfg, tenant: db.tenant.ID, domain: db.tenant.DefaultDomain, client: hs.Client()}
	n := &nativeStack{stack: s, smtp: srv, admin: s.appToken("Application.ReadWrite.All", "EventListener.ReadWrite.All", "User.Read.All", "AuditLog.Read.All")}
	for _, j := range backgroundJobs(cfg, db.store, log) {
		if j.Name == "send queued mail" {
			n.mailJob = j
		}
	}
	if n.mailJob.Run == nil {
		t.Fatal("no mail job")
	}
	n.appID = n.newApp("shop SPA", map[string]any{"nativeAuthenticationApisEnabled": "all",
		"spa": map[string]any{"redirectUris": []string{spaOrigin + "/"}}, "requiredResourceAccess": consentedScopes})
	return n
}

// newApp registers an application and returns its appId.
func (n *nativeStack) newApp(name string, props map[string]any) string {
	n.t.Helper()
	body := map[string]any{"displayName": name}
	for k, v := range props {
		body[k] = v
	}
	r := n.do("POST", "/v1.0/applications", n.admin, body)
	if r.Status != http.StatusCreated {
		n.t.Fatalf("create app: %d %s", r.Status, r.Body)
	}
	return r.JSON(n.t)["appId"].(string)
}

// newFlow creates a user flow for apps from Graph's documented body,
// changed by mutate.
func (n *nativeStack) newFlow(apps []string, mutate func(map[string]any), extra ...map[string]any) {
	n.t.Helper()
	b := graphFlowBody("flow "+apps[0], apps, extra...)
	if mutate != nil {
		mutate(b)
	}
	r := n.do("POST", flowsURL, n.admin, b)
	if r.Status != http.StatusCreated {
		n.t.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
}

// post sends a native authentication form to /{tenant}{path}.
func (n *nativeStack) post(path string, form url.Values, headers ...string) *response {
	n.t.Helper()
	return n.postRaw(path, "application/x-www-form-urlencoded", form.Encode(), headers...)
}

func (n *nativeStack) postRaw(path, contentType, body string, headers ...string) *response {
	n.t.Helper()
	req, err := http.NewRequest("POST", n.srv.URL+"/"+n.tenant+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	r := n.roundTrip(req)
	if r.Status >= 500 {
		n.t.Fatalf("POST %s: %d %s", path, r.Status, r.Body)
	}
	return r
}

// form builds a form with the stack's client_id and the given pairs.
func (n *nativeStack) form(kv ...string) url.Values {
	f := url.Values{"client_id": {n.appID}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

// ok asserts a 200 answer and returns its JSON.
func ok(t *testing.T, r *response) map[string]any {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("want 200, got %d %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("content type %q", ct)
	}
	return r.JSON(t)
}

// ct returns the continuation token of a body, failing when there is none.
func ct(t *testing.T, m map[string]any) string {
	t.Helper()
	s, _ := m["continuation_token"].(string)
	if s == "" {
		t.Fatalf("no continuation_token: %v", m)
	}
	return s
}

// nativeErr asserts an error answer in Entra's shape with error, the
// numeric code and suberror ("" for none), and returns its JSON.
func nativeErr(t *testing.T, r *response, status int, code string, aadsts int, sub string) map[string]any {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d %s, got %d %s", status, code, r.Status, r.Body)
	}
	m := r.JSON(t)
	if m["error"] != code || (m["suberror"] != nil && m["suberror"] != sub) || (sub != "" && m["suberror"] != sub) {
		t.Fatalf("want %s/%s, got %s", code, sub, r.Body)
	}
	codes, _ := m["error_codes"].([]any)
	if aadsts != 0 && (len(codes) != 1 || codes[0] != float64(aadsts)) {
		t.Fatalf("want error_codes [%d], got %s", aadsts, r.Body)
	}
	desc, _ := m["error_description"].(string)
	if aadsts != 0 && !strings.HasPrefix(desc, "AADSTS"+strconv.Itoa(aadsts)+": ") {
		t.Fatalf("description without the AADSTS prefix: %s", r.Body)
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := m[k].(string); s == "" {
			t.Fatalf("error without %s: %s", k, r.Body)
		}
	}
	return m
}

var eightDigits = regexp.MustCompile(`\b\d{8}\b`)

// code delivers the queued mail through the outbox job and returns the
// code mailed to email.
func (n *nativeStack) code(email string) string {
	n.t.Helper()
	if err := n.mailJob.Run(context.Background()); err != nil {
		n.t.Fatal(err)
	}
	m := n.smtp.Wait(n.t, 30*time.Second)
	if !slices.Contains(m.To, email) {
		n.t.Fatalf("mail to %v, want %s", m.To, email)
	}
	p, err := m.Parse()
	if err != nil {
		n.t.Fatal(err)
	}
	c := eightDigits.FindString(p.Text)
	if c == "" {
		n.t.Fatalf("no code in %q", p.Text)
	}
	return c
}

// wrongCode is a code that differs from c.
func wrongCode(c string) string {
	if c[0] == '9' {
		return "0" + c[1:]
	}
	return string(c[0]+1) + c[1:]
}

// passwordHash reads a user's stored password hash ("" for none) by the
// user's mail.
func (n *nativeStack) passwordHash(mail string) string {
	n.t.Helper()
	var h *string
	if err := n.db.store.DB().QueryRowContext(context.Background(),
		`SELECT password_hash FROM users WHERE tenant_id = $1 AND lower(mail) = lower($2)`, n.tenant, mail).Scan(&h); err != nil {
		n.t.Fatal(err)
	}
	if h == nil {
		return ""
	}
	return *h
}

// signUp runs a whole code-verified sign-up with a password and returns
// the completing continuation token.
func (n *nativeStack) signUp(email, pw, displayName string) string {
	n.t.Helper()
	t := n.t
	types := "oob password redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", pw,
		"attributes", `{"displayName":"`+displayName+`"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	return ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email)))))
}

// tokenResponse asserts a native token response as the SDK checks it
// (reference §4.1) and returns it.
func tokenResponse(t *testing.T, r *response) map[string]any {
	t.Helper()
	m := ok(t, r)
	for _, k := range []string{"access_token", "id_token", "refresh_token", "client_info"} {
		if s, _ := m[k].(string); s == "" {
			t.Fatalf("token response without %s: %s", k, r.Body)
		}
	}
	if m["token_type"] != "Bearer" || m["expires_in"].(float64) <= 0 {
		t.Fatalf("token response: %s", r.Body)
	}
	return m
}

// claims decodes a JWT's payload without checking it.
func claims(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// codeOrNothing delivers queued mail and returns the code mailed to email,
// or "" when nothing was queued. The outbox job returns after the relay
// accepted each message, and the test server hands a message over before
// it accepts it, so nothing can still be on its way.
func (n *nativeStack) codeOrNothing(email string) string {
	n.t.Helper()
	if err := n.mailJob.Run(context.Background()); err != nil {
		n.t.Fatal(err)
	}
	select {
	case m := <-n.smtp.Mail:
		p, err := m.Parse()
		if err != nil || !slices.Contains(m.To, email) {
			n.t.Fatalf("mail to %v: %v", m.To, err)
		}
		return eightDigits.FindString(p.Text)
	default:
		return ""
	}
}

// secondInstance is another graphdir over the same database and mail
// relay, as a second server behind a load balancer.
func (n *nativeStack) secondInstance() *nativeStack {
	n.t.Helper()
	h, iss, err := buildHandler(context.Background(), n.cfg, func(string) string { return "" }, n.db, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		n.t.Fatal(err)
	}
	hs := httptest.NewTLSServer(h)
	n.t.Cleanup(hs.Close)
	s := *n.stack
	s.srv, s.iss, s.client = hs, iss, hs.Client()
	return &nativeStack{stack: &s, smtp: n.smtp, mailJob: n.mailJob, appID: n.appID, admin: n.admin}
}
