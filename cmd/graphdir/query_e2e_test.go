package main

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestQueriesEndToEnd checks, through the whole stack, the query behaviour
// the README promises beyond what TestQueryEquivalence measures: shapes,
// errors, $count, $skip and read-your-writes.
func TestQueriesEndToEnd(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	jane := s.create(admin, customer(s.domain, "jane@example.com"))
	s.create(admin, customer(s.domain, "john@example.com"))
	for _, upn := range []string{"adele@contoso.com", "alex@contoso.com", "megan@contoso.com"} {
		s.create(admin, workforceUser(upn))
	}
	get := func(path string, headers ...string) *response {
		t.Helper()
		return s.do("GET", path, admin, nil, headers...)
	}
	list := func(path string, headers ...string) (map[string]any, []any) {
		t.Helper()
		r := get(path, headers...)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
		}
		m := r.JSON(t)
		v, _ := m["value"].([]any)
		return m, v
	}
	q := url.QueryEscape

	// The sign-in-name lookup, exactly as Graph documents it; the user was
	// created a moment ago (read-your-writes, no ConsistencyLevel).
	m, v := list("/v1.0/users?$select=displayName,id&$filter=" +
		q("identities/any(c:c/issuerAssignedId eq 'JANE@example.com' and c/issuer eq '"+s.domain+"')"))
	if len(v) != 1 || v[0].(map[string]any)["id"] != jane["id"] {
		t.Errorf("sign-in lookup: %v", v)
	}
	if m["@odata.context"] != s.srv.URL+"/v1.0/$metadata#users(displayName,id)" {
		t.Errorf("@odata.context = %v", m["@odata.context"])
	}

	// $count=true and /users/$count, with and without the header.
	for _, hdr := range [][]string{nil, {"ConsistencyLevel", "eventual"}} {
		m, _ = list("/v1.0/users?$count=true&$top=1&$filter="+q("startsWith(userPrincipalName,'a') and endsWith(userPrincipalName,'@contoso.com')"), hdr...)
		if n, _ := m["@odata.count"].(float64); n != 2 || m["@odata.nextLink"] == nil {
			t.Errorf("@odata.count = %v, nextLink %v", m["@odata.count"], m["@odata.nextLink"])
		}
		r := get("/v1.0/users/$count?$filter="+q("startsWith(userPrincipalName,'a') and endsWith(userPrincipalName,'@contoso.com')"), hdr...)
		if r.Status != 200 || string(r.Body) != "2" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("/$count: %d %q %s", r.Status, r.Body, r.Header.Get("Content-Type"))
		}
	}
	if r := get("/v1.0/users/$count"); string(r.Body) != "5" {
		t.Errorf("/$count without filter = %s", r.Body)
	}

	// $skip (beyond Graph) on the first page, keyset paging after it.
	var upns []string
	link := "/v1.0/users?$orderby=userPrincipalName%20desc&$select=userPrincipalName&$top=1&$skip=1&$filter=" +
		q("endsWith(userPrincipalName,'@contoso.com')")
	for link != "" {
		m, v = list(link)
		for _, u := range v {
			upns = append(upns, u.(map[string]any)["userPrincipalName"].(string))
		}
		next, _ := m["@odata.nextLink"].(string)
		link = next
	}
	if strings.Join(upns, ",") != "alex@contoso.com,adele@contoso.com" {
		t.Errorf("$skip=1 then paging: %v", upns)
	}

	// A nextLink replayed on another query, or altered, is a 400.
	m, _ = list("/v1.0/users?$top=1&$filter=" + q("startsWith(userPrincipalName,'a') and endsWith(userPrincipalName,'@contoso.com')"))
	next := m["@odata.nextLink"].(string)
	token := next[strings.Index(next, "$skiptoken=")+len("$skiptoken="):]
	for name, path := range map[string]string{
		"other filter": "/v1.0/users?$top=1&$filter=" + q("startsWith(userPrincipalName,'m') and endsWith(userPrincipalName,'@contoso.com')") + "&$skiptoken=" + token,
		"other top":    "/v1.0/users?$top=2&$filter=" + q("startsWith(userPrincipalName,'a') and endsWith(userPrincipalName,'@contoso.com')") + "&$skiptoken=" + token,
		"altered":      "/v1.0/users?$top=1&$filter=" + q("startsWith(userPrincipalName,'a') and endsWith(userPrincipalName,'@contoso.com')") + "&$skiptoken=" + token[:len(token)-3] + "AAA",
	} {
		if r := get(path); r.Status != 400 || r.ErrorCode(t) != "Request_BadRequest" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}

	// What the README promises beyond Graph answers 200.
	for _, f := range []string{
		"identities/any(i:i/issuer ne 'x' or i/signInType eq 'federated')",
		"identities/all(i:startsWith(i/issuerAssignedId,'j'))",
		"identities/$count ge 2",
		"otherMails/all(m:endsWith(m,'.com')) and not otherMails/any(m:contains(m,'x'))",
		"proxyAddresses/any(p:p in ('smtp:a@b.c','SMTP:x@y.z'))",
		"businessPhones/any(p:startsWith(p,'+47'))",
		"accountEnabled in (true, false) and accountEnabled ne null",
		"createdDateTime ne 2020-01-01T00:00:00Z and createdDateTime lt 2999-01-01T00:00:00Z",
		"id in (" + jane["id"].(string) + ")",
		"startsWith(displayName,'a') or endsWith(mail,'.com') or endsWith(userPrincipalName,'.test')",
		"postalCode gt '1' or jobTitle eq null or not startsWith(city,'O')",
	} {
		if r := get("/v1.0/users?$orderby=accountEnabled,city%20desc,id&$filter=" + q(f)); r.Status != 200 {
			t.Errorf("%s: %d %s", f, r.Status, r.Body)
		}
	}
	_, v = list("/v1.0/users?$filter=" + q("id in ("+jane["id"].(string)+")"))
	if len(v) != 1 {
		t.Errorf("id in (...): %v", v)
	}

	// Errors: syntax with the position, unknown or unsupported property,
	// wrong types, $expand. Never a 500, never SQL.
	for _, tt := range []struct {
		path, code, message string
	}{
		{"/v1.0/users?$filter=" + q("startsWith(displayName,'a'"), "BadRequest", "Invalid filter clause: syntax error at position 26: expected ')', found end of input."},
		{"/v1.0/users?$filter=" + q("accountEnabled eq 'true'"), "", "accountEnabled"},
		{"/v1.0/users?$filter=" + q("favouriteColour eq 'red'"), "Request_UnsupportedQuery", "favouriteColour"},
		{"/v1.0/users?$orderby=passwordProfile", "Request_UnsupportedQuery", "passwordProfile"},
		{"/v1.0/users?$search=" + q(`"favouriteColour:red"`), "Request_UnsupportedQuery", "favouriteColour"},
		{"/v1.0/users/$count?$filter=" + q("nope eq 1"), "Request_UnsupportedQuery", "nope"},
		{"/v1.0/users?$expand=manager", "BadRequest", "Could not find a property named 'manager' on type 'microsoft.graph.user'."},
		{"/v1.0/users?$top=1000", "Request_UnsupportedQuery", "Invalid page size specified: '1000'"},
		{"/v1.0/users?$filter=" + q("identities/any(i:i/signInType eq 'userPrincipalName')"), "Request_UnsupportedQuery", "userPrincipalName"},
		{"/v1.0/users?$search=" + q("ada"), "Request_UnsupportedQuery", "property:text"},
		{"/v1.0/users?$filter=" + q("a in ("+strings.Repeat("'x',", 1000)+"'y')"), "BadRequest", "query too complex"},
	} {
		r := get(tt.path)
		if r.Status != 400 {
			t.Errorf("%s: %d %s", tt.path, r.Status, r.Body)
			continue
		}
		code := r.ErrorCode(t)
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		_ = json.Unmarshal(r.Body, &e)
		if (tt.code != "" && code != tt.code) || !strings.Contains(e.Error.Message, tt.message) {
			t.Errorf("%s: %s %q", tt.path, code, e.Error.Message)
		}
		for _, leak := range []string{"SELECT", "lower(", "pq:", "sql"} {
			if strings.Contains(e.Error.Message, leak) {
				t.Errorf("%s: message leaks %q: %s", tt.path, leak, e.Error.Message)
			}
		}
	}
}
