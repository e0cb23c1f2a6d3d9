package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// adminCustomer creates, as an administrator would, an account that signs
// in with email and password but has no mail and no otherMails: no
// address proven to receive its second factor. It returns the user's id.
func (n *nativeStack) adminCustomer(email, pw string) string {
	n.t.Helper()
	r := n.do("POST", "/v1.0/users", n.appToken("User.ReadWrite.All"), map[string]any{"displayName": "Admin Made", "accountEnabled": true,
		"identities":      []any{map[string]any{"signInType": "emailAddress", "issuer": n.domain, "issuerAssignedId": email}},
		"passwordProfile": map[string]any{"password": pw, "forceChangePasswordNextSignIn": false}})
	if r.Status != http.StatusCreated {
		n.t.Fatalf("create user: %d %s", r.Status, r.Body)
	}
	return r.JSON(n.t)["id"].(string)
}

// otherMails reads a user's otherMails.
func (n *nativeStack) otherMails(id string) []string {
	n.t.Helper()
	r := n.do("GET", "/v1.0/users/"+id+"?$select=otherMails", n.admin, nil)
	return anyStrings(ok(n.t, r)["otherMails"])
}

// Just-in-time registration after a password first factor: the user flow
// requires MFA and the account has no MFA address, so the token call
// answers registration_required; register/v1.0/introspect offers the
// email method, challenge mails a code to challenge_target, continue
// checks it (a wrong code keeps the token), the address becomes the
// account's first otherMails entry (audited, initiated by the
// application), and grant continuation_token issues MFA tokens. The next
// sign-in is an ordinary MFA one, with the code at the registered address.
// Every step's errors are checked on the way.
func TestNativeRegister_CodeToNewAddress(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	n.newFlow([]string{n.appID}, func(b map[string]any) { b["graphdirMfaRequired"] = true })
	const email, second = "jit.user@example.com", "Jit.Second@Example.org"
	uid := n.adminCustomer(email, "Str0ng!Passw0rd")
	types := "password oob redirect"
	firstFactor := func(caps string) *response {
		t.Helper()
		init := ok(t, n.post("/oauth2/v2.0/initiate", n.form("username", email, "challenge_type", types, "capabilities", caps)))
		ch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, init), "challenge_type", types)))
		return n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, ch), "grant_type", "password", "password", "Str0ng!Passw0rd",
			"scope", "openid profile offline_access User.ReadWrite", "client_info", "1"))
	}
	// A client that declared capabilities without registration_required
	// is told, with no token to go on with.
	if m := nativeErr(t, firstFactor("mfa_required"), 400, "invalid_grant", 50076, "registration_required"); m["continuation_token"] != nil {
		t.Fatalf("registration_required without the capability carried a token: %v", m)
	}
	e := nativeErr(t, firstFactor("mfa_required registration_required"), 400, "invalid_grant", 50076, "registration_required")
	reqCT := ct(t, e)
	// The MFA introspect and the registration's later steps are not this step.
	nativeErr(t, n.post("/oauth2/v2.0/introspect", n.form("continuation_token", reqCT)), 400, "invalid_request", 55200, "")
	nativeErr(t, n.post("/register/v1.0/challenge", n.form("continuation_token", reqCT, "challenge_type", "oob", "challenge_target", second)),
		400, "invalid_request", 55200, "")
	nativeErr(t, n.post("/register/v1.0/introspect", n.form()), 400, "invalid_request", 900144, "")
	nativeErr(t, n.post("/register/v1.0/introspect", n.form("continuation_token", reqCT+"x")), 400, "invalid_request", 55200, "")

	in := ok(t, n.post("/register/v1.0/introspect", n.form("continuation_token", reqCT)))
	methods := in["methods"].([]any)
	m0 := methods[0].(map[string]any)
	if len(methods) != 1 || m0["id"] != "email" || m0["challenge_type"] != "oob" || m0["challenge_channel"] != "email" || m0["login_hint"] != email {
		t.Fatalf("register introspect: %v", in)
	}
	// Its token is single-use once the step succeeded.
	nativeErr(t, n.post("/register/v1.0/introspect", n.form("continuation_token", reqCT)), 400, "invalid_request", 55200, "")
	inCT := ct(t, in)
	// Nothing to continue before a challenge; no token yet either.
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", inCT, "grant_type", "oob", "oob", "12345678")), 400, "invalid_request", 55200, "")
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", inCT, "grant_type", "continuation_token")), 400, "invalid_grant", 55200, "")

	for _, c := range []struct {
		name      string
		form      url.Values
		code, sub string
		aadsts    int
	}{
		{"no target", n.form("continuation_token", inCT, "challenge_type", "oob"), "invalid_request", "", 900144},
		{"bad target", n.form("continuation_token", inCT, "challenge_type", "oob", "challenge_target", "not an address"), "invalid_request", "", 901001},
		{"display name", n.form("continuation_token", inCT, "challenge_type", "oob", "challenge_target", "Eve <eve@example.org>"), "invalid_request", "", 901001},
		{"long target", n.form("continuation_token", inCT, "challenge_type", "oob", "challenge_target", strings.Repeat("a", 250)+"@example.org"), "invalid_request", "", 901001},
		{"no type", n.form("continuation_token", inCT, "challenge_target", second), "invalid_request", "", 900144},
		{"sms", n.form("continuation_token", inCT, "challenge_type", "oob", "challenge_target", second, "challenge_channel", "sms"), "invalid_request", "", 901001},
		{"password", n.form("continuation_token", inCT, "challenge_type", "password", "challenge_target", second), "unsupported_challenge_type", "", 901007},
	} {
		t.Run(c.name, func(t *testing.T) {
			nativeErr(t, n.post("/register/v1.0/challenge", c.form), 400, c.code, c.aadsts, c.sub)
		})
	}
	// The token survived the refused challenges. The sign-in email was
	// not proven by this flow (a password first factor): no preverified.
	ch := ok(t, n.post("/register/v1.0/challenge", n.form("continuation_token", inCT, "challenge_type", "oob",
		"challenge_target", second, "challenge_channel", "email")))
	if ch["challenge_type"] != "oob" || ch["challenge_channel"] != "email" || ch["challenge_target"] != "j***@e***.org" || ch["code_length"] != float64(8) {
		t.Fatalf("register challenge: %v", ch)
	}
	code := n.code(strings.ToLower(second))
	chCT := ct(t, ch)
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", chCT)), 400, "invalid_request", 900144, "")
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", chCT, "grant_type", "password", "password", "x")),
		400, "unsupported_grant_type", 70003, "")
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", chCT, "grant_type", "continuation_token")), 400, "invalid_request", 55200, "")
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", chCT, "grant_type", "oob")), 400, "invalid_request", 900144, "")
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", chCT, "grant_type", "oob", "oob", wrongCode(code))),
		400, "invalid_grant", 50181, "invalid_oob_value")
	if got := n.otherMails(uid); len(got) != 0 {
		t.Fatalf("otherMails before the code: %v", got)
	}
	done := ok(t, n.post("/register/v1.0/continue", n.form("continuation_token", chCT, "grant_type", "oob", "oob", code)))
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", chCT, "grant_type", "oob", "oob", code)), 400, "invalid_request", 55200, "")
	if got := n.otherMails(uid); !slices.Equal(got, []string{strings.ToLower(second)}) {
		t.Fatalf("otherMails after registration: %v", got)
	}
	// Another flow's grant is refused; this one redeems once.
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, done), "grant_type", "password", "password", "Str0ng!Passw0rd")),
		400, "invalid_grant", 55200, "")
	tok := tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, done), "grant_type", "continuation_token",
		"scope", "openid profile offline_access User.ReadWrite", "client_info", "1")))
	at := claims(t, tok["access_token"].(string))
	if amr := anyStrings(at["amr"]); !slices.Contains(amr, "mfa") || !slices.Contains(amr, "pwd") || !slices.Contains(anyStrings(at["acrs"]), "c1") || at["oid"] != uid {
		t.Fatalf("access token after registration: %v", at)
	}
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, done), "grant_type", "continuation_token")), 400, "invalid_grant", 55200, "")
	if r := n.do("PATCH", "/v1.0/me", tok["access_token"].(string), map[string]any{"mobilePhone": "+1 555 0199"}); r.Status != http.StatusNoContent && r.Status != http.StatusOK {
		t.Fatalf("PATCH /me after registration: %d %s", r.Status, r.Body)
	}

	// One audit event for the registration, initiated by the application.
	r := n.do("GET", "/v1.0/auditLogs/directoryAudits?$filter="+url.QueryEscape("activityDisplayName eq 'Update user' and result eq 'success'"), n.admin, nil)
	found := 0
	for _, ev := range ok(t, r)["value"].([]any) {
		m := ev.(map[string]any)
		if strings.Contains(mustJSON(t, m["targetResources"]), uid) && strings.Contains(mustJSON(t, m["targetResources"]), "otherMails") {
			found++
			if !strings.Contains(mustJSON(t, m["initiatedBy"]), n.appID) {
				t.Errorf("audit initiator: %v", m["initiatedBy"])
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d audit events for the registration: %s", found, r.Body)
	}

	// The next sign-in is an MFA one, its code at the registered address.
	e = nativeErr(t, firstFactor("mfa_required registration_required"), 400, "invalid_grant", 50076, "mfa_required")
	in = ok(t, n.post("/oauth2/v2.0/introspect", n.form("continuation_token", ct(t, e))))
	if h := in["methods"].([]any)[0].(map[string]any)["login_hint"]; h != "j***@e***.org" {
		t.Fatalf("mfa introspect login_hint %v", h)
	}
	mch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, in), "challenge_type", types, "id", "email")))
	tok = tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, mch), "grant_type", "mfa_oob", "oob", n.code(strings.ToLower(second)),
		"scope", "openid", "client_info", "1")))
	if !slices.Contains(anyStrings(claims(t, tok["access_token"].(string))["amr"]), "mfa") {
		t.Fatal("no mfa after the second sign-in")
	}
}

// The preverified fast path: an email-code sign-in has proven the sign-in
// email, so registering that address answers challenge_type preverified
// with no mail; continue takes grant_type=continuation_token (not oob),
// the address is recorded, and the token call completes with MFA.
func TestNativeRegister_Preverified(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	n.newFlow([]string{n.appID}, func(b map[string]any) {
		b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
		b["graphdirMfaRequired"] = true
	})
	const email = "jit.code@example.com"
	uid := n.adminCustomer(email, "Str0ng!Passw0rd")
	types := "oob redirect"
	init := ok(t, n.post("/oauth2/v2.0/initiate", n.form("username", email, "challenge_type", types)))
	ch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, init), "challenge_type", types)))
	if ch["challenge_type"] != "oob" {
		t.Fatalf("sign-in challenge: %v", ch)
	}
	e := nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email))),
		400, "invalid_grant", 50076, "registration_required")
	in := ok(t, n.post("/register/v1.0/introspect", n.form("continuation_token", ct(t, e))))
	pre := ok(t, n.post("/register/v1.0/challenge", n.form("continuation_token", ct(t, in), "challenge_type", "oob",
		"challenge_target", strings.ToUpper(email), "challenge_channel", "email")))
	if pre["challenge_type"] != "preverified" || pre["code_length"] != nil {
		t.Fatalf("register challenge of the proven address: %v", pre)
	}
	if c := n.codeOrNothing(email); c != "" {
		t.Fatal("a code was mailed for a preverified address")
	}
	nativeErr(t, n.post("/register/v1.0/continue", n.form("continuation_token", ct(t, pre), "grant_type", "oob", "oob", "12345678")),
		400, "invalid_request", 55200, "")
	done := ok(t, n.post("/register/v1.0/continue", n.form("continuation_token", ct(t, pre), "grant_type", "continuation_token")))
	if got := n.otherMails(uid); !slices.Equal(got, []string{email}) {
		t.Fatalf("otherMails after registration: %v", got)
	}
	tok := tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, done), "grant_type", "continuation_token",
		"scope", "openid profile offline_access", "client_info", "1")))
	if amr := anyStrings(claims(t, tok["access_token"].(string))["amr"]); !slices.Contains(amr, "mfa") || !slices.Contains(amr, "otp") {
		t.Fatalf("amr after preverified registration: %v", amr)
	}
}
