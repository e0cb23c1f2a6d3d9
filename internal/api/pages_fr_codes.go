package api

// The French of the code pages' resend control and of the MFA address
// registration (kept apart from pages_fr.go so that pages added in
// parallel merge without touching the same lines).
func init() {
	for en, fr := range map[string]string{
		// Templates.
		"Add an email for verification codes":  "Ajoutez une adresse e-mail pour les codes de vérification",
		"Email address for verification codes": "Adresse e-mail pour les codes de vérification",
		"Send a new code":                      "Envoyer un nouveau code",
		"This application asks for a second check when you sign in: a code sent by email. Enter the address the codes should go to. We will send a code there to confirm it.": "Cette application demande une seconde vérification à la connexion : un code envoyé par e-mail. Saisissez l'adresse à laquelle envoyer les codes. Nous y enverrons un code pour la confirmer.",

		// Messages set by the handlers.
		"A code is valid for %s minutes. No email? Check your spam folder, or ask for a new code.": "Un code est valable %s minutes. Pas d'e-mail ? Vérifiez votre dossier de courrier indésirable, ou demandez un nouveau code.",
		"A new code was sent moments ago.":                                                              "Un nouveau code vient d'être envoyé.",
		"Too many codes were sent to this address in the last hour.":                                    "Trop de codes ont été envoyés à cette adresse au cours de la dernière heure.",
		"Wait 1 second, then ask for a new code.":                                                       "Patientez 1 seconde, puis demandez un nouveau code.",
		"Wait %s seconds, then ask for a new code.":                                                     "Patientez %s secondes, puis demandez un nouveau code.",
		"Wait %s minutes, then ask for a new code.":                                                     "Patientez %s minutes, puis demandez un nouveau code.",
		"We sent a new code. Codes sent before it no longer work.":                                      "Nous avons envoyé un nouveau code. Les codes envoyés avant lui ne fonctionnent plus.",
		"We sent a code to %s. Enter it to confirm the address: your verification codes will go there.": "Nous avons envoyé un code à %s. Saisissez-le pour confirmer l'adresse : vos codes de vérification y seront envoyés.",
		"Go back to the application and sign in again.":                                                 "Revenez à l'application et reconnectez-vous.",
		"Your account changed meanwhile":                                                                "Votre compte a été modifié entre-temps",
	} {
		catalogueFR[en] = fr
	}
}
