package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

var defaultProps = []string{"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName"}

func workforceUser(upn string) map[string]any {
	return map[string]any{
		"accountEnabled": true, "displayName": "Adele Vance", "mailNickname": "AdeleV", "userPrincipalName": upn,
		"passwordProfile": map[string]any{"forceChangePasswordNextSignIn": true, "password": "xWwvJ]6NMw+bWH-d"},
	}
}

func customer(domain, email string) map[string]any {
	return map[string]any{
		"displayName":      "Test Customer",
		"identities":       []any{map[string]any{"signInType": "emailAddress", "issuer": domain, "issuerAssignedId": email}},
		"mail":             email,
		"passwordProfile":  map[string]any{"password": "Str0ng!Passw0rd", "forceChangePasswordNextSignIn": false},
		"passwordPolicies": "DisablePasswordExpiration",
	}
}

func (s *stack) create(token string, body map[string]any) map[string]any {
	s.t.Helper()
	r := s.do("POST", "/v1.0/users", token, body)
	if r.Status != 201 {
		s.t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	return r.JSON(s.t)
}

// keys returns m's property names, without instance annotations such as
// @odata.etag (which clients ignore).
func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		if !strings.HasPrefix(k, "@odata.") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func TestCreateWorkforceUser(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	r := s.do("POST", "/v1.0/users", admin, workforceUser("AdeleV@contoso.com"))
	if r.Status != 201 {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	u := r.JSON(t)
	if got := u["@odata.context"]; got != s.srv.URL+"/v1.0/$metadata#users/$entity" {
		t.Errorf("@odata.context = %v", got)
	}
	delete(u, "@odata.context")
	if !slices.Equal(keys(u), defaultProps) {
		t.Errorf("properties = %v, want the 11 defaults", keys(u))
	}
	if u["userPrincipalName"] != "AdeleV@contoso.com" || u["givenName"] != nil || fmt.Sprint(u["businessPhones"]) != "[]" {
		t.Errorf("unexpected values: %v", u)
	}
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/v1.0/users/"+u["id"].(string)) {
		t.Errorf("Location = %q", loc)
	}
	if bytes.Contains(r.Body, []byte("password")) {
		t.Errorf("response mentions the password: %s", r.Body)
	}
	var hash string
	if err := s.db.store.DB().QueryRow(`SELECT password_hash FROM users WHERE id = $1`, u["id"]).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, "xWwvJ") {
		t.Errorf("stored password is not an argon2id hash: %q", hash)
	}
}

func TestCreateCustomer(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	u := s.create(admin, customer(s.domain, "jane@example.com"))
	id := u["id"].(string)
	if u["userPrincipalName"] != id+"@"+s.domain {
		t.Errorf("generated UPN = %v, want {id}@%s", u["userPrincipalName"], s.domain)
	}
	r := s.do("GET", "/v1.0/users/"+id+"?$select=id,identities,accountEnabled,creationType,mailNickname,createdDateTime", admin, nil)
	if r.Status != 200 {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}
	got := r.JSON(t)
	if got["@odata.context"] != s.srv.URL+"/v1.0/$metadata#users(id,identities,accountEnabled,creationType,mailNickname,createdDateTime)/$entity" {
		t.Errorf("@odata.context = %v", got["@odata.context"])
	}
	if got["accountEnabled"] != true || got["creationType"] != "LocalAccount" || got["mailNickname"] == nil || got["createdDateTime"] == nil {
		t.Errorf("defaults not applied: %s", r.Body)
	}
	ids := fmt.Sprint(got["identities"])
	if !strings.Contains(ids, "jane@example.com") || !strings.Contains(ids, "userPrincipalName") {
		t.Errorf("identities = %s", ids)
	}
}

func TestCreateRejectsAndWritesNothing(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	s.create(admin, workforceUser("taken@contoso.com"))
	s.create(admin, customer(s.domain, "taken@example.com"))
	before := s.snapshot()

	with := func(mut func(m map[string]any)) map[string]any {
		m := workforceUser("new@contoso.com")
		mut(m)
		return m
	}
	tests := []struct {
		name   string
		body   any
		code   string
		target string // substring the message must contain
	}{
		{"duplicate UPN in other case", workforceUser("TAKEN@Contoso.COM"), "Request_BadRequest", "userPrincipalName"},
		{"duplicate identity in other case", customer(s.domain, "Taken@Example.com"), "Request_BadRequest", "identities"},
		{"unknown property", with(func(m map[string]any) { m["favouriteColour"] = "red" }), "Request_BadRequest", "favouriteColour"},
		{"case-variant key", with(func(m map[string]any) { m["DisplayName"] = m["displayName"]; delete(m, "displayName") }), "Request_BadRequest", "DisplayName"},
		{"duplicate key", `{"accountEnabled":true,"displayName":"A","displayName":"B","mailNickname":"n","userPrincipalName":"n@contoso.com","passwordProfile":{"password":"xWwvJ]6NMw+bWH-d"}}`, "Request_BadRequest", "displayName"},
		{"wrong type", with(func(m map[string]any) { m["accountEnabled"] = "true" }), "Request_BadRequest", "accountEnabled"},
		{"read-only id", with(func(m map[string]any) { m["id"] = "87d349ed-44d7-43e1-9a83-5f2406dee5bd" }), "Request_BadRequest", "id"},
		{"read-only createdDateTime", with(func(m map[string]any) { m["createdDateTime"] = "2020-01-01T00:00:00Z" }), "Request_BadRequest", "createdDateTime"},
		{"read-only creationType", with(func(m map[string]any) { m["creationType"] = "Invitation" }), "Request_BadRequest", "creationType"},
		{"trailing data", `{"accountEnabled":true,"displayName":"A","mailNickname":"n","userPrincipalName":"n@contoso.com","passwordProfile":{"password":"xWwvJ]6NMw+bWH-d"}} {}`, "BadRequest", ""},
		{"weak password", with(func(m map[string]any) { m["passwordProfile"] = map[string]any{"password": "password"} }), "Request_BadRequest", "password"},
		{"unverified UPN domain", workforceUser("someone@elsewhere.com"), "Request_BadRequest", "domain"},
		{"bad UPN characters", workforceUser("some one@contoso.com"), "Request_BadRequest", "userPrincipalName"},
		{"missing required", map[string]any{"displayName": "x"}, "Request_BadRequest", "required"},
		{"identity email invalid", func() map[string]any { m := customer(s.domain, "not-an-email"); delete(m, "mail"); return m }(), "Request_BadRequest", "email"},
		{"displayName too long", with(func(m map[string]any) { m["displayName"] = strings.Repeat("x", 257) }), "Request_BadRequest", "displayName"},
		{"unknown nested key", with(func(m map[string]any) {
			m["passwordProfile"] = map[string]any{"password": "xWwvJ]6NMw+bWH-d", "Password": "x"}
		}), "Request_BadRequest", "Password"},
		{"odata annotation other than type", with(func(m map[string]any) { m["@odata.id"] = "x" }), "Request_BadRequest", "@odata.id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do("POST", "/v1.0/users", admin, tt.body)
			if r.Status != 400 {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			if code := r.ErrorCode(t); code != tt.code {
				t.Errorf("code %q, want %q", code, tt.code)
			}
			if tt.target != "" && !strings.Contains(string(r.Body), tt.target) {
				t.Errorf("message does not name %q: %s", tt.target, r.Body)
			}
			if got := s.snapshot(); got != before {
				t.Fatal("a rejected request changed the database")
			}
		})
	}
	r := s.do("POST", "/v1.0/users", admin, workforceUser("TAKEN@Contoso.COM"))
	details := fmt.Sprint(r.JSON(t)["error"].(map[string]any)["details"])
	if !strings.Contains(details, "ObjectConflict") || !strings.Contains(details, "target:userPrincipalName") {
		t.Errorf("conflict details = %s", details)
	}
}

func TestCreateAcceptsWhatGraphSDKsSend(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	body := workforceUser("sdk@contoso.com")
	body["@odata.type"] = "#microsoft.graph.user"
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	fmt.Fprint(w, mustJSON(t, body))
	w.Close()
	r := s.do("POST", "/v1.0/users", admin, gz.Bytes(), "Content-Encoding", "gzip")
	if r.Status != 201 {
		t.Fatalf("gzip + @odata.type: %d %s", r.Status, r.Body)
	}
}

func TestGetUpdateDelete(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	u := s.create(admin, workforceUser("Mixed.Case@contoso.com"))
	id := u["id"].(string)

	for _, key := range []string{id, strings.ToUpper(id), "mixed.case@CONTOSO.com", url.PathEscape("Mixed.Case@contoso.com")} {
		r := s.do("GET", "/v1.0/users/"+key, admin, nil)
		if r.Status != 200 || r.JSON(t)["id"] != id {
			t.Errorf("GET /users/%s: %d %s", key, r.Status, r.Body)
		}
	}
	for _, path := range []string{"/v1.0/users('" + id + "')", "/v1.0/users('mixed.case@contoso.com')"} {
		if r := s.do("GET", path, admin, nil); r.Status != 200 || r.JSON(t)["id"] != id {
			t.Errorf("GET %s: %d %s", path, r.Status, r.Body)
		}
	}
	r := s.do("GET", "/v1.0/users/nobody@contoso.com", admin, nil)
	if r.Status != 404 || r.ErrorCode(t) != "Request_ResourceNotFound" {
		t.Errorf("missing user: %d %s", r.Status, r.Body)
	}

	r = s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"jobTitle": "Retail Manager", "city": "Oslo", "businessPhones": []string{"+47 1234"}, "givenName": nil})
	if r.Status != 204 || len(r.Body) != 0 || r.Header.Get("request-id") == "" {
		t.Fatalf("PATCH: %d %q", r.Status, r.Body)
	}
	got := s.do("GET", "/v1.0/users/"+id+"?$select=jobTitle,city,businessPhones,givenName", admin, nil).JSON(t)
	if got["jobTitle"] != "Retail Manager" || got["city"] != "Oslo" || fmt.Sprint(got["businessPhones"]) != "[+47 1234]" || got["givenName"] != nil {
		t.Errorf("after PATCH: %v", got)
	}

	before := s.snapshot()
	for _, body := range []any{
		map[string]any{"displayName": nil},
		map[string]any{"id": id},
		map[string]any{"JobTitle": "x"},
		map[string]any{"jobTitle": 5},
		map[string]any{"userPrincipalName": "x@nowhere.org"},
		map[string]any{"jobTitle": "ok", "accountEnabled": "yes"},
		`{"jobTitle":"a","jobTitle":"b"}`,
	} {
		if r := s.do("PATCH", "/v1.0/users/"+id, admin, body); r.Status != 400 {
			t.Errorf("PATCH %v: %d, want 400", body, r.Status)
		}
	}
	if s.snapshot() != before {
		t.Fatal("a rejected PATCH changed the database")
	}

	if r := s.do("DELETE", "/v1.0/users/mixed.case@contoso.com", admin, nil); r.Status != 204 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	if r := s.do("GET", "/v1.0/users/"+id, admin, nil); r.Status != 404 {
		t.Errorf("GET after DELETE: %d", r.Status)
	}
	if r := s.do("DELETE", "/v1.0/users/"+id, admin, nil); r.Status != 404 {
		t.Errorf("second DELETE: %d", r.Status)
	}
	if r := s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"city": "x"}); r.Status != 404 {
		t.Errorf("PATCH after DELETE: %d", r.Status)
	}
}

func TestListPagesEveryUserOnce(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	want := map[string]bool{}
	for i := 0; i < 7; i++ {
		u := s.create(admin, workforceUser(fmt.Sprintf("user%d@contoso.com", i)))
		want[u["id"].(string)] = true
	}
	seen := map[string]int{}
	link := "/v1.0/users?$top=3&$select=id,displayName"
	pages := 0
	for link != "" {
		r := s.do("GET", link, admin, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", link, r.Status, r.Body)
		}
		page := r.JSON(t)
		if page["@odata.context"] != s.srv.URL+"/v1.0/$metadata#users(id,displayName)" {
			t.Errorf("@odata.context = %v", page["@odata.context"])
		}
		for _, v := range page["value"].([]any) {
			seen[v.(map[string]any)["id"].(string)]++
		}
		pages++
		link, _ = page["@odata.nextLink"].(string)
		if link != "" && !strings.HasPrefix(link, s.srv.URL+"/v1.0/users?") {
			t.Fatalf("nextLink is not absolute on this server: %s", link)
		}
	}
	if pages != 3 || len(seen) != len(want) {
		t.Fatalf("pages=%d seen=%d, want 3 pages and %d users", pages, len(seen), len(want))
	}
	for id, n := range seen {
		if n != 1 || !want[id] {
			t.Errorf("user %s seen %d times", id, n)
		}
	}
	r := s.do("GET", "/v1.0/users", admin, nil)
	page := r.JSON(t)
	if _, ok := page["@odata.nextLink"]; ok || len(page["value"].([]any)) != 7 {
		t.Errorf("default page: %s", r.Body)
	}
	for _, q := range []string{"$top=0", "$top=1000", "$top=x", "$skiptoken=forged", "$skip=-1", "$select=nope"} {
		if r := s.do("GET", "/v1.0/users?"+q, admin, nil); r.Status != 400 {
			t.Errorf("GET /users?%s: %d, want 400", q, r.Status)
		}
	}
}

func TestPermissions(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	jane := s.create(admin, customer(s.domain, "jane@example.com"))["id"].(string)
	other := s.create(admin, customer(s.domain, "other@example.com"))["id"].(string)
	reader := s.appToken("User.Read.All")
	readMe := s.userToken(jane, "User.Read")
	writeMe := s.userToken(jane, "User.Read", "User.ReadWrite")
	broad := s.userToken(jane, "User.ReadWrite.All", "Directory.ReadWrite.All")

	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"app reader lists", "GET", "/v1.0/users", reader, nil, 200, ""},
		{"app reader reads", "GET", "/v1.0/users/" + jane, reader, nil, 200, ""},
		{"app reader cannot create", "POST", "/v1.0/users", reader, customer(s.domain, "x@example.com"), 403, "Authorization_RequestDenied"},
		{"app reader cannot patch", "PATCH", "/v1.0/users/" + jane, reader, map[string]any{"city": "x"}, 403, "Authorization_RequestDenied"},
		{"app reader cannot delete", "DELETE", "/v1.0/users/" + jane, reader, nil, 403, "Authorization_RequestDenied"},
		{"app token on /me", "GET", "/v1.0/me", admin, nil, 400, "BadRequest"},
		{"customer reads /me", "GET", "/v1.0/me", readMe, nil, 200, ""},
		{"customer reads self by id", "GET", "/v1.0/users/" + jane, readMe, nil, 200, ""},
		{"customer cannot read another", "GET", "/v1.0/users/" + other, readMe, nil, 403, "Authorization_RequestDenied"},
		{"customer 403 does not reveal existence", "GET", "/v1.0/users/00000000-0000-0000-0000-000000000001", readMe, nil, 403, "Authorization_RequestDenied"},
		{"customer cannot list", "GET", "/v1.0/users", broad, nil, 403, "Authorization_RequestDenied"},
		{"customer cannot create", "POST", "/v1.0/users", broad, customer(s.domain, "y@example.com"), 403, "Authorization_RequestDenied"},
		{"customer cannot delete self", "DELETE", "/v1.0/users/" + jane, broad, nil, 403, "Authorization_RequestDenied"},
		{"customer cannot patch another", "PATCH", "/v1.0/users/" + other, broad, map[string]any{"city": "x"}, 403, "Authorization_RequestDenied"},
		{"User.Read cannot patch /me", "PATCH", "/v1.0/me", readMe, map[string]any{"city": "x"}, 403, "Authorization_RequestDenied"},
		{"self-service property outside the list", "PATCH", "/v1.0/me", writeMe, map[string]any{"city": "Oslo", "accountEnabled": false}, 403, "Authorization_RequestDenied"},
		{"self-service password needs step-up (MFA)", "PATCH", "/v1.0/me", broad, map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd"}}, 401, "InvalidAuthenticationToken"},
		{"self-service patch", "PATCH", "/v1.0/me", writeMe, map[string]any{"city": "Oslo", "displayName": "Jane D"}, 204, ""},
		{"self patch by id", "PATCH", "/v1.0/users/" + jane, writeMe, map[string]any{"surname": "Doe"}, 204, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.snapshot()
			r := s.do(tt.method, tt.path, tt.token, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tt.status, r.Body)
			}
			if tt.code != "" {
				if code := r.ErrorCode(t); code != tt.code {
					t.Errorf("code %q, want %q", code, tt.code)
				}
				if s.snapshot() != before {
					t.Fatal("a refused request changed the database")
				}
			}
		})
	}
	me := s.do("GET", "/v1.0/me?$select=city,displayName,surname,accountEnabled", readMe, nil).JSON(t)
	if me["city"] != "Oslo" || me["displayName"] != "Jane D" || me["surname"] != "Doe" || me["accountEnabled"] != true {
		t.Errorf("after self-service: %v", me)
	}
	r := s.do("POST", "/v1.0/users", reader, customer(s.domain, "z@example.com"))
	if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, "User.ReadWrite.All") {
		t.Errorf("403 WWW-Authenticate = %q", ch)
	}
}

func TestTokensRefused(t *testing.T) {
	s := newStack(t)
	good := s.validClaims("User.Read.All")
	change := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	valid := s.signedToken(good, nil)
	if r := s.do("GET", "/v1.0/users", valid, nil); r.Status != 200 {
		t.Fatalf("the control token is refused: %d %s", r.Status, r.Body)
	}
	parts := strings.Split(valid, ".")
	tamperedPayload := s.signedToken(change("roles", []string{"User.ReadWrite.All"}), nil)
	tampered := parts[0] + "." + strings.Split(tamperedPayload, ".")[1] + "." + parts[2]
	unsigned := "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + parts[1] + "."
	now := good["iat"].(int64)

	tests := map[string]string{
		"unsigned (alg none)":   unsigned,
		"tampered payload":      tampered,
		"truncated signature":   valid[:len(valid)-4],
		"expired":               s.signedToken(change("exp", now-600), nil),
		"not yet valid":         s.signedToken(change("nbf", now+3600), nil),
		"other audience":        s.signedToken(change("aud", "https://graph.microsoft.com"), nil),
		"other issuer":          s.signedToken(change("iss", "https://evil.example/"+s.tenant+"/v2.0"), nil),
		"another key, same kid": signWith(t, otherKey(t), s.mustKid(), good, nil),
		"unknown kid":           signWith(t, otherKey(t), "nope", good, nil),
		"no exp":                s.signedToken(change("exp", nil), nil),
		"garbage":               "not-a-token",
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			r := s.do("GET", "/v1.0/users", tok, nil)
			if r.Status != 401 || r.ErrorCode(t) != "InvalidAuthenticationToken" {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if ch := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(ch, "Bearer ") || !strings.Contains(ch, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q", ch)
			}
		})
	}
	r := s.do("GET", "/v1.0/users", "", nil)
	if r.Status != 401 || r.ErrorCode(t) != "InvalidAuthenticationToken" || !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("no token: %d %q %s", r.Status, r.Header.Get("WWW-Authenticate"), r.Body)
	}
}

func (s *stack) mustKid() string {
	keys, err := s.db.store.SigningKeys(context.Background(), s.tenant)
	if err != nil || len(keys) == 0 {
		s.t.Fatal("no signing key")
	}
	return keys[0].ID
}

func TestErrorsEverywhere(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	r := s.do("GET", "/v1.0/nothing-here", admin, nil, "client-request-id", "5c1f1c5e-0000-4000-8000-000000000042")
	if r.Status != 404 {
		t.Errorf("unknown route: %d", r.Status)
	}
	r.ErrorCode(t)
	if r.Header.Get("client-request-id") != "5c1f1c5e-0000-4000-8000-000000000042" ||
		!strings.Contains(string(r.Body), "5c1f1c5e-0000-4000-8000-000000000042") {
		t.Errorf("client-request-id not echoed: %v %s", r.Header, r.Body)
	}
	r = s.do("PUT", "/v1.0/users", admin, "{}")
	if r.Status != 405 || r.Header.Get("Allow") == "" {
		t.Errorf("wrong method: %d Allow=%q", r.Status, r.Header.Get("Allow"))
	}
	r.ErrorCode(t)
	big := `{"displayName":"` + strings.Repeat("x", 2<<20) + `"}`
	r = s.do("POST", "/v1.0/users", admin, big)
	if r.Status != 413 {
		t.Errorf("oversized body: %d", r.Status)
	}
	r.ErrorCode(t)
	r = s.do("GET", "/"+s.tenant+"/discovery/v2.0/keys", "", nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"keys"`) || strings.Contains(string(r.Body), `"d"`) {
		t.Errorf("JWKS: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", "/"+s.tenant+"/v2.0/.well-known/openid-configuration", "", nil)
	if r.Status != 200 || r.JSON(t)["issuer"] != testPublicURL+"/"+s.tenant+"/v2.0" {
		t.Errorf("discovery: %d %s", r.Status, r.Body)
	}
}
