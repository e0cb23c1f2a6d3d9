package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

func TestGetUserDefaultShape(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(t, request{method: "GET", target: "/v1.0/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd", token: "app-rw"})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := `{"@odata.context":"http://graph.test:8080/v1.0/$metadata#users/$entity",` +
		`"businessPhones":["+1 425 555 0109"],"displayName":"Adele \"AV\" Vance","givenName":"Adele","jobTitle":null,` +
		`"mail":"AdeleV@contoso.com","mobilePhone":null,"officeLocation":null,"preferredLanguage":null,"surname":null,` +
		`"userPrincipalName":"AdeleV@contoso.com","id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd"}`
	if got := w.Body.String(); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	h := w.Header()
	if h.Get("Content-Type") != contentTypeJSON || h.Get("OData-Version") != "4.0" || h.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", h)
	}
	if a.users.key != "87d349ed-44d7-43e1-9a83-5f2406dee5bd" {
		t.Errorf("key = %q", a.users.key)
	}
}

func TestSelectShape(t *testing.T) {
	created := time.Date(2024, 5, 1, 10, 0, 0, 0, time.FixedZone("x", 2*3600))
	frac := time.Date(2024, 5, 1, 10, 0, 0, 120000000, time.UTC)
	tests := []struct {
		name, target, token string
		mod                 func(u *directory.User)
		want                string
	}{
		{name: "entity", target: "/v1.0/users/x@contoso.com?$select=DisplayName,givenName", token: "app-rw",
			want: `{"@odata.context":"http://graph.test:8080/v1.0/$metadata#users(displayName,givenName)/$entity","displayName":"Adele \"AV\" Vance","givenName":"Adele"}`},
		{name: "me", target: "/v1.0/me?$select=displayName,mail,id", token: "user-rw",
			want: `{"@odata.context":"http://graph.test:8080/v1.0/$metadata#users(displayName,mail,id)/$entity","displayName":"Adele \"AV\" Vance","mail":"AdeleV@contoso.com","id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd"}`},
		{name: "types", target: "/v1.0/users/x@contoso.com?$select=accountEnabled,createdDateTime,lastPasswordChangeDateTime,otherMails,identities,city", token: "app-rw",
			mod: func(u *directory.User) {
				u.CreatedDateTime = &created
				u.LastPasswordChangeDateTime = &frac
				u.Identities = []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "a@b.com"}}
			},
			want: `{"@odata.context":"http://graph.test:8080/v1.0/$metadata#users(accountEnabled,createdDateTime,lastPasswordChangeDateTime,otherMails,identities,city)/$entity",` +
				`"accountEnabled":true,"createdDateTime":"2024-05-01T08:00:00Z","lastPasswordChangeDateTime":"2024-05-01T10:00:00.12Z","otherMails":[],` +
				`"identities":[{"signInType":"emailAddress","issuer":"contoso.onmicrosoft.com","issuerAssignedId":"a@b.com"},{"signInType":"userPrincipalName","issuer":"contoso.com","issuerAssignedId":"AdeleV@contoso.com"}],"city":null}`},
		{name: "repeat and spaces", target: "/v1.0/users/x@contoso.com?$select=" + url.QueryEscape("id, ID ,mail"), token: "app-rw",
			want: `{"@odata.context":"http://graph.test:8080/v1.0/$metadata#users(id,mail)/$entity","id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd","mail":"AdeleV@contoso.com"}`},
		{name: "escaping", target: "/v1.0/users/x@contoso.com?$select=displayName", token: "app-rw",
			mod:  func(u *directory.User) { u.DisplayName = ptr("a\x01\n\\</b>\u2028\xff") },
			want: `{"@odata.context":"http://graph.test:8080/v1.0/$metadata#users(displayName)/$entity","displayName":"a\u0001\n\\</b>\u2028\ufffd"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTestAPI(t)
			if tt.mod != nil {
				tt.mod(a.users.user)
			}
			w := a.do(t, request{method: "GET", target: tt.target, token: tt.token})
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got := w.Body.String(); got != tt.want {
				t.Errorf("body\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Errorf("invalid JSON")
			}
		})
	}
}

func TestListUsers(t *testing.T) {
	a := newTestAPI(t)
	u2 := sampleUser()
	u2.ID = "99999999-0000-0000-0000-000000000000"
	a.users.page = &directory.Page{Users: []*directory.User{a.users.user, u2}, Next: &directory.Cursor{ID: u2.ID}}
	w := a.do(t, request{method: "GET", target: "/v1.0/users?$select=id,displayName&$top=2&foo=bar", token: "app-rw"})
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	var body struct {
		Context  string           `json:"@odata.context"`
		NextLink string           `json:"@odata.nextLink"`
		Value    []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Context != "http://graph.test:8080/v1.0/$metadata#users(id,displayName)" {
		t.Errorf("context = %q", body.Context)
	}
	if len(body.Value) != 2 || len(body.Value[0]) != 2 || body.Value[1]["id"] != u2.ID {
		t.Errorf("value = %v", body.Value)
	}
	if !reflect.DeepEqual(a.users.query, directory.ListQuery{Top: 2}) {
		t.Errorf("query = %+v", a.users.query)
	}
	prefix := "http://graph.test:8080/v1.0/users?$select=id,displayName&$top=2&foo=bar&$skiptoken="
	if !strings.HasPrefix(body.NextLink, prefix) {
		t.Fatalf("nextLink = %q", body.NextLink)
	}
	token := strings.TrimPrefix(body.NextLink, prefix)
	if strings.Contains(w.Body.String(), `"@odata.nextLink"`) && strings.Index(w.Body.String(), "nextLink") > strings.Index(w.Body.String(), `"value"`) {
		t.Errorf("nextLink must precede value")
	}

	// Following the link continues after the last user, with the same options.
	a.users.page = &directory.Page{}
	next := strings.TrimPrefix(body.NextLink, "http://graph.test:8080")
	w = a.do(t, request{method: "GET", target: next, token: "app-rw"})
	if w.Code != 200 {
		t.Fatalf("next page: %d %s", w.Code, w.Body)
	}
	if !reflect.DeepEqual(a.users.query, directory.ListQuery{Top: 2, After: &directory.Cursor{ID: u2.ID}}) {
		t.Errorf("query = %+v", a.users.query)
	}
	if strings.Contains(w.Body.String(), "nextLink") {
		t.Errorf("last page has a nextLink: %s", w.Body)
	}
	// Option names fold; non-$ parameters do not matter.
	w = a.do(t, request{method: "GET", target: "/v1.0/users?$SELECT=id,displayName&$Top=2&$skiptoken=" + token, token: "app-rw"})
	if w.Code != 200 {
		t.Errorf("case-folded options: %d %s", w.Code, w.Body)
	}

	tampered := []byte(token)
	tampered[3] ^= 1
	for name, target := range map[string]string{
		"other select":  "/v1.0/users?$select=id&$top=2&$skiptoken=" + token,
		"other top":     "/v1.0/users?$select=id,displayName&$top=3&$skiptoken=" + token,
		"no options":    "/v1.0/users?$skiptoken=" + token,
		"tampered":      "/v1.0/users?$select=id,displayName&$top=2&$skiptoken=" + string(tampered),
		"truncated":     "/v1.0/users?$select=id,displayName&$top=2&$skiptoken=" + token[:len(token)-2],
		"not base64":    "/v1.0/users?$select=id,displayName&$top=2&$skiptoken=%25%25%25",
		"empty":         "/v1.0/users?$skiptoken=",
		"huge":          "/v1.0/users?$skiptoken=" + strings.Repeat("A", 5000),
		"forged":        "/v1.0/users?$select=id,displayName&$top=2&$skiptoken=" + (skipTokenSigner{key: []byte("other")}).Sign(tenantA, mustShape(t, "$select=id,displayName&$top=2"), &directory.Cursor{ID: u2.ID}),
		"other tenant:": "/v1.0/users?$select=id,displayName&$top=2&$skiptoken=" + token + "#b",
	} {
		t.Run(name, func(t *testing.T) {
			a.users.calls = nil
			tok := "app-rw"
			if strings.HasSuffix(target, "#b") {
				target, tok = strings.TrimSuffix(target, "#b"), "app-rw-b"
			}
			w := a.do(t, request{method: "GET", target: target, token: tok})
			checkEnvelope(t, w, 400, "Request_BadRequest")
			if len(a.users.called()) != 0 {
				t.Errorf("service called")
			}
		})
	}
}

func mustShape(t *testing.T, raw string) [32]byte {
	q, err := parseQuery(raw, collectionOptions)
	if err != nil {
		t.Fatal(err)
	}
	return q.shapeHash()
}

func TestListDefaultShape(t *testing.T) {
	a := newTestAPI(t)
	a.users.page = &directory.Page{Users: []*directory.User{{ID: "87d349ed-44d7-43e1-9a83-5f2406dee5bd"}}}
	w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-read"})
	want := `{"@odata.context":"http://graph.test:8080/v1.0/$metadata#users","value":[{"businessPhones":[],"displayName":null,"givenName":null,"jobTitle":null,"mail":null,"mobilePhone":null,"officeLocation":null,"preferredLanguage":null,"surname":null,"userPrincipalName":null,"id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd"}]}`
	if w.Code != 200 || w.Body.String() != want {
		t.Errorf("%d\n got %s\nwant %s", w.Code, w.Body, want)
	}
	if a.users.query.Top != 100 {
		t.Errorf("default top = %d", a.users.query.Top)
	}
	a.do(t, request{method: "GET", target: "/v1.0/users?$top=999", token: "app-read"})
	if a.users.query.Top != 999 {
		t.Errorf("top = %d", a.users.query.Top)
	}
}

func TestQueryOptionErrors(t *testing.T) {
	tests := []struct {
		target, code, message string
	}{
		{"/v1.0/users?$top=0", "Request_UnsupportedQuery", "Invalid page size specified: '0'. Must be between 1 and 999 inclusive."},
		{"/v1.0/users?$top=1000", "Request_UnsupportedQuery", "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive."},
		{"/v1.0/users?$top=-1", "Request_UnsupportedQuery", "Invalid page size specified: '-1'."},
		{"/v1.0/users?$top=ten", "Request_UnsupportedQuery", "Invalid page size specified: 'ten'."},
		{"/v1.0/users?$top=99999999999999999999999", "Request_UnsupportedQuery", "Invalid page size"},
		{"/v1.0/users?$skip=-1", "BadRequest", "Invalid $skip value: '-1'."},
		{"/v1.0/users?$filter=" + url.QueryEscape("(displayName eq 'a'"), "BadRequest", "Invalid filter clause: syntax error at position 19: expected ')', found end of input."},
		{"/v1.0/users?$ORDERBY=displayName%20sideways", "BadRequest", "Invalid $orderby clause: syntax error at position 12"},
		{"/v1.0/users?$count=yes", "BadRequest", "Invalid $count value"},
		{"/v1.0/users?$search=%22displayName:a", "BadRequest", "Invalid $search clause: syntax error at position 14: search phrase not terminated."},
		// user declares no navigation property in $metadata (expand.go).
		{"/v1.0/users?$expand=manager", "BadRequest", "Parsing OData Select and Expand failed: Could not find a property named 'manager' on type 'microsoft.graph.user'."},
		{"/v1.0/users?$expand=MemberOf($select=id)", "BadRequest", "Could not find a property named 'MemberOf' on type 'microsoft.graph.user'."},
		{"/v1.0/users?$expand=*,manager", "BadRequest", "Could not find a property named 'manager'"},
		{"/v1.0/users?$expand=", "BadRequest", "An identifier was expected at position 0."},
		{"/v1.0/users?$expand=*,", "BadRequest", "An identifier was expected at position 2."},
		{"/v1.0/users?$expand=manager(", "BadRequest", "unbalanced bracket"},
		{"/v1.0/users?$expand=*)", "BadRequest", "unbalanced bracket"},
		{"/v1.0/users?$expand=*&$EXPAND=*", "Request_BadRequest", "more than once"},
		{"/v1.0/users/$count?$expand=*", "BadRequest", "'$expand' is not allowed"},
		{"/v1.0/users?$bogus=1", "Request_BadRequest", "Unrecognized query argument specified: '$bogus'."},
		{"/v1.0/users?$top=5&$TOP=6", "Request_BadRequest", "more than once"},
		{"/v1.0/users?$select=id&$select=mail", "Request_BadRequest", "more than once"},
		{"/v1.0/users?$select=nope", "Request_UnsupportedQuery", "Property 'nope' does not exist as a declared property or extension property."},
		{"/v1.0/users?$select=passwordProfile", "Request_UnsupportedQuery", "Property 'passwordProfile' does not exist as a declared property or extension property."},
		{"/v1.0/users?$select=id,,mail", "BadRequest", "empty"},
		{"/v1.0/users?$format=xml", "Request_UnsupportedQuery", "Format"},
		{"/v1.0/users?$top=%zz", "BadRequest", "percent-encoded"},
		{"/v1.0/users/x@contoso.com?$top=5", "BadRequest", "'$top' is not allowed"},
		{"/v1.0/users/x@contoso.com?$skiptoken=abc", "BadRequest", "not allowed"},
		{"/v1.0/users/x@contoso.com?$select=passwordProfile", "Request_UnsupportedQuery", "Property 'passwordProfile' does not exist"},
		{"/v1.0/me?$filter=x", "BadRequest", "'$filter' is not allowed"},
		{"/v1.0/me?$expand=manager", "BadRequest", "Could not find a property named 'manager' on type 'microsoft.graph.user'."},
		{"/v1.0/users/x@contoso.com?$count=true", "BadRequest", "'$count' is not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			a := newTestAPI(t)
			token := "app-rw"
			if strings.HasPrefix(tt.target, "/v1.0/me") {
				token = "user-rw"
			}
			w := a.do(t, request{method: "GET", target: tt.target, token: token})
			e := checkEnvelope(t, w, 400, tt.code)
			if msg, _ := e["message"].(string); !strings.Contains(msg, tt.message) {
				t.Errorf("message = %q, want %q", msg, tt.message)
			}
			if len(a.users.called()) != 0 {
				t.Errorf("service called: %v", a.users.called())
			}
		})
	}
}

func TestUserKeyForms(t *testing.T) {
	tests := []struct {
		target, key string
	}{
		{"/v1.0/users/AdeleV_adatum.com%23EXT%23@contoso.com", "AdeleV_adatum.com#EXT#@contoso.com"},
		{"/v1.0/users('AdeleV_adatum.com%23EXT%23@contoso.com')", "AdeleV_adatum.com#EXT#@contoso.com"},
		{"/v1.0/users('$weird@contoso.com')", "$weird@contoso.com"},
		{"/v1.0/users(%27$weird@contoso.com%27)", "$weird@contoso.com"},
		{"/v1.0/users('O''Brien@contoso.com')", "O'Brien@contoso.com"},
		{"/v1.0/users('a%2Fb@contoso.com')", "a/b@contoso.com"},
		{"/v1.0/users/a%2Fb@contoso.com", "a/b@contoso.com"},
		{"/v1.0/users(87d349ed-44d7-43e1-9a83-5f2406dee5bd)", "87d349ed-44d7-43e1-9a83-5f2406dee5bd"},
		{"/v1.0/users('$count')", "$count"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			a := newTestAPI(t)
			for _, method := range []string{"GET", "PATCH", "DELETE"} {
				r := request{method: method, target: tt.target, token: "app-rw"}
				if method == "PATCH" {
					r.body = []byte(`{"jobTitle":"x"}`)
				}
				w := a.do(t, r)
				if w.Code >= 300 {
					t.Fatalf("%s: %d %s", method, w.Code, w.Body)
				}
				if a.users.key != tt.key {
					t.Errorf("%s key = %q, want %q", method, a.users.key, tt.key)
				}
			}
		})
	}
	a := newTestAPI(t)
	for target, status := range map[string]int{"/v1.0/users/$ref": 404, "/v1.0/users('a'b')": 400, "/v1.0/users('x')/manager": 404} {
		w := a.do(t, request{method: "GET", target: target, token: "app-rw"})
		if w.Code != status {
			t.Errorf("%s: %d %s", target, w.Code, w.Body)
		}
	}
	if len(a.users.called()) != 0 {
		t.Errorf("service called: %v", a.users.called())
	}
}

func TestCreateUser(t *testing.T) {
	a := newTestAPI(t)
	body := `{"@odata.type":"#microsoft.graph.user","accountEnabled":true,"displayName":"Adele","mailNickname":"AdeleV",` +
		`"userPrincipalName":"AdeleV@contoso.com","passwordProfile":{"forceChangePasswordNextSignIn":true,"password":"xWwvJ]6NMw+bWH-d"},` +
		`"identities":[{"signInType":"emailAddress","issuer":"contoso.onmicrosoft.com","issuerAssignedId":"a@b.com"}],"businessPhones":["1"],"mobilePhone":null}`
	w := a.do(t, request{method: "POST", target: "/v1.0/users", token: "app-rw", body: []byte(body),
		header: map[string]string{"Content-Type": "application/json; charset=UTF-8; odata.metadata=minimal"}})
	if w.Code != http.StatusCreated {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got := w.Header().Get("Location"); got != "http://graph.test:8080/v1.0/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd" {
		t.Errorf("Location = %q", got)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["@odata.context"] != "http://graph.test:8080/v1.0/$metadata#users/$entity" || len(got) != 12 || got["passwordProfile"] != nil {
		t.Errorf("body = %s", w.Body)
	}
	if strings.Contains(w.Body.String(), "xWwvJ") || strings.Contains(a.logs.String(), "xWwvJ") {
		t.Errorf("password leaked")
	}
	want := map[string]any{
		"accountEnabled":    ptr(true),
		"displayName":       ptr("Adele"),
		"mailNickname":      ptr("AdeleV"),
		"userPrincipalName": ptr("AdeleV@contoso.com"),
		"passwordProfile":   &directory.PasswordProfile{Password: ptr("xWwvJ]6NMw+bWH-d"), ForceChangePasswordNextSignIn: ptr(true)},
		"identities":        []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "a@b.com"}},
		"businessPhones":    []string{"1"},
		"mobilePhone":       (*string)(nil),
	}
	if !reflect.DeepEqual(a.users.values, want) {
		t.Errorf("values = %#v", a.users.values)
	}
}

func TestWritesReturnNoContent(t *testing.T) {
	tests := []struct {
		req  request
		call string
	}{
		{request{method: "PATCH", target: "/v1.0/users/x@contoso.com", token: "app-rw", body: []byte(`{"jobTitle":"Boss"}`)}, "UpdateUser"},
		{request{method: "PATCH", target: "/v1.0/me", token: "user-rw", body: []byte(`{"city":null}`)}, "UpdateMe"},
		{request{method: "DELETE", target: "/v1.0/users/x@contoso.com", token: "app-rw"}, "DeleteUser"},
	}
	for _, tt := range tests {
		t.Run(tt.call, func(t *testing.T) {
			a := newTestAPI(t)
			w := a.do(t, tt.req)
			if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
				t.Fatalf("%d %q", w.Code, w.Body)
			}
			if !guidRE.MatchString(w.Header().Get("request-id")) {
				t.Errorf("204 without request-id")
			}
			if got := a.users.called(); len(got) != 1 || got[0] != tt.call {
				t.Errorf("calls = %v", got)
			}
			if a.users.tenant != tenantA {
				t.Errorf("principal not in context")
			}
		})
	}
}

func TestGzipBody(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(t, request{method: "PATCH", target: "/v1.0/users/x@contoso.com", token: "app-rw",
		header: map[string]string{"Content-Encoding": "gzip"}, body: gzipBytes(t, []byte(`{"jobTitle":"Boss"}`))})
	if w.Code != http.StatusNoContent {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if v, _ := a.users.values["jobTitle"].(*string); v == nil || *v != "Boss" {
		t.Errorf("values = %v", a.users.values)
	}
}

func TestStrictBody(t *testing.T) {
	tests := []struct {
		name, body, code, message string
	}{
		{"unknown", `{"favouriteColour":"blue"}`, "Request_BadRequest", "Property 'favouriteColour' does not exist as a declared property or extension property."},
		{"case variant", `{"DisplayName":"x"}`, "Request_BadRequest", "did you mean 'displayName'"},
		{"duplicate", `{"displayName":"a","displayName":"b"}`, "Request_BadRequest", "displayName"},
		{"nested duplicate", `{"passwordProfile":{"password":"a","password":"b"}}`, "Request_BadRequest", "passwordProfile.password"},
		{"duplicate in identities", `{"identities":[{"issuer":"a","issuer":"b"}]}`, "Request_BadRequest", "issuer"},
		{"nested unknown", `{"passwordProfile":{"Password":"a"}}`, "Request_BadRequest", "passwordProfile.Password"},
		{"wrong type", `{"accountEnabled":"true"}`, "Request_BadRequest", "accountEnabled"},
		{"wrong collection", `{"businessPhones":"123"}`, "Request_BadRequest", "businessPhones"},
		{"read-only", `{"id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd"}`, "Request_BadRequest", "Property 'id' is read-only and cannot be set."},
		{"read-only createdDateTime", `{"createdDateTime":"2024-01-01T00:00:00Z"}`, "Request_BadRequest", "read-only"},
		{"trailing data", `{"displayName":"a"} {}`, "BadRequest", "after"},
		{"trailing garbage", `{"displayName":"a"}x`, "BadRequest", "Invalid JSON"},
		{"not an object", `["displayName"]`, "BadRequest", "JSON object"},
		{"empty", ``, "BadRequest", "ended"},
		{"invalid utf-8", "{\"displayName\":\"\xff\"}", "BadRequest", "UTF-8"},
		{"wrong odata.type", `{"@odata.type":"#microsoft.graph.group"}`, "Request_BadRequest", "@odata.type"},
		{"other annotation", `{"@odata.id":"x"}`, "Request_BadRequest", "'@odata.id' is not supported"},
		{"property annotation", `{"displayName@odata.type":"x"}`, "Request_BadRequest", "does not exist"},
	}
	for _, tt := range tests {
		for _, route := range []request{
			{method: "POST", target: "/v1.0/users", token: "app-rw"},
			{method: "PATCH", target: "/v1.0/users/x@contoso.com", token: "app-rw"},
			{method: "PATCH", target: "/v1.0/me", token: "user-rw"},
		} {
			t.Run(tt.name+" "+route.method+" "+route.target, func(t *testing.T) {
				a := newTestAPI(t)
				route.body = []byte(tt.body)
				w := a.do(t, route)
				e := checkEnvelope(t, w, 400, tt.code)
				if msg, _ := e["message"].(string); !strings.Contains(msg, tt.message) {
					t.Errorf("message = %q, want %q", msg, tt.message)
				}
				if len(a.users.called()) != 0 {
					t.Errorf("service called: %v", a.users.called())
				}
			})
		}
	}
}

func TestRequestIDs(t *testing.T) {
	a := newTestAPI(t)
	w1 := a.do(t, request{method: "GET", target: "/healthz", header: map[string]string{"client-request-id": "f58cc4de-b427-41de-b37c-46ee4925a26d", "request-id": "attacker"}})
	if w1.Header().Get("client-request-id") != "f58cc4de-b427-41de-b37c-46ee4925a26d" {
		t.Errorf("client-request-id not echoed: %v", w1.Header())
	}
	rid := w1.Header().Get("request-id")
	if !guidRE.MatchString(rid) || rid == "attacker" {
		t.Errorf("request-id = %q", rid)
	}
	w2 := a.do(t, request{method: "GET", target: "/healthz"})
	if w2.Header().Get("client-request-id") != w2.Header().Get("request-id") || w2.Header().Get("request-id") == rid {
		t.Errorf("ids = %v", w2.Header())
	}
	w3 := a.do(t, request{method: "GET", target: "/v1.0/users", header: map[string]string{"client-request-id": strings.Repeat("x", 200)}})
	e := checkEnvelope(t, w3, 401, "InvalidAuthenticationToken")
	if inner := e["innerError"].(map[string]any); inner["client-request-id"] != w3.Header().Get("request-id") {
		t.Errorf("oversized client-request-id echoed: %v", inner)
	}
	w4 := a.do(t, request{method: "GET", target: "/v1.0/me", token: "user-rw", header: map[string]string{"client-request-id": "abc-123"}})
	if w4.Code != 200 || w4.Header().Get("client-request-id") != "abc-123" {
		t.Errorf("%d %v", w4.Code, w4.Header())
	}
}

func TestAccessLogOmitsSecrets(t *testing.T) {
	a := newTestAPI(t)
	a.do(t, request{method: "PATCH", target: "/v1.0/users/secret.person@contoso.com?$format=json", token: "app-rw",
		body: []byte(`{"passwordProfile":{"password":"Sup3r-Secret!pw"}}`)})
	a.do(t, request{method: "GET", target: "/v1.0/users", token: "garbage-token-value"})
	logs := a.logs.String()
	for _, secret := range []string{"Sup3r-Secret", "garbage-token-value", "app-rw", "Bearer", "secret.person"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q: %s", secret, logs)
		}
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(logs, "\n", 2)[0]), &line); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"msg": "request", "method": "PATCH", "route": "/v1.0/users/:key", "status": float64(204),
		"tenant_id": tenantA, "app_id": "app-1"} {
		if line[k] != v {
			t.Errorf("log %s = %v, want %v", k, line[k], v)
		}
	}
	if !guidRE.MatchString(line["request_id"].(string)) {
		t.Errorf("log request_id = %v", line["request_id"])
	}
}

func TestWellKnownAndHealth(t *testing.T) {
	a := newTestAPI(t)
	for target, want := range map[string]string{
		"/" + tenantA + "/discovery/v2.0/keys":                   `{"keys":[]}`,
		"/" + tenantA + "/v2.0/.well-known/openid-configuration": `{"issuer":"x"}`,
		"/healthz": `{"status":"ok"}`,
		"/readyz":  `{"status":"ready"}`,
	} {
		w := a.do(t, request{method: "GET", target: target})
		if w.Code != 200 || w.Body.String() != want {
			t.Errorf("%s: %d %s", target, w.Code, w.Body)
		}
	}
	w := a.do(t, request{method: "GET", target: "/" + tenantB + "/discovery/v2.0/keys"})
	checkEnvelope(t, w, 404, "Request_ResourceNotFound")
	w = a.do(t, request{method: "GET", target: "/v1.0/discovery/v2.0/keys", token: "app-rw"})
	checkEnvelope(t, w, 404, "Request_ResourceNotFound")

	down := newTestAPI(t, func(o *Options) {
		o.Ready = func(context.Context) error { return errBoom }
		o.Issuer = nil
	})
	w = down.do(t, request{method: "GET", target: "/readyz"})
	checkEnvelope(t, w, 503, "serviceNotAvailable")
	if strings.Contains(w.Body.String(), "10.0.0.7") || w.Header().Get("Retry-After") == "" {
		t.Errorf("readyz: %v %s", w.Header(), w.Body)
	}
	w = down.do(t, request{method: "GET", target: "/" + tenantA + "/discovery/v2.0/keys"})
	checkEnvelope(t, w, 404, "Request_ResourceNotFound")
}

func TestBaseURLOption(t *testing.T) {
	a := newTestAPI(t, func(o *Options) { o.BaseURL = &url.URL{Scheme: "https", Host: "graph.example.com"} })
	w := a.do(t, request{method: "GET", target: "/v1.0/me", token: "user-rw"})
	if !strings.HasPrefix(w.Body.String(), `{"@odata.context":"https://graph.example.com/v1.0/$metadata#users/$entity"`) {
		t.Errorf("body = %s", w.Body)
	}
}
