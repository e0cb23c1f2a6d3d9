package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/password"
)

// The sign-up sequence the SDK runs when signUp() gets no password
// (reference §2.4 (b)), as a client would send it with curl: start ->
// challenge (oob) -> continue(oob) -> credential_required -> challenge
// (password) -> continue(weak password) -> password_too_weak -> the same
// token with a good password -> attributes_required -> continue
// (attributes) -> completed. The account is then a LocalAccount with an
// emailAddress identity in the tenant's issuer, visible in /users, delta
// and the audit trail.
func TestNativeSignUp_CurlSequence(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	const email = "new.one@example.com"

	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", "oob password redirect")))
	if len(start) != 1 {
		t.Fatalf("start answers only the token: %v", start)
	}
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", "oob password redirect")))
	if ch["challenge_type"] != "oob" || ch["code_length"] != float64(8) || ch["challenge_channel"] != "email" ||
		ch["challenge_target_label"] != "n***@e***.com" || ch["binding_method"] != "prompt" || ch["interval"].(float64) < 1 {
		t.Fatalf("challenge: %v", ch)
	}
	codeCT := ct(t, ch)
	code := n.code(email)

	// A wrong code keeps the token: the SDK retries with it.
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", codeCT, "grant_type", "oob", "oob", wrongCode(code))),
		400, "invalid_grant", 50181, "invalid_oob_value")
	e := nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", codeCT, "grant_type", "oob", "oob", code)),
		400, "credential_required", 55103, "")
	credCT := ct(t, e)
	// The token of the step that succeeded is spent.
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", codeCT, "grant_type", "oob", "oob", code)),
		400, "invalid_request", 55200, "")

	pw := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", credCT, "challenge_type", "oob password redirect")))
	if pw["challenge_type"] != "password" {
		t.Fatalf("challenge after credential_required: %v", pw)
	}
	pwCT := ct(t, pw)
	for _, c := range []struct{ pw, sub string }{
		{"weakpassword", "password_too_weak"}, {"Ab1!", "password_too_short"}, {strings.Repeat("Ab1!", 65), "password_too_long"},
	} {
		nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", pwCT, "grant_type", "password", "password", c.pw)),
			400, "invalid_grant", 399246, c.sub)
	}
	e = nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", pwCT, "grant_type", "password", "password", "Str0ng!Passw0rd")),
		400, "attributes_required", 55106, "")
	req, _ := e["required_attributes"].([]any)
	if len(req) != 1 || req[0].(map[string]any)["name"] != "displayName" || req[0].(map[string]any)["required"] != true {
		t.Fatalf("required_attributes: %v", e)
	}
	attrCT := ct(t, e)
	done := ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", attrCT, "grant_type", "attributes", "attributes", `{"displayName":"New One"}`)))
	ct(t, done)

	// The account, through Graph.
	r := n.do("GET", "/v1.0/users?$filter="+url.QueryEscape("identities/any(i:i/issuer eq 'graphdir.test' and i/issuerAssignedId eq '"+email+"')")+
		"&$select=id,displayName,creationType,identities,mail,userPrincipalName", n.admin, nil)
	users := ok(t, r)["value"].([]any)
	if len(users) != 1 {
		t.Fatalf("users: %s", r.Body)
	}
	u := users[0].(map[string]any)
	ids := mustJSON(t, u["identities"])
	if u["creationType"] != "LocalAccount" || u["displayName"] != "New One" || u["mail"] != email ||
		!strings.Contains(ids, `{"issuer":"graphdir.test","issuerAssignedId":"new.one@example.com","signInType":"emailAddress"}`) {
		t.Fatalf("user: %s", r.Body)
	}
	id := u["id"].(string)
	// The password was set (and only its hash kept).
	if h := n.passwordHash(email); password.Verify(h, "Str0ng!Passw0rd") != nil {
		t.Fatalf("the account's password hash does not verify the chosen password")
	}
	// Delta reports it.
	r = n.do("GET", "/v1.0/users/delta?$select=displayName", n.admin, nil)
	if ok(t, r) == nil || !strings.Contains(string(r.Body), id) {
		t.Fatalf("delta does not report the new user: %s", r.Body)
	}
	// One audit event, initiated by the application.
	r = n.do("GET", "/v1.0/auditLogs/directoryAudits?$filter="+url.QueryEscape("activityDisplayName eq 'Add user' and result eq 'success'"), n.admin, nil)
	evs := ok(t, r)["value"].([]any)
	found := 0
	for _, ev := range evs {
		m := ev.(map[string]any)
		if strings.Contains(mustJSON(t, m["targetResources"]), id) {
			found++
			if !strings.Contains(mustJSON(t, m["initiatedBy"]), n.appID) {
				t.Errorf("audit initiator: %v", m["initiatedBy"])
			}
		}
	}
	if found != 1 {
		t.Fatalf("%d audit events for the sign-up: %s", found, r.Body)
	}

	// The same email again: user_already_exists at start.
	nativeErr(t, n.post("/signup/v1.0/start", n.form("username", "New.One@example.com", "challenge_type", "oob password redirect")),
		400, "user_already_exists", 1003037, "")
	// The completed token does not go back into the flow.
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", attrCT, "grant_type", "attributes", "attributes", `{"displayName":"Other"}`)),
		400, "invalid_request", 55200, "")
}

// Sign-up with password and attributes at start, through a user flow
// that collects a required city with a pattern: the code completes it when
// everything is valid; a bad attribute is attribute_validation_failed
// with invalid_attributes and keeps the token.
func TestNativeSignUp_AttributesFromTheUserFlow(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	n.newFlow([]string{n.appID}, nil, map[string]any{
		"attr":  map[string]any{"id": "city", "displayName": "City", "description": "The city in which the user is located.", "userFlowAttributeType": "builtIn", "dataType": "string"},
		"input": map[string]any{"attribute": "city", "label": "City", "inputType": "text", "required": true, "editable": true, "validationRegEx": "^[A-Za-z ]+$"},
	})
	const email = "city@example.com"
	types := "oob password redirect"

	// Invalid at start: the pattern refuses the city.
	e := nativeErr(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Ci Ty","city":"Paris 75"}`)), 400, "invalid_grant", 0, "attribute_validation_failed")
	if mustJSON(t, e["invalid_attributes"]) != `[{"name":"city"}]` {
		t.Fatalf("invalid_attributes: %v", e)
	}
	// A weak password at start.
	nativeErr(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "password")), 400, "invalid_grant", 399246, "password_too_weak")

	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Ci Ty"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	e = nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email))),
		400, "attributes_required", 55106, "")
	req := e["required_attributes"].([]any)
	if len(req) != 1 || req[0].(map[string]any)["name"] != "city" || req[0].(map[string]any)["options"].(map[string]any)["regex"] != "^[A-Za-z ]+$" {
		t.Fatalf("required_attributes: %v", e)
	}
	attrCT := ct(t, e)
	for _, bad := range []string{`{"city":"9 9"}`, `{"city":"` + strings.Repeat("a", 2000) + `"}`, `{"displayName":"` + strings.Repeat("x", 300) + `"}`} {
		nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", attrCT, "grant_type", "attributes", "attributes", bad)),
			400, "invalid_grant", 0, "attribute_validation_failed")
	}
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", attrCT, "grant_type", "attributes", "attributes", `["city"]`)),
		400, "invalid_request", 0, "")
	// Same token after the errors; an attribute the flow does not collect is ignored.
	ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", attrCT, "grant_type", "attributes", "attributes", `{"city":"Lyon","jobTitle":"x"}`))))

	r := n.do("GET", "/v1.0/users?$filter="+url.QueryEscape("mail eq '"+email+"'")+"&$select=city,jobTitle,displayName,creationType", n.admin, nil)
	u := ok(t, r)["value"].([]any)[0].(map[string]any)
	if u["city"] != "Lyon" || u["jobTitle"] != nil || u["displayName"] != "Ci Ty" || u["creationType"] != "LocalAccount" {
		t.Fatalf("user: %s", r.Body)
	}
}

// A user flow with email one-time codes only: the account gets no
// password and sign-up never asks for one; a flow closed to sign-up
// refuses to start; a client that cannot take codes is sent to the web.
func TestNativeSignUp_FlowDecidesMethods(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	n.newFlow([]string{n.appID}, func(b map[string]any) {
		b["onAuthenticationMethodLoadStart"].(map[string]any)["identityProviders"] = []any{map[string]any{"id": "EmailOtpSignup-OAUTH"}}
	})
	const email = "otp.only@example.com"
	// redirect when the client lists no oob.
	if m := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", "password redirect"))); m["challenge_type"] != "redirect" || m["continuation_token"] != nil {
		t.Fatalf("start without oob: %v", m)
	}
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", "oob password redirect", "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Otp Only"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", "oob password redirect")))
	ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email)))))
	if h := n.passwordHash(email); h != "" {
		t.Fatalf("an email-code account has no password, got a hash")
	}

	closed := n.newApp("closed", map[string]any{"nativeAuthenticationApisEnabled": "all", "isFallbackPublicClient": true})
	n.newFlow([]string{closed}, func(b map[string]any) {
		b["onInteractiveAuthFlowStart"].(map[string]any)["isSignUpAllowed"] = false
	})
	f := n.form("username", "x@example.com", "challenge_type", "oob password redirect")
	f.Set("client_id", closed)
	nativeErr(t, n.post("/signup/v1.0/start", f), 400, "unauthorized_client", 1003039, "")
}

// The application checks and the parameter checks of every endpoint.
func TestNativeAuth_ClientAndParameterErrors(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	disabled := n.newApp("not native", map[string]any{"isFallbackPublicClient": true})
	confidential := n.newApp("web app", map[string]any{"nativeAuthenticationApisEnabled": "all",
		"web": map[string]any{"redirectUris": []string{"https://shop.example/cb"}}})
	endpoints := []string{"/signup/v1.0/start", "/signup/v1.0/challenge", "/signup/v1.0/continue", "/resetpassword/v1.0/start",
		"/resetpassword/v1.0/challenge", "/resetpassword/v1.0/continue", "/resetpassword/v1.0/submit", "/resetpassword/v1.0/poll_completion",
		"/register/v1.0/introspect", "/register/v1.0/challenge", "/register/v1.0/continue"}
	for _, ep := range endpoints {
		f := url.Values{"client_id": {"00000000-0000-0000-0000-00000000beef"}, "username": {"a@example.com"}, "challenge_type": {"oob redirect"}}
		nativeErr(t, n.post(ep, f), 400, "unauthorized_client", 700016, "")
		f.Set("client_id", "not-a-guid")
		nativeErr(t, n.post(ep, f), 400, "unauthorized_client", 700016, "")
		f.Set("client_id", disabled)
		nativeErr(t, n.post(ep, f), 400, "invalid_client", 500208, "nativeauthapi_disabled")
		f.Set("client_id", confidential)
		nativeErr(t, n.post(ep, f), 400, "invalid_client", 500208, "nativeauthapi_disabled")
		f.Del("client_id")
		nativeErr(t, n.post(ep, f), 400, "invalid_request", 900144, "")
	}
	for _, ep := range []string{"/signup/v1.0/start", "/resetpassword/v1.0/start"} {
		nativeErr(t, n.post(ep, n.form("username", "a@example.com", "challenge_type", "oob password")), 400, "unsupported_challenge_type", 901007, "")
		nativeErr(t, n.post(ep, n.form("username", "a@example.com")), 400, "invalid_request", 900144, "")
		for _, u := range []string{"", "not-an-email", "a@b", "Jane <a@example.com>", strings.Repeat("a", 250) + "@example.com", strings.Repeat("a", 53) + "@example.com"} {
			m := nativeErr(t, n.post(ep, n.form("username", u, "challenge_type", "oob redirect")), 400, "invalid_request", 90100, "")
			if !strings.Contains(m["error_description"].(string), "username parameter is empty or not valid") {
				t.Fatalf("invalid username description: %v", m)
			}
		}
	}
	for _, ep := range endpoints[1:] {
		if strings.HasSuffix(ep, "/start") {
			continue
		}
		f := n.form("challenge_type", "oob redirect", "grant_type", "oob", "oob", "12345678", "new_password", "Str0ng!Passw0rd")
		nativeErr(t, n.post(ep, f), 400, "invalid_request", 900144, "")
		f.Set("continuation_token", "gdf1.AAAA")
		nativeErr(t, n.post(ep, f), 400, "invalid_request", 55200, "")
	}
	// Unknown grant types.
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", "g@example.com", "challenge_type", "oob password redirect")))
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, start), "grant_type", "client_credentials")), 400, "unsupported_grant_type", 70003, "")
	nativeErr(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, start), "grant_type", "oob", "oob", "12345678")), 400, "invalid_request", 55200, "")
}

func TestNativeAuth_MethodsOtherThanPost(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		r := n.do(m, "/"+n.tenant+"/signup/v1.0/start", "", nil)
		if r.Status != http.StatusMethodNotAllowed || r.JSON(t)["error"] != "invalid_request" || r.Header.Get("Allow") != "POST, OPTIONS" {
			t.Fatalf("%s: %d %s %v", m, r.Status, r.Body, r.Header)
		}
	}
}

// Extension attributes a user flow collects are written to the account
// through the extension definitions, typed: an Integer one takes digits
// and refuses anything else as attribute_validation_failed.
func TestNativeSignUp_ExtensionAttributes(t *testing.T) {
	t.Parallel()
	n := newNativeStack(t)
	r := n.do("GET", "/v1.0/applications(appId='"+n.appID+"')?$select=id", n.admin, nil)
	objID := ok(t, r)["id"].(string)
	mk := func(name, typ string) string {
		r := n.do("POST", "/v1.0/applications/"+objID+"/extensionProperties", n.admin,
			map[string]any{"name": name, "dataType": typ, "targetObjects": []string{"User"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("extension: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["name"].(string)
	}
	color, age := mk("Favoritecolor", "String"), mk("Age", "Integer")
	n.newFlow([]string{n.appID}, nil,
		map[string]any{"attr": map[string]any{"id": color, "displayName": "Favorite color", "description": "c", "userFlowAttributeType": "custom", "dataType": "string"},
			"input": map[string]any{"attribute": color, "label": "Favorite color", "inputType": "text", "required": true}},
		map[string]any{"attr": map[string]any{"id": age, "displayName": "Age", "description": "a", "userFlowAttributeType": "custom", "dataType": "int64"},
			"input": map[string]any{"attribute": age, "label": "Age", "inputType": "text", "required": false}},
	)
	const email = "ext@example.com"
	types := "oob password redirect"
	e := nativeErr(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Ext User","`+color+`":"blue","`+age+`":"forty"}`)), 400, "invalid_grant", 0, "attribute_validation_failed")
	if mustJSON(t, e["invalid_attributes"]) != `[{"name":"`+age+`"}]` {
		t.Fatalf("invalid_attributes: %v", e)
	}
	start := ok(t, n.post("/signup/v1.0/start", n.form("username", email, "challenge_type", types, "password", "Str0ng!Passw0rd",
		"attributes", `{"displayName":"Ext User","`+color+`":"blue","`+age+`":"42"}`)))
	ch := ok(t, n.post("/signup/v1.0/challenge", n.form("continuation_token", ct(t, start), "challenge_type", types)))
	ct(t, ok(t, n.post("/signup/v1.0/continue", n.form("continuation_token", ct(t, ch), "grant_type", "oob", "oob", n.code(email)))))
	r = n.do("GET", "/v1.0/users?$filter="+url.QueryEscape("mail eq '"+email+"'")+"&$select=displayName,"+color+","+age, n.admin, nil)
	u := ok(t, r)["value"].([]any)[0].(map[string]any)
	if u[color] != "blue" || u[age] != float64(42) {
		t.Fatalf("user: %s", r.Body)
	}
}
