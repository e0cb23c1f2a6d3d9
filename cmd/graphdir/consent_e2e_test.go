package main

// User consent on the hosted pages and Graph's oauth2PermissionGrants
// (internal/api/consent.go, permissiongrants.go): through the real router,
// against real PostgreSQL.

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/api"
	"github.com/graphdir/graphdir/internal/directory"
)

const consentRedirect = "https://consent.example/cb"

// consentFix is the OpenID fixture plus a web app holding tenant-wide
// consent to the OpenID Connect scopes only: User.Read needs the user's.
type consentFix struct {
	*oidcFix
	app    *directory.Application
	secret string
}

func newConsentFix(t *testing.T) *consentFix {
	f := newOIDCFix(t)
	app, secret := f.s.scopedApp("consent web", []string{"openid", "profile", "email", "offline_access"},
		directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{consentRedirect}}})
	return &consentFix{oidcFix: f, app: app, secret: secret}
}

// scopedApp registers an application with tenant-wide consent to scopes.
func (s *stack) scopedApp(name string, scopes []string, in directory.SignInInput) (*directory.Application, string) {
	s.t.Helper()
	apps, err := newApplications(context.Background(), s.db)
	if err != nil {
		s.t.Fatal(err)
	}
	var access []directory.ResourceAccess
	for _, sc := range scopes {
		id, _ := directory.DelegatedScopeID(sc)
		access = append(access, directory.ResourceAccess{ID: id, Type: "Scope"})
	}
	rra := []directory.RequiredResourceAccess{{ResourceAppID: directory.GraphResourceAppID, ResourceAccess: access}}
	in.RequiredResourceAccess = &rra
	a, sec, err := apps.OperatorRegisterApplication(context.Background(), s.tenant, name, nil, in, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	return a, sec.SecretText
}

// params is a code-flow request of the consent app for scope.
func (f *consentFix) params(scope string) (url.Values, string) {
	params, verifier := f.authParams(f.app, consentRedirect)
	params.Set("scope", scope)
	return params, verifier
}

// toConsent signs in (when the browser has no session) and returns the
// consent page.
func (f *consentFix) toConsent(b *browser, params url.Values, headers ...string) page {
	f.t.Helper()
	p := b.get(f.s.authorizeURL(params), headers...)
	if strings.Contains(p.body, `autocomplete="current-password"`) {
		p = b.signIn(p, fixUser, fixPassword, headers...)
	}
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="decision" value="accept"`) {
		f.t.Fatalf("no consent page: %d %v %s", p.status, p.header.Get("Location"), p.body)
	}
	return p
}

// decide submits the consent page's Accept or Cancel.
func (f *consentFix) decide(b *browser, p page, decision string) page {
	f.t.Helper()
	action, form := p.form(f.t)
	form.Set("decision", decision)
	return b.post(action, form)
}

func (f *consentFix) redeem(code, verifier string) (int, map[string]any) {
	f.t.Helper()
	st, out, _ := f.token(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {consentRedirect},
		"code_verifier": {verifier}}, f.app.AppID, f.secret)
	return st, out
}

func (f *consentFix) refresh(rt string) (int, map[string]any) {
	f.t.Helper()
	st, out, _ := f.token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, f.app.AppID, f.secret)
	return st, out
}

// grants lists the consent app's grants with a DelegatedPermissionGrant.Read.All token.
func (f *consentFix) grants() []any {
	f.t.Helper()
	q := url.Values{"$filter": {"clientId eq '" + f.app.AppID + "' and principalId eq '" + f.user.ID + "'"}}
	r := f.s.do("GET", "/v1.0/oauth2PermissionGrants?"+q.Encode(), f.s.appToken("DelegatedPermissionGrant.Read.All"), nil)
	if r.Status != http.StatusOK {
		f.t.Fatalf("list grants: %d %s", r.Status, r.Body)
	}
	return r.JSON(f.t)["value"].([]any)
}

// TestConsent_AcceptGrantRefreshRevoke: a scope without tenant-wide
// consent shows the consent page after sign-in (only that scope, in plain
// words); Accept stores a Principal grant and sends the code; the token
// endpoint honours the grant on the exchange and on refresh; the next
// sign-in asks nothing; deleting the grant makes the next refresh
// invalid_grant 65001 and brings the page back.
func TestConsent_AcceptGrantRefreshRevoke(t *testing.T) {
	f := newConsentFix(t)
	b := f.s.newBrowser()
	params, verifier := f.params("openid profile offline_access User.Read")
	p := f.toConsent(b, params)
	if !strings.Contains(p.body, "Read your profile") || strings.Contains(p.body, "Sign you in") || !strings.Contains(p.body, "consent web") ||
		p.header.Get("X-Frame-Options") != "DENY" || !strings.Contains(p.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("consent page: %v %s", p.header, p.body)
	}
	back := f.decide(b, p, "accept")
	if back.status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", back.status, back.body)
	}
	_, q := location(t, back)
	if q.Get("code") == "" || q.Get("state") != params.Get("state") || q.Get("iss") != f.s.iss.IssuerURL(f.s.tenant) {
		t.Fatalf("callback: %v", q)
	}
	st, out := f.redeem(q.Get("code"), verifier)
	if st != http.StatusOK || !strings.Contains(out["scope"].(string), "User.Read") {
		t.Fatalf("exchange: %d %v", st, out)
	}
	// The grant, in Graph's shape.
	list := f.grants()
	if len(list) != 1 {
		t.Fatalf("grants: %v", list)
	}
	g := list[0].(map[string]any)
	if g["consentType"] != "Principal" || g["scope"] != "User.Read" || g["resourceId"] != directory.GraphResourceAppID ||
		g["clientId"] != f.app.AppID || g["principalId"] != f.user.ID || len(g["id"].(string)) != 43 {
		t.Fatalf("grant: %v", g)
	}
	// Refresh honours the user's grant.
	st, out = f.refresh(out["refresh_token"].(string))
	if st != http.StatusOK || !strings.Contains(out["scope"].(string), "User.Read") {
		t.Fatalf("refresh: %d %v", st, out)
	}
	rt := out["refresh_token"].(string)
	// The next sign-in of this user (session cookie) asks nothing.
	params2, _ := f.params("openid User.Read")
	if _, q := location(t, b.get(f.s.authorizeURL(params2))); q.Get("code") == "" {
		t.Fatalf("second sign-in asked again: %v", q)
	}
	// Deleting the grant ends it at the next refresh: 65001, family revoked.
	id := g["id"].(string)
	if r := f.s.do("DELETE", "/v1.0/oauth2PermissionGrants/"+id, f.s.appToken("DelegatedPermissionGrant.ReadWrite.All"), nil); r.Status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	st, out = f.refresh(rt)
	if st != http.StatusBadRequest || out["error"] != "invalid_grant" || !strings.Contains(mustJSON(t, out["error_codes"]), "65001") {
		t.Fatalf("refresh after revocation: %d %v", st, out)
	}
	if r := f.s.do("GET", "/v1.0/oauth2PermissionGrants/"+id, f.s.appToken("Directory.Read.All"), nil); r.Status != http.StatusNotFound {
		t.Fatalf("deleted grant: %d %s", r.Status, r.Body)
	}
	f.toConsent(b, params2)
}

// TestConsent_Cancel: Cancel sends access_denied to the redirect URI with
// state and iss, in the request's response mode, and stores nothing.
func TestConsent_Cancel(t *testing.T) {
	f := newConsentFix(t)
	b := f.s.newBrowser()
	params, _ := f.params("openid User.Read")
	params.Set("response_mode", "fragment")
	back := f.decide(b, f.toConsent(b, params), "cancel")
	loc, q := location(t, back)
	if loc.Fragment == "" || q.Get("error") != "access_denied" || q.Get("state") != params.Get("state") ||
		q.Get("iss") != f.s.iss.IssuerURL(f.s.tenant) || q.Get("code") != "" || !strings.HasPrefix(back.header.Get("Location"), consentRedirect+"#") {
		t.Fatalf("cancel: %s %v", back.header.Get("Location"), q)
	}
	if g := f.grants(); len(g) != 0 {
		t.Fatalf("cancel stored a grant: %v", g)
	}
}

// TestConsent_PromptNone: with a session but without consent, prompt=none
// answers consent_required (redirect, state, iss), never a page; once the
// user consented it answers a code.
func TestConsent_PromptNone(t *testing.T) {
	f := newConsentFix(t)
	b := f.s.newBrowser()
	// A session, from a sign-in needing nothing more.
	params, _ := f.params("openid profile")
	if _, q := location(t, b.signIn(b.get(f.s.authorizeURL(params)), fixUser, fixPassword)); q.Get("code") == "" {
		t.Fatalf("sign-in: %v", q)
	}
	silent, _ := f.params("openid User.Read")
	silent.Set("prompt", "none")
	p := b.get(f.s.authorizeURL(silent))
	if _, q := location(t, p); q.Get("error") != "consent_required" || q.Get("state") != silent.Get("state") || q.Get("iss") == "" {
		t.Fatalf("prompt=none: %d %v", p.status, q)
	}
	interactive, _ := f.params("openid User.Read")
	if _, q := location(t, f.decide(b, f.toConsent(b, interactive), "accept")); q.Get("code") == "" {
		t.Fatalf("accept: %v", q)
	}
	silent.Set("state", "again")
	if _, q := location(t, b.get(f.s.authorizeURL(silent))); q.Get("code") == "" || q.Get("state") != "again" {
		t.Fatalf("prompt=none after consent: %v", q)
	}
}

// TestConsent_PromptConsent: prompt=consent shows the page even when
// everything is consented, listing every requested scope; Accept then
// sends the code (and stores nothing the tenant already granted).
func TestConsent_PromptConsent(t *testing.T) {
	f := newConsentFix(t)
	b := f.s.newBrowser()
	params, verifier := f.params("openid profile")
	params.Set("prompt", "consent")
	p := f.toConsent(b, params)
	if !strings.Contains(p.body, "Sign you in") || !strings.Contains(p.body, "See your basic profile") {
		t.Fatalf("prompt=consent page: %s", p.body)
	}
	_, q := location(t, f.decide(b, p, "accept"))
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusOK {
		t.Fatalf("exchange: %d %v", st, out)
	}
	if g := f.grants(); len(g) != 0 {
		t.Fatalf("tenant-wide scopes stored as the user's grant: %v", g)
	}
	// With the session, prompt=consent still asks.
	params.Set("state", "again")
	f.toConsent(b, params)
}

// TestConsent_AdminOnlyScope: a scope only an administrator may grant
// (Directory.Read.All) shows the "needs admin approval" page after sign-in,
// in the page's language, and never redirects; once an administrator
// grants it for everyone (AllPrincipals), the sign-in completes.
func TestConsent_AdminOnlyScope(t *testing.T) {
	f := newConsentFix(t)
	b := f.s.newBrowser()
	params, verifier := f.params("openid Directory.Read.All")
	p := b.signIn(b.get(f.s.authorizeURL(params)), fixUser, fixPassword)
	if p.status != http.StatusForbidden || p.header.Get("Location") != "" || !strings.Contains(p.body, "Need admin approval") ||
		!strings.Contains(p.body, "consent web") || strings.Contains(p.body, `value="accept"`) {
		t.Fatalf("admin-only scope: %d %v %s", p.status, p.header.Get("Location"), p.body)
	}
	params.Set("ui_locales", "fr")
	if p := b.get(f.s.authorizeURL(params)); p.status != http.StatusForbidden || !strings.Contains(p.body, "Approbation d&#39;un administrateur requise") ||
		!strings.Contains(p.body, `lang="fr"`) {
		t.Fatalf("admin-only scope, French: %d %s", p.status, p.body)
	}
	// An administrator's AllPrincipals grant covers every user.
	admin := f.s.appToken("DelegatedPermissionGrant.ReadWrite.All")
	r := f.s.do("POST", "/v1.0/oauth2PermissionGrants", admin, map[string]any{"clientId": f.app.AppID, "consentType": "AllPrincipals",
		"principalId": nil, "resourceId": directory.GraphResourceAppID, "scope": "Directory.Read.All"})
	if r.Status != http.StatusCreated || r.JSON(t)["consentType"] != "AllPrincipals" {
		t.Fatalf("admin grant: %d %s", r.Status, r.Body)
	}
	params.Set("state", "granted")
	_, q := location(t, b.get(f.s.authorizeURL(params)))
	if st, out := f.redeem(q.Get("code"), verifier); st != http.StatusOK || !strings.Contains(out["scope"].(string), "Directory.Read.All") {
		t.Fatalf("after admin consent: %v %d %v", q, st, out)
	}
}

// TestConsent_CSRF: the consent form is refused without its per-form
// token, with another token, from another browser (binding cookie) and
// cross-site; none of these spends the flow or stores a grant, and the
// genuine submission still works.
func TestConsent_CSRF(t *testing.T) {
	f := newConsentFix(t)
	b := f.s.newBrowser()
	params, _ := f.params("openid User.Read")
	p := f.toConsent(b, params)
	action, form := p.form(t)
	form.Set("decision", "accept")
	without := url.Values{}
	for k, v := range form {
		if k != "csrf_token" {
			without[k] = v
		}
	}
	wrong := url.Values{}
	for k, v := range form {
		wrong[k] = v
	}
	wrong.Set("csrf_token", randomString())
	other := f.s.newBrowser() // no binding cookie, no session
	for name, try := range map[string]func() page{
		"no token":    func() page { return b.post(action, without) },
		"wrong token": func() page { return b.post(action, wrong) },
		"cross-site":  func() page { return b.post(action, form, "Sec-Fetch-Site", "cross-site") },
		"other agent": func() page { return other.post(action, form) },
	} {
		if r := try(); r.status != http.StatusForbidden || r.header.Get("Location") != "" {
			t.Errorf("%s: %d %v", name, r.status, r.header.Get("Location"))
		}
	}
	if g := f.grants(); len(g) != 0 {
		t.Fatalf("a refused form stored a grant: %v", g)
	}
	if _, q := location(t, b.post(action, form)); q.Get("code") == "" {
		t.Fatalf("genuine accept: %v", q)
	}
	// The flow is single use.
	if r := b.post(action, form); r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
		t.Fatalf("replayed consent form: %d %v", r.status, r.header.Get("Location"))
	}
}

// TestPermissionGrantsAPI_Permissions: the grants API takes application
// permissions only, decided before anything is read: with the database
// closed, refusals are still 403 (and the authorised call is not).
func TestPermissionGrantsAPI_Permissions(t *testing.T) {
	f := newConsentFix(t)
	s := f.s
	admin := s.appToken("DelegatedPermissionGrant.ReadWrite.All")
	r := s.do("POST", "/v1.0/oauth2PermissionGrants", admin, map[string]any{"clientId": f.app.AppID, "consentType": "Principal",
		"principalId": f.user.ID, "resourceId": directory.GraphResourceAppID, "scope": "User.Read user.readwrite"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	g := r.JSON(t)
	id := g["id"].(string)
	if g["scope"] != "User.Read User.ReadWrite" || !strings.HasSuffix(r.Header.Get("Location"), "/v1.0/oauth2PermissionGrants/"+id) {
		t.Fatalf("created: %v %v", g, r.Header)
	}
	// Graph's refusals of bodies and filters.
	for name, c := range map[string]struct {
		method, path string
		body         any
		want         int
	}{
		"duplicate":       {"POST", "", map[string]any{"clientId": f.app.AppID, "consentType": "Principal", "principalId": f.user.ID, "resourceId": directory.GraphResourceAppID, "scope": "openid"}, 400},
		"unknown scope":   {"POST", "", map[string]any{"clientId": f.app.AppID, "consentType": "AllPrincipals", "resourceId": directory.GraphResourceAppID, "scope": "Mail.Read"}, 400},
		"unknown key":     {"POST", "", map[string]any{"clientId": f.app.AppID, "consenttype": "AllPrincipals", "resourceId": directory.GraphResourceAppID, "scope": "openid"}, 400},
		"other resource":  {"POST", "", map[string]any{"clientId": f.app.AppID, "consentType": "AllPrincipals", "resourceId": "00000002-0000-0000-c000-000000000000", "scope": "openid"}, 400},
		"no such client":  {"POST", "", map[string]any{"clientId": "0e2a0b3c-0000-4000-8000-000000000000", "consentType": "AllPrincipals", "resourceId": directory.GraphResourceAppID, "scope": "openid"}, 404},
		"patch read-only": {"PATCH", "/" + id, map[string]any{"consentType": "AllPrincipals"}, 400},
		"bad filter":      {"GET", "?$filter=" + url.QueryEscape("scope eq 'User.Read'"), nil, 400},
	} {
		if r := s.do(c.method, "/v1.0/oauth2PermissionGrants"+c.path, admin, c.body); r.Status != c.want {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := s.do("PATCH", "/v1.0/oauth2PermissionGrants/"+id, admin, map[string]any{"scope": "User.Read"}); r.Status != http.StatusNoContent {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/oauth2PermissionGrants/"+id+"?$select=scope", s.appToken("Directory.Read.All"), nil); r.Status != 200 || r.JSON(t)["scope"] != "User.Read" || r.JSON(t)["clientId"] != nil {
		t.Fatalf("get $select: %d %s", r.Status, r.Body)
	}
	// Paging: $top=1 over two grants.
	if r := s.do("POST", "/v1.0/oauth2PermissionGrants", admin, map[string]any{"clientId": f.app.AppID, "consentType": "AllPrincipals",
		"resourceId": directory.GraphResourceAppID, "scope": "openid"}); r.Status != 201 {
		t.Fatalf("second grant: %d %s", r.Status, r.Body)
	}
	page1 := s.do("GET", "/v1.0/oauth2PermissionGrants?$top=1", admin, nil).JSON(t)
	next, _ := page1["@odata.nextLink"].(string)
	if len(page1["value"].([]any)) != 1 || next == "" {
		t.Fatalf("page 1: %v", page1)
	}
	u, _ := url.Parse(next)
	page2 := s.do("GET", u.RequestURI(), admin, nil).JSON(t)
	if len(page2["value"].([]any)) != 1 || page2["@odata.nextLink"] != nil ||
		page2["value"].([]any)[0].(map[string]any)["id"] == page1["value"].([]any)[0].(map[string]any)["id"] {
		t.Fatalf("page 2: %v", page2)
	}
	if v := s.do("GET", "/v1.0/oauth2PermissionGrants?$filter="+url.QueryEscape("consentType eq 'AllPrincipals'"), admin, nil).JSON(t)["value"].([]any); len(v) != 1 {
		t.Fatalf("consentType filter: %v", v)
	}

	// Who may do what. A user token never may; Directory.Read.All reads.
	user := s.userToken(f.user.ID, "User.Read", "Directory.ReadWrite.All")
	none, reader := s.appToken("User.Read.All"), s.appToken("Directory.Read.All")
	writes := []struct{ method, path string }{{"POST", ""}, {"PATCH", "/" + id}, {"DELETE", "/" + id}, {"DELETE", "/no-such-grant"}}
	reads := []struct{ method, path string }{{"GET", ""}, {"GET", "/" + id}, {"GET", "/no-such-grant"}}
	check := func(phase string) {
		for _, tok := range []string{none, user} {
			for _, c := range append(slices.Clone(writes), reads...) {
				if r := s.do(c.method, "/v1.0/oauth2PermissionGrants"+c.path, tok, map[string]any{}); r.Status != http.StatusForbidden {
					t.Errorf("%s: %s %s: %d %s", phase, c.method, c.path, r.Status, r.Body)
				}
			}
		}
		for _, c := range writes {
			if r := s.do(c.method, "/v1.0/oauth2PermissionGrants"+c.path, reader, map[string]any{}); r.Status != http.StatusForbidden {
				t.Errorf("%s: reader %s %s: %d %s", phase, c.method, c.path, r.Status, r.Body)
			}
		}
	}
	check("database open")
	if r := s.do("GET", "/v1.0/oauth2PermissionGrants/"+id, reader, nil); r.Status != http.StatusOK {
		t.Fatalf("reader get: %d %s", r.Status, r.Body)
	}
	// Close the pool: a refusal that touched the database would now be a
	// 5xx; an allowed read is one.
	if err := s.db.store.DB().Close(); err != nil {
		t.Fatal(err)
	}
	check("database closed")
	if r := s.do("GET", "/v1.0/oauth2PermissionGrants/"+id, reader, nil); r.Status < 500 {
		t.Fatalf("an allowed read with the database closed: %d %s", r.Status, r.Body)
	}
}

// TestDiscovery_UILocales: discovery publishes the hosted pages'
// languages, from the catalogue list.
func TestDiscovery_UILocales(t *testing.T) {
	s := newBrowserStack(t, nil)
	r := s.do("GET", "/"+s.tenant+"/v2.0/.well-known/openid-configuration", "", nil)
	var d struct {
		UILocales []string `json:"ui_locales_supported"`
	}
	if err := json.Unmarshal(r.Body, &d); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.UILocales, api.PageLocales()) || !slices.Equal(d.UILocales, []string{"en", "fr"}) {
		t.Fatalf("ui_locales_supported: %v (catalogues %v)", d.UILocales, api.PageLocales())
	}
}
