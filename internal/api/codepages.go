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
// decoy that stands in for a code when the address has no account (reset,
// email-code sign-in; a taken sign-up address has a real code no one
// knows, and its owner a notice).
//
// A decoy must be indistinguishable from a real code: same wrong-code
// answers, the same dead code after MaxTries wrong tries or the lifetime,
// the same resend interval and hourly cap, the same handle kept across
// tries. Its counters live in the flow (Postgres, any instance), saved
// under the same handle; a real code's live in the code service's store.

// CodeRegister is the purpose of the code that proves a new MFA address
// (just-in-time registration; otp's verify-email codes).
const CodeRegister = "register"

// codeMFA marks the MFA code, sent through EmailCodes.
const codeMFA = "mfa"

// CodeRules are the one-time code service's limits.
type CodeRules struct {
	TTL, ResendInterval time.Duration
	SendsPerHour        int
	MaxTries            int
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

// The flow data of a decoy code: no code exists, the page imitates one.
const (
	dataDecoy      = "decoy"       // "1" on a flow whose address has no account
	dataDecoySent  = "decoy_sent"  // Unix ms of the imitated code's send
	dataDecoyTries = "decoy_tries" // wrong tries on it
	dataDecoySends = "decoy_sends" // Unix ms of the imitated sends, space-separated
)

// rules are the code limits, otp's defaults for zero fields.
func (b *BrowserSignIn) rules() CodeRules {
	r := b.CodeRules
	if r.TTL <= 0 {
		r.TTL = 10 * time.Minute
	}
	if r.ResendInterval <= 0 {
		r.ResendInterval = time.Minute
	}
	if r.SendsPerHour <= 0 {
		r.SendsPerHour = 10
	}
	if r.MaxTries <= 0 {
		r.MaxTries = 5
	}
	return r
}

func isDecoy(fl directory.SignInFlow) bool { return fl.Data[dataDecoy] == "1" }

func msTime(v string) time.Time {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(n)
}

func msString(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// startDecoy marks fl as a decoy or not; a decoy's first code counts as
// sent now (the caller stores fl as it advances it).
func (s *server) startDecoy(fl *directory.SignInFlow, decoy bool) {
	for _, k := range []string{dataDecoy, dataDecoySent, dataDecoyTries, dataDecoySends} {
		delete(fl.Data, k)
	}
	if decoy {
		fl.Data[dataDecoy] = "1"
		_ = decoySend(fl, s.browser.now(), s.browser.rules()) // a fresh decoy has no send to refuse it
	}
}

// decoySend imitates otp's Send on fl: the resend interval first, then
// the hourly cap, then a new code (tries start again).
func decoySend(fl *directory.SignInFlow, now time.Time, r CodeRules) error {
	if sent := msTime(fl.Data[dataDecoySent]); !sent.IsZero() {
		if wait := sent.Add(r.ResendInterval).Sub(now); wait > 0 {
			return &ResendRefusal{RetryAfter: wait}
		}
	}
	hourAgo := now.Add(-time.Hour)
	var sends []time.Time
	for _, f := range strings.Fields(fl.Data[dataDecoySends]) {
		if t := msTime(f); t.After(hourAgo) {
			sends = append(sends, t)
		}
	}
	if len(sends) >= r.SendsPerHour {
		return &ResendRefusal{RetryAfter: max(sends[0].Add(time.Hour).Sub(now), time.Second), HourlyCap: true}
	}
	sends = append(sends, now)
	parts := make([]string, len(sends))
	for i, t := range sends {
		parts[i] = msString(t)
	}
	fl.Data[dataDecoySent], fl.Data[dataDecoyTries], fl.Data[dataDecoySends] = msString(now), "0", strings.Join(parts, " ")
	return nil
}

// decoyCheck imitates otp's Verify on fl: no code can be right; a wrong
// try counts (changed: fl must be saved) until MaxTries kill the code, as
// does its lifetime.
func decoyCheck(fl *directory.SignInFlow, now time.Time, r CodeRules) (changed bool, err error) {
	sent := msTime(fl.Data[dataDecoySent])
	tries, _ := strconv.Atoi(fl.Data[dataDecoyTries])
	switch {
	case sent.IsZero(), tries >= r.MaxTries, !now.Before(sent.Add(r.TTL)):
		return false, &CodeRefusal{}
	}
	fl.Data[dataDecoyTries] = strconv.Itoa(tries + 1)
	if r.MaxTries-tries-1 <= 0 {
		return true, &CodeRefusal{}
	}
	return true, &CodeRefusal{Wrong: true}
}

// saveDecoy applies step to the flow behind handle and saves it under
// the same handle, reading it again when another request changed it
// first (concurrent tries count one by one, as otp's do).
func (s *server) saveDecoy(ctx context.Context, handle string, fl directory.SignInFlow, step func(*directory.SignInFlow) (bool, error)) error {
	for range 3 {
		changed, res := step(&fl)
		if !changed {
			return res
		}
		_, err := s.browser.Flows.Save(ctx, handle, fl)
		if err == nil {
			return res
		}
		if !isFlowError(err) {
			return err
		}
		if fl, err = s.browser.Flows.Resume(ctx, fl.TenantID, fl.ClientID, handle, fl.Kind); err != nil {
			return err
		}
	}
	return errors.New("api: the flow kept changing under a decoy code")
}

// checkPageCode checks the code typed on a code page: the code service's
// for a real flow, the flow's counters for a decoy. A refusal is a
// *CodeRefusal.
func (s *server) checkPageCode(ctx context.Context, handle string, fl directory.SignInFlow, purpose, target, code string) error {
	if isDecoy(fl) {
		now, r := s.browser.now(), s.browser.rules()
		return s.saveDecoy(ctx, handle, fl, func(f *directory.SignInFlow) (bool, error) { return decoyCheck(f, now, r) })
	}
	if purpose == codeMFA {
		return s.browser.EmailCodes.CheckCode(ctx, fl.TenantID, fl.ID, target, code)
	}
	return s.browser.FlowCodes.Check(ctx, purpose, fl.TenantID, fl.ID, target, code)
}

// sendPageCode sends a new code for the code page of a real flow. A send
// the limits refuse is a *ResendRefusal.
func (s *server) sendPageCode(ctx context.Context, fl directory.SignInFlow, purpose, target, locale, app string) error {
	if purpose == codeMFA {
		return s.browser.EmailCodes.SendCode(ctx, fl.TenantID, fl.ID, target, locale, app)
	}
	return s.browser.FlowCodes.Send(ctx, purpose, fl.TenantID, fl.ID, target, locale, app)
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
		if fl.Data["taken"] == "1" {
			// The owner of a taken address gets the notice again, never
			// a code.
			return selfService(stepSignUp, CodeSignUpTaken)
		}
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
	if isDecoy(fl) {
		now, r := b.now(), b.rules()
		err = s.saveDecoy(ctx, handle, fl, func(f *directory.SignInFlow) (bool, error) {
			err := decoySend(f, now, r)
			return err == nil, err
		})
		var ref *ResendRefusal
		if err != nil && !errors.As(err, &ref) && isFlowError(err) {
			// The flow ended or expired under the decoy's save.
			s.errorPage(c, http.StatusBadRequest, "This page has expired", "Go back to the application and start again.")
			return
		}
	} else {
		err = s.sendPageCode(ctx, fl, page.purpose, page.target, req.UILocales, appName(app))
	}
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
		strconv.Itoa(int(s.browser.rules().TTL.Round(time.Minute)/time.Minute)))
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
