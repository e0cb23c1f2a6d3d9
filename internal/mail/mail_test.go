package mail_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/logtest"
	"github.com/graphdir/graphdir/internal/mail"
	"github.com/graphdir/graphdir/internal/mail/smtptest"
)

const wait = 20 * time.Second

func codeMessage(t *testing.T, locale string) mail.Message {
	t.Helper()
	m, err := mail.RenderCode(mail.CodeMail{To: "jane@example.test", Locale: locale, TenantName: "Contoso Ltd",
		AppName: "Contoso Shop", Purpose: mail.PurposeSignIn, Code: "04817263", Lifetime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sender(t *testing.T, srv *smtptest.Server, cfg mail.SMTPConfig) *mail.SMTP {
	t.Helper()
	cfg.Host, cfg.Port, cfg.From = srv.Host, srv.Port, "no-reply@graphdir.test"
	if cfg.StartTLS == "" {
		cfg.StartTLS = "none"
	}
	cfg.TLSConfig = srv.ClientTLS
	s, err := mail.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSMTP_DeliversTextAndHTMLInTheChosenLanguage(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := sender(t, srv, mail.SMTPConfig{})
	for _, c := range []struct{ locale, subject, text string }{
		{"fr-CA,fr;q=0.9,en;q=0.5", "Votre code de vérification Contoso Ltd", "Votre code est : 04817263"},
		{"de", "Ihr Contoso Ltd-Bestätigungscode", "Ihr Code lautet: 04817263"},
		{"en-GB,en;q=0.8", "Your Contoso Ltd verification code", "Your code is: 04817263"},
		{"ja", "Your Contoso Ltd verification code", "Your code is: 04817263"},
	} {
		if err := s.Send(context.Background(), codeMessage(t, c.locale)); err != nil {
			t.Fatalf("%s: %v", c.locale, err)
		}
		got := srv.Wait(t, wait)
		p, err := got.Parse()
		if err != nil {
			t.Fatal(err)
		}
		if p.ContentType != "multipart/alternative" || p.Text == "" || p.HTML == "" {
			t.Fatalf("%s: content type %q, text %d bytes, html %d bytes; want multipart/alternative with both", c.locale, p.ContentType, len(p.Text), len(p.HTML))
		}
		if p.Subject != c.subject {
			t.Errorf("%s: subject %q, want %q", c.locale, p.Subject, c.subject)
		}
		if !strings.Contains(p.Text, c.text) || !strings.Contains(p.HTML, "04817263") {
			t.Errorf("%s: text %q / html %q lack the code line %q", c.locale, p.Text, p.HTML, c.text)
		}
		if !strings.Contains(p.Text, "Contoso Shop") || !strings.Contains(p.Text, "10") {
			t.Errorf("%s: the text names neither the app nor the lifetime: %q", c.locale, p.Text)
		}
		if strings.Contains(p.Text, "http") || strings.Contains(p.HTML, "href") {
			t.Errorf("%s: the message holds a link", c.locale)
		}
		if len(got.To) != 1 || got.To[0] != "jane@example.test" || got.From != "no-reply@graphdir.test" {
			t.Errorf("%s: envelope %s -> %v", c.locale, got.From, got.To)
		}
		if from := p.Header.Get("From"); !strings.Contains(from, "Contoso Ltd") {
			t.Errorf("%s: From %q does not show the tenant's name", c.locale, from)
		}
	}
}

func TestSMTP_STARTTLSMandatoryWithAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.StartTLS, Username: "relay", Password: "s3cret pass"})
	s := sender(t, srv, mail.SMTPConfig{StartTLS: "mandatory", Username: "relay", Password: "s3cret pass"})
	if err := s.Send(context.Background(), codeMessage(t, "en")); err != nil {
		t.Fatal(err)
	}
	srv.Wait(t, wait)

	bad := sender(t, srv, mail.SMTPConfig{StartTLS: "mandatory", Username: "relay", Password: "wrong"})
	err := bad.Send(context.Background(), codeMessage(t, "en"))
	if err == nil {
		t.Fatal("a wrong SMTP password was accepted")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestSMTP_ImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Mode: smtptest.Implicit})
	s := sender(t, srv, mail.SMTPConfig{ImplicitTLS: true})
	if err := s.Send(context.Background(), codeMessage(t, "en")); err != nil {
		t.Fatal(err)
	}
	srv.Wait(t, wait)
}

func TestSMTP_MandatorySTARTTLSRefusesAServerWithoutIt(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := sender(t, srv, mail.SMTPConfig{StartTLS: "mandatory"})
	if err := s.Send(context.Background(), codeMessage(t, "en")); err == nil {
		t.Fatal("mail went out in clear text under starttls=mandatory")
	}
	if n := srv.Accepted(); n != 0 {
		t.Fatalf("the server accepted %d messages", n)
	}
}

func TestRenderCode_EscapesNamesInHTMLAndKeepsThemToOneLine(t *testing.T) {
	m, err := mail.RenderCode(mail.CodeMail{To: "a@b.test", TenantName: "<script>alert(1)</script>\r\nBcc: x@evil.test",
		AppName: `"><img src=x>`, Purpose: mail.PurposeSignUp, Code: "12345678", Lifetime: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<img") {
		t.Errorf("HTML not escaped: %s", m.HTML)
	}
	if strings.ContainsAny(m.Subject, "\r\n") || strings.ContainsAny(m.FromName, "\r\n") {
		t.Errorf("a name broke the header line: subject %q, from %q", m.Subject, m.FromName)
	}
	if _, err := mail.RenderCode(mail.CodeMail{Purpose: "bogus"}); err == nil {
		t.Error("an unknown purpose rendered")
	}
}

func TestLanguage_MatchesAcceptLanguageAndUILocales(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "en",
		"fr":                      "fr",
		"fr-CA":                   "fr",
		"de-AT,en;q=0.5":          "de",
		"es,fr;q=0.7":             "fr",
		"de fr":                   "de", // ui_locales: space separated
		"*":                       "en",
		"zz-invalid-;;;q=x, \x00": "en",
	} {
		if got := mail.Language(in).String(); got != want {
			t.Errorf("Language(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestDevOutbox_WritesAMarkedLogLine(t *testing.T) {
	var buf logtest.Buffer
	d := mail.DevOutbox{Log: slog.New(slog.NewJSONHandler(&buf, nil))}
	if err := d.Send(context.Background(), codeMessage(t, "en")); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, mail.DevOutboxMarker) || !strings.Contains(out, `"outbox":"development"`) || !strings.Contains(out, "04817263") {
		t.Fatalf("dev outbox log line: %s", out)
	}
}

func TestBackoff_GrowsAndIsCapped(t *testing.T) {
	if d := mail.Backoff(1); d < 8*time.Second || d > 12*time.Second {
		t.Errorf("first backoff %s", d)
	}
	if d := mail.Backoff(3); d < 32*time.Second || d > 48*time.Second {
		t.Errorf("third backoff %s", d)
	}
	if d := mail.Backoff(30); d > 6*time.Minute {
		t.Errorf("backoff not capped: %s", d)
	}
}

// TestRenderSignUpTaken: the existing-account notice in each language
// names the app and tenant, says what to do (sign in, or reset the
// password) and holds no digits, link or secret.
func TestRenderSignUpTaken(t *testing.T) {
	for _, c := range []struct{ locale, subject, reset string }{
		{"en-US", "Someone tried to create a Contoso Ltd account with your email address", `"Forgot your password?"`},
		{"fr-CA,fr;q=0.9", "Quelqu'un a tenté de créer un compte Contoso Ltd avec votre adresse e-mail", "« Mot de passe oublié ? »"},
		{"de", "Jemand hat versucht, mit Ihrer E-Mail-Adresse ein Contoso Ltd-Konto zu erstellen", "„Kennwort vergessen?“"},
	} {
		m, err := mail.RenderSignUpTaken(mail.TakenMail{To: "jane@example.test", Locale: c.locale, TenantName: "Contoso Ltd", AppName: "Contoso Shop"})
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != c.subject || m.To != "jane@example.test" || m.FromName != "Contoso Ltd" {
			t.Errorf("%s: %+v", c.locale, m)
		}
		if !strings.Contains(m.Text, "Contoso Shop") || !strings.Contains(m.Text, c.reset) || !strings.Contains(m.HTML, "Contoso Shop") {
			t.Errorf("%s: text %q", c.locale, m.Text)
		}
		if strings.ContainsAny(m.Text, "0123456789") || strings.Contains(m.Text, "http") || strings.Contains(m.HTML, "href") {
			t.Errorf("%s: the notice holds digits or a link: %q", c.locale, m.Text)
		}
	}
}
