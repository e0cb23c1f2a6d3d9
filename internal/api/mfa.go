package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// The hosted MFA steps. A second factor is an email code sent to the
// account's MFA address (directory's CustomerMFAEmail, as native
// authentication uses it). An account without one registers it first,
// just in time: the page asks for an address, a code proves it, and it is
// recorded with RegisterMFAEmail, the store native authentication's
// register/v1.0 writes to. That code sent to a new address, on top of the
// password, is the second factor of this sign-in.
const (
	stepMFA        = "mfa"
	stepMFAReg     = "mfareg"
	stepMFARegCode = "mfareg-code"
	// dataMFARegTo is the address being registered.
	dataMFARegTo = "mfareg_to"
)

// startMFA follows a correct password when the sign-in needs a second
// factor (the user flow's graphdirMfaRequired, or a claims step-up): the
// flow moves on under a new handle to the MFA code page (a code goes to
// the account's MFA address) or, when the account has none, to the page
// that registers one.
func (s *server) startMFA(c *gin.Context, form map[string]string, fl directory.SignInFlow, req oauth.AuthRequest, app *directory.Application, u *directory.User) {
	ctx := c.Request.Context()
	if s.browser.MFAMethods == nil {
		s.respondError(c, req, "interaction_required", "Multifactor authentication is required but the pages cannot read MFA methods.")
		return
	}
	addr, err := s.browser.MFAMethods.CustomerMFAEmail(ctx, fl.TenantID, u.ID)
	if err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	var g oauth.UserGrant
	oauth.ProfileClaims(&g, u)
	fl.UserID, fl.AMR = strings.ToLower(u.ID), []string{"pwd"}
	// The sign-in log names the account as Graph does (its UPN).
	if u.UserPrincipalName != nil {
		fl.Data["upn"] = *u.UserPrincipalName
	}
	if u.DisplayName != nil {
		fl.Data["name"] = *u.DisplayName
	}
	if addr == "" {
		if s.browser.FlowCodes == nil {
			s.respondError(c, req, "interaction_required", "Multifactor authentication is required but the account has no MFA email and mail is not configured.")
			return
		}
		// The sign-in email is offered as the address (the same login_hint
		// native authentication's register/v1.0/introspect gives).
		fl.Step, fl.Username = stepMFAReg, g.Email
		handle, fl, err := s.browser.Flows.Advance(ctx, form["flow"], fl)
		if err != nil {
			s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
			return
		}
		s.renderMFAReg(c, http.StatusOK, fl, handle, form["csrf_token"], g.Email, "")
		return
	}
	fl.Step, fl.Username = stepMFA, addr
	handle, fl, err := s.browser.Flows.Advance(ctx, form["flow"], fl)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	if err := s.browser.EmailCodes.SendCode(ctx, fl.TenantID, fl.ID, addr, req.UILocales, appName(app)); err != nil {
		s.errorPage(c, http.StatusServiceUnavailable, "We could not send your code", "Please try again in a few minutes.")
		return
	}
	s.renderMFA(c, http.StatusOK, fl, handle, form["csrf_token"], req, "")
}

func (s *server) renderMFA(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf string, req oauth.AuthRequest, errText string) {
	s.renderPage(c, status, "mfa", pageData{Title: "Enter your code", Message: "We sent a code to your email address. Enter it to finish signing in.",
		Action: "/" + fl.TenantID + "/oauth2/v2.0/verify", Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Error: errText}, cspSource(req.RedirectURI))
}

func (s *server) renderMFAReg(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf, email, errText string) {
	s.renderPage(c, status, "mfareg", pageData{Title: "Add an email for verification codes", Action: "/" + fl.TenantID + "/oauth2/v2.0/mfareg",
		Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Username: email, Error: errText}, cspSource(redirectOf(fl)))
}

func (s *server) renderMFARegCode(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf, errText string) {
	s.renderPage(c, status, "code", pageData{Title: "Enter your code", Heading: "Enter your code", Action: "/" + fl.TenantID + "/oauth2/v2.0/mfareg",
		Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Error: errText,
		Message: tr(c, "We sent a code to %s. Enter it to confirm the address: your verification codes will go there.", fl.Data[dataMFARegTo])},
		cspSource(redirectOf(fl)))
}

// mfaStep is one submitted MFA or registration form.
type mfaStep struct {
	tenant string
	form   map[string]string
	fl     directory.SignInFlow
	req    oauth.AuthRequest
	app    *directory.Application
}

// mfaForm opens an MFA page's post: the flow at one of steps, its request
// and application. When ok is false the answer has been written.
func (s *server) mfaForm(c *gin.Context, served bool, steps ...string) (st mfaStep, ok bool) {
	st.tenant, st.form, st.fl, ok = s.pagePost(c, served, flowKindBrowser)
	if !ok {
		return st, false
	}
	var err error
	st.req, err = flowRequest(st.fl)
	if !slices.Contains(steps, st.fl.Step) || st.fl.UserID == "" || err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return st, false
	}
	if st.app, err = s.browser.Apps.ClientApplication(c.Request.Context(), st.tenant, st.req.ClientID); err != nil {
		s.errorPage(c, http.StatusBadRequest, "Application not found", "The application is no longer registered in this directory.")
		return st, false
	}
	return st, true
}

func (st mfaStep) outcome(c *gin.Context) MFAOutcome {
	return MFAOutcome{TenantID: st.tenant, UserID: st.fl.UserID, UserPrincipalName: st.fl.Data["upn"], UserDisplayName: st.fl.Data["name"],
		ClientID: st.req.ClientID, AppDisplayName: appName(st.app), IP: c.ClientIP()}
}

// codeRefused answers a refused MFA or registration code (false: the code
// was right) and logs it: the page again for a wrong code, "start again"
// for a dead one.
func (s *server) codeRefused(c *gin.Context, err error, o MFAOutcome, again func(status int, errText string)) bool {
	if err == nil {
		return false
	}
	var ref *CodeRefusal
	if errors.As(err, &ref) {
		o.ErrorCode, o.FailureReason = mfaFailed, "Authentication failed during strong authentication request: the one-time code was wrong or expired."
		if !s.recordMFA(c, o) {
			return true
		}
	}
	switch {
	case errors.As(err, &ref) && ref.Wrong:
		again(http.StatusBadRequest, "That code is not right. Check the email and try again.")
	case errors.As(err, &ref):
		s.errorPage(c, http.StatusBadRequest, "This code can no longer be used", "It has expired or was tried too many times. Go back to the application and sign in again.")
	default:
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
	}
	return true
}

// handleVerify serves POST /{tenant}/oauth2/v2.0/verify: the MFA code
// page's form. A right code ends the flow in a session whose amr shows
// MFA, and the code goes to the client (303).
func (s *server) handleVerify(c *gin.Context) {
	st, ok := s.mfaForm(c, s.browser != nil && s.browser.EmailCodes != nil, stepMFA)
	if !ok {
		return
	}
	handle, csrf := st.form["flow"], st.form["csrf_token"]
	again := func(status int, errText string) { s.renderMFA(c, status, st.fl, handle, csrf, st.req, errText) }
	code := strings.TrimSpace(st.form["code"])
	if code == "" || len(code) > 16 {
		again(http.StatusBadRequest, "Enter the code from the email.")
		return
	}
	err := s.checkPageCode(c.Request.Context(), st.fl, codeMFA, st.fl.Username, code)
	if s.codeRefused(c, err, st.outcome(c), again) {
		return
	}
	s.finishMFA(c, st)
}

// handleMFARegister serves POST /{tenant}/oauth2/v2.0/mfareg: the MFA
// address registration's two forms, the address (stage=email) and the
// code mailed to it (stage=code). The right code registers the address
// and finishes the sign-in with MFA.
func (s *server) handleMFARegister(c *gin.Context) {
	b := s.browser
	st, ok := s.mfaForm(c, b != nil && b.FlowCodes != nil && b.MFAMethods != nil, stepMFAReg, stepMFARegCode)
	if !ok {
		return
	}
	switch stage := st.form["stage"]; {
	case st.fl.Step == stepMFAReg && stage == "email":
		s.mfaRegEmail(c, st)
	case st.fl.Step == stepMFARegCode && stage == "code":
		s.mfaRegCode(c, st)
	default:
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
	}
}

func (s *server) mfaRegEmail(c *gin.Context, st mfaStep) {
	ctx := c.Request.Context()
	email := strings.TrimSpace(st.form["email"])
	if !plausibleEmail(email) || !strings.Contains(email[strings.LastIndexByte(email, '@')+1:], ".") {
		s.renderMFAReg(c, http.StatusBadRequest, st.fl, st.form["flow"], st.form["csrf_token"], email, "Enter a valid email address, like name@example.com.")
		return
	}
	fl := st.fl
	fl.Step, fl.Data[dataMFARegTo] = stepMFARegCode, strings.ToLower(email)
	handle, fl, err := s.browser.Flows.Advance(ctx, st.form["flow"], fl)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	if err := s.browser.FlowCodes.Send(ctx, CodeRegister, fl.TenantID, fl.ID, fl.Data[dataMFARegTo], st.req.UILocales, appName(st.app)); err != nil {
		s.errorPage(c, http.StatusServiceUnavailable, "We could not send your code", "Please try again in a few minutes.")
		return
	}
	s.renderMFARegCode(c, http.StatusOK, fl, handle, st.form["csrf_token"], "")
}

func (s *server) mfaRegCode(c *gin.Context, st mfaStep) {
	ctx := c.Request.Context()
	handle, csrf := st.form["flow"], st.form["csrf_token"]
	again := func(status int, errText string) { s.renderMFARegCode(c, status, st.fl, handle, csrf, errText) }
	code := strings.TrimSpace(st.form["code"])
	if code == "" || len(code) > 16 {
		again(http.StatusBadRequest, "Enter the code from the email.")
		return
	}
	target := st.fl.Data[dataMFARegTo]
	if s.codeRefused(c, s.checkPageCode(ctx, st.fl, CodeRegister, target, code), st.outcome(c), again) {
		return
	}
	err := s.browser.MFAMethods.RegisterMFAEmail(ctx, st.tenant, st.app.AppID, st.fl.UserID, target)
	switch {
	case directory.KindOf(err) == directory.KindPreconditionFailed:
		s.errorPage(c, http.StatusConflict, "Your account changed meanwhile", "Go back to the application and sign in again.")
		return
	case err != nil:
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	s.finishMFA(c, st)
}

// finishMFA ends a flow whose second factor was just proven: the sign-in
// log entry, a session whose amr shows MFA, and the code to the client.
func (s *server) finishMFA(c *gin.Context, st mfaStep) {
	if !s.recordMFA(c, st.outcome(c)) {
		return
	}
	if err := s.browser.Flows.Finish(c.Request.Context(), st.tenant, st.form["flow"]); err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	sess, ok := s.startSession(c, st.tenant, st.fl.UserID, []string{"pwd", "otp", "mfa"})
	if !ok {
		return
	}
	s.issueCode(c, st.req, sess, st.app)
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
