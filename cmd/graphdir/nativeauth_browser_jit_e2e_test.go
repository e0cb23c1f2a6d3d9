package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/browsertest"
)

// The SDK in Chromium with a user flow requiring MFA and an account an
// administrator created (no address proven for a second factor): the
// password sign-in reaches AuthMethodRegistrationRequiredState, naming an
// address reaches AuthMethodVerificationRequiredState, its code completes
// the sign-in. Then, cross-origin from the page: PATCH /v1.0/me of
// mobilePhone with the SDK's access token (getAccessToken) succeeds,
// while the same PATCH with a token of the same user without MFA gets the
// 401 claims challenge; getAccessToken({forceRefresh: true}) redeems the
// refresh token for a new access token, which still passes the step-up.
func TestBrowserNativeJITRegistrationAndStepUp(t *testing.T) {
	n := newNativeStack(t)
	b := browsertest.Shared(t)
	o := browsertest.NewOrigin(t)
	appID := n.newApp("browser JIT SPA", map[string]any{"nativeAuthenticationApisEnabled": "all",
		"spa": map[string]any{"redirectUris": []string{o.URL + "/"}}, "requiredResourceAccess": consentedScopes})
	n.newFlow([]string{appID}, func(b map[string]any) { b["graphdirMfaRequired"] = true })
	const email, mfaMail = "browser.jit@example.com", "browser.jit.mfa@example.org"
	uid := n.adminCustomer(email, "Str0ng!Passw0rd")
	page := o.Page("/", `<!doctype html><html lang="en"><head><title>app</title>
<script src="/_browsertest/msal-custom-auth.js"></script></head><body></body></html>`)
	base := n.srv.URL + "/" + n.tenant
	config := map[string]any{
		"auth":       map[string]any{"clientId": appID, "authority": base},
		"customAuth": map[string]any{"challengeTypes": []string{"password", "oob"}, "authApiProxyUrl": base},
		"cache":      map[string]any{"cacheLocation": "sessionStorage"},
	}
	s := b.Open(t)
	const summarize = `const summarize = (r) => {
  window.st = r.state;
  const err = r.error?.errorData;
  return { stateType: r.state?.stateType ?? "", completed: r.isCompleted?.() ?? false, error: err ? err.error + "/" + (err.subError ?? "") : "",
           methods: r.state?.getAuthMethods?.()?.map(m => m.id) ?? [], sentTo: r.state?.getSentTo?.() ?? "" };
};`
	step := func(name, fn string, arg any, url string) map[string]any {
		t.Helper()
		sc := browsertest.Eval(`async (a) => { `+summarize+` return summarize(await (`+fn+`)(a)); }`, arg)
		sc.URL = url
		var out map[string]any
		s.Run(t, sc).Decode(t, &out)
		if out == nil {
			t.Fatalf("%s: no result", name)
		}
		return out
	}
	r := step("sign-in", `async (a) => { const { CustomAuthPublicClientApplication } = window.msalCustomAuth;
  window.app = await CustomAuthPublicClientApplication.create(a.config);
  return window.app.signIn({ username: a.email, password: "Str0ng!Passw0rd", scopes: ["User.ReadWrite"] }); }`,
		map[string]any{"config": config, "email": email}, page)
	if r["stateType"] != "AuthMethodRegistrationRequiredState" || !slices.Contains(anyStrings(r["methods"]), "email") {
		t.Fatalf("after the password: %v", r)
	}
	r = step("register", `(to) => window.st.challengeAuthMethod({ authMethodType: window.st.getAuthMethods()[0], verificationContact: to })`, mfaMail, "")
	if r["stateType"] != "AuthMethodVerificationRequiredState" || r["sentTo"] != "b***@e***.org" {
		t.Fatalf("register challenge: %v", r)
	}
	r = step("registration code", `(c) => window.st.submitChallenge(c)`, n.code(mfaMail), "")
	if r["stateType"] != "AuthMethodRegistrationCompletedState" || r["completed"] != true {
		t.Fatalf("registration code: %v", r)
	}
	if got := n.otherMails(uid); !slices.Equal(got, []string{mfaMail}) {
		t.Fatalf("otherMails: %v", got)
	}

	// Graph from the page, cross-origin, with the SDK's tokens.
	var out map[string]any
	s.Run(t, browsertest.Eval(`async (a) => {
  const acct = window.app.getCurrentAccount().data;
  const patch = async (tok) => {
    const r = await fetch(a.graph + "/v1.0/me", { method: "PATCH", headers: { "Authorization": "Bearer " + tok, "Content-Type": "application/json" },
      body: JSON.stringify({ mobilePhone: "+1 555 0142" }) });
    return { status: r.status, challenge: r.headers.get("WWW-Authenticate") ?? "" };
  };
  const first = await acct.getAccessToken({ scopes: ["User.ReadWrite"] });
  const cached = await acct.getAccessToken({ scopes: ["User.ReadWrite"] });
  const refreshed = await acct.getAccessToken({ scopes: ["User.ReadWrite"], forceRefresh: true });
  const claims = (t) => JSON.parse(atob(t.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  return { failed: first.isFailed() || refreshed.isFailed(),
    sameCached: first.data.accessToken === cached.data.accessToken,
    sameRefreshed: first.data.accessToken === refreshed.data.accessToken,
    refreshedAmr: claims(refreshed.data.accessToken).amr ?? [],
    mfa: await patch(first.data.accessToken), plain: await patch(a.plain), afterRefresh: await patch(refreshed.data.accessToken) };
}`, map[string]any{"graph": n.srv.URL, "plain": n.userToken(uid, "User.ReadWrite")})).Decode(t, &out)
	status := func(k string) float64 { return out[k].(map[string]any)["status"].(float64) }
	if out["failed"] != false || out["sameCached"] != true || out["sameRefreshed"] != false {
		t.Fatalf("getAccessToken: %v", out)
	}
	if status("mfa") != 204 && status("mfa") != 200 {
		t.Fatalf("PATCH /me with the MFA token: %v", out["mfa"])
	}
	if ch := out["plain"].(map[string]any)["challenge"].(string); status("plain") != 401 || !strings.Contains(ch, "insufficient_claims") || !strings.Contains(ch, "claims=") {
		t.Fatalf("PATCH /me without MFA: %v", out["plain"])
	}
	if !slices.Contains(anyStrings(out["refreshedAmr"]), "mfa") || (status("afterRefresh") != 204 && status("afterRefresh") != 200) {
		t.Fatalf("after the refresh: amr %v, PATCH %v", out["refreshedAmr"], out["afterRefresh"])
	}
	me := n.do("GET", "/v1.0/users/"+uid+"?$select=mobilePhone", n.admin, nil)
	if ok(t, me)["mobilePhone"] != "+1 555 0142" {
		t.Fatalf("mobilePhone not written: %s", me.Body)
	}
}
