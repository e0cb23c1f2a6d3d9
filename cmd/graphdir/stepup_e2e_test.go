package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/password"
)

// wantStepUpChallenge is the exact challenge of a missing step-up with the
// default configuration (GRAPHDIR_STEPUP_ACRS=c1): Entra's claims-challenge
// form, claims = base64 of {"access_token":{"acrs":{"essential":true,"value":"c1"}}}.
const wantStepUpChallenge = `Bearer realm="graphdir", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19"`

// userTokenWith signs a delegated token for userID in the default tenant
// with extra claims (amr, acrs, ...) and the given scopes.
func (s *stack) userTokenWith(userID string, extra map[string]any, scopes ...string) string {
	s.t.Helper()
	now := time.Now()
	app := uuid.NewString()
	c := map[string]any{
		"iss": testPublicURL + "/" + s.tenant + "/v2.0", "aud": s.cfg.Audience, "sub": userID, "oid": userID,
		"azp": app, "tid": s.tenant, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"jti": uuid.NewString(), "idtyp": "user", "scp": strings.Join(scopes, " "), "ver": "2.0",
	}
	for k, v := range extra {
		c[k] = v
	}
	return s.signedToken(c, nil)
}

var (
	withMFA  = map[string]any{"amr": []string{"pwd", "mfa"}}
	withACRS = map[string]any{"amr": []string{"pwd"}, "acrs": []string{"c1"}}
	noMFA    = map[string]any{"amr": []string{"pwd"}}
)

const customerPassword = "Str0ng!Passw0rd"

// newCustomer creates a customer (email sign-in, password customerPassword)
// through the API and returns its id.
func (s *stack) newCustomer(admin, email string) string {
	s.t.Helper()
	return s.create(admin, customer(s.domain, email))["id"].(string)
}

func TestStepUpSelfServiceEdits(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	id := s.newCustomer(admin, "stepup@example.com")

	plain := s.userTokenWith(id, noMFA, "User.ReadWrite")
	// Step-up properties without MFA: 401 with the claims challenge, nothing written.
	for _, tc := range []struct {
		path string
		body map[string]any
	}{
		{"/v1.0/me", map[string]any{"mail": "new@example.com"}},
		{"/v1.0/me", map[string]any{"otherMails": []string{"x@example.com"}}},
		{"/v1.0/me", map[string]any{"mobilePhone": "+1 555 0199"}},
		{"/v1.0/me", map[string]any{"identities": []any{map[string]any{"signInType": "emailAddress", "issuer": s.domain, "issuerAssignedId": "other@example.com"}}}},
		{"/v1.0/me", map[string]any{"passwordProfile": map[string]any{"password": "N3w!Password#1"}}},
		{"/v1.0/me", map[string]any{"city": "Oslo", "mail": "new@example.com"}}, // a base property does not carry a step-up one
		{"/v1.0/users/" + id, map[string]any{"mail": "new@example.com"}},        // own id, same rule as /me
	} {
		before := s.snapshot()
		r := s.do("PATCH", tc.path, plain, tc.body)
		if r.Status != 401 {
			t.Fatalf("%s %v without MFA: %d %s", tc.path, tc.body, r.Status, r.Body)
		}
		if code := s.checkDenied(t, r, before); code != "InvalidAuthenticationToken" {
			t.Fatalf("code %s", code)
		}
		if got := r.Header.Get("WWW-Authenticate"); got != wantStepUpChallenge {
			t.Fatalf("WWW-Authenticate:\n got %s\nwant %s", got, wantStepUpChallenge)
		}
	}
	// The claims value is Entra's claims request JSON.
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.SplitN(wantStepUpChallenge, `claims="`, 2)[1], `"`))
	if string(raw) != `{"access_token":{"acrs":{"essential":true,"value":"c1"}}}` {
		t.Fatalf("claims = %s", raw)
	}

	// Base self-service properties need no MFA.
	if r := s.do("PATCH", "/v1.0/me", plain, map[string]any{"city": "Oslo", "jobTitle": "Pilot"}); r.Status != 204 {
		t.Fatalf("base self-service without MFA: %d %s", r.Status, r.Body)
	}
	// Properties outside both sets stay 403, MFA or not.
	for _, tok := range []string{plain, s.userTokenWith(id, withMFA, "User.ReadWrite")} {
		before := s.snapshot()
		r := s.do("PATCH", "/v1.0/me", tok, map[string]any{"accountEnabled": false})
		if r.Status != 403 || s.checkDenied(t, r, before) != "Authorization_RequestDenied" {
			t.Fatalf("accountEnabled at /me: %d %s", r.Status, r.Body)
		}
	}
	// amr mfa steps up.
	mfa := s.userTokenWith(id, withMFA, "User.ReadWrite")
	if r := s.do("PATCH", "/v1.0/me", mfa, map[string]any{"mail": "new@example.com", "city": "Bergen"}); r.Status != 204 {
		t.Fatalf("mail with amr mfa: %d %s", r.Status, r.Body)
	}
	// acrs c1 steps up.
	acrs := s.userTokenWith(id, withACRS, "User.ReadWrite")
	if r := s.do("PATCH", "/v1.0/me", acrs, map[string]any{"otherMails": []string{"alt@example.com"}, "mobilePhone": "+1 555 0123"}); r.Status != 204 {
		t.Fatalf("otherMails with acrs c1: %d %s", r.Status, r.Body)
	}
	me := s.do("GET", "/v1.0/me?$select=mail,otherMails,mobilePhone,city", mfa, nil).JSON(t)
	if me["mail"] != "new@example.com" || me["city"] != "Bergen" || me["mobilePhone"] != "+1 555 0123" ||
		mustJSON(t, me["otherMails"]) != `["alt@example.com"]` {
		t.Fatalf("after step-up: %v", me)
	}
	// Another authentication context does not count.
	c2 := s.userTokenWith(id, map[string]any{"acrs": []string{"c2"}}, "User.ReadWrite")
	if r := s.do("PATCH", "/v1.0/me", c2, map[string]any{"mail": "c2@example.com"}); r.Status != 401 {
		t.Fatalf("acrs c2: %d %s", r.Status, r.Body)
	}
	// Someone else's user: a plain 403, with or without MFA (never a prompt for MFA).
	other := s.newCustomer(admin, "someone@example.com")
	for _, tok := range []string{plain, mfa} {
		before := s.snapshot()
		r := s.do("PATCH", "/v1.0/users/"+other, tok, map[string]any{"mail": "hijack@example.com"})
		if r.Status != 403 || s.checkDenied(t, r, before) != "Authorization_RequestDenied" || r.Header.Get("WWW-Authenticate") != "" {
			t.Fatalf("mail of another user: %d %v %s", r.Status, r.Header, r.Body)
		}
	}
	// MFA does not replace the write scope.
	read := s.userTokenWith(id, withMFA, "User.Read")
	if r := s.do("PATCH", "/v1.0/me", read, map[string]any{"mail": "r@example.com"}); r.Status != 403 {
		t.Fatalf("mail with User.Read: %d %s", r.Status, r.Body)
	}
	// Admin writes are not self-service: no step-up for an application.
	if r := s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"mail": "admin@example.com"}); r.Status != 204 {
		t.Fatalf("admin mail: %d %s", r.Status, r.Body)
	}
}

func (s *stack) passwordHash(id string) string {
	s.t.Helper()
	var h string
	if err := s.db.store.DB().QueryRowContext(context.Background(),
		`SELECT coalesce(password_hash, '') FROM users WHERE id = $1`, id).Scan(&h); err != nil {
		s.t.Fatal(err)
	}
	return h
}

func TestChangePassword(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	id := s.newCustomer(admin, "pw@example.com")
	mfa := s.userTokenWith(id, withMFA, "User.ReadWrite")
	read := func() string {
		u := s.do("GET", "/v1.0/users/"+id+"?$select=lastPasswordChangeDateTime", admin, nil).JSON(t)
		v, _ := u["lastPasswordChangeDateTime"].(string)
		return v
	}
	created := read()
	if created == "" {
		t.Fatal("no lastPasswordChangeDateTime after create")
	}
	const next = "An0ther!Secret"

	refused := []struct {
		name   string
		tok    string
		body   any
		status int
		code   string
	}{
		{"app token", s.appToken("User.ReadWrite.All", "Directory.ReadWrite.All"), map[string]any{"currentPassword": customerPassword, "newPassword": next}, 400, "BadRequest"},
		{"read scope", s.userTokenWith(id, withMFA, "User.Read"), map[string]any{"currentPassword": customerPassword, "newPassword": next}, 403, "Authorization_RequestDenied"},
		{"no MFA", s.userTokenWith(id, noMFA, "User.ReadWrite"), map[string]any{"currentPassword": customerPassword, "newPassword": next}, 401, "InvalidAuthenticationToken"},
		{"weak new password", mfa, map[string]any{"currentPassword": customerPassword, "newPassword": "abc"}, 400, "Request_BadRequest"},
		{"same password", mfa, map[string]any{"currentPassword": customerPassword, "newPassword": customerPassword}, 400, "Request_BadRequest"},
		{"unknown member", mfa, map[string]any{"currentPassword": customerPassword, "newPassword": next, "x": 1}, 400, "Request_BadRequest"},
		{"missing current", mfa, map[string]any{"newPassword": next}, 400, "Request_BadRequest"},
		{"number", mfa, map[string]any{"currentPassword": 1, "newPassword": next}, 400, "Request_BadRequest"},
		{"duplicate key", mfa, `{"currentPassword":"` + customerPassword + `","currentPassword":"x","newPassword":"` + next + `"}`, 400, ""},
	}
	for _, tc := range refused {
		before := s.snapshot()
		r := s.do("POST", "/v1.0/me/changePassword", tc.tok, tc.body)
		code := s.checkDenied(t, r, before)
		if r.Status != tc.status || (tc.code != "" && code != tc.code) {
			t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), customerPassword) || strings.Contains(string(r.Body), next) {
			t.Fatalf("%s: a password is echoed: %s", tc.name, r.Body)
		}
		if tc.status == 401 && r.Header.Get("WWW-Authenticate") != wantStepUpChallenge {
			t.Fatalf("%s: WWW-Authenticate %q", tc.name, r.Header.Get("WWW-Authenticate"))
		}
	}

	// Wrong current password: 400, nothing written.
	before := s.snapshot()
	r := s.do("POST", "/v1.0/me/changePassword", mfa, map[string]any{"currentPassword": "Wr0ng!Password", "newPassword": next})
	if r.Status != 400 || s.checkDenied(t, r, before) != "Request_BadRequest" || !strings.Contains(string(r.Body), "Invalid currentPassword") {
		t.Fatalf("wrong current: %d %s", r.Status, r.Body)
	}

	time.Sleep(5 * time.Millisecond)
	r = s.do("POST", "/v1.0/me/changePassword", mfa, map[string]any{"currentPassword": customerPassword, "newPassword": next})
	if r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("change: %d %s", r.Status, r.Body)
	}
	if after := read(); after == created || after < created {
		t.Fatalf("lastPasswordChangeDateTime %s -> %s", created, after)
	}
	h := s.passwordHash(id)
	if password.Verify(h, customerPassword) == nil || password.Verify(h, next) != nil {
		t.Fatal("the stored hash does not reflect the change")
	}
	// The old password no longer works as the current one.
	r = s.do("POST", "/v1.0/me/changePassword", mfa, map[string]any{"currentPassword": customerPassword, "newPassword": "Th1rd!Secret"})
	if r.Status != 400 {
		t.Fatalf("old password accepted: %d %s", r.Status, r.Body)
	}
	// acrs c1 and Directory.AccessAsUser.All work too.
	acrs := s.userTokenWith(id, withACRS, "Directory.AccessAsUser.All")
	if r := s.do("POST", "/v1.0/me/changePassword", acrs, map[string]any{"currentPassword": next, "newPassword": "Th1rd!Secret"}); r.Status != 204 {
		t.Fatalf("acrs + Directory.AccessAsUser.All: %d %s", r.Status, r.Body)
	}
}

func TestChangePasswordRateLimit(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	id := s.newCustomer(admin, "limit@example.com")
	other := s.newCustomer(admin, "other@example.com")
	mfa := s.userTokenWith(id, withMFA, "User.ReadWrite")
	// 5 wrong current passwords per user per window are answered; then 429.
	for i := 0; i < 5; i++ {
		r := s.do("POST", "/v1.0/me/changePassword", mfa, map[string]any{"currentPassword": "Wr0ng!Password", "newPassword": "N3w!Password#1"})
		if r.Status != 400 {
			t.Fatalf("attempt %d: %d %s", i, r.Status, r.Body)
		}
	}
	before := s.snapshot()
	r := s.do("POST", "/v1.0/me/changePassword", mfa, map[string]any{"currentPassword": customerPassword, "newPassword": "N3w!Password#1"})
	if r.Status != 429 || s.checkDenied(t, r, before) != "TooManyRequests" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("after 5 failures: %d %v %s", r.Status, r.Header, r.Body)
	}
	// Per user: another customer is not affected.
	otherTok := s.userTokenWith(other, withMFA, "User.ReadWrite")
	if r := s.do("POST", "/v1.0/me/changePassword", otherTok, map[string]any{"currentPassword": customerPassword, "newPassword": "N3w!Password#1"}); r.Status != 204 {
		t.Fatalf("other user: %d %s", r.Status, r.Body)
	}
}
