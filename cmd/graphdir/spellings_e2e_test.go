package main

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The spellings Graph's SDKs and OData tools send (issue 16): functions
// with and without "()", casts with the full namespace and the "graph."
// alias, keys in a segment and in parentheses, and the query options Graph
// documents on those URLs, over HTTP against PostgreSQL.

// orIDs is "id eq 'a' or id eq 'b' ...", URL-escaped.
func orIDs(ids ...string) string {
	terms := make([]string, len(ids))
	for i, id := range ids {
		terms[i] = "id eq '" + id + "'"
	}
	return url.QueryEscape(strings.Join(terms, " or "))
}

func TestUsersDeltaFunctionSpelling(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("User.Read.All")
	var ids []string
	for i := range 3 {
		ids = append(ids, s.create(admin, workforceUser(fmt.Sprintf("spell%d@contoso.com", i)))["id"].(string))
	}

	// delta() as the Go SDK sends it, tracking two chosen users.
	d := newDeltaClient(s, reader, "")
	d.link = "/v1.0/users/delta()?$select=displayName&$filter=" + orIDs(ids[0], ids[1])
	r := s.do("GET", d.link, reader, nil)
	if m := r.JSON(t); r.Status != 200 || m["@odata.context"] != s.srv.URL+"/v1.0/$metadata#users(displayName)" {
		t.Fatalf("delta(): %d %s", r.Status, r.Body)
	}
	got := byID(d.round(t))
	if len(got) != 2 || got[ids[0]] == nil || got[ids[1]] == nil || len(keys(got[ids[0]])) != 2 {
		t.Fatalf("initial round of delta(): %v", got)
	}
	// The delta link keeps tracking only those two users.
	for _, id := range ids {
		s.mustStatus(s.do("PATCH", "/v1.0/users/"+id, admin, map[string]any{"displayName": "Renamed " + id}), 204, "patch")
	}
	got = byID(d.round(t))
	if len(got) != 2 || got[ids[2]] != nil || got[ids[1]]["displayName"] != "Renamed "+ids[1] {
		t.Fatalf("change round through the delta link: %v", got)
	}

	// Both spellings answer the same options the same way.
	for _, p := range []string{"/v1.0/users/delta", "/v1.0/users/delta()"} {
		if r := s.do("GET", p+"?$select=id", reader, nil); r.Status != 200 {
			t.Errorf("%s: %d %s", p, r.Status, r.Body)
		}
		fifty := make([]string, 50)
		for i := range fifty {
			fifty[i] = ids[i%3]
		}
		if r := s.do("GET", p+"?$filter="+orIDs(fifty...), reader, nil); r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 3 {
			t.Errorf("%s with 50 id clauses: %d %s", p, r.Status, r.Body)
		}
		r := s.do("GET", p+"?$filter="+orIDs(append(fifty, ids[0])...), reader, nil)
		if r.Status != 400 || r.ErrorCode(t) != "Request_UnsupportedQuery" ||
			!strings.Contains(string(r.Body), "Too many child clauses specified in search filter expression containing 'OR' operators: 51. Max allowed: 50.") {
			t.Errorf("%s with 51 id clauses: %d %s", p, r.Status, r.Body)
		}
		for _, q := range []string{
			"$filter=" + url.QueryEscape("displayName eq 'x'"),
			"$filter=" + url.QueryEscape("id eq '"+ids[0]+"' and id eq '"+ids[1]+"'"),
			"$filter=" + url.QueryEscape("startsWith(id,'a')"),
		} {
			if r := s.do("GET", p+"?"+q, reader, nil); r.Status != 400 || r.ErrorCode(t) != "Request_UnsupportedQuery" {
				t.Errorf("%s?%s: %d %s", p, q, r.Status, r.Body)
			}
		}
		if r := s.do("GET", p+"?$orderby=displayName", reader, nil); r.Status != 400 || r.ErrorCode(t) != "Request_UnsupportedQuery" {
			t.Errorf("%s $orderby: %d %s", p, r.Status, r.Body)
		}
	}
	// delta(), like delta, needs the listing permission.
	if r := s.do("GET", "/v1.0/users/delta()", s.appToken(), nil); r.Status != 403 {
		t.Errorf("delta() without permission: %d %s", r.Status, r.Body)
	}
}

func TestDeletedItemsCastSpellings(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All")
	var ids []string
	for i := range 4 {
		c := customer(s.domain, fmt.Sprintf("cast%d@example.com", i))
		c["displayName"] = fmt.Sprintf("Cast %d", i)
		id := s.create(admin, c)["id"].(string)
		ids = append(ids, id)
		s.mustStatus(s.do("DELETE", "/v1.0/users/"+id, admin, nil), 204, "delete")
		time.Sleep(2 * time.Millisecond) // distinct deletedDateTime values
	}
	s.create(admin, customer(s.domain, "alive@example.com"))

	for _, cast := range []string{"microsoft.graph.user", "graph.user"} {
		base := "/v1.0/directory/deletedItems/" + cast
		// $count, $filter, $orderby, $top and $select together.
		r := s.do("GET", base+"?$count=true&$filter="+url.QueryEscape("startsWith(displayName,'Cast')")+
			"&$orderby=displayName%20desc&$top=3&$select=displayName,deletedDateTime", admin, nil, "ConsistencyLevel", "eventual")
		s.mustStatus(r, 200, cast+" list")
		m := r.JSON(t)
		v := m["value"].([]any)
		if m["@odata.count"] != 4.0 || len(v) != 3 || v[0].(map[string]any)["displayName"] != "Cast 3" ||
			v[0].(map[string]any)["deletedDateTime"] == nil || m["@odata.nextLink"] == nil {
			t.Errorf("%s list: %s", cast, r.Body)
		}
		if !strings.Contains(m["@odata.nextLink"].(string), "/v1.0/directory/deletedItems/"+cast+"?") {
			t.Errorf("%s nextLink leaves the spelling asked: %v", cast, m["@odata.nextLink"])
		}
		r = s.do("GET", base+"?$orderby=deletedDateTime%20desc&$top=1&$select=id", admin, nil)
		if s.mustStatus(r, 200, cast+" by deletedDateTime"); r.JSON(t)["value"].([]any)[0].(map[string]any)["id"] != ids[3] {
			t.Errorf("%s $orderby=deletedDateTime desc: %s", cast, r.Body)
		}
		r = s.do("GET", base+"/$count?$filter="+url.QueryEscape("displayName eq 'Cast 1'"), admin, nil, "ConsistencyLevel", "eventual")
		if r.Status != 200 || string(r.Body) != "1" {
			t.Errorf("%s/$count: %d %s", cast, r.Status, r.Body)
		}
		// What graphdir does not serve there is refused with Graph's codes.
		for q, code := range map[string]string{
			"$expand=manager":                "BadRequest", // user declares no manager (expand_e2e_test.go)
			"$top=1000":                      "Request_UnsupportedQuery",
			"$orderby=unknownProperty":       "Request_UnsupportedQuery",
			"$select=displayName&$SELECT=id": "Request_BadRequest",
			"$deltatoken=x":                  "Request_BadRequest",
		} {
			if r := s.do("GET", base+"?"+q, admin, nil); r.Status != 400 || r.ErrorCode(t) != code {
				t.Errorf("%s?%s: %d %s, want 400 %s", cast, q, r.Status, r.Body, code)
			}
		}
	}

	// One deleted user, every key spelling.
	for _, p := range []string{
		"/v1.0/directory/deletedItems/" + ids[0],
		"/v1.0/directory/deletedItems('" + ids[0] + "')",
		"/v1.0/directory/deletedItems/" + ids[0] + "/microsoft.graph.user",
		"/v1.0/directory/deletedItems/" + ids[0] + "/graph.user",
		"/v1.0/directory/deletedItems/microsoft.graph.user/" + ids[0],
		"/v1.0/directory/deletedItems/graph.user/" + ids[0],
		"/v1.0/directory/deletedItems('" + ids[0] + "')/graph.user",
	} {
		r := s.do("GET", p+"?$select=id,displayName", admin, nil)
		if m := r.JSON(t); r.Status != 200 || m["id"] != ids[0] || m["displayName"] != "Cast 0" || m["@odata.type"] != "#microsoft.graph.user" {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	// A quoted key is a key, never a cast or a system segment.
	for _, p := range []string{"/v1.0/directory/deletedItems('graph.user')", "/v1.0/directory/deletedItems('$count')"} {
		if r := s.do("GET", p, admin, nil); r.Status != 404 {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}

	// Restore and purge in both key forms.
	s.mustStatus(s.do("POST", "/v1.0/directory/deletedItems('"+ids[0]+"')/restore", admin, nil), 200, "restore by ('id')")
	s.mustStatus(s.do("POST", "/v1.0/directory/deletedItems/"+ids[1]+"/restore", admin, nil), 200, "restore by /id")
	for _, id := range ids[:2] {
		s.mustStatus(s.do("GET", "/v1.0/users/"+id, admin, nil), 200, "restored user")
	}
	s.mustStatus(s.do("DELETE", "/v1.0/directory/deletedItems('"+ids[2]+"')", admin, nil), 204, "purge by ('id')")
	s.mustStatus(s.do("DELETE", "/v1.0/directory/deletedItems/"+ids[3], admin, nil), 204, "purge by /id")
	r := s.do("GET", "/v1.0/directory/deletedItems/graph.user/$count", admin, nil, "ConsistencyLevel", "eventual")
	if r.Status != 200 || string(r.Body) != "0" {
		t.Errorf("deleted items left: %d %s", r.Status, r.Body)
	}
}
