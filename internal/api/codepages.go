package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// The hosted code pages (email-code sign-in, sign-up and reset codes, the
// MFA code, the MFA address registration): "Send a new code", and the
// code of an address that must not be told apart (no enumeration).
//
// An address without an account (reset, email-code sign-in) and a taken
// address on sign-up go through the code service like any other: a send
// stores a code row (one no one knows) under the flow's binding and logs
// the send against the address, so the resend interval, the hourly cap
// per address across flows, the tries, the lifetime and the locked
// verify are the very ones of a real code. Only the mail differs: none
// for an address without an account (CodeResetUnknown, CodeSignInUnknown),
// a notice for a taken one (CodeSignUpTaken).

// CodeRegister is the purpose of the code that proves a new MFA address
// (just-in-time registration; otp's verify-email codes).
const CodeRegister = "register"

// CodeResetUnknown and CodeSignInUnknown are the FlowCodes purposes of a
// reset and an email-code sign-in whose address has no account: Send
// stores a code no one knows under CodeReset or CodeSignIn, through the
// same resend interval and hourly cap, and mails nothing; Check on the
// flow (with CodeReset or CodeSignIn) is then wrong as a mistyped code is.
const (
	CodeResetUnknown  = "reset-unknown"
	CodeSignInUnknown = "signin-unknown"
)

// codeMFA marks the MFA code, sent through EmailCodes.
const codeMFA = "mfa"

// dataUnknown is "1" on a reset or email-code sign-in flow whose address
// has no account (its sends use the *Unknown purposes).
const dataUnknown = "unknown"

// sendPurpose is the FlowCodes purpose of a send for the code page of
// fl: a stand-in for an address without an account or a taken one.
func sendPurpose(fl directory.SignInFlow, purpose string) string {
	switch {
	case purpose == CodeSignUp && fl.Data["taken"] == "1":
		return CodeSignUpTaken
	case purpose == CodeReset && fl.Data[dataUnknown] == "1":
		return CodeResetUnknown
	case purpose == CodeSignIn && fl.Data[dataUnknown] == "1":
		return CodeSignInUnknown
	}
	return purpose
}

// ResendRefusal is a send the code service refused: the flow's last code
// went out less than the resend interval ago, or the address reached its
// hourly cap (HourlyCap). RetryAfter is the wait.
type ResendRefusal struct {
	RetryAfter time.Duration
	HourlyCap  bool
}

func (e *ResendRefusal) Error() string { return "resend refused" }

// MFAMethods reads and records an account's MFA email address
// (*directory.Service): CustomerMFAEmail is "" when the account has none.
type MFAMethods interface {
	CustomerMFAEmail(ctx context.Context, tenantID, userID string) (string, error)
	RegisterMFAEmail(ctx context.Context, tenantID, appID, userID, email string) error
}

// codeTTL is the code lifetime the pages state, otp's default for zero.
func (b *BrowserSignIn) codeTTL() time.Duration {
	if b.CodeTTL <= 0 {
		return 10 * time.Minute
	}
	return b.CodeTTL
}

// checkPageCode checks the code typed on a code page with the code
// service, whether the flow's address has an account or not. A refusal
// is a *CodeRefusal.
func (s *server) checkPageCode(ctx context.Context, fl directory.SignInFlow, purpose, target, code string) error {
	if purpose == codeMFA {
		return s.browser.EmailCodes.CheckCode(ctx, fl.TenantID, fl.ID, target, code)
	}
	return s.browser.FlowCodes.Check(ctx, purpose, fl.TenantID, fl.ID, target, code)
}

// sendPageCode sends a new code for the code page of a flow (a stand-in
// for an address without an account or a taken one: sendPurpose). A
// send the limits refuse is a *ResendRefusal.
func (s *server) sendPageCode(ctx context.Context, fl directory.SignInFlow, purpose, target, locale, app string) error {
	if purpose == codeMFA {
		return s.browser.EmailCodes.SendCode(ctx, fl.TenantID, fl.ID, target, locale, app)
	}
	return s.browser.FlowCodes.Send(ctx, sendPurpose(fl, purpose), fl.TenantID, fl.ID, target, locale, app)
}

// codePage is what the resend form needs of a flow's code step.
type codePage struct {
	purpose, target string
	render          func(status int)
}

// codePageOf is the code page the flow stands at (ok false: none).
func (s *server) codePageOf(c *gin.Context, fl directory.SignInFlow, handle, csrf string) (codePage, bool) {
	b := s.browser
	flowCodes := b.FlowCodes != nil
	selfService := func(kind, purpose string) (codePage, bool) {
		return codePage{purpose: purpose, target: fl.Username, render: func(st int) { s.renderCodePage(c, st, fl, handle, csrf, kind, "") }}, flowCodes
	}
	switch fl.Step {
	case stepSignUp + "-code":
		// The owner of a taken address gets the notice again, never a
		// code (sendPageCode).
		return selfService(stepSignUp, CodeSignUp)
	case stepReset + "-code":
		return selfService(stepReset, CodeReset)
	case CodeSignIn + "-code":
		return selfService(CodeSignIn, CodeSignIn)
	case stepMFA:
		req, err := flowRequest(fl)
		return codePage{purpose: codeMFA, target: fl.Username, render: func(st int) { s.renderMFA(c, st, fl, handle, csrf, req, "") }},
			err == nil && b.EmailCodes != nil
	case stepMFARegCode:
		return codePage{purpose: CodeRegister, target: fl.Data[dataMFARegTo], render: func(st int) { s.renderMFARegCode(c, st, fl, handle, csrf, "") }},
			flowCodes
	}
	return codePage{}, false
}

// handleResend serves POST /{tenant}/oauth2/v2.0/resend, every code
// page's "Send a new code": a new code replaces the flow's last one
// (which stops working), within the code service's resend interval and
// hourly cap; a refused resend says how long to wait. The flow keeps its
// handle, so the page's code form goes on working.
func (s *server) handleResend(c *gin.Context) {
	b := s.browser
	tenant, form, fl, ok := s.pagePost(c, b != nil && (b.EmailCodes != nil || b.FlowCodes != nil), flowKindBrowser)
	if !ok {
		return
	}
	handle := form["flow"]
	page, ok := s.codePageOf(c, fl, handle, form["csrf_token"])
	req, err := flowRequest(fl)
	if !ok || err != nil {
		s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
		return
	}
	ctx := c.Request.Context()
	app, err := b.Apps.ClientApplication(ctx, tenant, req.ClientID)
	if err != nil {
		s.errorPage(c, http.StatusBadRequest, "Application not found", "The application is no longer registered in this directory.")
		return
	}
	err = s.sendPageCode(ctx, fl, page.purpose, page.target, req.UILocales, appName(app))
	var ref *ResendRefusal
	switch {
	case errors.As(err, &ref):
		c.Header("Retry-After", strconv.Itoa(waitSeconds(ref.RetryAfter)))
		c.Set(resendOutcomeKey, resendOutcome{err: resendWaitText(c, ref)})
		page.render(http.StatusTooManyRequests)
	case err != nil:
		s.errorPage(c, http.StatusServiceUnavailable, "We could not send your code", "Please try again in a few minutes.")
	default:
		c.Set(resendOutcomeKey, resendOutcome{notice: "We sent a new code. Codes sent before it no longer work."})
		page.render(http.StatusOK)
	}
}

// resendOutcomeKey carries a resend's outcome from handleResend to the
// code page it renders again (whichever page that is).
const resendOutcomeKey = "gd.resend"

type resendOutcome struct{ notice, err string }

// codePageData adds the resend form to the code pages (templates "code"
// and "mfa") and the outcome of a resend just made.
func (s *server) codePageData(c *gin.Context, name string, d *pageData) {
	if (name != "code" && name != "mfa") || d.Flow == "" || s.browser == nil {
		return
	}
	d.ResendAction = "/" + strings.ToLower(c.Param("tenant")) + "/oauth2/v2.0/resend"
	d.ResendHint = tr(c, "A code is valid for %s minutes. No email? Check your spam folder, or ask for a new code.",
		strconv.Itoa(int(s.browser.codeTTL().Round(time.Minute)/time.Minute)))
	if v, ok := c.Get(resendOutcomeKey); ok {
		o := v.(resendOutcome)
		d.Notice, d.ResendError = translate(d.Lang, o.notice), o.err
	}
}

// waitSeconds is a wait in whole seconds, rounded up (at least 1).
func waitSeconds(d time.Duration) int {
	return max(int((d+time.Second-1)/time.Second), 1)
}

// resendWaitText says how long to wait before asking again: seconds up
// to two minutes, then minutes (rounded up, so the wait is never short).
func resendWaitText(c *gin.Context, ref *ResendRefusal) string {
	n := waitSeconds(ref.RetryAfter)
	var wait string
	switch {
	case n == 1:
		wait = tr(c, "Wait 1 second, then ask for a new code.")
	case n <= 120:
		wait = tr(c, "Wait %s seconds, then ask for a new code.", strconv.Itoa(n))
	default:
		wait = tr(c, "Wait %s minutes, then ask for a new code.", strconv.Itoa((n+59)/60))
	}
	if ref.HourlyCap {
		return tr(c, "Too many codes were sent to this address in the last hour.") + " " + wait
	}
	return tr(c, "A new code was sent moments ago.") + " " + wait
}
