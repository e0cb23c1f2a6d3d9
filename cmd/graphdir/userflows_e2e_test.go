package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// User flows over HTTP: Graph's identity/authenticationEventsFlows with
// real tokens and PostgreSQL.

const flowsURL = "/v1.0/identity/authenticationEventsFlows"

// graphFlowBody is Graph's documented create example (Create
// authenticationEventsFlow, examples 2 and 3), with apps and attributes
// substituted.
func graphFlowBody(name string, apps []string, extra ...map[string]any) map[string]any {
	inc := []any{}
	for _, a := range apps {
		inc = append(inc, map[string]any{"appId": a})
	}
	attrs := []any{
		map[string]any{"id": "email", "displayName": "Email Address", "description": "Email address of the user", "userFlowAttributeType": "builtIn", "dataType": "string"},
		map[string]any{"id": "displayName", "displayName": "Display Name", "description": "Display Name of the User.", "userFlowAttributeType": "builtIn", "dataType": "string"},
	}
	inputs := []any{
		map[string]any{"attribute": "email", "label": "Email Address", "inputType": "Text", "hidden": true, "editable": false, "writeToDirectory": true, "required": true,
			"validationRegEx": "^[a-zA-Z0-9.!#$%&amp;&#8217;'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:.[a-zA-Z0-9-]+)*$"},
		map[string]any{"attribute": "displayName", "label": "Display Name", "inputType": "text", "hidden": false, "editable": true, "writeToDirectory": true, "required": false,
			"validationRegEx": "^[a-zA-Z_][0-9a-zA-Z_ ]*[0-9a-zA-Z_]+$"},
	}
	for _, e := range extra {
		attrs = append(attrs, e["attr"])
		inputs = append(inputs, e["input"])
	}
	return map[string]any{
		"@odata.type": "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow",
		"displayName": name,
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
			"@odata.type":             "#microsoft.graph.onAttributeCollectionExternalUsersSelfServiceSignUp",
			"attributes":              attrs,
			"attributeCollectionPage": map[string]any{"views": []any{map[string]any{"inputs": inputs}}},
		},
	}
}

// flowAuditCount counts the audit events of one activity.
func (s *stack) flowAuditCount(activity, result string) int {
	s.t.Helper()
	q := url.Values{"$filter": {"activityDisplayName eq '" + activity + "' and result eq '" + result + "'"}}
	r := s.do("GET", "/v1.0/auditLogs/directoryAudits?"+q.Encode(), s.appToken("AuditLog.Read.All"), nil)
	if r.Status != 200 {
		s.t.Fatalf("audit: %d %s", r.Status, r.Body)
	}
	return len(r.JSON(s.t)["value"].([]any))
}

func TestFlowCRUD_E2E(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	reader := s.appToken("EventListener.Read.All")
	mkApp := func(name string) map[string]any {
		r := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": name})
		if r.Status != 201 {
			t.Fatalf("create app: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	app1, app2 := mkApp("shop"), mkApp("club")
	ext := s.do("POST", "/v1.0/applications/"+app1["id"].(string)+"/extensionProperties", admin,
		map[string]any{"name": "Favoritecolor", "dataType": "String", "targetObjects": []string{"User"}}).JSON(t)
	extName := ext["name"].(string)
	color := map[string]any{
		"attr":  map[string]any{"id": extName, "displayName": "Favorite color", "description": "what is your favorite color", "userFlowAttributeType": "custom", "dataType": "string"},
		"input": map[string]any{"attribute": extName, "label": "Favorite color", "inputType": "text", "required": true, "validationRegEx": "^.*"},
	}

	// Create (Graph's example body), 201 with Location and Graph's shape.
	r := s.do("POST", flowsURL, admin, graphFlowBody("Woodgrove Drive User Flow", []string{app1["appId"].(string)}, color))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	f := r.JSON(t)
	id := f["id"].(string)
	if f["@odata.type"] != "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow" || f["priority"] != float64(500) ||
		!strings.HasSuffix(f["@odata.context"].(string), "$metadata#identity/authenticationEventsFlows/$entity") ||
		!strings.HasSuffix(r.Header.Get("Location"), flowsURL+"/"+id) || f["graphdirMfaRequired"] != false {
		t.Fatalf("create response: %s", r.Body)
	}
	col := f["onAttributeCollection"].(map[string]any)
	attrs := col["attributes"].([]any)
	inputs := col["attributeCollectionPage"].(map[string]any)["views"].([]any)[0].(map[string]any)["inputs"].([]any)
	if len(attrs) != 3 || attrs[2].(map[string]any)["userFlowAttributeType"] != "custom" || attrs[2].(map[string]any)["id"] != extName ||
		len(inputs) != 3 || inputs[0].(map[string]any)["inputType"] != "text" || inputs[2].(map[string]any)["required"] != true {
		t.Fatalf("attributes: %s", r.Body)
	}
	apps := f["conditions"].(map[string]any)["applications"].(map[string]any)
	if apps["includeAllApplications"] != false || fmt.Sprint(apps["includeApplications"]) != fmt.Sprintf("[map[appId:%s]]", app1["appId"]) {
		t.Fatalf("conditions: %s", r.Body)
	}
	idp := f["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"].([]any)[0].(map[string]any)
	if idp["@odata.type"] != "#microsoft.graph.builtInIdentityProvider" || idp["id"] != "EmailPassword-OAUTH" || idp["identityProviderType"] != "EmailPassword" {
		t.Fatalf("identity providers: %s", r.Body)
	}
	if n := s.flowAuditCount("Add user flow", "success"); n != 1 {
		t.Errorf("audit events of the create: %d", n)
	}

	// Read: every spelling, with a read-only permission.
	for _, p := range []string{"/" + id, "/" + id + "/microsoft.graph.externalUsersSelfServiceSignUpEventsFlow", "/" + id + "/graph.externalUsersSelfServiceSignUpEventsFlow", "('" + id + "')"} {
		if r := s.do("GET", flowsURL+p, reader, nil); r.Status != 200 || r.JSON(t)["id"] != id {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	if r := s.do("GET", flowsURL+"/"+id+"?$select=displayName", reader, nil); r.Status != 200 ||
		len(r.JSON(t)) != 4 || r.JSON(t)["displayName"] != "Woodgrove Drive User Flow" {
		t.Errorf("$select: %d %s", r.Status, r.Body)
	}
	second := s.do("POST", flowsURL, admin, graphFlowBody("Second flow", nil))
	if second.Status != 201 {
		t.Fatalf("second: %d %s", second.Status, second.Body)
	}
	secondID := second.JSON(t)["id"].(string)
	list := func(q string) []any {
		t.Helper()
		r := s.do("GET", flowsURL+q, reader, nil)
		if r.Status != 200 {
			t.Fatalf("list %s: %d %s", q, r.Status, r.Body)
		}
		return r.JSON(t)["value"].([]any)
	}
	if l := list(""); len(l) != 2 {
		t.Errorf("list: %v", l)
	}
	if l := list("/graph.externalUsersSelfServiceSignUpEventsFlow"); len(l) != 2 {
		t.Errorf("cast list: %v", l)
	}
	for q, want := range map[string]int{
		"displayName eq 'second flow'":                               1,
		"startsWith(displayName,'Wood') or id eq '" + secondID + "'": 2,
		"not (displayName eq 'Second flow')":                         1,
		"microsoft.graph.externalUsersSelfServiceSignUpEventsFlow/onAttributeCollection/microsoft.graph.onAttributeCollectionExternalUsersSelfServiceSignUp/attributes/any(a:a/id eq '" + extName + "')":                                     1,
		"microsoft.graph.externalUsersSelfServiceSignUpEventsFlow/conditions/applications/includeApplications/any(a:a/appId eq '" + app1["appId"].(string) + "')":                                                                            1,
		"microsoft.graph.externalUsersSelfServiceSignUpEventsFlow/onAuthenticationMethodLoadStart/microsoft.graph.onAuthenticationMethodLoadStartExternalUsersSelfServiceSignUp/identityProviders/any(idp:idp/id eq 'EmailOtpSignup-OAUTH')": 0,
	} {
		if l := list("?$filter=" + url.QueryEscape(q)); len(l) != want {
			t.Errorf("$filter=%s: %d flows, want %d", q, len(l), want)
		}
	}
	if r := s.do("GET", flowsURL+"?$count=true&$select=displayName", reader, nil); r.Status != 200 || r.JSON(t)["@odata.count"] != float64(2) {
		t.Errorf("$count: %d %s", r.Status, r.Body)
	}
	for _, q := range []string{"$filter=priority gt 3", "$orderby=description", "$orderby=id,displayName", "$top=0", "$top=1000", "$expand=x",
		"$select=nope", "$search=x", "$skip=1", "$skiptoken=forged"} {
		if r := s.do("GET", flowsURL+"?"+q, reader, nil); r.Status != 400 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}

	// Update: sign-in methods, sign-up, MFA, applications.
	patch := map[string]any{
		"@odata.type": "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow",
		"onAuthenticationMethodLoadStart": map[string]any{"identityProviders": []any{
			map[string]any{"id": "EmailOtpSignup-OAUTH"}, map[string]any{"@odata.type": "#microsoft.graph.builtInIdentityProvider", "id": "EmailPassword-OAUTH"}}},
		"onInteractiveAuthFlowStart": map[string]any{"isSignUpAllowed": false},
		"graphdirMfaRequired":        true,
		"description":                "For the shop",
	}
	if r := s.do("PATCH", flowsURL+"/"+id, admin, patch); r.Status != 204 {
		t.Fatalf("patch: %d %s", r.Status, r.Body)
	}
	g := s.do("GET", flowsURL+"/"+id, reader, nil).JSON(t)
	idps := g["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"].([]any)
	if len(idps) != 2 || idps[0].(map[string]any)["id"] != "EmailOtpSignup-OAUTH" || g["graphdirMfaRequired"] != true ||
		g["onInteractiveAuthFlowStart"].(map[string]any)["isSignUpAllowed"] != false || g["description"] != "For the shop" ||
		len(g["onAttributeCollection"].(map[string]any)["attributes"].([]any)) != 3 {
		t.Fatalf("after patch: %v", g)
	}

	// includeApplications.
	appsURL := flowsURL + "/" + id + "/conditions/applications/includeApplications"
	if r := s.do("POST", appsURL, admin, map[string]any{"@odata.type": "#microsoft.graph.authenticationConditionApplication", "appId": app2["appId"]}); r.Status != 201 || r.JSON(t)["appId"] != app2["appId"] {
		t.Fatalf("add app: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", appsURL, reader, nil); r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 2 {
		t.Errorf("list apps: %d %s", r.Status, r.Body)
	}
	// An application belongs to one flow.
	r = s.do("POST", flowsURL+"/"+secondID+"/conditions/applications/includeApplications", admin, map[string]any{"appId": app2["appId"]})
	if r.Status != 400 || !strings.Contains(string(r.Body), "one user flow only") {
		t.Errorf("app in two flows: %d %s", r.Status, r.Body)
	}
	for _, body := range []any{map[string]any{"appId": "00000000-0000-4000-8000-000000000000"}, map[string]any{"appId": "x"}, map[string]any{}, map[string]any{"appId": app2["appId"], "extra": 1}} {
		if r := s.do("POST", appsURL, admin, body); r.Status != 400 {
			t.Errorf("add %v: %d %s", body, r.Status, r.Body)
		}
	}
	if r := s.do("DELETE", appsURL+"/"+app2["appId"].(string), admin, nil); r.Status != 204 {
		t.Errorf("remove app: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", appsURL+"/"+app2["appId"].(string), admin, nil); r.Status != 404 {
		t.Errorf("remove app again: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", flowsURL+"/"+secondID+"/graph.externalUsersSelfServiceSignUpEventsFlow/conditions/applications/includeApplications", admin,
		map[string]any{"appId": app2["appId"]}); r.Status != 201 {
		t.Errorf("app free again (cast path): %d %s", r.Status, r.Body)
	}

	// Permissions: a reader cannot write; the refusal is audited.
	if r := s.do("PATCH", flowsURL+"/"+id, reader, patch); r.Status != 403 {
		t.Errorf("reader patch: %d", r.Status)
	}
	if r := s.do("GET", flowsURL, s.appToken("Application.ReadWrite.All"), nil); r.Status != 403 {
		t.Errorf("list without EventListener: %d", r.Status)
	}
	if n := s.flowAuditCount("Update user flow", "failure"); n < 1 {
		t.Errorf("refused update not audited")
	}

	// Delete.
	if r := s.do("DELETE", flowsURL+"/"+id, admin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	for _, m := range []string{"GET", "DELETE"} {
		if r := s.do(m, flowsURL+"/"+id, admin, nil); r.Status != 404 || r.ErrorCode(t) != "Request_ResourceNotFound" {
			t.Errorf("%s deleted: %d %s", m, r.Status, r.Body)
		}
	}
	if n := s.flowAuditCount("Delete user flow", "success"); n != 1 {
		t.Errorf("delete audited %d times", n)
	}

	// Tenant isolation: another tenant's admin sees nothing.
	otherTenant := s.newTenant("fabrikam.example")
	other := s.appTokenIn(otherTenant, "EventListener.ReadWrite.All")
	if r := s.do("GET", flowsURL+"/"+secondID, other, nil); r.Status != 404 {
		t.Errorf("flow of another tenant: %d", r.Status)
	}
	if r := s.do("GET", flowsURL, other, nil); r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 0 {
		t.Errorf("list of another tenant: %s", r.Body)
	}
}

// TestFlowValidation_E2E: every bad body is a Graph 400 naming the
// property, and writes nothing.
func TestFlowValidation_E2E(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	app := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "a"}).JSON(t)
	if r := s.do("POST", flowsURL, admin, graphFlowBody("Taken", nil)); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	mutate := func(edit func(b map[string]any)) map[string]any {
		b := graphFlowBody("New", nil)
		edit(b)
		return b
	}
	idps := func(ids ...any) func(b map[string]any) {
		return func(b map[string]any) {
			var list []any
			for _, id := range ids {
				list = append(list, map[string]any{"id": id})
			}
			b["onAuthenticationMethodLoadStart"] = map[string]any{"identityProviders": list}
		}
	}
	input := func(in map[string]any) func(b map[string]any) {
		return func(b map[string]any) {
			b["onAttributeCollection"] = map[string]any{"attributeCollectionPage": map[string]any{"views": []any{map[string]any{"inputs": []any{in}}}}}
		}
	}
	cases := []struct {
		name string
		body any
		want string // the property the message names
	}{
		{"unknown key", mutate(func(b map[string]any) { b["colour"] = "red" }), "colour"},
		{"case-variant key", mutate(func(b map[string]any) { b["DisplayName"] = "x" }), "DisplayName"},
		{"wrong @odata.type", mutate(func(b map[string]any) { b["@odata.type"] = "#microsoft.graph.user" }), "@odata.type"},
		{"missing @odata.type", mutate(func(b map[string]any) { delete(b, "@odata.type") }), "@odata.type"},
		{"wrong nested @odata.type", mutate(func(b map[string]any) {
			b["onInteractiveAuthFlowStart"] = map[string]any{"@odata.type": "#microsoft.graph.x", "isSignUpAllowed": true}
		}), "@odata.type"},
		{"displayName not a string", mutate(func(b map[string]any) { b["displayName"] = 7 }), "displayName"},
		{"displayName missing", mutate(func(b map[string]any) { delete(b, "displayName") }), "displayName"},
		{"displayName taken", mutate(func(b map[string]any) { b["displayName"] = "TAKEN" }), "displayName"},
		{"id read-only", mutate(func(b map[string]any) { b["id"] = "x" }), "id"},
		{"social provider", mutate(idps("Google-OAUTH")), "identityProviders"},
		{"no provider", mutate(idps()), "identityProviders"},
		{"provider not a string", mutate(idps(5)), "id"},
		{"isSignUpAllowed missing", mutate(func(b map[string]any) { b["onInteractiveAuthFlowStart"] = map[string]any{} }), "isSignUpAllowed"},
		{"isSignUpAllowed string", mutate(func(b map[string]any) { b["onInteractiveAuthFlowStart"] = map[string]any{"isSignUpAllowed": "yes"} }), "isSignUpAllowed"},
		{"unknown attribute", mutate(input(map[string]any{"attribute": "favoriteColor"})), "attribute"},
		{"missing extension", mutate(input(map[string]any{"attribute": "extension_" + strings.ReplaceAll(app["appId"].(string), "-", "") + "_nope"})), "attribute"},
		{"bad regex", mutate(input(map[string]any{"attribute": "city", "validationRegEx": "(["})), "validationRegEx"},
		{"bad inputType", mutate(input(map[string]any{"attribute": "city", "inputType": "slider"})), "inputType"},
		{"required not bool", mutate(input(map[string]any{"attribute": "city", "required": "true"})), "required"},
		{"input unknown key", mutate(input(map[string]any{"attribute": "city", "mandatory": true})), "mandatory"},
		{"includeAllApplications", mutate(func(b map[string]any) {
			b["conditions"] = map[string]any{"applications": map[string]any{"includeAllApplications": true}}
		}), "includeAllApplications"},
		{"unknown app", mutate(func(b map[string]any) {
			b["conditions"] = map[string]any{"applications": map[string]any{"includeApplications": []any{map[string]any{"appId": "11111111-1111-4111-8111-111111111111"}}}}
		}), "includeApplications"},
		{"mfa not bool", mutate(func(b map[string]any) { b["graphdirMfaRequired"] = "yes" }), "graphdirMfaRequired"},
		{"onAttributeCollectionStart set", mutate(func(b map[string]any) { b["onAttributeCollectionStart"] = map[string]any{} }), "onAttributeCollectionStart"},
		{"userTypeToCreate guest", mutate(func(b map[string]any) { b["onUserCreateStart"] = map[string]any{"userTypeToCreate": "guest"} }), "userTypeToCreate"},
		{"duplicate key", `{"@odata.type":"#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow","displayName":"a","displayName":"b"}`, "displayName"},
		{"not an object", `[1,2]`, ""},
		{"deep nesting", strings.Repeat(`{"a":`, 10000) + "1" + strings.Repeat("}", 10000), ""},
		{"invalid UTF-8", "{\"@odata.type\":\"#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow\",\"displayName\":\"\xff\"}", ""},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			before := s.flowsSnapshot()
			r := s.do("POST", flowsURL, admin, tt.body)
			if r.Status != 400 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			r.ErrorCode(t)
			if tt.want != "" && !strings.Contains(string(r.Body), tt.want) {
				t.Errorf("error does not name %q: %s", tt.want, r.Body)
			}
			if s.flowsSnapshot() != before {
				t.Error("a refused create wrote")
			}
		})
	}
	// Every refused create is in the audit log once, as a failure.
	if n := s.flowAuditCount("Add user flow", "failure"); n != len(cases) {
		t.Errorf("%d refused creates audited, want %d", n, len(cases))
	}
	// PATCH refuses the same way, and an unknown or malformed id is 404.
	if r := s.do("PATCH", flowsURL+"/"+app["id"].(string), admin, map[string]any{"@odata.type": "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow", "displayName": "x"}); r.Status != 404 {
		t.Errorf("patch unknown: %d %s", r.Status, r.Body)
	}
	for _, id := range []string{"nope", "%27%3B--", strings.Repeat("a", 300)} {
		for _, m := range []string{"GET", "DELETE"} {
			if r := s.do(m, flowsURL+"/"+id, admin, nil); r.Status != 404 {
				t.Errorf("%s %s: %d %s", m, id, r.Status, r.Body)
			}
		}
	}
	if r := s.do("POST", flowsURL, admin, graphFlowBody("x", nil), "Content-Type", "text/plain"); r.Status >= 500 {
		t.Errorf("content type: %d", r.Status)
	}
}

// flowsSnapshot fingerprints the flow tables.
func (s *stack) flowsSnapshot() string {
	s.t.Helper()
	var out string
	err := s.db.store.DB().QueryRow(`SELECT coalesce(md5(string_agg(f::text, '|' ORDER BY f.id)), '') ||
		(SELECT coalesce(md5(string_agg(l::text, '|' ORDER BY l.app_id)), '') FROM user_flow_applications l) FROM user_flows f`).Scan(&out)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// TestFlowConcurrentPatches_E2E: PATCHes of different properties racing on
// one flow all land (each is a read-modify-write of the whole flow; none
// overwrites another).
func TestFlowConcurrentPatches_E2E(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("EventListener.ReadWrite.All")
	r := s.do("POST", flowsURL, admin, graphFlowBody("Racy", nil))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	const typ = "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow"
	patches := []map[string]any{
		{"@odata.type": typ, "description": "changed"},
		{"@odata.type": typ, "graphdirMfaRequired": true},
		{"@odata.type": typ, "priority": 7},
		{"@odata.type": typ, "onInteractiveAuthFlowStart": map[string]any{"isSignUpAllowed": false}},
		{"@odata.type": typ, "onAuthenticationMethodLoadStart": map[string]any{"identityProviders": []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}}},
	}
	statuses := make(chan int, len(patches))
	for _, p := range patches {
		go func() { statuses <- s.do("PATCH", flowsURL+"/"+id, admin, p).Status }()
	}
	for range patches {
		if st := <-statuses; st != 204 {
			t.Errorf("concurrent PATCH: %d", st)
		}
	}
	g := s.do("GET", flowsURL+"/"+id, admin, nil).JSON(t)
	if g["description"] != "changed" || g["graphdirMfaRequired"] != true || g["priority"] != float64(7) ||
		g["onInteractiveAuthFlowStart"].(map[string]any)["isSignUpAllowed"] != false ||
		g["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"].([]any)[0].(map[string]any)["id"] != "EmailOtpSignup-OAUTH" {
		t.Errorf("a concurrent PATCH was lost: %v", g)
	}
}

// TestFlowHostileInput_E2E throws odd values at every level of a flow
// body, the includeApplications body, ids and query strings: a 2xx for
// the few that are valid, otherwise a Graph error envelope, never a 5xx.
// (TestFlowValidation_E2E checks that refused writes write nothing.)
func TestFlowHostileInput_E2E(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	r := s.do("POST", flowsURL, admin, graphFlowBody("Target", nil))
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	id := r.JSON(t)["id"].(string)
	weird := []any{nil, true, 0, -1, 1e300, "", strings.Repeat("x", 5000), "\u0000", []any{}, []any{nil}, map[string]any{}, map[string]any{"x": 1}}
	keys := []string{"displayName", "description", "priority", "conditions", "onAuthenticationMethodLoadStart", "onInteractiveAuthFlowStart",
		"onAttributeCollection", "onUserCreateStart", "graphdirMfaRequired", "onAttributeCollectionStart", "id"}
	nested := []func(v any) map[string]any{
		func(v any) map[string]any {
			return map[string]any{"onAuthenticationMethodLoadStart": map[string]any{"identityProviders": []any{map[string]any{"id": v}}}}
		},
		func(v any) map[string]any {
			return map[string]any{"onAttributeCollection": map[string]any{"attributeCollectionPage": map[string]any{"views": v}}}
		},
		func(v any) map[string]any {
			return map[string]any{"onAttributeCollection": map[string]any{"attributeCollectionPage": map[string]any{"views": []any{map[string]any{"inputs": []any{map[string]any{"attribute": "city", "options": v}}}}}}}
		},
		func(v any) map[string]any {
			return map[string]any{"onAttributeCollection": map[string]any{"attributes": []any{map[string]any{"id": v}}}}
		},
		func(v any) map[string]any {
			return map[string]any{"conditions": map[string]any{"applications": map[string]any{"includeApplications": []any{map[string]any{"appId": v}}}}}
		},
	}
	check := func(method, path string, body any) {
		t.Helper()
		r := s.do(method, path, admin, body)
		if r.Status >= 500 {
			t.Fatalf("%s %s %v: %d %s", method, path, body, r.Status, r.Body)
		}
		if r.Status >= 400 {
			r.ErrorCode(t)
		}
	}
	for _, v := range weird {
		for _, k := range keys {
			b := map[string]any{"@odata.type": "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow", k: v}
			check("PATCH", flowsURL+"/"+id, b)
		}
		for _, f := range nested {
			b := f(v)
			b["@odata.type"] = "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow"
			check("PATCH", flowsURL+"/"+id, b)
		}
		check("POST", flowsURL+"/"+id+"/conditions/applications/includeApplications", map[string]any{"appId": v})
	}
	for _, p := range []string{"/%00", "/" + id + "/conditions/applications/includeApplications/%27", "/" + strings.Repeat("%41", 2000),
		"?$filter=" + strings.Repeat("(", 500), "?$filter=displayName%20eq%20null", "?$select=" + strings.Repeat("id,", 2000) + "id", "?$count=maybe"} {
		check("GET", flowsURL+p, nil)
		check("DELETE", flowsURL+p, nil)
	}
}

// TestFlowPaging_E2E: $orderby, $top and @odata.nextLink over flows and a
// flow's applications; a link is bound to its query and its tenant.
func TestFlowPaging_E2E(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	var apps []string
	for i := 0; i < 5; i++ {
		r := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": fmt.Sprintf("p%d", i)})
		apps = append(apps, r.JSON(t)["appId"].(string))
	}
	names := []string{"delta", "Alpha", "charlie", "Bravo", "echo"}
	for i, n := range names {
		var linked []string
		if i == 0 {
			linked = apps
		}
		b := graphFlowBody(n, linked)
		b["priority"] = 10 - i
		if r := s.do("POST", flowsURL, admin, b); r.Status != 201 {
			t.Fatalf("create %s: %d %s", n, r.Status, r.Body)
		}
	}
	walk := func(url string, key string) []string {
		t.Helper()
		var got []string
		for pages := 0; url != ""; pages++ {
			if pages > 10 {
				t.Fatal("nextLink loops")
			}
			r := s.do("GET", url, admin, nil)
			if r.Status != 200 {
				t.Fatalf("GET %s: %d %s", url, r.Status, r.Body)
			}
			m := r.JSON(t)
			for _, v := range m["value"].([]any) {
				got = append(got, v.(map[string]any)[key].(string))
			}
			url, _ = m["@odata.nextLink"].(string)
			if url != "" && !strings.Contains(url, "$skiptoken=") {
				t.Fatalf("nextLink without $skiptoken: %s", url)
			}
		}
		return got
	}
	if got := walk(flowsURL+"?$orderby=displayName&$top=2&$select=displayName", "displayName"); fmt.Sprint(got) != "[Alpha Bravo charlie delta echo]" {
		t.Errorf("by displayName, 2 a page: %v", got)
	}
	if got := walk(flowsURL+"?$orderby=priority%20desc&$top=3", "displayName"); fmt.Sprint(got) != "[delta Alpha charlie Bravo echo]" {
		t.Errorf("by priority desc: %v", got)
	}
	appsURL := func(q string) string {
		r := s.do("GET", flowsURL+"?$filter=displayName%20eq%20'delta'", admin, nil)
		return flowsURL + "/" + r.JSON(t)["value"].([]any)[0].(map[string]any)["id"].(string) + "/conditions/applications/includeApplications" + q
	}
	want := append([]string(nil), apps...)
	slices.Sort(want)
	slices.Reverse(want)
	if got := walk(appsURL("?$orderby=appId%20desc&$top=2"), "appId"); !slices.Equal(got, want) {
		t.Errorf("applications by appId desc: %v, want %v", got, want)
	}
	r := s.do("GET", appsURL("?$count=true&$filter=appId%20eq%20'"+apps[2]+"'%20or%20appId%20eq%20'"+apps[3]+"'&$select=appId"), admin, nil)
	if r.Status != 200 || r.JSON(t)["@odata.count"] != float64(2) {
		t.Errorf("applications $filter/$count: %d %s", r.Status, r.Body)
	}
	// A nextLink is bound to its query and to the tenant.
	first := s.do("GET", flowsURL+"?$top=1", admin, nil).JSON(t)
	next := first["@odata.nextLink"].(string)
	if r := s.do("GET", strings.Replace(next, "$top=1", "$top=2", 1), admin, nil); r.Status != 400 {
		t.Errorf("nextLink with another $top: %d %s", r.Status, r.Body)
	}
	other := s.appTokenIn(s.newTenant("fabrikam.example"), "EventListener.Read.All")
	if r := s.do("GET", next, other, nil); r.Status != 400 {
		t.Errorf("nextLink in another tenant: %d %s", r.Status, r.Body)
	}
}
