package nativeauth

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/otp"
	"github.com/graphdir/graphdir/internal/protect"
)

// Applications finds the application a request names (directory.Applications).
type Applications interface {
	ClientApplication(ctx context.Context, tenantID, clientID string) (*directory.Application, error)
}

// Accounts is what the flows do to the directory (*directory.Service).
type Accounts interface {
	UserFlowForApp(ctx context.Context, tenantID, appID string) (directory.UserFlow, error)
	CustomerBySignInEmail(ctx context.Context, tenantID, email string) (*directory.User, error)
	SignUpValues(ctx context.Context, tenantID string, flow directory.UserFlow, attrs map[string]string) (map[string]any, error)
	SignUpCustomer(ctx context.Context, r directory.SelfServiceSignUp) (*directory.User, error)
	ResetCustomerPassword(ctx context.Context, tenantID, appID, userID, newPassword string) error
	// CustomerMFAEmail is the address of the account's email second
	// factor; "" when it has none (registration_required).
	CustomerMFAEmail(ctx context.Context, tenantID, userID string) (string, error)
	// RegisterMFAEmail records a proven address as the account's MFA
	// address (audited, initiated by the application).
	RegisterMFAEmail(ctx context.Context, tenantID, appID, userID, email string) error
}

// Codes sends and checks email one-time codes (*otp.Service).
type Codes interface {
	Send(ctx context.Context, r otp.SendRequest) (otp.Sent, error)
	Verify(ctx context.Context, r otp.VerifyRequest) error
}

// Guard is account protection (*protect.Guard).
type Guard interface {
	Admit(ctx context.Context, a protect.Attempt) error
	Failed(ctx context.Context, a protect.Attempt) error
	Succeeded(ctx context.Context, a protect.Attempt) error
}

// Deps wires a Server.
type Deps struct {
	Apps     Applications
	Accounts Accounts
	Flows    *flowstate.Flows
	Codes    Codes
	// Hash hashes a password a sign-up collected, so that the flow keeps
	// only the hash until the account is created (password.Hash).
	Hash func(pw string) (string, error)
	// Tokens issues user tokens at the end of a sign-in; nil: the token
	// grants answer server_error.
	Tokens Tokens
	// Password checks password first factors; nil: sign-in offers email
	// codes only.
	Password CheckPassword
	// Record writes code, MFA and continuation sign-ins to the sign-in
	// log; nil: not logged.
	Record RecordSignIn
	// HideUserNotFound decides, per request, whether the tenant answers
	// an unknown username at sign-in and password reset as if the account
	// existed (the code step then never succeeds, the password step says
	// 50126) instead of Entra's user_not_found, so the API does not tell
	// who has an account. It is a tenant setting over a deployment default
	// and is asked only when a username matches no account, so a known
	// user's sign-in pays nothing for it. nil: never hide.
	HideUserNotFound func(ctx context.Context, tenantID string) (bool, error)
	// Guard applies account protection to code sends and code checks
	// (rate limits per IP and tenant; wrong codes count toward the sign-in
	// name's lockout, as wrong passwords do); nil: none.
	Guard Guard
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Server serves the native authentication steps.
type Server struct{ d Deps }

// New returns a Server; Apps, Accounts, Flows, Codes and Hash are required.
func New(d Deps) *Server {
	if d.Apps == nil || d.Accounts == nil || d.Flows == nil || d.Codes == nil || d.Hash == nil {
		panic("nativeauth.New: Apps, Accounts, Flows, Codes and Hash are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Server{d: d}
}

// Request is one native authentication call: the tenant from the path and
// the form's parameters (each at most once; the edge refuses repeats).
type Request struct {
	TenantID string
	Form     map[string]string
	// Locale is the Accept-Language header, for the code mail.
	Locale string
	// IP is the client's address (account protection).
	IP string
	// Browser is set for a cross-origin browser call (CORS): its refresh
	// tokens get the single-page-app lifetime.
	Browser bool
}

func (r Request) get(name string) string { return r.Form[name] }

// Response is a successful answer; empty fields are left out.
type Response struct {
	ContinuationToken    string `json:"continuation_token,omitempty"`
	ChallengeType        string `json:"challenge_type,omitempty"`
	BindingMethod        string `json:"binding_method,omitempty"`
	ChallengeTargetLabel string `json:"challenge_target_label,omitempty"`
	ChallengeChannel     string `json:"challenge_channel,omitempty"`
	// ChallengeTarget is register/v1.0/challenge's spelling of the label.
	ChallengeTarget string `json:"challenge_target,omitempty"`
	CodeLength      int    `json:"code_length,omitempty"`
	Interval        int    `json:"interval,omitempty"`
	ExpiresIn       int    `json:"expires_in,omitempty"`
	PollInterval    int    `json:"poll_interval,omitempty"`
	Status          string `json:"status,omitempty"`
	RedirectReason  string `json:"redirect_reason,omitempty"`
	Methods         []any  `json:"methods,omitempty"`
}

// redirect is the web fallback answer (a 2xx the SDK reports as
// isRedirectRequired()).
func redirect(reason string) *Response {
	return &Response{ChallengeType: "redirect", RedirectReason: reason}
}

// challengeTypes reads the challenge_type list: it must include redirect
// (Entra's rule); unknown members are ignored (reference rule 5).
func challengeTypes(r Request) (map[string]bool, *Error) {
	raw := r.get("challenge_type")
	if strings.TrimSpace(raw) == "" {
		return nil, ErrMissing("challenge_type")
	}
	set := map[string]bool{}
	for _, t := range strings.Fields(raw) {
		set[strings.ToLower(t)] = true
	}
	if !set["redirect"] {
		return nil, ErrUnsupportedChallengeType()
	}
	return set, nil
}

// client resolves and checks the calling application: it must exist
// (unauthorized_client) and be a public client enabled for native
// authentication (invalid_client / nativeauthapi_disabled).
func (s *Server) client(ctx context.Context, r Request) (*directory.Application, *Error) {
	id := r.get("client_id")
	if id == "" {
		return nil, ErrMissing("client_id")
	}
	app, err := s.d.Apps.ClientApplication(ctx, r.TenantID, id)
	if directory.KindOf(err) == directory.KindNotFound {
		return nil, ErrUnknownClient(id)
	}
	if err != nil {
		return nil, ErrServer(err)
	}
	if !app.NativeAuthEnabled() || !app.IsPublicClient() {
		return nil, ErrNativeAuthDisabled()
	}
	return app, nil
}

// maxUsername is the longest sign-in email: an identity's
// issuerAssignedId holds at most 64 characters (Graph's limit).
const maxUsername = 64

// username reads and checks the username parameter: an email address
// an emailAddress identity can hold.
func username(r Request) (string, *Error) {
	u := strings.TrimSpace(r.get("username"))
	if u == "" || utf8.RuneCountInString(u) > maxUsername {
		return "", ErrInvalidUsername()
	}
	a, err := mail.ParseAddress(u)
	if err != nil || a.Name != "" || a.Address != u || !strings.Contains(u[strings.LastIndexByte(u, '@')+1:], ".") {
		return "", ErrInvalidUsername()
	}
	return strings.ToLower(u), nil
}

// resume finds the flow behind the request's continuation token, for
// app and one of kinds.
func (s *Server) resume(ctx context.Context, r Request, app *directory.Application, grant bool, kinds ...string) (directory.SignInFlow, string, *Error) {
	ct := r.get("continuation_token")
	if ct == "" {
		return directory.SignInFlow{}, "", ErrMissing("continuation_token")
	}
	fl, err := s.d.Flows.Resume(ctx, r.TenantID, app.AppID, ct, kinds...)
	if err != nil {
		return fl, "", FromFlowState(err, grant)
	}
	if fl.Data == nil {
		fl.Data = map[string]string{}
	}
	return fl, ct, nil
}

// advance records fl's new step and returns the next continuation token.
func (s *Server) advance(ctx context.Context, ct string, fl directory.SignInFlow, step string) (string, directory.SignInFlow, *Error) {
	fl.Step = step
	next, fl, err := s.d.Flows.Advance(ctx, ct, fl)
	if err != nil {
		return "", fl, FromFlowState(err, false)
	}
	return next, fl, nil
}

// start begins a flow of kind for app.
func (s *Server) start(ctx context.Context, r Request, app *directory.Application, kind, step, user, name string, data map[string]string) (string, *Error) {
	ct, _, err := s.d.Flows.Start(ctx, directory.SignInFlow{TenantID: strings.ToLower(r.TenantID), ClientID: app.AppID,
		Kind: kind, Step: step, UserID: user, Username: name, Data: data})
	if err != nil {
		return "", ErrServer(err)
	}
	return ct, nil
}

// sendCode mails a code for the flow (bound to the flow's id, which stays
// the same across its steps) and answers the oob challenge. A resend
// within the resend interval keeps the code already sent (it is still
// valid) rather than failing: the SDK offers "resend" right away.
func (s *Server) sendCode(ctx context.Context, r Request, app *directory.Application, fl directory.SignInFlow, purpose string) (*Response, *Error) {
	if e := s.admit(ctx, r, fl, protect.StepCodeSend); e != nil {
		return nil, e
	}
	to := codeAddress(fl, purpose)
	// No account (the tenant hides user_not_found): the same send, stored
	// code, resend interval and hourly cap per address as for an account,
	// but a code no one knows and no mail, so the answers and their
	// limits cannot tell the two apart.
	sent, err := s.d.Codes.Send(ctx, otp.SendRequest{TenantID: fl.TenantID, Purpose: purpose, Binding: fl.ID,
		Email: to, Locale: r.Locale, AppName: appName(app), NoAccount: fl.Data[dataGhost] == "1"})
	var soon *otp.ResendTooSoonError
	if errors.As(err, &soon) && !soon.HourlyCap && fl.Data["code_sent"] == "1" && (fl.Data[dataCodeSentTo] == "" || fl.Data[dataCodeSentTo] == to) {
		sent, err = otp.Sent{CodeLength: otp.CodeLength, Interval: soon.RetryAfter, ChannelTarget: otp.MaskEmail(to)}, nil
	}
	if err != nil {
		return nil, FromOTP(err)
	}
	return &Response{ChallengeType: "oob", BindingMethod: "prompt", ChallengeChannel: "email",
		ChallengeTargetLabel: sent.ChannelTarget, CodeLength: sent.CodeLength,
		Interval: max(int(sent.Interval/time.Second), 1)}, nil
}

// codeAddress is where a flow's code of purpose goes: the MFA address for
// the second factor, the address being registered for a registration,
// else the sign-in email.
func codeAddress(fl directory.SignInFlow, purpose string) string {
	switch {
	case purpose == otp.PurposeMFA && fl.Data[dataMFAEmail] != "":
		return fl.Data[dataMFAEmail]
	case purpose == otp.PurposeVerifyEmail:
		return fl.Data[dataRegTarget]
	}
	return fl.Username
}

// verifyCode checks a code the flow sent, under account protection: a
// locked name or an exhausted rate limit is refused before the code is
// looked at, and a wrong code counts toward the name's lockout.
func (s *Server) verifyCode(ctx context.Context, r Request, fl directory.SignInFlow, purpose, code string) *Error {
	if code == "" {
		return ErrMissing("oob")
	}
	if e := s.admit(ctx, r, fl, protect.StepCodeVerify); e != nil {
		return e
	}
	at := protect.Attempt{TenantID: fl.TenantID, Identifier: fl.Username, IP: r.IP, Step: protect.StepCodeVerify}
	var err error
	// A ghost's code is checked as any (its stored code is one no one
	// knows), so its tries and lifetime run out alike.
	if len(code) > 64 {
		err = &otp.WrongCodeError{}
	} else {
		err = s.d.Codes.Verify(ctx, otp.VerifyRequest{TenantID: fl.TenantID, Purpose: purpose, Binding: fl.ID, Code: code, Email: codeAddress(fl, purpose)})
	}
	var wrong *otp.WrongCodeError
	switch {
	case err == nil:
		if s.d.Guard != nil {
			if gerr := s.d.Guard.Succeeded(ctx, at); gerr != nil {
				return ErrServer(gerr)
			}
		}
		return nil
	case errors.As(err, &wrong) || errors.Is(err, otp.ErrTooManyTries):
		if s.d.Guard != nil {
			if gerr := s.d.Guard.Failed(ctx, at); gerr != nil && !errors.Is(gerr, protect.ErrLocked) {
				return ErrServer(gerr)
			}
		}
	}
	return FromOTP(err)
}

// admit runs account protection's admission for a step of fl.
func (s *Server) admit(ctx context.Context, r Request, fl directory.SignInFlow, step protect.Step) *Error {
	if s.d.Guard == nil {
		return nil
	}
	err := s.d.Guard.Admit(ctx, protect.Attempt{TenantID: fl.TenantID, Identifier: fl.Username, IP: r.IP, Step: step})
	var ref *protect.Refusal
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ref) && ref.Locked:
		return ErrAccountLocked()
	case errors.As(err, &ref):
		return ErrTooMany(ref.RetryAfter, "Too many attempts. Retry later.")
	}
	return ErrServer(err)
}

func appName(app *directory.Application) string { return app.DisplayName }

// hideUnknown reports whether the tenant hides that a username has no
// account (Deps.HideUserNotFound).
func (s *Server) hideUnknown(ctx context.Context, tenantID string) (bool, *Error) {
	if s.d.HideUserNotFound == nil {
		return false, nil
	}
	hide, err := s.d.HideUserNotFound(ctx, tenantID)
	if err != nil {
		return false, ErrServer(err)
	}
	return hide, nil
}

// started is what every flow's first step reads from its request: the
// client (checked), the challenge types it can take, the username, and the
// user flow that applies to the client.
type started struct {
	app   *directory.Application
	types map[string]bool
	email string
	flow  directory.UserFlow
}

// begin reads and checks what sign-in, sign-up and reset start with, in
// the order Entra checks it (client, challenge types, username).
func (s *Server) begin(ctx context.Context, r Request) (started, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return started{}, e
	}
	types, e := challengeTypes(r)
	if e != nil {
		return started{}, e
	}
	email, e := username(r)
	if e != nil {
		return started{}, e
	}
	uf, err := s.d.Accounts.UserFlowForApp(ctx, r.TenantID, app.AppID)
	if err != nil {
		return started{}, ErrServer(err)
	}
	return started{app: app, types: types, email: email, flow: uf}, nil
}
