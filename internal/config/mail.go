package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mail is how graphdir sends email one-time codes (internal/mail,
// internal/otp). With neither SMTP nor DevOutbox set, flows that need mail
// refuse to start (mail.ErrNotConfigured) and the server says so at start.
type Mail struct {
	// SMTP is the relay, nil when GRAPHDIR_SMTP_URL is empty.
	SMTP *SMTP
	// From is the envelope and header sender address.
	From string
	// DevOutbox writes each message to the log instead of sending it. SMTP
	// wins when both are set: a real relay is never silently bypassed.
	DevOutbox bool
	// PollInterval is how often each instance's outbox worker looks for mail to send.
	PollInterval time.Duration
	// CodeTTL, ResendInterval and SendsPerHour are the one-time code rules.
	CodeTTL        time.Duration
	ResendInterval time.Duration
	SendsPerHour   int
}

// TLS modes of an SMTP connection.
const (
	// TLSImplicit: smtps://, TLS from the first byte (port 465).
	TLSImplicit = "implicit"
	// STARTTLS policies of smtp://: mandatory refuses a server without
	// STARTTLS, opportunistic upgrades when offered, none never does.
	StartTLSMandatory     = "mandatory"
	StartTLSOpportunistic = "opportunistic"
	StartTLSNone          = "none"
)

// SMTP is a parsed GRAPHDIR_SMTP_URL. Password is a secret: log
// Redacted(), never the struct.
type SMTP struct {
	Host     string
	Port     int
	Username string
	Password string
	// TLS is TLSImplicit or one of the StartTLS policies.
	TLS string
}

// Redacted is the URL with the password replaced, fit for logs and errors.
func (s *SMTP) Redacted() string {
	u := url.URL{Scheme: "smtp", Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.TLS == TLSImplicit {
		u.Scheme = "smtps"
	} else {
		u.RawQuery = "starttls=" + s.TLS
	}
	switch {
	case s.Username != "" && s.Password != "":
		u.User = url.UserPassword(s.Username, "REDACTED")
	case s.Username != "":
		u.User = url.User(s.Username)
	}
	return u.String()
}

var mailVars = []Var{
	{"GRAPHDIR_SMTP_URL", "", "", "SMTP relay for email one-time codes: smtp://user:pass@host:587?starttls=mandatory|opportunistic|none, or smtps://user:pass@host:465 (implicit TLS); empty: no mail"},
	{"GRAPHDIR_MAIL_FROM", "", "", "sender address of graphdir's mail (required with GRAPHDIR_SMTP_URL), e.g. no-reply@contoso.com"},
	{"GRAPHDIR_DEV_OUTBOX", "", "", "1: write each mail (codes included) to the log, marked as a development outbox, instead of sending it (make run sets it); ignored when GRAPHDIR_SMTP_URL is set"},
	{"GRAPHDIR_MAIL_POLL_INTERVAL", "", "2s", "how often each instance's outbox worker sends queued mail (rows claimed with FOR UPDATE SKIP LOCKED: safe with several instances)"},
	{"GRAPHDIR_OTP_TTL", "", "10m", "lifetime of an email one-time code"},
	{"GRAPHDIR_OTP_RESEND_INTERVAL", "", "60s", "minimum wait before another code is sent for the same flow (native auth's interval)"},
	{"GRAPHDIR_OTP_SENDS_PER_HOUR", "", "10", "most codes mailed to one address of one tenant in any hour"},
}

// loadMail reads the mail settings through env (which applies the
// documented defaults), appending every problem it finds. Problems never
// quote the SMTP password.
func loadMail(env func(string) string, problems *[]string) Mail {
	var m Mail
	raw := strings.TrimSpace(env("GRAPHDIR_SMTP_URL"))
	if raw != "" {
		s, err := ParseSMTPURL(raw)
		if err != nil {
			*problems = append(*problems, "GRAPHDIR_SMTP_URL: "+err.Error())
		}
		m.SMTP = s
	}
	m.From = strings.TrimSpace(env("GRAPHDIR_MAIL_FROM"))
	if m.From != "" {
		if a, err := mail.ParseAddress(m.From); err != nil || a.Name != "" || a.Address != m.From {
			*problems = append(*problems, fmt.Sprintf("GRAPHDIR_MAIL_FROM: %q must be a bare address such as no-reply@contoso.com", m.From))
		}
	} else if raw != "" {
		*problems = append(*problems, "GRAPHDIR_MAIL_FROM: required with GRAPHDIR_SMTP_URL")
	}
	switch v := strings.TrimSpace(env("GRAPHDIR_DEV_OUTBOX")); v {
	case "", "0", "false":
	case "1", "true":
		m.DevOutbox = true
	default:
		*problems = append(*problems, fmt.Sprintf("GRAPHDIR_DEV_OUTBOX: %q must be 1 or empty", v))
	}
	if m.From == "" {
		m.From = "no-reply@graphdir.local" // dev outbox only: nothing leaves the machine
	}
	for _, v := range []struct {
		name string
		dst  *time.Duration
		min  time.Duration
	}{{"GRAPHDIR_MAIL_POLL_INTERVAL", &m.PollInterval, 100 * time.Millisecond}, {"GRAPHDIR_OTP_TTL", &m.CodeTTL, time.Minute}, {"GRAPHDIR_OTP_RESEND_INTERVAL", &m.ResendInterval, time.Second}} {
		d, err := time.ParseDuration(env(v.name))
		if err != nil || d < v.min {
			*problems = append(*problems, fmt.Sprintf("%s: %q must be a duration of at least %s", v.name, env(v.name), v.min))
		}
		*v.dst = d
	}
	n, err := strconv.Atoi(strings.TrimSpace(env("GRAPHDIR_OTP_SENDS_PER_HOUR")))
	if err != nil || n < 1 {
		*problems = append(*problems, fmt.Sprintf("GRAPHDIR_OTP_SENDS_PER_HOUR: %q must be a whole number, at least 1", env("GRAPHDIR_OTP_SENDS_PER_HOUR")))
	}
	m.SendsPerHour = n
	return m
}

// ParseSMTPURL parses smtp://[user[:pass]@]host[:port][?starttls=policy]
// (default port 587, policy mandatory) and smtps://[user[:pass]@]host[:port]
// (default port 465, implicit TLS). Its errors never contain the password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's errors quote the input, password included.
		return nil, fmt.Errorf("not a URL of the form smtp://user:pass@host:port")
	}
	s := &SMTP{Host: u.Hostname()}
	shown := u.Redacted() // the input with its password replaced
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	q := u.Query()
	for k := range q {
		if k != "starttls" {
			return nil, fmt.Errorf("%s: unknown option %q (only starttls)", shown, k)
		}
	}
	switch u.Scheme {
	case "smtp":
		s.Port, s.TLS = 587, StartTLSMandatory
		if q.Has("starttls") {
			switch p := q.Get("starttls"); p {
			case StartTLSMandatory, StartTLSOpportunistic, StartTLSNone:
				s.TLS = p
			default:
				return nil, fmt.Errorf("%s: starttls=%q must be mandatory, opportunistic or none", shown, p)
			}
		}
	case "smtps":
		s.Port, s.TLS = 465, TLSImplicit
		if q.Has("starttls") {
			return nil, fmt.Errorf("%s: smtps:// is TLS from the start; starttls applies to smtp:// only", shown)
		}
	default:
		return nil, fmt.Errorf("scheme %q must be smtp or smtps", u.Scheme)
	}
	if s.Host == "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%s: want scheme://user:pass@host:port and nothing else", shown)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("%s: port %q is not a port number", shown, p)
		}
		s.Port = n
	}
	return s, nil
}
