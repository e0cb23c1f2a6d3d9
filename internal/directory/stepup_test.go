package directory

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

func TestStepUpChallengeIsEntrasClaimsRequest(t *testing.T) {
	su, err := NewStepUp([]string{"Mail", "password", " otherMails "}, []string{"c1", "c7"})
	if err != nil {
		t.Fatal(err)
	}
	if !su.Requires("mail") || !su.Requires("passwordProfile") || !su.Requires("otherMails") || su.Requires("city") {
		t.Fatalf("properties %v", su.Properties())
	}
	if su.Claims() != "eyJhY2Nlc3NfdG9rZW4iOnsiYWNycyI6eyJlc3NlbnRpYWwiOnRydWUsInZhbHVlIjoiYzEifX19" {
		t.Fatalf("claims %s", su.Claims())
	}
	raw, _ := base64.StdEncoding.DecodeString(su.Claims())
	var m map[string]map[string]map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m["access_token"]["acrs"]["value"] != "c1" || m["access_token"]["acrs"]["essential"] != true {
		t.Fatalf("claims JSON %s", raw)
	}
	for _, tc := range []struct {
		p    *Principal
		want string
	}{
		{&Principal{AMR: []string{"pwd", "MFA"}}, "amr:mfa"},
		{&Principal{ACRS: []string{"c7"}}, "acrs:c7"},
		{&Principal{AMR: []string{"pwd"}, ACRS: []string{"c2"}}, ""},
		{nil, ""},
	} {
		how, ok := su.Satisfied(tc.p)
		if how != tc.want || ok != (tc.want != "") {
			t.Errorf("%+v: %q %v", tc.p, how, ok)
		}
	}
	e := su.challenge([]string{"mail"})
	if e.Kind != KindUnauthenticated || e.Claims != su.Claims() || !IsDenial(e) || AuditReason(e) != "insufficient_claims" {
		t.Fatalf("challenge %+v", e)
	}
	for _, bad := range [][2][]string{{{"id"}, {"c1"}}, {{"nope"}, {"c1"}}, {{"mail"}, {}}, {{"mail"}, {`c"1`}}} {
		if _, err := NewStepUp(bad[0], bad[1]); err == nil {
			t.Errorf("NewStepUp(%v, %v) accepted", bad[0], bad[1])
		}
	}
	if su, err := NewStepUp(nil, []string{"c1"}); err != nil || su.Requires("mail") {
		t.Fatal("an empty property list must disable step-up")
	}
}

func TestAuditValuesNeverShowSensitiveProperties(t *testing.T) {
	for _, name := range []string{"passwordProfile", "mail", "otherMails", "mobilePhone", "businessPhones", "identities",
		"accountEnabled", "userPrincipalName", "nope"} {
		if auditShowsValue(name) {
			t.Errorf("%s value would be recorded", name)
		}
	}
	for _, name := range []string{"displayName", "city", "jobTitle"} {
		if !auditShowsValue(name) {
			t.Errorf("%s value would be hidden", name)
		}
	}
	for raw, want := range map[string]string{`"Jane"`: `["Jane"]`, `null`: `[]`, `["a","b"]`: `["a","b"]`, `true`: `[true]`, ``: `[]`} {
		if got := graphAuditValue(json.RawMessage(raw)); got != want {
			t.Errorf("%s -> %s, want %s", raw, got, want)
		}
	}
}

func TestAttemptLimiter(t *testing.T) {
	var l attemptLimiter
	l.max, l.window = 2, time.Minute
	now := time.Unix(1000, 0)
	if l.blocked("k", now) != 0 {
		t.Fatal("blocked before any failure")
	}
	l.fail("k", now)
	l.fail("k", now.Add(time.Second))
	if w := l.blocked("k", now.Add(2*time.Second)); w != 58*time.Second {
		t.Fatalf("wait %v", w)
	}
	if l.blocked("other", now) != 0 {
		t.Fatal("limits are per key")
	}
	if l.blocked("k", now.Add(time.Minute)) != 0 {
		t.Fatal("window did not end")
	}
	l.reset("k")
	if l.blocked("k", now) != 0 {
		t.Fatal("reset")
	}
}
