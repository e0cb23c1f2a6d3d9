package otp

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"strings"
	"time"

	gdmail "github.com/graphdir/graphdir/internal/mail"
)

// Purposes a code may serve; a code of one never verifies for another.
const (
	PurposeSignUp      = gdmail.PurposeSignUp
	PurposeSignIn      = gdmail.PurposeSignIn
	PurposeReset       = gdmail.PurposeReset
	PurposeMFA         = gdmail.PurposeMFA
	PurposeVerifyEmail = gdmail.PurposeVerifyEmail
)

// Defaults of Config.
const (
	CodeLength            = 8
	DefaultTTL            = 10 * time.Minute
	DefaultResendInterval = 60 * time.Second
	DefaultSendsPerHour   = 10
	MaxTries              = 5
)

// maxBinding bounds what a caller may pass as a binding (it is MACed, not stored).
const maxBinding = 4096

// Config is a Service's wiring and rules.
type Config struct {
	Store Store
	// Key is the HMAC key of codes, bindings and addresses: the server
	// secret "otp-hmac", shared by every instance.
	Key []byte
	// MailConfigured is false when there is neither an SMTP relay nor the
	// development outbox: Send then fails with ErrMailNotConfigured.
	MailConfigured bool
	// TenantName returns the name mail shows for a tenant (its display
	// name, else its default domain, else its id).
	TenantName func(ctx context.Context, tenantID string) (string, error)
	// TTL, ResendInterval, SendsPerHour: zero means the default.
	TTL            time.Duration
	ResendInterval time.Duration
	SendsPerHour   int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service sends and checks codes.
type Service struct{ cfg Config }

// New checks cfg and fills in the defaults.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || len(cfg.Key) < 32 || cfg.TenantName == nil {
		return nil, errors.New("otp: a store, a key of at least 32 bytes and TenantName are required")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.ResendInterval < 0 {
		cfg.ResendInterval = 0
	} else if cfg.ResendInterval == 0 {
		cfg.ResendInterval = DefaultResendInterval
	}
	if cfg.SendsPerHour <= 0 {
		cfg.SendsPerHour = DefaultSendsPerHour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg}, nil
}

// SendRequest asks for a code to be mailed.
type SendRequest struct {
	TenantID string
	Purpose  string
	// Binding ties the code to one flow (e.g. a continuation token's id):
	// only a Verify with the same binding can use it, and a new send with
	// it replaces the previous code.
	Binding string
	Email   string
	// Locale is an Accept-Language header or a ui_locales value.
	Locale  string
	AppName string
	// AccountExists (sign-up only) sends the owner of an address that
	// already has an account a notice instead of a code (mail.TakenMail).
	// Everything else is as for a code: the same admission (resend
	// interval, hourly cap per address), the same stored row, the same
	// Sent. The row's code is one no one knows and no typed code can
	// match, so each try on the binding is wrong, counts and ends the same
	// way as on a new address's (no enumeration by tries either).
	AccountExists bool
	// NoAccount (reset and sign-in only) is a send to an address that has
	// no account, on a flow that must not tell (the hosted pages; native
	// authentication when the tenant hides user_not_found). Everything is
	// as for a code: the same admission (resend interval, the hourly cap
	// per address across flows), the same stored row and send log, the
	// same Sent, and a code mail rendered as usual; but the row's code is
	// one no one knows (as AccountExists's) and no mail is queued, since
	// there is no owner to tell.
	NoAccount bool
}

// Sent is what a flow tells its client after a send.
type Sent struct {
	CodeLength int
	// Interval is the wait before the next resend (native auth's interval).
	Interval time.Duration
	// Lifetime is how long the code is valid.
	Lifetime time.Duration
	// ChannelTarget is the masked address (j***@e***.com), as Entra shows it.
	ChannelTarget string
}

// VerifyRequest checks a code. Email, when given, must be the address the
// code was sent to.
type VerifyRequest struct {
	TenantID string
	Purpose  string
	Binding  string
	Code     string
	Email    string
}

func validPurpose(p string) bool {
	switch p {
	case PurposeSignUp, PurposeSignIn, PurposeReset, PurposeMFA, PurposeVerifyEmail:
		return true
	}
	return false
}

// normalEmail returns the address in the form codes are bound to.
func normalEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		return "", &InvalidRequestError{Field: "email", Reason: "not an email address"}
	}
	return strings.ToLower(s), nil
}

func (s *Service) key(tenantID, purpose, binding string) (Key, error) {
	if tenantID == "" {
		return Key{}, &InvalidRequestError{Field: "tenant", Reason: "required"}
	}
	if !validPurpose(purpose) {
		return Key{}, &InvalidRequestError{Field: "purpose", Reason: fmt.Sprintf("%q is not a code purpose", purpose)}
	}
	if binding == "" || len(binding) > maxBinding {
		return Key{}, &InvalidRequestError{Field: "binding", Reason: "required, at most 4096 bytes"}
	}
	return Key{TenantID: tenantID, Purpose: purpose, BindingMAC: s.mac("binding", tenantID, purpose, binding)}, nil
}

// mac is HMAC-SHA-256 over a label and length-prefixed parts, so that no
// two different part lists hash alike.
func (s *Service) mac(label string, parts ...string) []byte {
	m := hmac.New(sha256.New, s.cfg.Key)
	m.Write([]byte("graphdir/otp/" + label + "\x00"))
	for _, p := range parts {
		fmt.Fprintf(m, "%d:", len(p))
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func (s *Service) codeMAC(k Key, emailMAC []byte, code string) []byte {
	return s.mac("code", k.TenantID, k.Purpose, string(k.BindingMAC), string(emailMAC), code)
}

// newCode draws CodeLength uniform digits: rand.Int rejects out-of-range
// draws rather than reducing modulo 10^n, so no code is likelier than another.
func newCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%08d", n.Int64()), nil
}

// untypeableCode is the secret of a notice's row: 256 random bits in
// hex, never shown and far longer than any code a flow accepts, so no
// try can be right.
func untypeableCode() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// Send mails a new code for the binding, replacing its previous one. The
// mail is queued in the same transaction as the code and sent by the
// outbox worker, so Send's duration says nothing about delivery.
func (s *Service) Send(ctx context.Context, r SendRequest) (Sent, error) {
	if !s.cfg.MailConfigured {
		return Sent{}, ErrMailNotConfigured
	}
	k, err := s.key(r.TenantID, r.Purpose, r.Binding)
	if err != nil {
		return Sent{}, err
	}
	email, err := normalEmail(r.Email)
	if err != nil {
		return Sent{}, err
	}
	tenantName, err := s.cfg.TenantName(ctx, r.TenantID)
	if err != nil {
		return Sent{}, err
	}
	code, err := newCode()
	if err != nil {
		return Sent{}, err
	}
	if r.NoAccount {
		if r.AccountExists || (r.Purpose != PurposeReset && r.Purpose != PurposeSignIn) {
			return Sent{}, &InvalidRequestError{Field: "purpose", Reason: "only a reset or a sign-in can stand in for a missing account"}
		}
		if code, err = untypeableCode(); err != nil {
			return Sent{}, err
		}
	}
	var msg gdmail.Message
	if r.AccountExists {
		if r.Purpose != PurposeSignUp {
			return Sent{}, &InvalidRequestError{Field: "purpose", Reason: "only a sign-up can notify an existing account"}
		}
		if code, err = untypeableCode(); err != nil {
			return Sent{}, err
		}
		msg, err = gdmail.RenderSignUpTaken(gdmail.TakenMail{To: email, Locale: r.Locale, TenantName: tenantName, AppName: r.AppName})
	} else {
		// A NoAccount send renders the mail it will not queue (with its
		// unknowable code): the same work, so its duration says less.
		msg, err = gdmail.RenderCode(gdmail.CodeMail{To: email, Locale: r.Locale, TenantName: tenantName,
			AppName: r.AppName, Purpose: r.Purpose, Code: code, Lifetime: s.cfg.TTL})
	}
	if err != nil {
		return Sent{}, err
	}
	now := s.cfg.Now()
	emailMAC := s.mac("email", r.TenantID, email)
	in := Issue{Key: k, EmailMAC: emailMAC, CodeMAC: s.codeMAC(k, emailMAC, code),
		SentAt: now, ExpiresAt: now.Add(s.cfg.TTL), HourAgo: now.Add(-time.Hour), Mail: msg, NoMail: r.NoAccount}
	err = s.cfg.Store.IssueCode(ctx, in, func(rc Recent) error {
		if !rc.BindingSentAt.IsZero() {
			if wait := rc.BindingSentAt.Add(s.cfg.ResendInterval).Sub(now); wait > 0 {
				return &ResendTooSoonError{RetryAfter: wait}
			}
		}
		if rc.AddressSends >= s.cfg.SendsPerHour {
			return &ResendTooSoonError{RetryAfter: max(rc.OldestAddressSend.Add(time.Hour).Sub(now), time.Second), HourlyCap: true}
		}
		return nil
	})
	if err != nil {
		return Sent{}, err
	}
	return Sent{CodeLength: CodeLength, Interval: s.cfg.ResendInterval, Lifetime: s.cfg.TTL, ChannelTarget: MaskEmail(email)}, nil
}

// Verify checks a code against the binding's. A right code is used up; a
// wrong one counts against MaxTries (the last wrong try kills the code).
func (s *Service) Verify(ctx context.Context, r VerifyRequest) error {
	k, err := s.key(r.TenantID, r.Purpose, r.Binding)
	if err != nil {
		return err
	}
	var emailMAC []byte
	if r.Email != "" {
		email, err := normalEmail(r.Email)
		if err != nil {
			return err
		}
		emailMAC = s.mac("email", r.TenantID, email)
	}
	code := strings.TrimSpace(r.Code)
	now := s.cfg.Now()
	return s.cfg.Store.AttemptCode(ctx, k, func(c *Code) Verdict {
		switch {
		case c == nil:
			return Verdict{Err: ErrNoCode}
		case emailMAC != nil && !hmac.Equal(emailMAC, c.EmailMAC):
			return Verdict{Err: ErrNoCode}
		case c.FailedTries >= MaxTries:
			return Verdict{Err: ErrTooManyTries}
		case !now.Before(c.ExpiresAt):
			return Verdict{Err: ErrExpired}
		}
		// Compare MACs, fixed length, in constant time: a code of another
		// length or with other characters is simply wrong.
		if hmac.Equal(s.codeMAC(k, c.EmailMAC, code), c.CodeMAC) {
			return Verdict{Consume: true}
		}
		left := MaxTries - c.FailedTries - 1
		if left <= 0 {
			return Verdict{Fail: true, Err: ErrTooManyTries}
		}
		return Verdict{Fail: true, Err: &WrongCodeError{Remaining: left}}
	})
}

// MaskEmail shows an address as Entra does in challenge_target_label:
// first letter of the local part and of the domain, and the top-level
// domain (jane@example.com -> j***@e***.com).
func MaskEmail(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return "***"
	}
	local, domain := email[:at], email[at+1:]
	tld := ""
	if dot := strings.LastIndexByte(domain, '.'); dot > 0 {
		tld = domain[dot:]
	}
	return firstRune(local) + "***@" + firstRune(domain) + "***" + tld
}

func firstRune(s string) string {
	for _, r := range s {
		return string(r)
	}
	return ""
}

// TTL is how long a code lives (the default filled in), for pages that
// say so.
func (s *Service) TTL() time.Duration { return s.cfg.TTL }
