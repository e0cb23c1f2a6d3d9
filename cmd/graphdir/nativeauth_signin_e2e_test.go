package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// After sign-up the SDK signs in with the completing continuation token
// (grant continuation_token, with username): the token response has every
// field the SDK checks, client_info is uid.utid, and the tokens work at
// Graph and at the refresh grant. The token redeems once.
func TestNativeSignUp_ThenSignInWithContinuationToken(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	const email = "signed.up@example.com"
	done := n.signUp(email, "Str0ng!Passw0rd", "Signed Up")

	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", done, "grant_type", "continuation_token", "username", "other@example.com",
		"scope", "openid profile offline_access User.Read", "client_info", "1")), 400, "invalid_grant", 55200, "")
	tok := tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", done, "grant_type", "continuation_token", "username", email,
		"scope", "User.Read", "client_info", "1")))
	at, id := claims(t, tok["access_token"].(string)), claims(t, tok["id_token"].(string))
	ci, _ := base64.RawURLEncoding.DecodeString(tok["client_info"].(string))
	var info map[string]string
	_ = json.Unmarshal(ci, &info)
	if info["uid"] != at["oid"] || info["utid"] != n.tenant || id["oid"] != at["oid"] || id["tid"] != n.tenant ||
		!slices.Contains(anyStrings(at["amr"]), "pwd") || !strings.Contains(tok["scope"].(string), "User.Read") {
		t.Fatalf("tokens: client_info %v, access %v, id %v", info, at, id)
	}
	// The token redeemed once.
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", done, "grant_type", "continuation_token", "username", email,
		"scope", "User.Read", "client_info", "1")), 400, "invalid_grant", 55200, "")

	me := n.do("GET", "/v1.0/me?$select=displayName,mail", tok["access_token"].(string), nil)
	if m := ok(t, me); m["displayName"] != "Signed Up" || m["mail"] != email {
		t.Fatalf("/me: %s", me.Body)
	}
	// The refresh grant (msal-common's form, a simple request).
	f := url.Values{"client_id": {n.appID}, "grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)},
		"scope": {"User.Read openid profile offline_access"}, "client_info": {"1"}}
	r := n.postRaw("/oauth2/v2.0/token", "application/x-www-form-urlencoded;charset=utf-8", f.Encode(), "Origin", spaOrigin)
	if m := ok(t, r); m["access_token"] == nil || r.Header.Get("Access-Control-Allow-Origin") != spaOrigin {
		t.Fatalf("refresh: %s %v", r.Body, r.Header)
	}
	// The client credentials grant still works beside the native grants.
	r = n.post("/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {n.appID}, "client_secret": {"x"},
		"scope": {"api://graphdir/.default"}})
	if r.Status != http.StatusUnauthorized || r.JSON(t)["error"] != "invalid_client" {
		t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
}

func anyStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// Sign-in with an email code: initiate -> challenge (oob) -> token (oob);
// a wrong code keeps the token; unknown users are user_not_found (Entra's
// contract); a client that cannot take codes gets the web fallback.
func TestNativeSignIn_EmailCode(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	n.newFlow([]string{n.appID}, func(b map[string]any) {
		b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
	})
	const email = "code.user@example.com"
	types := "oob password redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "attributes", `{"displayName":"Code User"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email)))))

	nativeErr(t, n.post("/oauth2/v2.0/initiate", n.form("username", "nobody@example.com", "challenge_type", types)), 400, "user_not_found", 50034, "")
	if m := ok(t, n.post("/oauth2/v2.0/initiate", n.form("username", email, "challenge_type", "password redirect"))); m["challenge_type"] != "redirect" {
		t.Fatalf("initiate without oob: %v", m)
	}
	init := ok(t, n.post("/oauth2/v2.0/initiate", n.form("username", email, "challenge_type", types)))
	ch = ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, init), "challenge_type", types)))
	if ch["challenge_type"] != "oob" || ch["code_length"] != float64(8) {
		t.Fatalf("challenge: %v", ch)
	}
	code := n.code(email)
	codeCT := ct(t, ch)
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", codeCT, "grant_type", "oob", "oob", wrongCode(code), "client_info", "1")),
		400, "invalid_grant", 50181, "invalid_oob_value")
	// A password grant on a code flow is the wrong step.
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", codeCT, "grant_type", "password", "password", "x")), 400, "invalid_grant", 55200, "")
	tok := tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", codeCT, "grant_type", "oob", "oob", code,
		"scope", "openid profile offline_access", "client_info", "1")))
	if amr := anyStrings(claims(t, tok["access_token"].(string))["amr"]); !slices.Contains(amr, "otp") || slices.Contains(amr, "mfa") {
		t.Fatalf("amr %v", amr)
	}
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", codeCT, "grant_type", "oob", "oob", code)), 400, "invalid_grant", 55200, "")
	// The sign-in log has the wrong code and the success, newest first.
	r := n.do("GET", "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("appId eq '"+n.appID+"'"), n.admin, nil)
	var codes []float64
	for _, v := range ok(t, r)["value"].([]any) {
		codes = append(codes, v.(map[string]any)["status"].(map[string]any)["errorCode"].(float64))
	}
	if len(codes) != 2 || codes[0] != 0 || codes[1] != 50181 {
		t.Fatalf("sign-in log codes %v", codes)
	}
}

// A user flow that requires MFA: the first factor answers mfa_required
// with a continuation token, introspect lists the email method, challenge
// with its id mails a code, grant mfa_oob issues tokens with amr mfa and
// acrs c1, and that token passes the step-up check of PATCH /me
// mobilePhone, which a token without MFA does not.
func TestNativeSignIn_MFAThenStepUpAtMe(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	n.newFlow([]string{n.appID}, func(b map[string]any) {
		b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
		b["graphdirMfaRequired"] = true
	})
	const email = "mfa.user@example.com"
	types := "oob password redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "attributes", `{"displayName":"Mfa User"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	done := ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email)))))
	e := nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", done, "grant_type", "continuation_token", "username", email,
		"scope", "openid profile offline_access User.ReadWrite", "client_info", "1")), 400, "invalid_grant", 50076, "mfa_required")
	in := ok(t, n.post("/oauth2/v2.0/introspect", n.form("continuation_token", ct(t, e))))
	methods := in["methods"].([]any)
	m0 := methods[0].(map[string]any)
	if len(methods) != 1 || m0["id"] != "email" || m0["challenge_type"] != "oob" || m0["challenge_channel"] != "email" {
		t.Fatalf("introspect: %v", in)
	}
	nativeErr(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, in), "challenge_type", types, "id", "sms")), 400, "invalid_request", 901001, "")
	mch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, in), "challenge_type", types, "id", "email")))
	if mch["challenge_type"] != "oob" {
		t.Fatalf("mfa challenge: %v", mch)
	}
	code := n.code(email)
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, mch), "grant_type", "mfa_oob", "oob", wrongCode(code))),
		400, "invalid_grant", 50181, "invalid_oob_value")
	// Learn's spelling of the second factor (grant_type=oob) is taken too.
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, mch), "grant_type", "oob", "oob", wrongCode(code))),
		400, "invalid_grant", 50181, "invalid_oob_value")
	tok := tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, mch), "grant_type", "mfa_oob", "oob", code,
		"scope", "openid profile offline_access User.ReadWrite", "client_info", "1")))
	at := claims(t, tok["access_token"].(string))
	if !slices.Contains(anyStrings(at["amr"]), "mfa") || !slices.Contains(anyStrings(at["acrs"]), "c1") {
		t.Fatalf("access token after MFA: %v", at)
	}
	// Step-up at /me: the MFA token may change mobilePhone; a token of
	// the same user without MFA gets the claims challenge.
	plain := n.userToken(at["oid"].(string), "User.ReadWrite")
	if r := n.do("PATCH", "/v1.0/me", plain, map[string]any{"mobilePhone": "+1 555 0100"}); r.Status != http.StatusUnauthorized {
		t.Fatalf("PATCH /me without MFA: %d %s", r.Status, r.Body)
	}
	if r := n.do("PATCH", "/v1.0/me", tok["access_token"].(string), map[string]any{"mobilePhone": "+1 555 0100"}); r.Status != http.StatusNoContent && r.Status != http.StatusOK {
		t.Fatalf("PATCH /me with MFA: %d %s", r.Status, r.Body)
	}
}

// Password sign-in: initiate -> challenge (password) -> token (password).
// A wrong password is 50126 and keeps the token; after the configured
// number of failures smart lockout refuses even the right password
// (50053); every attempt is in the sign-in log.
func TestNativeSignIn_PasswordAndLockout(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t, "GRAPHDIR_LOCKOUT_THRESHOLD", "3")
	const email = "pw.user@example.com"
	n.signUp(email, "Str0ng!Passw0rd", "Pw User")
	types := "password oob redirect"

	init := ok(t, n.post("/oauth2/v2.0/initiate", n.form("username", email, "challenge_type", types, "capabilities", "mfa_required registration_required")))
	ch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, init), "challenge_type", types)))
	if ch["challenge_type"] != "password" {
		t.Fatalf("challenge: %v", ch)
	}
	pwCT := ct(t, ch)
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", pwCT, "grant_type", "password", "password", "Wr0ng!Passw0rd", "client_info", "1")),
		400, "invalid_grant", 50126, "")
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", pwCT, "grant_type", "password", "client_info", "1")), 400, "invalid_request", 900144, "")
	tok := tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", pwCT, "grant_type", "password", "password", "Str0ng!Passw0rd",
		"scope", "openid profile offline_access", "client_info", "1")))
	if amr := anyStrings(claims(t, tok["access_token"].(string))["amr"]); !slices.Contains(amr, "pwd") {
		t.Fatalf("amr %v", amr)
	}

	// Lockout: three wrong passwords (each with its own flow), then the
	// right one is refused too.
	attempt := func(pw string) *response {
		init := ok(t, n.post("/oauth2/v2.0/initiate", n.form("username", email, "challenge_type", types)))
		ch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, init), "challenge_type", types)))
		return n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, ch), "grant_type", "password", "password", pw))
	}
	for i := 0; i < 3; i++ {
		nativeErr(t, attempt("Wr0ng!Passw0rd"), 400, "invalid_grant", 50126, "")
	}
	nativeErr(t, attempt("Str0ng!Passw0rd"), 400, "invalid_grant", 50053, "")

	r := n.do("GET", "/v1.0/auditLogs/signIns?$filter="+url.QueryEscape("appId eq '"+n.appID+"'"), n.admin, nil)
	var codes []float64
	for _, v := range ok(t, r)["value"].([]any) {
		codes = append(codes, v.(map[string]any)["status"].(map[string]any)["errorCode"].(float64))
	}
	// Newest first: the locked attempt, three wrong, the success, the first wrong.
	if len(codes) != 6 || codes[0] != 50053 || codes[1] != 50126 || codes[4] != 0 || codes[5] != 50126 {
		t.Fatalf("sign-in log codes %v: %s", codes, r.Body)
	}
}

// Wrong codes count toward the sign-in name's lockout as wrong passwords
// do: after the threshold even the right code is refused (50053), and the
// per-IP rate limit on code sends answers 429 with Retry-After.
func TestNativeCodes_LockoutAndSendRateLimit(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t, "GRAPHDIR_LOCKOUT_THRESHOLD", "3", "GRAPHDIR_SIGNIN_RATE_PER_IP", "4")
	n.newFlow([]string{n.appID}, func(b map[string]any) {
		b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
	})
	const email = "locked.code@example.com"
	types := "oob redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "attributes", `{"displayName":"Locked Code"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	code := n.code(email)
	for i := 0; i < 3; i++ {
		nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", wrongCode(code))),
			400, "invalid_grant", 50181, "invalid_oob_value")
	}
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", code)), 400, "invalid_grant", 50053, "")

	// Code sends per IP: the sign-up challenge above was the first of
	// four allowed per window; the fifth is refused (ten tries cover a
	// window boundary passing during the test).
	var last *response
	for i := 0; i < 10 && (last == nil || last.Status != http.StatusTooManyRequests); i++ {
		s := ok(t, n.post("/signup/v1.0/start", n.form("username", "rate"+strconv.Itoa(i)+"@example.com", "challenge_type", types,
			"attributes", `{"displayName":"Rate"}`)))
		last = n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, s), "challenge_type", types))
	}
	m := nativeErr(t, last, 429, "invalid_request", 1003040, "")
	if last.Header.Get("Retry-After") == "" || m["continuation_token"] != nil {
		t.Fatalf("rate limited send: %v %v", last.Header, m)
	}
}

// With GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND an unknown username looks
// like a known one at sign-in and reset: a continuation token, a code
// challenge with no mail, codes that never verify, 50126 for a password.
func TestNativeAuth_HideUserNotFound(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t, "GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND", "true")
	const known = "known@example.com"
	n.signUp(known, "Str0ng!Passw0rd", "Known")
	types := "password oob redirect"
	shape := func(m map[string]any) string {
		keys := []string{}
		for k := range m {
			if k != "continuation_token" {
				keys = append(keys, k+"="+fmt.Sprint(m[k]))
			}
		}
		slices.Sort(keys)
		return strings.Join(keys, ",")
	}
	// Sign-in with a password: the same steps, then 50126 for both.
	for _, user := range []string{known, "ghost@example.com"} {
		init := ok(t, n.post("/oauth2/v2.0/initiate", n.form("username", user, "challenge_type", types)))
		ch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, init), "challenge_type", types)))
		if ch["challenge_type"] != "password" {
			t.Fatalf("%s challenge: %v", user, ch)
		}
		nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, ch), "grant_type", "password", "password", "Wr0ng!Passw0rd")),
			400, "invalid_grant", 50126, "")
	}
	// Reset: the known user gets a mail, the unknown one the same answer
	// and no mail; its code never verifies.
	var shapes []string
	var ghostCT string
	for _, user := range []string{known, "ghost@example.com"} {
		st := ok(t, n.post("/resetpassword/v1.0/start", n.form("username", user, "challenge_type", types)))
		ch := ok(t, n.post("/resetpassword/v1.0/challenge", n.form("continuation_token", ct(t, st), "challenge_type", types)))
		shapes = append(shapes, shape(ch))
		ghostCT = ct(t, ch)
	}
	if shapes[0] == "" || strings.Replace(shapes[0], "k***@e***.com", "g***@e***.com", 1) != shapes[1] {
		t.Fatalf("reset challenges differ: %q vs %q", shapes[0], shapes[1])
	}
	n.code(known)
	if c := n.codeOrNothing("ghost@example.com"); c != "" {
		t.Fatal("a code was mailed for an unknown username")
	}
	nativeErr(t, n.post("/resetpassword/v1.0/continue", n.form("continuation_token", ghostCT, "grant_type", "oob", "oob", "12345678")),
		400, "invalid_grant", 50181, "invalid_oob_value")
}
