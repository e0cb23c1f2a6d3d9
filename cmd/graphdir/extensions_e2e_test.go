package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestExtensions_E2E drives directory extension attributes over HTTP:
// definitions on an application, values on create and PATCH, $select,
// $filter, $orderby with paging, the 100-value limit, tenant isolation and
// deleting a definition.
func TestExtensions_E2E(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All", "User.ReadWrite.All", "User.ManageIdentities.All")

	res := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "b2c-extensions-app"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create application: %d %s", res.Status, res.Body)
	}
	app := res.JSON(t)
	appID, appObj := app["appId"].(string), app["id"].(string)
	prefix := "extension_" + strings.ReplaceAll(appID, "-", "") + "_"
	base := "/v1.0/applications/" + appObj + "/extensionProperties"

	define := func(name, typ string, multi bool) map[string]any {
		t.Helper()
		body := map[string]any{"name": name, "dataType": typ, "targetObjects": []string{"User"}}
		if multi {
			body["isMultiValued"] = true
		}
		res := s.do("POST", base, admin, body)
		if res.Status != http.StatusCreated {
			t.Fatalf("define %s: %d %s", name, res.Status, res.Body)
		}
		m := res.JSON(t)
		if m["name"] != prefix+name || m["dataType"] != typ || m["isMultiValued"] != multi || m["appDisplayName"] != "b2c-extensions-app" ||
			res.Header.Get("Location") == "" || !slices.Equal(m["targetObjects"].([]any), []any{"User"}) {
			t.Fatalf("define %s: %s", name, res.Body)
		}
		return m
	}
	define("tier", "String", false)
	define("score", "Integer", false)
	define("big", "LargeInteger", false)
	define("vip", "Boolean", false)
	define("since", "DateTime", false)
	tagsDef := define("tags", "String", true)
	tier, score, big, vip, since, tags := prefix+"tier", prefix+"score", prefix+"big", prefix+"vip", prefix+"since", prefix+"tags"

	// Definition errors.
	for _, bad := range []map[string]any{
		{"name": "bad-name", "dataType": "String", "targetObjects": []string{"User"}},
		{"name": strings.Repeat("x", 121), "dataType": "String", "targetObjects": []string{"User"}},
		{"name": "bin", "dataType": "Binary", "targetObjects": []string{"User"}},
		{"name": "multi", "dataType": "Integer", "targetObjects": []string{"User"}, "isMultiValued": true},
		{"name": "grp", "dataType": "String", "targetObjects": []string{"Group"}},
		{"name": "nodt", "targetObjects": []string{"User"}},
		{"name": "x", "dataType": "String", "targetObjects": []string{"User"}, "bogus": 1},
	} {
		if res := s.do("POST", base, admin, bad); res.Status != http.StatusBadRequest {
			t.Errorf("define %v: %d %s", bad, res.Status, res.Body)
		}
	}
	if res := s.do("POST", base, admin, map[string]any{"name": "TIER", "dataType": "String", "targetObjects": []string{"User"}}); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "already exists") {
		t.Errorf("duplicate definition: %d %s", res.Status, res.Body)
	}
	if res := s.do("POST", base, s.appToken("Application.Read.All"), map[string]any{"name": "ro", "dataType": "String", "targetObjects": []string{"User"}}); res.Status != http.StatusForbidden {
		t.Errorf("define with Application.Read.All: %d", res.Status)
	}
	res = s.do("GET", base, s.appToken("Application.Read.All"), nil)
	if res.Status != http.StatusOK || len(res.JSON(t)["value"].([]any)) != 6 {
		t.Fatalf("list definitions: %d %s", res.Status, res.Body)
	}
	if res := s.do("GET", base+"/"+tagsDef["id"].(string), admin, nil); res.Status != http.StatusOK || res.JSON(t)["name"] != tags {
		t.Fatalf("get definition: %d %s", res.Status, res.Body)
	}
	if res := s.do("GET", "/v1.0/applications(appId='"+appID+"')/extensionProperties", admin, nil); res.Status != http.StatusOK {
		t.Fatalf("list by appId: %d %s", res.Status, res.Body)
	}

	// Users with values. Customers with a federated identity: no password to hash.
	const n = 23
	create := func(i int, extra map[string]any) string {
		t.Helper()
		body := map[string]any{
			"displayName": fmt.Sprintf("Cust %02d", i),
			"identities":  []map[string]any{{"signInType": "federated", "issuer": "google.com", "issuerAssignedId": fmt.Sprint("g", i)}},
		}
		for k, v := range extra {
			body[k] = v
		}
		res := s.do("POST", "/v1.0/users", admin, body)
		if res.Status != http.StatusCreated {
			t.Fatalf("create user %d: %d %s", i, res.Status, res.Body)
		}
		m := res.JSON(t)
		for k := range m {
			if strings.HasPrefix(k, "extension_") {
				t.Errorf("create response has %s without $select", k)
			}
		}
		return m["id"].(string)
	}
	ids := make([]string, n)
	for i := range ids {
		vals := map[string]any{score: i * 10, big: int64(1)<<40 + int64(i)}
		if i%4 != 0 {
			vals[tier] = fmt.Sprint("Tier", i%3)
		}
		if i%2 == 0 {
			vals[vip] = i%4 == 0
			vals[tags] = []string{"t" + fmt.Sprint(i%5), "all"}
		}
		if i%3 != 0 {
			vals[since] = fmt.Sprintf("2024-01-%02dT10:00:00+02:00", i+1)
		}
		ids[i] = create(i, vals)
	}
	index := func(id string) int { return slices.Index(ids, id) }

	// $select: only when asked, canonical names, JSON types.
	res = s.do("GET", "/v1.0/users/"+ids[2], admin, nil)
	if strings.Contains(string(res.Body), "extension_") {
		t.Errorf("extension values without $select: %s", res.Body)
	}
	sel := "id," + strings.ToUpper(tier) + "," + score + "," + big + "," + vip + "," + since + "," + tags
	res = s.do("GET", "/v1.0/users/"+ids[2]+"?$select="+url.QueryEscape(sel), admin, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("$select: %d %s", res.Status, res.Body)
	}
	m := res.JSON(t)
	if m[tier] != "Tier2" || m[score] != float64(20) || m[big] != float64(1<<40+2) || m[vip] != false ||
		m[since] != "2024-01-03T08:00:00Z" || fmt.Sprint(m[tags]) != "[t2 all]" || !strings.Contains(m["@odata.context"].(string), tier) {
		t.Fatalf("$select values: %s", res.Body)
	}
	if !strings.Contains(string(res.Body), `"`+big+`":1099511627778`) {
		t.Errorf("LargeInteger is not an exact JSON number: %s", res.Body)
	}
	res = s.do("GET", "/v1.0/users/"+ids[0]+"?$select="+tier, admin, nil)
	if res.JSON(t)[tier] != nil {
		t.Errorf("unset value: %s", res.Body)
	}
	if res := s.do("GET", "/v1.0/users/"+ids[0]+"?$select="+prefix+"nope", admin, nil); res.Status != http.StatusBadRequest || res.ErrorCode(t) != "Request_UnsupportedQuery" {
		t.Errorf("unknown $select extension: %d %s", res.Status, res.Body)
	}

	// Type errors and unknown extensions in bodies: 400 naming the property, nothing written.
	snap := s.snapshot()
	for _, bad := range []map[string]any{
		{score: "ten"}, {score: 1 << 40}, {big: 1.5}, {vip: "yes"}, {since: "yesterday"}, {tier: strings.Repeat("x", 257)},
		{tier: 5}, {tags: "notalist"}, {tags: []any{"a", nil}}, {prefix + "nope": "x"},
	} {
		res := s.do("PATCH", "/v1.0/users/"+ids[1], admin, bad)
		var name string
		for k := range bad {
			name = k
		}
		if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), name) {
			t.Errorf("PATCH %v: %d %s", bad, res.Status, res.Body)
		}
	}
	if s.snapshot() != snap {
		t.Errorf("a refused PATCH wrote")
	}

	// PATCH sets and null removes.
	if res := s.do("PATCH", "/v1.0/users/"+ids[1], admin, map[string]any{tier: nil, score: -5, tags: []string{"x"}}); res.Status != http.StatusNoContent {
		t.Fatalf("PATCH: %d %s", res.Status, res.Body)
	}
	m = s.do("GET", "/v1.0/users/"+ids[1]+"?$select="+tier+","+score+","+tags, admin, nil).JSON(t)
	if m[tier] != nil || m[score] != float64(-5) || fmt.Sprint(m[tags]) != "[x]" {
		t.Fatalf("after PATCH: %v", m)
	}

	// $filter and $count.
	list := func(query string) []int {
		t.Helper()
		var out []int
		next := "/v1.0/users?" + query
		for next != "" {
			res := s.do("GET", next, admin, nil, "ConsistencyLevel", "eventual")
			if res.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", next, res.Status, res.Body)
			}
			m := res.JSON(t)
			for _, v := range m["value"].([]any) {
				i := index(v.(map[string]any)["id"].(string))
				if slices.Contains(out, i) {
					t.Fatalf("%s: user %d twice", query, i)
				}
				out = append(out, i)
			}
			next, _ = m["@odata.nextLink"].(string)
		}
		return out
	}
	filter := func(f string) []int {
		got := list("$filter=" + url.QueryEscape(f) + "&$top=4")
		slices.Sort(got)
		return got
	}
	scoreOf := func(i int) int {
		if i == 1 {
			return -5
		}
		return i * 10
	}
	expect := func(f string, want func(i int) bool) {
		t.Helper()
		var w []int
		for i := 0; i < n; i++ {
			if want(i) {
				w = append(w, i)
			}
		}
		if got := filter(f); !slices.Equal(got, w) {
			t.Errorf("$filter=%s:\n got %v\nwant %v", f, got, w)
		}
		res := s.do("GET", "/v1.0/users/$count?$filter="+url.QueryEscape(f), admin, nil, "ConsistencyLevel", "eventual")
		if string(res.Body) != fmt.Sprint(len(w)) {
			t.Errorf("$count %s = %s, want %d", f, res.Body, len(w))
		}
	}
	hasTier := func(i int) bool { return i%4 != 0 && i != 1 }
	expect(tier+" eq 'tier2'", func(i int) bool { return hasTier(i) && i%3 == 2 })
	expect(tier+" ne 'Tier2'", func(i int) bool { return !(hasTier(i) && i%3 == 2) })
	expect(tier+" in ('Tier0', 'Tier1')", func(i int) bool { return hasTier(i) && i%3 != 2 })
	expect("startsWith("+tier+", 'tier')", hasTier)
	expect(tier+" eq null", func(i int) bool { return !hasTier(i) })
	expect(score+" ge 100 and "+score+" lt 150", func(i int) bool { return scoreOf(i) >= 100 && scoreOf(i) < 150 })
	expect(score+" lt 0", func(i int) bool { return i == 1 })
	expect(big+" gt 1099511627786", func(i int) bool { return i > 10 })
	expect(vip+" eq true", func(i int) bool { return i%4 == 0 })
	expect(vip+" eq false", func(i int) bool { return i%4 == 2 })
	expect(since+" ge 2024-01-10T00:00:00Z", func(i int) bool { return i%3 != 0 && i >= 9 })
	expect(since+" eq null or "+vip+" eq true", func(i int) bool { return i%3 == 0 || i%4 == 0 })
	expect(tags+"/any(t: t eq 'T2')", func(i int) bool { return i%2 == 0 && i%5 == 2 && i != 1 })
	expect(tags+"/any(t: t eq 'x')", func(i int) bool { return i == 1 })
	for _, bad := range []string{tier + " eq 1", tags + " eq 'x'", prefix + "nope eq 'x'", "startsWith(" + score + ", '1')"} {
		res := s.do("GET", "/v1.0/users?$filter="+url.QueryEscape(bad), admin, nil)
		if res.Status != http.StatusBadRequest || res.ErrorCode(t) != "Request_UnsupportedQuery" {
			t.Errorf("$filter=%s: %d %s", bad, res.Status, res.Body)
		}
	}

	// $orderby with paging: every user once, in order.
	for _, dir := range []string{"", " desc"} {
		got := list("$orderby=" + url.QueryEscape(score+dir) + "&$top=4")
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		slices.SortFunc(want, func(a, b int) int {
			if dir != "" {
				return scoreOf(b) - scoreOf(a)
			}
			return scoreOf(a) - scoreOf(b)
		})
		if !slices.Equal(got, want) {
			t.Errorf("$orderby=%s%s:\n got %v\nwant %v", score, dir, got, want)
		}
		got = list("$orderby=" + url.QueryEscape(tier+dir+",displayName") + "&$top=3&$filter=" + url.QueryEscape(tier+" ne 'Tier1'"))
		if len(got) != n-len(filter(tier+" eq 'Tier1'")) {
			t.Errorf("$orderby=%s%s filtered: %d users", tier, dir, len(got))
		}
	}

	// With User.ReadBasic.All, extension values are neither shown nor filterable.
	basic := s.appToken("User.ReadBasic.All")
	if res := s.do("GET", "/v1.0/users?$filter="+url.QueryEscape(tier+" eq 'Tier2'"), basic, nil); res.Status != http.StatusForbidden {
		t.Errorf("ReadBasic filter on an extension: %d %s", res.Status, res.Body)
	}
	if res := s.do("GET", "/v1.0/users/"+ids[2]+"?$select=id,"+tier, basic, nil); res.Status != http.StatusOK || res.JSON(t)[tier] != nil {
		t.Errorf("ReadBasic $select of an extension: %d %s", res.Status, res.Body)
	}

	// A customer cannot write extension values on their own profile.
	if res := s.do("PATCH", "/v1.0/me", s.userToken(ids[3], "User.ReadWrite"), map[string]any{tier: "Gold"}); res.Status != http.StatusForbidden {
		t.Errorf("self-service extension write: %d %s", res.Status, res.Body)
	}

	// At most 100 extension values per user.
	define("many", "String", true)
	many := prefix + "many"
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = fmt.Sprint("v", i)
	}
	if res := s.do("PATCH", "/v1.0/users/"+ids[0], admin, map[string]any{many: append(hundred, "x")}); res.Status != http.StatusBadRequest {
		t.Errorf("101 values in one property: %d %s", res.Status, res.Body)
	}
	// ids[0] has score, big, vip and two tags: 5 values; 93 more make 98.
	if res := s.do("PATCH", "/v1.0/users/"+ids[0], admin, map[string]any{many: hundred[:93]}); res.Status != http.StatusNoContent {
		t.Fatalf("93 values: %d %s", res.Status, res.Body)
	}
	if res := s.do("PATCH", "/v1.0/users/"+ids[0], admin, map[string]any{tier: "T", since: "2024-01-01T00:00:00Z"}); res.Status != http.StatusNoContent {
		t.Fatalf("100th value: %d %s", res.Status, res.Body)
	}
	// Three tags instead of two: 101.
	if res := s.do("PATCH", "/v1.0/users/"+ids[0], admin, map[string]any{tags: []string{"one", "two", "three"}}); res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), "100") {
		t.Errorf("101st value: %d %s", res.Status, res.Body)
	}

	// Tenant isolation: tenant B neither sees nor uses A's definitions.
	other := s.newTenant("fabrikam.example")
	bAdmin := s.appTokenIn(other, "Application.ReadWrite.All", "User.ReadWrite.All", "User.ManageIdentities.All")
	if res := s.do("GET", base, bAdmin, nil); res.Status != http.StatusNotFound {
		t.Errorf("tenant B lists A's definitions: %d %s", res.Status, res.Body)
	}
	res = s.do("POST", "/v1.0/users", bAdmin, map[string]any{"displayName": "B",
		"identities": []map[string]any{{"signInType": "federated", "issuer": "google.com", "issuerAssignedId": "b1"}}, tier: "Gold"})
	if res.Status != http.StatusBadRequest || !strings.Contains(string(res.Body), tier) {
		t.Errorf("tenant B writes A's extension: %d %s", res.Status, res.Body)
	}
	if res := s.do("GET", "/v1.0/users?$filter="+url.QueryEscape(tier+" eq 'Tier2'"), bAdmin, nil); res.Status != http.StatusBadRequest {
		t.Errorf("tenant B filters on A's extension: %d %s", res.Status, res.Body)
	}

	// Deleting a definition removes its values; its name is unknown again.
	if res := s.do("DELETE", base+"/"+tagsDef["id"].(string), admin, nil); res.Status != http.StatusNoContent {
		t.Fatalf("delete definition: %d %s", res.Status, res.Body)
	}
	if res := s.do("GET", base+"/"+tagsDef["id"].(string), admin, nil); res.Status != http.StatusNotFound {
		t.Errorf("deleted definition: %d", res.Status)
	}
	if res := s.do("GET", "/v1.0/users/"+ids[2]+"?$select="+tags, admin, nil); res.Status != http.StatusBadRequest {
		t.Errorf("$select of a deleted definition: %d %s", res.Status, res.Body)
	}
	var left int
	if err := s.db.store.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM user_extension_values WHERE ext_id = $1`, tagsDef["id"]).Scan(&left); err != nil || left != 0 {
		t.Errorf("values of a deleted definition: %d %v", left, err)
	}
	// Deleting the application deletes its definitions.
	if res := s.do("DELETE", "/v1.0/applications/"+appObj, admin, nil); res.Status != http.StatusNoContent {
		t.Fatalf("delete application: %d %s", res.Status, res.Body)
	}
	if err := s.db.store.DB().QueryRowContext(context.Background(), `SELECT count(*) FROM user_extension_values`).Scan(&left); err != nil || left != 0 {
		t.Errorf("values after the application was deleted: %d %v", left, err)
	}
}

// extensionProperties take $select (list and get) and $filter=name eq '…',
// as Graph documents; other filters and options are refused.
func TestExtensionPropertiesSelectAndFilter(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	admin := s.appToken("Application.ReadWrite.All")
	res := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": "ext-query-app"})
	if res.Status != http.StatusCreated {
		t.Fatalf("create application: %d %s", res.Status, res.Body)
	}
	app := res.JSON(t)
	appObj := app["id"].(string)
	prefix := "extension_" + strings.ReplaceAll(app["appId"].(string), "-", "") + "_"
	base := "/v1.0/applications/" + appObj + "/extensionProperties"
	ids := map[string]string{}
	for _, n := range []string{"tier", "score"} {
		r := s.do("POST", base, admin, map[string]any{"name": n, "dataType": "String", "targetObjects": []string{"User"}})
		if r.Status != http.StatusCreated {
			t.Fatalf("define %s: %d %s", n, r.Status, r.Body)
		}
		ids[n] = r.JSON(t)["id"].(string)
	}
	ctx := s.srv.URL + "/v1.0/$metadata#applications('" + appObj + "')/extensionProperties"
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}

	r := s.do("GET", base+"?$select=NAME,dataType", admin, nil)
	m := r.JSON(t)
	if r.Status != 200 || m["@odata.context"] != ctx+"(name,dataType)" || len(m["value"].([]any)) != 2 {
		t.Fatalf("$select: %d %s", r.Status, r.Body)
	}
	for _, v := range m["value"].([]any) {
		if got := keys(v.(map[string]any)); !slices.Equal(got, []string{"dataType", "id", "name"}) {
			t.Errorf("$select item members %v", got)
		}
	}
	r = s.do("GET", base+"/"+ids["tier"]+"?$select=name", admin, nil)
	if m := r.JSON(t); r.Status != 200 || m["@odata.context"] != ctx+"(name)/$entity" || m["name"] != prefix+"tier" ||
		!slices.Equal(keys(m), []string{"@odata.context", "id", "name"}) {
		t.Errorf("get $select: %d %s", r.Status, r.Body)
	}

	for q, want := range map[string][]string{
		"name eq '" + prefix + "tier'":                   {ids["tier"]},
		"name eq '" + strings.ToUpper(prefix) + "SCORE'": {ids["score"]},
		"name eq 'extension_none_tier'":                  nil,
	} {
		r := s.do("GET", base+"?$filter="+url.QueryEscape(q)+"&$select=id", admin, nil)
		if r.Status != 200 {
			t.Errorf("$filter=%s: %d %s", q, r.Status, r.Body)
			continue
		}
		var got []string
		for _, v := range r.JSON(t)["value"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		if !slices.Equal(got, want) {
			t.Errorf("$filter=%s: %v, want %v", q, got, want)
		}
	}
	for _, p := range []string{
		base + "?$filter=" + url.QueryEscape("dataType eq 'String'"),
		base + "?$filter=" + url.QueryEscape("startsWith(name,'ext')"),
		base + "?$select=displayName",
		base + "?$top=1",
		base + "/" + ids["tier"] + "?$filter=" + url.QueryEscape("name eq 'x'"),
	} {
		r := s.do("GET", p, admin, nil)
		if r.Status != 400 {
			t.Errorf("GET %s: %d %s, want 400", p, r.Status, r.Body)
		}
		r.ErrorCode(t)
	}
}
