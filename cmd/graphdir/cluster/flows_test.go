//go:build cluster

package cluster

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// consentedScopes consents an application to openid, profile,
// offline_access, User.Read and User.ReadWrite of Graph.
var consentedScopes = []any{map[string]any{
	"resourceAppId": "00000003-0000-0000-c000-000000000000",
	"resourceAccess": []any{
		map[string]any{"id": "37f7f235-527c-4136-accd-4a02d197296e", "type": "Scope"},
		map[string]any{"id": "14dad69e-099b-42c9-810b-d002981feec1", "type": "Scope"},
		map[string]any{"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "type": "Scope"},
		map[string]any{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"},
		map[string]any{"id": "b4e74841-8e56-480b-be8b-910348b18b4c", "type": "Scope"},
	},
}}

const (
	flowEmail    = "cluster.customer@example.com"
	flowPassword = "Str0ng!Passw0rd"
	webRedirect  = "https://rp.example/cb"
)

// signInApps are a native-auth app, a web app with its secret, and the
// user flow of both, registered through HAProxy.
type signInApps struct {
	native, web, webSecret string
}

func (c *cluster) registerSignInApps(t *testing.T) signInApps {
	t.Helper()
	var apps signInApps
	lb := c.balancer(t)
	apps.native = want(t, lb.do("POST", "/v1.0/applications", c.admin, map[string]any{"displayName": "cluster native",
		"nativeAuthenticationApisEnabled": "all", "spa": map[string]any{"redirectUris": []string{"https://shop.example/"}},
		"requiredResourceAccess": consentedScopes}), http.StatusCreated, "native app")["appId"].(string)
	web := want(t, lb.do("POST", "/v1.0/applications", c.admin, map[string]any{"displayName": "cluster web",
		"web": map[string]any{"redirectUris": []string{webRedirect}}, "requiredResourceAccess": consentedScopes}), http.StatusCreated, "web app")
	apps.web = web["appId"].(string)
	apps.webSecret = want(t, lb.do("POST", "/v1.0/applications/"+web["id"].(string)+"/addPassword", c.admin,
		map[string]any{"passwordCredential": map[string]any{"displayName": "cluster"}}), http.StatusOK, "addPassword")["secretText"].(string)
	want(t, lb.do("POST", "/v1.0/identity/authenticationEventsFlows", c.admin, userFlow([]string{apps.native, apps.web})),
		http.StatusCreated, "user flow")
	return apps
}

// userFlow is Graph's documented create example of a sign-up flow (email
// with password, displayName collected) for apps.
func userFlow(apps []string) map[string]any {
	var inc []any
	for _, a := range apps {
		inc = append(inc, map[string]any{"appId": a})
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow",
		"displayName": "cluster flow",
		"conditions":  map[string]any{"applications": map[string]any{"includeApplications": inc}},
		"onAuthenticationMethodLoadStart": map[string]any{
			"@odata.type":       "#microsoft.graph.onAuthenticationMethodLoadStartExternalUsersSelfServiceSignUp",
			"identityProviders": []any{map[string]any{"id": "EmailPassword-OAUTH"}},
		},
		"onInteractiveAuthFlowStart": map[string]any{
			"@odata.type":     "#microsoft.graph.onInteractiveAuthFlowStartExternalUsersSelfServiceSignUp",
			"isSignUpAllowed": true,
		},
		"onAttributeCollection": map[string]any{
			"@odata.type": "#microsoft.graph.onAttributeCollectionExternalUsersSelfServiceSignUp",
			"attributes": []any{
				map[string]any{"id": "email", "displayName": "Email Address", "description": "Email address of the user", "userFlowAttributeType": "builtIn", "dataType": "string"},
				map[string]any{"id": "displayName", "displayName": "Display Name", "description": "Display Name of the User.", "userFlowAttributeType": "builtIn", "dataType": "string"},
			},
			"attributeCollectionPage": map[string]any{"views": []any{map[string]any{"inputs": []any{
				map[string]any{"attribute": "email", "label": "Email Address", "inputType": "Text", "hidden": true, "editable": false, "writeToDirectory": true, "required": true},
				map[string]any{"attribute": "displayName", "label": "Display Name", "inputType": "text", "hidden": false, "editable": true, "writeToDirectory": true, "required": false},
			}}}},
		},
	}
}

var eightDigits = regexp.MustCompile(`\b\d{8}\b`)

// mailedCode waits for the next message (any instance's outbox worker may
// send it) and returns the one-time code in it.
func (c *cluster) mailedCode(t *testing.T, to string) string {
	t.Helper()
	m := c.smtp.Wait(t, 30*time.Second)
	p, err := m.Parse()
	if err != nil || !slices.Contains(m.To, to) {
		t.Fatalf("mail to %v: %v", m.To, err)
	}
	code := eightDigits.FindString(p.Text)
	if code == "" {
		t.Fatalf("no code in %q", p.Text)
	}
	return code
}

// nativeAuthAcrossInstances signs a customer up with native
// authentication, each step on the next instance (pinned, not through
// HAProxy): the continuation tokens, the mailed code and the flow state
// live in PostgreSQL, so any instance continues what another began. Then
// a password sign-in the same way, and the tokens used on yet others.
func (c *cluster) nativeAuthAcrossInstances(t *testing.T, apps signInApps) {
	g := []*api{c.insts[0].api(t), c.insts[1].api(t), c.insts[2].api(t)}
	post := func(a *api, path string, kv ...string) map[string]any {
		t.Helper()
		f := url.Values{"client_id": {apps.native}}
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return want(t, a.do("POST", "/"+c.tenant+path, "", f), http.StatusOK, "POST "+path+" on "+a.name)
	}
	ct := func(m map[string]any) string {
		t.Helper()
		s, _ := m["continuation_token"].(string)
		if s == "" {
			t.Fatalf("no continuation_token: %v", m)
		}
		return s
	}
	types := "oob password redirect"

	start := post(g[0], "/signup/v1.0/start", "username", flowEmail, "challenge_type", types, "password", flowPassword,
		"attributes", `{"displayName":"Cluster Customer"}`)
	ch := post(g[1], "/signup/v1.0/challenge", "continuation_token", ct(start), "challenge_type", types)
	if ch["challenge_type"] != "oob" {
		t.Fatalf("sign-up challenge: %v", ch)
	}
	code := c.mailedCode(t, flowEmail)
	done := post(g[2], "/signup/v1.0/continue", "continuation_token", ct(ch), "grant_type", "oob", "oob", code)
	tok := post(g[0], "/oauth2/v2.0/token", "continuation_token", ct(done), "grant_type", "continuation_token", "username", flowEmail,
		"scope", "openid offline_access User.Read", "client_info", "1")
	me := want(t, g[1].do("GET", "/v1.0/me?$select=displayName,mail", tok["access_token"].(string), nil), http.StatusOK, "/me on g2")
	if me["displayName"] != "Cluster Customer" || me["mail"] != flowEmail {
		t.Fatalf("/me: %v", me)
	}
	refreshed := post(g[2], "/oauth2/v2.0/token", "grant_type", "refresh_token", "refresh_token", tok["refresh_token"].(string),
		"scope", "openid offline_access User.Read")
	if refreshed["access_token"] == nil {
		t.Fatalf("refresh on g3: %v", refreshed)
	}
	t.Logf("native sign-up: start on g1, challenge on g2, code on g3, token on g1, /me on g2, refresh on g3")

	init := post(g[1], "/oauth2/v2.0/initiate", "username", flowEmail, "challenge_type", "password redirect")
	pw := post(g[2], "/oauth2/v2.0/challenge", "continuation_token", ct(init), "challenge_type", "password redirect")
	if pw["challenge_type"] != "password" {
		t.Fatalf("sign-in challenge: %v", pw)
	}
	in := post(g[0], "/oauth2/v2.0/token", "continuation_token", ct(pw), "grant_type", "password", "password", flowPassword,
		"scope", "openid offline_access User.Read")
	if in["access_token"] == nil {
		t.Fatalf("sign-in token: %v", in)
	}
	t.Logf("native password sign-in: initiate on g2, challenge on g3, token on g1")
}

// browserRedirectAcrossInstances runs the authorization code flow with
// the hosted sign-in page, each request on the next instance: authorize
// (the page and its binding cookie) on g2, the form post on g3, the code
// redeemed on g1. The customer is the one native sign-up created.
func (c *cluster) browserRedirectAcrossInstances(t *testing.T, apps signInApps) {
	b := &browserClient{t: t, jar: map[string]*http.Cookie{}, client: newClient(2)}
	verifier := strings.Repeat("v", 20) + randomString()
	sum := sha256.Sum256([]byte(verifier))
	params := url.Values{"client_id": {apps.web}, "redirect_uri": {webRedirect}, "response_type": {"code"},
		"scope": {"openid profile offline_access User.Read"}, "state": {"s-" + randomString()}, "nonce": {"n-" + randomString()},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}

	page := b.do(c.insts[1], "GET", "/"+c.tenant+"/oauth2/v2.0/authorize?"+params.Encode(), nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `autocomplete="current-password"`) {
		t.Fatalf("authorize on g2 did not show the sign-in page: %d %s", page.Status, page.Body)
	}
	action, form := signInForm(t, string(page.Body))
	form.Set("username", flowEmail)
	form.Set("password", flowPassword)
	back := b.do(c.insts[2], "POST", action, form)
	if back.Status != http.StatusFound && back.Status != http.StatusSeeOther {
		t.Fatalf("sign-in post on g3: %d %s", back.Status, back.Body)
	}
	loc, err := url.Parse(back.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), webRedirect) || loc.Query().Get("code") == "" || loc.Query().Get("state") != params.Get("state") {
		t.Fatalf("redirect back: %q", back.Header.Get("Location"))
	}
	redeem := newRequest("POST", c.insts[0].url()+"/"+c.tenant+"/oauth2/v2.0/token", "", url.Values{"grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {webRedirect}, "code_verifier": {verifier}})
	redeem.SetBasicAuth(url.QueryEscape(apps.web), url.QueryEscape(apps.webSecret))
	r, err := roundTrip(b.client, redeem)
	if err != nil {
		t.Fatal(err)
	}
	tok := want(t, r, http.StatusOK, "code redeemed on g1")
	if tok["id_token"] == nil || tok["access_token"] == nil {
		t.Fatalf("token response: %s", r.Body)
	}
	t.Logf("browser redirect: authorize on g2, sign-in page post on g3, code redeemed on g1")
}

// browserClient is a user agent whose requests go to chosen instances, as
// a balancer would spread them. Its jar keeps every cookie by name and
// sends it to every instance: they are one site (one public URL), and the
// hosted pages' cookies are __Host- (Secure), which the TLS in front of a
// real deployment would carry; the test speaks plain HTTP to instances.
type browserClient struct {
	t      *testing.T
	jar    map[string]*http.Cookie
	client *http.Client
}

func (b *browserClient) do(in *instance, method, path string, form url.Values) *response {
	b.t.Helper()
	var body any
	if form != nil {
		body = form
	}
	req := newRequest(method, in.url()+path, "", body)
	for _, ck := range b.jar {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s on %s: %v", method, path, in.name, err)
	}
	defer res.Body.Close()
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(b.jar, ck.Name)
		} else {
			b.jar[ck.Name] = ck
		}
	}
	r, err := readResponse(res)
	if err != nil {
		b.t.Fatal(err)
	}
	return r
}

var (
	formActionRe = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	hiddenRe     = regexp.MustCompile(`<input type="hidden" name="([^"]*)" value="([^"]*)">`)
)

// signInForm reads the sign-in page's first form: the path it posts to
// (relative to the public URL) and its hidden fields.
func signInForm(t *testing.T, body string) (string, url.Values) {
	t.Helper()
	m := formActionRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no form on the sign-in page: %s", body)
	}
	action, err := url.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	v := url.Values{}
	part := strings.SplitN(body[strings.Index(body, m[0]):], "</form>", 2)[0]
	for _, h := range hiddenRe.FindAllStringSubmatch(part, -1) {
		v.Set(html.UnescapeString(h[1]), html.UnescapeString(h[2]))
	}
	return action.RequestURI(), v
}

func randomString() string {
	var b [18]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
