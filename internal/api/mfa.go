package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// startMFA follows a correct password when the sign-in needs a second
// factor (the user flow's graphdirMfaRequired, or a claims step-up): the
// flow moves to its "mfa" step under a new handle, a code goes to the
// user's sign-in email, and the code page is shown.
func (s *server) startMFA(c *gin.Context, form map[string]string, fl directory.SignInFlow, req oauth.AuthRequest, app *directory.Application, u *directory.User) {
	ctx := c.Request.Context()
	var g oauth.UserGrant
	oauth.ProfileClaims(&g, u)
	if g.Email == "" {
		s.respondError(c, req, "interaction_required", "Multifactor authentication is required but the account has no email address to send a code to.")
		return
	}
	fl.Step, fl.UserID, fl.Username, fl.AMR = "mfa", strings.ToLower(u.ID), g.Email, []string{"pwd"}
	// The sign-in log names the account as Graph does (its UPN).
	if u.UserPrincipalName != nil {
		fl.Data["upn"] = *u.UserPrincipalName
	}
	if u.DisplayName != nil {
		fl.Data["name"] = *u.DisplayName
	}
	handle, fl, err := s.browser.Flows.Advance(ctx, form["flow"], fl)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	if err := s.browser.EmailCodes.SendCode(ctx, fl.TenantID, fl.ID, g.Email, req.UILocales, appName(app)); err != nil {
		s.errorPage(c, http.StatusServiceUnavailable, "We could not send your code", "Please try again in a few minutes.")
		return
	}
	s.renderMFA(c, http.StatusOK, fl, handle, form["csrf_token"], req, "")
}

func (s *server) renderMFA(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf string, req oauth.AuthRequest, errText string) {
	s.renderPage(c, status, "mfa", pageData{Title: "Enter your code", Message: "We sent a code to your email address. Enter it to finish signing in.",
		Action: "/" + fl.TenantID + "/oauth2/v2.0/verify", Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Error: errText}, cspSource(req.RedirectURI))
}

// handleVerify serves POST /{tenant}/oauth2/v2.0/verify: the MFA code
// page's form. A right code ends the flow in a session whose amr shows
// MFA, and the code goes to the client (303).
func (s *server) handleVerify(c *gin.Context) {
	tenant, form, fl, ok := s.pagePost(c, s.browser != nil && s.browser.EmailCodes != nil, flowKindBrowser)
	if !ok {
		return
	}
	req, err := flowRequest(fl)
	if fl.Step != "mfa" || fl.UserID == "" || err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	ctx := c.Request.Context()
	code := strings.TrimSpace(form["code"])
	if code == "" || len(code) > 16 {
		s.renderMFA(c, http.StatusBadRequest, fl, form["flow"], form["csrf_token"], req, "Enter the code from the email.")
		return
	}
	app, err := s.browser.Apps.ClientApplication(ctx, tenant, req.ClientID)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "Application not found", "The application is no longer registered in this directory.")
		return
	}
	outcome := MFAOutcome{TenantID: tenant, UserID: fl.UserID, UserPrincipalName: fl.Data["upn"], UserDisplayName: fl.Data["name"],
		ClientID: req.ClientID, AppDisplayName: appName(app), IP: c.ClientIP()}
	if err := s.browser.EmailCodes.CheckCode(ctx, tenant, fl.ID, fl.Username, code); err != nil {
		var ref *CodeRefusal
		if errors.As(err, &ref) {
			outcome.ErrorCode, outcome.FailureReason = mfaFailed, "Authentication failed during strong authentication request: the one-time code was wrong or expired."
			if !s.recordMFA(c, outcome) {
				return
			}
		}
		switch {
		case errors.As(err, &ref) && ref.Wrong:
			s.renderMFA(c, http.StatusBadRequest, fl, form["flow"], form["csrf_token"], req, "That code is not right. Check the email and try again.")
		case errors.As(err, &ref):
			s.errorPage(c, http.StatusBadRequest, "This code can no longer be used", "It has expired or was tried too many times. Go back to the application and sign in again.")
		default:
			s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		}
		return
	}
	if !s.recordMFA(c, outcome) {
		return
	}
	if err := s.browser.Flows.Finish(ctx, tenant, form["flow"]); err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	sess, ok := s.startSession(c, tenant, fl.UserID, []string{"pwd", "otp", "mfa"})
	if !ok {
		return
	}
	s.issueCode(c, req, sess, app)
}

// mfaFailed is Entra's AADSTS500121, "Authentication failed during strong
// authentication request".
const mfaFailed = 500121

// recordMFA writes the MFA step to the sign-in log; a sign-in that cannot
// be logged does not go on (no unlogged sign-in).
func (s *server) recordMFA(c *gin.Context, o MFAOutcome) bool {
	if s.browser.Log == nil {
		return true
	}
	if err := s.browser.Log.RecordMFA(c.Request.Context(), o); err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return false
	}
	return true
}
