package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/password"
)

// Self-service password reset: start -> challenge -> continue(oob) ->
// submit(weak) -> password_too_weak -> submit(same token) -> poll
// (succeeded) -> token(continuation_token). The new password is stored,
// the reset is audited, and every refresh token issued before it is dead.
func TestNativeReset_FullFlowEndsRefreshTokens(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	const email = "forgetful@example.com"
	done := n.signUp(email, "Old!Passw0rd1", "Forgetful")
	old := tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", done, "grant_type", "continuation_token", "username", email, "client_info", "1")))

	types := "password oob redirect" // what the SDK sends (reference §2.5)
	nativeErr(t, n.post("/resetpassword/v1.0/start", n.form("username", "nobody@example.com", "challenge_type", types)), 400, "user_not_found", 50034, "")
	if m := ok(t, n.post("/resetpassword/v1.0/start", n.form("username", email, "challenge_type", "password redirect"))); m["challenge_type"] != "redirect" {
		t.Fatalf("start without oob: %v", m)
	}
	start := ok(t, n.post("/resetpassword/v1.0/start", n.form("username", email, "challenge_type", types)))
	ch := ok(t, n.post("/resetpassword/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	if ch["challenge_type"] != "oob" || ch["code_length"] != float64(8) || ch["challenge_target_label"] != "f***@e***.com" {
		t.Fatalf("challenge: %v", ch)
	}
	code := n.code(email)
	// A submit before the code is the wrong step.
	nativeErr(t, n.post("/resetpassword/v1.0/submit", n.form("continuation_token", ct(t, ch), "new_password", "New!Passw0rd2")), 400, "invalid_request", 55200, "")
	nativeErr(t, n.post("/resetpassword/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", wrongCode(code))),
		400, "invalid_grant", 50181, "invalid_oob_value")
	cont := ok(t, n.post("/resetpassword/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", code)))
	if cont["expires_in"] != float64(600) {
		t.Fatalf("continue: %v", cont)
	}
	for _, c := range []struct{ pw, sub string }{{"weakpassword", "password_too_weak"}, {"Ab1!", "password_too_short"}, {strings.Repeat("Ab1!", 65), "password_too_long"}} {
		nativeErr(t, n.post("/resetpassword/v1.0/submit", n.form("continuation_token", ct(t, cont), "new_password", c.pw)), 400, "invalid_grant", 399246, c.sub)
	}
	sub := ok(t, n.post("/resetpassword/v1.0/submit", n.form("continuation_token", ct(t, cont), "new_password", "New!Passw0rd2")))
	if sub["poll_interval"] != float64(1) {
		t.Fatalf("submit: %v", sub)
	}
	poll := ok(t, n.post("/resetpassword/v1.0/poll_completion", n.form("continuation_token", ct(t, sub))))
	if poll["status"] != "succeeded" {
		t.Fatalf("poll: %v", poll)
	}
	nativeErr(t, n.post("/resetpassword/v1.0/poll_completion", n.form("continuation_token", ct(t, sub))), 400, "invalid_request", 55200, "")

	if h := n.passwordHash(email); password.Verify(h, "New!Passw0rd2") != nil || password.Verify(h, "Old!Passw0rd1") == nil {
		t.Fatal("the stored password is not the new one")
	}
	if c := n.flowAuditCount("Reset password (self-service)", "success"); c != 1 {
		t.Fatalf("%d reset audit events", c)
	}
	// The refresh token from before the reset is dead; sign-in with the
	// poll's token works.
	f := url.Values{"client_id": {n.appID}, "grant_type": {"refresh_token"}, "refresh_token": {old["refresh_token"].(string)}, "scope": {"openid offline_access"}}
	r := n.postRaw("/oauth2/v2.0/token", "application/x-www-form-urlencoded", f.Encode())
	if r.Status != http.StatusBadRequest || r.JSON(t)["error"] != "invalid_grant" {
		t.Fatalf("refresh after reset: %d %s", r.Status, r.Body)
	}
	tokenResponse(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, poll), "grant_type", "continuation_token", "username", email, "client_info", "1")))
}

// Continuation tokens: a token of one flow is refused by another, by
// another client, when altered, when expired, and once its step
// succeeded; a failed step keeps it.
func TestNativeContinuationTokens(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	other := n.newApp("other SPA", map[string]any{"nativeAuthenticationApisEnabled": "all", "isFallbackPublicClient": true})
	types := "oob password redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", "tok@example.com", "challenge_type", types)))
	su := ct(t, start)

	// Cross-flow: a sign-up token at reset and sign-in endpoints, and at the token endpoint.
	nativeErr(t, n.post("/resetpassword/v1.0/challenge", n.form("continuation_token", su, "challenge_type", types)), 400, "invalid_request", 55200, "")
	nativeErr(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", su, "challenge_type", types)), 400, "invalid_request", 55200, "")
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", su, "grant_type", "oob", "oob", "12345678")), 400, "invalid_grant", 55200, "")
	// Cross-client.
	f := n.form("continuation_token", su, "challenge_type", types)
	f.Set("client_id", other)
	nativeErr(t, n.post("/signup/v1.0/challenge", f), 400, "invalid_request", 55200, "")
	// Tampering: every altered form is refused and the original still works.
	for _, bad := range []string{su + "A", su[:len(su)-1], strings.ToUpper(su), "gdf1." + strings.Repeat("A", 43), su[:len(su)-1] + string(rune(su[len(su)-1]^1))} {
		nativeErr(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", bad, "challenge_type", types)), 400, "invalid_request", 55200, "")
	}
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", su, "challenge_type", types)))
	n.code("tok@example.com")
	// Reuse after success.
	nativeErr(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", su, "challenge_type", types)), 400, "invalid_request", 55200, "")
	// Resend: the token of the last challenge answers another challenge.
	ch2 := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, ch), "challenge_type", types)))
	// Expiry: the flow's time is up (moved in the database; the server's
	// clock is real).
	if _, err := n.db.store.DB().ExecContext(context.Background(), `UPDATE signin_flows SET expires_at = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch2), "grant_type", "oob", "oob", "12345678")), 400, "expired_token", 552003, "")
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, ch2), "grant_type", "continuation_token")), 400, "expired_token", 552003, "")
}

// Code guessing: five wrong codes kill the code (the right one is then
// refused too) while the continuation token stays usable for a resend,
// whose new code works.
func TestNativeCodeGuessingLimit(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t, "GRAPHDIR_OTP_RESEND_INTERVAL", "60s")
	const email = "guess@example.com"
	types := "oob password redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Guess"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	code := n.code(email)
	for i := 0; i < 5; i++ {
		nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", wrongCode(code))),
			400, "invalid_grant", 50181, "invalid_oob_value")
	}
	m := nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", code)),
		400, "invalid_grant", 50181, "invalid_oob_value")
	if !strings.Contains(m["error_description"].(string), "request a new code") {
		t.Fatalf("after five wrong codes: %v", m)
	}
	// A resend within the resend interval mails nothing (the code sent
	// stands); once the interval is over (moved back in the database) a
	// new code is mailed and works.
	ch2 := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, ch), "challenge_type", types)))
	if c := n.codeOrNothing(email); c != "" {
		t.Fatal("a resend within the interval mailed a code")
	}
	if _, err := n.db.store.DB().ExecContext(context.Background(), `UPDATE otp_codes SET sent_at = sent_at - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	ch2 = ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, ch2), "challenge_type", types)))
	newCode := n.code(email)
	ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch2), "grant_type", "oob", "oob", newCode))))
}

// A flow started on one instance continues on another: its state is in
// PostgreSQL, not in either process.
func TestNativeFlowAcrossInstances(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	second := n.secondInstance()
	const email = "two.instances@example.com"
	types := "oob password redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Two Instances"}`)))
	ch := ok(t, second.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	done := ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email)))))
	tokenResponse(t, second.post("/oauth2/v2.0/token", n.form("continuation_token", done, "grant_type", "continuation_token", "username", email, "client_info", "1")))
}

// Two requests racing on one continuation token with the right code: one
// wins, the other is refused, and one account exists.
func TestNativeContinuationTokenRace(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	const email = "race@example.com"
	types := "oob password redirect"
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Race"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	code := n.code(email)
	f := n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", code)
	results := make(chan int, 4)
	for i := 0; i < 4; i++ {
		go func() {
			req, _ := http.NewRequest("POST", n.srv.URL+"/"+n.tenant+"/signup/v1.0/continue", strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := n.client.Do(req)
			if err != nil {
				results <- 0
				return
			}
			res.Body.Close()
			results <- res.StatusCode
		}()
	}
	wins := 0
	for i := 0; i < 4; i++ {
		switch s := <-results; s {
		case 200:
			wins++
		case 400:
		default:
			t.Fatalf("status %d", s)
		}
	}
	var users int
	if err := n.db.store.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM users WHERE lower(mail) = $1`, email).Scan(&users); err != nil {
		t.Fatal(err)
	}
	if wins != 1 || users != 1 {
		t.Fatalf("%d winners, %d accounts", wins, users)
	}
}
