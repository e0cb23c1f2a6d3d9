package main

import (
	"context"
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/mail"
	"github.com/graphdir/graphdir/internal/otp"
	"github.com/graphdir/graphdir/internal/schedule"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// mailSender is the configured Sender: the SMTP relay, else the
// development outbox, else nil (no mail: flows get mail.ErrNotConfigured).
func mailSender(cfg *config.Config, log *slog.Logger) (mail.Sender, error) {
	m := cfg.Mail
	switch {
	case m.SMTP != nil:
		return mail.NewSMTP(mail.SMTPConfig{Host: m.SMTP.Host, Port: m.SMTP.Port, Username: m.SMTP.Username,
			Password: m.SMTP.Password, ImplicitTLS: m.SMTP.TLS == config.TLSImplicit, StartTLS: m.SMTP.TLS, From: m.From})
	case m.DevOutbox:
		return mail.DevOutbox{Log: log}, nil
	}
	return nil, nil
}

// logMailSetup says at start how mail goes out, so that "no code arrived"
// is never a mystery; the SMTP password is redacted.
func logMailSetup(cfg *config.Config, log *slog.Logger) {
	m := cfg.Mail
	switch {
	case m.SMTP != nil:
		log.Info("mail: sending through SMTP", "smtp", m.SMTP.Redacted(), "from", m.From, "dev_outbox_ignored", m.DevOutbox)
	case m.DevOutbox:
		log.Warn("mail: DEVELOPMENT OUTBOX (GRAPHDIR_DEV_OUTBOX=1): no mail is sent; every message, one-time codes included, is written to this log")
	default:
		log.Warn("mail: not configured (GRAPHDIR_SMTP_URL and GRAPHDIR_MAIL_FROM unset): flows that send email one-time codes refuse to start")
	}
}

// newCodes is the email one-time code service every flow shares: its HMAC
// key is the server secret "otp-hmac" (kept in PostgreSQL, like the
// $skiptoken key), so any instance checks codes another one sent.
func newCodes(ctx context.Context, cfg *config.Config, store *postgres.Store) (*otp.Service, error) {
	key, err := store.Secret(ctx, "otp-hmac", func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	return otp.New(otp.Config{
		Store: store, Key: key,
		MailConfigured: cfg.Mail.SMTP != nil || cfg.Mail.DevOutbox,
		TenantName: func(ctx context.Context, tenantID string) (string, error) {
			t, err := store.Tenant(ctx, tenantID)
			if err != nil {
				return "", err
			}
			for _, name := range []string{t.DisplayName, t.DefaultDomain} {
				if name != "" {
					return name, nil
				}
			}
			return t.ID, nil
		},
		TTL: cfg.Mail.CodeTTL, ResendInterval: cfg.Mail.ResendInterval, SendsPerHour: cfg.Mail.SendsPerHour,
	})
}

// mailJobs are the outbox worker (when mail is configured) and the prune of
// spent codes, send logs and closed outbox rows.
func mailJobs(cfg *config.Config, store *postgres.Store, log *slog.Logger) []schedule.Job {
	var jobs []schedule.Job
	sender, err := mailSender(cfg, log)
	if err != nil {
		log.Error("mail: the SMTP settings are unusable; no mail will be sent", "error", err)
	}
	if sender != nil {
		w := &mail.Worker{Outbox: store, Sender: sender, Log: log}
		jobs = append(jobs, schedule.Job{Name: "send queued mail", Every: cfg.Mail.PollInterval, Run: func(ctx context.Context) error {
			// Claims due rows FOR UPDATE SKIP LOCKED (postgres/outbox.go):
			// every instance runs it, none sends a message another claimed.
			_, err := w.RunOnce(ctx)
			return err
		}})
	}
	jobs = append(jobs, schedule.Job{Name: "prune one-time codes and sent mail", Every: cfg.PurgeInterval, Run: func(ctx context.Context) error {
		now := time.Now()
		// Codes are kept a day past expiry (a late try still reads
		// "expired"), sends an hour (the cap's window), closed mail a week.
		_, err := store.PruneOneTimeCodes(ctx, now.Add(-24*time.Hour), now.Add(-time.Hour), now.Add(-7*24*time.Hour))
		return err
	}})
	return jobs
}
