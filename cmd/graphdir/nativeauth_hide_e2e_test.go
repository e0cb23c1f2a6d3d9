package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// inNewTenant is a view of n on a tenant created with `graphdir tenant
// create`, with its own application enabled for native authentication, on
// the same server.
func (n *nativeStack) inNewTenant(domain string) *nativeStack {
	n.t.Helper()
	id := n.newTenant(domain)
	s := *n.stack
	s.tenant, s.domain = id, domain
	v := &nativeStack{stack: &s, smtp: n.smtp, mailJob: n.mailJob,
		admin: s.appTokenIn(id, "Application.ReadWrite.All", "EventListener.ReadWrite.All", "User.Read.All", "AuditLog.Read.All")}
	v.appID = v.newApp("shop SPA", map[string]any{"nativeAuthenticationApisEnabled": "all",
		"spa": map[string]any{"redirectUris": []string{spaOrigin + "/"}}, "requiredResourceAccess": consentedScopes})
	return v
}

// setHide runs `graphdir tenant set --hide-user-not-found=value` for n's
// tenant.
func (n *nativeStack) setHide(value string) {
	n.t.Helper()
	if out, err := n.cli("tenant", "set", "--id", n.tenant, "--hide-user-not-found="+value); err != nil {
		n.t.Fatalf("tenant set %s: %v %s", value, err, out)
	}
}

// expectHidden asserts that n's tenant hides (or reveals) an unknown
// username at sign-in initiate, at the password step and at reset start.
func expectHidden(t *testing.T, n *nativeStack, hidden bool, why string) {
	t.Helper()
	const types = "password oob redirect"
	ghost := "ghost@example.com"
	init := n.post("/oauth2/v2.0/initiate", n.form("username", ghost, "challenge_type", types))
	reset := n.post("/resetpassword/v1.0/start", n.form("username", ghost, "challenge_type", types))
	if !hidden {
		nativeErr(t, init, 400, "user_not_found", 50034, "")
		nativeErr(t, reset, 400, "user_not_found", 50034, "")
		return
	}
	if init.Status != http.StatusOK || reset.Status != http.StatusOK {
		t.Fatalf("%s: hidden expected, initiate %d %s, reset %d %s", why, init.Status, init.Body, reset.Status, reset.Body)
	}
	ct(t, ok(t, reset))
	ch := ok(t, n.post("/oauth2/v2.0/challenge", n.form("continuation_token", ct(t, ok(t, init)), "challenge_type", types)))
	if ch["challenge_type"] != "password" {
		t.Fatalf("%s: challenge %v", why, ch)
	}
	nativeErr(t, n.post("/oauth2/v2.0/token", n.form("continuation_token", ct(t, ch), "grant_type", "password", "password", "Wr0ng!Passw0rd")),
		400, "invalid_grant", 50126, "")
}

// The setting is per tenant over the deployment default (unset here:
// reveal). Two tenants on one server answer differently at once; a
// change holds on another instance at once (nothing cached); "default"
// returns a tenant to the deployment's answer.
func TestNativeAuth_HideUserNotFoundPerTenant(t *testing.T) {
	t.Parallel()
	a := newNativeStack(t)
	b := a.inNewTenant("fabrikam.example")
	other := a.secondInstance()

	expectHidden(t, a, false, "A by default")
	expectHidden(t, b, false, "B by default")

	a.setHide("true")
	expectHidden(t, a, true, "A hiding")
	expectHidden(t, other, true, "A hiding, seen by another instance")
	expectHidden(t, b, false, "B beside a hiding A")

	// A known user of the hiding tenant still signs in.
	a.signUp("known@example.com", "Str0ng!Passw0rd", "Known")
	init := ok(t, a.post("/oauth2/v2.0/initiate", a.form("username", "known@example.com", "challenge_type", "password redirect")))
	ch := ok(t, a.post("/oauth2/v2.0/challenge", a.form("continuation_token", ct(t, init), "challenge_type", "password redirect")))
	tokenResponse(t, a.post("/oauth2/v2.0/token", a.form("continuation_token", ct(t, ch), "grant_type", "password",
		"password", "Str0ng!Passw0rd", "scope", "openid offline_access")))

	b.setHide("true")
	a.setHide("false")
	expectHidden(t, a, false, "A set to reveal")
	expectHidden(t, b, true, "B hiding")

	b.setHide("default")
	expectHidden(t, b, false, "B back to the default")
}

// The tenant setting overrides GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND
// both ways; a tenant that never chose follows the environment.
func TestNativeAuth_HideUserNotFoundEnvDefault(t *testing.T) {
	t.Parallel()
	a := newNativeStack(t, "GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND", "true")
	b := a.inNewTenant("fabrikam.example")
	expectHidden(t, a, true, "A by the environment")
	expectHidden(t, b, true, "B by the environment")

	a.setHide("false")
	expectHidden(t, a, false, "A set to reveal")
	expectHidden(t, b, true, "B still by the environment")
	out, err := a.cli("tenant", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, a.tenant) && !strings.HasSuffix(line, "false"):
			t.Errorf("tenant list, A: %q", line)
		case strings.HasPrefix(line, b.tenant) && !strings.HasSuffix(line, "default"):
			t.Errorf("tenant list, B: %q", line)
		}
	}
	a.setHide("default")
	expectHidden(t, a, true, "A back to the environment")
}

// `graphdir tenant set`: its flags are checked before the database is
// touched, an unknown tenant is refused, and each change is one event in
// the tenant's own trail, by the command line, with old and new values.
func TestTenantSet_HideUserNotFound(t *testing.T) {
	s := newStack(t)
	b := s.newTenant("fabrikam.example")
	for _, args := range [][]string{
		{"tenant", "set"},
		{"tenant", "set", "--id", b},
		{"tenant", "set", "--hide-user-not-found=true"},
		{"tenant", "set", "--id", b, "--hide-user-not-found=yes"},
		{"tenant", "set", "--id", b, "--hide-user-not-found=1"},
		{"tenant", "set", "--id", "fabrikam.example", "--hide-user-not-found=true"},
		{"tenant", "set", "--id", b, "--hide-user-not-found=true", "extra"},
		{"tenant", "set", "--id", b, "--domain", "x.example", "--hide-user-not-found=true"},
		{"tenant", "set", "--id", "00000000-0000-0000-0000-000000000001", "--hide-user-not-found=true"},
	} {
		if out, err := s.cli(args...); err == nil {
			t.Errorf("%v: accepted: %s", args, out)
		}
	}
	if got, err := s.db.store.TenantHideUserNotFound(t.Context(), b); err != nil || got != nil {
		t.Fatalf("refused commands changed the setting: %v %v", got, err)
	}

	reader := s.appTokenIn(b, "AuditLog.Read.All")
	steps := []struct{ value, stored, list, oldV, newV string }{
		{"true", "true", "true", "[]", "[true]"},
		{"FALSE", "false", "false", "[true]", "[false]"},
		{"default", "unset", "default", "[false]", "[]"},
	}
	for i, st := range steps {
		out, err := s.cli("tenant", "set", "--id", strings.ToUpper(b), "--hide-user-not-found="+st.value)
		if err != nil || out != b+" hide-user-not-found "+st.list {
			t.Fatalf("set %s: %q %v", st.value, out, err)
		}
		got, err := s.db.store.TenantHideUserNotFound(t.Context(), b)
		if err != nil || show(got) != st.stored {
			t.Fatalf("after set %s: stored %s %v", st.value, show(got), err)
		}
		list, err := s.cli("tenant", "list")
		if err != nil || !strings.Contains(list, "HIDE USER NOT FOUND") {
			t.Fatalf("tenant list: %v %s", err, list)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.HasPrefix(line, b) && !strings.HasSuffix(line, st.list) {
				t.Errorf("tenant list after set %s: %q", st.value, line)
			}
			if strings.HasPrefix(line, s.tenant) && !strings.HasSuffix(line, "default") {
				t.Errorf("tenant list, the other tenant: %q", line)
			}
		}
		evs := s.auditsWhere(reader, "activityDisplayName eq 'Update company settings'")
		if len(evs) != i+1 {
			t.Fatalf("after set %s: %d events: %v", st.value, len(evs), evs)
		}
		ev := evs[0] // newest first
		app, _ := ev["initiatedBy"].(map[string]any)["app"].(map[string]any)
		if app == nil || app["appId"] != directory.OperatorAppID || ev["result"] != "success" {
			t.Errorf("event %v", ev)
		}
		tg := target(t, ev)
		mp, _ := tg["modifiedProperties"].([]any)
		if tg["id"] != b || len(mp) != 1 {
			t.Fatalf("target %v", tg)
		}
		p := mp[0].(map[string]any)
		if p["displayName"] != "hideUserNotFound" || p["oldValue"] != st.oldV || p["newValue"] != st.newV {
			t.Errorf("set %s: modified %v", st.value, p)
		}
	}
	// The default tenant's trail has none of B's changes.
	if evs := s.auditsWhere(s.appToken("AuditLog.Read.All"), "activityDisplayName eq 'Update company settings'"); len(evs) != 0 {
		t.Errorf("default tenant's trail: %v", evs)
	}
}

// show spells a nullable setting for messages and comparisons.
func show(v *bool) string {
	if v == nil {
		return "unset"
	}
	if *v {
		return "true"
	}
	return "false"
}

// TestNativeAuth_HiddenUnknownCodesLikeKnown: with user_not_found hidden,
// an unknown username's reset codes go through the code service as a
// known one's (stored, never mailed, never right). Side by side, every
// answer is alike: the challenge, five wrong codes (the fifth kills the
// code), and the hourly cap per address across separate flows (3 per
// hour on this stack: the fourth flow's challenge is refused). The
// unknown address gets no mail.
func TestNativeAuth_HiddenUnknownCodesLikeKnown(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t, "GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND", "true",
		"GRAPHDIR_OTP_RESEND_INTERVAL", "3m", "GRAPHDIR_OTP_SENDS_PER_HOUR", "3")
	const known, ghost = "known@example.com", "ghost@example.com"
	n.signUp(known, "Str0ng!Passw0rd", "Known")
	n.age(time.Hour) // the sign-up's code leaves the cap's window
	const types = "password oob redirect"
	// view is what a client sees of an answer, the address masked alike.
	view := func(r *response) string {
		m := r.JSON(t)
		desc, _ := m["error_description"].(string)
		desc, _, _ = strings.Cut(desc, "Trace ID")
		ra := ""
		if v := r.Header.Get("Retry-After"); v != "" {
			secs, _ := strconv.Atoi(v)
			ra = strconv.Itoa((secs + 59) / 60)
		}
		lbl, _ := m["challenge_target_label"].(string)
		return fmt.Sprint(r.Status, " ", m["error"], " ", m["suberror"], " ", m["error_codes"], " ", desc, " retry-after=", ra,
			" ", m["challenge_type"], " ", m["interval"], " ", m["code_length"], " ", strings.Replace(lbl, "g***", "k***", 1))
	}
	both := func(what string, act func(user string) *response) []*response {
		t.Helper()
		k, g := act(known), act(ghost)
		if kv, gv := view(k), view(g); kv != gv {
			t.Fatalf("%s: known and unknown differ:\n%s\n%s", what, kv, gv)
		}
		return []*response{k, g}
	}
	cts := map[string]string{}
	challenge := func(user string) *response {
		st := ok(t, n.post("/resetpassword/v1.0/start", n.form("username", user, "challenge_type", types)))
		r := n.post("/resetpassword/v1.0/challenge", n.form("continuation_token", ct(t, st), "challenge_type", types))
		if r.Status == http.StatusOK {
			cts[user] = ct(t, r.JSON(t))
		}
		return r
	}
	wrong := func(user string) *response {
		return n.post("/resetpassword/v1.0/continue", n.form("continuation_token", cts[user], "grant_type", "oob", "oob", "00000000"))
	}
	if r := both("first flow", challenge); r[0].Status != http.StatusOK {
		t.Fatalf("first challenge: %d %s", r[0].Status, r[0].Body)
	}
	for i := 1; i <= 5; i++ {
		r := both(fmt.Sprintf("wrong code %d", i), wrong)
		want := "The code is wrong."
		if i == 5 {
			want = "Too many wrong codes"
		}
		nativeErr(t, r[0], 400, "invalid_grant", 0, "invalid_oob_value")
		if !strings.Contains(string(r[0].Body), want) {
			t.Fatalf("wrong code %d: %s", i, r[0].Body)
		}
	}
	for i := 2; i <= 4; i++ {
		r := both(fmt.Sprintf("flow %d", i), challenge)
		if want := map[bool]int{true: http.StatusTooManyRequests, false: http.StatusOK}[i == 4]; r[0].Status != want {
			t.Fatalf("flow %d: %d %s, want %d", i, r[0].Status, r[0].Body, want)
		}
	}
	if err := n.mailJob.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{}
	for range 3 {
		for _, to := range n.smtp.Wait(t, 30*time.Second).To {
			sent[to]++
		}
	}
	for more := true; more; {
		select {
		case m := <-n.smtp.Mail:
			for _, to := range m.To {
				sent[to]++
			}
		default:
			more = false
		}
	}
	if sent[known] != 3 || sent[ghost] != 0 {
		t.Fatalf("mail: %v, want 3 to %s, none to %s", sent, known, ghost)
	}
}
