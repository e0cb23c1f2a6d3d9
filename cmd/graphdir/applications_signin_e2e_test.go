package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// badRequestNaming asserts a Graph 400 whose target and message name prop.
func badRequestNaming(t *testing.T, r *response, prop string) {
	t.Helper()
	if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "Request_BadRequest" {
		t.Fatalf("want 400 Request_BadRequest naming %s, got %d %s", prop, r.Status, r.Body)
	}
	e := r.JSON(t)["error"].(map[string]any)
	if e["target"] != prop || !strings.Contains(e["message"].(string), prop) {
		t.Fatalf("error does not name %s: %s", prop, r.Body)
	}
}

func TestApplicationSignIn_CreatePatchSelect(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All")
	reader := s.appToken("AuditLog.Read.All")

	res := s.do("POST", "/v1.0/applications", admin, map[string]any{
		"displayName": "shop SPA",
		"spa":         map[string]any{"redirectUris": []string{"https://shop.example/cb", "http://localhost:5173/"}},
		"requiredResourceAccess": []any{map[string]any{
			"resourceAppId": "00000003-0000-0000-c000-000000000000",
			"resourceAccess": []any{
				map[string]any{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"},
				map[string]any{"id": "37f7f235-527c-4136-accd-4a02d197296e", "type": "Scope"},
				map[string]any{"id": "7427e0e9-2fba-42fe-b0c0-848c9e6a8182", "type": "Scope"},
			},
		}},
		"nativeAuthenticationApisEnabled": "all",
		"isFallbackPublicClient":          true,
	})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	app := res.JSON(t)
	id, appID := app["id"].(string), app["appId"].(string)
	if mustJSON(t, app["spa"]) != `{"redirectUris":["https://shop.example/cb","http://localhost:5173/"]}` ||
		mustJSON(t, app["publicClient"]) != `{"redirectUris":[]}` ||
		mustJSON(t, app["web"]) != `{"homePageUrl":null,"implicitGrantSettings":{"enableAccessTokenIssuance":false,"enableIdTokenIssuance":false},"logoutUrl":null,"redirectUriSettings":[],"redirectUris":[]}` ||
		app["nativeAuthenticationApisEnabled"] != "all" || app["isFallbackPublicClient"] != true ||
		mustJSON(t, app["requiredResourceAccess"]) != `[{"resourceAccess":[{"id":"37f7f235-527c-4136-accd-4a02d197296e","type":"Scope"},{"id":"7427e0e9-2fba-42fe-b0c0-848c9e6a8182","type":"Scope"},{"id":"e1fe6dd8-ba31-4d61-89e7-88639da4683d","type":"Scope"}],"resourceAppId":"00000003-0000-0000-c000-000000000000"}]` ||
		mustJSON(t, app["passwordCredentials"]) != "[]" {
		t.Fatalf("created: %s", res.Body)
	}
	ev := s.oneAudit(reader, res, "Add application", "success", "")
	for _, p := range []string{"spa", "requiredResourceAccess", "nativeAuthenticationApisEnabled", "isFallbackPublicClient"} {
		if _, ok := modified(t, ev)[p]; !ok {
			t.Errorf("audit of create does not list %s: %v", p, ev)
		}
	}

	// PATCH replaces a complex property whole and leaves the others.
	res = s.do("PATCH", "/v1.0/applications/"+id, admin, map[string]any{
		"web":          map[string]any{"redirectUris": []string{"https://shop.example/signin-oidc"}, "logoutUrl": "https://shop.example/logout"},
		"publicClient": map[string]any{"redirectUris": []string{"msal" + appID + "://auth", "com.example.shop://callback"}},
	})
	if res.Status != http.StatusNoContent {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	ev = s.oneAudit(reader, res, "Update application", "success", "")
	if m := modified(t, ev); m["web"] == nil || m["publicClient"] == nil || target(t, ev)["id"] != id {
		t.Fatalf("audit of patch: %v", ev)
	}
	res = s.do("PATCH", "/v1.0/applications/appId='"+appID+"'", admin, map[string]any{
		"web": map[string]any{"redirectUris": []string{"https://shop.example/signin-oidc"}}, "nativeAuthenticationApisEnabled": nil,
		"isFallbackPublicClient": nil,
	})
	if res.Status != http.StatusNoContent {
		t.Fatalf("patch 2: %d %s", res.Status, res.Body)
	}
	sel := "spa,web,publicClient,requiredResourceAccess,nativeAuthenticationApisEnabled,isFallbackPublicClient"
	res = s.do("GET", "/v1.0/applications/"+id+"?$select="+sel, admin, nil)
	got := res.JSON(t)
	if res.Status != 200 || len(got) != 8 || got["displayName"] != nil ||
		mustJSON(t, got["web"]) != `{"homePageUrl":null,"implicitGrantSettings":{"enableAccessTokenIssuance":false,"enableIdTokenIssuance":false},"logoutUrl":null,"redirectUriSettings":[],"redirectUris":["https://shop.example/signin-oidc"]}` ||
		mustJSON(t, got["publicClient"]) != `{"redirectUris":["msal`+appID+`://auth","com.example.shop://callback"]}` ||
		got["nativeAuthenticationApisEnabled"] != nil || got["isFallbackPublicClient"] != nil || len(got["spa"].(map[string]any)["redirectUris"].([]any)) != 2 ||
		!strings.HasSuffix(got["@odata.context"].(string), "$metadata#applications("+sel+")/$entity") {
		t.Fatalf("after patches, $select: %d %s", res.Status, res.Body)
	}
	// The GET body can be sent back as it is.
	res = s.do("GET", "/v1.0/applications/"+id+"?$select=web,spa,publicClient,requiredResourceAccess", admin, nil)
	back := res.JSON(t)
	delete(back, "@odata.context")
	delete(back, "id")
	if res = s.do("PATCH", "/v1.0/applications/"+id, admin, back); res.Status != http.StatusNoContent {
		t.Fatalf("round trip: %d %s", res.Status, res.Body)
	}
	// requiredResourceAccess: [] (or null) withdraws the consent.
	if res = s.do("PATCH", "/v1.0/applications/"+id, admin, `{"requiredResourceAccess":null,"spa":null}`); res.Status != http.StatusNoContent {
		t.Fatalf("clear: %d %s", res.Status, res.Body)
	}
	res = s.do("GET", "/v1.0/applications?$select=requiredResourceAccess,spa&$filter="+url.QueryEscape("appId eq '"+appID+"'"), admin, nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), `"requiredResourceAccess":[],"spa":{"redirectUris":[]}`) {
		t.Fatalf("after clearing: %d %s", res.Status, res.Body)
	}
}

func TestApplicationSignIn_ValidationNamesTheProperty(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All")
	res := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "target"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	id := res.JSON(t)["id"].(string)
	many := make([]string, 257)
	for i := range many {
		many[i] = fmt.Sprintf("https://app.example/cb/%d", i)
	}
	graph := "00000003-0000-0000-c000-000000000000"
	cases := []struct {
		name, prop string
		body       any
	}{
		{"http non-loopback", "spa.redirectUris", map[string]any{"spa": map[string]any{"redirectUris": []string{"http://app.example/cb"}}}},
		{"fragment", "web.redirectUris", map[string]any{"web": map[string]any{"redirectUris": []string{"https://app.example/cb#x"}}}},
		{"wildcard", "spa.redirectUris", map[string]any{"spa": map[string]any{"redirectUris": []string{"https://*.app.example/cb"}}}},
		{"relative", "publicClient.redirectUris", map[string]any{"publicClient": map[string]any{"redirectUris": []string{"/cb"}}}},
		{"custom scheme on spa", "spa.redirectUris", map[string]any{"spa": map[string]any{"redirectUris": []string{"com.example.app://cb"}}}},
		{"javascript on publicClient", "publicClient.redirectUris", map[string]any{"publicClient": map[string]any{"redirectUris": []string{"javascript:alert(1)"}}}},
		{"too long", "spa.redirectUris", map[string]any{"spa": map[string]any{"redirectUris": []string{"https://app.example/" + strings.Repeat("a", 250)}}}},
		{"257 URIs", "web.redirectUris", map[string]any{"web": map[string]any{"redirectUris": many}}},
		{"duplicate", "spa.redirectUris", map[string]any{"spa": map[string]any{"redirectUris": []string{"https://a.example/cb", "https://a.example/cb"}}}},
		{"one URI on two platforms", "web.redirectUris", map[string]any{"spa": map[string]any{"redirectUris": []string{"https://a.example/cb"}}, "web": map[string]any{"redirectUris": []string{"https://a.example/cb"}}}},
		{"logoutUrl http", "web.logoutUrl", map[string]any{"web": map[string]any{"logoutUrl": "http://app.example/bye"}}},
		{"logoutUrl fragment", "web.logoutUrl", map[string]any{"web": map[string]any{"logoutUrl": "https://app.example/bye#x"}}},
		{"redirectUris not an array", "spa.redirectUris", map[string]any{"spa": map[string]any{"redirectUris": "https://a.example/cb"}}},
		{"unknown member of spa", "spa.redirectUri", map[string]any{"spa": map[string]any{"redirectUri": []string{}}}},
		{"spa not an object", "spa", map[string]any{"spa": []string{"https://a.example/cb"}}},
		{"implicit grant", "web.implicitGrantSettings", map[string]any{"web": map[string]any{"implicitGrantSettings": map[string]any{"enableIdTokenIssuance": true}}}},
		{"native auth enum", "nativeAuthenticationApisEnabled", map[string]any{"nativeAuthenticationApisEnabled": "All"}},
		{"native auth type", "nativeAuthenticationApisEnabled", map[string]any{"nativeAuthenticationApisEnabled": true}},
		{"fallback type", "isFallbackPublicClient", map[string]any{"isFallbackPublicClient": "yes"}},
		{"other resource", "requiredResourceAccess", map[string]any{"requiredResourceAccess": []any{map[string]any{"resourceAppId": "00000002-0000-0000-c000-000000000000", "resourceAccess": []any{}}}}},
		{"application permission as Role", "requiredResourceAccess", map[string]any{"requiredResourceAccess": []any{map[string]any{"resourceAppId": graph, "resourceAccess": []any{map[string]any{"id": "df021288-bdef-4463-88db-98f22de89214", "type": "Role"}}}}}},
		{"unknown scope id", "requiredResourceAccess", map[string]any{"requiredResourceAccess": []any{map[string]any{"resourceAppId": graph, "resourceAccess": []any{map[string]any{"id": "570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "type": "Scope"}}}}}},
		{"unknown member of resourceAccess", "requiredResourceAccess.resourceAccess.name", map[string]any{"requiredResourceAccess": []any{map[string]any{"resourceAppId": graph, "resourceAccess": []any{map[string]any{"name": "User.Read"}}}}}},
		{"requiredResourceAccess not an array", "requiredResourceAccess", map[string]any{"requiredResourceAccess": map[string]any{"resourceAppId": graph}}},
	}
	before := s.appsSnapshot()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			badRequestNaming(t, s.do("PATCH", "/v1.0/applications/"+id, admin, tc.body), tc.prop)
			create := map[string]any{"displayName": "refused"}
			if m, ok := tc.body.(map[string]any); ok {
				for k, v := range m {
					create[k] = v
				}
			}
			badRequestNaming(t, s.do("POST", "/v1.0/applications", admin, create), tc.prop)
		})
	}
	if s.appsSnapshot() != before {
		t.Fatal("a refused write changed the applications")
	}
	// A refused write is audited once as a failure, whether the handler
	// (shape) or directory (rule) refused it.
	reader := s.appToken("AuditLog.Read.All")
	for _, body := range []any{map[string]any{"spa": []string{"x"}}, map[string]any{"spa": map[string]any{"redirectUris": []string{"http://app.example/cb"}}}} {
		res := s.do("PATCH", "/v1.0/applications/"+id, admin, body)
		evs := s.auditsFor(reader, res.Header.Get("request-id"))
		if res.Status != http.StatusBadRequest || len(evs) != 1 || evs[0]["result"] != "failure" || evs[0]["activityDisplayName"] != "Update application" {
			t.Fatalf("refused PATCH %v: %d, audit %v", body, res.Status, evs)
		}
	}
	// Accepted: loopback http on every platform, custom schemes on
	// publicClient, 256 URIs in all.
	ok := map[string]any{
		"spa":          map[string]any{"redirectUris": []string{"http://localhost:3000/cb", "http://127.0.0.1:8080/cb"}},
		"web":          map[string]any{"redirectUris": append([]string{"http://[::1]:9000/cb"}, many[:251]...), "logoutUrl": "http://localhost:3000/bye"},
		"publicClient": map[string]any{"redirectUris": []string{"msal00000000-0000-0000-0000-000000000001://auth", "com.example.app:/oauth2redirect"}},
	}
	if res := s.do("PATCH", "/v1.0/applications/"+id, admin, ok); res.Status != http.StatusNoContent {
		t.Fatalf("valid URIs refused: %d %s", res.Status, res.Body)
	}
	// One more anywhere is the 257th.
	badRequestNaming(t, s.do("PATCH", "/v1.0/applications/"+id, admin, map[string]any{
		"spa": map[string]any{"redirectUris": []string{"http://localhost:3000/cb", "http://127.0.0.1:8080/cb", "https://one.more/cb"}}}), "spa.redirectUris")
}

// Hostile bodies get Graph 400s, never a 5xx, and change nothing.
func TestApplicationSignIn_HostileBodies(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All")
	res := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "target"})
	id := res.JSON(t)["id"].(string)
	before := s.appsSnapshot()
	bodies := []string{
		`{"spa":{"redirectUris":["https://a.example/cb"],"redirectUris":[]}}`,
		`{"spa":{"redirectUris":[null]}}`,
		`{"spa":{"redirectUris":[1,2]}}`,
		`{"spa":{"redirectUris":["https://a.example/\u0000"]}}`,
		`{"spa":{"redirectUris":["https://a.example/` + strings.Repeat("%", 5000) + `"]}}`,
		`{"spa":{"redirectUris":["` + strings.Repeat("x", 100000) + `"]}}`,
		`{"spa":{"redirectUris":[` + strings.Repeat(`"https://a.example/cb",`, 2000) + `"x"]}}`,
		`{"web":{"logoutUrl":{"x":1}}}`,
		`{"web":{"redirectUriSettings":[{"uri":"https://a.example/cb","index":0}]}}`,
		`{"web":{"homePageUrl":"https://a.example"}}`,
		`{"requiredResourceAccess":[` + strings.Repeat(`{"resourceAppId":"00000003-0000-0000-c000-000000000000","resourceAccess":[]},`, 60) + `{}]}`,
		`{"requiredResourceAccess":[{"resourceAppId":"00000003-0000-0000-c000-000000000000","resourceAccess":[{"id":"e1fe6dd8-ba31-4d61-89e7-88639da4683d","type":"Scope","type":"Role"}]}]}`,
		`{"requiredResourceAccess":[{"resourceAppId":null,"resourceAccess":[]}]}`,
		`{"requiredResourceAccess":[{"resourceAppId":"00000003-0000-0000-c000-000000000000"}]}`,
		`{"requiredResourceAccess":[{"resourceAppId":"00000003-0000-0000-c000-000000000000","resourceAccess":[{"id":"e1fe6dd8-ba31-4d61-89e7-88639da4683d","type":"Scope"},{"id":"E1FE6DD8-BA31-4D61-89E7-88639DA4683D","type":"Scope"}]}]}`,
		`{"requiredResourceAccess":[[]]}`,
		`{"nativeAuthenticationApisEnabled":"all ","spa":null}`,
		`{"Spa":{"redirectUris":[]}}`,
		`{"spa":{"redirectUris":["https://a.example/cb"]},"spa":null}`,
		`{"publicClient":{"redirectUris":["https://a.example/cb"]},"spa":{"redirectUris":["https://a.example/cb"]}}`,
	}
	for i, b := range bodies {
		res := s.do("PATCH", "/v1.0/applications/"+id, admin, b)
		if res.Status != http.StatusBadRequest {
			t.Errorf("body %d: %d %s", i, res.Status, res.Body)
			continue
		}
		res.ErrorCode(t)
	}
	if s.appsSnapshot() != before {
		t.Fatal("a refused write changed the applications")
	}
}

// A public client has no secret: it cannot get a token with one, and
// sign-in code sees it as public.
func TestApplicationSignIn_PublicClientHasNoSecret(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All")
	res := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "spa",
		"spa": map[string]any{"redirectUris": []string{"https://spa.example/"}}})
	if res.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	appID := res.JSON(t)["appId"].(string)
	for _, secret := range []string{"", "x", strings.Repeat("A", 40)} {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {appID}, "client_secret": {secret}, "scope": {"api://graphdir/.default"}}
		if code := s.postToken(s.tenant, form, nil).oauthError(t, http.StatusUnauthorized); code != "invalid_client" {
			t.Fatalf("secret %q: %s", secret, code)
		}
		if code := s.postToken(s.tenant, url.Values{"grant_type": {"client_credentials"}, "scope": {"api://graphdir/.default"}}, []string{appID, secret}).oauthError(t, http.StatusUnauthorized); code != "invalid_client" {
			t.Fatalf("basic secret %q: %s", secret, code)
		}
	}
}
