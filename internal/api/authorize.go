package api

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// handleAuthorize serves GET and POST /{tenant}/oauth2/v2.0/authorize, the
// authorization endpoint of the code flow. The client and its redirect URI
// are checked first: when either is wrong the answer is an error page,
// never a redirect. Every later error goes back to the redirect URI, in the
// requested response mode, with RFC 9207's iss.
func (s *server) handleAuthorize(c *gin.Context) {
	tenant := c.Param("tenant")
	if s.browser == nil || "/"+tenant == apiPrefix {
		s.handleNoRoute(c)
		return
	}
	q, ok := s.authorizeParams(c)
	if !ok {
		return
	}
	// The pages' language, error pages included (ui_locales, then
	// Accept-Language).
	c.Set(uiLocalesKey, q.Get("ui_locales"))
	ctx := c.Request.Context()
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) != 1 || q.Get("client_id") == "" || q.Get("redirect_uri") == "" {
		s.errorPage(c, http.StatusBadRequest, "Sign-in request not valid", "The request must name the application (client_id) and its registered redirect URI (redirect_uri), once each.")
		return
	}
	app, err := s.browser.Apps.ClientApplication(ctx, tenant, q.Get("client_id"))
	switch {
	case directory.KindOf(err) == directory.KindNotFound:
		s.errorPage(c, http.StatusBadRequest, "Application not found", "The application that sent you here is not registered in this directory.")
		return
	case err != nil:
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	redirect := q.Get("redirect_uri")
	kind, ok := oauth.MatchRedirectURI(app, redirect)
	if !ok {
		s.errorPage(c, http.StatusBadRequest, "Redirect URI not registered", "The address the application asked to return to is not one of its registered redirect URIs.")
		return
	}
	req, perr := oauth.ParseAuthorize(app, tenant, redirect, kind, q)
	if perr != nil {
		s.respondError(c, req, perr.Code, perr.Description)
		return
	}
	flow, err := s.browser.UserFlows.UserFlowForApp(ctx, req.TenantID, req.ClientID)
	if err != nil {
		s.respondError(c, req, oauth.CodeServerError, "The application's user flow could not be read.")
		return
	}
	// The hosted pages offer email and password, and no second factor yet:
	// a flow that allows neither, or demands MFA, cannot be served (never
	// a token without the factor the flow requires).
	if flow.MFARequired {
		req.StepUp = true
	}
	codeOnly := !flow.AllowPasswords && flow.AllowEmailOTP && s.selfServiceOn()
	if !flow.AllowPasswords && !codeOnly {
		s.respondError(c, req, "access_denied", "The application's user flow offers no sign-in method the hosted pages support (email with password, or email codes with mail configured).")
		return
	}
	if codeOnly && req.StepUp {
		// The email code is the only factor such a flow has: there is no
		// second one to offer.
		s.respondError(c, req, "access_denied", "The application's user flow signs in with email codes only and offers no second factor for MFA.")
		return
	}
	sess, err := s.currentSession(c, tenant)
	if err != nil {
		s.respondError(c, req, oauth.CodeServerError, "The sign-in session could not be read.")
		return
	}
	if sess != nil && !needsLogin(req, sess, s.browser.now()) {
		s.issueCode(c, req, sess, app)
		return
	}
	if req.Prompt == "none" {
		// login_required when the user must authenticate (again);
		// interaction_required when only a step-up (MFA) is missing.
		code := oauth.CodeLoginRequired
		if sess != nil && req.StepUp && !slices.Contains(sess.AMR, "mfa") && !needsLogin(oauth.AuthRequest{MaxAge: req.MaxAge}, sess, s.browser.now()) {
			code = "interaction_required"
		}
		s.respondError(c, req, code, "The user must sign in interactively.")
		return
	}
	if req.StepUp && s.browser.EmailCodes == nil {
		s.respondError(c, req, "interaction_required", "Multifactor authentication is required but email codes are not configured.")
		return
	}
	// Each interactive request stores a flow row: throttled per client IP
	// so a script cannot fill the table.
	if lim := s.browser.AuthorizeLimit; lim != nil {
		ok, wait, err := lim(c.Request.Context(), c.ClientIP())
		if err != nil {
			s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
			return
		}
		if !ok {
			c.Header("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			s.errorPage(c, http.StatusTooManyRequests, "Too many requests", "Too many sign-in requests came from your network. Wait a minute, then try again.")
			return
		}
	}
	s.startSignIn(c, req, app, flow)
}

// authorizeParams reads the request's parameters: the query for GET, the
// form body for POST (OpenID Connect Core §3.1.2.1).
func (s *server) authorizeParams(c *gin.Context) (url.Values, bool) {
	r := c.Request
	if r.Method == http.MethodGet {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			s.errorPage(c, http.StatusBadRequest, "Sign-in request not valid", "The request's query string is malformed.")
			return nil, false
		}
		return q, true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		s.errorPage(c, http.StatusUnsupportedMediaType, "Sign-in request not valid", "The request body must be 'application/x-www-form-urlencoded'.")
		return nil, false
	}
	r.Body = http.MaxBytesReader(c.Writer, r.Body, maxPageForm)
	if err := r.ParseForm(); err != nil {
		s.errorPage(c, http.StatusBadRequest, "Sign-in request not valid", "The request body is not a valid form.")
		return nil, false
	}
	return r.PostForm, true
}

// needsLogin reports whether the session cannot serve req silently.
func needsLogin(req oauth.AuthRequest, sess *directory.BrowserSession, now time.Time) bool {
	switch {
	case req.Prompt == "login", req.Prompt == "select_account", req.Prompt == "create":
		return true
	case req.MaxAge == 0, req.MaxAge > 0 && now.Sub(sess.AuthTime) > time.Duration(req.MaxAge)*time.Second:
		return true
	case req.StepUp && !slices.Contains(sess.AMR, "mfa"):
		return true
	}
	return false
}

// startSignIn stores the request in a new flow and shows the sign-in page
// (the sign-up page for prompt=create when the user flow allows sign-up).
func (s *server) startSignIn(c *gin.Context, req oauth.AuthRequest, app *directory.Application, uf directory.UserFlow) {
	raw, _ := json.Marshal(req)
	csrf := randomToken()
	fl := directory.SignInFlow{TenantID: req.TenantID, ClientID: req.ClientID, Kind: flowKindBrowser, Step: "password",
		Data: map[string]string{"req": string(raw), "csrf": shaString(csrf), "bind": shaString(bindToken(c))}}
	if uf.SignUpAllowed {
		fl.Data["signup"] = "1"
	}
	if !uf.AllowPasswords {
		fl.Data["codes"] = "1"
	}
	handle, fl, err := s.browser.Flows.Start(c.Request.Context(), fl)
	if err != nil {
		s.respondError(c, req, oauth.CodeServerError, "The sign-in could not be started.")
		return
	}
	if req.Prompt == "create" && s.signUpOpen(fl) {
		s.renderEmailPage(c, http.StatusOK, fl, handle, csrf, stepSignUp, req.LoginHint, "")
		return
	}
	d := s.signInData(fl, handle, csrf, app)
	d.Username = req.LoginHint
	s.renderPage(c, http.StatusOK, "signin", d, cspSource(req.RedirectURI))
}

// signInData is the sign-in page of flow fl (behind handle).
func (s *server) signInData(fl directory.SignInFlow, handle, csrf string, app *directory.Application) pageData {
	base := "/" + fl.TenantID + "/oauth2/v2.0"
	return pageData{Title: "Sign in", AppName: appName(app), Action: base + "/signin", Base: base,
		Flow: handle, ClientID: fl.ClientID, CSRF: csrf, SignUp: s.signUpOpen(fl), CodeOnly: fl.Data["codes"] == "1",
		Reset: s.selfServiceOn() && fl.Data["codes"] != "1"}
}

func appName(app *directory.Application) string { return app.DisplayName }

// handleSignIn serves POST /{tenant}/oauth2/v2.0/signin: the sign-in
// page's email and password. Success starts a session (a new id: no
// fixation) and sends the browser back with a code (303, RFC 9700 §4.12).
func (s *server) handleSignIn(c *gin.Context) {
	tenant, form, fl, ok := s.pagePost(c, s.browser != nil, flowKindBrowser)
	if !ok {
		return
	}
	codes := fl.Data["codes"] == "1" && s.selfServiceOn()
	if fl.Step != "password" && !(codes && fl.Step == "signin-code") {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	req, err := flowRequest(fl)
	if err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return
	}
	ctx := c.Request.Context()
	app, err := s.browser.Apps.ClientApplication(ctx, tenant, req.ClientID)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "Application not found", "The application is no longer registered in this directory.")
		return
	}
	if codes {
		st := selfServiceStep{s: s, c: c, kind: CodeSignIn, fl: fl, req: req, app: app, handle: form["flow"], csrf: form["csrf_token"], form: form}
		if fl.Step == "password" {
			st.signInEmail()
		} else {
			st.signInCode()
		}
		return
	}
	username := strings.TrimSpace(form["username"])
	if username == "" || form["password"] == "" || len(username) > 256 || len(form["password"]) > 256 {
		s.renderSignInAgain(c, fl, form, app, username, "Enter your email address and password.")
		return
	}
	u, err := s.browser.Passwords.CheckPassword(ctx, PasswordAttempt{TenantID: tenant, ClientID: req.ClientID, AppDisplayName: appName(app),
		Username: username, Password: form["password"], IP: c.ClientIP(), UserAgent: c.Request.UserAgent()})
	if err != nil {
		var ref *SignInRefusal
		switch {
		case errors.As(err, &ref) && ref.Throttled:
			s.renderSignInAgain(c, fl, form, app, username, "Too many sign-in attempts. Wait a few minutes, then try again.")
		case errors.As(err, &ref):
			s.renderSignInAgain(c, fl, form, app, username, "Your email address or password is incorrect.")
		default:
			s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		}
		return
	}
	if req.StepUp {
		s.startMFA(c, form, fl, req, app, u)
		return
	}
	if err := s.browser.Flows.Finish(ctx, tenant, form["flow"]); err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	sess, ok := s.startSession(c, tenant, u.ID, []string{"pwd"})
	if !ok {
		return
	}
	s.issueCode(c, req, sess, app)
}

// startSession creates a session for the user just signed in (a new id:
// no fixation; the browser's previous session of the tenant ends) and sets
// its cookie.
func (s *server) startSession(c *gin.Context, tenant, userID string, amr []string) (*directory.BrowserSession, bool) {
	ctx := c.Request.Context()
	now := s.browser.now().UTC().Truncate(time.Second)
	// A new session id on every sign-in; the old session ends.
	if ck, err := c.Request.Cookie(sessionCookieName(tenant)); err == nil && ck.Value != "" && len(ck.Value) <= 128 {
		_ = s.browser.Store.EndBrowserSession(ctx, tenant, sha(ck.Value), now)
	}
	life := s.browser.SessionLifetime
	if life <= 0 {
		life = defaultSessionLife
	}
	token := randomToken()
	sess := directory.BrowserSession{TenantID: tenant, ID: uuid.NewString(), UserID: strings.ToLower(userID), AMR: amr,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(life)}
	if err := s.browser.Store.CreateBrowserSession(ctx, sess, sha(token)); err != nil {
		s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
		return nil, false
	}
	setCookie(c, sessionCookieName(tenant), token, int(life/time.Second))
	return &sess, true
}

// renderSignInAgain shows the sign-in page again with an error, on the
// same flow (a failed attempt does not spend it).
func (s *server) renderSignInAgain(c *gin.Context, fl directory.SignInFlow, form map[string]string, app *directory.Application, username, msg string) {
	d := s.signInData(fl, form["flow"], form["csrf_token"], app)
	d.Username, d.Error = username, msg
	s.renderPage(c, http.StatusBadRequest, "signin", d, cspSource(redirectOf(fl)))
}

// mintCode issues a code for the session and sends it to the client
// (consent settled: issueCode, consent.go).
func (s *server) mintCode(c *gin.Context, req oauth.AuthRequest, sess *directory.BrowserSession, app *directory.Application) {
	ctx := c.Request.Context()
	var acrs []string
	if slices.Contains(sess.AMR, "mfa") {
		acrs = []string{"c1"}
	}
	code, err := s.browser.Codes.IssueCode(ctx, directory.AuthCode{
		TenantID: req.TenantID, ClientID: req.ClientID, RedirectURI: req.RedirectURI, RedirectKind: req.RedirectKind,
		CodeChallenge: req.CodeChallenge, Nonce: req.Nonce, SessionID: sess.ID, UserID: sess.UserID,
		Scopes: req.Scopes, AMR: sess.AMR, ACRS: acrs, AuthTime: sess.AuthTime,
	})
	if err == nil {
		err = s.browser.Store.AddBrowserSessionClient(ctx, req.TenantID, sess.ID, req.ClientID)
	}
	if err != nil {
		s.respondError(c, req, oauth.CodeServerError, "The sign-in could not be completed. Try again.")
		return
	}
	params := []formField{{"code", code}}
	if req.ClientInfo {
		params = append(params, formField{"client_info", oauth.ClientInfo(sess.UserID, req.TenantID)})
	}
	s.respond(c, req, params)
}

// respondError sends an authorization error response to the (validated)
// redirect URI.
func (s *server) respondError(c *gin.Context, req oauth.AuthRequest, code, desc string) {
	s.respond(c, req, []formField{{"error", code}, {"error_description", desc}})
}

// respond sends params to the client in the request's response mode, with
// state (byte for byte, only when the request had one) and iss (RFC 9207).
func (s *server) respond(c *gin.Context, req oauth.AuthRequest, params []formField) {
	if req.HasState {
		params = append(params, formField{"state", req.State})
	}
	params = append(params, formField{"iss", s.browser.IssuerURL(req.TenantID)})
	status := http.StatusFound
	if c.Request.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	switch req.ResponseMode {
	case oauth.ResponseModeFormPost:
		s.renderPage(c, http.StatusOK, "formpost", pageData{Title: "Continue to the application", Action: req.RedirectURI, Fields: params}, cspSource(req.RedirectURI))
		return
	case oauth.ResponseModeFragment:
		c.Header("Cache-Control", "no-store")
		c.Header("Referrer-Policy", "no-referrer")
		c.Redirect(status, strings.SplitN(req.RedirectURI, "#", 2)[0]+"#"+encodeParams(params))
	default:
		sep := "?"
		if strings.Contains(req.RedirectURI, "?") {
			sep = "&"
		}
		c.Header("Cache-Control", "no-store")
		c.Header("Referrer-Policy", "no-referrer")
		c.Redirect(status, req.RedirectURI+sep+encodeParams(params))
	}
	c.Abort()
}

// encodeParams encodes in the given order (url.Values would sort).
func encodeParams(params []formField) string {
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(p.Name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p.Value))
	}
	return b.String()
}

// redirectOf is the redirect URI of a sign-in flow's request.
func redirectOf(fl directory.SignInFlow) string {
	req, _ := flowRequest(fl)
	return req.RedirectURI
}

// flowRequest is the authorization request a sign-in flow serves.
func flowRequest(fl directory.SignInFlow) (oauth.AuthRequest, error) {
	var req oauth.AuthRequest
	err := json.Unmarshal([]byte(fl.Data["req"]), &req)
	return req, err
}
