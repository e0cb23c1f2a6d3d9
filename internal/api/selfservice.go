package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// The hosted sign-up and password-reset pages. Both run on the sign-in
// flow (same handle, CSRF token and binding cookie) and take it through
// email -> code -> details. Neither tells whether an account exists: a
// taken email on sign-up and an unknown one on reset continue to the code
// page like any other, and no code can ever be right there
// (browser-redirect.md §4.5). A taken email's owner is told by mail
// instead (CodeSignUpTaken).

const (
	stepSignUp = "signup"
	stepReset  = "reset"
)

// CodeSignUpTaken is the FlowCodes purpose of a sign-up whose address
// already has an account: Send mails the owner a notice (someone tried
// to sign up; sign in or reset the password) instead of a code, through
// the same resend interval and hourly cap as a code, and stores a code no
// one knows under CodeSignUp, so Check on that flow fails as a wrong
// code does, try after try, as on a new address's flow.
const CodeSignUpTaken = "signup-taken"

// selfServiceOn: the pages can create accounts and reset passwords.
func (s *server) selfServiceOn() bool {
	b := s.browser
	return b != nil && b.Accounts != nil && b.FlowCodes != nil && b.HashPassword != nil
}

// signUpOpen: the flow's user flow allows sign-up and the pages can do it.
func (s *server) signUpOpen(fl directory.SignInFlow) bool {
	return s.selfServiceOn() && fl.Data["signup"] == "1"
}

func (s *server) handleSignUp(c *gin.Context) { s.handleSelfService(c, stepSignUp) }
func (s *server) handleReset(c *gin.Context)  { s.handleSelfService(c, stepReset) }

// handleSelfService serves POST /{tenant}/oauth2/v2.0/signup and /reset:
// every step's form posts there with its stage, checked against the step
// the flow stands at.
func (s *server) handleSelfService(c *gin.Context, kind string) {
	tenant, form, fl, ok := s.pagePost(c, s.selfServiceOn(), flowKindBrowser)
	if !ok {
		return
	}
	req, err := flowRequest(fl)
	if err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	if kind == stepSignUp && !s.signUpOpen(fl) {
		s.errorPage(c, http.StatusForbidden, "Sign-up is not available", "This application does not allow new accounts to be created here.")
		return
	}
	app, err := s.browser.Apps.ClientApplication(c.Request.Context(), tenant, req.ClientID)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "Application not found", "The application is no longer registered in this directory.")
		return
	}
	st := selfServiceStep{s: s, c: c, kind: kind, fl: fl, req: req, app: app, handle: form["flow"], csrf: form["csrf_token"], form: form}
	switch stage := form["stage"]; {
	case fl.Step == "password" && stage == "start":
		s.renderEmailPage(c, http.StatusOK, fl, st.handle, st.csrf, kind, "", "")
	case fl.Step == "password" && stage == "email":
		st.email()
	case fl.Step == kind+"-code" && stage == "code":
		st.code()
	case fl.Step == "signup-details" && kind == stepSignUp && stage == "details":
		st.signUp()
	case fl.Step == "reset-password" && kind == stepReset && stage == "password":
		st.resetPassword()
	default:
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
	}
}

// selfServiceStep is one submitted sign-up or reset form.
type selfServiceStep struct {
	s                  *server
	c                  *gin.Context
	kind, handle, csrf string
	fl                 directory.SignInFlow
	req                oauth.AuthRequest
	app                *directory.Application
	form               map[string]string
}

// logged is the step's sign-in log row for the account userID.
func (st *selfServiceStep) logged(userID string, code int, reason string) PageSignIn {
	return PageSignIn{TenantID: st.fl.TenantID, UserID: userID, Username: st.fl.Username, ClientID: st.app.AppID,
		AppDisplayName: appName(st.app), ErrorCode: code, FailureReason: reason}
}

func (st *selfServiceStep) fail() {
	st.s.errorPage(st.c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
}

func (st *selfServiceStep) expired() {
	st.s.errorPage(st.c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
}

func (st *selfServiceStep) purpose() string {
	switch st.kind {
	case stepSignUp:
		return CodeSignUp
	case CodeSignIn:
		return CodeSignIn
	}
	return CodeReset
}

// email takes the address, sends a code when one is due and shows the
// code page, the same page whether the account exists or not.
func (st *selfServiceStep) email() {
	ctx := st.c.Request.Context()
	email := strings.TrimSpace(st.form["email"])
	if !plausibleEmail(email) {
		st.s.renderEmailPage(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, st.kind, email, "Enter a valid email address, like name@example.com.")
		return
	}
	u, err := st.s.browser.Accounts.CustomerBySignInEmail(ctx, st.fl.TenantID, email)
	if err != nil && directory.KindOf(err) != directory.KindNotFound {
		st.fail()
		return
	}
	fl := st.fl
	fl.Step, fl.Username, fl.UserID = st.kind+"-code", email, ""
	delete(fl.Data, "taken")
	delete(fl.Data, dataUnknown)
	switch {
	case st.kind == stepSignUp && u != nil:
		// Taken: the page goes on as for a new address (the same sends,
		// limits and statuses), but the owner gets a notice instead of a
		// code, so no code can be right (no enumeration).
		fl.Data["taken"] = "1"
	case st.kind == stepReset && u == nil:
		// No account: the same send, stored code and limits as for an
		// account, but no mail and a code no one knows.
		fl.Data[dataUnknown] = "1"
	case st.kind == stepReset:
		fl.UserID = strings.ToLower(u.ID)
	}
	handle, fl, err := st.s.browser.Flows.Advance(ctx, st.handle, fl)
	if err != nil {
		st.expired()
		return
	}
	if err := st.s.sendPageCode(ctx, fl, st.purpose(), email, st.req.UILocales, appName(st.app)); err != nil {
		st.s.errorPage(st.c, http.StatusServiceUnavailable, "We could not send your code", "Please try again in a few minutes.")
		return
	}
	st.s.renderCodePage(st.c, http.StatusOK, fl, handle, st.csrf, st.kind, "")
}

// code checks the mailed code and moves on to the details page.
func (st *selfServiceStep) code() {
	ctx := st.c.Request.Context()
	code := strings.TrimSpace(st.form["code"])
	if code == "" || len(code) > 16 {
		st.s.renderCodePage(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, st.kind, "Enter the code from the email.")
		return
	}
	// An unknown address's reset and a taken address's sign-up are
	// checked as any flow: their stored code is one no one knows, so tries
	// count and run out as on any flow.
	err := st.s.checkPageCode(ctx, st.fl, st.purpose(), st.fl.Username, code)
	if err == nil && st.kind == stepSignUp && st.fl.Data["taken"] == "1" {
		err = &CodeRefusal{Wrong: true}
	}
	var ref *CodeRefusal
	switch {
	case errors.As(err, &ref) && ref.Wrong:
		st.s.renderCodePage(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, st.kind, "That code is not right. Check the email and try again.")
		return
	case errors.As(err, &ref):
		st.s.errorPage(st.c, http.StatusBadRequest, "This code can no longer be used", "It has expired or was tried too many times. Go back to the application and start again.")
		return
	case err != nil:
		st.fail()
		return
	}
	fl := st.fl
	fl.Data["verified"] = "1"
	fl.Step = "signup-details"
	if st.kind == stepReset {
		fl.Step = "reset-password"
	}
	handle, fl, err := st.s.browser.Flows.Advance(ctx, st.handle, fl)
	if err != nil {
		st.expired()
		return
	}
	if st.kind == stepReset {
		st.s.renderNewPassword(st.c, http.StatusOK, fl, handle, st.csrf, "")
		return
	}
	uf, err := st.s.browser.UserFlows.UserFlowForApp(ctx, fl.TenantID, fl.ClientID)
	if err != nil {
		st.fail()
		return
	}
	st.s.renderSignUp(st.c, http.StatusOK, fl, handle, st.csrf, signUpFields(uf, nil, nil), "", "")
}

// signUp checks the password and the user flow's attributes with the
// rules POST /users applies, creates the account, signs it in and sends
// the browser back with a code.
func (st *selfServiceStep) signUp() {
	ctx := st.c.Request.Context()
	if st.fl.Data["verified"] != "1" || st.fl.Data["taken"] == "1" {
		st.expired()
		return
	}
	uf, err := st.s.browser.UserFlows.UserFlowForApp(ctx, st.fl.TenantID, st.fl.ClientID)
	if err != nil {
		st.fail()
		return
	}
	attrs := signUpValues(uf, st.form)
	fieldErr := map[string]string{}
	for _, a := range directory.MissingSignUpAttributes(uf, attrs) {
		fieldErr[strings.ToLower(a.Name)] = missingText(st.c, a)
	}
	codeOnly := st.fl.Data["codes"] == "1"
	pwErr := ""
	if !codeOnly {
		pwErr = passwordProblemText(directory.CheckNewPassword(st.form["password"]))
	}
	var values map[string]any
	if len(fieldErr) == 0 && pwErr == "" {
		values, err = st.s.browser.Accounts.SignUpValues(ctx, st.fl.TenantID, uf, attrs)
		var bad *directory.SignUpAttributesError
		switch {
		case errors.As(err, &bad):
			for _, n := range bad.Invalid {
				fieldErr[strings.ToLower(n)] = "This value is not valid."
				for _, a := range uf.Attributes {
					if strings.EqualFold(a.Name, n) {
						fieldErr[strings.ToLower(n)] = invalidText(a)
					}
				}
			}
		case err != nil:
			st.fail()
			return
		}
	}
	if len(fieldErr) > 0 || pwErr != "" {
		st.s.renderSignUp(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, signUpFields(uf, attrs, fieldErr), pwErr,
			"Some fields need your attention. Check the messages below.")
		return
	}
	hash := ""
	if !codeOnly {
		if hash, err = st.s.browser.HashPassword(st.form["password"]); err != nil {
			st.fail()
			return
		}
	}
	u, err := st.s.browser.Accounts.SignUpCustomer(ctx, directory.SelfServiceSignUp{TenantID: st.fl.TenantID, AppID: st.app.AppID,
		Email: st.fl.Username, PasswordHash: hash, Values: values})
	if err != nil {
		if directory.KindOf(err) == directory.KindConflict {
			// Taken between the email step and now: the address is the
			// browser's (the code proved it), so saying so leaks nothing.
			st.s.errorPage(st.c, http.StatusConflict, "This account already exists", "Go back to the application and sign in.")
			return
		}
		st.fail()
		return
	}
	if err := st.s.browser.Flows.Finish(ctx, st.fl.TenantID, st.handle); err != nil {
		st.expired()
		return
	}
	// The mailed code proved the address, the password was chosen: when
	// the user flow asks for MFA, those are its two factors.
	amr := []string{"pwd", "otp"}
	if codeOnly {
		amr = []string{"otp"}
	} else if st.req.StepUp {
		amr = append(amr, "mfa")
	}
	// The new account's first sign-in, logged as native authentication
	// logs the sign-in that ends its sign-up.
	if !st.s.recordPageSignIn(st.c, st.logged(u.ID, 0, ""), amr) {
		return
	}
	sess, ok := st.s.startSession(st.c, st.fl.TenantID, u.ID, amr)
	if !ok {
		return
	}
	st.s.issueCode(st.c, st.req, sess, st.app)
}

// resetPassword sets the new password (the store moves the account's
// session boundary, ending its refresh tokens) and returns to the sign-in
// page, where the new password signs in (with MFA when the flow asks).
func (st *selfServiceStep) resetPassword() {
	ctx := st.c.Request.Context()
	if st.fl.Data["verified"] != "1" || st.fl.UserID == "" {
		st.expired()
		return
	}
	pw := st.form["password"]
	if msg := passwordProblemText(directory.CheckNewPassword(pw)); msg != "" {
		st.s.renderNewPassword(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, msg)
		return
	}
	err := st.s.browser.Accounts.ResetCustomerPassword(ctx, st.fl.TenantID, st.app.AppID, st.fl.UserID, pw)
	switch {
	case directory.KindOf(err) == directory.KindInvalid:
		st.s.renderNewPassword(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, "This password cannot be used. Choose another one.")
		return
	case err != nil:
		st.fail()
		return
	}
	fl := st.fl
	email := fl.Username
	fl.Step, fl.UserID, fl.Username = "password", "", ""
	delete(fl.Data, "verified")
	handle, fl, err := st.s.browser.Flows.Advance(ctx, st.handle, fl)
	if err != nil {
		st.expired()
		return
	}
	d := st.s.signInData(fl, handle, st.csrf, st.app)
	d.Username, d.Message = email, "Your password has been changed. Sign in with your new password."
	st.s.renderPage(st.c, http.StatusOK, "signin", d, cspSource(st.req.RedirectURI))
}

func (s *server) renderEmailPage(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf, kind, email, errText string) {
	d := pageData{Action: "/" + fl.TenantID + "/oauth2/v2.0/" + kind, Flow: handle, ClientID: fl.ClientID, CSRF: csrf,
		Username: email, Error: errText, Button: "Send code"}
	if kind == stepSignUp {
		d.Title, d.Intro = "Create your account", "Enter your email address. We will send you a code to confirm it."
	} else {
		d.Title, d.Intro = "Reset your password", "Enter the email address of your account. We will send you a code to reset your password."
	}
	d.Heading = d.Title
	s.renderPage(c, status, "email", d, cspSource(redirectOf(fl)))
}

func (s *server) renderCodePage(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf, kind, errText string) {
	d := pageData{Title: "Enter your code", Heading: "Enter your code", Action: "/" + fl.TenantID + "/oauth2/v2.0/" + kind,
		Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Error: errText}
	if kind == stepSignUp {
		d.Message = tr(c, "We sent a code to %s. Enter it to continue.", fl.Username)
	} else if kind == "signin" {
		d.Message = tr(c, "If an account exists for %s, we sent a sign-in code to it. Enter it to sign in.", fl.Username)
	} else {
		d.Message = tr(c, "If an account exists for %s, we sent a code to it. Enter it to continue.", fl.Username)
	}
	s.renderPage(c, status, "code", d, cspSource(redirectOf(fl)))
}

func (s *server) renderSignUp(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf string, fields []attrField, pwErr, errText string) {
	s.renderPage(c, status, "signup", pageData{Title: "Create your account", Action: "/" + fl.TenantID + "/oauth2/v2.0/signup",
		Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Username: fl.Username, Attributes: fields, PasswordError: pwErr, Error: errText,
		CodeOnly: fl.Data["codes"] == "1"},
		cspSource(redirectOf(fl)))
}

func (s *server) renderNewPassword(c *gin.Context, status int, fl directory.SignInFlow, handle, csrf, pwErr string) {
	s.renderPage(c, status, "newpw", pageData{Title: "Choose a new password", Action: "/" + fl.TenantID + "/oauth2/v2.0/reset",
		Flow: handle, ClientID: fl.ClientID, CSRF: csrf, Username: fl.Username, PasswordError: pwErr}, cspSource(redirectOf(fl)))
}

func labelOf(a directory.FlowAttribute) string {
	if a.Label != "" {
		return a.Label
	}
	return a.Name
}

// attrAutocomplete are WCAG 1.3.5's input purposes of the built-in
// attributes.
var attrAutocomplete = map[string]string{
	"displayname": "name", "givenname": "given-name", "surname": "family-name", "city": "address-level2",
	"country": "country-name", "postalcode": "postal-code", "streetaddress": "street-address", "state": "address-level1",
	"jobtitle": "organization-title",
}

func passwordProblemText(p directory.PasswordProblem) string {
	switch p {
	case "":
		return ""
	case directory.PasswordTooShort:
		return "Use at least 8 characters."
	case directory.PasswordTooLong:
		return "Use at most 256 characters."
	case directory.PasswordTooWeak:
		return "Use three of these: lower case letters, upper case letters, digits, symbols."
	}
	return "The password contains characters that cannot be used."
}

// plausibleEmail is a cheap shape check; the directory decides the rest.
func plausibleEmail(e string) bool {
	at := strings.IndexByte(e, '@')
	return len(e) <= 254 && at > 0 && at < len(e)-1 && strings.Count(e, "@") == 1 && !strings.ContainsAny(e, " \t\r\n<>\x00")
}

// signInEmail is the email step of a code-only sign-in: a code goes to
// an existing account; the code page is the same for any address.
func (st *selfServiceStep) signInEmail() {
	ctx := st.c.Request.Context()
	email := strings.TrimSpace(st.form["username"])
	if !plausibleEmail(email) {
		d := st.s.signInData(st.fl, st.handle, st.csrf, st.app)
		d.Username, d.Error = email, "Enter a valid email address, like name@example.com."
		st.s.renderPage(st.c, http.StatusBadRequest, "signin", d, cspSource(st.req.RedirectURI))
		return
	}
	u, err := st.s.browser.Accounts.CustomerBySignInEmail(ctx, st.fl.TenantID, email)
	if err != nil && directory.KindOf(err) != directory.KindNotFound {
		st.fail()
		return
	}
	fl := st.fl
	fl.Step, fl.Username, fl.UserID = "signin-code", email, ""
	delete(fl.Data, dataUnknown)
	if u != nil {
		fl.UserID = strings.ToLower(u.ID)
	} else {
		// No account: the same send, stored code and limits as for an
		// account, but no mail and a code no one knows.
		fl.Data[dataUnknown] = "1"
	}
	handle, fl, err := st.s.browser.Flows.Advance(ctx, st.handle, fl)
	if err != nil {
		st.expired()
		return
	}
	if err := st.s.sendPageCode(ctx, fl, CodeSignIn, email, st.req.UILocales, appName(st.app)); err != nil {
		st.s.errorPage(st.c, http.StatusServiceUnavailable, "We could not send your code", "Please try again in a few minutes.")
		return
	}
	st.s.renderCodePage(st.c, http.StatusOK, fl, handle, st.csrf, "signin", "")
}

// signInCode checks a code-only sign-in's code and signs the account in.
func (st *selfServiceStep) signInCode() {
	ctx := st.c.Request.Context()
	code := strings.TrimSpace(st.form["code"])
	if code == "" || len(code) > 16 {
		st.s.renderCodePage(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, "signin", "Enter the code from the email.")
		return
	}
	err := st.s.checkPageCode(ctx, st.fl, CodeSignIn, st.fl.Username, code)
	var ref *CodeRefusal
	// An account's refused code is logged, as native authentication logs
	// it; an unknown address has no account to log against.
	if errors.As(err, &ref) && st.fl.UserID != "" && !st.s.recordPageSignIn(st.c, st.logged(st.fl.UserID, codeSignInFailed, codeSignInFailure), nil) {
		return
	}
	switch {
	case errors.As(err, &ref) && ref.Wrong:
		st.s.renderCodePage(st.c, http.StatusBadRequest, st.fl, st.handle, st.csrf, "signin", "That code is not right. Check the email and try again.")
		return
	case errors.As(err, &ref):
		st.s.errorPage(st.c, http.StatusBadRequest, "This code can no longer be used", "It has expired or was tried too many times. Go back to the application and start again.")
		return
	case err != nil:
		st.fail()
		return
	}
	if err := st.s.browser.Flows.Finish(ctx, st.fl.TenantID, st.handle); err != nil {
		st.expired()
		return
	}
	if !st.s.recordPageSignIn(st.c, st.logged(st.fl.UserID, 0, ""), []string{"otp"}) {
		return
	}
	sess, ok := st.s.startSession(st.c, st.fl.TenantID, st.fl.UserID, []string{"otp"})
	if !ok {
		return
	}
	st.s.issueCode(st.c, st.req, sess, st.app)
}
