package main

import (
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/mail/smtptest"
	"github.com/graphdir/graphdir/internal/otp"
	"github.com/graphdir/graphdir/internal/schedule"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// The server says at start how mail goes out, never showing the SMTP
// password.
func TestServe_LogsHowMailIsSent(t *testing.T) {
	dbURL := pgtest.NewURL(t)
	base := map[string]string{"DATABASE_URL": dbURL, "GRAPHDIR_PUBLIC_URL": "http://127.0.0.1:1", "GRAPHDIR_DOMAINS": "graphdir.test"}
	with := func(kv ...string) map[string]string {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			env[kv[i]] = kv[i+1]
		}
		return env
	}
	if _, logs := serveUntilReady(t, with()); !strings.Contains(logs, "mail: not configured") {
		t.Errorf("no mail configured, but the log does not say so:\n%s", logs)
	}
	if _, logs := serveUntilReady(t, with("GRAPHDIR_DEV_OUTBOX", "1")); !strings.Contains(logs, "DEVELOPMENT OUTBOX") {
		t.Errorf("dev outbox on, but the log does not say so:\n%s", logs)
	}
	_, logs := serveUntilReady(t, with("GRAPHDIR_SMTP_URL", "smtp://relay:hunter2-secret@127.0.0.1:2525?starttls=opportunistic", "GRAPHDIR_MAIL_FROM", "no-reply@graphdir.test"))
	if !strings.Contains(logs, "mail: sending through SMTP") || !strings.Contains(logs, "relay:REDACTED@127.0.0.1:2525") {
		t.Errorf("SMTP configured, but the log does not say where:\n%s", logs)
	}
	if strings.Contains(logs, "hunter2-secret") {
		t.Fatal("the SMTP password reached the log")
	}
}

// The wiring of serve: newCodes queues a code and the background jobs of an
// instance deliver it through the configured relay.
func TestMail_BackgroundJobDeliversCodesThroughTheRelay(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	cfg, _, db := openTestDatabase(t, map[string]string{
		"DATABASE_URL": pgtest.NewURL(t), "GRAPHDIR_PUBLIC_URL": testPublicURL, "GRAPHDIR_DOMAINS": "graphdir.test",
		"GRAPHDIR_SMTP_URL": "smtp://" + srv.Host + ":" + strconv.Itoa(srv.Port) + "?starttls=none", "GRAPHDIR_MAIL_FROM": "no-reply@graphdir.test",
		"GRAPHDIR_MAIL_POLL_INTERVAL": "100ms",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	codes, err := newCodes(ctx, cfg, db.store)
	if err != nil {
		t.Fatal(err)
	}
	sent, err := codes.Send(ctx, otp.SendRequest{TenantID: db.tenant.ID, Purpose: otp.PurposeSignIn, Binding: "ct-1",
		Email: "jane@example.test", Locale: "fr", AppName: "Contoso Shop"})
	if err != nil || sent.CodeLength != 8 {
		t.Fatalf("Send: %+v, %v", sent, err)
	}
	var logs logtest.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		schedule.Run(ctx, nil, backgroundJobs(cfg, db.store, slog.New(slog.NewJSONHandler(&logs, nil)))...)
	}()
	p, err := srv.Wait(t, 30*time.Second).Parse()
	cancel()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`\b\d{8}\b`).FindString(p.Text)
	if !strings.HasPrefix(p.Subject, "Votre code") || !strings.Contains(p.Header.Get("From"), db.tenant.DisplayName) {
		t.Errorf("mail: subject %q, from %q (tenant %q)", p.Subject, p.Header.Get("From"), db.tenant.DisplayName)
	}
	if err := codes.Verify(context.Background(), otp.VerifyRequest{TenantID: db.tenant.ID, Purpose: otp.PurposeSignIn, Binding: "ct-1", Code: code}); err != nil {
		t.Fatalf("the delivered code: %v", err)
	}
	if strings.Contains(logs.String(), code) {
		t.Fatal("the code reached the log outside the development outbox")
	}
}

// Without a relay or the development outbox, the code service refuses with
// the typed error flows map to their protocol's.
func TestMail_NotConfiguredRefusesToSend(t *testing.T) {
	cfg, _, db := openTestDatabase(t, map[string]string{
		"DATABASE_URL": pgtest.NewURL(t), "GRAPHDIR_PUBLIC_URL": testPublicURL, "GRAPHDIR_DOMAINS": "graphdir.test"})
	codes, err := newCodes(context.Background(), cfg, db.store)
	if err != nil {
		t.Fatal(err)
	}
	_, err = codes.Send(context.Background(), otp.SendRequest{TenantID: db.tenant.ID, Purpose: otp.PurposeSignUp, Binding: "b", Email: "jane@example.test"})
	if !errors.Is(err, otp.ErrMailNotConfigured) {
		t.Fatalf("Send: %v", err)
	}
}

// With GRAPHDIR_DEV_OUTBOX=1 (make run), serve's mail job writes the
// message, code included, to the log under the development-outbox marker.
func TestMail_DevOutboxJobLogsTheCode(t *testing.T) {
	cfg, _, db := openTestDatabase(t, map[string]string{
		"DATABASE_URL": pgtest.NewURL(t), "GRAPHDIR_PUBLIC_URL": testPublicURL, "GRAPHDIR_DOMAINS": "graphdir.test",
		"GRAPHDIR_DEV_OUTBOX": "1"})
	ctx := context.Background()
	codes, err := newCodes(ctx, cfg, db.store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codes.Send(ctx, otp.SendRequest{TenantID: db.tenant.ID, Purpose: otp.PurposeReset, Binding: "ct", Email: "jane@example.test", Locale: "de"}); err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	ran := false
	for _, j := range backgroundJobs(cfg, db.store, slog.New(slog.NewJSONHandler(&logs, nil))) {
		if j.Name == "send queued mail" {
			ran = true
			if err := j.Run(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !ran {
		t.Fatal("no mail job with the development outbox on")
	}
	out := logs.String()
	code := regexp.MustCompile(`\b\d{8}\b`).FindString(out)
	if !strings.Contains(out, "DEVELOPMENT OUTBOX (GRAPHDIR_DEV_OUTBOX=1): mail NOT sent") || code == "" {
		t.Fatalf("log: %s", out)
	}
	if err := codes.Verify(ctx, otp.VerifyRequest{TenantID: db.tenant.ID, Purpose: otp.PurposeReset, Binding: "ct", Code: code}); err != nil {
		t.Fatalf("the logged code: %v", err)
	}
}
