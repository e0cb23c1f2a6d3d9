package main

import (
	"context"
	"errors"
	"time"

	"github.com/graphdir/graphdir/internal/api"
	"github.com/graphdir/graphdir/internal/config"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/issuer"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/otp"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/protect"
	"github.com/graphdir/graphdir/internal/signin"
)

// newBrowserSignIn wires the browser redirect sign-in (issue 14): the
// hosted pages check passwords with the sign-in core (lockout, rate
// limits, sign-in log), keep their flows in flowstate and their sessions
// and codes in the store, and issue codes through the token endpoint.
func newBrowserSignIn(ctx context.Context, cfg *config.Config, db *database, svc *directory.Service, apps *directory.Applications, tokens *oauth.Server, iss *issuer.Issuer) (*api.BrowserSignIn, error) {
	core, err := newSignInCore(cfg, db.store)
	if err != nil {
		return nil, err
	}
	b := &api.BrowserSignIn{
		Apps: apps, Passwords: hostedPasswords{core}, Log: hostedPasswords{core}, Store: db.store, Flows: flowstate.New(db.store),
		Codes: tokens, Users: db.store, UserFlows: svc, IssuerURL: iss.IssuerURL, Hints: idTokenHints{iss}, Branding: svc,
		Grants: directory.NewPermissionGrants(db.store),
	}
	// Without mail no code can be sent: MFA sign-ins are then
	// interaction_required rather than a page that cannot be completed.
	if cfg.Mail.SMTP != nil || cfg.Mail.DevOutbox {
		codes, err := newCodes(ctx, cfg, db.store) // mail.go
		if err != nil {
			return nil, err
		}
		b.EmailCodes, b.MFAMethods = mfaCodes{codes}, svc
		b.CodeTTL = codes.TTL()
		b.Accounts, b.FlowCodes, b.HashPassword = svc, flowCodes{codes}, password.Hash
	}
	// Each interactive authorize stores a flow row: 60 per minute per
	// client IP, counted in PostgreSQL so the limit holds however many
	// instances share the deployment.
	guard := protect.New(db.store, protect.Policy{Window: time.Minute, PerIP: 60})
	b.AuthorizeLimit = func(ctx context.Context, ip string) (bool, time.Duration, error) {
		err := guard.Admit(ctx, protect.Attempt{IP: ip, Step: protect.StepAuthorize})
		var refused *protect.Refusal
		if errors.As(err, &refused) {
			return false, refused.RetryAfter, nil
		}
		return err == nil, 0, err
	}
	return b, nil
}

// flowCodes adapts the one-time code service to the sign-up and reset
// pages (bound to the flow and the address, as the MFA codes are).
type flowCodes struct{ s *otp.Service }

func flowPurpose(p string) string {
	switch p {
	case api.CodeSignUp, api.CodeSignUpTaken:
		return otp.PurposeSignUp
	case api.CodeSignIn, api.CodeSignInUnknown:
		return otp.PurposeSignIn
	case api.CodeRegister:
		return otp.PurposeVerifyEmail
	}
	return otp.PurposeReset
}

func (f flowCodes) Send(ctx context.Context, purpose, tenantID, binding, email, locale, appName string) error {
	_, err := f.s.Send(ctx, otp.SendRequest{TenantID: tenantID, Purpose: flowPurpose(purpose), Binding: binding, Email: email, Locale: locale, AppName: appName,
		AccountExists: purpose == api.CodeSignUpTaken, NoAccount: purpose == api.CodeSignInUnknown || purpose == api.CodeResetUnknown})
	return resendRefusal(err)
}

func (f flowCodes) Check(ctx context.Context, purpose, tenantID, binding, email, code string) error {
	return codeRefusal(f.s.Verify(ctx, otp.VerifyRequest{TenantID: tenantID, Purpose: flowPurpose(purpose), Binding: binding, Email: email, Code: code}))
}

// RecordMFA writes the MFA step's outcome to the sign-in log.
func (h hostedPasswords) RecordMFA(ctx context.Context, o api.MFAOutcome) error {
	return h.core.RecordSignIn(ctx, signin.SignInEvent{TenantID: o.TenantID, UserID: o.UserID, UserPrincipalName: o.UserPrincipalName, UserDisplayName: o.UserDisplayName,
		AppID: o.ClientID, AppDisplayName: o.AppDisplayName, IPAddress: o.IP, ClientAppUsed: "Browser",
		ErrorCode: o.ErrorCode, FailureReason: o.FailureReason, MultiFactor: o.ErrorCode == 0})
}

// RecordPageSignIn writes a sign-in the pages finished themselves (an
// email code, the end of a sign-up) to the sign-in log, with the fields
// native authentication's nativeRecord writes for the same steps.
func (h hostedPasswords) RecordPageSignIn(ctx context.Context, e api.PageSignIn) error {
	return h.core.RecordSignIn(ctx, signin.SignInEvent{TenantID: e.TenantID, UserID: e.UserID, UserPrincipalName: e.Username,
		AppID: e.ClientID, AppDisplayName: e.AppDisplayName, IPAddress: e.IP, ClientAppUsed: "Browser",
		ErrorCode: e.ErrorCode, FailureReason: e.FailureReason, MultiFactor: e.MultiFactor})
}

// idTokenHints adapts the issuer's id_token_hint check to logout.
type idTokenHints struct{ iss *issuer.Issuer }

func (h idTokenHints) HintClient(ctx context.Context, tenantID, hint string) (string, error) {
	c, err := h.iss.VerifyIDTokenHint(ctx, tenantID, hint)
	if err != nil {
		return "", err
	}
	return c.ClientID, nil
}

// mfaCodes adapts the one-time code service to the MFA page: the code is
// bound to the flow (its id) and the address it was sent to.
type mfaCodes struct{ s *otp.Service }

func (m mfaCodes) SendCode(ctx context.Context, tenantID, binding, email, locale, appName string) error {
	_, err := m.s.Send(ctx, otp.SendRequest{TenantID: tenantID, Purpose: otp.PurposeMFA, Binding: binding, Email: email, Locale: locale, AppName: appName})
	return resendRefusal(err)
}

func (m mfaCodes) CheckCode(ctx context.Context, tenantID, binding, email, code string) error {
	return codeRefusal(m.s.Verify(ctx, otp.VerifyRequest{TenantID: tenantID, Purpose: otp.PurposeMFA, Binding: binding, Email: email, Code: code}))
}

// resendRefusal turns the code service's "too soon" (resend interval or
// hourly cap) into the pages' terms.
func resendRefusal(err error) error {
	var soon *otp.ResendTooSoonError
	if errors.As(err, &soon) {
		return &api.ResendRefusal{RetryAfter: soon.RetryAfter, HourlyCap: soon.HourlyCap}
	}
	return err
}

// codeRefusal turns the code service's refusals into the pages' terms.
func codeRefusal(err error) error {
	var wrong *otp.WrongCodeError
	switch {
	case errors.As(err, &wrong):
		return &api.CodeRefusal{Wrong: wrong.Remaining > 0}
	case errors.Is(err, otp.ErrExpired), errors.Is(err, otp.ErrTooManyTries), errors.Is(err, otp.ErrNoCode):
		return &api.CodeRefusal{}
	}
	var inv *otp.InvalidRequestError
	if errors.As(err, &inv) {
		return &api.CodeRefusal{Wrong: true}
	}
	return err
}

// hostedPasswords adapts the sign-in core to the pages: every refusal is
// an api.SignInRefusal, throttled or not, and never says whether the
// account exists.
type hostedPasswords struct{ core *signin.Core }

func (h hostedPasswords) CheckPassword(ctx context.Context, a api.PasswordAttempt) (*directory.User, error) {
	u, err := h.core.CheckPassword(ctx, signin.PasswordAttempt{TenantID: a.TenantID, ClientID: a.ClientID, AppDisplayName: a.AppDisplayName,
		Username: a.Username, Password: a.Password, IP: a.IP, UserAgent: a.UserAgent, ClientAppUsed: "Browser"})
	var se *signin.Error
	if errors.As(err, &se) {
		return nil, &api.SignInRefusal{Throttled: se.Reason == signin.ReasonLocked || se.Reason == signin.ReasonRateLimited, RetryAfter: se.RetryAfter}
	}
	return u, err
}
