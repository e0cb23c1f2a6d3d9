package nativeauth

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/otp"
)

// Just-in-time registration of the strong authentication method
// (reference §2.3). The user flow requires MFA, the first factor is
// proven, and the account has no MFA address (directory's
// CustomerMFAEmail): the token call answers registration_required, the
// SDK lists the methods (register/v1.0/introspect), names an address
// (challenge), proves it with a code (continue) and redeems the flow at
// the token endpoint with grant_type=continuation_token.
const (
	stepRegRequired    = "reg_required"
	stepRegPending     = "reg_pending"
	stepRegCodeSent    = "reg_code_sent"
	stepRegPreverified = "reg_preverified"
	stepRegCompleted   = "reg_completed"

	// dataMFAEmail is the account's MFA address, for the second factor.
	dataMFAEmail = "mfa_email"
	// dataRegTarget is the address being registered.
	dataRegTarget = "reg_target"
	// dataCodeSentTo is the address the last registration code went to.
	dataCodeSentTo = "code_sent_to"

	challengePreverified = "preverified"
)

// ErrRegistrationRequired: the first factor is done but the account has
// no strong method; the SDK continues at register/v1.0/introspect with ct.
func ErrRegistrationRequired(ct string) *Error {
	e := withSub(newErr(CodeInvalidGrant, AADMFARequired, "The user must register a strong authentication method."), SubRegistrationRequired)
	e.ContinuationToken = ct
	return e
}

// registrationRequired moves fl to the registration and returns the
// answer of the token call. A client that declared capabilities without
// registration_required cannot follow, and is told so without a token.
func (s *Server) registrationRequired(ctx context.Context, ct string, fl directory.SignInFlow) *Error {
	if c := fl.Data[dataCapabilities]; c != "" && !strings.Contains(c, "registration_required") {
		return withSub(newErr(CodeInvalidGrant, AADMFARequired,
			"The user must register a strong authentication method, and the client did not declare the registration_required capability."), SubRegistrationRequired)
	}
	next, _, e := s.advance(ctx, ct, fl, stepRegRequired)
	if e != nil {
		return e
	}
	return ErrRegistrationRequired(next)
}

// RegisterIntrospect serves /register/v1.0/introspect: the methods the
// user may register (graphdir's strong method is an email code). The
// login_hint is the sign-in email, the address the SDK's app may offer.
func (s *Server) RegisterIntrospect(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindSignIn, KindSignUp, KindReset)
	if e != nil {
		return nil, e
	}
	if fl.Step != stepRegRequired && fl.Step != stepRegPending {
		return nil, ErrWrongStep("The flow does not expect a method registration now.")
	}
	next, _, e := s.advance(ctx, ct, fl, stepRegPending)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: next, Methods: []any{map[string]string{
		"id": mfaMethodID, "challenge_type": "oob", "challenge_channel": "email", "login_hint": fl.Username}}}, nil
}

// RegisterChallenge serves /register/v1.0/challenge: challenge_target is
// the address to register. When it is the sign-in email and this flow
// has already proven it with a code (an email-code sign-in, a sign-up, a
// password reset) the answer is preverified and no mail is sent;
// otherwise a code goes to it. Another target may be named later (the
// same token keeps working after a recoverable error).
func (s *Server) RegisterChallenge(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindSignIn, KindSignUp, KindReset)
	if e != nil {
		return nil, e
	}
	if fl.Step != stepRegPending && fl.Step != stepRegCodeSent {
		return nil, ErrWrongStep("The flow does not expect a method registration challenge now.")
	}
	// The SDK sends the method's challenge_type alone (no redirect).
	types := strings.Fields(strings.ToLower(r.get("challenge_type")))
	switch {
	case len(types) == 0:
		return nil, ErrMissing("challenge_type")
	case !slices.Contains(types, "oob"):
		return nil, ErrUnsupportedChallengeType()
	}
	if ch := r.get("challenge_channel"); ch != "" && !strings.EqualFold(ch, "email") {
		return nil, newErr(CodeInvalidRequest, AADInvalidInput, "The challenge_channel must be email.")
	}
	target, e := challengeTarget(r)
	if e != nil {
		return nil, e
	}
	fl.Data[dataRegTarget] = target
	if strings.EqualFold(target, fl.Username) && proven(fl) {
		next, _, e := s.advance(ctx, ct, fl, stepRegPreverified)
		if e != nil {
			return nil, e
		}
		return &Response{ContinuationToken: next, ChallengeType: challengePreverified}, nil
	}
	resp, e := s.sendCode(ctx, r, app, fl, otp.PurposeVerifyEmail)
	if e != nil {
		return nil, e
	}
	fl.Data[dataCodeSent], fl.Data[dataCodeSentTo] = "1", target
	if resp.ContinuationToken, _, e = s.advance(ctx, ct, fl, stepRegCodeSent); e != nil {
		return nil, e
	}
	resp.ChallengeTarget, resp.ChallengeTargetLabel = resp.ChallengeTargetLabel, ""
	return resp, nil
}

// RegisterContinue serves /register/v1.0/continue: grant_type=oob with
// the code sent to the target, or grant_type=continuation_token after a
// preverified answer. The address is then the account's MFA address, and
// the flow counts as multi-factor (a code to the registered address on
// top of the first factor; after preverified, the code this flow already
// checked).
func (s *Server) RegisterContinue(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindSignIn, KindSignUp, KindReset)
	if e != nil {
		return nil, e
	}
	switch gt := r.get("grant_type"); gt {
	case "":
		return nil, ErrMissing("grant_type")
	case grantOOB:
		if fl.Step != stepRegCodeSent {
			return nil, ErrWrongStep("The flow does not expect a registration code now.")
		}
		if e := s.verifyCode(ctx, r, fl, otp.PurposeVerifyEmail, r.get("oob")); e != nil {
			return nil, e
		}
		fl.AMR = appendOnce(fl.AMR, "otp")
	case grantContinue:
		if fl.Step != stepRegPreverified {
			return nil, ErrWrongStep("The flow does not expect to complete a registration now.")
		}
	default:
		return nil, ErrUnsupportedGrantType(gt)
	}
	if err := s.d.Accounts.RegisterMFAEmail(ctx, fl.TenantID, app.AppID, fl.UserID, fl.Data[dataRegTarget]); err != nil {
		return nil, FromDirectory(err)
	}
	fl.AMR = appendOnce(fl.AMR, "mfa")
	fl.Data[dataMFAEmail] = fl.Data[dataRegTarget]
	next, _, e := s.advance(ctx, ct, fl, stepRegCompleted)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: next}, nil
}

// proven reports whether the flow has checked a code sent to its sign-in
// email: sign-up and password reset always do before an account signs
// in with them; a sign-in when its first factor was the email code.
func proven(fl directory.SignInFlow) bool {
	return fl.Kind == KindSignUp || fl.Kind == KindReset || fl.Data[dataVerified] == "1" || slices.Contains(fl.AMR, "otp")
}

// challengeTarget reads the address to register: an email address, as
// otherMails holds them (at most 254 characters, no display name).
func challengeTarget(r Request) (string, *Error) {
	t := strings.TrimSpace(r.get("challenge_target"))
	if t == "" {
		return "", ErrMissing("challenge_target")
	}
	a, err := mail.ParseAddress(t)
	if utf8.RuneCountInString(t) > 254 || err != nil || a.Name != "" || a.Address != t || !strings.Contains(t[strings.LastIndexByte(t, '@')+1:], ".") {
		return "", newErr(CodeInvalidRequest, AADInvalidInput, "The challenge_target is not a valid email address.")
	}
	return strings.ToLower(t), nil
}
