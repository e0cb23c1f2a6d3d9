package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// User consent (issue 14, Entra's user consent): a sign-in that asks for
// delegated scopes the application holds no tenant-wide consent for, and
// that the user has not granted it, ends on a consent page instead of
// going back to the client. Accept stores the user's grant (Graph's
// oauth2PermissionGrant, consentType Principal) and sends the code;
// Cancel sends access_denied. A scope only an administrator may grant gets
// an error page. The token endpoint honours the grant (internal/oauth).

// flowKindConsent is the consent page's flow: it carries the validated
// request, the session it was shown for and the scopes Accept grants.
const flowKindConsent = "browser-consent"

// ConsentGrants records and reads users' own consent
// (*directory.PermissionGrants).
type ConsentGrants interface {
	UserConsentedScopes(ctx context.Context, tenantID, clientID, userID string) ([]string, error)
	ConsentForUser(ctx context.Context, tenantID, clientID, userID string, scopes []string) error
}

// issueCode issues a code for the session and sends it to the client,
// unless the user must consent first (askConsent answered).
func (s *server) issueCode(c *gin.Context, req oauth.AuthRequest, sess *directory.BrowserSession, app *directory.Application) {
	if s.askConsent(c, req, sess, app) {
		return
	}
	s.mintCode(c, req, sess, app)
}

// askConsent decides whether the signed-in user must consent before a
// code is issued, and if so answers: consent_required for prompt=none, the
// admin-approval page for scopes a user cannot grant, else the consent
// page. It reports whether it answered.
func (s *server) askConsent(c *gin.Context, req oauth.AuthRequest, sess *directory.BrowserSession, app *directory.Application) bool {
	missing := app.Unconsented(req.Scopes)
	if len(missing) == 0 && !req.ForceConsent {
		return false // tenant-wide consent covers it: no query
	}
	if s.browser.Grants == nil {
		// User consent is not wired: tenant-wide consent is the only kind.
		if len(missing) > 0 {
			s.respondError(c, req, oauth.CodeInvalidScope, "The application has no consent for the scope '"+missing[0]+"'; add it to the application's requiredResourceAccess.")
			return true
		}
		return false
	}
	ctx := c.Request.Context()
	if len(missing) > 0 {
		mine, err := s.browser.Grants.UserConsentedScopes(ctx, req.TenantID, req.ClientID, sess.UserID)
		if err != nil {
			s.respondError(c, req, oauth.CodeServerError, "The user's consent could not be read.")
			return true
		}
		missing = slices.DeleteFunc(missing, func(sc string) bool { return slices.Contains(mine, sc) })
	}
	if len(missing) == 0 && !req.ForceConsent {
		return false
	}
	if req.Prompt == "none" {
		s.respondError(c, req, "consent_required", "The user or administrator has not consented to use the application with the requested scopes. Send an interactive authorization request for this user and resource.")
		return true
	}
	if slices.ContainsFunc(missing, directory.ScopeNeedsAdmin) {
		// Never a redirect: the user can do nothing about it, and the
		// application learns it from its administrator.
		s.renderPage(c, http.StatusForbidden, "message", pageData{Title: "Need admin approval", Error: "1", TraceID: requestIDs(c).requestID,
			Message: tr(c, "Only an administrator can give %s the permissions it asks for. Ask an administrator to grant them, then try again.", appName(app))}, "")
		return true
	}
	// prompt=consent shows every requested scope; otherwise the missing
	// ones. Accept grants those without tenant-wide consent.
	shown := missing
	if req.ForceConsent {
		shown = req.Scopes
	}
	raw, err := json.Marshal(req)
	if err != nil {
		s.respondError(c, req, oauth.CodeServerError, "The consent could not be started.")
		return true
	}
	csrf := randomToken()
	fl := directory.SignInFlow{TenantID: req.TenantID, ClientID: req.ClientID, Kind: flowKindConsent, Step: "consent", UserID: sess.UserID,
		Data: map[string]string{"req": string(raw), "csrf": shaString(csrf), "bind": shaString(bindToken(c)), "session": sess.ID,
			"grant": strings.Join(userGrantable(app.Unconsented(shown)), " ")}}
	handle, fl, err := s.browser.Flows.Start(ctx, fl)
	if err != nil {
		s.respondError(c, req, oauth.CodeServerError, "The consent could not be started.")
		return true
	}
	lang := pageLang(c)
	perms := make([]string, len(shown))
	for i, sc := range shown {
		perms[i] = translate(lang, directory.ScopeDescription(sc))
	}
	s.renderPage(c, http.StatusOK, "consent", pageData{Title: "Permissions requested", AppName: appName(app),
		Intro:  tr(c, "Allow %s to:", appName(app)),
		Action: "/" + fl.TenantID + "/oauth2/v2.0/consent", Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Permissions: perms},
		cspSource(req.RedirectURI))
	return true
}

// handleConsent serves POST /{tenant}/oauth2/v2.0/consent: the consent
// page's Accept and Cancel. The flow is spent either way; the browser's
// session must still be the one the page was shown for.
func (s *server) handleConsent(c *gin.Context) {
	tenant, form, fl, ok := s.pagePost(c, s.browser != nil && s.browser.Grants != nil, flowKindConsent)
	if !ok {
		return
	}
	req, err := flowRequest(fl)
	if err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	decision := form["decision"]
	if decision != "accept" && decision != "cancel" {
		s.errorPage(c, http.StatusBadRequest, "Request refused", "The form could not be read.")
		return
	}
	ctx := c.Request.Context()
	if err := s.browser.Flows.Finish(ctx, tenant, form["flow"]); err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	if decision == "cancel" {
		// Entra's AADSTS65004.
		s.respondError(c, req, "access_denied", "AADSTS65004: The user declined to consent to access the app.")
		return
	}
	sess, err := s.currentSession(c, tenant)
	switch {
	case err != nil:
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	case sess == nil || sess.ID != fl.Data["session"] || sess.UserID != fl.UserID:
		// Signed out (or in as someone else) since the page was shown.
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	app, err := s.browser.Apps.ClientApplication(ctx, tenant, req.ClientID)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "Application not found", "The application is no longer registered in this directory.")
		return
	}
	if err := s.browser.Grants.ConsentForUser(ctx, tenant, req.ClientID, sess.UserID, strings.Fields(fl.Data["grant"])); err != nil {
		s.respondError(c, req, oauth.CodeServerError, "The consent could not be recorded.")
		return
	}
	s.mintCode(c, req, sess, app)
}

// userGrantable drops the scopes a user cannot grant: with prompt=consent
// the page may list one an administrator granted every user, which the
// user's own grant need not (and may not) repeat.
func userGrantable(scopes []string) []string {
	return slices.DeleteFunc(slices.Clone(scopes), directory.ScopeNeedsAdmin)
}
