package main

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// negCase is one negative test of security.md section 2. Every case also
// checks: no 5xx, the Graph error envelope (for error statuses), a
// request-id header, and an unchanged database.
type negCase struct {
	family string // D, E, F, H
	name   string
	method string
	path   string
	token  string
	body   any
	hdr    []string
	status []int  // any of these
	code   string // expected error.code when set
	check  func(t *testing.T, r *response)
}

func q(s string) string { return url.QueryEscape(s) }

// TestNegative covers families D (token kind, permissions, BOLA, BFLA), E
// (property-level authorization: mass assignment and over-exposure), F
// (OData query injection and complexity) and H (headers, paths,
// enumeration).
func TestNegative(t *testing.T) {
	s := newStack(t)
	tenant := s.tenant
	admin := s.appToken("User.ReadWrite.All")
	reader := s.appToken("User.Read.All")
	basicApp := s.appToken("User.ReadBasic.All")
	jane := s.create(admin, customer(s.domain, "jane@example.com"))["id"].(string)
	other := s.create(admin, customer(s.domain, "other@example.com"))["id"].(string)
	victim := s.rawUser(tenant, "victim@contoso.com")
	ga := s.rawUser(tenant, "ga@contoso.com", "Global Administrator")
	ua := s.rawUser(tenant, "ua@contoso.com", "User Administrator")
	pa := s.rawUser(tenant, "pa@contoso.com", "Password Administrator")
	dr := s.rawUser(tenant, "dr@contoso.com", "Directory Readers")
	for i := 0; i < 3; i++ {
		s.rawUser(tenant, fmt.Sprintf("pct%d@contoso.com", i))
	}
	otherUPN := s.do("GET", "/v1.0/users/"+other, admin, nil).JSON(t)["userPrincipalName"].(string)
	custRead := s.userToken(jane, "User.Read")
	custWrite := s.userToken(jane, "User.Read", "User.ReadWrite")
	custBroad := s.userToken(jane, broadScopes...)
	uaTok := s.userToken(ua, broadScopes...)
	paTok := s.userToken(pa, broadScopes...)
	drTok := s.userToken(dr, broadScopes...)
	drBasic := s.userToken(dr, "User.ReadBasic.All")
	gaTok := s.userToken(ga, broadScopes...)

	both := s.validClaims("User.ReadWrite.All", "Directory.ReadWrite.All")
	both["idtyp"], both["scp"], both["oid"], both["sub"] = "user", "User.Read", jane, jane
	bothKinds := s.signedToken(both, nil)
	legacy := s.validClaims("User.ReadWrite.All")
	delete(legacy, "idtyp")
	legacy["scp"], legacy["oid"], legacy["sub"] = "User.Read", jane, jane
	legacyBoth := s.signedToken(legacy, nil)

	empty := func(t *testing.T, r *response) {
		t.Helper()
		if v, ok := r.JSON(t)["value"].([]any); !ok || len(v) != 0 {
			t.Errorf("want an empty page: %s", r.Body)
		}
	}
	nullProps := func(props ...string) func(t *testing.T, r *response) {
		return func(t *testing.T, r *response) {
			t.Helper()
			m := r.JSON(t)
			for _, p := range props {
				if v, ok := m[p]; !ok || v != nil {
					t.Errorf("%s = %v, want null: %s", p, v, r.Body)
				}
			}
			if strings.Contains(string(r.Body), "Secret Job") || strings.Contains(string(r.Body), "555 0100") {
				t.Errorf("hidden value in %s", r.Body)
			}
		}
	}
	// Step-up properties (mail, otherMails, identities, password) at /me
	// without MFA: a claims challenge, never a write.
	claimsChallenge := func(t *testing.T, r *response) {
		t.Helper()
		if !strings.Contains(r.Header.Get("WWW-Authenticate"), "insufficient_claims") {
			t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
		}
	}
	deep := strings.Repeat("(", 150) + "displayName eq 'x'" + strings.Repeat(")", 150)
	inList := make([]string, 1200)
	for i := range inList {
		inList[i] = fmt.Sprintf("'u%d'", i)
	}
	ors := strings.TrimSuffix(strings.Repeat("displayName eq 'x' or ", 1500), " or ")
	nots := strings.Repeat("not ", 300) + "(displayName eq 'x')"

	cases := []negCase{
		// D: token kind, permissions, BOLA, BFLA.
		{family: "D", name: "app token on GET /me", method: "GET", path: "/v1.0/me", token: admin, status: []int{400}, code: "BadRequest"},
		{family: "D", name: "app token on PATCH /me", method: "PATCH", path: "/v1.0/me", token: admin, body: map[string]any{"city": "x"}, status: []int{400}, code: "BadRequest"},
		{family: "D", name: "customer reads another by id", method: "GET", path: "/v1.0/users/" + other, token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer reads another by UPN", method: "GET", path: "/v1.0/users/" + otherUPN, token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer reads a missing id: same 403", method: "GET", path: "/v1.0/users/00000000-0000-0000-0000-0000000000aa", token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer reads a missing UPN: same 403", method: "GET", path: "/v1.0/users/nobody@contoso.com", token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer patches another", method: "PATCH", path: "/v1.0/users/" + other, token: custBroad, body: map[string]any{"city": "x"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer patches a missing user: same 403", method: "PATCH", path: "/v1.0/users/00000000-0000-0000-0000-0000000000aa", token: custBroad, body: map[string]any{"city": "x"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer deletes self", method: "DELETE", path: "/v1.0/users/" + jane, token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer deletes another", method: "DELETE", path: "/v1.0/users/" + other, token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer lists", method: "GET", path: "/v1.0/users", token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer counts", method: "GET", path: "/v1.0/users/$count", token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer creates", method: "POST", path: "/v1.0/users", token: custBroad, body: workforceUser("c1@contoso.com"), status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer with a garbage body is refused before parsing", method: "POST", path: "/v1.0/users", token: custBroad, body: "{not json", status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer grants self Global Administrator", method: "POST", path: "/v1.0/roleManagement/directory/roleAssignments", token: custBroad,
			body: map[string]any{"principalId": jane, "roleDefinitionId": directory.RoleGlobalAdministrator}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "customer lists role assignments", method: "GET", path: "/v1.0/roleManagement/directory/roleAssignments", token: custBroad, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "User.Read lists", method: "GET", path: "/v1.0/users", token: custRead, status: []int{403}, code: "Authorization_RequestDenied",
			check: func(t *testing.T, r *response) {
				if !strings.Contains(r.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
					t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
				}
			}},
		{family: "D", name: "app reader patches", method: "PATCH", path: "/v1.0/users/" + victim, token: reader, body: map[string]any{"city": "x"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "app reader deletes", method: "DELETE", path: "/v1.0/users/" + victim, token: reader, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "app reader assigns roles", method: "POST", path: "/v1.0/roleManagement/directory/roleAssignments", token: reader,
			body: map[string]any{"principalId": victim, "roleDefinitionId": directory.RoleGlobalAdministrator}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "app User.Create reads", method: "GET", path: "/v1.0/users/" + victim, token: s.appToken("User.Create"), status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "scp+roles token is delegated: its roles are not app permissions", method: "POST", path: "/v1.0/users", token: bothKinds, body: workforceUser("c2@contoso.com"), status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "legacy scp+roles token lists as a customer", method: "GET", path: "/v1.0/users", token: legacyBoth, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "User Administrator resets a Global Administrator", method: "PATCH", path: "/v1.0/users/" + ga, token: uaTok,
			body: map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-neg"}}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "User Administrator disables a Global Administrator", method: "PATCH", path: "/v1.0/users/" + ga, token: uaTok, body: map[string]any{"accountEnabled": false}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "User Administrator renames a Global Administrator's UPN", method: "PATCH", path: "/v1.0/users/" + ga, token: uaTok, body: map[string]any{"userPrincipalName": "pwned@contoso.com"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "User Administrator deletes a Global Administrator", method: "DELETE", path: "/v1.0/users/" + ga, token: uaTok, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "User Administrator grants self Global Administrator", method: "POST", path: "/v1.0/roleManagement/directory/roleAssignments", token: uaTok,
			body: map[string]any{"principalId": ua, "roleDefinitionId": directory.RoleGlobalAdministrator}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "Password Administrator resets a User Administrator", method: "PATCH", path: "/v1.0/users/" + ua, token: paTok,
			body: map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-neg"}}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "Password Administrator changes a jobTitle", method: "PATCH", path: "/v1.0/users/" + victim, token: paTok, body: map[string]any{"jobTitle": "x"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "Directory Readers patch", method: "PATCH", path: "/v1.0/users/" + victim, token: drTok, body: map[string]any{"city": "x"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "Directory Readers delete", method: "DELETE", path: "/v1.0/users/" + victim, token: drTok, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "app with User.ReadWrite.All resets a Global Administrator", method: "PATCH", path: "/v1.0/users/" + ga, token: admin,
			body: map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-neg"}}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "D", name: "app with User.ReadWrite.All deletes a Global Administrator", method: "DELETE", path: "/v1.0/users/" + ga, token: admin, status: []int{403}, code: "Authorization_RequestDenied"},

		// E: mass assignment and over-exposure.
		{family: "E", name: "ReadBasic $select of hidden properties is null", method: "GET", path: "/v1.0/users/" + victim + "?$select=jobTitle,mobilePhone,city,accountEnabled", token: basicApp, status: []int{200},
			check: nullProps("jobTitle", "mobilePhone", "city", "accountEnabled")},
		{family: "E", name: "ReadBasic default properties hidden are null", method: "GET", path: "/v1.0/users/" + victim, token: drBasic, status: []int{200}, check: nullProps("jobTitle", "mobilePhone")},
		{family: "E", name: "ReadBasic filter on jobTitle", method: "GET", path: "/v1.0/users?$filter=" + q("jobTitle eq 'Secret Job'"), token: basicApp, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic filter on mobilePhone prefix", method: "GET", path: "/v1.0/users?$filter=" + q("startswith(mobilePhone,'+1')"), token: drBasic, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic filter hidden behind or", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq 'x' or accountEnabled eq false"), token: basicApp, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic filter hidden behind not", method: "GET", path: "/v1.0/users?$filter=" + q("not (city eq null)"), token: basicApp, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic filter on identities", method: "GET", path: "/v1.0/users?$filter=" + q("identities/any(i:i/issuerAssignedId eq 'jane@example.com')"), token: basicApp, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic filter with case-variant property", method: "GET", path: "/v1.0/users?$filter=" + q("JOBTITLE eq 'Secret Job'"), token: basicApp, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic orderby jobTitle", method: "GET", path: "/v1.0/users?$orderby=jobTitle", token: basicApp, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic search on a hidden property", method: "GET", path: "/v1.0/users?$search=" + q(`"city:Hidden"`), token: basicApp, hdr: []string{"ConsistencyLevel", "eventual"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic $count filtered on a hidden property", method: "GET", path: "/v1.0/users/$count?$filter=" + q("accountEnabled eq true"), token: drBasic, hdr: []string{"ConsistencyLevel", "eventual"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "ReadBasic filter on otherMails", method: "GET", path: "/v1.0/users?$filter=" + q("otherMails/any(m:m eq 'a@b.c')"), token: basicApp, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "self PATCH accountEnabled", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"accountEnabled": false}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "self PATCH userPrincipalName", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"userPrincipalName": "boss@contoso.com"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "self PATCH identities without MFA (step-up)", method: "PATCH", path: "/v1.0/me", token: custBroad,
			body: map[string]any{"identities": []any{map[string]any{"signInType": "emailAddress", "issuer": s.domain, "issuerAssignedId": "x@example.com"}}}, status: []int{401}, code: "InvalidAuthenticationToken", check: claimsChallenge},
		{family: "E", name: "self PATCH passwordProfile without MFA (step-up)", method: "PATCH", path: "/v1.0/me", token: custBroad, body: map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-neg"}}, status: []int{401}, code: "InvalidAuthenticationToken", check: claimsChallenge},
		{family: "E", name: "self PATCH mail without MFA (step-up)", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"mail": "x@example.com"}, status: []int{401}, code: "InvalidAuthenticationToken", check: claimsChallenge},
		{family: "E", name: "self PATCH otherMails without MFA (step-up)", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"otherMails": []string{"x@example.com"}}, status: []int{401}, code: "InvalidAuthenticationToken", check: claimsChallenge},
		{family: "E", name: "self PATCH userType", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"userType": "Member"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "self PATCH employeeId", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"employeeId": "1"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "self PATCH usageLocation", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"usageLocation": "NO"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "self PATCH allowed plus forbidden", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"city": "Bergen", "accountEnabled": true}, status: []int{403}, code: "Authorization_RequestDenied",
			check: func(t *testing.T, r *response) {
				if !strings.Contains(string(r.Body), "postalCode") {
					t.Errorf("403 does not list the self-service properties: %s", r.Body)
				}
			}},
		{family: "E", name: "self PATCH by id of a forbidden property", method: "PATCH", path: "/v1.0/users/" + jane, token: custBroad, body: map[string]any{"accountEnabled": false}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "self PATCH read-only id", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"id": other}, status: []int{400}, code: "Request_BadRequest"},
		{family: "E", name: "self PATCH read-only createdDateTime", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"createdDateTime": "2000-01-01T00:00:00Z"}, status: []int{400}, code: "Request_BadRequest"},
		{family: "E", name: "self PATCH read-only creationType", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"creationType": "Invitation"}, status: []int{400}, code: "Request_BadRequest"},
		{family: "E", name: "self PATCH case-variant DisplayName", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"DisplayName": "x"}, status: []int{400}, code: "Request_BadRequest"},
		{family: "E", name: "self PATCH case-variant ACCOUNTENABLED", method: "PATCH", path: "/v1.0/me", token: custWrite, body: map[string]any{"ACCOUNTENABLED": false}, status: []int{400}, code: "Request_BadRequest"},
		{family: "E", name: "self PATCH duplicate key smuggling", method: "PATCH", path: "/v1.0/me", token: custWrite, body: `{"city":"x","city":"y"}`, status: []int{400}, code: "Request_BadRequest"},
		{family: "E", name: "app ManageIdentities changes displayName", method: "PATCH", path: "/v1.0/users/" + victim, token: s.appToken("User.ManageIdentities.All"), body: map[string]any{"displayName": "x"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "app EnableDisable changes jobTitle", method: "PATCH", path: "/v1.0/users/" + victim, token: s.appToken("User.EnableDisableAccount.All", "User.Read.All"), body: map[string]any{"jobTitle": "x"}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "app PasswordProfile disables", method: "PATCH", path: "/v1.0/users/" + victim, token: s.appToken("User-PasswordProfile.ReadWrite.All"), body: map[string]any{"accountEnabled": false}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "app ReadWrite.All changes identities without ManageIdentities", method: "PATCH", path: "/v1.0/users/" + victim, token: admin,
			body: map[string]any{"identities": []any{map[string]any{"signInType": "emailAddress", "issuer": s.domain, "issuerAssignedId": "takeover@example.com"}}}, status: []int{403}, code: "Authorization_RequestDenied"},
		{family: "E", name: "app ManageIdentities sets a UPN through a userPrincipalName identity", method: "PATCH", path: "/v1.0/users/" + victim, token: s.appToken("User.ManageIdentities.All"),
			body: map[string]any{"identities": []any{map[string]any{"signInType": "userPrincipalName", "issuer": "contoso.com", "issuerAssignedId": "renamed@contoso.com"}}}, status: []int{403}, code: "Authorization_RequestDenied"},

		// F: query injection and complexity.
		{family: "F", name: "SQL in a string literal matches nothing", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq 'x'' or ''1''=''1'"), token: reader, status: []int{200}, check: empty},
		{family: "F", name: "SQL comment in a literal", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq 'x''; DROP TABLE users; --'"), token: reader, status: []int{200}, check: empty},
		{family: "F", name: "LIKE wildcard % in startswith is literal", method: "GET", path: "/v1.0/users?$filter=" + q("startswith(displayName,'%')"), token: reader, status: []int{200}, check: empty},
		{family: "F", name: "LIKE wildcard _ in startswith is literal", method: "GET", path: "/v1.0/users?$filter=" + q("startswith(userPrincipalName,'___')"), token: reader, status: []int{200}, check: empty},
		{family: "F", name: "backslash escape in startswith", method: "GET", path: "/v1.0/users?$filter=" + q(`startswith(displayName,'\%')`), token: reader, status: []int{200}, check: empty},
		{family: "F", name: "unterminated literal", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq 'x"), token: reader, status: []int{400}},
		{family: "F", name: "statement after the filter", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq 'x';DROP TABLE users"), token: reader, status: []int{400}},
		{family: "F", name: "tautology without a property", method: "GET", path: "/v1.0/users?$filter=" + q("1 eq 1"), token: reader, status: []int{400}},
		{family: "F", name: "column name as property", method: "GET", path: "/v1.0/users?$filter=" + q("password_hash eq 'x'"), token: reader, status: []int{400}},
		{family: "F", name: "password in filter", method: "GET", path: "/v1.0/users?$filter=" + q("passwordProfile/password eq 'x'"), token: reader, status: []int{400}},
		{family: "F", name: "column name in $select", method: "GET", path: "/v1.0/users?$select=password_hash", token: reader, status: []int{400}},
		{family: "F", name: "write-only property in $select", method: "GET", path: "/v1.0/users?$select=passwordProfile", token: reader, status: []int{400}},
		{family: "F", name: "SQL in $orderby", method: "GET", path: "/v1.0/users?$orderby=" + q("displayName; DROP TABLE users"), token: reader, status: []int{400}},
		{family: "F", name: "subquery-ish orderby", method: "GET", path: "/v1.0/users?$orderby=" + q("(SELECT 1)"), token: reader, status: []int{400}},
		{family: "F", name: "deep nesting", method: "GET", path: "/v1.0/users?$filter=" + q(deep), token: reader, status: []int{400}},
		{family: "F", name: "deep not chain", method: "GET", path: "/v1.0/users?$filter=" + q(nots), token: reader, status: []int{400}},
		{family: "F", name: "huge in-list", method: "GET", path: "/v1.0/users?$filter=" + q("displayName in ("+strings.Join(inList, ",")+")"), token: reader, status: []int{400, 414}},
		{family: "F", name: "thousands of ors", method: "GET", path: "/v1.0/users?$filter=" + q(ors), token: reader, status: []int{400, 414}},
		{family: "F", name: "long literal", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq '"+strings.Repeat("a", 9000)+"'"), token: reader, status: []int{400, 414}},
		{family: "F", name: "NUL byte in a literal", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq 'a\x00b'"), token: reader, status: []int{200, 400}},
		{family: "F", name: "invalid UTF-8 in a literal", method: "GET", path: "/v1.0/users?$filter=displayName%20eq%20%27%FF%FE%27", token: reader, status: []int{200, 400}},
		{family: "F", name: "malformed percent-encoding", method: "GET", path: "/v1.0/users?$filter=displayName%20eq%20%27%zz%27", token: reader, status: []int{400}},
		{family: "F", name: "search with a quote injection", method: "GET", path: "/v1.0/users?$search=" + q(`"displayName:x\" OR 1=1 --"`), token: reader, hdr: []string{"ConsistencyLevel", "eventual"}, status: []int{200, 400}},
		{family: "F", name: "search on an unknown column", method: "GET", path: "/v1.0/users?$search=" + q(`"password_hash:x"`), token: reader, hdr: []string{"ConsistencyLevel", "eventual"}, status: []int{400}},
		{family: "F", name: "negative $top", method: "GET", path: "/v1.0/users?$top=-1", token: reader, status: []int{400}},
		{family: "F", name: "overflowing $top", method: "GET", path: "/v1.0/users?$top=99999999999999999999999", token: reader, status: []int{400}},
		{family: "F", name: "negative $skip", method: "GET", path: "/v1.0/users?$skip=-5", token: reader, status: []int{400}},
		{family: "F", name: "forged skiptoken", method: "GET", path: "/v1.0/users?$skiptoken=eyJpZCI6IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJ9", token: reader, status: []int{400}},
		{family: "F", name: "oversized skiptoken", method: "GET", path: "/v1.0/users?$skiptoken=" + strings.Repeat("A", 10000), token: reader, status: []int{400, 414}},
		{family: "F", name: "repeated $filter", method: "GET", path: "/v1.0/users?$filter=" + q("displayName eq 'a'") + "&$filter=" + q("displayName eq 'b'"), token: reader, status: []int{400}},
		{family: "F", name: "$expand", method: "GET", path: "/v1.0/users?$expand=manager", token: reader, status: []int{400}},
		{family: "F", name: "type-confused comparison", method: "GET", path: "/v1.0/users?$filter=" + q("accountEnabled eq 'true'"), token: reader, status: []int{400}},
		{family: "F", name: "function call on an unknown function", method: "GET", path: "/v1.0/users?$filter=" + q("pg_sleep(10) eq 1"), token: reader, status: []int{400}},
		{family: "F", name: "role assignment filter injection", method: "GET", path: "/v1.0/roleManagement/directory/roleAssignments?$filter=" + q("principalId eq 'x'' OR 1=1 --'"), token: s.appToken("RoleManagement.Read.Directory"), status: []int{200}, check: empty},

		// H: headers, paths, enumeration.
		{family: "H", name: "path traversal in the key", method: "GET", path: "/v1.0/users/..%2F..%2Fetc%2Fpasswd", token: reader, status: []int{400, 404}},
		{family: "H", name: "dot-dot key", method: "GET", path: "/v1.0/users/%2e%2e", token: reader, status: []int{400, 404}},
		{family: "H", name: "encoded slash in a UPN", method: "GET", path: "/v1.0/users/a%2Fb@contoso.com", token: reader, status: []int{404}, code: "Request_ResourceNotFound"},
		{family: "H", name: "NUL byte in a UPN key", method: "GET", path: "/v1.0/users/a%00b@contoso.com", token: reader, status: []int{400, 404}},
		{family: "H", name: "very long key", method: "GET", path: "/v1.0/users/" + strings.Repeat("a", 5000) + "@contoso.com", token: reader, status: []int{400, 404, 414}},
		{family: "H", name: "system segment as a key", method: "GET", path: "/v1.0/users/$ref", token: reader, status: []int{404}},
		{family: "H", name: "navigation not served", method: "GET", path: "/v1.0/users/" + victim + "/manager", token: reader, status: []int{404, 405}},
		{family: "H", name: "beta copy of the API does not exist", method: "GET", path: "/beta/users", token: reader, status: []int{404}},
		{family: "H", name: "X-HTTP-Method-Override ignored", method: "GET", path: "/v1.0/users/" + victim, token: admin, hdr: []string{"X-HTTP-Method-Override", "DELETE"}, status: []int{200}},
		{family: "H", name: "X-HTTP-Method ignored", method: "GET", path: "/v1.0/users/" + victim, token: admin, hdr: []string{"X-HTTP-Method", "DELETE"}, status: []int{200}},
		{family: "H", name: "X-Method-Override on POST to a user is 405", method: "POST", path: "/v1.0/users/" + victim, token: admin, body: map[string]any{}, hdr: []string{"X-Method-Override", "DELETE"}, status: []int{405}},
		{family: "H", name: "PUT user is 405", method: "PUT", path: "/v1.0/users/" + victim, token: admin, body: map[string]any{"city": "x"}, status: []int{405},
			check: func(t *testing.T, r *response) {
				if r.Header.Get("Allow") == "" {
					t.Error("405 without Allow")
				}
			}},
		{family: "H", name: "DELETE the collection is 405", method: "DELETE", path: "/v1.0/users", token: admin, status: []int{405}},
		{family: "H", name: "PATCH the collection is 405", method: "PATCH", path: "/v1.0/users", token: admin, body: map[string]any{"city": "x"}, status: []int{405}},
		{family: "H", name: "DELETE /me is 405", method: "DELETE", path: "/v1.0/me", token: custBroad, status: []int{405}},
		{family: "H", name: "POST /me is 405", method: "POST", path: "/v1.0/me", token: custBroad, body: map[string]any{}, status: []int{405}},
		{family: "H", name: "DELETE a role definition is 405", method: "DELETE", path: "/v1.0/roleManagement/directory/roleDefinitions/" + directory.RoleGlobalAdministrator, token: gaTok, status: []int{405}},
		{family: "H", name: "PATCH a role assignment is 405", method: "PATCH", path: "/v1.0/roleManagement/directory/roleAssignments/00000000-0000-0000-0000-000000000001", token: gaTok, body: map[string]any{}, status: []int{405}},
		{family: "H", name: "unknown route under /v1.0", method: "GET", path: "/v1.0/groups", token: reader, status: []int{404}},
		{family: "H", name: "missing user by id is 404 for a reader", method: "GET", path: "/v1.0/users/00000000-0000-0000-0000-0000000000aa", token: reader, status: []int{404}, code: "Request_ResourceNotFound"},
		{family: "H", name: "CRLF in client-request-id is not echoed", method: "GET", path: "/v1.0/users/" + victim, token: reader, hdr: []string{"client-request-id", "abc\tdef"}, status: []int{200},
			check: func(t *testing.T, r *response) {
				if strings.Contains(r.Header.Get("client-request-id"), "abc") {
					t.Errorf("client-request-id echoed: %q", r.Header.Get("client-request-id"))
				}
			}},
		{family: "H", name: "no token on role management", method: "GET", path: "/v1.0/roleManagement/directory/roleAssignments", status: []int{401}, code: "InvalidAuthenticationToken"},
		{family: "H", name: "quoted key with an unbalanced quote", method: "GET", path: "/v1.0/users('a'b')", token: reader, status: []int{400, 404}},
	}

	counts := map[string]int{}
	for _, c := range cases {
		counts[c.family]++
		t.Run(c.family+"/"+c.name, func(t *testing.T) {
			before := s.snapshot()
			r := s.do(c.method, c.path, c.token, c.body, c.hdr...)
			if r.Status >= 500 {
				t.Fatalf("5xx: %d %s", r.Status, r.Body)
			}
			if !slices.Contains(c.status, r.Status) {
				t.Fatalf("status %d, want %v: %s", r.Status, c.status, r.Body)
			}
			if r.Header.Get("request-id") == "" {
				t.Error("no request-id header")
			}
			if r.Status >= 400 {
				code := r.ErrorCode(t)
				if c.code != "" && code != c.code {
					t.Errorf("code %q, want %q", code, c.code)
				}
			}
			if s.snapshot() != before {
				t.Fatal("the database changed")
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
	t.Logf("negative cases per family: %v (total %d)", counts, len(cases))
	// The override headers changed nothing: the victim still exists.
	if r := s.do("GET", "/v1.0/users/"+victim, reader, nil); r.Status != 200 {
		t.Fatalf("victim gone after method-override attempts: %d", r.Status)
	}
}
