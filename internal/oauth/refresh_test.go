package oauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/issuer"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// clock is the injected time of the token endpoint: tests move it
// instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// consents is the real application lookup with scopes taken away, for
// the consent-removal test.
type consents struct {
	apps    *directory.Applications
	mu      sync.Mutex
	removed []string
}

func (c *consents) ConsentedScopes(ctx context.Context, tenantID, appID string) ([]string, error) {
	s, err := c.apps.ConsentedScopes(ctx, tenantID, appID)
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.DeleteFunc(s, func(x string) bool { return slices.Contains(c.removed, x) }), err
}

// ClientApplication is the real lookup with the same scopes taken away
// from the application's consent.
func (c *consents) ClientApplication(ctx context.Context, tenantID, clientID string) (*directory.Application, error) {
	a, err := c.apps.ClientApplication(ctx, tenantID, clientID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	a.DelegatedScopes = slices.DeleteFunc(slices.Clone(a.DelegatedScopes), func(x string) bool { return slices.Contains(c.removed, x) })
	return a, nil
}

type fixture struct {
	t        *testing.T
	store    *postgres.Store
	srv      *oauth.Server
	clock    *clock
	consents *consents
	tenant   string
	user     string
	app      *directory.Application
	apps     *directory.Applications
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	store := pgtest.NewStore(t)
	tn, err := store.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "T", DefaultDomain: "contoso.com"})
	if err != nil {
		t.Fatal(err)
	}
	on, name, upn := true, "Ada Lovelace", "ada@contoso.com"
	u := &directory.User{ID: uuid.NewString(), TenantID: tn.ID, AccountEnabled: &on, DisplayName: &name, UserPrincipalName: &upn,
		Identities: []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.com", IssuerAssignedID: "ada@example.com"}},
		Password:   directory.PasswordState{Hash: "h"}}
	if err := store.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	app := &directory.Application{TenantID: tn.ID, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "spa"}
	// A single-page app: a public client, which refreshes with its client id alone.
	app.SPARedirectURIs = []string{"https://spa.contoso.com/"}
	// Tenant-wide consent to the sign-in scopes a customer app asks for
	// (not the admin-only directory scopes).
	app.DelegatedScopes = []string{"openid", "profile", "email", "offline_access", "User.Read", "User.ReadWrite"}
	if err := store.CreateApplication(ctx, app, nil); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().UTC().Truncate(time.Second)}
	iss := issuer.New(store, "https://graphdir.test", issuer.WithClock(c.now))
	apps := directory.NewApplications(store, make([]byte, 32))
	cons := &consents{apps: apps}
	srv := oauth.New(apps, iss, oauth.Options{Now: c.now, User: &oauth.UserTokens{
		Store: store, Minter: iss, Consents: cons, Apps: cons, Users: store, SuccessorKey: []byte("0123456789abcdef0123456789abcdef"),
		Idle: 24 * time.Hour, MaxAge: 72 * time.Hour,
	}})
	return &fixture{t: t, store: store, srv: srv, clock: c, consents: cons, tenant: tn.ID, user: u.ID, app: app, apps: apps}
}

func (f *fixture) signIn(scopes ...string) *oauth.TokenResponse {
	f.t.Helper()
	if len(scopes) == 0 {
		scopes = []string{"openid", "profile", "offline_access", "User.ReadWrite"}
	}
	resp, err := f.srv.IssueUserTokens(context.Background(), oauth.UserGrant{TenantID: f.tenant, UserID: f.user, ClientID: f.app.AppID,
		Scopes: scopes, AMR: []string{"pwd"}, AuthTime: f.clock.now()})
	if err != nil {
		f.t.Fatal(err)
	}
	if resp.RefreshToken == "" {
		f.t.Fatal("no refresh token for offline_access")
	}
	return resp
}

func (f *fixture) refresh(rt string, scope ...string) (*oauth.TokenResponse, error) {
	return f.srv.Refresh(context.Background(), oauth.Request{TenantID: f.tenant, GrantType: "refresh_token",
		ClientID: f.app.AppID, RefreshToken: rt, Scope: strings.Join(scope, " "), RemoteIP: "192.0.2.1"})
}

func (f *fixture) mustRefresh(rt string, scope ...string) *oauth.TokenResponse {
	f.t.Helper()
	r, err := f.refresh(rt, scope...)
	if err != nil {
		f.t.Fatalf("refresh: %v", err)
	}
	if r.RefreshToken == "" || r.RefreshToken == rt {
		f.t.Fatalf("refresh returned refresh token %q for %q: it must always be new", r.RefreshToken, rt)
	}
	return r
}

// wantGrantError checks an OAuth error's code and AADSTS number.
func wantGrantError(t *testing.T, err error, code string, aadsts int) {
	t.Helper()
	var oe *oauth.Error
	if !errors.As(err, &oe) || oe.Code != code || (aadsts != 0 && oe.AADSTS != aadsts) {
		t.Fatalf("got %v, want %s AADSTS%d", err, code, aadsts)
	}
}

func TestRefreshFamilyReuseRevokesEveryToken(t *testing.T) {
	f := newFixture(t)
	rt0 := f.signIn().RefreshToken
	if len(rt0) != 43 {
		t.Fatalf("refresh token %d characters, want 43 (256 bits base64url)", len(rt0))
	}
	f.clock.add(time.Minute)
	rt1 := f.mustRefresh(rt0).RefreshToken
	f.clock.add(time.Minute)
	rt2 := f.mustRefresh(rt1).RefreshToken

	// rt0 was rotated two minutes ago: beyond the 30 s grace, a replay.
	_, err := f.refresh(rt0)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 70000)
	// Now every token of the family is refused, the newest included.
	for i, rt := range []string{rt2, rt1, rt0} {
		_, err := f.refresh(rt)
		wantGrantError(t, err, oauth.CodeInvalidGrant, 0)
		if i == 0 {
			wantGrantError(t, err, oauth.CodeInvalidGrant, 50173)
		}
	}
	// Another sign-in starts a new, unaffected family.
	f.mustRefresh(f.signIn().RefreshToken)
}

func TestRefreshGraceWindowGivesTheSameSuccessor(t *testing.T) {
	f := newFixture(t)
	rt0 := f.signIn().RefreshToken
	rt1 := f.mustRefresh(rt0).RefreshToken
	f.clock.add(29 * time.Second)
	again := f.mustRefresh(rt0)
	if again.RefreshToken != rt1 {
		t.Fatalf("within the grace window: successor %q, want the first one %q", again.RefreshToken, rt1)
	}
	// The family is intact: the successor rotates normally.
	f.clock.add(time.Second)
	f.mustRefresh(rt1)
}

func TestRefreshConcurrentRotationSameSuccessor(t *testing.T) {
	f := newFixture(t)
	rt0 := f.signIn().RefreshToken
	const n = 4
	var wg sync.WaitGroup
	got := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := f.refresh(rt0)
			errs[i] = err
			if err == nil {
				got[i] = r.RefreshToken
			}
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("racers got different successors: %q", got)
		}
	}
	f.mustRefresh(got[0])
}

func TestRefreshRevokedByUserEvents(t *testing.T) {
	ctx := context.Background()
	off := false
	for name, event := range map[string]func(f *fixture) error{
		"password change": func(f *fixture) error {
			return f.store.ChangePassword(ctx, f.tenant, f.user, time.Now(), func(directory.PasswordState, *string) (*directory.PasswordState, error) {
				return &directory.PasswordState{Hash: "new"}, nil
			}, nil)
		},
		"password reset by PATCH": func(f *fixture) error {
			_, err := f.store.UpdateUser(ctx, f.tenant, directory.UserKey{ID: f.user}, directory.UserPatch{
				Password: &directory.PasswordState{Hash: "reset"}, PasswordChangedAt: time.Now()})
			return err
		},
		"disable": func(f *fixture) error {
			_, err := f.store.UpdateUser(ctx, f.tenant, directory.UserKey{ID: f.user}, directory.UserPatch{Values: map[string]any{"accountEnabled": &off}})
			return err
		},
		"delete": func(f *fixture) error {
			return f.store.SoftDeleteUser(ctx, f.tenant, directory.UserKey{ID: f.user}, nil, 0, nil)
		},
		"revokeSignInSessions": func(f *fixture) error {
			return f.store.RevokeSignInSessions(ctx, f.tenant, directory.UserKey{ID: f.user}, nil, nil)
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			rtA := f.signIn().RefreshToken
			rtB := f.mustRefresh(f.signIn().RefreshToken).RefreshToken // a rotated family too
			if from, err := f.store.SignInSessionsValidFrom(ctx, f.tenant, f.user); err != nil || from != nil {
				t.Fatalf("before: %v %v", from, err)
			}
			if err := event(f); err != nil {
				t.Fatal(err)
			}
			for _, rt := range []string{rtA, rtB} {
				_, err := f.refresh(rt)
				wantGrantError(t, err, oauth.CodeInvalidGrant, 50173)
			}
			from, err := f.store.SignInSessionsValidFrom(ctx, f.tenant, f.user)
			if err != nil || from == nil || time.Since(*from) > time.Minute || from.Nanosecond() != 0 {
				t.Fatalf("signInSessionsValidFromDateTime after %s: %v %v", name, from, err)
			}
		})
	}
	// An unrelated update leaves sessions alone.
	f := newFixture(t)
	rt := f.signIn().RefreshToken
	city := "Oslo"
	if _, err := f.store.UpdateUser(ctx, f.tenant, directory.UserKey{ID: f.user}, directory.UserPatch{Values: map[string]any{"city": &city}}); err != nil {
		t.Fatal(err)
	}
	f.mustRefresh(rt)
	if from, _ := f.store.SignInSessionsValidFrom(ctx, f.tenant, f.user); from != nil {
		t.Fatalf("city change moved signInSessionsValidFromDateTime to %v", from)
	}
}

func TestRefreshRevokedByConsentAndApplication(t *testing.T) {
	f := newFixture(t)
	rt := f.signIn().RefreshToken
	other := f.signIn("openid", "offline_access").RefreshToken
	f.consents.mu.Lock()
	f.consents.removed = []string{"User.ReadWrite"}
	f.consents.mu.Unlock()
	_, err := f.refresh(rt)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 65001)
	// The family is gone, even after consent comes back.
	f.consents.mu.Lock()
	f.consents.removed = nil
	f.consents.mu.Unlock()
	_, err = f.refresh(rt)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 0)

	// A grant the remaining consent covers lives until the app is deleted.
	other = f.mustRefresh(other).RefreshToken
	if err := f.store.DeleteApplication(context.Background(), f.tenant, f.app.ID, nil); err != nil {
		t.Fatal(err)
	}
	_, err = f.refresh(other)
	wantGrantError(t, err, oauth.CodeUnauthorizedClient, 700016)
}

func TestRefreshLifetimes(t *testing.T) {
	f := newFixture(t)
	// Idle: 24 h without use.
	rt := f.signIn().RefreshToken
	f.clock.add(24*time.Hour + time.Second)
	_, err := f.refresh(rt)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 700082)

	// Absolute: used every 20 h, the family still ends at 72 h.
	rt = f.signIn().RefreshToken
	for range 3 {
		f.clock.add(20 * time.Hour)
		r := f.mustRefresh(rt)
		rt = r.RefreshToken
		if r.RefreshTokenExpiresIn <= 0 || r.RefreshTokenExpiresIn > int((24*time.Hour)/time.Second) {
			t.Fatalf("refresh_token_expires_in %d", r.RefreshTokenExpiresIn)
		}
	}
	f.clock.add(12*time.Hour + time.Second) // 72 h + 1 s after sign-in
	_, err = f.refresh(rt)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 70008)

	// SPA: 24 h absolute whatever the idle setting.
	g := oauth.UserGrant{TenantID: f.tenant, UserID: f.user, ClientID: f.app.AppID, SPA: true,
		Scopes: []string{"openid", "offline_access", "User.Read"}, AMR: []string{"pwd"}, AuthTime: f.clock.now()}
	r, err := f.srv.IssueUserTokens(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	if r.RefreshTokenExpiresIn != 86400 {
		t.Fatalf("SPA refresh_token_expires_in %d", r.RefreshTokenExpiresIn)
	}
	f.clock.add(23 * time.Hour)
	rt = f.mustRefresh(r.RefreshToken).RefreshToken
	f.clock.add(time.Hour)
	_, err = f.refresh(rt)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 70008)
}

func TestRefreshResponseAndScopes(t *testing.T) {
	f := newFixture(t)
	first := f.signIn()
	if first.IDToken == "" || first.Scope != "openid profile offline_access User.ReadWrite" {
		t.Fatalf("sign-in response: %+v", first)
	}
	// MSAL's refresh: a qualified API scope plus the OIDC ones.
	r := f.mustRefresh(first.RefreshToken, "https://graph.microsoft.com/user.readwrite", "openid", "profile", "offline_access")
	if r.Scope != "openid profile offline_access User.ReadWrite" || r.IDToken == "" || r.AccessToken == "" || r.ExpiresIn != 3599 {
		t.Fatalf("refresh response: scope %q id %v at %v exp %d", r.Scope, r.IDToken != "", r.AccessToken != "", r.ExpiresIn)
	}
	claims := payload(t, r.IDToken)
	if claims["aud"] != strings.ToLower(f.app.AppID) || claims["oid"] != f.user || claims["preferred_username"] != "ada@example.com" ||
		claims["name"] != "Ada Lovelace" || claims["nonce"] != nil || claims["email"] != nil {
		t.Fatalf("ID token claims %v", claims)
	}
	// client_info decodes to {"uid": oid, "utid": tid}.
	raw, err := base64.RawURLEncoding.DecodeString(r.ClientInfo)
	if err != nil {
		t.Fatal(err)
	}
	var ci map[string]string
	if err := json.Unmarshal(raw, &ci); err != nil || len(ci) != 2 || ci["uid"] != f.user || ci["utid"] != f.tenant {
		t.Fatalf("client_info %s: %v", raw, err)
	}
	// A subset, with api://graphdir qualification.
	r = f.mustRefresh(r.RefreshToken, "api://graphdir/User.ReadWrite")
	if r.Scope != "User.ReadWrite" || r.IDToken != "" {
		t.Fatalf("subset: %q id=%v", r.Scope, r.IDToken != "")
	}
	if at := payload(t, r.AccessToken); at["scp"] != "User.ReadWrite" || at["idtyp"] != "user" {
		t.Fatalf("access token %v", at)
	}
	// More than was granted: refused, and the token is not spent.
	_, err = f.refresh(r.RefreshToken, "User.Read")
	wantGrantError(t, err, oauth.CodeInvalidGrant, 65001)
	_, err = f.refresh(r.RefreshToken, "User.Read.All")
	wantGrantError(t, err, oauth.CodeInvalidGrant, 65001)
	_, err = f.refresh(r.RefreshToken, "Mail.Read")
	wantGrantError(t, err, oauth.CodeInvalidScope, 70011)
	_, err = f.refresh(r.RefreshToken, "https://other.example/User.Read")
	wantGrantError(t, err, oauth.CodeInvalidScope, 70011)
	r = f.mustRefresh(r.RefreshToken)

	// An unknown client cannot use (or spend) the token: it is refused
	// before the token is looked at (another registered client:
	// TestRefreshOnlyByItsClient).
	_, err = f.srv.Refresh(context.Background(), oauth.Request{TenantID: f.tenant, ClientID: uuid.NewString(), RefreshToken: r.RefreshToken})
	wantGrantError(t, err, oauth.CodeUnauthorizedClient, 700016)
	f.mustRefresh(r.RefreshToken)
}

func TestIssueUserTokens(t *testing.T) {
	f := newFixture(t)
	r, err := f.srv.IssueUserTokens(context.Background(), oauth.UserGrant{TenantID: f.tenant, UserID: f.user, ClientID: f.app.AppID,
		Scopes: []string{"openid", "email", "User.Read"}, AMR: []string{"pwd"}})
	if err != nil || r.RefreshToken != "" || r.IDToken == "" {
		t.Fatalf("no offline_access: refresh %q, id token %v", r.RefreshToken, r.IDToken != "")
	}
	c := payload(t, r.IDToken)
	if c["preferred_username"] != "ada@example.com" || c["email"] != "ada@example.com" || c["name"] != "Ada Lovelace" {
		t.Fatalf("profile claims from the directory: %v", c)
	}
	if at := payload(t, r.AccessToken); at["scp"] != "User.Read" || fmt.Sprint(at["amr"]) != "[pwd]" {
		t.Fatalf("access token %v", at)
	}
	// .default is every consented API scope (the OpenID ones the client
	// names itself); an unknown or unconsented scope is refused.
	g := oauth.UserGrant{TenantID: f.tenant, UserID: f.user, ClientID: f.app.AppID, Scopes: []string{"api://graphdir/.default", "offline_access"}}
	if r, err := f.srv.IssueUserTokens(context.Background(), g); err != nil || r.Scope != "offline_access User.Read User.ReadWrite" || r.RefreshToken == "" || r.IDToken != "" {
		t.Fatalf(".default: %+v %v", r, err)
	}
	g.Scopes = []string{"Mail.Read"}
	_, err = f.srv.IssueUserTokens(context.Background(), g)
	wantGrantError(t, err, oauth.CodeInvalidScope, 70011)
	g.Scopes = []string{"Directory.ReadWrite.All"}
	_, err = f.srv.IssueUserTokens(context.Background(), g)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 65001)
	f.consents.mu.Lock()
	f.consents.removed = []string{"User.Read"}
	f.consents.mu.Unlock()
	g.Scopes = []string{"openid", "User.Read"}
	_, err = f.srv.IssueUserTokens(context.Background(), g)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 65001)
	f.consents.mu.Lock()
	f.consents.removed = nil
	f.consents.mu.Unlock()
	// A disabled or unknown user gets nothing.
	off := false
	if _, err := f.store.UpdateUser(context.Background(), f.tenant, directory.UserKey{ID: f.user}, directory.UserPatch{Values: map[string]any{"accountEnabled": &off}}); err != nil {
		t.Fatal(err)
	}
	g.Scopes = []string{"openid", "offline_access"}
	_, err = f.srv.IssueUserTokens(context.Background(), g)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 50057)
	g.UserID = uuid.NewString()
	_, err = f.srv.IssueUserTokens(context.Background(), g)
	wantGrantError(t, err, oauth.CodeInvalidGrant, 50034)
	// An unknown application.
	g.UserID, g.ClientID = f.user, uuid.NewString()
	_, err = f.srv.IssueUserTokens(context.Background(), g)
	wantGrantError(t, err, oauth.CodeUnauthorizedClient, 700016)
}

func TestRefreshHostileInput(t *testing.T) {
	f := newFixture(t)
	rt := f.signIn().RefreshToken
	for _, tc := range []oauth.Request{
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: "x"},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: rt + "A"},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: strings.Repeat("é", 43)},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: strings.Repeat("=", 43)},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: strings.Repeat("A", 43)},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: strings.Repeat("A", 100000)},
		{TenantID: f.tenant, ClientID: f.app.AppID},
		{TenantID: f.tenant, RefreshToken: rt},
		{TenantID: "contoso", ClientID: f.app.AppID, RefreshToken: rt},
		{TenantID: uuid.NewString(), ClientID: f.app.AppID, RefreshToken: rt},
		{TenantID: f.tenant, ClientID: "'; DROP TABLE refresh_tokens; --", RefreshToken: rt},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: rt, Scope: "\x00"},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: rt, Scope: "api://graphdir/"},
		{TenantID: f.tenant, ClientID: f.app.AppID, RefreshToken: rt, ClientSecret: "wrong"},
	} {
		_, err := f.srv.Refresh(context.Background(), tc)
		var oe *oauth.Error
		if !errors.As(err, &oe) || oe.Code == oauth.CodeServerError {
			t.Fatalf("%+v: %v", tc, err)
		}
	}
	// None of that spent the token.
	f.mustRefresh(rt)
}

func payload(t *testing.T, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
