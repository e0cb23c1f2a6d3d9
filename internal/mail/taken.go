package mail

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	texttemplate "text/template"

	"golang.org/x/text/language"
)

// TakenMail is the notice a hosted sign-up sends instead of a code when
// the address already has an account: the page cannot say so (no
// enumeration), so the address's owner learns it by mail, where only
// they can read it.
type TakenMail struct {
	To string
	// Locale is an Accept-Language header or a ui_locales value, as for
	// CodeMail.
	Locale     string
	TenantName string
	AppName    string
}

// takenTexts is one language's notice. %[1]s is the app, %[2]s the tenant.
type takenTexts struct {
	subject, intro, noAccount, signIn, notYou string
}

var takenWording = map[language.Tag]takenTexts{
	language.English: {
		subject:   "Someone tried to create a %[2]s account with your email address",
		intro:     "Someone tried to create an account with %[2]s for %[1]s using this email address.",
		noAccount: "This address already has an account, so no new account was created and nothing was changed.",
		signIn:    "If it was you: sign in to %[1]s with your existing account. If you have forgotten your password, choose \"Forgot your password?\" on the sign-in page to reset it.",
		notYou:    "If it was not you, you can ignore this email. Your account is unchanged, and nobody can sign in with this email alone.",
	},
	language.French: {
		subject:   "Quelqu'un a tenté de créer un compte %[2]s avec votre adresse e-mail",
		intro:     "Quelqu'un a tenté de créer un compte %[2]s pour %[1]s avec cette adresse e-mail.",
		noAccount: "Cette adresse a déjà un compte : aucun nouveau compte n'a été créé et rien n'a été modifié.",
		signIn:    "Si c'était vous : connectez-vous à %[1]s avec votre compte existant. Si vous avez oublié votre mot de passe, choisissez « Mot de passe oublié ? » sur la page de connexion pour le réinitialiser.",
		notYou:    "Si ce n'était pas vous, ignorez cet e-mail. Votre compte n'a pas changé, et personne ne peut se connecter avec ce seul e-mail.",
	},
	language.German: {
		subject:   "Jemand hat versucht, mit Ihrer E-Mail-Adresse ein %[2]s-Konto zu erstellen",
		intro:     "Jemand hat versucht, mit dieser E-Mail-Adresse ein Konto bei %[2]s für %[1]s zu erstellen.",
		noAccount: "Für diese Adresse gibt es bereits ein Konto. Es wurde kein neues Konto erstellt und nichts geändert.",
		signIn:    "Wenn Sie es waren: Melden Sie sich mit Ihrem bestehenden Konto bei %[1]s an. Wenn Sie Ihr Kennwort vergessen haben, wählen Sie auf der Anmeldeseite „Kennwort vergessen?“, um es zurückzusetzen.",
		notYou:    "Wenn Sie es nicht waren, können Sie diese E-Mail ignorieren. Ihr Konto ist unverändert, und mit dieser E-Mail allein kann sich niemand anmelden.",
	},
}

type takenView struct {
	Lang, Subject, Intro, NoAccount, SignIn, NotYou, Sign string
}

var takenText = texttemplate.Must(texttemplate.New("text").Parse(`{{.Intro}}

{{.NoAccount}}

{{.SignIn}}

{{.NotYou}}

{{.Sign}}
`))

var takenHTML = htmltemplate.Must(htmltemplate.New("html").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: sans-serif; line-height: 1.5">
<p>{{.Intro}}</p>
<p>{{.NoAccount}}</p>
<p>{{.SignIn}}</p>
<p>{{.NotYou}}</p>
<p>{{.Sign}}</p>
</body>
</html>
`))

// RenderSignUpTaken renders the "someone tried to sign up with your
// address" notice, in the best language for t.Locale. Like the code mail
// it names the app and tenant and holds no link; unlike it, it holds no
// secret at all: it only tells the owner what happened and what to do.
func RenderSignUpTaken(t TakenMail) (Message, error) {
	tag := Language(t.Locale)
	w, ok := takenWording[tag]
	if !ok {
		return Message{}, fmt.Errorf("mail: no sign-up notice in %s", tag)
	}
	tenant := oneLine(t.TenantName)
	app := oneLine(t.AppName)
	if app == "" {
		app = tenant
	}
	v := takenView{
		Lang:      tag.String(),
		Subject:   fmt.Sprintf(w.subject, app, tenant),
		Intro:     fmt.Sprintf(w.intro, app, tenant),
		NoAccount: w.noAccount,
		SignIn:    fmt.Sprintf(w.signIn, app, tenant),
		NotYou:    w.notYou,
		Sign:      tenant,
	}
	var text, html bytes.Buffer
	if err := takenText.Execute(&text, v); err != nil {
		return Message{}, err
	}
	if err := takenHTML.Execute(&html, v); err != nil {
		return Message{}, err
	}
	return Message{FromName: tenant, To: t.To, Subject: v.Subject, Text: text.String(), HTML: html.String()}, nil
}
