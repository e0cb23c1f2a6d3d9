package config

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseSMTPURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want SMTP
	}{
		{"smtp://relay.example.com", SMTP{Host: "relay.example.com", Port: 587, TLS: StartTLSMandatory}},
		{"smtp://u:p%40ss@relay.example.com:2525?starttls=opportunistic", SMTP{Host: "relay.example.com", Port: 2525, Username: "u", Password: "p@ss", TLS: StartTLSOpportunistic}},
		{"smtp://127.0.0.1:1025?starttls=none", SMTP{Host: "127.0.0.1", Port: 1025, TLS: StartTLSNone}},
		{"smtp://u:p@relay.example.com?starttls=mandatory", SMTP{Host: "relay.example.com", Port: 587, Username: "u", Password: "p", TLS: StartTLSMandatory}},
		{"smtps://apikey:sk-123@smtp.example.com", SMTP{Host: "smtp.example.com", Port: 465, Username: "apikey", Password: "sk-123", TLS: TLSImplicit}},
		{"smtps://[::1]:4650", SMTP{Host: "::1", Port: 4650, TLS: TLSImplicit}},
	} {
		got, err := ParseSMTPURL(c.in)
		if err != nil || *got != c.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{
		"http://relay.example.com",
		"smtp://u:topsecret@relay.example.com?starttls=sometimes",
		"smtps://u:topsecret@relay.example.com?starttls=none",
		"smtp://u:topsecret@relay.example.com:99999",
		"smtp://u:topsecret@relay.example.com/path",
		"smtp://u:topsecret@relay.example.com?tls=1",
		"smtp://u:topsecret@:25",
		"smtp://u:topsecret@relay.example.com:2%0a5",
	} {
		_, err := ParseSMTPURL(bad)
		if err == nil {
			t.Errorf("ParseSMTPURL(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("ParseSMTPURL(%q) error shows the password: %v", bad, err)
		}
	}
}

func TestSMTPRedacted(t *testing.T) {
	s, err := ParseSMTPURL("smtp://relay:hunter2@mail.example.com:587?starttls=opportunistic")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Redacted(); got != "smtp://relay:REDACTED@mail.example.com:587?starttls=opportunistic" {
		t.Errorf("Redacted = %s", got)
	}
	s, _ = ParseSMTPURL("smtps://mail.example.com")
	if got := s.Redacted(); got != "smtps://mail.example.com:465" {
		t.Errorf("Redacted = %s", got)
	}
}

func TestLoadMail(t *testing.T) {
	c, err := Load(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mail
	if m.SMTP != nil || m.DevOutbox || m.CodeTTL != 10*time.Minute || m.ResendInterval != time.Minute || m.SendsPerHour != 10 || m.PollInterval != 2*time.Second {
		t.Errorf("mail defaults: %+v", m)
	}
	c, err = Load(nil, env(map[string]string{"GRAPHDIR_DEV_OUTBOX": "1"}), io.Discard)
	if err != nil || !c.Mail.DevOutbox || c.Mail.From == "" {
		t.Errorf("dev outbox: %+v, %v", c.Mail, err)
	}
	c, err = Load(nil, env(map[string]string{"GRAPHDIR_SMTP_URL": "smtps://u:pw@smtp.example.com", "GRAPHDIR_MAIL_FROM": "no-reply@contoso.com"}), io.Discard)
	if err != nil || c.Mail.SMTP == nil || c.Mail.SMTP.TLS != TLSImplicit || c.Mail.From != "no-reply@contoso.com" {
		t.Errorf("smtps: %+v, %v", c.Mail, err)
	}
	_, err = Load(nil, env(map[string]string{
		"GRAPHDIR_SMTP_URL":           "smtp://u:topsecret@smtp.example.com?starttls=maybe",
		"GRAPHDIR_DEV_OUTBOX":         "yes",
		"GRAPHDIR_OTP_TTL":            "10s",
		"GRAPHDIR_OTP_SENDS_PER_HOUR": "0",
	}), io.Discard)
	if err == nil {
		t.Fatal("bad mail settings loaded")
	}
	for _, want := range []string{"GRAPHDIR_SMTP_URL", "GRAPHDIR_MAIL_FROM: required", "GRAPHDIR_DEV_OUTBOX", "GRAPHDIR_OTP_TTL", "GRAPHDIR_OTP_SENDS_PER_HOUR"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %s: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "topsecret") {
		t.Errorf("problems show the password: %v", err)
	}
	_, err = Load(nil, env(map[string]string{"GRAPHDIR_SMTP_URL": "smtp://smtp.example.com", "GRAPHDIR_MAIL_FROM": "Contoso <no-reply@contoso.com>"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "GRAPHDIR_MAIL_FROM") {
		t.Errorf("a display name in GRAPHDIR_MAIL_FROM: %v", err)
	}
}
