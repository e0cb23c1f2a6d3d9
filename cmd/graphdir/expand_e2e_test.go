package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// memberNames returns the sorted member names of a JSON object.
func memberNames(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestRoleAssignmentsExpand: $expand on roleManagement/directory/
// roleAssignments (list and get) serves the two navigation properties
// $metadata declares, principal (the user, with @odata.type) and
// roleDefinition, alone, together and as "*", with $select and $filter;
// everything else is refused with Graph's 400, never a 5xx.
func TestRoleAssignmentsExpand(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("RoleManagement.ReadWrite.Directory", "User.Read.All")
	const assigns = "/v1.0/roleManagement/directory/roleAssignments"
	ctx := s.srv.URL + "/v1.0/$metadata#roleManagement/directory/roleAssignments"
	ann := s.rawUser(s.tenant, "ann@contoso.com")
	bo := s.rawUser(s.tenant, "bo@contoso.com")
	annUA := s.assignRole(s.tenant, ann, "User Administrator")
	s.assignRole(s.tenant, ann, "Helpdesk Administrator")
	s.assignRole(s.tenant, bo, "Directory Readers")

	list := func(query, token string) (map[string]any, []map[string]any) {
		t.Helper()
		r := s.do("GET", assigns+"?"+query, token, nil)
		if r.Status != http.StatusOK {
			t.Fatalf("GET ?%s: %d %s", query, r.Status, r.Body)
		}
		m := r.JSON(t)
		var items []map[string]any
		for _, it := range m["value"].([]any) {
			items = append(items, it.(map[string]any))
		}
		if len(items) == 0 {
			t.Fatalf("GET ?%s: no assignments", query)
		}
		return m, items
	}
	checkPrincipal := func(what string, it map[string]any) map[string]any {
		t.Helper()
		p, ok := it["principal"].(map[string]any)
		if !ok || p["@odata.type"] != "#microsoft.graph.user" || p["id"] != it["principalId"] {
			t.Fatalf("%s: principal %v of assignment %v", what, it["principal"], it)
		}
		want := "User ann@contoso.com"
		if p["id"] == bo {
			want = "User bo@contoso.com"
		}
		if p["displayName"] != want || p["userPrincipalName"] == nil {
			t.Errorf("%s: principal %v, want the user %q with its default properties", what, p, want)
		}
		return p
	}
	checkDefinition := func(what string, it map[string]any) {
		t.Helper()
		d, ok := it["roleDefinition"].(map[string]any)
		def, known := directory.LookupRole(it["roleDefinitionId"].(string))
		if !ok || !known || d["id"] != def.ID || d["displayName"] != def.DisplayName || d["rolePermissions"] == nil {
			t.Errorf("%s: roleDefinition %v of assignment %v", what, it["roleDefinition"], it)
		}
	}

	// principal alone: the user, typed; the context names the expansion
	// as Graph writes it.
	m, items := list("$expand=principal", admin)
	if m["@odata.context"] != ctx+"(principal())" || len(items) != 3 {
		t.Errorf("$expand=principal: %v", m)
	}
	for _, it := range items {
		checkPrincipal("$expand=principal", it)
		if _, ok := it["roleDefinition"]; ok {
			t.Errorf("$expand=principal also expanded roleDefinition: %v", it)
		}
	}
	// roleDefinition alone.
	m, items = list("$expand=roleDefinition", admin)
	if m["@odata.context"] != ctx+"(roleDefinition())" {
		t.Errorf("$expand=roleDefinition: context %v", m["@odata.context"])
	}
	for _, it := range items {
		checkDefinition("$expand=roleDefinition", it)
		if _, ok := it["principal"]; ok {
			t.Errorf("$expand=roleDefinition also expanded principal: %v", it)
		}
	}
	// Both, in either spelling, and "*"; names match case-insensitively.
	for _, q := range []string{"$expand=principal,roleDefinition", "$expand=" + url.QueryEscape("ROLEDEFINITION, Principal"), "$expand=*", "$EXPAND=*,principal"} {
		m, items = list(q, admin)
		if c := m["@odata.context"].(string); c != ctx+"(principal(),roleDefinition())" && c != ctx+"(roleDefinition(),principal())" {
			t.Errorf("%s: context %s", q, c)
		}
		for _, it := range items {
			checkPrincipal(q, it)
			checkDefinition(q, it)
		}
	}
	// With $select: the selected members, id, and the expansion.
	m, items = list("$select=principalId&$expand=principal", admin)
	if m["@odata.context"] != ctx+"(principalId,principal())" {
		t.Errorf("$select with $expand: context %v", m["@odata.context"])
	}
	for _, it := range items {
		if got := memberNames(it); !slices.Equal(got, []string{"id", "principal", "principalId"}) {
			t.Errorf("$select=principalId&$expand=principal: members %v", got)
		}
		checkPrincipal("$select", it)
	}
	// With $filter (Graph's documented example): only the matching ones.
	_, items = list("$filter="+url.QueryEscape("principalId eq '"+bo+"'")+"&$expand=principal,roleDefinition", admin)
	if len(items) != 1 || items[0]["principalId"] != bo {
		t.Errorf("$filter with $expand: %v", items)
	}
	checkPrincipal("$filter", items[0])
	checkDefinition("$filter", items[0])

	// Get: the same, with /$entity.
	r := s.do("GET", assigns+"/"+annUA+"?$expand=roleDefinition", admin, nil)
	g := r.JSON(t)
	if r.Status != 200 || g["@odata.context"] != ctx+"(roleDefinition())/$entity" {
		t.Fatalf("get $expand=roleDefinition: %d %s", r.Status, r.Body)
	}
	checkDefinition("get", g)
	r = s.do("GET", assigns+"/"+annUA+"?$select=roleDefinitionId&$expand=*", admin, nil)
	g = r.JSON(t)
	if r.Status != 200 || g["@odata.context"] != ctx+"(roleDefinitionId,principal(),roleDefinition())/$entity" ||
		!slices.Equal(memberNames(g), []string{"@odata.context", "id", "principal", "roleDefinition", "roleDefinitionId"}) {
		t.Fatalf("get $select&$expand=*: %d %s", r.Status, r.Body)
	}
	g["principalId"] = ann // not selected: the principal must still be ann
	checkPrincipal("get", g)
	checkDefinition("get", g)
	// Without $expand nothing changes.
	if _, items = list("", admin); items[0]["principal"] != nil || items[0]["roleDefinition"] != nil {
		t.Errorf("no $expand, yet expanded: %v", items[0])
	}

	// Expanding principal reads users: it needs what listing users needs.
	// Role readers without a user permission get 403 before anything is
	// read; roleDefinition needs nothing more.
	roleReader := s.appToken("RoleManagement.Read.Directory")
	for _, p := range []string{assigns + "?$expand=principal", assigns + "/" + annUA + "?$expand=*"} {
		r := s.do("GET", p, roleReader, nil)
		if r.Status != http.StatusForbidden || r.ErrorCode(t) != "Authorization_RequestDenied" || !strings.Contains(string(r.Body), "User.Read") {
			t.Errorf("role reader GET %s: %d %s", p, r.Status, r.Body)
		}
	}
	if _, items = list("$expand=roleDefinition", roleReader); items[0]["roleDefinition"] == nil {
		t.Errorf("role reader $expand=roleDefinition: %v", items[0])
	}
	// With User.ReadBasic.All the principal is the basic profile, as in
	// GET /users.
	_, items = list("$expand=principal", s.appToken("RoleManagement.Read.Directory", "User.ReadBasic.All"))
	for _, it := range items {
		if p := checkPrincipal("basic", it); p["jobTitle"] != nil || p["mobilePhone"] != nil {
			t.Errorf("basic reader sees beyond the basic profile: %v", p)
		}
	}

	// What $metadata does not declare, and what graphdir does not do, is
	// Graph's 400 naming it; hostile values too, never a 5xx.
	for _, c := range []struct{ value, want string }{
		{"directoryScope", "Parsing OData Select and Expand failed: Could not find a property named 'directoryScope' on type 'microsoft.graph.unifiedRoleAssignment'."},
		{"appScope", "Could not find a property named 'appScope'"},
		{"principal($select=displayName)", "without nested query options"},
		{"principal/$ref", "/$ref"},
		{"principal/microsoft.graph.user", "type-cast"},
		{"principal,", "An identifier was expected at position 10."},
		{"principal)", "unbalanced bracket"},
		{"principal('", "unterminated string"},
		{strings.Repeat("p", 3000), "Could not find a property named 'ppp"},
		{"\x00principal", "Could not find a property named"},
		{"principal'; DROP TABLE users;--", "unterminated string"},
		{"principal''; DROP TABLE users;--", "Could not find a property named 'principal''; DROP TABLE users;--'"},
		{"<script>alert(1)</script>", "Could not find a property named '<script>alert"},
	} {
		for _, p := range []string{assigns, assigns + "/" + annUA} {
			r := s.do("GET", p+"?$expand="+url.QueryEscape(c.value), admin, nil)
			if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "BadRequest" || !strings.Contains(string(r.Body), c.want) {
				t.Errorf("GET %s?$expand=%.40q: %d %.300s, want 400 BadRequest %q", p, c.value, r.Status, r.Body, c.want)
			}
			if len(r.Body) > 1024 {
				t.Errorf("GET %s?$expand=%.40q echoes %d bytes", p, c.value, len(r.Body))
			}
		}
	}
	if r := s.do("GET", assigns+"?$expand=principal&$expand=roleDefinition", admin, nil); r.Status != 400 || !strings.Contains(string(r.Body), "more than once") {
		t.Errorf("$expand twice: %d %s", r.Status, r.Body)
	}
	// Role definitions take no $expand (Graph's inheritsPermissionsFrom is
	// not in graphdir's model): refused naming the option.
	if r := s.do("GET", "/v1.0/roleManagement/directory/roleDefinitions?$expand=*", admin, nil); r.Status != 400 || !strings.Contains(string(r.Body), "$expand") {
		t.Errorf("roleDefinitions $expand: %d %s", r.Status, r.Body)
	}
}

// TestExpandNotInGraphdirsModel: user (users, users(upn), me, delta,
// deletedItems casts) and directoryObject (deletedItems/{id}) declare no
// navigation property in $metadata, so $expand of manager, memberOf, ... is
// Graph's answer for a property the type does not have; "*" expands
// nothing. Applications expand extensionProperties, their one declared
// navigation property, in one query per page; owners and the like are
// refused as not in the model.
func TestExpandNotInGraphdirsModel(t *testing.T) {
	s := newStack(t)
	admin := s.appToken("User.ReadWrite.All", "Application.ReadWrite.All", "User.DeleteRestore.All")
	jo := s.rawUser(s.tenant, "jo@contoso.com")
	gone := s.rawUser(s.tenant, "gone@contoso.com")
	if r := s.do("DELETE", "/v1.0/users/"+gone, admin, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	me := s.userToken(jo, "User.Read")
	notFound := func(prop, typ string) string {
		return "Parsing OData Select and Expand failed: Could not find a property named '" + prop + "' on type 'microsoft.graph." + typ + "'."
	}
	for _, c := range []struct {
		path, token, typ string
	}{
		{"/v1.0/users", admin, "user"},
		{"/v1.0/users/" + jo, admin, "user"},
		{"/v1.0/users('jo@contoso.com')", admin, "user"},
		{"/v1.0/me", me, "user"},
		{"/v1.0/users/delta()", admin, "user"},
		{"/v1.0/users/delta", admin, "user"},
		{"/v1.0/directory/deletedItems/graph.user", admin, "user"},
		{"/v1.0/directory/deletedItems/microsoft.graph.user", admin, "user"},
		{"/v1.0/directory/deletedItems/" + gone + "/graph.user", admin, "user"},
		{"/v1.0/directory/deletedItems/" + gone, admin, "directoryObject"},
	} {
		for _, nav := range []string{"manager", "memberOf", "directReports"} {
			r := s.do("GET", c.path+"?$expand="+nav, c.token, nil)
			if r.Status != 400 || r.ErrorCode(t) != "BadRequest" || !strings.Contains(string(r.Body), notFound(nav, c.typ)) {
				t.Errorf("GET %s?$expand=%s: %d %s", c.path, nav, r.Status, r.Body)
			}
		}
		r := s.do("GET", c.path+"?$expand=*", c.token, nil)
		if r.Status != 200 {
			t.Errorf("GET %s?$expand=*: %d %s", c.path, r.Status, r.Body)
		} else if ctx, _ := r.JSON(t)["@odata.context"].(string); strings.Contains(ctx, "()") {
			t.Errorf("GET %s?$expand=*: context %s names an expansion of nothing", c.path, ctx)
		}
	}
	// Routes that take no $expand name it.
	for _, p := range []string{"/v1.0/users/$count", "/v1.0/directory/deletedItems/graph.user/$count", "/v1.0/applications/$count"} {
		if r := s.do("GET", p+"?$expand=*", admin, nil, "ConsistencyLevel", "eventual"); r.Status != 400 || !strings.Contains(string(r.Body), "$expand") {
			t.Errorf("GET %s?$expand=*: %d %s", p, r.Status, r.Body)
		}
	}

	// Applications: extensionProperties, for a whole page at once.
	mk := func(name string, exts ...string) map[string]any {
		r := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": name})
		if r.Status != 201 {
			t.Fatalf("create app: %d %s", r.Status, r.Body)
		}
		a := r.JSON(t)
		for _, e := range exts {
			if r := s.do("POST", "/v1.0/applications/"+a["id"].(string)+"/extensionProperties", admin,
				map[string]any{"name": e, "dataType": "String", "targetObjects": []string{"User"}}); r.Status != 201 {
				t.Fatalf("define %s: %d %s", e, r.Status, r.Body)
			}
		}
		return a
	}
	two := mk("exp-two", "colour", "size")
	none := mk("exp-none")
	extNames := func(a map[string]any) []string {
		var out []string
		for _, e := range a["extensionProperties"].([]any) {
			out = append(out, e.(map[string]any)["name"].(string))
		}
		return out
	}
	want := map[string][]string{
		two["id"].(string):  {"extension_" + strings.ReplaceAll(two["appId"].(string), "-", "") + "_colour", "extension_" + strings.ReplaceAll(two["appId"].(string), "-", "") + "_size"},
		none["id"].(string): nil,
	}
	ctx := s.srv.URL + "/v1.0/$metadata#applications"
	r := s.do("GET", "/v1.0/applications?$expand=extensionProperties&$select=displayName", admin, nil)
	m := r.JSON(t)
	if r.Status != 200 || m["@odata.context"] != ctx+"(displayName,extensionProperties())" {
		t.Fatalf("list $expand=extensionProperties: %d %s", r.Status, r.Body)
	}
	seen := 0
	for _, it := range m["value"].([]any) {
		a := it.(map[string]any)
		if !slices.Equal(memberNames(a), []string{"displayName", "extensionProperties", "id"}) {
			t.Errorf("list: members %v", memberNames(a))
		}
		if w, ok := want[a["id"].(string)]; ok {
			seen++
			if got := extNames(a); !slices.Equal(got, w) {
				t.Errorf("list: %s expands %v, want %v", a["displayName"], got, w)
			}
		}
	}
	if seen != 2 {
		t.Errorf("list: saw %d of the 2 applications: %s", seen, r.Body)
	}
	for _, key := range []string{two["id"].(string), "(appId='" + two["appId"].(string) + "')"} {
		p := "/v1.0/applications/" + key
		if strings.HasPrefix(key, "(") {
			p = "/v1.0/applications" + key
		}
		r := s.do("GET", p+"?$expand=EXTENSIONPROPERTIES", admin, nil)
		a := r.JSON(t)
		if r.Status != 200 || a["@odata.context"] != ctx+"(extensionProperties())/$entity" || a["displayName"] != "exp-two" {
			t.Fatalf("get %s: %d %s", p, r.Status, r.Body)
		}
		if got := extNames(a); !slices.Equal(got, want[two["id"].(string)]) {
			t.Errorf("get %s: %v", p, got)
		}
		for _, nav := range []string{"owners", "federatedIdentityCredentials", "extensionProperties($select=name)"} {
			r := s.do("GET", p+"?$expand="+url.QueryEscape(nav), admin, nil)
			if r.Status != 400 || r.ErrorCode(t) != "BadRequest" || !strings.Contains(string(r.Body), "Parsing OData Select and Expand failed") {
				t.Errorf("get %s?$expand=%s: %d %s", p, nav, r.Status, r.Body)
			}
		}
	}
	if r := s.do("GET", "/v1.0/applications?$expand=owners", admin, nil); r.Status != 400 ||
		!strings.Contains(string(r.Body), notFound("owners", "application")) {
		t.Errorf("list $expand=owners: %d %s", r.Status, r.Body)
	}
}
