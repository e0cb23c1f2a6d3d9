package main

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestCrossTenant: a token of tenant A never sees, counts, pages into or
// changes tenant B's objects, by id, by userPrincipalName, by skiptoken or
// through role assignments, over every endpoint.
func TestCrossTenant(t *testing.T) {
	s := newStack(t)
	a := s.tenant
	b := s.newTenant("fabrikam.example")
	if b == a {
		t.Fatal("tenant create returned the default tenant")
	}

	// Tenant B: users, one of them an administrator, and a few more for paging.
	bAdmin := s.appTokenIn(b, "User.ReadWrite.All", "RoleManagement.ReadWrite.Directory")
	bob := s.do("POST", "/v1.0/users", bAdmin, workforceUser("bob@fabrikam.example"))
	if bob.Status != 201 {
		t.Fatalf("create in B: %d %s", bob.Status, bob.Body)
	}
	bobID := bob.JSON(t)["id"].(string)
	for i := 0; i < 3; i++ {
		s.rawUser(b, fmt.Sprintf("b%d@fabrikam.example", i))
	}
	bRole := s.do("POST", "/v1.0/roleManagement/directory/roleAssignments", bAdmin,
		map[string]any{"principalId": bobID, "roleDefinitionId": directory.RoleGlobalAdministrator, "directoryScopeId": "/"})
	if bRole.Status != 201 {
		t.Fatalf("role in B: %d %s", bRole.Status, bRole.Body)
	}
	bRoleID := bRole.JSON(t)["id"].(string)
	r := s.do("GET", "/v1.0/users?$top=2&$select=id", bAdmin, nil)
	bNext, _ := r.JSON(t)["@odata.nextLink"].(string)
	if bNext == "" {
		t.Fatalf("B listing has no next page: %s", r.Body)
	}
	bSkip := mustSkipToken(t, bNext)

	// Tenant A: its own users, an app with every permission and a Global
	// Administrator with every scope.
	aAlice := s.rawUser(a, "alice@contoso.com")
	aGA := s.rawUser(a, "ga@contoso.com", "Global Administrator")
	aApp := s.appToken("User.ReadWrite.All", "Directory.ReadWrite.All", "User.ManageIdentities.All", "RoleManagement.ReadWrite.Directory")
	aUser := s.userToken(aGA, broadScopes...)
	_ = aAlice

	for _, who := range []struct{ name, token string }{{"app", aApp}, {"global admin", aUser}} {
		t.Run(who.name, func(t *testing.T) {
			tok := who.token
			notFound := []struct {
				method, path string
				body         any
			}{
				{"GET", "/v1.0/users/" + bobID, nil},
				{"GET", "/v1.0/users/bob@fabrikam.example", nil},
				{"GET", "/v1.0/users('bob@fabrikam.example')", nil},
				{"PATCH", "/v1.0/users/" + bobID, map[string]any{"jobTitle": "pwned"}},
				{"PATCH", "/v1.0/users/bob@fabrikam.example", map[string]any{"jobTitle": "pwned"}},
				{"PATCH", "/v1.0/users/" + bobID, map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-x"}}},
				{"PATCH", "/v1.0/users/" + bobID, map[string]any{"accountEnabled": false}},
				{"DELETE", "/v1.0/users/" + bobID, nil},
				{"DELETE", "/v1.0/users/bob@fabrikam.example", nil},
				{"GET", "/v1.0/roleManagement/directory/roleAssignments/" + bRoleID, nil},
				{"DELETE", "/v1.0/roleManagement/directory/roleAssignments/" + bRoleID, nil},
			}
			for _, c := range notFound {
				before := s.snapshot()
				r := s.do(c.method, c.path, tok, c.body)
				if r.Status != 404 {
					t.Errorf("%s %s: %d, want 404: %s", c.method, c.path, r.Status, r.Body)
					continue
				}
				if code := s.checkDenied(t, r, before); code != "Request_ResourceNotFound" {
					t.Errorf("%s %s: code %s", c.method, c.path, code)
				}
			}
			// Listing, counting, searching and filtering never include B.
			for _, q := range []string{
				"/v1.0/users?$select=id,userPrincipalName",
				"/v1.0/users?$filter=" + url.QueryEscape("id eq '"+bobID+"'"),
				"/v1.0/users?$filter=" + url.QueryEscape("userPrincipalName eq 'bob@fabrikam.example'"),
				"/v1.0/users?$filter=" + url.QueryEscape("startswith(userPrincipalName,'b')"),
				"/v1.0/users?$search=" + url.QueryEscape(`"displayName:Adele"`) + "&$count=true",
				"/v1.0/users?$search=" + url.QueryEscape(`"userPrincipalName:bob"`),
			} {
				r := s.do("GET", q, tok, nil, "ConsistencyLevel", "eventual")
				if r.Status != 200 {
					t.Errorf("GET %s: %d %s", q, r.Status, r.Body)
					continue
				}
				if strings.Contains(string(r.Body), bobID) || strings.Contains(strings.ToLower(string(r.Body)), "fabrikam") {
					t.Errorf("GET %s shows tenant B: %s", q, r.Body)
				}
			}
			var aCount int
			if err := s.db.store.DB().QueryRow(`SELECT count(*) FROM users WHERE tenant_id = $1`, a).Scan(&aCount); err != nil {
				t.Fatal(err)
			}
			r := s.do("GET", "/v1.0/users/$count", tok, nil, "ConsistencyLevel", "eventual")
			if r.Status != 200 || string(r.Body) != strconv.Itoa(aCount) {
				t.Errorf("$count = %d %s, want %d", r.Status, r.Body, aCount)
			}
			r = s.do("GET", "/v1.0/users/$count?$filter="+url.QueryEscape("endswith(userPrincipalName,'fabrikam.example')"), tok, nil, "ConsistencyLevel", "eventual")
			if r.Status == 200 && string(r.Body) != "0" {
				t.Errorf("$count of B's domain = %s", r.Body)
			}
			// B's skiptoken, replayed by A on the same query, is refused.
			before := s.snapshot()
			r = s.do("GET", "/v1.0/users?$top=2&$select=id&$skiptoken="+url.QueryEscape(bSkip), tok, nil)
			if r.Status != 400 {
				t.Errorf("B's skiptoken replayed by A: %d %s", r.Status, r.Body)
			} else {
				s.checkDenied(t, r, before)
			}
			// B's role assignments are invisible and B's users cannot be given roles.
			r = s.do("GET", "/v1.0/roleManagement/directory/roleAssignments", tok, nil)
			if r.Status != 200 || strings.Contains(string(r.Body), bobID) || strings.Contains(string(r.Body), bRoleID) {
				t.Errorf("role assignments of A show B: %d %s", r.Status, r.Body)
			}
			r = s.do("GET", "/v1.0/roleManagement/directory/roleAssignments?$filter="+url.QueryEscape("principalId eq '"+bobID+"'"), tok, nil)
			if r.Status != 200 || len(r.JSON(t)["value"].([]any)) != 0 {
				t.Errorf("filter on B's principal: %d %s", r.Status, r.Body)
			}
			before = s.snapshot()
			r = s.do("POST", "/v1.0/roleManagement/directory/roleAssignments", tok,
				map[string]any{"principalId": bobID, "roleDefinitionId": directory.RoleUserAdministrator, "directoryScopeId": "/"})
			if r.Status != 400 {
				t.Errorf("assigning a role to B's user from A: %d %s", r.Status, r.Body)
			} else {
				s.checkDenied(t, r, before)
			}
		})
	}

	// B's data is intact, and B sees only B.
	r = s.do("GET", "/v1.0/users/"+bobID+"?$select=jobTitle,accountEnabled", bAdmin, nil)
	if r.Status != 200 || r.JSON(t)["jobTitle"] != nil || r.JSON(t)["accountEnabled"] != true {
		t.Errorf("B's user changed: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", "/v1.0/users?$select=userPrincipalName", bAdmin, nil)
	if strings.Contains(string(r.Body), "contoso.com") || strings.Contains(string(r.Body), "graphdir.test") {
		t.Errorf("B sees A: %s", r.Body)
	}
	// A's user signed in to B (a token for tenant B naming A's user) is no one there.
	r = s.do("GET", "/v1.0/me", s.userTokenIn(b, aGA, "User.Read"), nil)
	if r.Status != 404 {
		t.Errorf("A's user in B: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", "/v1.0/users", s.userTokenIn(b, aGA, broadScopes...), nil)
	if r.Status != 403 {
		t.Errorf("A's Global Administrator is an administrator in B: %d %s", r.Status, r.Body)
	}
	// A token claiming tenant B but signed with A's key is refused.
	claims := s.validClaims("User.Read.All")
	claims["tid"], claims["iss"] = b, testPublicURL+"/"+b+"/v2.0"
	r = s.do("GET", "/v1.0/users", s.signedToken(claims, nil), nil)
	if r.Status != 401 {
		t.Errorf("B claims signed with A's key: %d %s", r.Status, r.Body)
	}
	// B's skiptoken still works in B (the control for the replay above).
	if r := s.do("GET", bNext, bAdmin, nil); r.Status != 200 {
		t.Errorf("B's own nextLink: %d %s", r.Status, r.Body)
	}
}

func mustSkipToken(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("$skiptoken")
	if tok == "" {
		t.Fatalf("no $skiptoken in %s", link)
	}
	return tok
}

// TestTenantAndRoleCLI: `graphdir tenant create`, `token --tenant`, and
// `role assign/list/remove` end to end.
func TestTenantAndRoleCLI(t *testing.T) {
	s := newStack(t)
	b := s.newTenant("northwind.example")
	if _, err := s.cli("tenant", "create", "--domain", "NorthWind.example"); err == nil {
		t.Error("a second tenant took the same domain")
	}
	if _, err := s.cli("tenant", "create", "--domain", "not a domain"); err == nil {
		t.Error("tenant create accepted an invalid domain")
	}
	out, err := s.cli("tenant", "list")
	if err != nil || !strings.Contains(out, b) || !strings.Contains(out, "northwind.example") {
		t.Errorf("tenant list: %v %s", err, out)
	}

	tok, err := s.cli("token", "--tenant", b, "--roles", "User.ReadWrite.All")
	if err != nil {
		t.Fatal(err)
	}
	r := s.do("POST", "/v1.0/users", tok, workforceUser("nancy@northwind.example"))
	if r.Status != 201 {
		t.Fatalf("create with a --tenant token: %d %s", r.Status, r.Body)
	}
	nancy := r.JSON(t)["id"].(string)
	if r := s.do("GET", "/v1.0/users/"+nancy, s.appToken("User.Read.All"), nil); r.Status != 404 {
		t.Errorf("default tenant sees the new tenant's user: %d", r.Status)
	}

	// Make nancy a User Administrator of B by UPN, then use it.
	out, err = s.cli("role", "assign", "--tenant", b, "--user", "nancy@northwind.example", "--role", "user administrator")
	if err != nil || !strings.Contains(out, "User Administrator") {
		t.Fatalf("role assign: %v %s", err, out)
	}
	if _, err := s.cli("role", "assign", "--tenant", b, "--user", nancy, "--role", "User Administrator"); err == nil {
		t.Error("the same role assigned twice")
	}
	if _, err := s.cli("role", "assign", "--tenant", b, "--user", nancy, "--role", "Supreme Leader"); err == nil {
		t.Error("an unknown role was assigned")
	}
	if _, err := s.cli("role", "assign", "--user", nancy, "--role", "Global Administrator"); err == nil {
		t.Error("a user of B got a role in the default tenant")
	}
	out, err = s.cli("role", "list", "--tenant", b)
	if err != nil || !strings.Contains(out, nancy) || !strings.Contains(out, "User Administrator") {
		t.Errorf("role list: %v %s", err, out)
	}
	userTok, err := s.cli("token", "--tenant", b, "--user", "nancy@northwind.example", "--scopes", "User.ReadWrite.All")
	if err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/v1.0/users", userTok, nil); r.Status != 200 {
		t.Errorf("User Administrator lists: %d %s", r.Status, r.Body)
	}
	if _, err := s.cli("role", "remove", "--tenant", b, "--user", nancy, "--role", "User Administrator"); err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/v1.0/users", userTok, nil); r.Status != 403 {
		t.Errorf("after role remove, the same token still lists: %d", r.Status)
	}
	out, _ = s.cli("role", "definitions")
	for _, d := range directory.RoleDefinitions() {
		if !strings.Contains(out, d.ID) {
			t.Errorf("role definitions lack %s", d.DisplayName)
		}
	}
	if _, err := s.cli("token", "--tenant", "00000000-0000-0000-0000-00000000000b", "--roles", "User.Read.All"); err == nil {
		t.Error("token minted for a tenant that does not exist")
	}
}

// TestRoleManagementAPI: Graph's roleManagement/directory shape.
func TestRoleManagementAPI(t *testing.T) {
	s := newStack(t)
	app := s.appToken("RoleManagement.ReadWrite.Directory")
	u := s.rawUser(s.tenant, "pat@contoso.com")
	const base = "/v1.0/roleManagement/directory/roleAssignments"

	r := s.do("POST", base, app, map[string]any{"@odata.type": "#microsoft.graph.unifiedRoleAssignment",
		"principalId": u, "roleDefinitionId": directory.RoleUserAdministrator, "directoryScopeId": "/"})
	if r.Status != 201 {
		t.Fatalf("POST: %d %s", r.Status, r.Body)
	}
	got := r.JSON(t)
	id, _ := got["id"].(string)
	if got["@odata.context"] != s.srv.URL+"/v1.0/$metadata#roleManagement/directory/roleAssignments/$entity" ||
		got["principalId"] != u || got["roleDefinitionId"] != directory.RoleUserAdministrator || got["directoryScopeId"] != "/" ||
		!directory.IsGUID(id) || !strings.HasSuffix(r.Header.Get("Location"), base+"/"+id) {
		t.Errorf("POST response: %s (Location %s)", r.Body, r.Header.Get("Location"))
	}
	s.assignRole(s.tenant, s.rawUser(s.tenant, "other@contoso.com"), "Directory Readers")

	for q, want := range map[string]int{
		"":                           2,
		"principalId eq '" + u + "'": 1,
		"roleDefinitionId eq '" + directory.RoleDirectoryReaders + "'":                                 1,
		"principalId eq '" + u + "' and roleDefinitionId eq '" + directory.RoleUserAdministrator + "'": 1,
		"principalId eq '" + u + "' and roleDefinitionId eq '" + directory.RoleDirectoryReaders + "'":  0,
		"principalId eq 'not-a-guid'": 0,
	} {
		path := base
		if q != "" {
			path += "?$filter=" + url.QueryEscape(q)
		}
		r := s.do("GET", path, app, nil)
		if r.Status != 200 {
			t.Errorf("GET %s: %d %s", q, r.Status, r.Body)
			continue
		}
		m := r.JSON(t)
		if m["@odata.context"] != s.srv.URL+"/v1.0/$metadata#roleManagement/directory/roleAssignments" || len(m["value"].([]any)) != want {
			t.Errorf("GET %s: %s, want %d", q, r.Body, want)
		}
	}
	if r := s.do("GET", base+"/"+id, app, nil); r.Status != 200 || r.JSON(t)["id"] != id {
		t.Errorf("GET by id: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", "/v1.0/roleManagement/directory/roleDefinitions", app, nil)
	var names []string
	for _, v := range r.JSON(t)["value"].([]any) {
		d := v.(map[string]any)
		names = append(names, d["displayName"].(string))
		if d["id"] != d["templateId"] || d["isBuiltIn"] != true {
			t.Errorf("role definition shape: %v", d)
		}
	}
	for _, want := range []string{"Global Administrator", "User Administrator", "Directory Readers", "Helpdesk Administrator",
		"Password Administrator", "Privileged Authentication Administrator", "Authentication Administrator", "Privileged Role Administrator"} {
		if !slices.Contains(names, want) {
			t.Errorf("roleDefinitions lacks %s", want)
		}
	}
	if r := s.do("GET", "/v1.0/roleManagement/directory/roleDefinitions/"+directory.RoleGlobalAdministrator, app, nil); r.Status != 200 || r.JSON(t)["displayName"] != "Global Administrator" {
		t.Errorf("GET role definition: %d %s", r.Status, r.Body)
	}

	// Refusals: nothing written, Graph envelope.
	before := s.snapshot()
	for _, c := range []struct {
		name   string
		body   any
		status int
	}{
		{"duplicate", map[string]any{"principalId": u, "roleDefinitionId": directory.RoleUserAdministrator, "directoryScopeId": "/"}, 400},
		{"unknown role", map[string]any{"principalId": u, "roleDefinitionId": "00000000-0000-0000-0000-000000000000", "directoryScopeId": "/"}, 400},
		{"role by name", map[string]any{"principalId": u, "roleDefinitionId": "Global Administrator", "directoryScopeId": "/"}, 400},
		{"unknown principal", map[string]any{"principalId": "00000000-0000-0000-0000-000000000001", "roleDefinitionId": directory.RoleGlobalAdministrator}, 400},
		{"principal by UPN", map[string]any{"principalId": "pat@contoso.com", "roleDefinitionId": directory.RoleGlobalAdministrator}, 400},
		{"scoped assignment", map[string]any{"principalId": u, "roleDefinitionId": directory.RoleGlobalAdministrator, "directoryScopeId": "/administrativeUnits/x"}, 400},
		{"missing principal", map[string]any{"roleDefinitionId": directory.RoleGlobalAdministrator}, 400},
		{"extra property", map[string]any{"principalId": u, "roleDefinitionId": directory.RoleGlobalAdministrator, "id": "x"}, 400},
		{"case-variant key", map[string]any{"PrincipalId": u, "roleDefinitionId": directory.RoleGlobalAdministrator}, 400},
		{"wrong type", map[string]any{"principalId": 5, "roleDefinitionId": directory.RoleGlobalAdministrator}, 400},
		{"wrong odata.type", map[string]any{"@odata.type": "#microsoft.graph.user", "principalId": u, "roleDefinitionId": directory.RoleGlobalAdministrator}, 400},
		{"duplicate key", `{"principalId":"` + u + `","principalId":"` + u + `","roleDefinitionId":"` + directory.RoleGlobalAdministrator + `"}`, 400},
		{"not an object", `[]`, 400},
	} {
		r := s.do("POST", base, app, c.body)
		if r.Status != c.status {
			t.Errorf("%s: %d, want %d: %s", c.name, r.Status, c.status, r.Body)
			continue
		}
		s.checkDenied(t, r, before)
	}
	for _, q := range []string{"displayName eq 'x'", "principalId ne 'x'", "principalId eq 'a' or principalId eq 'b'", "startswith(principalId,'a')"} {
		r := s.do("GET", base+"?$filter="+url.QueryEscape(q), app, nil)
		if r.Status != 400 {
			t.Errorf("$filter=%s: %d %s", q, r.Status, r.Body)
		}
	}
	if r := s.do("GET", base+"/00000000-0000-0000-0000-000000000009", app, nil); r.Status != 404 {
		t.Errorf("missing assignment: %d", r.Status)
	}
	if r := s.do("DELETE", base+"/"+id, app, nil); r.Status != 204 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	if r := s.do("DELETE", base+"/"+id, app, nil); r.Status != 404 {
		t.Errorf("second DELETE: %d", r.Status)
	}
	// Deleting a user removes their assignments.
	v := s.rawUser(s.tenant, "gone@contoso.com")
	s.assignRole(s.tenant, v, "Global Administrator")
	if r := s.do("DELETE", "/v1.0/users/"+v, s.userToken(s.rawUser(s.tenant, "ga2@contoso.com", "Global Administrator"), broadScopes...), nil); r.Status != 204 {
		t.Fatalf("delete admin: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", base+"?$filter="+url.QueryEscape("principalId eq '"+v+"'"), app, nil)
	if len(r.JSON(t)["value"].([]any)) != 0 {
		t.Errorf("assignments outlived their user: %s", r.Body)
	}
}

// TestReadBasic: User.ReadBasic.All shows the basic profile of others (the
// rest null, as Graph does), the caller's own full profile, and refuses to
// filter, sort or search on anything else.
func TestReadBasic(t *testing.T) {
	s := newStack(t)
	victim := s.rawUser(s.tenant, "vic@contoso.com")
	reader := s.rawUser(s.tenant, "reader@contoso.com", "Directory Readers")
	for _, c := range []struct{ name, token string }{
		{"app", s.appToken("User.ReadBasic.All")},
		{"delegated", s.userToken(reader, "User.ReadBasic.All")},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.do("GET", "/v1.0/users/"+victim, c.token, nil)
			u := r.JSON(t)
			if r.Status != 200 || u["displayName"] != "User vic@contoso.com" || u["userPrincipalName"] != "vic@contoso.com" || u["id"] != victim {
				t.Fatalf("basic properties: %d %s", r.Status, r.Body)
			}
			if _, ok := u["jobTitle"]; !ok || u["jobTitle"] != nil || u["mobilePhone"] != nil {
				t.Errorf("non-basic default properties not null: %s", r.Body)
			}
			r = s.do("GET", "/v1.0/users/"+victim+"?$select=jobTitle,city,mobilePhone,accountEnabled,identities,displayName", c.token, nil)
			u = r.JSON(t)
			// identities shows at most the userPrincipalName identity, which
			// is derived from the (basic) userPrincipalName.
			if r.Status != 200 || u["jobTitle"] != nil || u["city"] != nil || u["mobilePhone"] != nil || u["accountEnabled"] != nil ||
				len(u["identities"].([]any)) > 1 || u["displayName"] == nil {
				t.Errorf("$select of hidden properties: %s", r.Body)
			}
			if strings.Contains(string(r.Body), "Secret Job") || strings.Contains(string(r.Body), "Hidden City") || strings.Contains(string(r.Body), "555") {
				t.Errorf("hidden values leaked: %s", r.Body)
			}
			r = s.do("GET", "/v1.0/users?$select=id,jobTitle,city", c.token, nil)
			for _, v := range r.JSON(t)["value"].([]any) {
				row := v.(map[string]any)
				if row["id"] != reader && (row["jobTitle"] != nil || row["city"] != nil) {
					t.Errorf("listing leaks: %v", row)
				}
			}
			r = s.do("GET", "/v1.0/users?$filter="+url.QueryEscape("startswith(displayName,'User v')")+"&$orderby=displayName&$search="+url.QueryEscape(`"displayName:User"`)+"&$count=true", c.token, nil, "ConsistencyLevel", "eventual")
			if r.Status != 200 {
				t.Errorf("basic filter/sort/search refused: %d %s", r.Status, r.Body)
			}
		})
	}
	// The signed-in reader sees their own full profile.
	r := s.do("GET", "/v1.0/users/"+reader+"?$select=jobTitle", s.userToken(reader, "User.ReadBasic.All"), nil)
	if r.Status != 200 || r.JSON(t)["jobTitle"] != "Secret Job" {
		t.Errorf("own profile trimmed: %d %s", r.Status, r.Body)
	}
}

// Role definitions and assignments take $select (lists and gets) and role
// definitions take $filter, as Graph's List unifiedRoleDefinitions does.
func TestRoleManagementSelectAndFilter(t *testing.T) {
	s := newStack(t)
	app := s.appToken("RoleManagement.ReadWrite.Directory")
	u := s.rawUser(s.tenant, "sel@contoso.com")
	raID := s.assignRole(s.tenant, u, "User Administrator")
	const defs = "/v1.0/roleManagement/directory/roleDefinitions"
	const assigns = "/v1.0/roleManagement/directory/roleAssignments"
	ctx := s.srv.URL + "/v1.0/$metadata#roleManagement/directory/"
	keys := func(m map[string]any) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}

	// $select: the named members and id, nothing else; the context names
	// the selection; names match case-insensitively and come back canonical.
	for _, c := range []struct {
		path, context string
		want          []string
	}{
		{defs + "?$select=DISPLAYNAME,isBuiltIn", ctx + "roleDefinitions(displayName,isBuiltIn)", []string{"displayName", "id", "isBuiltIn"}},
		{assigns + "?$select=principalId", ctx + "roleAssignments(principalId)", []string{"id", "principalId"}},
	} {
		r := s.do("GET", c.path, app, nil)
		if r.Status != 200 {
			t.Fatalf("GET %s: %d %s", c.path, r.Status, r.Body)
		}
		m := r.JSON(t)
		items := m["value"].([]any)
		if m["@odata.context"] != c.context || len(items) == 0 {
			t.Errorf("GET %s: %s", c.path, r.Body)
		}
		for _, it := range items {
			if got := keys(it.(map[string]any)); !slices.Equal(got, c.want) {
				t.Errorf("GET %s: item members %v, want %v", c.path, got, c.want)
			}
		}
	}
	r := s.do("GET", defs+"/"+directory.RoleGlobalAdministrator+"?$select=displayName", app, nil)
	if m := r.JSON(t); r.Status != 200 || m["@odata.context"] != ctx+"roleDefinitions(displayName)/$entity" ||
		m["displayName"] != "Global Administrator" || !slices.Equal(keys(m), []string{"@odata.context", "displayName", "id"}) {
		t.Errorf("GET definition $select: %d %s", r.Status, r.Body)
	}
	r = s.do("GET", assigns+"/"+raID+"?$select=roleDefinitionId,directoryScopeId", app, nil)
	if m := r.JSON(t); r.Status != 200 || m["@odata.context"] != ctx+"roleAssignments(roleDefinitionId,directoryScopeId)/$entity" ||
		m["roleDefinitionId"] != directory.RoleUserAdministrator || !slices.Equal(keys(m), []string{"@odata.context", "directoryScopeId", "id", "roleDefinitionId"}) {
		t.Errorf("GET assignment $select: %d %s", r.Status, r.Body)
	}
	// A name the type lacks is refused naming it.
	for _, p := range []string{defs + "?$select=principalId", assigns + "/" + raID + "?$select=displayName"} {
		if r := s.do("GET", p, app, nil); r.Status != 400 || !strings.Contains(string(r.Body), "Could not find a property named") {
			t.Errorf("GET %s: %d %s", p, r.Status, r.Body)
		}
	}

	// $filter on role definitions.
	names := func(r *response) []string {
		var out []string
		for _, v := range r.JSON(t)["value"].([]any) {
			out = append(out, v.(map[string]any)["displayName"].(string))
		}
		slices.Sort(out)
		return out
	}
	for q, want := range map[string][]string{
		"displayName eq 'Helpdesk Administrator'":                                      {"Helpdesk Administrator"},
		"displayname eq 'helpdesk administrator'":                                      {"Helpdesk Administrator"},
		"id eq '" + directory.RoleGlobalAdministrator + "'":                            {"Global Administrator"},
		"templateId eq '" + directory.RoleDirectoryReaders + "' or displayName eq 'x'": {"Directory Readers"},
		"displayName in ('User Administrator', 'Directory Readers')":                   {"Directory Readers", "User Administrator"},
		"isBuiltIn eq false": nil,
		"isBuiltIn eq true and not (displayName ne 'Password Administrator')": {"Password Administrator"},
	} {
		r := s.do("GET", defs+"?$filter="+url.QueryEscape(q), app, nil)
		if r.Status != 200 {
			t.Errorf("$filter=%s: %d %s", q, r.Status, r.Body)
			continue
		}
		if got := names(r); !slices.Equal(got, want) {
			t.Errorf("$filter=%s: %v, want %v", q, got, want)
		}
	}
	all := names(s.do("GET", defs+"?$filter="+url.QueryEscape("isEnabled eq true"), app, nil))
	if len(all) < 8 {
		t.Errorf("isEnabled eq true: %v", all)
	}
	for _, q := range []string{"version eq '1'", "startswith(displayName,'User')", "isBuiltIn eq 'yes'", "displayName gt 'A'"} {
		r := s.do("GET", defs+"?$filter="+url.QueryEscape(q), app, nil)
		if r.Status != 400 || r.ErrorCode(t) != "Request_UnsupportedQuery" {
			t.Errorf("$filter=%s: %d %s, want 400 Request_UnsupportedQuery", q, r.Status, r.Body)
		}
	}
}
