package nativeauth

import (
	"errors"
	"strconv"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/otp"
)

// The error strings of the native authentication API (reference §3).
const (
	CodeInvalidRequest           = "invalid_request"
	CodeInvalidClient            = "invalid_client"
	CodeUnauthorizedClient       = "unauthorized_client"
	CodeInvalidGrant             = "invalid_grant"
	CodeExpiredToken             = "expired_token"
	CodeUnsupportedChallengeType = "unsupported_challenge_type"
	CodeUnsupportedGrantType     = "unsupported_grant_type"
	CodeUserNotFound             = "user_not_found"
	CodeUserAlreadyExists        = "user_already_exists"
	CodeCredentialRequired       = "credential_required"
	CodeAttributesRequired       = "attributes_required"
	CodeInvalidScope             = "invalid_scope"
	CodeAccessDenied             = "access_denied"
	CodeServerError              = "server_error"
	CodeTemporarilyUnavailable   = "temporarily_unavailable"
)

// The suberror strings.
const (
	SubNativeAuthDisabled        = "nativeauthapi_disabled"
	SubInvalidOOBValue           = "invalid_oob_value"
	SubAttributeValidationFailed = "attribute_validation_failed"
	SubPasswordTooWeak           = "password_too_weak"
	SubPasswordTooShort          = "password_too_short"
	SubPasswordTooLong           = "password_too_long"
	SubPasswordRecentlyUsed      = "password_recently_used"
	SubPasswordBanned            = "password_banned"
	SubPasswordIsInvalid         = "password_is_invalid"
	SubMFARequired               = "mfa_required"
	SubRegistrationRequired      = "registration_required"
)

// Entra's numeric error codes (AADSTS…) graphdir sends. The SDK branches
// on 50126, 55103, 90100, 50142 and 901001; the others are Learn's
// examples for the same situations. codeTooManyRequests is graphdir's
// own: Entra documents none for a refused resend.
const (
	AADInvalidUsername         = 90100
	AADWrongPassword           = 50126
	AADPasswordResetRequired   = 50142
	AADCredentialRequired      = 55103
	AADAttributesRequired      = 55106
	AADInvalidContinuation     = 55200
	AADExpiredContinuation     = 552003
	AADUnsupportedChallenge    = 901007
	AADInvalidInput            = 901001
	AADUserAlreadyExists       = 1003037
	AADUserNotFound            = 50034
	AADInvalidOTP              = 50181
	AADPasswordPolicy          = 399246
	AADAttributeValidation     = 1003038
	AADUnknownClient           = 700016
	AADNativeAuthDisabled      = 500208
	AADMissingParameter        = 900144
	AADUnsupportedGrantType    = 70003
	AADSignUpDisabled          = 1003039
	AADTooManyRequests         = 1003040
	AADAccountLocked           = 50053
	AADAccountDisabled         = 50057
	AADMFARequired             = 50076
	AADServerError             = 90033
	AADMailNotConfigured       = 1003041
	AADUnsupportedResponseType = 900561
)

// Attribute is one entry of required_attributes or invalid_attributes.
type Attribute struct {
	Name     string            `json:"name"`
	Type     string            `json:"type,omitempty"`
	Required *bool             `json:"required,omitempty"`
	Options  *AttributeOptions `json:"options,omitempty"`
}

// AttributeOptions carries an attribute's validation pattern.
type AttributeOptions struct {
	Regex string `json:"regex,omitempty"`
}

// Error is a native authentication error answer. Its JSON is Body's.
type Error struct {
	Code        string
	AADSTS      int
	Description string
	Suberror    string
	// ContinuationToken rides on the answers the SDK continues from
	// (credential_required, attributes_required, mfa_required,
	// registration_required).
	ContinuationToken  string
	RequiredAttributes []Attribute
	InvalidAttributes  []Attribute
	// RetryAfter is set on a throttled answer.
	RetryAfter time.Duration
	// Err is the internal cause of a server_error: logged, never sent.
	Err error
}

func (e *Error) Error() string {
	s := "nativeauth: " + e.Code
	if e.Suberror != "" {
		s += "/" + e.Suberror
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Status is the HTTP status of the answer: Entra answers every flow error
// with 400; a client that cannot be identified gets 401, a throttled one
// 429, a failure of graphdir 500 (503 when a dependency is missing).
func (e *Error) Status() int {
	switch {
	case e.RetryAfter > 0:
		return 429
	case e.Code == CodeInvalidClient && e.Suberror == "":
		return 401
	case e.Code == CodeServerError:
		return 500
	case e.Code == CodeTemporarilyUnavailable:
		return 503
	}
	return 400
}

// Body is the JSON of an error answer (reference §3.1). error_codes is
// always an array: the SDK calls includes() on it.
type Body struct {
	Error              string      `json:"error"`
	ErrorDescription   string      `json:"error_description"`
	ErrorCodes         []int       `json:"error_codes"`
	Suberror           string      `json:"suberror,omitempty"`
	Timestamp          string      `json:"timestamp"`
	TraceID            string      `json:"trace_id"`
	CorrelationID      string      `json:"correlation_id"`
	ContinuationToken  string      `json:"continuation_token,omitempty"`
	RequiredAttributes []Attribute `json:"required_attributes,omitempty"`
	InvalidAttributes  []Attribute `json:"invalid_attributes,omitempty"`
}

// Body renders e as Entra does: the description starts with "AADSTS<code>: "
// and ends with the trace and correlation ids and the time.
func (e *Error) Body(traceID, correlationID string, now time.Time) Body {
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	desc := e.Description
	codes := []int{}
	if e.AADSTS != 0 {
		desc = "AADSTS" + strconv.Itoa(e.AADSTS) + ": " + desc
		codes = append(codes, e.AADSTS)
	}
	desc += " Trace ID: " + traceID + " Correlation ID: " + correlationID + " Timestamp: " + ts
	return Body{Error: e.Code, ErrorDescription: desc, ErrorCodes: codes, Suberror: e.Suberror,
		Timestamp: ts, TraceID: traceID, CorrelationID: correlationID, ContinuationToken: e.ContinuationToken,
		RequiredAttributes: e.RequiredAttributes, InvalidAttributes: e.InvalidAttributes}
}

func newErr(code string, aadsts int, desc string) *Error {
	return &Error{Code: code, AADSTS: aadsts, Description: desc}
}

func withSub(e *Error, sub string) *Error { e.Suberror = sub; return e }

// ----- the table of answers, one constructor per situation

// ErrMissing: a required parameter is absent or empty.
func ErrMissing(param string) *Error {
	return newErr(CodeInvalidRequest, AADMissingParameter, "The request body must contain the following parameter: '"+param+"'.")
}

// ErrInvalidParameter: a parameter has an unusable value.
func ErrInvalidParameter(param string) *Error {
	return newErr(CodeInvalidRequest, AADInvalidInput, "The parameter '"+param+"' is invalid.")
}

// ErrInvalidUsername is the answer the SDK reports as isInvalidUsername().
func ErrInvalidUsername() *Error {
	return newErr(CodeInvalidRequest, AADInvalidUsername, "username parameter is empty or not valid.")
}

// ErrMalformedRequest: the body is not a usable form (wrong media type,
// too large, a repeated parameter, bad encoding).
func ErrMalformedRequest(desc string) *Error {
	return newErr(CodeInvalidRequest, AADInvalidInput, desc)
}

// ErrUnknownClient: the client id names no application of the tenant.
func ErrUnknownClient(clientID string) *Error {
	return newErr(CodeUnauthorizedClient, AADUnknownClient, "Application with identifier '"+printable(clientID)+"' was not found in the directory.")
}

// ErrNativeAuthDisabled: the application exists but is not a public client
// enabled for native authentication (nativeAuthenticationApisEnabled: all).
func ErrNativeAuthDisabled() *Error {
	return withSub(newErr(CodeInvalidClient, AADNativeAuthDisabled,
		"The application is not enabled for native authentication: it must be a public client with nativeAuthenticationApisEnabled set to all."), SubNativeAuthDisabled)
}

// ErrUnsupportedChallengeType: challenge_type lacks redirect (or lists
// only types graphdir does not know).
func ErrUnsupportedChallengeType() *Error {
	return newErr(CodeUnsupportedChallengeType, AADUnsupportedChallenge,
		"The challenge_type list parameter contains an unsupported challenge type; it must include 'redirect'.")
}

// ErrInvalidContinuation: the continuation token is unknown, used, altered,
// or from another flow, client or tenant.
func ErrInvalidContinuation() *Error {
	return newErr(CodeInvalidRequest, AADInvalidContinuation, "The continuation_token is invalid.")
}

// ErrInvalidContinuationGrant is ErrInvalidContinuation at the token
// endpoint, where a bad grant is invalid_grant.
func ErrInvalidContinuationGrant() *Error {
	return newErr(CodeInvalidGrant, AADInvalidContinuation, "The continuation_token is invalid.")
}

// ErrExpiredContinuation: the flow's time is up.
func ErrExpiredContinuation() *Error {
	return newErr(CodeExpiredToken, AADExpiredContinuation, "The continuation_token is expired.")
}

// ErrWrongStep: the continuation token is valid but the flow is not at a
// step where this call makes sense.
func ErrWrongStep(desc string) *Error {
	return newErr(CodeInvalidRequest, AADInvalidContinuation, desc)
}

// ErrUserNotFound: no account has the username (sign-in, password reset:
// Entra's contract tells the client).
func ErrUserNotFound() *Error {
	return newErr(CodeUserNotFound, AADUserNotFound, "The user account does not exist in the directory.")
}

// ErrUserAlreadyExists: sign-up with an email an account already uses.
func ErrUserAlreadyExists() *Error {
	return newErr(CodeUserAlreadyExists, AADUserAlreadyExists, "It looks like you may already have an account. Please sign in instead.")
}

// ErrSignUpDisabled: the application's user flow does not allow sign-up.
func ErrSignUpDisabled() *Error {
	return newErr(CodeUnauthorizedClient, AADSignUpDisabled, "Sign-up is not enabled in the user flow of this application.")
}

// ErrInvalidCode: a wrong, expired or spent one-time code.
func ErrInvalidCode(desc string) *Error {
	return withSub(newErr(CodeInvalidGrant, AADInvalidOTP, "Unable to validate the otp. "+desc), SubInvalidOOBValue)
}

// ErrWrongPassword: the password does not match (or no such account, where
// the flow has already said the account exists).
func ErrWrongPassword() *Error {
	return newErr(CodeInvalidGrant, AADWrongPassword, "Error validating credentials due to invalid username or password.")
}

// ErrAccountLocked: smart lockout holds the account's sign-in name.
func ErrAccountLocked() *Error {
	return newErr(CodeInvalidGrant, AADAccountLocked, "Your account is temporarily locked to prevent unauthorized use. Try again later.")
}

// ErrAccountDisabled: the account exists but may not sign in.
func ErrAccountDisabled() *Error {
	return newErr(CodeInvalidGrant, AADAccountDisabled, "The user account is disabled.")
}

// ErrPassword maps a refused new password to its suberror.
func ErrPassword(p directory.PasswordProblem) *Error {
	sub, desc := SubPasswordTooWeak, "The password is too weak: use at least 8 characters with three of upper case, lower case, digits and symbols."
	switch p {
	case directory.PasswordTooShort:
		sub, desc = SubPasswordTooShort, "The password is too short: use at least 8 characters."
	case directory.PasswordTooLong:
		sub, desc = SubPasswordTooLong, "The password is too long: use at most 256 characters."
	case directory.PasswordInvalid:
		sub, desc = SubPasswordIsInvalid, "The password contains characters that are not allowed."
	}
	return withSub(newErr(CodeInvalidGrant, AADPasswordPolicy, desc), sub)
}

// ErrAttributesInvalid: collected attributes failed validation.
func ErrAttributesInvalid(names []string) *Error {
	e := withSub(newErr(CodeInvalidGrant, AADAttributeValidation, "One or more user attributes failed validation."), SubAttributeValidationFailed)
	e.InvalidAttributes = []Attribute{}
	for _, n := range names {
		e.InvalidAttributes = append(e.InvalidAttributes, Attribute{Name: printable(n)})
	}
	return e
}

// ErrInvalidAttributesJSON: the attributes parameter is not a JSON object
// of strings.
func ErrInvalidAttributesJSON() *Error {
	return newErr(CodeInvalidRequest, AADInvalidInput, "The attributes parameter must be a JSON object whose values are strings.")
}

// ErrCredentialRequired: sign-up needs the password next (the SDK calls
// /signup/v1.0/challenge with ct).
func ErrCredentialRequired(ct string) *Error {
	e := newErr(CodeCredentialRequired, AADCredentialRequired, "Credential required: submit a password.")
	e.ContinuationToken = ct
	return e
}

// ErrAttributesRequired: sign-up needs these attributes next.
func ErrAttributesRequired(ct string, attrs []directory.FlowAttribute) *Error {
	e := newErr(CodeAttributesRequired, AADAttributesRequired, "User attributes required.")
	e.ContinuationToken = ct
	for _, a := range attrs {
		req := a.Required
		at := Attribute{Name: a.Name, Type: attributeType(a), Required: &req}
		if a.ValidationRegEx != "" {
			at.Options = &AttributeOptions{Regex: a.ValidationRegEx}
		}
		e.RequiredAttributes = append(e.RequiredAttributes, at)
	}
	return e
}

// attributeType is Learn's type of a required attribute: string, boolean,
// date or the input kind of a choice.
func attributeType(a directory.FlowAttribute) string {
	switch a.InputType {
	case "checkboxMultiSelect", "radioSingleSelect", "checkboxSingleSelect", "boolean":
		return a.InputType
	}
	switch a.DataType {
	case "boolean":
		return "boolean"
	case "dateTime":
		return "date"
	}
	return "string"
}

// ErrMFARequired: the first factor is done; the SDK continues at
// /oauth2/v2.0/introspect with ct.
func ErrMFARequired(ct string) *Error {
	e := withSub(newErr(CodeInvalidGrant, AADMFARequired, "Multi-factor authentication is required."), SubMFARequired)
	e.ContinuationToken = ct
	return e
}

// ErrUnsupportedGrantType names a grant_type the endpoint does not serve.
func ErrUnsupportedGrantType(gt string) *Error {
	return newErr(CodeUnsupportedGrantType, AADUnsupportedGrantType, "The app requested an unsupported grant type '"+printable(gt)+"'.")
}

// ErrTooMany: a rate limit or a code-sending cap refused the step.
func ErrTooMany(retry time.Duration, desc string) *Error {
	e := newErr(CodeInvalidRequest, AADTooManyRequests, desc)
	e.RetryAfter = max(retry, time.Second)
	return e
}

// ErrServer hides an internal failure (logged by the edge from Err).
func ErrServer(err error) *Error {
	e := newErr(CodeServerError, AADServerError, "The request could not be completed. Retry the request.")
	e.Err = err
	return e
}

// ErrMailUnavailable: no way to send email codes is configured.
func ErrMailUnavailable() *Error {
	return newErr(CodeTemporarilyUnavailable, AADMailNotConfigured, "Email one-time codes cannot be sent: graphdir has no mail configured.")
}

// ----- mapping from the core's errors

// FromFlowState maps flowstate's errors (anything else is a server error).
// grant selects the token endpoint's spelling.
func FromFlowState(err error, grant bool) *Error {
	switch {
	case errors.Is(err, flowstate.ErrExpired):
		return ErrExpiredContinuation()
	case errors.Is(err, flowstate.ErrInvalid) && grant:
		return ErrInvalidContinuationGrant()
	case errors.Is(err, flowstate.ErrInvalid):
		return ErrInvalidContinuation()
	}
	return ErrServer(err)
}

// FromOTP maps the code service's errors.
func FromOTP(err error) *Error {
	var wrong *otp.WrongCodeError
	var soon *otp.ResendTooSoonError
	var inv *otp.InvalidRequestError
	switch {
	case errors.As(err, &wrong):
		return ErrInvalidCode("The code is wrong.")
	case errors.Is(err, otp.ErrTooManyTries):
		return ErrInvalidCode("Too many wrong codes: request a new code.")
	case errors.Is(err, otp.ErrExpired):
		return ErrInvalidCode("The code has expired: request a new code.")
	case errors.Is(err, otp.ErrNoCode):
		return ErrInvalidCode("No code is waiting: request a new code.")
	case errors.As(err, &soon):
		return ErrTooMany(soon.RetryAfter, "Too many codes were sent to this address. Retry later.")
	case errors.Is(err, otp.ErrMailNotConfigured):
		return ErrMailUnavailable()
	case errors.As(err, &inv) && inv.Field == "email":
		return ErrInvalidUsername()
	}
	return ErrServer(err)
}

// FromDirectory maps a domain error of an account write.
func FromDirectory(err error) *Error {
	var ae *directory.SignUpAttributesError
	switch {
	case errors.As(err, &ae):
		return ErrAttributesInvalid(ae.Invalid)
	case directory.KindOf(err) == directory.KindConflict:
		return ErrUserAlreadyExists()
	case directory.KindOf(err) == directory.KindInvalid:
		var de *directory.Error
		if errors.As(err, &de) && (de.Target == "passwordProfile.password" || de.Target == "newPassword") {
			return ErrPassword(directory.PasswordTooWeak)
		}
		if errors.As(err, &de) && de.Target != "" {
			return ErrAttributesInvalid([]string{de.Target})
		}
		return ErrInvalidParameter("attributes")
	case directory.KindOf(err) == directory.KindTooManyRequests:
		return ErrTooMany(time.Minute, "Too many requests. Retry later.")
	}
	return ErrServer(err)
}

// printable clips s and replaces what does not belong in a description.
func printable(s string) string {
	r := []rune(s)
	if len(r) > 64 {
		r = append(r[:64], '…')
	}
	for i, c := range r {
		if c < ' ' || c == 0x7f || c == '\uFFFD' {
			r[i] = '?'
		}
	}
	return string(r)
}
