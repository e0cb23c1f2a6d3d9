package mail

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPConfig is where and how the SMTP sender connects.
type SMTPConfig struct {
	Host     string
	Port     int
	Username string
	Password string
	// ImplicitTLS is smtps: TLS from the first byte. Otherwise StartTLS
	// applies.
	ImplicitTLS bool
	// StartTLS is "mandatory" (the default), "opportunistic" or "none".
	StartTLS string
	// From is the sender address.
	From string
	// Timeout bounds one delivery; 0 means 30s.
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own CA with
	// it); nil verifies the server against the system roots.
	TLSConfig *tls.Config
}

// SMTP sends through a relay, one connection per message (codes are rare
// and a held connection would go stale between them).
type SMTP struct {
	cfg    SMTPConfig
	policy gomail.TLSPolicy
}

// NewSMTP checks cfg and returns its sender. It does not connect.
func NewSMTP(cfg SMTPConfig) (*SMTP, error) {
	s := &SMTP{cfg: cfg}
	switch cfg.StartTLS {
	case "", "mandatory":
		s.policy = gomail.TLSMandatory
	case "opportunistic":
		s.policy = gomail.TLSOpportunistic
	case "none":
		s.policy = gomail.NoTLS
	default:
		return nil, fmt.Errorf("mail: STARTTLS policy %q is not mandatory, opportunistic or none", cfg.StartTLS)
	}
	if cfg.Host == "" || cfg.Port <= 0 || cfg.From == "" {
		return nil, fmt.Errorf("mail: SMTP host, port and from address are required")
	}
	if s.cfg.Timeout <= 0 {
		s.cfg.Timeout = 30 * time.Second
	}
	return s, nil
}

func (s *SMTP) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(s.cfg.Port), gomail.WithTimeout(s.cfg.Timeout)}
	if s.cfg.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(s.policy))
	}
	if s.cfg.TLSConfig != nil {
		tc := s.cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = s.cfg.Host
		}
		opts = append(opts, gomail.WithTLSConfig(tc))
	}
	if s.cfg.Username != "" {
		// Auto-discovery picks the strongest mechanism the server offers
		// and refuses PLAIN/LOGIN over an unencrypted connection.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// Send delivers m as multipart/alternative: plain text, then HTML.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.FromFormat(m.FromName, s.cfg.From); err != nil {
		return fmt.Errorf("mail: from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageID()
	msg.SetDate()
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("mail: sending through %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}
