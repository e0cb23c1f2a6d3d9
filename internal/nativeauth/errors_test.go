package nativeauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/flowstate"
	"github.com/graphdir/graphdir/internal/otp"
)

// The wire shape of reference §3.1: error_codes an array of numbers even
// when empty, the AADSTS prefix, the ids, and the flow fields only where set.
func TestErrorBody(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b, _ := json.Marshal(ErrInvalidCode("The code is wrong.").Body("trace", "corr", now))
	want := `{"error":"invalid_grant","error_description":"AADSTS50181: Unable to validate the otp. The code is wrong. Trace ID: trace Correlation ID: corr Timestamp: 2026-01-02 03:04:05Z","error_codes":[50181],"suberror":"invalid_oob_value","timestamp":"2026-01-02 03:04:05Z","trace_id":"trace","correlation_id":"corr"}`
	if string(b) != want {
		t.Fatalf("body:\n%s\nwant\n%s", b, want)
	}
	b, _ = json.Marshal((&Error{Code: CodeInvalidRequest, Description: "x"}).Body("t", "c", now))
	if !strings.Contains(string(b), `"error_codes":[]`) || strings.Contains(string(b), "suberror") || strings.Contains(string(b), "continuation_token") {
		t.Fatalf("empty codes: %s", b)
	}
	req := ErrAttributesRequired("ct1", []directory.FlowAttribute{{Name: "city", Required: true, ValidationRegEx: "^a$"}, {Name: "ok", DataType: "boolean"}})
	b, _ = json.Marshal(req.Body("t", "c", now))
	if !strings.Contains(string(b), `"continuation_token":"ct1","required_attributes":[{"name":"city","type":"string","required":true,"options":{"regex":"^a$"}},{"name":"ok","type":"boolean","required":false}]`) {
		t.Fatalf("attributes_required: %s", b)
	}
}

// Each constructor carries the strings and code the SDK branches on
// (reference §3.2), and its status.
func TestErrorTable(t *testing.T) {
	for _, c := range []struct {
		e           *Error
		code, sub   string
		aadsts, st  int
		descContain string
	}{
		{ErrInvalidUsername(), "invalid_request", "", 90100, 400, "username parameter is empty or not valid"},
		{ErrWrongPassword(), "invalid_grant", "", 50126, 400, ""},
		{ErrCredentialRequired("x"), "credential_required", "", 55103, 400, ""},
		{ErrAttributesRequired("x", nil), "attributes_required", "", 55106, 400, ""},
		{ErrUserAlreadyExists(), "user_already_exists", "", 1003037, 400, ""},
		{ErrUserNotFound(), "user_not_found", "", 50034, 400, ""},
		{ErrUnsupportedChallengeType(), "unsupported_challenge_type", "", 901007, 400, "The challenge_type list parameter contains an unsupported challenge type"},
		{ErrNativeAuthDisabled(), "invalid_client", "nativeauthapi_disabled", 500208, 400, ""},
		{ErrUnknownClient("abc"), "unauthorized_client", "", 700016, 400, "abc"},
		{ErrExpiredContinuation(), "expired_token", "", 552003, 400, ""},
		{ErrInvalidContinuation(), "invalid_request", "", 55200, 400, ""},
		{ErrInvalidContinuationGrant(), "invalid_grant", "", 55200, 400, ""},
		{ErrMFARequired("x"), "invalid_grant", "mfa_required", 50076, 400, ""},
		{ErrRegistrationRequired("x"), "invalid_grant", "registration_required", 50076, 400, ""},
		{ErrAttributesInvalid([]string{"city"}), "invalid_grant", "attribute_validation_failed", 1003038, 400, ""},
		{ErrPassword(directory.PasswordTooWeak), "invalid_grant", "password_too_weak", 399246, 400, ""},
		{ErrPassword(directory.PasswordTooShort), "invalid_grant", "password_too_short", 399246, 400, ""},
		{ErrPassword(directory.PasswordTooLong), "invalid_grant", "password_too_long", 399246, 400, ""},
		{ErrPassword(directory.PasswordInvalid), "invalid_grant", "password_is_invalid", 399246, 400, ""},
		{ErrTooMany(0, "slow"), "invalid_request", "", 1003040, 429, ""},
		{ErrServer(errors.New("boom")), "server_error", "", 90033, 500, ""},
		{ErrMailUnavailable(), "temporarily_unavailable", "", 1003041, 503, ""},
	} {
		body := c.e.Body("t", "c", time.Now())
		if body.Error != c.code || body.Suberror != c.sub || len(body.ErrorCodes) != 1 || body.ErrorCodes[0] != c.aadsts ||
			c.e.Status() != c.st || !strings.Contains(body.ErrorDescription, c.descContain) {
			t.Errorf("%s: %+v status %d", c.code, body, c.e.Status())
		}
		if strings.Contains(body.ErrorDescription, "boom") {
			t.Errorf("an internal cause reached the description: %s", body.ErrorDescription)
		}
	}
}

// The core's errors map to the protocol's.
func TestErrorMapping(t *testing.T) {
	for _, c := range []struct {
		err       error
		code, sub string
	}{
		{flowstate.ErrInvalid, "invalid_request", ""},
		{flowstate.ErrExpired, "expired_token", ""},
		{fmt.Errorf("wrapped: %w", flowstate.ErrInvalid), "invalid_request", ""},
		{&otp.WrongCodeError{Remaining: 2}, "invalid_grant", "invalid_oob_value"},
		{otp.ErrTooManyTries, "invalid_grant", "invalid_oob_value"},
		{otp.ErrExpired, "invalid_grant", "invalid_oob_value"},
		{otp.ErrNoCode, "invalid_grant", "invalid_oob_value"},
		{&otp.ResendTooSoonError{RetryAfter: time.Minute, HourlyCap: true}, "invalid_request", ""},
		{otp.ErrMailNotConfigured, "temporarily_unavailable", ""},
		{&otp.InvalidRequestError{Field: "email", Reason: "x"}, "invalid_request", ""},
		{errors.New("db down"), "server_error", ""},
	} {
		var e *Error
		if errors.Is(c.err, flowstate.ErrInvalid) || errors.Is(c.err, flowstate.ErrExpired) {
			e = FromFlowState(c.err, false)
		} else {
			e = FromOTP(c.err)
		}
		if e.Code != c.code || e.Suberror != c.sub {
			t.Errorf("%v -> %s/%s, want %s/%s", c.err, e.Code, e.Suberror, c.code, c.sub)
		}
	}
	if e := FromFlowState(flowstate.ErrInvalid, true); e.Code != "invalid_grant" {
		t.Errorf("at the token endpoint: %s", e.Code)
	}
	for _, c := range []struct {
		err  error
		code string
	}{
		{&directory.SignUpAttributesError{Invalid: []string{"city"}}, "invalid_grant"},
		{&directory.Error{Kind: directory.KindConflict}, "user_already_exists"},
		{&directory.Error{Kind: directory.KindInvalid, Target: "passwordProfile.password"}, "invalid_grant"},
		{&directory.Error{Kind: directory.KindInternal}, "server_error"},
	} {
		if e := FromDirectory(c.err); e.Code != c.code {
			t.Errorf("%v -> %s, want %s", c.err, e.Code, c.code)
		}
	}
}

// challenge_type must include redirect; unknown members are ignored.
func TestChallengeTypes(t *testing.T) {
	r := func(v string) Request { return Request{Form: map[string]string{"challenge_type": v}} }
	if _, e := challengeTypes(r("")); e == nil || e.Code != CodeInvalidRequest {
		t.Error("empty")
	}
	if _, e := challengeTypes(r("oob password")); e == nil || e.Code != CodeUnsupportedChallengeType {
		t.Error("without redirect")
	}
	set, e := challengeTypes(r("OOB  password redirect telepathy"))
	if e != nil || !set["oob"] || !set["password"] || !set["redirect"] {
		t.Errorf("%v %v", set, e)
	}
}

// challenge_target: one plain email address, lower-cased; display names,
// lists, overlong and dotless-domain addresses are refused.
func TestChallengeTarget(t *testing.T) {
	r := func(v string) Request { return Request{Form: map[string]string{"challenge_target": v}} }
	if got, e := challengeTarget(r(" Jane.Doe@Example.org ")); e != nil || got != "jane.doe@example.org" {
		t.Errorf("good address: %q %v", got, e)
	}
	if _, e := challengeTarget(r("")); e == nil || e.AADSTS != AADMissingParameter {
		t.Errorf("empty: %v", e)
	}
	for _, bad := range []string{"jane", "Jane <jane@example.org>", "a@b.org, c@d.org", "jane@localhost", strings.Repeat("a", 250) + "@example.org", "a\x00@example.org"} {
		if _, e := challengeTarget(r(bad)); e == nil || e.Code != CodeInvalidRequest || e.AADSTS != AADInvalidInput {
			t.Errorf("%q: %v", bad, e)
		}
	}
}

// attributes: a JSON object of strings (booleans and numbers kept as
// text); anything else is refused.
func TestParseAttributes(t *testing.T) {
	m, e := parseAttributes(`{"displayName":"A","age":"3","ok":true,"n":4}`)
	if e != nil || m["displayName"] != "A" || m["ok"] != "true" || m["n"] != "4" {
		t.Fatalf("%v %v", m, e)
	}
	for _, bad := range []string{`[]`, `"x"`, `{"a":{"b":1}}`, `{"a":[1]}`, `{`, `null`, `{"a":null}`} {
		if _, e := parseAttributes(bad); e == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if m, e := parseAttributes("  "); e != nil || len(m) != 0 {
		t.Errorf("blank: %v %v", m, e)
	}
}
