package nativeauth

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/otp"
)

// Tokens issues the user tokens a completed sign-in earns (*oauth.Server).
type Tokens interface {
	IssueUserTokens(ctx context.Context, g oauth.UserGrant) (*oauth.TokenResponse, error)
}

// PasswordCheck is one email + password first factor.
type PasswordCheck struct {
	TenantID, ClientID, AppName string
	Username, Password          string
	IP                          string
}

// CheckPassword checks a password first factor with account protection
// (lockout, rate limits, the sign-in log: internal/signin) and returns the
// user's id, or the native-auth answer of the refusal.
type CheckPassword func(ctx context.Context, c PasswordCheck) (userID string, e *Error)

// SignInRecord is one outcome of a step the flow checks itself (a code,
// the second factor, a sign-in after sign-up or reset) for the sign-in
// log; password checks record their own.
type SignInRecord struct {
	TenantID, UserID, Username, AppID, AppName, IP string
	// ErrorCode is Entra's (0: success); FailureReason says why not.
	ErrorCode     int
	FailureReason string
	MultiFactor   bool
}

// RecordSignIn writes a SignInRecord to the sign-in log (internal/signin).
type RecordSignIn func(ctx context.Context, r SignInRecord) error

// record writes rec when a recorder is wired; a failure to log fails the
// step (no unlogged sign-in).
func (s *Server) record(ctx context.Context, r Request, app *directory.Application, fl directory.SignInFlow, code int, reason string) *Error {
	if s.d.Record == nil {
		return nil
	}
	err := s.d.Record(ctx, SignInRecord{TenantID: fl.TenantID, UserID: fl.UserID, Username: fl.Username, AppID: app.AppID,
		AppName: appName(app), IP: r.IP, ErrorCode: code, FailureReason: reason, MultiFactor: slices.Contains(fl.AMR, "mfa")})
	if err != nil {
		return ErrServer(err)
	}
	return nil
}

// verifySignInCode checks a sign-in or MFA code and logs a refusal.
func (s *Server) verifySignInCode(ctx context.Context, r Request, app *directory.Application, fl directory.SignInFlow, purpose string) *Error {
	e := s.verifyCode(ctx, r, fl, purpose, r.get("oob"))
	if e != nil && e.Suberror == SubInvalidOOBValue {
		if le := s.record(ctx, r, app, fl, AADInvalidOTP, "The one-time code was wrong, expired or spent."); le != nil {
			return le
		}
	}
	return e
}

// Steps of a sign-in.
const (
	stepPassword     = "password"
	stepMFARequired  = "mfa_required"
	stepMFAPending   = "mfa_pending"
	stepMFACodeSent  = "mfa_code_sent"
	mfaMethodID      = "email"
	dataFirstFactor  = "first"
	defaultScopes    = "openid profile offline_access"
	grantPassword    = "password"
	grantOOB         = "oob"
	grantMFAOOB      = "mfa_oob"
	grantContinue    = "continuation_token"
	mfaACR           = "c1"
	methodPassword   = "password"
	methodOTP        = "otp"
	dataCapabilities = "capabilities"
)

// capabilities reads capabilities (the SDK) or capability (Learn).
func capabilities(r Request) string {
	c := r.get("capabilities")
	if c == "" {
		c = r.get("capability")
	}
	return strings.Join(strings.FieldsFunc(strings.ToLower(c), func(r rune) bool { return r == ' ' || r == ',' }), " ")
}

// SignInInitiate serves /oauth2/v2.0/initiate. An unknown username is
// user_not_found: Entra's contract reveals it here (README), unless the
// tenant hides it (Deps.HideUserNotFound).
func (s *Server) SignInInitiate(ctx context.Context, r Request) (*Response, *Error) {
	st, e := s.begin(ctx, r)
	if e != nil {
		return nil, e
	}
	app, types, email, uf := st.app, st.types, st.email, st.flow
	u, err := s.d.Accounts.CustomerBySignInEmail(ctx, r.TenantID, email)
	ghost := directory.KindOf(err) == directory.KindNotFound
	switch {
	case ghost:
		hide, e := s.hideUnknown(ctx, r.TenantID)
		if e != nil {
			return nil, e
		}
		if !hide {
			return nil, ErrUserNotFound()
		}
		u = &directory.User{}
	case err != nil:
		return nil, ErrServer(err)
	}
	// Password when the flow, the client and the account allow it (an
	// account with no password signs in with codes when it can).
	hasPassword := ghost || u.LastPasswordChangeDateTime != nil
	codes := uf.AllowEmailOTP && types["oob"]
	method := ""
	switch {
	case uf.AllowPasswords && types["password"] && s.d.Password != nil && (hasPassword || !codes):
		method = methodPassword
	case codes:
		method = methodOTP
	}
	if method == "" {
		return redirect("The client does not support a sign-in method this account and user flow allow."), nil
	}
	data := map[string]string{dataMethod: method, dataCapabilities: capabilities(r)}
	if ghost {
		data[dataGhost] = "1"
	}
	ct, e := s.start(ctx, r, app, KindSignIn, stepStart, u.ID, email, data)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: ct}, nil
}

// SignInChallenge serves /oauth2/v2.0/challenge: the password prompt or
// the sign-in code (again), and, with id, the MFA code.
func (s *Server) SignInChallenge(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	types, e := challengeTypes(r)
	if e != nil {
		return nil, e
	}
	// Sign-up and reset flows come here for their second factor only.
	fl, ct, e := s.resume(ctx, r, app, false, KindSignIn, KindSignUp, KindReset)
	if e != nil {
		return nil, e
	}
	var resp *Response
	var next string
	mfaStep := fl.Step == stepMFAPending || fl.Step == stepMFACodeSent
	switch {
	case fl.Kind != KindSignIn && !mfaStep:
		return nil, ErrWrongStep("The flow does not expect a sign-in challenge now.")
	case fl.Step == stepStart || fl.Step == stepPassword || fl.Step == stepCodeSent:
		switch {
		case fl.Data[dataMethod] == methodPassword && types["password"]:
			resp, next = &Response{ChallengeType: "password"}, stepPassword
		case fl.Data[dataMethod] == methodOTP && types["oob"]:
			if resp, e = s.sendCode(ctx, r, app, fl, otp.PurposeSignIn); e != nil {
				return nil, e
			}
			fl.Data[dataCodeSent], next = "1", stepCodeSent
		default:
			return redirect("The client does not support the sign-in method of this account."), nil
		}
	case mfaStep:
		if id := r.get("id"); id != "" && id != mfaMethodID {
			return nil, newErr(CodeInvalidRequest, AADInvalidInput, "The authentication method id is not one of the methods introspect listed.")
		}
		if !types["oob"] {
			return redirect("Multi-factor authentication needs an email one-time code."), nil
		}
		if resp, e = s.sendCode(ctx, r, app, fl, otp.PurposeMFA); e != nil {
			return nil, e
		}
		fl.Data[dataCodeSent], next = "1", stepMFACodeSent
	default:
		return nil, ErrWrongStep("The sign-in flow does not expect a challenge now.")
	}
	if resp.ContinuationToken, _, e = s.advance(ctx, ct, fl, next); e != nil {
		return nil, e
	}
	return resp, nil
}

// SignInIntrospect serves /oauth2/v2.0/introspect after mfa_required: the
// strong methods the user can use (graphdir's MFA is an email code).
func (s *Server) SignInIntrospect(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindSignIn, KindSignUp, KindReset)
	if e != nil {
		return nil, e
	}
	if fl.Step != stepMFARequired && fl.Step != stepMFAPending {
		return nil, ErrWrongStep("The flow does not expect multi-factor authentication now.")
	}
	next, _, e := s.advance(ctx, ct, fl, stepMFAPending)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: next, Methods: []any{map[string]string{
		"id": mfaMethodID, "challenge_type": "oob", "challenge_channel": "email", "login_hint": otp.MaskEmail(codeAddress(fl, otp.PurposeMFA))}}}, nil
}

// Token serves the native grants of /oauth2/v2.0/token (the edge sends a
// request here when it carries a continuation_token): password, oob,
// continuation_token and mfa_oob. The token response always has an ID
// token and a refresh token (the SDK requires both), so openid and
// offline_access are added to the scopes.
func (s *Server) Token(ctx context.Context, r Request) (*oauth.TokenResponse, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	if s.d.Tokens == nil {
		return nil, ErrServer(errors.New("nativeauth: user tokens are not configured"))
	}
	gt := r.get("grant_type")
	var kinds []string
	switch gt {
	case "":
		return nil, ErrMissing("grant_type")
	case grantPassword:
		kinds = []string{KindSignIn}
	case grantOOB, grantMFAOOB:
		kinds = []string{KindSignIn, KindSignUp, KindReset}
	case grantContinue:
		kinds = []string{KindSignUp, KindReset, KindSignIn}
	default:
		return nil, ErrUnsupportedGrantType(gt)
	}
	fl, ct, e := s.resume(ctx, r, app, true, kinds...)
	if e != nil {
		return nil, e
	}
	// Learn shows the second factor with grant_type=oob; the SDK sends
	// mfa_oob. Both are taken at the MFA step.
	if gt == grantOOB && fl.Step == stepMFACodeSent {
		gt = grantMFAOOB
	}
	switch gt {
	case grantPassword:
		if fl.Step != stepPassword {
			return nil, ErrInvalidContinuationGrant()
		}
		pw := r.get("password")
		if pw == "" {
			return nil, ErrMissing("password")
		}
		uid, e := s.d.Password(ctx, PasswordCheck{TenantID: fl.TenantID, ClientID: app.AppID, AppName: appName(app),
			Username: fl.Username, Password: pw, IP: r.IP})
		if e != nil && e.Code == CodeUserNotFound {
			// The tenant's setting now, not at initiate: an account
			// deleted since is hidden or revealed as any other.
			hide, he := s.hideUnknown(ctx, fl.TenantID)
			if he != nil {
				return nil, he
			}
			if hide {
				e = ErrWrongPassword()
			}
		}
		if e != nil {
			return nil, e
		}
		if fl.UserID == "" || !strings.EqualFold(uid, fl.UserID) {
			return nil, ErrWrongPassword()
		}
		fl.AMR = []string{"pwd"}
	case grantOOB:
		if fl.Kind != KindSignIn || fl.Step != stepCodeSent {
			return nil, ErrInvalidContinuationGrant()
		}
		if e := s.verifySignInCode(ctx, r, app, fl, otp.PurposeSignIn); e != nil {
			return nil, e
		}
		fl.AMR = []string{"otp"}
	case grantContinue:
		// After sign-up, after a reset, or after a just-in-time
		// registration (of any of the three kinds).
		ready := fl.Step == stepRegCompleted || (fl.Kind == KindSignUp && fl.Step == stepCompleted) || (fl.Kind == KindReset && fl.Step == stepSignInReady)
		if !ready {
			return nil, ErrInvalidContinuationGrant()
		}
		if u := r.get("username"); u != "" && !strings.EqualFold(strings.TrimSpace(u), fl.Username) {
			return nil, ErrInvalidContinuationGrant()
		}
	case grantMFAOOB:
		if fl.Step != stepMFACodeSent {
			return nil, ErrInvalidContinuationGrant()
		}
		if e := s.verifySignInCode(ctx, r, app, fl, otp.PurposeMFA); e != nil {
			return nil, e
		}
		fl.AMR = appendOnce(appendOnce(fl.AMR, "otp"), "mfa")
		return s.issue(ctx, r, app, fl, ct)
	}
	uf, err := s.d.Accounts.UserFlowForApp(ctx, fl.TenantID, app.AppID)
	if err != nil {
		return nil, ErrServer(err)
	}
	if uf.MFARequired && !slices.Contains(fl.AMR, "mfa") {
		addr, err := s.d.Accounts.CustomerMFAEmail(ctx, fl.TenantID, fl.UserID)
		if directory.KindOf(err) == directory.KindNotFound {
			return nil, ErrInvalidContinuationGrant()
		}
		if err != nil {
			return nil, ErrServer(err)
		}
		if addr == "" {
			return nil, s.registrationRequired(ctx, ct, fl)
		}
		fl.Data[dataMFAEmail] = addr
		// The first factor is proven; the SDK goes on at introspect.
		// Without the mfa_required capability the client cannot, and
		// gets the web fallback's answer.
		if fl.Data[dataCapabilities] != "" && !strings.Contains(fl.Data[dataCapabilities], "mfa_required") {
			return nil, withSub(newErr(CodeInvalidGrant, AADMFARequired, "Multi-factor authentication is required, and the client did not declare the mfa_required capability."), SubMFARequired)
		}
		next, _, e := s.advance(ctx, ct, fl, stepMFARequired)
		if e != nil {
			return nil, e
		}
		return nil, ErrMFARequired(next)
	}
	return s.issue(ctx, r, app, fl, ct)
}

// issue ends the flow (its token redeems once) and mints the tokens.
func (s *Server) issue(ctx context.Context, r Request, app *directory.Application, fl directory.SignInFlow, ct string) (*oauth.TokenResponse, *Error) {
	if err := s.d.Flows.Finish(ctx, fl.TenantID, ct); err != nil {
		return nil, FromFlowState(err, true)
	}
	scope := strings.TrimSpace(r.get("scope"))
	if scope == "" {
		scope = defaultScopes
	}
	scopes := strings.Fields(scope)
	for _, need := range []string{"openid", "offline_access"} {
		if !slices.ContainsFunc(scopes, func(s string) bool { return strings.EqualFold(s, need) }) {
			scopes = append(scopes, need)
		}
	}
	g := oauth.UserGrant{TenantID: fl.TenantID, UserID: fl.UserID, ClientID: app.AppID, Scopes: scopes,
		AMR: fl.AMR, AuthTime: s.d.Now().UTC(), SPA: r.Browser}
	if slices.Contains(fl.AMR, "mfa") {
		g.ACRS = []string{mfaACR}
	}
	t, err := s.d.Tokens.IssueUserTokens(ctx, g)
	if err != nil {
		e := fromOAuth(err)
		if le := s.record(ctx, r, app, fl, max(e.AADSTS, 1), "Tokens could not be issued: "+e.Code+"."); le != nil {
			return nil, le
		}
		return nil, e
	}
	// A password first factor without MFA was logged by the password
	// check itself; everything else is logged here.
	if !(len(fl.AMR) == 1 && fl.AMR[0] == "pwd" && fl.Kind == KindSignIn) {
		if le := s.record(ctx, r, app, fl, 0, ""); le != nil {
			return nil, le
		}
	}
	return t, nil
}

// fromOAuth carries the token issuer's OAuth error over unchanged.
func fromOAuth(err error) *Error {
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code == oauth.CodeServerError {
		return ErrServer(err)
	}
	e := &Error{Code: oe.Code, Description: oe.Description}
	if codes := oe.OAuthErrorCodes(); len(codes) > 0 {
		e.AADSTS = codes[0]
	}
	if oe.Retry > 0 {
		e.RetryAfter = oe.Retry
	}
	return e
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(slices.Clone(list), s)
}
