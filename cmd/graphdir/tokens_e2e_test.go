package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// signInServer is the token endpoint's protocol logic over the stack's
// database, as the sign-in flows get it: tokens it issues are the
// server's own (same keys, same successor secret).
func (s *stack) signInServer() *oauth.Server {
	s.t.Helper()
	apps, err := newApplications(context.Background(), s.db)
	if err != nil {
		s.t.Fatal(err)
	}
	srv, err := newUserTokenEndpoint(context.Background(), s.cfg, s.db, apps, s.iss, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		s.t.Fatal(err)
	}
	return srv
}

// consentedApp registers a confidential application (with one secret)
// holding tenant-wide consent to every sign-in scope.
func (s *stack) consentedApp(name string) (*directory.Application, string) {
	s.t.Helper()
	a, sec := s.registerConsented(name, directory.SignInInput{})
	if sec == nil {
		s.t.Fatalf("register %s: no secret for a confidential client", name)
	}
	return a, sec.SecretText
}

// publicApp registers a single-page app (a public client: no secret)
// holding tenant-wide consent to every sign-in scope.
func (s *stack) publicApp(name string) *directory.Application {
	s.t.Helper()
	a, sec := s.registerConsented(name, directory.SignInInput{SPA: &[]string{"https://" + name + ".example.com/"}})
	if sec != nil || !a.IsPublicClient() {
		s.t.Fatalf("register %s: not a public client", name)
	}
	return a
}

func (s *stack) registerConsented(name string, in directory.SignInInput) (*directory.Application, *directory.NewSecret) {
	s.t.Helper()
	apps, err := newApplications(context.Background(), s.db)
	if err != nil {
		s.t.Fatal(err)
	}
	var access []directory.ResourceAccess
	for _, sc := range directory.DelegatedScopeNames() {
		id, _ := directory.DelegatedScopeID(sc)
		access = append(access, directory.ResourceAccess{ID: id, Type: "Scope"})
	}
	rra := []directory.RequiredResourceAccess{{ResourceAppID: directory.GraphResourceAppID, ResourceAccess: access}}
	in.RequiredResourceAccess = &rra
	a, sec, err := apps.OperatorRegisterApplication(context.Background(), s.tenant, name, nil, in, 0)
	if err != nil {
		s.t.Fatalf("register %s: %v", name, err)
	}
	return a, sec
}

// signIn ends a sign-in of userID to clientID: what native auth and the
// browser redirect call once the user is authenticated.
func (s *stack) signIn(srv *oauth.Server, userID, clientID string, amr, acrs []string, scopes ...string) *oauth.TokenResponse {
	s.t.Helper()
	r, err := srv.IssueUserTokens(context.Background(), oauth.UserGrant{TenantID: s.tenant, UserID: userID, ClientID: clientID,
		Scopes: scopes, AMR: amr, ACRS: acrs, AuthTime: time.Now()})
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func TestRefreshTokenGrantOverHTTP(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	id := s.newCustomer(admin, "refresh@example.com")
	spa := s.publicApp("storefront")
	srv := s.signInServer()
	first := s.signIn(srv, id, spa.AppID, []string{"pwd", "otp", "mfa"}, []string{"c1"}, "openid", "profile", "email", "offline_access", "User.ReadWrite")

	// A public client (MSAL.js in a single-page app) sends its client id only.
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {spa.AppID}, "refresh_token": {first.RefreshToken},
		"scope": {"api://graphdir/User.ReadWrite openid profile offline_access"}, "client_info": {"1"},
		"x-client-SKU": {"msal.browser"}, "X-AnchorMailbox": {"Oid:" + id + "@" + s.tenant},
		"claims": {`{"id_token":{"login_hint":{"essential":false}}}`}}
	r := s.postToken(s.tenant, form, nil)
	if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("refresh: %d %s %v", r.Status, r.Body, r.Header)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Body), &body); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token", "refresh_token_expires_in", "id_token", "client_info"} {
		if _, ok := body[k]; !ok {
			t.Fatalf("response lacks %s: %s", k, r.Body)
		}
	}
	for _, k := range []string{"expires_in", "ext_expires_in", "refresh_token_expires_in"} {
		var n int
		if err := json.Unmarshal(body[k], &n); err != nil || n <= 0 {
			t.Fatalf("%s = %s, want a positive integer", k, body[k])
		}
	}
	m := r.JSON(t)
	if m["token_type"] != "Bearer" || m["scope"] != "openid profile offline_access User.ReadWrite" || m["refresh_token"] == first.RefreshToken {
		t.Fatalf("response %s", r.Body)
	}
	raw, err := base64.RawURLEncoding.DecodeString(m["client_info"].(string))
	if err != nil || string(raw) != fmt.Sprintf(`{"uid":%q,"utid":%q}`, id, s.tenant) {
		t.Fatalf("client_info %s %v", raw, err)
	}

	// The access token works at /me and carries MFA: step-up passes.
	at := m["access_token"].(string)
	if r := s.do("GET", "/v1.0/me?$select=id", at, nil); r.Status != 200 || r.JSON(t)["id"] != id {
		t.Fatalf("GET /me: %d %s", r.Status, r.Body)
	}
	if r := s.do("PATCH", "/v1.0/me", at, map[string]any{"mail": "stepped@example.com"}); r.Status != 204 {
		t.Fatalf("PATCH /me mail with amr mfa: %d %s", r.Status, r.Body)
	}
	// Without MFA, the same step-up property is a claims challenge.
	plain := s.signIn(srv, id, spa.AppID, []string{"pwd"}, nil, "openid", "User.ReadWrite")
	if plain.RefreshToken != "" {
		t.Fatal("refresh token without offline_access")
	}
	if r := s.do("PATCH", "/v1.0/me", plain.AccessToken, map[string]any{"mail": "x@example.com"}); r.Status != 401 ||
		r.Header.Get("WWW-Authenticate") != wantStepUpChallenge {
		t.Fatalf("PATCH /me mail with pwd only: %d %s", r.Status, r.Body)
	}
	// The ID token is not an access token.
	if r := s.do("GET", "/v1.0/me", m["id_token"].(string), nil); r.Status != 401 || r.ErrorCode(t) != "InvalidAuthenticationToken" {
		t.Fatalf("ID token as bearer: %d %s", r.Status, r.Body)
	}

	// A confidential client (a web app with a secret) must authenticate:
	// without its secret, with a wrong one, or with an empty Basic
	// password it is invalid_client, and the token is not spent; with
	// client_secret_post or client_secret_basic it refreshes. Without
	// client_info=1 there is none.
	app, secret := s.consentedApp("storefront-web")
	webRT := s.signIn(srv, id, app.AppID, []string{"pwd"}, nil, "openid", "offline_access", "User.ReadWrite").RefreshToken
	next := url.Values{"grant_type": {"refresh_token"}, "client_id": {app.AppID}, "refresh_token": {webRT}}
	if code := s.postToken(s.tenant, next, nil).oauthError(t, 401); code != "invalid_client" {
		t.Fatalf("confidential client without its secret: %s", code)
	}
	if code := s.postToken(s.tenant, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {webRT}}, []string{app.AppID, ""}).oauthError(t, 401); code != "invalid_client" {
		t.Fatalf("confidential client with an empty Basic password: %s", code)
	}
	bad := url.Values{"client_secret": {"wrong"}}
	for k, v := range next {
		bad[k] = v
	}
	if code := s.postToken(s.tenant, bad, nil).oauthError(t, 401); code != "invalid_client" {
		t.Fatalf("wrong secret: %s", code)
	}
	next.Set("client_secret", secret)
	r = s.postToken(s.tenant, next, nil)
	if r.Status != 200 || strings.Contains(string(r.Body), "client_info") || !strings.Contains(string(r.Body), `"id_token"`) {
		t.Fatalf("refresh with secret: %d %s", r.Status, r.Body)
	}
	r = s.postToken(s.tenant, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {r.JSON(t)["refresh_token"].(string)}}, []string{app.AppID, secret})
	if r.Status != 200 {
		t.Fatalf("refresh with client_secret_basic: %d %s", r.Status, r.Body)
	}
	webRT = r.JSON(t)["refresh_token"].(string)

	// A refresh token is redeemed only by the client it was issued to.
	rt2 := m["refresh_token"].(string)
	cross := url.Values{"grant_type": {"refresh_token"}, "client_id": {app.AppID}, "client_secret": {secret}, "refresh_token": {rt2}}
	if code := s.postToken(s.tenant, cross, nil).oauthError(t, 400); code != "invalid_grant" {
		t.Fatalf("the spa's token redeemed by the web app: %s", code)
	}
	if code := s.postToken(s.tenant, url.Values{"grant_type": {"refresh_token"}, "client_id": {spa.AppID}, "refresh_token": {webRT}}, nil).oauthError(t, 400); code != "invalid_grant" {
		t.Fatalf("the web app's token redeemed by the spa: %s", code)
	}

	// A public client as x/oauth2 sends it: HTTP Basic with an empty
	// password (the client credentials grant still refuses that form).
	r = s.postToken(s.tenant, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}, []string{spa.AppID, ""})
	if r.Status != 200 {
		t.Fatalf("refresh with Basic and an empty password: %d %s", r.Status, r.Body)
	}
	rt2 = r.JSON(t)["refresh_token"].(string)
	cc := url.Values{"grant_type": {"client_credentials"}, "scope": {"api://graphdir/.default"}}
	if code := s.postToken(s.tenant, cc, []string{app.AppID, ""}).oauthError(t, 401); code != "invalid_client" {
		t.Fatalf("client credentials with an empty Basic password: %s", code)
	}

	// Revocation ends the family: invalid_grant with Entra's number.
	if r := s.do("POST", "/v1.0/users/"+id+"/revokeSignInSessions", s.appToken("User.RevokeSessions.All"), nil); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	r = s.postToken(s.tenant, url.Values{"grant_type": {"refresh_token"}, "client_id": {spa.AppID}, "refresh_token": {rt2}}, nil)
	if code := r.oauthError(t, 400); code != "invalid_grant" || !strings.Contains(string(r.Body), `"error_codes":[50173]`) {
		t.Fatalf("after revoke: %s", r.Body)
	}
}

func TestRefreshTokenHostileForms(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	id := s.newCustomer(admin, "hostile@example.com")
	app := s.publicApp("hostile")
	good := s.signIn(s.signInServer(), id, app.AppID, []string{"pwd"}, nil, "openid", "offline_access", "User.Read").RefreshToken
	values := []string{"", " ", "x", good + good, strings.Repeat("A", 43), strings.Repeat("%", 43), "'; DROP TABLE users; --",
		"\u202e" + good, "../../etc/passwd", strings.Repeat("ß", 500), "null", "{}", "api://graphdir/.default", "https://graph.microsoft.com/"}
	for _, field := range []string{"refresh_token", "client_id", "scope", "client_secret", "client_info"} {
		for _, v := range values {
			form := url.Values{"grant_type": {"refresh_token"}, "client_id": {app.AppID}, "refresh_token": {good}}
			form.Set(field, v)
			r := s.postToken(s.tenant, form, nil)
			if r.Status >= 500 || (r.Status != 200 && !strings.Contains(string(r.Body), `"error":"`)) {
				t.Fatalf("%s=%q: %d %s", field, v, r.Status, r.Body)
			}
			if r.Status == 200 {
				good = r.JSON(t)["refresh_token"].(string) // rotated: continue with the successor
			}
		}
	}
	// The refresh token never travels in the URL.
	req, _ := http.NewRequest("POST", s.srv.URL+"/"+s.tenant+"/oauth2/v2.0/token?refresh_token="+url.QueryEscape(good),
		strings.NewReader(url.Values{"grant_type": {"refresh_token"}, "client_id": {app.AppID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r := s.roundTrip(req)
	if r.Status != 400 || !strings.Contains(string(r.Body), "must be sent in the request body") {
		t.Fatalf("refresh_token in the URL: %d %s", r.Status, r.Body)
	}
	// Sent twice: refused.
	r = s.postTokenBody(s.tenant, "grant_type=refresh_token&client_id="+app.AppID+"&refresh_token="+good+"&refresh_token="+good, nil)
	if code := r.oauthError(t, 400); code != "invalid_request" {
		t.Fatalf("duplicate refresh_token: %s", code)
	}
}

func TestRevokeSignInSessions(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")
	revoker := s.appToken("User.RevokeSessions.All")
	id := s.newCustomer(admin, "revoke@example.com")
	// A token issued five seconds ago, before any revocation.
	past := time.Now().Add(-5 * time.Second).Unix()
	old := s.userTokenWith(id, map[string]any{"iat": past, "nbf": past, "amr": []string{"pwd"}}, "User.ReadWrite")
	s.mustStatus(s.do("GET", "/v1.0/me", old, nil), 200, "before revocation")
	if r := s.do("GET", "/v1.0/users/"+id, admin, nil); strings.Contains(string(r.Body), "signInSessionsValidFromDateTime") {
		t.Fatalf("signInSessionsValidFromDateTime is not a default property: %s", r.Body)
	}

	r := s.do("POST", "/v1.0/users/"+id+"/revokeSignInSessions", revoker, nil)
	if r.Status != 200 || string(r.Body) != `{"@odata.context":"`+s.srv.URL+`/v1.0/$metadata#Edm.Boolean","value":true}` {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	s.oneAudit(reader, r, "Revoke user sign-in sessions", "success", "")

	r = s.do("GET", "/v1.0/me", old, nil)
	if r.Status != 401 || r.ErrorCode(t) != "InvalidAuthenticationToken" || !strings.Contains(string(r.Body), "TokenIssuedBeforeRevocationTimestamp") {
		t.Fatalf("old token after revocation: %d %s", r.Status, r.Body)
	}
	// A token issued now, and app-only tokens, are unaffected.
	s.mustStatus(s.do("GET", "/v1.0/me", s.userTokenWith(id, noMFA, "User.ReadWrite"), nil), 200, "new token")
	got := s.do("GET", "/v1.0/users/"+id+"?$select=signInSessionsValidFromDateTime", admin, nil).JSON(t)
	at, err := time.Parse(time.RFC3339, fmt.Sprint(got["signInSessionsValidFromDateTime"]))
	if err != nil || time.Since(at) > time.Minute || at.Unix() <= past {
		t.Fatalf("signInSessionsValidFromDateTime %v (%v)", got["signInSessionsValidFromDateTime"], err)
	}
	// Read-only.
	r = s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"signInSessionsValidFromDateTime": "2020-01-01T00:00:00Z"})
	if r.Status != 400 {
		t.Fatalf("PATCH signInSessionsValidFromDateTime: %d %s", r.Status, r.Body)
	}

	// /me: the signed-in user signs out everywhere, including the token
	// that asked (it is older than the new boundary).
	id2 := s.newCustomer(admin, "revoke.me@example.com")
	mine := s.userTokenWith(id2, map[string]any{"iat": past, "nbf": past}, "User.ReadWrite")
	r = s.do("POST", "/v1.0/me/revokeSignInSessions", mine, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"value":true`) {
		t.Fatalf("me revoke: %d %s", r.Status, r.Body)
	}
	s.mustStatus(s.do("GET", "/v1.0/me", mine, nil), 401, "own token after /me/revokeSignInSessions")

	// Errors: app token at /me, unknown user, a body with parameters.
	if r := s.do("POST", "/v1.0/me/revokeSignInSessions", revoker, nil); r.Status != 400 || r.ErrorCode(t) != "BadRequest" {
		t.Fatalf("app at /me: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", "/v1.0/users/"+uuid.NewString()+"/revokeSignInSessions", revoker, nil); r.Status != 404 || r.ErrorCode(t) != "Request_ResourceNotFound" {
		t.Fatalf("unknown user: %d %s", r.Status, r.Body)
	}
	for _, body := range []any{map[string]any{"x": 1}, []any{}, "x"} {
		before := s.snapshot()
		if r := s.do("POST", "/v1.0/users/"+id+"/revokeSignInSessions", revoker, body); r.Status != 400 || s.snapshot() != before {
			t.Fatalf("body %v: %d %s", body, r.Status, r.Body)
		}
	}
	s.mustStatus(s.do("POST", "/v1.0/users/"+id+"/revokeSignInSessions", revoker, map[string]any{}), 200, "empty object body")
	if r := s.do("GET", "/v1.0/users/"+id+"/revokeSignInSessions", revoker, nil); r.Status != 405 && r.Status != 400 && r.Status != 404 {
		t.Fatalf("GET: %d", r.Status)
	}
}

// TestPermissionMatrixRevokeSignInSessions is the permission matrix's
// rows for POST /users/{id}/revokeSignInSessions and /me/revokeSignInSessions.
func TestPermissionMatrixRevokeSignInSessions(t *testing.T) {
	s := newStack(t)
	n := 0
	fresh := func(roles ...string) string {
		n++
		return s.rawUser(s.tenant, fmt.Sprintf("rv%d@contoso.com", n), roles...)
	}
	for _, c := range []struct {
		name       string
		app        []string
		role       string
		scp        []string
		user, ga   byte // a plain user; a Global Administrator target
		me         byte
		targetSelf bool
	}{
		{name: "app User.RevokeSessions.All", app: []string{"User.RevokeSessions.All"}, user: 'O', ga: 'R', me: 'B'},
		{name: "app User.ReadWrite.All", app: []string{"User.ReadWrite.All"}, user: 'O', ga: 'R', me: 'B'},
		{name: "app Directory.ReadWrite.All", app: []string{"Directory.ReadWrite.All"}, user: 'O', ga: 'R', me: 'B'},
		{name: "app User.Read.All", app: []string{"User.Read.All"}, user: 'S', ga: 'S', me: 'B'},
		{name: "app User.EnableDisableAccount.All", app: []string{"User.EnableDisableAccount.All"}, user: 'S', ga: 'S', me: 'B'},
		{name: "customer User.ReadWrite", scp: []string{"User.ReadWrite"}, user: 'S', ga: 'S', me: 'O'},
		{name: "customer User.Read", scp: []string{"User.Read"}, user: 'S', ga: 'S', me: 'S'},
		{name: "customer User.RevokeSessions.All", scp: []string{"User.RevokeSessions.All"}, user: 'R', ga: 'R', me: 'O'},
		{name: "customer User.RevokeSessions.All, own id", scp: []string{"User.RevokeSessions.All"}, user: 'O', ga: 'R', me: 'O', targetSelf: true},
		{name: "User Administrator", role: "User Administrator", scp: []string{"User.RevokeSessions.All"}, user: 'O', ga: 'R', me: 'O'},
		{name: "Global Administrator", role: "Global Administrator", scp: []string{"User.RevokeSessions.All"}, user: 'O', ga: 'O', me: 'O'},
		{name: "Directory Readers", role: "Directory Readers", scp: []string{"Directory.ReadWrite.All"}, user: 'R', ga: 'R', me: 'O'},
		{name: "Global Administrator with User.ReadWrite", role: "Global Administrator", scp: []string{"User.ReadWrite"}, user: 'S', ga: 'S', me: 'O'},
	} {
		t.Run(c.name, func(t *testing.T) {
			var token func() string
			var caller string
			if c.app != nil {
				tok := s.appToken(c.app...)
				token = func() string { return tok }
			} else {
				var roles []string
				if c.role != "" {
					roles = []string{c.role}
				}
				caller = fresh(roles...)
				// A fresh token per request: a successful /me revocation
				// may refuse the previous one.
				token = func() string { return s.userToken(caller, c.scp...) }
			}
			for _, cell := range []struct {
				what string
				path string
				want byte
			}{
				{"user", "/v1.0/users/" + fresh() + "/revokeSignInSessions", c.user},
				{"ga", "/v1.0/users/" + fresh("Global Administrator") + "/revokeSignInSessions", c.ga},
				{"me", "/v1.0/me/revokeSignInSessions", c.me},
			} {
				if c.targetSelf && cell.what == "user" {
					cell.path = "/v1.0/users/" + caller + "/revokeSignInSessions"
				}
				before := s.snapshot()
				r := s.do("POST", cell.path, token(), nil)
				switch cell.want {
				case 'O':
					if r.Status != 200 {
						t.Fatalf("%s: %d, want 200: %s", cell.what, r.Status, r.Body)
					}
				case 'S', 'R':
					if r.Status != 403 || s.checkDenied(t, r, before) != "Authorization_RequestDenied" {
						t.Fatalf("%s: %d, want 403 (%c): %s", cell.what, r.Status, cell.want, r.Body)
					}
					if ch := r.Header.Get("WWW-Authenticate"); (cell.want == 'S') != strings.Contains(ch, `error="insufficient_scope"`) {
						t.Fatalf("%s: WWW-Authenticate %q for %c", cell.what, ch, cell.want)
					}
				case 'B':
					if r.Status != 400 || s.checkDenied(t, r, before) != "BadRequest" {
						t.Fatalf("%s: %d, want 400: %s", cell.what, r.Status, r.Body)
					}
				}
			}
		})
	}
}

// TestRefreshAcrossInstances: two instances over one database. A token
// issued by one is rotated by the other; a racing replay of the same token
// at the first gets the same successor (the successor key is shared); a
// revocation at one refuses old access tokens at the other.
func TestRefreshAcrossInstances(t *testing.T) {
	a := newStack(t)
	cfg, getenv, db := openTestDatabase(t, map[string]string{"DATABASE_URL": a.cfg.DatabaseURL,
		"GRAPHDIR_PUBLIC_URL": testPublicURL, "GRAPHDIR_DOMAINS": "graphdir.test,contoso.com"})
	h, iss, err := buildHandler(context.Background(), cfg, getenv, db, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srvB := httptest.NewTLSServer(h)
	t.Cleanup(srvB.Close)
	b := &stack{t: t, srv: srvB, db: db, iss: iss, cfg: cfg, tenant: a.tenant, domain: a.domain, client: srvB.Client()}

	id := a.newCustomer(a.appToken("User.ReadWrite.All"), "two@example.com")
	app := a.publicApp("two")
	first := a.signIn(a.signInServer(), id, app.AppID, []string{"pwd"}, nil, "openid", "offline_access", "User.ReadWrite")
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {app.AppID}, "refresh_token": {first.RefreshToken}}
	rb := b.postToken(b.tenant, form, nil)
	ra := a.postToken(a.tenant, form, nil)
	if rb.Status != 200 || ra.Status != 200 {
		t.Fatalf("B: %d %s; A: %d %s", rb.Status, rb.Body, ra.Status, ra.Body)
	}
	if sb, sa := rb.JSON(t)["refresh_token"], ra.JSON(t)["refresh_token"]; sb != sa || sb == first.RefreshToken {
		t.Fatalf("successors differ across instances: %v / %v", sb, sa)
	}

	past := time.Now().Add(-5 * time.Second).Unix()
	old := a.userTokenWith(id, map[string]any{"iat": past, "nbf": past}, "User.ReadWrite")
	if r := a.do("POST", "/v1.0/me/revokeSignInSessions", old, nil); r.Status != 200 {
		t.Fatalf("revoke at A: %d %s", r.Status, r.Body)
	}
	if r := b.do("GET", "/v1.0/me", old, nil); r.Status != 401 {
		t.Fatalf("old token at B after revocation at A: %d %s", r.Status, r.Body)
	}
	r := b.postToken(b.tenant, url.Values{"grant_type": {"refresh_token"}, "client_id": {app.AppID}, "refresh_token": {rb.JSON(t)["refresh_token"].(string)}}, nil)
	if code := r.oauthError(t, 400); code != "invalid_grant" {
		t.Fatalf("refresh at B after revocation at A: %s", code)
	}
}
