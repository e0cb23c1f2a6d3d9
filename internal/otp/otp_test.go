package otp_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/mail"
	"github.com/graphdir/graphdir/internal/mail/smtptest"
	"github.com/graphdir/graphdir/internal/otp"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

const wait = 20 * time.Second

// clock is a settable time shared by the service and the worker.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	store  *postgres.Store
	svc    *otp.Service
	tenant string
	clock  *clock
	smtp   *smtptest.Server
	worker *mail.Worker
}

func newService(t *testing.T, store *postgres.Store, c *clock, cfg otp.Config) *otp.Service {
	t.Helper()
	key, err := store.Secret(context.Background(), "otp-hmac", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Key, cfg.Now = store, key, c.Now
	cfg.TenantName = func(ctx context.Context, id string) (string, error) {
		tn, err := store.Tenant(ctx, id)
		if err != nil {
			return "", err
		}
		return tn.DisplayName, nil
	}
	svc, err := otp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newTenant(t *testing.T, store *postgres.Store) string {
	t.Helper()
	tn, err := store.EnsureTenant(context.Background(), directory.Tenant{ID: uuid.NewString(), DisplayName: "Contoso Ltd", DefaultDomain: "contoso.example"})
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func newSMTPSender(t *testing.T, srv *smtptest.Server) *mail.SMTP {
	t.Helper()
	s, err := mail.NewSMTP(mail.SMTPConfig{Host: srv.Host, Port: srv.Port, StartTLS: "none", From: "no-reply@graphdir.test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func setup(t *testing.T, cfg otp.Config) *env {
	t.Helper()
	t.Parallel()
	e := &env{store: pgtest.NewStore(t), clock: &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}}
	e.tenant = newTenant(t, e.store)
	cfg.MailConfigured = true
	e.svc = newService(t, e.store, e.clock, cfg)
	e.smtp = smtptest.Start(t, smtptest.Options{})
	e.worker = &mail.Worker{Outbox: e.store, Sender: newSMTPSender(t, e.smtp), Now: e.clock.Now}
	return e
}

func (e *env) send(t *testing.T, binding, email, locale string) (otp.Sent, error) {
	t.Helper()
	return e.svc.Send(context.Background(), otp.SendRequest{TenantID: e.tenant, Purpose: otp.PurposeSignUp,
		Binding: binding, Email: email, Locale: locale, AppName: "Contoso Shop"})
}

func (e *env) verify(binding, code string) error {
	return e.svc.Verify(context.Background(), otp.VerifyRequest{TenantID: e.tenant, Purpose: otp.PurposeSignUp, Binding: binding, Code: code})
}

var codeRE = regexp.MustCompile(`\b\d{8}\b`)

// deliver runs the worker once and returns the code of the one mail it sent.
func (e *env) deliver(t *testing.T) (string, smtptest.Parsed) {
	t.Helper()
	n, err := e.worker.RunOnce(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("worker sent %d, %v; want 1", n, err)
	}
	p, err := e.smtp.Wait(t, wait).Parse()
	if err != nil {
		t.Fatal(err)
	}
	code := codeRE.FindString(p.Text)
	if code == "" || !strings.Contains(p.HTML, code) {
		t.Fatalf("no code in both parts:\n%s\n%s", p.Text, p.HTML)
	}
	return code, p
}

func TestSend_MailArrivesAndItsCodeVerifiesOnce(t *testing.T) {
	e := setup(t, otp.Config{})
	sent, err := e.send(t, "flow-1", "Jane.Doe@Example.test", "fr-FR,fr;q=0.9,en;q=0.5")
	if err != nil {
		t.Fatal(err)
	}
	if sent.CodeLength != 8 || sent.Interval != 60*time.Second || sent.Lifetime != 10*time.Minute || sent.ChannelTarget != "j***@e***.test" {
		t.Errorf("Sent = %+v", sent)
	}
	code, p := e.deliver(t)
	if p.ContentType != "multipart/alternative" || !strings.HasPrefix(p.Subject, "Votre code") || !strings.Contains(p.Text, "Contoso Shop") || !strings.Contains(p.Text, "10 minutes") {
		t.Errorf("mail: %s %q\n%s", p.ContentType, p.Subject, p.Text)
	}
	var bodies int
	if err := e.store.DB().Get(&bodies, `SELECT count(*) FROM mail_outbox WHERE text_body IS NOT NULL OR html_body IS NOT NULL OR subject IS NOT NULL`); err != nil || bodies != 0 {
		t.Errorf("%d outbox rows still hold the message after sending (%v)", bodies, err)
	}
	if err := e.svc.Verify(context.Background(), otp.VerifyRequest{TenantID: e.tenant, Purpose: otp.PurposeSignIn, Binding: "flow-1", Code: code}); !errors.Is(err, otp.ErrNoCode) {
		t.Errorf("the code verified for another purpose: %v", err)
	}
	if err := e.verify("flow-2", code); !errors.Is(err, otp.ErrNoCode) {
		t.Errorf("the code verified for another binding: %v", err)
	}
	if err := e.svc.Verify(context.Background(), otp.VerifyRequest{TenantID: e.tenant, Purpose: otp.PurposeSignUp, Binding: "flow-1", Code: code, Email: "other@example.test"}); !errors.Is(err, otp.ErrNoCode) {
		t.Errorf("the code verified for another address: %v", err)
	}
	if err := e.svc.Verify(context.Background(), otp.VerifyRequest{TenantID: e.tenant, Purpose: otp.PurposeSignUp, Binding: "flow-1", Code: code, Email: "jane.doe@example.test"}); err != nil {
		t.Fatalf("the mailed code: %v", err)
	}
	if err := e.verify("flow-1", code); !errors.Is(err, otp.ErrNoCode) {
		t.Fatalf("the code verified twice: %v", err)
	}
}

func TestVerify_FiveWrongCodesKillIt(t *testing.T) {
	e := setup(t, otp.Config{})
	if _, err := e.send(t, "flow", "jane@example.test", "en"); err != nil {
		t.Fatal(err)
	}
	code, _ := e.deliver(t)
	wrong := "00000000"
	if wrong == code {
		wrong = "11111111"
	}
	for left := 4; left >= 1; left-- {
		var we *otp.WrongCodeError
		if err := e.verify("flow", wrong); !errors.As(err, &we) || we.Remaining != left {
			t.Fatalf("wrong try: %v, want %d tries left", err, left)
		}
	}
	if err := e.verify("flow", "123"); !errors.Is(err, otp.ErrTooManyTries) {
		t.Fatalf("fifth wrong try: %v", err)
	}
	if err := e.verify("flow", code); !errors.Is(err, otp.ErrTooManyTries) {
		t.Fatalf("the right code after five wrong ones: %v", err)
	}
}

func TestVerify_ExpiredCode(t *testing.T) {
	e := setup(t, otp.Config{TTL: 5 * time.Minute})
	if _, err := e.send(t, "flow", "jane@example.test", "en"); err != nil {
		t.Fatal(err)
	}
	code, _ := e.deliver(t)
	e.clock.Add(5 * time.Minute)
	if err := e.verify("flow", code); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("after the lifetime: %v", err)
	}
}

func TestSend_ResendTooSoonThenANewCodeReplacesTheOld(t *testing.T) {
	e := setup(t, otp.Config{})
	if _, err := e.send(t, "flow", "jane@example.test", "en"); err != nil {
		t.Fatal(err)
	}
	old, _ := e.deliver(t)
	e.clock.Add(20 * time.Second)
	_, err := e.send(t, "flow", "jane@example.test", "en")
	var rs *otp.ResendTooSoonError
	if !errors.As(err, &rs) || rs.HourlyCap || rs.RetryAfter != 40*time.Second {
		t.Fatalf("resend after 20s: %v, want retry after 40s", err)
	}
	if n, err := e.worker.RunOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("a refused resend queued mail: %d, %v", n, err)
	}
	e.clock.Add(40 * time.Second)
	if _, err := e.send(t, "flow", "jane@example.test", "en"); err != nil {
		t.Fatalf("resend after the interval: %v", err)
	}
	fresh, _ := e.deliver(t)
	if old != fresh {
		var we *otp.WrongCodeError
		if err := e.verify("flow", old); !errors.As(err, &we) {
			t.Fatalf("the replaced code: %v, want wrong code", err)
		}
	}
	if err := e.verify("flow", fresh); err != nil {
		t.Fatalf("the new code: %v", err)
	}
}

func TestSend_HourlyCapPerAddress(t *testing.T) {
	e := setup(t, otp.Config{SendsPerHour: 3})
	for i := range 3 {
		if _, err := e.send(t, "flow-"+string(rune('a'+i)), "jane@example.test", "en"); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		e.clock.Add(time.Minute)
	}
	_, err := e.send(t, "flow-d", "JANE@example.test", "en")
	var rs *otp.ResendTooSoonError
	if !errors.As(err, &rs) || !rs.HourlyCap || rs.RetryAfter != 57*time.Minute {
		t.Fatalf("fourth send in the hour: %v, want the hourly cap with retry after 57m", err)
	}
	if _, err := e.send(t, "flow-e", "john@example.test", "en"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	e.clock.Add(57 * time.Minute)
	if _, err := e.send(t, "flow-d", "jane@example.test", "en"); err != nil {
		t.Fatalf("after the first send left the window: %v", err)
	}
}

func TestSend_WithoutMailIsATypedErrorAndStoresNothing(t *testing.T) {
	t.Parallel()
	store := pgtest.NewStore(t)
	tenant := newTenant(t, store)
	svc := newService(t, store, &clock{t: time.Now()}, otp.Config{})
	_, err := svc.Send(context.Background(), otp.SendRequest{TenantID: tenant, Purpose: otp.PurposeReset, Binding: "b", Email: "jane@example.test"})
	if !errors.Is(err, otp.ErrMailNotConfigured) || !errors.Is(err, mail.ErrNotConfigured) {
		t.Fatalf("Send without mail: %v", err)
	}
	var n int
	if err := store.DB().Get(&n, `SELECT (SELECT count(*) FROM otp_codes) + (SELECT count(*) FROM mail_outbox)`); err != nil || n != 0 {
		t.Fatalf("%d rows written (%v)", n, err)
	}
}

func TestSend_InvalidRequests(t *testing.T) {
	e := setup(t, otp.Config{})
	for _, r := range []otp.SendRequest{
		{TenantID: e.tenant, Purpose: "bogus", Binding: "b", Email: "jane@example.test"},
		{TenantID: e.tenant, Purpose: otp.PurposeMFA, Binding: "", Email: "jane@example.test"},
		{TenantID: e.tenant, Purpose: otp.PurposeMFA, Binding: "b", Email: "Jane <jane@example.test>"},
		{TenantID: e.tenant, Purpose: otp.PurposeMFA, Binding: "b", Email: "jane@example.test\r\nBcc: x@evil.test"},
		{TenantID: e.tenant, Purpose: otp.PurposeMFA, Binding: "b", Email: "no-at-sign"},
	} {
		var ie *otp.InvalidRequestError
		if _, err := e.svc.Send(context.Background(), r); !errors.As(err, &ie) {
			t.Errorf("%+v: %v, want an invalid request", r, err)
		}
	}
}

func TestWorker_DevOutboxLogsTheMarkedMessage(t *testing.T) {
	e := setup(t, otp.Config{})
	var buf logtest.Buffer
	e.worker.Sender = mail.DevOutbox{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	if _, err := e.send(t, "flow", "jane@example.test", "de"); err != nil {
		t.Fatal(err)
	}
	if n, err := e.worker.RunOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("worker: %d, %v", n, err)
	}
	out := buf.String()
	if !strings.Contains(out, mail.DevOutboxMarker) || !strings.Contains(out, "Bestätigungscode") {
		t.Fatalf("log: %s", out)
	}
	code := codeRE.FindString(out)
	if err := e.verify("flow", code); err != nil {
		t.Fatalf("the code from the log: %v", err)
	}
	if e.smtp.Accepted() != 0 {
		t.Fatal("the development outbox sent mail")
	}
}

func TestWorker_RetriesUntilTheRelayAccepts(t *testing.T) {
	e := setup(t, otp.Config{})
	var buf logtest.Buffer
	e.worker.Log = slog.New(slog.NewJSONHandler(&buf, nil))
	e.smtp.Refuse(true)
	if _, err := e.send(t, "flow", "jane@example.test", "en"); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if n, err := e.worker.RunOnce(context.Background()); n != 0 || err != nil {
			t.Fatalf("attempt %d against a refusing relay: sent %d, %v", attempt, n, err)
		}
		var row struct {
			Attempts  int    `db:"attempts"`
			LastError string `db:"last_error"`
			State     string `db:"state"`
		}
		if err := e.store.DB().Get(&row, `SELECT attempts, last_error, state FROM mail_outbox`); err != nil {
			t.Fatal(err)
		}
		if row.Attempts != attempt || row.State != "pending" || !strings.Contains(row.LastError, "451") {
			t.Fatalf("after attempt %d: %+v", attempt, row)
		}
		// Not due again until its backoff has passed.
		if n, err := e.worker.RunOnce(context.Background()); n != 0 || err != nil {
			t.Fatalf("retried before its backoff: %d, %v", n, err)
		}
		// Due again at the row's send_after, which the backoff chose.
		var due time.Time
		if err := e.store.DB().Get(&due, `SELECT send_after FROM mail_outbox`); err != nil {
			t.Fatal(err)
		}
		if wait := due.Sub(e.clock.Now()); wait < 8*time.Second<<(attempt-1) || wait > 12*time.Second<<(attempt-1) {
			t.Fatalf("backoff after attempt %d: %s", attempt, wait)
		}
		e.clock.Add(due.Sub(e.clock.Now()))
	}
	if e.smtp.Accepted() != 0 {
		t.Fatal("a refusing relay accepted mail")
	}
	if strings.Contains(buf.String(), "Your code is") {
		t.Fatal("a failure log line holds the message")
	}
	e.smtp.Refuse(false)
	code, _ := e.deliver(t)
	if err := e.verify("flow", code); err != nil {
		t.Fatal(err)
	}
}

func TestWorker_UnsentMailIsDiscardedWhenTheCodeExpires(t *testing.T) {
	e := setup(t, otp.Config{})
	e.smtp.Refuse(true)
	if _, err := e.send(t, "flow", "jane@example.test", "en"); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.worker.RunOnce(context.Background()); n != 0 {
		t.Fatal("sent through a refusing relay")
	}
	e.smtp.Refuse(false)
	e.clock.Add(10 * time.Minute)
	if n, err := e.worker.RunOnce(context.Background()); n != 0 || err != nil {
		t.Fatalf("sent a dead code: %d, %v", n, err)
	}
	var state string
	var blank bool
	if err := e.store.DB().QueryRow(`SELECT state, text_body IS NULL AND html_body IS NULL FROM mail_outbox`).Scan(&state, &blank); err != nil || state != "expired" || !blank {
		t.Fatalf("row: %s, blank %v, %v", state, blank, err)
	}
}

// Two instances (two pools, two workers) drain one outbox concurrently:
// every message is delivered exactly once.
func TestWorker_TwoInstancesNeverSendAMessageTwice(t *testing.T) {
	t.Parallel()
	url := pgtest.NewURL(t)
	open := func() *postgres.Store {
		db, err := sqlx.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return postgres.New(db)
	}
	a, b := open(), open()
	c := &clock{t: time.Now()}
	tenant := newTenant(t, a)
	svc := newService(t, a, c, otp.Config{MailConfigured: true, SendsPerHour: 1000})
	const total = 40
	for i := range total {
		if _, err := svc.Send(context.Background(), otp.SendRequest{TenantID: tenant, Purpose: otp.PurposeSignIn,
			Binding: uuid.NewString(), Email: "user" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.test"}); err != nil {
			t.Fatal(err)
		}
	}
	srv := smtptest.Start(t, smtptest.Options{})
	sender := newSMTPSender(t, srv)
	var wg sync.WaitGroup
	start := make(chan struct{})
	sentBy := make([]int, 2)
	for i, st := range []*postgres.Store{a, b} {
		w := &mail.Worker{Outbox: st, Sender: sender, Now: c.Now, Batch: 3}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for {
				n, err := w.RunOnce(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					return
				}
				sentBy[i] += n
			}
		}()
	}
	close(start)
	seen := map[string]int{}
	for range total {
		m := srv.Wait(t, wait)
		seen[m.To[0]]++
	}
	wg.Wait()
	if len(seen) != total || srv.Accepted() != total || sentBy[0]+sentBy[1] != total {
		t.Fatalf("%d distinct recipients, %d accepted, sent %v; want %d each", len(seen), srv.Accepted(), sentBy, total)
	}
	for to, n := range seen {
		if n != 1 {
			t.Errorf("%s got %d messages", to, n)
		}
	}
	t.Logf("instance A sent %d, instance B %d", sentBy[0], sentBy[1])
}

// Concurrent sends for one binding (as from several instances) pass the
// interval check one at a time: exactly one is sent.
func TestSend_ConcurrentSendsForOneBindingSendOnce(t *testing.T) {
	e := setup(t, otp.Config{})
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := e.send(t, "flow", "jane@example.test", "en")
			errs <- err
		}()
	}
	ok, tooSoon := 0, 0
	for range n {
		var rs *otp.ResendTooSoonError
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.As(err, &rs):
			tooSoon++
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 || tooSoon != n-1 {
		t.Fatalf("%d sent, %d refused; want 1 and %d", ok, tooSoon, n-1)
	}
}

// Concurrent wrong tries are counted one by one: no more than MaxTries
// ever get a "wrong code" answer, and the code ends dead.
func TestVerify_ConcurrentWrongTriesAreAllCounted(t *testing.T) {
	e := setup(t, otp.Config{})
	if _, err := e.send(t, "flow", "jane@example.test", "en"); err != nil {
		t.Fatal(err)
	}
	code, _ := e.deliver(t)
	wrong := "00000000"
	if wrong == code {
		wrong = "11111111"
	}
	const n = 12
	errs := make(chan error, n)
	for range n {
		go func() { errs <- e.verify("flow", wrong) }()
	}
	wrongs, dead := 0, 0
	for range n {
		var we *otp.WrongCodeError
		switch err := <-errs; {
		case errors.As(err, &we):
			wrongs++
		case errors.Is(err, otp.ErrTooManyTries):
			dead++
		default:
			t.Fatal(err)
		}
	}
	if wrongs != otp.MaxTries-1 || dead != n-otp.MaxTries+1 {
		t.Fatalf("%d wrong-code answers, %d too-many-tries; want %d and %d", wrongs, dead, otp.MaxTries-1, n-otp.MaxTries+1)
	}
	if err := e.verify("flow", code); !errors.Is(err, otp.ErrTooManyTries) {
		t.Fatalf("the right code after the tries ran out: %v", err)
	}
}

// slowRelay delivers through the real relay and then moves the clock a
// minute, as a relay that answers slowly would.
type slowRelay struct {
	mail.Sender
	clock *clock
}

func (s slowRelay) Send(ctx context.Context, m mail.Message) error {
	err := s.Sender.Send(ctx, m)
	s.clock.Add(time.Minute)
	return err
}

// A round that runs past half its lease hands the rest of its rows back
// unsent (due at once) rather than sending rows another instance may
// claim meanwhile; the next round sends them.
func TestWorker_HandsBackRowsPastHalfTheLease(t *testing.T) {
	e := setup(t, otp.Config{})
	for i := range 5 {
		if _, err := e.send(t, "flow-"+string(rune('a'+i)), "user"+string(rune('a'+i))+"@example.test", "en"); err != nil {
			t.Fatal(err)
		}
	}
	e.worker.Sender = slowRelay{e.worker.Sender, e.clock}
	e.worker.Batch, e.worker.Lease = 5, 4*time.Minute
	if n, err := e.worker.RunOnce(context.Background()); n != 3 || err != nil {
		t.Fatalf("first round sent %d, %v; want 3 (at minutes 0, 1 and 2)", n, err)
	}
	var pending int
	if err := e.store.DB().Get(&pending, `SELECT count(*) FROM mail_outbox WHERE state = 'pending' AND send_after <= $1 AND claim IS NULL`, e.clock.Now()); err != nil || pending != 2 {
		t.Fatalf("%d rows handed back due now (%v); want 2", pending, err)
	}
	if n, err := e.worker.RunOnce(context.Background()); n != 2 || err != nil {
		t.Fatalf("second round sent %d, %v; want 2", n, err)
	}
	if got := e.smtp.Accepted(); got != 5 {
		t.Fatalf("relay accepted %d, want 5", got)
	}
}

// TestSend_AccountExistsNotifiesWithoutACode: a sign-up for an address
// that has an account mails its owner a notice in their language, with
// no code, no link and no secret; the send is admitted exactly as a
// code's (the resend interval and the address's hourly cap count it and
// it counts against them), and every try on its binding is wrong and
// counts, down to the same dead end as a real code's.
func TestSend_AccountExistsNotifiesWithoutACode(t *testing.T) {
	e := setup(t, otp.Config{SendsPerHour: 2})
	notice := func(binding string) (otp.Sent, error) {
		return e.svc.Send(context.Background(), otp.SendRequest{TenantID: e.tenant, Purpose: otp.PurposeSignUp,
			Binding: binding, Email: "owner@example.test", Locale: "de", AppName: "Contoso Shop", AccountExists: true})
	}
	sent, err := notice("flow-1")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := e.send(t, "flow-x", "someone@example.test", "de")
	if err != nil {
		t.Fatal(err)
	}
	plain.ChannelTarget = sent.ChannelTarget
	if sent != plain {
		t.Errorf("Sent for a notice %+v, for a code %+v", sent, plain)
	}
	n, err := e.worker.RunOnce(context.Background())
	if err != nil || n != 2 {
		t.Fatalf("worker sent %d, %v; want 2", n, err)
	}
	var p smtptest.Parsed
	for range 2 {
		m := e.smtp.Wait(t, wait)
		if m.To[0] == "owner@example.test" {
			if p, err = m.Parse(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !strings.HasPrefix(p.Subject, "Jemand hat versucht") || !strings.Contains(p.Text, "Contoso Shop") || !strings.Contains(p.Text, "Kennwort vergessen?") {
		t.Errorf("notice: %q\n%s", p.Subject, p.Text)
	}
	if regexp.MustCompile(`\d{4,}`).MatchString(p.Text+p.HTML) || strings.Contains(p.Text, "http") || strings.Contains(p.HTML, "href") {
		t.Errorf("the notice holds a code or a link:\n%s\n%s", p.Text, p.HTML)
	}
	// Tries: wrong, counted, then dead, as for a code.
	for i := 1; i < otp.MaxTries; i++ {
		var wrong *otp.WrongCodeError
		if err := e.verify("flow-1", "12345678"); !errors.As(err, &wrong) || wrong.Remaining != otp.MaxTries-i {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	if err := e.verify("flow-1", "00000000"); !errors.Is(err, otp.ErrTooManyTries) {
		t.Fatalf("last try: %v", err)
	}
	// Admission: the binding's resend interval, then the hourly cap.
	var soon *otp.ResendTooSoonError
	if _, err := notice("flow-1"); !errors.As(err, &soon) || soon.HourlyCap {
		t.Fatalf("resend at once: %v", err)
	}
	e.clock.Add(61 * time.Second)
	if _, err := notice("flow-1"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(61 * time.Second)
	if _, err := notice("flow-2"); !errors.As(err, &soon) || !soon.HourlyCap {
		t.Fatalf("third notice within the hour: %v", err)
	}
	// Only sign-up can notify.
	var inv *otp.InvalidRequestError
	if _, err := e.svc.Send(context.Background(), otp.SendRequest{TenantID: e.tenant, Purpose: otp.PurposeReset, Binding: "r",
		Email: "owner@example.test", AccountExists: true}); !errors.As(err, &inv) {
		t.Fatalf("reset notice: %v", err)
	}
}

// TestSend_NoAccountStoresACodeAndSendsNothing: a reset or sign-in send
// for an address without an account answers as a code's, queues no mail,
// and is admitted and counted exactly as a code's: its binding's resend
// interval, and the address's hourly cap across bindings (here mixed
// with a real code to the same address, which it counts against too).
// Every try on its binding is wrong and counts, down to the same dead
// end; its lifetime is a code's.
func TestSend_NoAccountStoresACodeAndSendsNothing(t *testing.T) {
	e := setup(t, otp.Config{SendsPerHour: 3})
	ctx := context.Background()
	send := func(purpose, binding string, noAccount bool) (otp.Sent, error) {
		return e.svc.Send(ctx, otp.SendRequest{TenantID: e.tenant, Purpose: purpose, Binding: binding,
			Email: "nobody@example.test", Locale: "en", AppName: "Contoso Shop", NoAccount: noAccount})
	}
	verify := func(purpose, binding, code string) error {
		return e.svc.Verify(ctx, otp.VerifyRequest{TenantID: e.tenant, Purpose: purpose, Binding: binding, Code: code, Email: "nobody@example.test"})
	}
	ghost, err := send(otp.PurposeReset, "flow-1", true)
	if err != nil {
		t.Fatal(err)
	}
	real, err := send(otp.PurposeReset, "flow-real", false)
	if err != nil {
		t.Fatal(err)
	}
	if ghost != real {
		t.Errorf("Sent without an account %+v, with one %+v", ghost, real)
	}
	if n, err := e.worker.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("worker sent %d, %v; want only the real code's mail", n, err)
	}
	e.smtp.Wait(t, wait)
	for i := 1; i < otp.MaxTries; i++ {
		var wrong *otp.WrongCodeError
		if err := verify(otp.PurposeReset, "flow-1", "12345678"); !errors.As(err, &wrong) || wrong.Remaining != otp.MaxTries-i {
			t.Fatalf("try %d: %v", i, err)
		}
	}
	if err := verify(otp.PurposeReset, "flow-1", "00000000"); !errors.Is(err, otp.ErrTooManyTries) {
		t.Fatalf("last try: %v", err)
	}
	var soon *otp.ResendTooSoonError
	if _, err := send(otp.PurposeReset, "flow-1", true); !errors.As(err, &soon) || soon.HourlyCap {
		t.Fatalf("resend at once: %v", err)
	}
	// A sign-in flow to the same address: the third send of the hour.
	if _, err := send(otp.PurposeSignIn, "flow-2", true); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(otp.DefaultTTL)
	if err := verify(otp.PurposeSignIn, "flow-2", "12345678"); !errors.Is(err, otp.ErrExpired) {
		t.Fatalf("after the lifetime: %v", err)
	}
	if _, err := send(otp.PurposeReset, "flow-3", true); !errors.As(err, &soon) || !soon.HourlyCap {
		t.Fatalf("fourth send within the hour: %v", err)
	}
	if n, err := e.worker.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("worker sent %d, %v; want nothing more", n, err)
	}
	var inv *otp.InvalidRequestError
	for _, r := range []otp.SendRequest{
		{TenantID: e.tenant, Purpose: otp.PurposeSignUp, Binding: "s", Email: "nobody@example.test", NoAccount: true},
		{TenantID: e.tenant, Purpose: otp.PurposeMFA, Binding: "m", Email: "nobody@example.test", NoAccount: true},
		{TenantID: e.tenant, Purpose: otp.PurposeSignUp, Binding: "s", Email: "nobody@example.test", NoAccount: true, AccountExists: true},
	} {
		if _, err := e.svc.Send(ctx, r); !errors.As(err, &inv) {
			t.Fatalf("%s NoAccount: %v", r.Purpose, err)
		}
	}
}
