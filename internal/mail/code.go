package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"golang.org/x/text/language"
)

// Purposes of a one-time code; each has its own opening line.
const (
	PurposeSignUp      = "signup"
	PurposeSignIn      = "signin"
	PurposeReset       = "reset"
	PurposeMFA         = "mfa"
	PurposeVerifyEmail = "verify-email"
)

// CodeMail is what a one-time-code message says.
type CodeMail struct {
	To string
	// Locale is an Accept-Language header or a ui_locales value (space
	// separated); the best supported language is chosen, else English.
	Locale     string
	TenantName string
	AppName    string
	Purpose    string
	Code       string
	Lifetime   time.Duration
}

// texts is one language's wording. %[1]s is the app, %[2]s the tenant.
type texts struct {
	subject  string // %[1]s app, %[2]s tenant
	intro    map[string]string
	codeLine string
	lifetime string // %d minutes
	ignore   string
	sign     string // %s tenant
}

var supported = []language.Tag{language.English, language.French, language.German}

var matcher = language.NewMatcher(supported)

var wording = map[language.Tag]texts{
	language.English: {
		subject: "Your %[2]s verification code",
		intro: map[string]string{
			PurposeSignUp:      "You are creating an account with %[2]s to use %[1]s.",
			PurposeSignIn:      "You are signing in to %[1]s with your %[2]s account.",
			PurposeReset:       "You asked to reset the password of your %[2]s account used for %[1]s.",
			PurposeMFA:         "You are verifying your identity to sign in to %[1]s with your %[2]s account.",
			PurposeVerifyEmail: "You are verifying this email address for your %[2]s account used with %[1]s.",
		},
		codeLine: "Your code is:",
		lifetime: "It expires in %d minutes.",
		ignore:   "If you did not ask for this code, you can ignore this email. Never share it with anyone.",
		sign:     "%s",
	},
	language.French: {
		subject: "Votre code de vérification %[2]s",
		intro: map[string]string{
			PurposeSignUp:      "Vous créez un compte %[2]s pour utiliser %[1]s.",
			PurposeSignIn:      "Vous vous connectez à %[1]s avec votre compte %[2]s.",
			PurposeReset:       "Vous avez demandé la réinitialisation du mot de passe de votre compte %[2]s utilisé pour %[1]s.",
			PurposeMFA:         "Vous confirmez votre identité pour vous connecter à %[1]s avec votre compte %[2]s.",
			PurposeVerifyEmail: "Vous vérifiez cette adresse e-mail pour votre compte %[2]s utilisé avec %[1]s.",
		},
		codeLine: "Votre code est :",
		lifetime: "Il expire dans %d minutes.",
		ignore:   "Si vous n'avez pas demandé ce code, ignorez cet e-mail. Ne le communiquez à personne.",
		sign:     "%s",
	},
	language.German: {
		subject: "Ihr %[2]s-Bestätigungscode",
		intro: map[string]string{
			PurposeSignUp:      "Sie erstellen ein Konto bei %[2]s, um %[1]s zu nutzen.",
			PurposeSignIn:      "Sie melden sich mit Ihrem %[2]s-Konto bei %[1]s an.",
			PurposeReset:       "Sie haben das Zurücksetzen des Kennworts Ihres %[2]s-Kontos für %[1]s angefordert.",
			PurposeMFA:         "Sie bestätigen Ihre Identität, um sich mit Ihrem %[2]s-Konto bei %[1]s anzumelden.",
			PurposeVerifyEmail: "Sie bestätigen diese E-Mail-Adresse für Ihr %[2]s-Konto, das Sie mit %[1]s verwenden.",
		},
		codeLine: "Ihr Code lautet:",
		lifetime: "Er läuft in %d Minuten ab.",
		ignore:   "Wenn Sie diesen Code nicht angefordert haben, ignorieren Sie diese E-Mail. Geben Sie ihn niemals weiter.",
		sign:     "%s",
	},
}

// Language picks the supported language for an Accept-Language header or
// a ui_locales value, English when nothing matches or the input is garbage.
func Language(locale string) language.Tag {
	// ui_locales separates with spaces, Accept-Language with commas.
	tags, _, err := language.ParseAcceptLanguage(strings.Join(strings.Fields(locale), ","))
	if err != nil || len(tags) == 0 {
		return language.English
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return language.English
	}
	return supported[i]
}

type codeView struct {
	Lang, Subject, Intro, CodeLine, Code, Lifetime, Ignore, Sign string
}

var textTmpl = texttemplate.Must(texttemplate.New("text").Parse(`{{.Intro}}

{{.CodeLine}} {{.Code}}

{{.Lifetime}}

{{.Ignore}}

{{.Sign}}
`))

var htmlTmpl = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5">
<p>{{.Intro}}</p>
<p>{{.CodeLine}}</p>
<p style="font-size: 1.6em; font-weight: bold; letter-spacing: 0.2em">{{.Code}}</p>
<p>{{.Lifetime}}</p>
<p>{{.Ignore}}</p>
<p>{{.Sign}}</p>
</body>
</html>
`))

// RenderCode renders the one-time-code message: plain text and HTML, in
// the best language for c.Locale. It names the app and tenant that asked
// and the code's lifetime, and holds no link: the code alone signs nobody in.
func RenderCode(c CodeMail) (Message, error) {
	tag := Language(c.Locale)
	w := wording[tag]
	intro, ok := w.intro[c.Purpose]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown code purpose %q", c.Purpose)
	}
	tenant := oneLine(c.TenantName)
	app := oneLine(c.AppName)
	if app == "" {
		app = tenant
	}
	minutes := int((c.Lifetime + time.Minute - 1) / time.Minute)
	v := codeView{
		Lang:     tag.String(),
		Subject:  fmt.Sprintf(w.subject, app, tenant),
		Intro:    fmt.Sprintf(intro, app, tenant),
		CodeLine: w.codeLine,
		Code:     c.Code,
		Lifetime: fmt.Sprintf(w.lifetime, minutes),
		Ignore:   w.ignore,
		Sign:     fmt.Sprintf(w.sign, tenant),
	}
	var text, html bytes.Buffer
	if err := textTmpl.Execute(&text, v); err != nil {
		return Message{}, err
	}
	if err := htmlTmpl.Execute(&html, v); err != nil {
		return Message{}, err
	}
	return Message{FromName: tenant, To: c.To, Subject: v.Subject, Text: text.String(), HTML: html.String()}, nil
}

// oneLine keeps names (which tenants and app owners choose) from adding
// lines or headers: control characters become spaces, and length is bounded.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120])
	}
	return s
}
