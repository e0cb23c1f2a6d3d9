package main

import (
	"slices"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
	"github.com/graphdir/graphdir/internal/password"
)

// The unmodified SDK (@azure/msal-browser custom-auth, in Chromium, on
// another origin, so every call is a CORS request) against graphdir: sign
// up with a password and attributes reading the code from the real SMTP
// server, sign in with the sign-up's continuation token, sign out, the
// error states (wrong code, user exists, wrong password, unknown user,
// weak password), sign in with the password, reset the password and sign
// in after the reset.
func TestBrowserNativeSignUpSignIn(t *testing.T) {
	n := newNativeStack(t)
	b := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	appID := n.newApp("browser SPA", map[string]any{"nativeAuthenticationApisEnabled": "all",
		"spa": map[string]any{"redirectUris": []string{o.URL + "/"}}, "requiredResourceAccess": consentedScopes})
	page := o.Page("/", `<!doctype html><html lang="en"><head><title>app</title>
<script src="/_browsertest/msal-custom-auth.js"></script></head><body></body></html>`)
	base := n.srv.URL + "/" + n.tenant
	config := map[string]any{
		"auth":       map[string]any{"clientId": appID, "authority": base},
		"customAuth": map[string]any{"challengeTypes": []string{"password", "oob"}, "authApiProxyUrl": base},
		"cache":      map[string]any{"cacheLocation": "sessionStorage"},
	}
	const email = "browser.user@example.com"
	s := b.Open(t)
	step := func(name, fn string, arg any, url string) map[string]any {
		t.Helper()
		sc := browsertest.Eval(fn, arg)
		sc.URL = url
		var out map[string]any
		s.Run(t, sc).Decode(t, &out)
		if out == nil {
			t.Fatalf("%s: no result", name)
		}
		return out
	}
	// The result summary every step returns.
	const summarize = `const summarize = (r) => {
  const err = r.error, errorIs = [];
  if (err) for (let o = Object.getPrototypeOf(err); o && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const k of Object.getOwnPropertyNames(o))
      if (k.startsWith("is") && typeof err[k] === "function" && !errorIs.includes(k) && err[k]() === true) errorIs.push(k);
  window.st = r.state;
  return { stateType: r.state?.stateType ?? "", completed: r.isCompleted?.() ?? false, failed: r.isFailed?.() ?? false,
           error: err?.errorData?.error ?? "", subError: err?.errorData?.subError ?? "", errorIs,
           username: r.data?.getAccount?.()?.username ?? "" };
};`

	r := step("sign-up", `async (a) => { `+summarize+`
  const { CustomAuthPublicClientApplication } = window.msalCustomAuth;
  window.app = await CustomAuthPublicClientApplication.create(a.config);
  return summarize(await window.app.signUp({ username: a.email, password: "Str0ng!Passw0rd", attributes: { displayName: "Browser User" } }));
}`, map[string]any{"config": config, "email": email}, page)
	if r["stateType"] != "SignUpCodeRequiredState" {
		t.Fatalf("sign-up: %v", r)
	}
	code := n.code(email)
	r = step("wrong code", `async (c) => { `+summarize+` const keep = window.st; const r = summarize(await window.st.submitCode(c)); window.st = keep; return r; }`, wrongCode(code), "")
	if !slices.Contains(anyStrings(r["errorIs"]), "isInvalidCode") {
		t.Fatalf("wrong code: %v", r)
	}
	r = step("code", `async (c) => { `+summarize+` return summarize(await window.st.submitCode(c)); }`, code, "")
	if r["stateType"] != "SignUpCompletedState" {
		t.Fatalf("submit code: %v", r)
	}
	r = step("sign-in after sign-up", `async () => { `+summarize+` return summarize(await window.st.signIn({ scopes: ["User.Read"] })); }`, nil, "")
	if r["completed"] != true || r["username"] == "" {
		t.Fatalf("sign-in after sign-up: %v", r)
	}
	r = step("sign-out", `async () => { `+summarize+` const a = window.app.getCurrentAccount(); const r = await a.data.signOut(); return { completed: r.isCompleted() }; }`, nil, "")
	if r["completed"] != true {
		t.Fatalf("sign-out: %v", r)
	}
	r = step("sign-up again", `async (e) => { `+summarize+` return summarize(await window.app.signUp({ username: e, password: "Str0ng!Passw0rd" })); }`, email, "")
	if !slices.Contains(anyStrings(r["errorIs"]), "isUserAlreadyExists") {
		t.Fatalf("sign-up with a taken email: %v", r)
	}
	r = step("wrong password", `async (e) => { `+summarize+` return summarize(await window.app.signIn({ username: e, password: "Wr0ng!Passw0rd" })); }`, email, "")
	if !slices.Contains(anyStrings(r["errorIs"]), "isPasswordIncorrect") {
		t.Fatalf("wrong password: %v", r)
	}
	r = step("unknown user", `async () => { `+summarize+` return summarize(await window.app.signIn({ username: "nobody@example.com", password: "x" })); }`, nil, "")
	if !slices.Contains(anyStrings(r["errorIs"]), "isUserNotFound") {
		t.Fatalf("unknown user: %v", r)
	}
	r = step("password sign-in", `async (e) => { `+summarize+` return summarize(await window.app.signIn({ username: e, password: "Str0ng!Passw0rd" })); }`, email, "")
	if r["completed"] != true || r["username"] == "" {
		t.Fatalf("password sign-in: %v", r)
	}

	// Password reset, then sign-in with the new password.
	step("sign-out", `async () => { const a = window.app.getCurrentAccount(); await a.data.signOut(); return {}; }`, nil, "")
	r = step("reset", `async (e) => { `+summarize+` return summarize(await window.app.resetPassword({ username: e })); }`, email, "")
	if r["stateType"] != "ResetPasswordCodeRequiredState" {
		t.Fatalf("reset: %v", r)
	}
	r = step("reset code", `async (c) => { `+summarize+` return summarize(await window.st.submitCode(c)); }`, n.code(email), "")
	if r["stateType"] != "ResetPasswordPasswordRequiredState" {
		t.Fatalf("reset code: %v", r)
	}
	r = step("weak new password", `async () => { `+summarize+` const keep = window.st; const r = summarize(await window.st.submitNewPassword("weak")); window.st = keep; return r; }`, nil, "")
	if !slices.Contains(anyStrings(r["errorIs"]), "isInvalidPassword") {
		t.Fatalf("weak new password: %v", r)
	}
	r = step("new password", `async () => { `+summarize+` return summarize(await window.st.submitNewPassword("N3w!Passw0rd")); }`, nil, "")
	if r["stateType"] != "ResetPasswordCompletedState" {
		t.Fatalf("new password: %v", r)
	}
	r = step("sign-in after reset", `async () => { `+summarize+` return summarize(await window.st.signIn()); }`, nil, "")
	if r["completed"] != true {
		t.Fatalf("sign-in after reset: %v", r)
	}
	if password.Verify(n.passwordHash(email), "N3w!Passw0rd") != nil {
		t.Fatal("the new password is not stored")
	}
}

// The SDK with a user flow of email codes and MFA: sign-up with a code
// only, sign-in with the sign-up's token (MfaAwaitingState after the
// first factor), the email method's challenge and code, completed with
// amr mfa; then a fresh email-code sign-in through MFA again.
func TestBrowserNativeEmailCodeAndMFA(t *testing.T) {
	n := newNativeStack(t)
	b := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	appID := n.newApp("browser MFA SPA", map[string]any{"nativeAuthenticationApisEnabled": "all",
		"spa": map[string]any{"redirectUris": []string{o.URL + "/"}}, "requiredResourceAccess": consentedScopes})
	n.newFlow([]string{appID}, func(b map[string]any) {
		b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
		b["graphdirMfaRequired"] = true
	})
	page := o.Page("/", `<!doctype html><html lang="en"><head><title>app</title>
<script src="/_browsertest/msal-custom-auth.js"></script></head><body></body></html>`)
	base := n.srv.URL + "/" + n.tenant
	config := map[string]any{
		"auth":       map[string]any{"clientId": appID, "authority": base},
		"customAuth": map[string]any{"challengeTypes": []string{"password", "oob"}, "authApiProxyUrl": base},
		"cache":      map[string]any{"cacheLocation": "sessionStorage"},
	}
	const email = "browser.mfa@example.com"
	s := b.Open(t)
	const summarize = `const summarize = (r) => {
  window.st = r.state;
  const err = r.error?.errorData;
  return { stateType: r.state?.stateType ?? "", completed: r.isCompleted?.() ?? false, error: err ? err.error + "/" + (err.subError ?? "") : "",
           methods: r.state?.getAuthMethods?.()?.map(m => m.id) ?? [], idClaims: r.data?.getClaims?.() ?? null };
};`
	step := func(name, fn string, arg any, url string) map[string]any {
		t.Helper()
		sc := browsertest.Eval(`async (a) => { `+summarize+` return summarize(await (`+fn+`)(a)); }`, arg)
		sc.URL = url
		var out map[string]any
		s.Run(t, sc).Decode(t, &out)
		return out
	}
	r := step("sign-up", `async (a) => { const { CustomAuthPublicClientApplication } = window.msalCustomAuth;
  window.app = await CustomAuthPublicClientApplication.create(a.config);
  return window.app.signUp({ username: a.email, attributes: { displayName: "Browser Mfa" } }); }`, map[string]any{"config": config, "email": email}, page)
	if r["stateType"] != "SignUpCodeRequiredState" {
		t.Fatalf("sign-up: %v", r)
	}
	r = step("code", `(c) => window.st.submitCode(c)`, n.code(email), "")
	if r["stateType"] != "SignUpCompletedState" {
		t.Fatalf("sign-up code: %v", r)
	}
	mfa := func(first map[string]any) {
		t.Helper()
		if first["stateType"] != "MfaAwaitingState" || !slices.Contains(anyStrings(first["methods"]), "email") {
			t.Fatalf("after the first factor: %v", first)
		}
		r := step("mfa challenge", `() => window.st.requestChallenge("email")`, nil, "")
		if r["stateType"] != "MfaVerificationRequiredState" {
			t.Fatalf("mfa challenge: %v", r)
		}
		r = step("mfa code", `(c) => window.st.submitChallenge(c)`, n.code(email), "")
		if r["completed"] != true {
			t.Fatalf("mfa code: %v", r)
		}
	}
	mfa(step("sign-in after sign-up", `() => window.st.signIn({ scopes: ["User.Read"] })`, nil, ""))
	step("sign-out", `async () => { await window.app.getCurrentAccount().data.signOut(); return { state: null }; }`, nil, "")
	r = step("email-code sign-in", `(e) => window.app.signIn({ username: e })`, email, "")
	if r["stateType"] != "SignInCodeRequiredState" {
		t.Fatalf("email-code sign-in: %v", r)
	}
	mfa(step("sign-in code", `(c) => window.st.submitCode(c)`, n.code(email), ""))
}
