package nativeauth

import (
	"context"
	"encoding/json"
	"maps"
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/otp"
)

// Flow kinds and the steps of sign-up. Entra verifies the email first
// (oob), then asks for the password and the attributes it still lacks
// (credential_required, attributes_required), and the SDK follows that
// order (reference §2.4).
const (
	KindSignUp = "signup"
	KindReset  = "reset"
	KindSignIn = "signin"

	stepStart          = "start"
	stepCodeSent       = "code_sent"
	stepNeedPassword   = "need_password"
	stepNeedAttributes = "need_attributes"
	stepCompleted      = "completed"
)

// Keys of a flow's Data.
const (
	dataMethod   = "method" // "password" or "otp": how the account will sign in
	dataPwdHash  = "pwd_hash"
	dataAttrs    = "attrs" // JSON object of the attributes collected so far
	dataCodeSent = "code_sent"
	dataVerified = "verified"
	// dataGhost marks a flow for a username no account has
	// (Deps.HideUserNotFound): it can never succeed (its codes are sent
	// with otp's NoAccount: stored, capped, never mailed, never right).
	dataGhost = "ghost"
)

// parseAttributes reads the attributes parameter: a JSON object of strings.
func parseAttributes(raw string) (map[string]string, *Error) {
	out := map[string]string{}
	if strings.TrimSpace(raw) == "" {
		return out, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil || m == nil {
		return nil, ErrInvalidAttributesJSON()
	}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case bool, float64:
			// Some clients send typed JSON; keep its text.
			b, _ := json.Marshal(x)
			out[k] = string(b)
		default:
			return nil, ErrInvalidAttributesJSON()
		}
	}
	return out, nil
}

// collected returns the flow's attributes so far.
func collected(fl directory.SignInFlow) map[string]string {
	out := map[string]string{}
	if raw := fl.Data[dataAttrs]; raw != "" {
		_ = json.Unmarshal([]byte(raw), &out)
	}
	return out
}

// checkAttributes validates submitted attributes against the flow and
// POST /users' rules, merged over those already collected. Attributes the
// flow does not collect are ignored, as Entra ignores them.
func (s *Server) checkAttributes(ctx context.Context, tenantID string, uf directory.UserFlow, have, submitted map[string]string) (map[string]string, *Error) {
	merged := maps.Clone(have)
	for k, v := range submitted {
		for _, a := range uf.Attributes {
			if strings.EqualFold(a.Name, k) {
				merged[a.Name] = v
			}
		}
	}
	if _, err := s.d.Accounts.SignUpValues(ctx, tenantID, uf, merged); err != nil {
		return nil, FromDirectory(err)
	}
	return merged, nil
}

// checkNewPassword applies the password policy and hashes an acceptable one.
func (s *Server) checkNewPassword(pw string) (string, *Error) {
	if p := directory.CheckNewPassword(pw); p != "" {
		return "", ErrPassword(p)
	}
	h, err := s.d.Hash(pw)
	if err != nil {
		return "", ErrServer(err)
	}
	return h, nil
}

// SignUpStart serves /signup/v1.0/start.
func (s *Server) SignUpStart(ctx context.Context, r Request) (*Response, *Error) {
	st, e := s.begin(ctx, r)
	if e != nil {
		return nil, e
	}
	app, types, email, uf := st.app, st.types, st.email, st.flow
	if !uf.SignUpAllowed {
		return nil, ErrSignUpDisabled()
	}
	// The email is always verified with a code; the account then signs in
	// with a password when the flow offers passwords and the client can
	// take one, else with codes when the flow offers them.
	method := ""
	switch {
	case !types["oob"]:
	case uf.AllowPasswords && types["password"]:
		method = "password"
	case uf.AllowEmailOTP:
		method = "otp"
	}
	if method == "" {
		return redirect("The client does not support the authentication methods of this application's user flow."), nil
	}
	data := map[string]string{dataMethod: method}
	if pw := r.get("password"); pw != "" && method == "password" {
		h, e := s.checkNewPassword(pw)
		if e != nil {
			return nil, e
		}
		data[dataPwdHash] = h
	}
	submitted, e := parseAttributes(r.get("attributes"))
	if e != nil {
		return nil, e
	}
	attrs, e := s.checkAttributes(ctx, r.TenantID, uf, map[string]string{}, submitted)
	if e != nil {
		return nil, e
	}
	if len(attrs) > 0 {
		b, _ := json.Marshal(attrs)
		data[dataAttrs] = string(b)
	}
	// Entra's contract tells a taken email at start; the account's unique
	// identity decides again when it is created.
	if _, err := s.d.Accounts.CustomerBySignInEmail(ctx, r.TenantID, email); err == nil {
		return nil, ErrUserAlreadyExists()
	} else if directory.KindOf(err) != directory.KindNotFound {
		return nil, ErrServer(err)
	}
	ct, e := s.start(ctx, r, app, KindSignUp, stepStart, "", email, data)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: ct}, nil
}

// SignUpChallenge serves /signup/v1.0/challenge: the email code (again,
// for a resend) before verification, the password prompt after a
// credential_required.
func (s *Server) SignUpChallenge(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	types, e := challengeTypes(r)
	if e != nil {
		return nil, e
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindSignUp)
	if e != nil {
		return nil, e
	}
	switch fl.Step {
	case stepStart, stepCodeSent:
		if !types["oob"] {
			return redirect("The email address must be verified with a one-time code."), nil
		}
		resp, e := s.sendCode(ctx, r, app, fl, otp.PurposeSignUp)
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
	case stepNeedPassword:
		if !types["password"] {
			return redirect("The user flow requires a password the client cannot collect."), nil
		}
		next, _, e := s.advance(ctx, ct, fl, stepNeedPassword)
		if e != nil {
			return nil, e
		}
		return &Response{ChallengeType: "password", ContinuationToken: next}, nil
	}
	return nil, ErrWrongStep("The sign-up flow does not expect a challenge now.")
}

// SignUpContinue serves /signup/v1.0/continue with grant_type oob,
// password or attributes. A refused value leaves the continuation token
// valid (the SDK retries with it).
func (s *Server) SignUpContinue(ctx context.Context, r Request) (*Response, *Error) {
	app, e := s.client(ctx, r)
	if e != nil {
		return nil, e
	}
	grant := r.get("grant_type")
	if grant == "" {
		return nil, ErrMissing("grant_type")
	}
	fl, ct, e := s.resume(ctx, r, app, false, KindSignUp)
	if e != nil {
		return nil, e
	}
	uf, err := s.d.Accounts.UserFlowForApp(ctx, r.TenantID, app.AppID)
	if err != nil {
		return nil, ErrServer(err)
	}
	switch grant {
	case "oob":
		if fl.Step != stepCodeSent {
			return nil, ErrWrongStep("The sign-up flow does not expect a code now.")
		}
		if e := s.verifyCode(ctx, r, fl, otp.PurposeSignUp, r.get("oob")); e != nil {
			return nil, e
		}
		fl.Data[dataVerified] = "1"
	case "password":
		if fl.Data[dataVerified] != "1" || fl.Data[dataMethod] != "password" || fl.Step == stepCompleted {
			return nil, ErrWrongStep("The sign-up flow does not expect a password now.")
		}
		pw := r.get("password")
		if pw == "" {
			return nil, ErrMissing("password")
		}
		h, e := s.checkNewPassword(pw)
		if e != nil {
			return nil, e
		}
		fl.Data[dataPwdHash] = h
	case "attributes":
		if fl.Data[dataVerified] != "1" || fl.Step == stepCompleted {
			return nil, ErrWrongStep("The sign-up flow does not expect attributes now.")
		}
		submitted, e := parseAttributes(r.get("attributes"))
		if e != nil {
			return nil, e
		}
		if len(submitted) == 0 {
			return nil, ErrMissing("attributes")
		}
		attrs, e := s.checkAttributes(ctx, r.TenantID, uf, collected(fl), submitted)
		if e != nil {
			return nil, e
		}
		b, _ := json.Marshal(attrs)
		fl.Data[dataAttrs] = string(b)
	default:
		return nil, ErrUnsupportedGrantType(grant)
	}
	return s.signUpNext(ctx, ct, app, uf, fl)
}

// signUpNext asks for what the sign-up still lacks or, with nothing
// missing, creates the account.
func (s *Server) signUpNext(ctx context.Context, ct string, app *directory.Application, uf directory.UserFlow, fl directory.SignInFlow) (*Response, *Error) {
	if fl.Data[dataMethod] == "password" && fl.Data[dataPwdHash] == "" {
		next, _, e := s.advance(ctx, ct, fl, stepNeedPassword)
		if e != nil {
			return nil, e
		}
		return nil, ErrCredentialRequired(next)
	}
	attrs := collected(fl)
	if missing := directory.MissingSignUpAttributes(uf, attrs); len(missing) > 0 {
		next, _, e := s.advance(ctx, ct, fl, stepNeedAttributes)
		if e != nil {
			return nil, e
		}
		return nil, ErrAttributesRequired(next, missing)
	}
	values, err := s.d.Accounts.SignUpValues(ctx, fl.TenantID, uf, attrs)
	if err != nil {
		return nil, FromDirectory(err)
	}
	u, err := s.d.Accounts.SignUpCustomer(ctx, directory.SelfServiceSignUp{TenantID: fl.TenantID, AppID: app.AppID,
		Email: fl.Username, PasswordHash: fl.Data[dataPwdHash], Values: values})
	if err != nil {
		return nil, FromDirectory(err)
	}
	fl.UserID = u.ID
	fl.AMR = []string{"otp"}
	if fl.Data[dataPwdHash] != "" {
		fl.AMR = []string{"pwd"}
	}
	// The hash is in the account now; the flow forgets it.
	delete(fl.Data, dataPwdHash)
	next, _, e := s.advance(ctx, ct, fl, stepCompleted)
	if e != nil {
		return nil, e
	}
	return &Response{ContinuationToken: next}, nil
}
