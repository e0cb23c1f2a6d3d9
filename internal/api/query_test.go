package api

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// listBody is the collection envelope.
type listBody struct {
	Context  string           `json:"@odata.context"`
	Count    *int64           `json:"@odata.count"`
	NextLink string           `json:"@odata.nextLink"`
	Value    []map[string]any `json:"value"`
}

func decodeList(t *testing.T, body []byte) listBody {
	t.Helper()
	var b listBody
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return b
}

func TestListQueryOptionsReachTheService(t *testing.T) {
	a := newTestAPI(t)
	filter := "identities/any(i:i/issuerAssignedId eq 'jo@example.com' and i/issuer eq 'contoso.com') or startsWith(displayName,'Ad')"
	search := `"displayName:ad" OR "mail:x&y"`
	target := "/v1.0/users?$filter=" + url.QueryEscape(filter) +
		"&$orderby=" + url.QueryEscape("displayName desc,createdDateTime") +
		"&$search=" + url.QueryEscape(search) +
		"&$count=true&$top=7&$skip=3&$select=id,displayName&$format=json"
	w := a.do(t, request{method: "GET", target: target, token: "app-read",
		header: map[string]string{"ConsistencyLevel": "eventual", "Prefer": "legacySearch=false"}})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	q := a.users.query
	wantFilter, _ := odata.ParseFilter(filter)
	wantOrder, _ := odata.ParseOrderBy("displayName desc,createdDateTime")
	wantSearch, _ := odata.ParseSearch(search)
	if !odata.Equal(q.Filter, wantFilter) {
		t.Errorf("filter = %v", q.Filter)
	}
	if !odata.Equal(q.OrderBy, wantOrder) || len(q.OrderBy) != 2 || !q.OrderBy[0].Desc {
		t.Errorf("orderby = %v", q.OrderBy)
	}
	if !odata.Equal(q.Search, wantSearch) {
		t.Errorf("search = %v (the encoded '&' must stay inside the phrase)", q.Search)
	}
	if q.Top != 7 || q.Skip != 3 || !q.Count || q.After != nil {
		t.Errorf("top %d skip %d count %v after %v", q.Top, q.Skip, q.Count, q.After)
	}

	// $count=false and absent options leave the query empty.
	a.do(t, request{method: "GET", target: "/v1.0/users?$count=FALSE", token: "app-read"})
	if q := a.users.query; q.Count || q.Filter != nil || q.Search != nil || q.OrderBy != nil || q.Skip != 0 {
		t.Errorf("query = %+v", q)
	}
}

func TestSyntaxErrorsArePositioned400s(t *testing.T) {
	tests := []struct {
		option, value, message string
	}{
		{"$filter", "(displayName eq 'a' city eq 'b')", "Invalid filter clause: syntax error at position 20: expected ')', found 'city'."},
		{"$filter", "accountEnabled eq 'true", "Invalid filter clause: syntax error at position 18"},
		{"$filter", "displayName eq", "Invalid filter clause: syntax error at position 14"},
		{"$filter", "", "Invalid filter clause: syntax error at position 0"},
		{"$filter", strings.Repeat("(", 200) + "a", "Invalid filter clause: query too complex"},
		{"$filter", "a in (" + strings.Repeat("'x',", 1000) + "'y')", "Invalid filter clause: query too complex"},
		{"$orderby", "displayName,", "Invalid $orderby clause: syntax error at position 12"},
		{"$search", `("displayName:a" OR "mail:b"`, "Invalid $search clause: syntax error at position 28"},
		{"$count", "1", "Invalid $count value: syntax error at position 0: expected true or false"},
		{"$skip", "x", "Invalid $skip value: 'x'."},
	}
	for _, tt := range tests {
		t.Run(tt.option+"="+tt.value, func(t *testing.T) {
			a := newTestAPI(t)
			w := a.do(t, request{method: "GET", target: "/v1.0/users?" + tt.option + "=" + url.QueryEscape(tt.value), token: "app-read"})
			e := checkEnvelope(t, w, 400, "BadRequest")
			if msg, _ := e["message"].(string); !strings.HasPrefix(msg, tt.message) {
				t.Errorf("message = %q, want prefix %q", msg, tt.message)
			}
			if len(a.users.called()) != 0 {
				t.Errorf("service called: %v", a.users.called())
			}
		})
	}
	// The same filter on $count.
	a := newTestAPI(t)
	w := a.do(t, request{method: "GET", target: "/v1.0/users/$count?$filter=" + url.QueryEscape("a eq"), token: "app-read"})
	checkEnvelope(t, w, 400, "BadRequest")
}

func TestStoreErrorsPassThroughTheErrorTable(t *testing.T) {
	for _, tt := range []struct {
		err    error
		status int
		code   string
	}{
		{directory.Errorf(directory.KindUnsupported, "Unsupported sort property 'jobTitle' for 'User'."), 400, "Request_UnsupportedQuery"},
		{directory.Errorf(directory.KindInvalid, "A binary operator with incompatible types was detected. Found operand types 'Edm.Boolean' and 'Edm.String' for operator kind 'Equal'."), 400, "Request_BadRequest"},
		{errBoom, 500, "generalException"},
	} {
		a := newTestAPI(t)
		a.users.err = tt.err
		for _, target := range []string{"/v1.0/users?$orderby=jobTitle", "/v1.0/users/$count?$filter=accountEnabled%20eq%20'x'"} {
			w := a.do(t, request{method: "GET", target: target, token: "app-read"})
			e := checkEnvelope(t, w, tt.status, tt.code)
			if tt.status == 500 {
				if strings.Contains(w.Body.String(), "pq:") {
					t.Errorf("internal error text leaked: %s", w.Body)
				}
			} else if e["message"] != directory.AsError(tt.err).Message {
				t.Errorf("message = %v", e["message"])
			}
		}
	}
}

func TestCountEndpoint(t *testing.T) {
	a := newTestAPI(t)
	a.users.count = 893
	filter := "startsWith(displayName,'a')"
	for _, target := range []string{
		"/v1.0/users/$count?$filter=" + url.QueryEscape(filter) + "&$search=" + url.QueryEscape(`"displayName:wa"`),
		"/v1.0/users/%24count?$filter=" + url.QueryEscape(filter) + "&$search=" + url.QueryEscape(`"displayName:wa"`),
	} {
		for _, hdr := range []map[string]string{nil, {"ConsistencyLevel": "eventual"}} {
			a.users.query = directory.ListQuery{}
			w := a.do(t, request{method: "GET", target: target, token: "app-read", header: hdr})
			if w.Code != 200 || w.Body.String() != "893" {
				t.Fatalf("%s: %d %q", target, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type = %q", ct)
			}
			if a.users.query.Filter == nil || a.users.query.Search == nil {
				t.Errorf("count query = %+v", a.users.query)
			}
		}
	}
	for _, target := range []string{"/v1.0/users/$count?$top=5", "/v1.0/users/$count?$orderby=displayName", "/v1.0/users/$count?$select=id",
		"/v1.0/users/$count?$count=true", "/v1.0/users/$count?$skiptoken=x", "/v1.0/users/$count?$skip=1"} {
		a.users.calls = nil
		w := a.do(t, request{method: "GET", target: target, token: "app-read"})
		checkEnvelope(t, w, 400, "BadRequest")
		if len(a.users.called()) != 0 {
			t.Errorf("%s: service called", target)
		}
	}
	// Counting needs the listing permission; a customer's token has none.
	w := a.do(t, request{method: "GET", target: "/v1.0/users/$count", token: "user-rw"})
	checkEnvelope(t, w, 403, "Authorization_RequestDenied")
	w = a.do(t, request{method: "GET", target: "/v1.0/users/$count", token: ""})
	checkEnvelope(t, w, 401, "InvalidAuthenticationToken")
}

func TestCountAndNextLink(t *testing.T) {
	a := newTestAPI(t)
	name := "Zoë"
	cursor := &directory.Cursor{Keys: []*string{&name, nil}, ID: "99999999-0000-0000-0000-000000000000"}
	total := int64(42)
	a.users.page = &directory.Page{Users: []*directory.User{sampleUser()}, Next: cursor, Count: &total}

	rawQuery := "$filter=" + url.QueryEscape("startsWith(displayName,'a') and city ne null") +
		"&$orderby=displayName%20desc,city&$search=" + url.QueryEscape(`"displayName:a&b"`) +
		"&$count=true&$top=1&$skip=2&$select=id&custom=keep"
	w := a.do(t, request{method: "GET", target: "/v1.0/users?" + rawQuery, token: "app-read"})
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	body := decodeList(t, w.Body.Bytes())
	if body.Count == nil || *body.Count != 42 {
		t.Errorf("@odata.count = %v", body.Count)
	}
	if s := w.Body.String(); strings.Index(s, "@odata.count") > strings.Index(s, "@odata.nextLink") {
		t.Errorf("@odata.count should precede @odata.nextLink: %s", s)
	}
	prefix := "http://graph.test:8080/v1.0/users?" + rawQuery + "&$skiptoken="
	if !strings.HasPrefix(body.NextLink, prefix) {
		t.Fatalf("nextLink = %q\nwant prefix %q", body.NextLink, prefix)
	}
	token := strings.TrimPrefix(body.NextLink, prefix)

	// The link works without ConsistencyLevel; $skip is spent; the cursor
	// round-trips, null key included; the count comes on every page.
	a.users.page = &directory.Page{Users: []*directory.User{sampleUser()}, Count: &total}
	w = a.do(t, request{method: "GET", target: strings.TrimPrefix(body.NextLink, "http://graph.test:8080"), token: "app-read"})
	if w.Code != 200 {
		t.Fatalf("next: %d %s", w.Code, w.Body)
	}
	q := a.users.query
	if q.After == nil || q.After.ID != cursor.ID || len(q.After.Keys) != 2 || q.After.Keys[0] == nil || *q.After.Keys[0] != name || q.After.Keys[1] != nil {
		t.Errorf("after = %+v", q.After)
	}
	if q.Skip != 0 || q.Top != 1 || !q.Count || q.Filter == nil || q.Search == nil || len(q.OrderBy) != 2 {
		t.Errorf("continuation query = %+v", q)
	}
	next := decodeList(t, w.Body.Bytes())
	if next.NextLink != "" || next.Count == nil || *next.Count != 42 {
		t.Errorf("last page: %s", w.Body)
	}

	// Option names fold and parameter order does not matter; the values
	// must be the same ones.
	reordered := "$SELECT=id&$Top=1&$skip=2&$Count=true&$search=" + url.QueryEscape(`"displayName:a&b"`) +
		"&$orderby=displayName%20desc,city&$filter=" + url.PathEscape("startsWith(displayName,'a') and city ne null")
	w = a.do(t, request{method: "GET", target: "/v1.0/users?" + reordered + "&$skiptoken=" + token, token: "app-read"})
	if w.Code != 200 {
		t.Errorf("reordered options: %d %s", w.Code, w.Body)
	}

	// Replayed on another query, another tenant, or altered: 400, and the
	// service is never asked.
	replace := func(old, new string) string {
		return "/v1.0/users?" + strings.Replace(rawQuery, old, new, 1) + "&$skiptoken=" + token
	}
	for name, target := range map[string]string{
		"other filter":  replace("ne+null", "eq+null"),
		"other orderby": replace("displayName%20desc", "displayName%20asc,city"),
		"other search":  replace("a%26b", "a%26c"),
		"other count":   replace("$count=true", "$count=false"),
		"other skip":    replace("$skip=2", "$skip=3"),
		"no skip":       replace("&$skip=2", ""),
		"added option":  replace("&$select=id", "&$select=id&$format=json"),
		"tampered":      "/v1.0/users?" + rawQuery + "&$skiptoken=" + token[:10] + string(token[10]^1) + token[11:],
		"re-signed with another key": "/v1.0/users?" + rawQuery + "&$skiptoken=" +
			(skipTokenSigner{key: []byte("guess")}).Sign(tenantA, mustShapeOf(t, rawQuery), cursor),
		"old version":    "/v1.0/users?" + rawQuery + "&$skiptoken=" + signVersion(t, 1, tenantA, mustShapeOf(t, rawQuery), []byte(cursor.ID)),
		"garbage json":   "/v1.0/users?" + rawQuery + "&$skiptoken=" + signVersion(t, skipTokenVersion, tenantA, mustShapeOf(t, rawQuery), []byte(`{"id":"x","k":[1]}`)),
		"no id":          "/v1.0/users?" + rawQuery + "&$skiptoken=" + signVersion(t, skipTokenVersion, tenantA, mustShapeOf(t, rawQuery), []byte(`{"k":null}`)),
		"other tenant#b": "/v1.0/users?" + rawQuery + "&$skiptoken=" + token,
	} {
		t.Run(name, func(t *testing.T) {
			a.users.calls = nil
			tok := "app-read"
			if strings.HasSuffix(name, "#b") {
				tok = "app-rw-b"
			}
			w := a.do(t, request{method: "GET", target: target, token: tok})
			e := checkEnvelope(t, w, 400, "Request_BadRequest")
			if !strings.Contains(e["message"].(string), "$skiptoken") {
				t.Errorf("message = %v", e["message"])
			}
			if len(a.users.called()) != 0 {
				t.Errorf("service called")
			}
		})
	}
}

// TestNoCountWithoutAsking: @odata.count appears only for $count=true.
func TestNoCountWithoutAsking(t *testing.T) {
	a := newTestAPI(t)
	total := int64(3)
	a.users.page = &directory.Page{Users: []*directory.User{}, Count: &total}
	w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-read"})
	if strings.Contains(w.Body.String(), "@odata.count") {
		t.Errorf("unasked count: %s", w.Body)
	}
}

func mustShapeOf(t *testing.T, raw string) [32]byte {
	t.Helper()
	q, err := parseQuery(raw, collectionOptions)
	if err != nil {
		t.Fatal(err)
	}
	return q.shapeHash()
}

// signVersion builds a correctly signed token around an arbitrary payload,
// to prove the decoder refuses what the MAC alone would let through.
func signVersion(t *testing.T, version byte, tenant string, shape [32]byte, body []byte) string {
	t.Helper()
	s := skipTokenSigner{key: []byte("test-key-0123456789abcdef")}
	payload := append([]byte{version}, body...)
	return encodeToken(append(payload, s.mac(tenant, shape, payload)...))
}

func TestShapeHashIsUnambiguous(t *testing.T) {
	a := (&queryOptions{params: []queryParam{{name: "$filter", value: "a\x00$top\x005"}}}).shapeHash()
	b := (&queryOptions{params: []queryParam{{name: "$filter", value: "a"}, {name: "$top", value: "5"}}}).shapeHash()
	if a == b {
		t.Error("a value imitating an option boundary hashes like two options")
	}
	if mustShapeOf(t, "$top=5&$filter=x&other=1") != mustShapeOf(t, "$FILTER=x&$top=5") {
		t.Error("order, case or non-$ parameters change the shape")
	}
}

func TestReferencedPropertiesHook(t *testing.T) {
	q, err := parseQuery("$filter="+url.QueryEscape("identities/any(i:i/issuer eq 'x') and DISPLAYNAME eq 'a' or otherMails/$count eq 0")+
		"&$search="+url.QueryEscape(`"mail:a"`)+"&$orderby=createdDateTime,displayName", collectionOptions)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(directory.ReferencedProperties(q.listQuery()), ",")
	if got != "identities,displayName,otherMails,mail,createdDateTime" {
		t.Errorf("referenced = %s", got)
	}
}
