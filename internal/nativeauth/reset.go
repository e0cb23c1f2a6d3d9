package nativeauth

import (
	"context"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/otp"
)

// Steps of a password reset after the code (stepStart, stepCodeSent and
// stepCompleted are shared with sign-up).
const (
	stepVerified    = "verified"
	stepSignInReady = "signin_ready"
)

// resetWindow is the expires_in of a verified reset: Learn's ≤ 600 s;
// the flow itself may live longer.
const resetWindow = 600

// ResetStart serves /resetpassword/v1.0/start. An unknown username is
// user_not_found: Entra's contract reveals it here (README), unless the
// tenant hides it (Deps.HideUserNotFound).
func (s *Server) ResetStart(ctx context.Context, r Request) (*Response, *Error) {
	st, e := s.begin(ctx, r)
	if e != nil {
		return nil, e
	}
	app, types, email, uf := st.app, st.types, st.email, st.flow
	if !types["oob"] || !uf.AllowPasswords {
		return redirect("Password reset needs an email one-time code and a user flow with passwords."), nil
	}
	u, err := s.d.Accounts.CustomerBySignInEmail(ctx, r.TenantID, email)
	if err != nil && directory.KindOf(err) != directory.KindNotFound {
		return nil, ErrServer(err)
	}
	data := map[string]string{}
	userID := ""
	if err != nil || (u.AccountEnabled != nil && !*u.AccountEnabled) {
		hide, e := s.hideUnknown(ctx, r.TenantID)
		if e != nil {
			return nil, e
		}
		if !hide {
			return nil, ErrUserNotFound()
		}
		data[dataGhost] = "1"
	} else {
		userID = u.ID
	}
	ct, e := s.start(ctx, r, app, KindReset, stepStart, userID, email, data)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: ct}, nil
}

// ResetChallenge serves /resetpassword/v1.0/challenge: the code (again).
func (s *Server) ResetChallenge(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	types, e := challengeTypes(r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindReset)
	if e != nil {
		return nil, e
	}
	if fl.Step != stepStart && fl.Step != stepCodeSent {
		return nil, ErrWrongStep("The password reset flow does not expect a challenge now.")
	}
	if !types["oob"] {
		return redirect("Password reset needs an email one-time code."), nil
	}
	resp, e := s.sendCode(ctx, r, app, fl, otp.PurposeReset)
	if e != nil {
		return nil, e
	}
	fl.Data[dataCodeSent] = "1"
	next, _, e := s.advance(ctx, ct, fl, stepCodeSent)
	if e != nil {
		return nil, e
	}
	resp.ContinuationToken = next
	return resp, nil
}

// ResetContinue serves /resetpassword/v1.0/continue (grant_type oob).
func (s *Server) ResetContinue(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	switch gt := r.get("grant_type"); gt {
	case "":
		return nil, ErrMissing("grant_type")
	case "oob":
	default:
		return nil, ErrUnsupportedGrantType(gt)
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindReset)
	if e != nil {
		return nil, e
	}
	if fl.Step != stepCodeSent {
		return nil, ErrWrongStep("The password reset flow does not expect a code now.")
	}
	if e := s.verifyCode(ctx, r, fl, otp.PurposeReset, r.get("oob")); e != nil {
		return nil, e
	}
	fl.Data[dataVerified] = "1"
	next, _, e := s.advance(ctx, ct, fl, stepVerified)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: next, ExpiresIn: resetWindow}, nil
}

// ResetSubmit serves /resetpassword/v1.0/submit: the new password is set
// at once (poll_completion then answers succeeded). The store's password
// change ends the user's refresh tokens.
func (s *Server) ResetSubmit(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindReset)
	if e != nil {
		return nil, e
	}
	if fl.Step != stepVerified {
		return nil, ErrWrongStep("The password reset flow does not expect a new password now.")
	}
	pw := r.get("new_password")
	if pw == "" {
		return nil, ErrMissing("new_password")
	}
	if p := directory.CheckNewPassword(pw); p != "" {
		return nil, ErrPassword(p)
	}
	if err := s.d.Accounts.ResetCustomerPassword(ctx, fl.TenantID, app.AppID, fl.UserID, pw); err != nil {
		if directory.KindOf(err) == directory.KindNotFound {
			return nil, ErrUserNotFound()
		}
		return nil, FromDirectory(err)
	}
	fl.AMR = []string{"pwd"}
	next, _, e := s.advance(ctx, ct, fl, stepCompleted)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: next, PollInterval: 1}, nil
}

// ResetPoll serves /resetpassword/v1.0/poll_completion: the reset is
// done when submit answers, so the first poll succeeds and hands out the
// continuation token for the sign-in.
func (s *Server) ResetPoll(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindReset)
	if e != nil {
		return nil, e
	}
	if fl.Step != stepCompleted {
		return nil, ErrWrongStep("The password reset has not been submitted.")
	}
	next, _, e := s.advance(ctx, ct, fl, stepSignInReady)
	if e != nil {
		return nil, e
	}
	return &Response{Status: "succeeded", ContinuationToken: next}, nil
}
