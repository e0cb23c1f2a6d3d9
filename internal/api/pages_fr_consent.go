package api

import "maps"

// catalogueFRConsent is the consent page in French (consent.go,
// pages/consent.html), and the delegated scopes in the plain words the page
// lists them in (directory.ScopeDescription). It lives beside the main
// catalogue so that the consent strings stay together; init folds it in
// before any page is served, and TestPageCatalogues checks the union.
var catalogueFRConsent = map[string]string{
	"Accept": "Accepter",
	"Accept only if you trust this application. An administrator can remove the permission later.": "N'acceptez que si vous faites confiance à cette application. Un administrateur peut retirer l'autorisation plus tard.",
	"Cancel":                "Annuler",
	"Need admin approval":   "Approbation d'un administrateur requise",
	"Permissions requested": "Autorisations demandées",
	"Allow %s to:":          "Autoriser %s à :",
	"Only an administrator can give %s the permissions it asks for. Ask an administrator to grant them, then try again.": "Seul un administrateur peut accorder à %s les autorisations demandées. Demandez-les à un administrateur, puis réessayez.",

	// The delegated scopes.
	"Sign you in":                        "Vous connecter",
	"See your basic profile (your name)": "Voir votre profil de base (votre nom)",
	"See your email address":             "Voir votre adresse e-mail",
	"Keep access to what you allow, also when you are not using the application": "Conserver l'accès à ce que vous autorisez, même quand vous n'utilisez pas l'application",
	"Read your profile":                         "Lire votre profil",
	"Read and update your profile":              "Lire et modifier votre profil",
	"Read the basic profiles of all users":      "Lire les profils de base de tous les utilisateurs",
	"Read the full profiles of all users":       "Lire les profils complets de tous les utilisateurs",
	"Read and change the profiles of all users": "Lire et modifier les profils de tous les utilisateurs",
	"Read the whole directory":                  "Lire tout l'annuaire",
	"Read and change the whole directory":       "Lire et modifier tout l'annuaire",
}

func init() { maps.Copy(catalogueFR, catalogueFRConsent) }
