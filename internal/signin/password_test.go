package signin_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/password"
	"github.com/graphdir/graphdir/internal/protect"
	"github.com/graphdir/graphdir/internal/signin"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

const rightPassword = "Str0ng!Passw0rd"

type fixture struct {
	st     *postgres.Store
	tenant *directory.Tenant
	core   *signin.Core
	guard  *protect.Guard
	now    time.Time
}

func ptr[T any](v T) *T { return &v }

func newFixture(t *testing.T, p protect.Policy) *fixture {
	t.Helper()
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tn, err := st.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "Contoso", DefaultDomain: "contoso.onmicrosoft.com"})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, tenant: tn, now: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	f.guard = protect.New(st, p, protect.WithClock(func() time.Time { return f.now }))
	if f.core, err = signin.New(st, f.guard, signin.WithClock(func() time.Time { return f.now })); err != nil {
		t.Fatal(err)
	}
	return f
}

// user creates an account signing in with email (an emailAddress
// identity) and the password rightPassword, hashed as the API hashes.
func (f *fixture) user(t *testing.T, email string, enabled bool) *directory.User {
	t.Helper()
	hash, err := password.Hash(rightPassword)
	if err != nil {
		t.Fatal(err)
	}
	upn := uuid.NewString()[:8] + "@" + f.tenant.DefaultDomain
	u := &directory.User{TenantID: f.tenant.ID, ID: uuid.NewString(), DisplayName: ptr("User " + email),
		UserPrincipalName: &upn, AccountEnabled: ptr(enabled), Password: directory.PasswordState{Hash: hash},
		Identities: []directory.Identity{{SignInType: "emailAddress", Issuer: f.tenant.DefaultDomain, IssuerAssignedID: email}}}
	if err := f.st.CreateUser(context.Background(), u, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

// attempt is one attempt one second after the previous one (the log's
// order is by time).
func (f *fixture) attempt(name, pw string) signin.PasswordAttempt {
	f.now = f.now.Add(time.Second)
	return signin.PasswordAttempt{TenantID: f.tenant.ID, ClientID: "11111111-2222-3333-4444-555555555555", AppDisplayName: "Shop",
		Username: name, Password: pw, IP: "198.51.100.7", UserAgent: "test"}
}

func (f *fixture) signIns(t *testing.T) []*directory.SignIn {
	t.Helper()
	page, err := f.st.ListSignIns(context.Background(), f.tenant.ID, directory.SignInQuery{Top: 999, Ascending: true})
	if err != nil {
		t.Fatal(err)
	}
	return page.SignIns
}

func signinError(t *testing.T, err error) *signin.Error {
	t.Helper()
	var e *signin.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *signin.Error", err)
	}
	return e
}

// TestCheckPasswordOutcomes: success by email identity and by UPN (any
// case), unknown name and wrong password with one error and message,
// disabled only with the right password; each outcome is one sign-in log
// row with Entra's error code, and signInActivity follows.
func TestCheckPasswordOutcomes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, protect.Policy{PerIP: 1000, PerTenant: 1000})
	alice := f.user(t, "alice@example.com", true)
	dis := f.user(t, "disabled@example.com", false)

	u, err := f.core.CheckPassword(ctx, f.attempt("ALICE@example.com", rightPassword))
	if err != nil || u.ID != alice.ID {
		t.Fatalf("sign-in by email: %v %v", u, err)
	}
	if u.Password.Hash != "" {
		t.Fatal("CheckPassword returned the password hash")
	}
	f.now = f.now.Add(time.Minute)
	if u, err := f.core.CheckPassword(ctx, f.attempt(strings.ToUpper(*alice.UserPrincipalName), rightPassword)); err != nil || u.ID != alice.ID {
		t.Fatalf("sign-in by UPN: %v %v", u, err)
	}
	wrong := signinError(t, func() error { _, err := f.core.CheckPassword(ctx, f.attempt("alice@example.com", "nope")); return err }())
	unknown := signinError(t, func() error {
		_, err := f.core.CheckPassword(ctx, f.attempt("nobody@example.com", rightPassword))
		return err
	}())
	if wrong.Error() != unknown.Error() || wrong.Reason != unknown.Reason || !errors.Is(wrong, signin.ErrInvalidCredentials) {
		t.Fatalf("unknown user and wrong password differ: %q/%v vs %q/%v", wrong, wrong.Reason, unknown, unknown.Reason)
	}
	if wrong.UserNotFound || !unknown.UserNotFound {
		t.Fatal("UserNotFound does not tell the two apart for callers that must")
	}
	// Disabled: a wrong password is just a wrong password; the right one
	// says disabled.
	if e := signinError(t, func() error {
		_, err := f.core.CheckPassword(ctx, f.attempt("disabled@example.com", "nope"))
		return err
	}()); e.Reason != signin.ReasonInvalidCredentials {
		t.Fatalf("disabled + wrong password: %v", e.Reason)
	}
	if e := signinError(t, func() error {
		_, err := f.core.CheckPassword(ctx, f.attempt("disabled@example.com", rightPassword))
		return err
	}()); !errors.Is(e, signin.ErrDisabled) {
		t.Fatalf("disabled + right password: %v", e)
	}

	rows := f.signIns(t)
	want := []struct {
		code int
		user string
	}{{0, alice.ID}, {0, alice.ID}, {50126, alice.ID}, {50034, ""}, {50126, dis.ID}, {50057, dis.ID}}
	if len(rows) != len(want) {
		t.Fatalf("%d sign-in rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		r := rows[i]
		if r.ErrorCode != w.code || r.UserID != w.user || r.AppID != "11111111-2222-3333-4444-555555555555" ||
			r.IPAddress != "198.51.100.7" || r.AuthenticationRequirement != "singleFactorAuthentication" || !r.IsInteractive || r.CorrelationID == "" {
			t.Errorf("row %d: %+v, want code %d user %q", i, r, w.code, w.user)
		}
		if w.code != 0 && r.FailureReason == "" {
			t.Errorf("row %d: no failureReason", i)
		}
	}
	if rows[3].UserPrincipalName != "nobody@example.com" {
		t.Errorf("unknown user's row names %q, want the name typed", rows[3].UserPrincipalName)
	}
	// signInActivity: the last interactive attempt (the failure at the
	// same time), the last success.
	var last, lastOK *time.Time
	if err := f.st.DB().QueryRowx(`SELECT last_sign_in_at, last_successful_sign_in_at FROM users WHERE id = $1`, alice.ID).Scan(&last, &lastOK); err != nil {
		t.Fatal(err)
	}
	if last == nil || lastOK == nil || !last.Equal(rows[2].CreatedDateTime) || !lastOK.Equal(rows[1].CreatedDateTime) {
		t.Fatalf("signInActivity = %v, %v, want the last attempt %v and the last success %v", last, lastOK, rows[2].CreatedDateTime, rows[1].CreatedDateTime)
	}
}

// TestCheckPasswordLockoutAndLimits: the lockout applies to unknown names
// as to real ones, before the hash; rate limits too; a success clears.
func TestCheckPasswordLockoutAndLimits(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, protect.Policy{LockoutThreshold: 3, PerIP: 8, PerTenant: 1000})
	f.user(t, "carol@example.com", true)
	for _, name := range []string{"carol@example.com", "ghost@example.com"} {
		for i := 0; i < 3; i++ {
			if _, err := f.core.CheckPassword(ctx, f.attempt(name, "wrong")); !errors.Is(err, signin.ErrInvalidCredentials) {
				t.Fatalf("%s failure %d: %v", name, i, err)
			}
		}
		e := signinError(t, func() error { _, err := f.core.CheckPassword(ctx, f.attempt(name, rightPassword)); return err }())
		if e.Reason != signin.ReasonLocked || e.RetryAfter != 59*time.Second || e.ErrorCode != 50053 { // locked for 60 s, one second ago
			t.Fatalf("%s after 3 failures: %+v", name, e)
		}
	}
	f.now = f.now.Add(time.Minute).Truncate(time.Minute)
	// 8 attempts per minute from the IP: this window's 8th passes, the 9th is refused.
	for i := 0; i < 7; i++ {
		if _, err := f.core.CheckPassword(ctx, f.attempt(fmt.Sprintf("dave%d@example.com", i), "x")); !errors.Is(err, signin.ErrInvalidCredentials) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := f.core.CheckPassword(ctx, f.attempt("carol@example.com", rightPassword)); err != nil {
		t.Fatalf("right password after the lock: %v", err)
	}
	e := signinError(t, func() error {
		_, err := f.core.CheckPassword(ctx, f.attempt("carol@example.com", rightPassword))
		return err
	}())
	if e.Reason != signin.ReasonRateLimited || !errors.Is(e, signin.ErrRateLimited) || e.RetryAfter <= 0 || e.RetryAfter > time.Minute {
		t.Fatalf("9th attempt from the IP: %+v", e)
	}
	var locked int
	for _, r := range f.signIns(t) {
		if r.ErrorCode == 50053 {
			locked++
		}
	}
	if locked != 3 {
		t.Fatalf("%d sign-ins logged as 50053, want 3 (two locks, one rate limit)", locked)
	}
}

// TestCheckPasswordTimingUnknownVsWrong measures the time of "no such
// user" and "wrong password" (alternating, 30 samples each) and compares
// the medians. Both must cost one argon2id verification; the bound is
// generous so a busy machine does not make it flake, but a missing dummy
// verification (a ratio near 0) fails it.
func TestCheckPasswordTimingUnknownVsWrong(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, protect.Policy{LockoutThreshold: 1000, PerIP: 10000, PerTenant: 10000})
	f.user(t, "erin@example.com", true)
	// Warm up both paths (prepared statements, caches).
	for i := 0; i < 3; i++ {
		_, _ = f.core.CheckPassword(ctx, f.attempt("erin@example.com", "warm"))
		_, _ = f.core.CheckPassword(ctx, f.attempt("warm@example.com", "warm"))
	}
	const n = 30
	var unknown, wrong []time.Duration
	for i := 0; i < n; i++ {
		for _, name := range []string{"erin@example.com", "nobody-" + uuid.NewString()[:6] + "@example.com"} {
			start := time.Now()
			_, err := f.core.CheckPassword(ctx, f.attempt(name, "Wr0ng!Passw0rd"))
			d := time.Since(start)
			if !errors.Is(err, signin.ErrInvalidCredentials) {
				t.Fatalf("%s: %v", name, err)
			}
			if name == "erin@example.com" {
				wrong = append(wrong, d)
			} else {
				unknown = append(unknown, d)
			}
		}
	}
	mu, mw := median(unknown), median(wrong)
	ratio := float64(mu) / float64(mw)
	t.Logf("median over %d samples: unknown user %v, wrong password %v, ratio %.3f", n, mu, mw, ratio)
	if ratio < 0.7 || ratio > 1.4 {
		t.Fatalf("unknown user vs wrong password timing ratio %.3f outside [0.7, 1.4]", ratio)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// TestRecordSignIn: a flow's own outcome (an MFA code, a refresh) lands
// in the log with the defaults filled, and a non-interactive success moves
// lastNonInteractiveSignInDateTime, not lastSignInDateTime.
func TestRecordSignIn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, protect.Policy{})
	u := f.user(t, "frank@example.com", true)
	f.now = f.now.Add(time.Hour)
	if err := f.core.RecordSignIn(ctx, signin.SignInEvent{TenantID: f.tenant.ID, UserID: u.ID, UserPrincipalName: *u.UserPrincipalName,
		AppID: "app-1", MultiFactor: true}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(time.Hour)
	if err := f.core.RecordSignIn(ctx, signin.SignInEvent{TenantID: f.tenant.ID, UserID: u.ID, NonInteractive: true, ClientAppUsed: "Mobile Apps and Desktop clients"}); err != nil {
		t.Fatal(err)
	}
	if err := f.core.RecordSignIn(ctx, signin.SignInEvent{TenantID: f.tenant.ID, UserID: "not-a-guid"}); err == nil {
		t.Fatal("a sign-in with a malformed user id was stored")
	}
	rows := f.signIns(t)
	if len(rows) != 2 || rows[0].AuthenticationRequirement != "multiFactorAuthentication" || !rows[0].IsInteractive ||
		rows[0].ClientAppUsed != "Browser" || rows[0].CorrelationID == "" || rows[0].ID == "" ||
		rows[1].IsInteractive || rows[1].AuthenticationRequirement != "singleFactorAuthentication" {
		t.Fatalf("rows: %+v", rows)
	}
	var last, nonInteractive *time.Time
	if err := f.st.DB().QueryRowx(`SELECT last_sign_in_at, last_non_interactive_sign_in_at FROM users WHERE id = $1`, u.ID).Scan(&last, &nonInteractive); err != nil {
		t.Fatal(err)
	}
	if last == nil || !last.Equal(rows[0].CreatedDateTime) || nonInteractive == nil || !nonInteractive.Equal(rows[1].CreatedDateTime) {
		t.Fatalf("signInActivity: %v %v", last, nonInteractive)
	}
}
