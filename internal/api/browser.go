package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// BrowserSignIn wires the browser redirect sign-in (issue 14): the
// authorization endpoint, the hosted sign-in page, userinfo, logout and
// revocation. nil in Options disables those endpoints (404).
type BrowserSignIn struct {
	Apps      ClientApps
	Passwords PasswordChecker
	Store     BrowserStore
	Flows     HostedFlows
	Codes     CodeIssuer
	Users     UserReader
	// UserFlows tells which sign-in methods and factors the application's
	// user flow allows (*directory.Service).
	UserFlows UserFlowReader
	// EmailCodes sends and checks the second factor (an email one-time
	// code); nil: a sign-in that needs MFA is interaction_required.
	EmailCodes EmailCodes
	// MFAMethods reads and registers the account's MFA email
	// (*directory.Service, as native authentication's just-in-time
	// registration); required with EmailCodes.
	MFAMethods MFAMethods
	// CodeTTL is the code service's code lifetime, which the code pages
	// state; zero is otp's default (10 minutes).
	CodeTTL time.Duration
	// Log records the outcomes the pages check themselves (the MFA code)
	// in the sign-in log; nil records nothing.
	Log SignInLog
	// Hints verifies logout's id_token_hint; nil: every logout confirms.
	Hints IDTokenHints
	// IssuerURL is the tenant's issuer (the iss of RFC 9207).
	IssuerURL func(tenantID string) string
	// Accounts creates accounts (sign-up) and resets passwords for the
	// pages (*directory.Service, as native authentication uses it); nil
	// hides "Create account" and "Forgot your password?".
	Accounts SelfService
	// FlowCodes sends and checks the sign-up and reset codes; nil as
	// Accounts.
	FlowCodes FlowCodes
	// HashPassword hashes a new password (password.Hash).
	HashPassword func(string) (string, error)
	// Branding is the tenant's organizationalBranding as the pages
	// render it (*directory.Service); nil renders graphdir's own look.
	Branding PageBrandings
	// AuthorizeLimit admits one interactive authorize request (each
	// starts a flow row) per client IP; nil admits all.
	AuthorizeLimit func(ctx context.Context, ip string) (ok bool, retryAfter time.Duration, err error)
	// Grants records users' consent on the consent page and reads it
	// (*directory.PermissionGrants); nil: tenant-wide consent only, and a
	// scope without it is invalid_scope.
	Grants ConsentGrants
	// SessionLifetime bounds a hosted-page session (zero: 24 h).
	SessionLifetime time.Duration
	Now             func() time.Time
}

// ClientApps finds applications by client id (*directory.Applications).
type ClientApps interface {
	ClientApplication(ctx context.Context, tenantID, clientID string) (*directory.Application, error)
}

// PasswordAttempt is one email + password submitted on the sign-in page.
type PasswordAttempt struct {
	TenantID, ClientID, AppDisplayName, Username, Password, IP, UserAgent string
}

// PasswordChecker checks a first factor with the sign-in core's lockout,
// rate limits and sign-in log. A refused check is a *SignInRefusal; any
// other error is the service's.
type PasswordChecker interface {
	CheckPassword(ctx context.Context, a PasswordAttempt) (*directory.User, error)
}

// SignInRefusal is a refused credential check. The page shows one text for
// an unknown account and a wrong password (no enumeration); Throttled
// (lockout or rate limit) gets its own text, for every name alike.
type SignInRefusal struct {
	Throttled  bool
	RetryAfter time.Duration
}

func (e *SignInRefusal) Error() string { return "sign-in refused" }

// BrowserStore keeps sessions (directory.BrowserSignInStore).
type BrowserStore interface {
	CreateBrowserSession(ctx context.Context, s directory.BrowserSession, tokenHash []byte) error
	BrowserSessionByToken(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (*directory.BrowserSession, error)
	AddBrowserSessionClient(ctx context.Context, tenantID, sessionID, clientID string) error
	EndBrowserSession(ctx context.Context, tenantID string, tokenHash []byte, at time.Time) error
}

// HostedFlows keeps the hosted pages' flow state (*flowstate.Flows).
type HostedFlows interface {
	Start(ctx context.Context, fl directory.SignInFlow) (string, directory.SignInFlow, error)
	Resume(ctx context.Context, tenantID, clientID, handle string, kinds ...string) (directory.SignInFlow, error)
	Advance(ctx context.Context, handle string, fl directory.SignInFlow) (string, directory.SignInFlow, error)
	Finish(ctx context.Context, tenantID, handle string) error
}

// CodeIssuer issues authorization codes (*oauth.Server).
type CodeIssuer interface {
	IssueCode(ctx context.Context, c directory.AuthCode) (string, error)
}

// EmailCodes sends and checks MFA email one-time codes (internal/otp),
// bound to one flow. CheckCode refuses with a *CodeRefusal.
type EmailCodes interface {
	SendCode(ctx context.Context, tenantID, binding, email, locale, appName string) error
	CheckCode(ctx context.Context, tenantID, binding, email, code string) error
}

// PageBrandings reads a tenant's branding for one page language.
type PageBrandings interface {
	Branding(ctx context.Context, tenantID, locale string) (directory.PageBranding, error)
}

// SelfService is the directory's self-service side, the same rules native
// authentication applies (*directory.Service).
type SelfService interface {
	CustomerBySignInEmail(ctx context.Context, tenantID, email string) (*directory.User, error)
	SignUpValues(ctx context.Context, tenantID string, flow directory.UserFlow, attrs map[string]string) (map[string]any, error)
	SignUpCustomer(ctx context.Context, r directory.SelfServiceSignUp) (*directory.User, error)
	ResetCustomerPassword(ctx context.Context, tenantID, appID, userID, newPassword string) error
}

// The purposes of FlowCodes' codes; a code of one never checks for another.
const (
	CodeSignUp = "signup"
	CodeReset  = "reset"
	CodeSignIn = "signin"
)

// FlowCodes sends and checks the one-time codes of sign-up, password
// reset and email-code sign-in, bound to one flow (internal/otp). Send
// also takes CodeSignUpTaken, CodeResetUnknown and CodeSignInUnknown
// (a code no one knows, a notice or no mail); Check refuses with a
// *CodeRefusal.
type FlowCodes interface {
	Send(ctx context.Context, purpose, tenantID, binding, email, locale, appName string) error
	Check(ctx context.Context, purpose, tenantID, binding, email, code string) error
}

// IDTokenHints verifies an id_token_hint (*issuer.Issuer, adapted): the
// client (aud) of an ID token this issuer signed for the tenant.
type IDTokenHints interface {
	HintClient(ctx context.Context, tenantID, hint string) (clientID string, err error)
}

// SignInLog records an MFA step's outcome (errorCode 0: success) in the
// sign-in log (*signin.Core, adapted).
type SignInLog interface {
	RecordMFA(ctx context.Context, e MFAOutcome) error
	// RecordPageSignIn writes the sign-ins the pages finish themselves
	// (pagesignins.go).
	RecordPageSignIn(ctx context.Context, e PageSignIn) error
}

// MFAOutcome is one MFA code check, as the sign-in log shows it.
type MFAOutcome struct {
	TenantID, UserID, UserPrincipalName, UserDisplayName, ClientID, AppDisplayName, IP string
	ErrorCode                                                                          int
	FailureReason                                                                      string
}

// CodeRefusal is a refused one-time code: Wrong when another try may
// succeed, otherwise the code is dead (expired, too many tries).
type CodeRefusal struct{ Wrong bool }

func (e *CodeRefusal) Error() string { return "code refused" }

// UserFlowReader finds an application's effective user flow.
type UserFlowReader interface {
	UserFlowForApp(ctx context.Context, tenantID, appID string) (directory.UserFlow, error)
}

// UserReader reads a user for userinfo.
type UserReader interface {
	GetUser(ctx context.Context, tenantID string, key directory.UserKey) (*directory.User, error)
}

// The hosted-page cookies. __Host- makes the browser insist on Secure,
// Path=/ and no Domain; the tenant is in the name because one browser may
// hold sessions of several tenants.
const (
	sessionCookiePrefix = "__Host-gd-session-"
	bindCookie          = "__Host-gd-bind"
	flowKindBrowser     = "browser-signin"
	flowKindLogout      = "browser-logout"
	maxPageForm         = 16 << 10
	defaultSessionLife  = 24 * time.Hour
)

//go:embed pages/*.html
var pageFiles embed.FS

var pages = template.Must(template.ParseFS(pageFiles, "pages/*.html"))

// pageData is what every page template reads.
type pageData struct {
	Lang, Title, Nonce, Error, Message, TraceID string
	AppName, Action, Flow, ClientID, CSRF       string
	Username                                    string
	Fields                                      []formField
	// Permissions are the consent page's scopes in plain words.
	Permissions []string
	// Heading and Step drive the shared templates (code, email, newpw).
	Heading, Step, Intro, Button string
	// SignUp and Reset show the sign-in page's other ways on; Base is
	// the tenant's /oauth2/v2.0 path their forms post under.
	SignUp, Reset bool
	Base          string
	// CodeOnly: the user flow signs in with email codes, no password.
	CodeOnly bool
	// Brand is the tenant's branding in the page's language.
	Brand directory.PageBranding
	// Attributes are the sign-up page's user-flow fields.
	Attributes []attrField
	// PasswordError is the new-password field's own error.
	PasswordError string
	// ResendAction, on the code pages, is where "Send a new code" posts;
	// ResendHint says how long a code lasts; Notice (a status) and
	// ResendError (an alert) are a resend's outcome (codepages.go).
	ResendAction, ResendHint, Notice, ResendError string
}

// attrField is one user-flow attribute on the sign-up page.
type attrField struct {
	ID, Name, Label, Value, Error, Autocomplete string
	Required                                    bool
	// Kind is the control (signupfields.go); Options its choices.
	Kind    string
	Options []attrOption
}

type formField struct{ Name, Value string }

func (b *BrowserSignIn) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

func randomToken() string {
	buf := make([]byte, 32)
	_, _ = rand.Read(buf) // never fails
	return base64.RawURLEncoding.EncodeToString(buf)
}

func sha(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func shaString(s string) string { return base64.RawURLEncoding.EncodeToString(sha(s)) }

func equalHash(stored, presented string) bool {
	return stored != "" && presented != "" && subtle.ConstantTimeCompare([]byte(stored), []byte(shaString(presented))) == 1
}

// pageHeaders are the hosted pages' security headers (browser-redirect.md
// rule 18): a CSP without inline script (styles by nonce), no framing, no
// referrer, no caching. formAction adds the origin a form_post page
// submits to.
func pageHeaders(c *gin.Context, nonce, formAction string) {
	h := c.Writer.Header()
	fa := "'self'"
	if formAction != "" {
		fa += " " + formAction
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self' data:; form-action "+fa+"; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// cspSource is the CSP source expression of a redirect target: its origin,
// or "scheme:" for a custom scheme (native apps). A page whose form ends in
// a redirect there must allow it in form-action: Chromium applies
// form-action to the redirects that follow a form submission.
func cspSource(uri string) string {
	if o, ok := directory.OriginOf(uri); ok {
		return o
	}
	if u, err := url.Parse(uri); err == nil && u.Scheme != "" && validScheme(u.Scheme) {
		return strings.ToLower(u.Scheme) + ":"
	}
	return ""
}

func validScheme(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

// renderPage writes one hosted page.
func (s *server) renderPage(c *gin.Context, status int, name string, d pageData, formAction string) {
	d.Nonce = randomToken()
	d.Lang = pageLang(c)
	d.localize()
	s.codePageData(c, name, &d)
	d.Brand = s.pageBranding(c, d.Lang)
	pageHeaders(c, d.Nonce, formAction)
	var buf strings.Builder
	if err := pages.ExecuteTemplate(&buf, name, d); err != nil {
		s.log.Error("hosted page failed to render", "page", name, "error", err.Error())
		status, buf = http.StatusInternalServerError, strings.Builder{}
		buf.WriteString("<!doctype html><title>Error</title><p>Something went wrong.</p>")
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	_, _ = c.Writer.WriteString(buf.String())
	c.Abort()
}

// errorPage answers a request that cannot be sent back to any application
// (unknown client, unregistered redirect URI, expired flow): a page, never
// a redirect, so graphdir is no open redirector.
func (s *server) errorPage(c *gin.Context, status int, title, msg string) {
	s.renderPage(c, status, "message", pageData{Title: title, Message: msg, Error: "1", TraceID: requestIDs(c).requestID}, "")
}

// sessionCookieName is the tenant's session cookie.
func sessionCookieName(tenantID string) string {
	return sessionCookiePrefix + strings.ToLower(tenantID)
}

// setCookie writes a __Host- cookie: Secure, HttpOnly, SameSite=Lax,
// Path=/. maxAge < 0 deletes it.
func setCookie(c *gin.Context, name, value string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// currentSession returns the browser's live session of the tenant (nil
// when there is none).
func (s *server) currentSession(c *gin.Context, tenant string) (*directory.BrowserSession, error) {
	ck, err := c.Request.Cookie(sessionCookieName(tenant))
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return nil, nil
	}
	bs, err := s.browser.Store.BrowserSessionByToken(c.Request.Context(), strings.ToLower(tenant), sha(ck.Value), s.browser.now())
	if directory.KindOf(err) == directory.KindNotFound {
		return nil, nil
	}
	return bs, err
}

// bindToken returns the browser's binding token (a random value in a
// __Host- cookie, set when missing): a flow remembers its hash, so that a
// form is accepted only from the browser that started the flow (login
// CSRF).
func bindToken(c *gin.Context) string {
	if ck, err := c.Request.Cookie(bindCookie); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	v := randomToken()
	setCookie(c, bindCookie, v, 0)
	return v
}

// crossOrigin is Go's CSRF check (Sec-Fetch-Site, else Origin against
// Host) for the hosted pages' forms. Never for /token or /revoke, which
// are cross-origin by design.
var crossOrigin = http.NewCrossOriginProtection()

// checkPagePost runs the CSRF checks every hosted-page POST needs and
// returns its form.
func (s *server) checkPagePost(c *gin.Context) (map[string]string, bool) {
	if err := crossOrigin.Check(c.Request); err != nil {
		s.errorPage(c, http.StatusForbidden, "Request refused", "This form was sent from another site. Go back to the application and sign in again.")
		return nil, false
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxPageForm)
	if err := c.Request.ParseForm(); err != nil {
		s.errorPage(c, http.StatusBadRequest, "Request refused", "The form could not be read.")
		return nil, false
	}
	form := map[string]string{}
	for k, vs := range c.Request.PostForm {
		if len(vs) != 1 {
			s.errorPage(c, http.StatusBadRequest, "Request refused", "The form could not be read.")
			return nil, false
		}
		form[k] = vs[0]
	}
	return form, true
}

// resumeFlow finds the form's flow and checks its two CSRF bindings: the
// per-form token and the browser's binding cookie.
func (s *server) resumeFlow(c *gin.Context, tenant string, form map[string]string, kind string) (directory.SignInFlow, bool) {
	fl, err := s.browser.Flows.Resume(c.Request.Context(), tenant, strings.ToLower(form["client_id"]), form["flow"], kind)
	if err != nil {
		if !isFlowError(err) {
			s.errorPage(c, http.StatusInternalServerError, "Something went wrong", "Please try again in a moment.")
			return fl, false
		}
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return fl, false
	}
	bind := ""
	if ck, err := c.Request.Cookie(bindCookie); err == nil {
		bind = ck.Value
	}
	if req, err := flowRequest(fl); err == nil {
		c.Set(uiLocalesKey, req.UILocales)
	}
	if !equalHash(fl.Data["csrf"], form["csrf_token"]) || !equalHash(fl.Data["bind"], bind) {
		s.errorPage(c, http.StatusForbidden, "Request refused", "This form was not sent from this browser's sign-in page. Go back to the application and sign in again.")
		return fl, false
	}
	return fl, true
}

// isFlowError: the flow store's "unknown, used or expired" answers
// (flowstate.ErrInvalid, ErrExpired) carry no directory kind.
func isFlowError(err error) bool {
	var de *directory.Error
	return !errors.As(err, &de)
}

var _ CodeIssuer = (*oauth.Server)(nil)

// pagePost opens a hosted page's form post: a tenant path where the pages
// are served (served), the form checked against cross-site posting and its
// per-form token, and the flow of kind it continues. When ok is false the
// answer has been written.
func (s *server) pagePost(c *gin.Context, served bool, kind string) (tenant string, form map[string]string, fl directory.SignInFlow, ok bool) {
	tenant = strings.ToLower(c.Param("tenant"))
	if !served || "/"+tenant == apiPrefix {
		s.handleNoRoute(c)
		return "", nil, fl, false
	}
	if form, ok = s.checkPagePost(c); !ok {
		return "", nil, fl, false
	}
	if fl, ok = s.resumeFlow(c, tenant, form, kind); !ok {
		return "", nil, fl, false
	}
	return tenant, form, fl, true
}
