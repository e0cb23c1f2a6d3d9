package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/signin"
)

// The permission matrix: every endpoint x every permission x app/delegated
// x directory role (incl. targets that are administrators), over the real
// router and PostgreSQL. Each cell is one of
//
//	O  allowed (2xx)
//	S  403 Authorization_RequestDenied with WWW-Authenticate
//	   error="insufficient_scope" and the permissions that would suffice
//	R  403 Authorization_RequestDenied without a scope challenge: the token's
//	   scopes were enough, the caller's roles (or the target's) are not
//	B  400 BadRequest (/me with an app token)
//
// and every denial leaves the database unchanged.
var matrixEndpoints = []string{
	"list", "count", "get", "create", "patchJob", "patchEnabled", "patchPassword", "patchIdentities", "delete",
	"meGet", "mePatch", "raList", "raCreate", "raDelete", "rdList", "gaPassword", "gaEnabled", "gaDelete",
}

// broadScopes are every delegated scope graphdir knows that could matter:
// with them, only the signed-in user's roles decide.
var broadScopes = []string{"User.ReadWrite.All", "Directory.ReadWrite.All", "RoleManagement.ReadWrite.Directory",
	"User.ManageIdentities.All", "User.ReadWrite"}

type matrixCaller struct {
	name  string
	app   []string // application permissions (app-only token)
	role  string   // directory role of the signed-in user ("" = customer)
	scp   []string // delegated scopes
	cells string   // one letter per matrixEndpoints entry
}

var matrixCallers = []matrixCaller{
	// Application permissions.            list count get create job enabled password identities delete meGet mePatch raList raCreate raDelete rdList gaPwd gaEnabled gaDelete
	{name: "app User.Read.All", app: []string{"User.Read.All"}, cells: "OOOSSSSSSBBSSSSSSS"},
	{name: "app User.ReadWrite.All", app: []string{"User.ReadWrite.All"}, cells: "OOOOOOOSOBBSSSSRRR"},
	{name: "app Directory.Read.All", app: []string{"Directory.Read.All"}, cells: "OOOSSSSSSBBOSSOSSS"},
	{name: "app Directory.ReadWrite.All", app: []string{"Directory.ReadWrite.All"}, cells: "OOOOOOOSOBBOSSORRR"},
	{name: "app User.ReadBasic.All", app: []string{"User.ReadBasic.All"}, cells: "OOOSSSSSSBBSSSSSSS"},
	{name: "app User.Create", app: []string{"User.Create"}, cells: "SSSOSSSSSBBSSSSSSS"},
	{name: "app User.ReadUpdate.All", app: []string{"User.ReadUpdate.All"}, cells: "OOOSOOOSSBBSSSSRRS"},
	{name: "app User.DeleteRestore.All", app: []string{"User.DeleteRestore.All"}, cells: "SSSSSSSSOBBSSSSSSR"},
	{name: "app User.EnableDisableAccount.All+User.Read.All", app: []string{"User.EnableDisableAccount.All", "User.Read.All"}, cells: "OOOSSOSSSBBSSSSSRS"},
	{name: "app User.EnableDisableAccount.All alone", app: []string{"User.EnableDisableAccount.All"}, cells: "SSSSSSSSSBBSSSSSSS"},
	{name: "app User-PasswordProfile.ReadWrite.All", app: []string{"User-PasswordProfile.ReadWrite.All"}, cells: "OOOSSSOSSBBSSSSRSS"},
	{name: "app User.ManageIdentities.All", app: []string{"User.ManageIdentities.All"}, cells: "SSSSSSSOSBBSSSSSSS"},
	{name: "app RoleManagement.Read.Directory", app: []string{"RoleManagement.Read.Directory"}, cells: "SSSSSSSSSBBOSSOSSS"},
	{name: "app RoleManagement.ReadWrite.Directory", app: []string{"RoleManagement.ReadWrite.Directory"}, cells: "SSSSSSSSSBBOOOOSSS"},
	{name: "app unrelated permission", app: []string{"Mail.Read"}, cells: "SSSSSSSSSBBSSSSSSS"},

	// Signed-in users with every scope: their roles decide.
	{name: "customer (no role)", role: "", scp: broadScopes, cells: "RRRRRRRRROORRRRRRR"},
	{name: "Global Administrator", role: "Global Administrator", scp: broadScopes, cells: "OOOOOOOOOOOOOOOOOO"},
	{name: "User Administrator", role: "User Administrator", scp: broadScopes, cells: "OOOOOOOOOOOORRORRR"},
	{name: "Privileged Role Administrator", role: "Privileged Role Administrator", scp: broadScopes, cells: "OOORRRRRROOOOOORRR"},
	{name: "Privileged Authentication Administrator", role: "Privileged Authentication Administrator", scp: broadScopes, cells: "OOORROOOOOOORROOOO"},
	{name: "Authentication Administrator", role: "Authentication Administrator", scp: broadScopes, cells: "OOORROOOROOORRORRR"},
	{name: "Helpdesk Administrator", role: "Helpdesk Administrator", scp: broadScopes, cells: "OOORRRORROOORRORRR"},
	{name: "Password Administrator", role: "Password Administrator", scp: broadScopes, cells: "OOORRRORROOORRORRR"},
	{name: "Directory Readers", role: "Directory Readers", scp: broadScopes, cells: "OOORRRRRROOORRORRR"},
	{name: "Guest Inviter", role: "Guest Inviter", scp: broadScopes, cells: "RRRRRRRRROORRRRRRR"},

	// Scopes narrower than the role.
	{name: "User Administrator with User.Read", role: "User Administrator", scp: []string{"User.Read"}, cells: "SSRSSSSSSOSSSSSSSS"},
	{name: "Global Administrator with User.Read User.ReadWrite", role: "Global Administrator", scp: []string{"User.Read", "User.ReadWrite"}, cells: "SSRSSSSSSOOSSSSSSS"},
	{name: "Directory Readers with User.ReadBasic.All", role: "Directory Readers", scp: []string{"User.ReadBasic.All"}, cells: "OOOSSSSSSOSSSSSSSS"},
	{name: "User Administrator with User.ReadUpdate.All", role: "User Administrator", scp: []string{"User.ReadUpdate.All"}, cells: "OOOSOOOSSOSSSSSRRS"},
	{name: "User Administrator with User.Create", role: "User Administrator", scp: []string{"User.Create"}, cells: "SSSOSSSSSSSSSSSSSS"},
	{name: "Global Administrator with RoleManagement.Read.Directory", role: "Global Administrator", scp: []string{"RoleManagement.Read.Directory"}, cells: "SSSSSSSSSSSOSSOSSS"},
}

func TestPermissionMatrix(t *testing.T) {
	s := newStack(t)
	for _, c := range matrixCallers {
		if len(c.cells) != len(matrixEndpoints) || strings.Trim(c.cells, "OSRB") != "" {
			t.Fatalf("%s: malformed cells %q", c.name, c.cells)
		}
	}
	tenant := s.tenant
	victim := s.rawUser(tenant, "victim@contoso.com")
	gaTarget := s.rawUser(tenant, "ga.target@contoso.com", "Global Administrator")
	n := 0
	fresh := func(prefix string, roles ...string) string {
		n++
		return s.rawUser(tenant, fmt.Sprintf("%s%d@contoso.com", prefix, n), roles...)
	}

	for _, c := range matrixCallers {
		var token, caller string
		if c.app != nil {
			token = s.appToken(c.app...)
		} else {
			var roles []string
			if c.role != "" {
				roles = []string{c.role}
			}
			caller = fresh("caller", roles...)
			token = s.userToken(caller, c.scp...)
		}
		for i, ep := range matrixEndpoints {
			want := c.cells[i]
			t.Run(c.name+"/"+ep, func(t *testing.T) {
				// Destructive cells get their own targets so that every
				// row sees the same directory.
				target, ga := victim, gaTarget
				if want == 'O' && (ep == "delete" || ep == "raCreate") {
					target = fresh("target")
				}
				if want == 'O' && ep == "gaDelete" {
					ga = fresh("ga", "Global Administrator")
				}
				var method, path string
				var body any
				switch ep {
				case "list":
					method, path = "GET", "/v1.0/users?$select=id,displayName"
				case "count":
					method, path = "GET", "/v1.0/users/$count"
				case "get":
					method, path = "GET", "/v1.0/users/"+target
				case "create":
					n++
					method, path, body = "POST", "/v1.0/users", workforceUser(fmt.Sprintf("created%d@contoso.com", n))
				case "patchJob":
					method, path, body = "PATCH", "/v1.0/users/"+target, map[string]any{"jobTitle": "Changed"}
				case "patchEnabled":
					method, path, body = "PATCH", "/v1.0/users/"+target, map[string]any{"accountEnabled": true}
				case "patchPassword":
					method, path, body = "PATCH", "/v1.0/users/"+target, map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-matrix"}}
				case "patchIdentities":
					n++
					method, path, body = "PATCH", "/v1.0/users/"+target, map[string]any{"identities": []any{
						map[string]any{"signInType": "emailAddress", "issuer": s.domain, "issuerAssignedId": fmt.Sprintf("id%d@example.com", n)}}}
				case "delete":
					method, path = "DELETE", "/v1.0/users/"+target
				case "meGet":
					method, path = "GET", "/v1.0/me"
				case "mePatch":
					method, path, body = "PATCH", "/v1.0/me", map[string]any{"city": "Oslo"}
				case "raList":
					method, path = "GET", "/v1.0/roleManagement/directory/roleAssignments"
				case "raCreate":
					method, path, body = "POST", "/v1.0/roleManagement/directory/roleAssignments",
						map[string]any{"principalId": target, "roleDefinitionId": directory.RoleDirectoryReaders, "directoryScopeId": "/"}
				case "raDelete":
					id := s.assignRole(tenant, fresh("assigned"), "Directory Readers")
					method, path = "DELETE", "/v1.0/roleManagement/directory/roleAssignments/"+id
				case "rdList":
					method, path = "GET", "/v1.0/roleManagement/directory/roleDefinitions"
				case "gaPassword":
					method, path, body = "PATCH", "/v1.0/users/"+ga, map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-matrix"}}
				case "gaEnabled":
					method, path, body = "PATCH", "/v1.0/users/"+ga, map[string]any{"accountEnabled": true}
				case "gaDelete":
					method, path = "DELETE", "/v1.0/users/"+ga
				}
				before := s.snapshot()
				r := s.do(method, path, token, body)
				switch want {
				case 'O':
					if r.Status < 200 || r.Status > 299 {
						t.Fatalf("%s %s: %d, want 2xx: %s", method, path, r.Status, r.Body)
					}
				case 'S', 'R':
					if r.Status != 403 {
						t.Fatalf("%s %s: %d, want 403 (%c): %s", method, path, r.Status, want, r.Body)
					}
					if code := s.checkDenied(t, r, before); code != "Authorization_RequestDenied" {
						t.Errorf("code %q", code)
					}
					ch := r.Header.Get("WWW-Authenticate")
					msg := fmt.Sprint(r.JSON(t)["error"].(map[string]any)["message"])
					if want == 'S' {
						if !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="`) {
							t.Errorf("WWW-Authenticate = %q, want insufficient_scope", ch)
						}
						if !strings.Contains(msg, "permissions") {
							t.Errorf("message does not name the permissions: %s", msg)
						}
					} else {
						if ch != "" {
							t.Errorf("role denial with WWW-Authenticate %q", ch)
						}
						if msg == "Insufficient privileges to complete the operation." {
							t.Errorf("opaque message: %s", msg)
						}
					}
				case 'B':
					if r.Status != 400 || s.checkDenied(t, r, before) != "BadRequest" {
						t.Fatalf("%s %s: %d, want 400 BadRequest: %s", method, path, r.Status, r.Body)
					}
				}
			})
		}
	}
}

// TestTargetRoleHierarchy checks 5.4 and the password-reset variant over
// HTTP: which administrator may reset whose password, disable whom and
// delete whom.
func TestTargetRoleHierarchy(t *testing.T) {
	s := newStack(t)
	tenant := s.tenant
	n := 0
	user := func(roles ...string) string {
		n++
		return s.rawUser(tenant, fmt.Sprintf("h%d@contoso.com", n), roles...)
	}
	tests := []struct {
		caller, target string // role names; "" = no role
		action         string // password, enabled, delete
		allowed        bool
	}{
		{"User Administrator", "", "password", true},
		{"User Administrator", "Helpdesk Administrator", "password", true},
		{"User Administrator", "User Administrator", "enabled", true},
		{"User Administrator", "Global Administrator", "password", false},
		{"User Administrator", "Privileged Authentication Administrator", "password", false},
		{"User Administrator", "Privileged Role Administrator", "enabled", false},
		{"User Administrator", "Authentication Administrator", "delete", false},
		{"User Administrator", "Directory Readers", "delete", true},
		{"Password Administrator", "", "password", true},
		{"Password Administrator", "Directory Readers", "password", true},
		{"Password Administrator", "Guest Inviter", "password", true},
		{"Password Administrator", "Password Administrator", "password", true},
		{"Password Administrator", "Helpdesk Administrator", "password", false},
		{"Password Administrator", "User Administrator", "password", false},
		{"Helpdesk Administrator", "Helpdesk Administrator", "password", true},
		{"Helpdesk Administrator", "Authentication Administrator", "password", false},
		{"Authentication Administrator", "Authentication Administrator", "enabled", true},
		{"Authentication Administrator", "User Administrator", "enabled", false},
		{"Privileged Authentication Administrator", "Global Administrator", "password", true},
		{"Privileged Authentication Administrator", "Privileged Role Administrator", "delete", true},
		{"Global Administrator", "Privileged Authentication Administrator", "password", true},
		{"Global Administrator", "Global Administrator", "delete", true},
	}
	for _, tt := range tests {
		t.Run(tt.caller+" "+tt.action+" "+tt.target, func(t *testing.T) {
			caller := user(tt.caller)
			var target string
			if tt.target == "" {
				target = user()
			} else {
				target = user(tt.target)
			}
			token := s.userToken(caller, broadScopes...)
			var r *response
			before := s.snapshot()
			switch tt.action {
			case "password":
				r = s.do("PATCH", "/v1.0/users/"+target, token, map[string]any{"passwordProfile": map[string]any{"password": "N3w!Passw0rd-h"}})
			case "enabled":
				r = s.do("PATCH", "/v1.0/users/"+target, token, map[string]any{"accountEnabled": false})
			case "delete":
				r = s.do("DELETE", "/v1.0/users/"+target, token, nil)
			}
			if tt.allowed {
				if r.Status != 204 {
					t.Fatalf("%d, want 204: %s", r.Status, r.Body)
				}
				return
			}
			if r.Status != 403 {
				t.Fatalf("%d, want 403: %s", r.Status, r.Body)
			}
			s.checkDenied(t, r, before)
			msg := fmt.Sprint(r.JSON(t)["error"].(map[string]any)["message"])
			if !strings.Contains(msg, tt.target) || !strings.Contains(msg, tt.caller) {
				t.Errorf("message names neither the target's nor the caller's role: %s", msg)
			}
		})
	}
	// A role granted to the target makes the next write fail: the check is
	// made against the database, not a cache or the token.
	ua := s.userToken(user("User Administrator"), broadScopes...)
	target := user()
	if r := s.do("PATCH", "/v1.0/users/"+target, ua, map[string]any{"accountEnabled": false}); r.Status != 204 {
		t.Fatalf("before promotion: %d %s", r.Status, r.Body)
	}
	s.assignRole(tenant, target, "Global Administrator")
	if r := s.do("PATCH", "/v1.0/users/"+target, ua, map[string]any{"accountEnabled": true}); r.Status != 403 {
		t.Fatalf("after promotion: %d %s", r.Status, r.Body)
	}
	// Roles in the token are never taken for directory roles.
	cust := user()
	claims := s.validClaims()
	claims["idtyp"], claims["scp"], claims["oid"], claims["sub"] = "user", "User.ReadWrite.All Directory.ReadWrite.All", cust, cust
	claims["roles"] = []string{"GlobalAdministrator", directory.RoleGlobalAdministrator}
	claims["wids"] = []string{directory.RoleGlobalAdministrator}
	if r := s.do("GET", "/v1.0/users", s.signedToken(claims, nil), nil); r.Status != 403 {
		t.Fatalf("wids/roles in a user token granted a role: %d %s", r.Status, r.Body)
	}
}

// The user flow endpoints (identity/authenticationEventsFlows) have their
// own matrix, in the same cell letters: EventListener.Read.All reads,
// EventListener.ReadWrite.All writes, as application permissions or as
// delegated scopes of a Global Administrator (graphdir has no External ID
// User Flow Administrator role).
var flowMatrixEndpoints = []string{"list", "get", "create", "patch", "delete", "appsList", "appsAdd", "appsRemove"}

var flowMatrixCallers = []matrixCaller{
	// Application permissions.                                                list get create patch delete appsList appsAdd appsRemove
	{name: "app EventListener.Read.All", app: []string{"EventListener.Read.All"}, cells: "OOSSSOSS"},
	{name: "app EventListener.ReadWrite.All", app: []string{"EventListener.ReadWrite.All"}, cells: "OOOOOOOO"},
	{name: "app Application.ReadWrite.All", app: []string{"Application.ReadWrite.All"}, cells: "SSSSSSSS"},
	{name: "app Directory.ReadWrite.All", app: []string{"Directory.ReadWrite.All"}, cells: "SSSSSSSS"},
	{name: "app unrelated permission", app: []string{"Mail.Read"}, cells: "SSSSSSSS"},

	// Signed-in users: the scope, then the role.
	{name: "Global Administrator with EventListener.ReadWrite.All", role: "Global Administrator", scp: []string{"EventListener.ReadWrite.All"}, cells: "OOOOOOOO"},
	{name: "Global Administrator with EventListener.Read.All", role: "Global Administrator", scp: []string{"EventListener.Read.All"}, cells: "OOSSSOSS"},
	{name: "Global Administrator without EventListener scopes", role: "Global Administrator", scp: broadScopes, cells: "SSSSSSSS"},
	{name: "User Administrator with EventListener.ReadWrite.All", role: "User Administrator", scp: []string{"EventListener.ReadWrite.All"}, cells: "RRRRRRRR"},
	{name: "customer with EventListener.ReadWrite.All", role: "", scp: []string{"EventListener.ReadWrite.All"}, cells: "RRRRRRRR"},
}

func TestPermissionMatrixUserFlows(t *testing.T) {
	s := newStack(t)
	for _, c := range flowMatrixCallers {
		if len(c.cells) != len(flowMatrixEndpoints) || strings.Trim(c.cells, "OSR") != "" {
			t.Fatalf("%s: malformed cells %q", c.name, c.cells)
		}
	}
	admin := s.appToken("EventListener.ReadWrite.All", "Application.ReadWrite.All")
	n := 0
	newApp := func() string {
		n++
		r := s.do("POST", "/v1.0/applications", admin, map[string]any{"displayName": fmt.Sprintf("matrix%d", n)})
		if r.Status != 201 {
			t.Fatalf("app: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["appId"].(string)
	}
	newFlow := func(apps ...string) string {
		n++
		r := s.do("POST", flowsURL, admin, graphFlowBody(fmt.Sprintf("matrix flow %d", n), apps))
		if r.Status != 201 {
			t.Fatalf("flow: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)["id"].(string)
	}
	shared := newFlow()
	linkedApp := newApp()
	linked := newFlow(linkedApp)
	for _, c := range flowMatrixCallers {
		var token string
		if c.app != nil {
			token = s.appToken(c.app...)
		} else {
			var roles []string
			if c.role != "" {
				roles = []string{c.role}
			}
			n++
			token = s.userToken(s.rawUser(s.tenant, fmt.Sprintf("flowcaller%d@contoso.com", n), roles...), c.scp...)
		}
		for i, ep := range flowMatrixEndpoints {
			want := c.cells[i]
			t.Run(c.name+"/"+ep, func(t *testing.T) {
				flow, app := shared, linkedApp
				if want == 'O' && (ep == "delete" || ep == "appsRemove") {
					app = newApp()
					flow = newFlow(app)
				} else if ep == "appsRemove" {
					flow = linked
				}
				var method, path string
				var body any
				switch ep {
				case "list":
					method, path = "GET", flowsURL
				case "get":
					method, path = "GET", flowsURL+"/"+flow
				case "create":
					n++
					method, path, body = "POST", flowsURL, graphFlowBody(fmt.Sprintf("created %d", n), nil)
				case "patch":
					method, path, body = "PATCH", flowsURL+"/"+flow, map[string]any{"@odata.type": "#microsoft.graph.externalUsersSelfServiceSignUpEventsFlow", "graphdirMfaRequired": true}
				case "delete":
					method, path = "DELETE", flowsURL+"/"+flow
				case "appsList":
					method, path = "GET", flowsURL+"/"+flow+"/conditions/applications/includeApplications"
				case "appsAdd":
					if want == 'O' {
						app = newApp()
					}
					method, path, body = "POST", flowsURL+"/"+flow+"/conditions/applications/includeApplications", map[string]any{"appId": app}
				case "appsRemove":
					method, path = "DELETE", flowsURL+"/"+flow+"/conditions/applications/includeApplications/"+app
				}
				before, beforeFlows := s.snapshot(), s.flowsSnapshot()
				r := s.do(method, path, token, body)
				switch want {
				case 'O':
					if r.Status < 200 || r.Status > 299 {
						t.Fatalf("%s %s: %d, want 2xx: %s", method, path, r.Status, r.Body)
					}
				case 'S', 'R':
					if r.Status != 403 {
						t.Fatalf("%s %s: %d, want 403 (%c): %s", method, path, r.Status, want, r.Body)
					}
					if code := s.checkDenied(t, r, before); code != "Authorization_RequestDenied" {
						t.Errorf("code %q", code)
					}
					if s.flowsSnapshot() != beforeFlows {
						t.Fatal("a refused request changed the flows")
					}
					ch := r.Header.Get("WWW-Authenticate")
					msg := fmt.Sprint(r.JSON(t)["error"].(map[string]any)["message"])
					if want == 'S' && (!strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(msg, "EventListener.")) {
						t.Errorf("scope denial: WWW-Authenticate %q, message %s", ch, msg)
					}
					if want == 'R' && (ch != "" || !strings.Contains(msg, "Global Administrator")) {
						t.Errorf("role denial: WWW-Authenticate %q, message %s", ch, msg)
					}
				}
			})
		}
	}
}

// signInMatrix is the permission matrix of the sign-in log
// (auditLogs/signIns, list and get, and users' signInActivity): Graph's
// AuditLog.Read.All, as an application permission or a delegated scope;
// a signed-in caller also needs an audit-reader role (Global
// Administrator, Global Reader, Security Administrator, Security Reader,
// Reports Reader). Cells as above: list, get, $select=signInActivity.
var signInMatrix = []matrixCaller{
	{name: "app AuditLog.Read.All", app: []string{"AuditLog.Read.All"}, cells: "OOS"},
	{name: "app AuditLog.Read.All+User.Read.All", app: []string{"AuditLog.Read.All", "User.Read.All"}, cells: "OOO"},
	{name: "app User.Read.All", app: []string{"User.Read.All"}, cells: "SSS"},
	{name: "app Directory.ReadWrite.All", app: []string{"Directory.ReadWrite.All"}, cells: "SSS"},
	{name: "app User.ReadWrite.All", app: []string{"User.ReadWrite.All"}, cells: "SSS"},
	{name: "Global Administrator", role: "Global Administrator", scp: append([]string{"AuditLog.Read.All"}, broadScopes...), cells: "OOO"},
	{name: "Global Administrator without AuditLog.Read.All", role: "Global Administrator", scp: broadScopes, cells: "SSS"},
	{name: "User Administrator", role: "User Administrator", scp: append([]string{"AuditLog.Read.All"}, broadScopes...), cells: "RRR"},
	{name: "customer (no role)", role: "", scp: append([]string{"AuditLog.Read.All"}, broadScopes...), cells: "RRR"},
}

func TestPermissionMatrixSignIns(t *testing.T) {
	s := newStack(t)
	ann := s.customer("matrix@example.com", "Str0ng!Passw0rd")
	now := time.Now()
	if _, err := s.signInCore(func() time.Time { return now }).CheckPassword(context.Background(), signin.PasswordAttempt{
		TenantID: s.tenant, Username: "matrix@example.com", Password: "Str0ng!Passw0rd"}); err != nil {
		t.Fatal(err)
	}
	page, err := s.db.store.ListSignIns(context.Background(), s.tenant, directory.SignInQuery{Top: 1})
	if err != nil || len(page.SignIns) != 1 {
		t.Fatalf("sign-in not logged: %v", err)
	}
	paths := []string{"/v1.0/auditLogs/signIns", "/v1.0/auditLogs/signIns/" + page.SignIns[0].ID,
		"/v1.0/users/" + ann.ID + "?$select=id,signInActivity"}
	n := 0
	for _, c := range signInMatrix {
		if len(c.cells) != len(paths) {
			t.Fatalf("%s: malformed cells %q", c.name, c.cells)
		}
		var token string
		if c.app != nil {
			token = s.appToken(c.app...)
		} else {
			var roles []string
			if c.role != "" {
				roles = []string{c.role}
			}
			n++
			token = s.userToken(s.rawUser(s.tenant, fmt.Sprintf("signins%d@contoso.com", n), roles...), c.scp...)
		}
		for i, path := range paths {
			want := c.cells[i]
			r := s.do("GET", path, token, nil)
			switch want {
			case 'O':
				if r.Status != 200 {
					t.Errorf("%s: GET %s: %d %s", c.name, path, r.Status, r.Body)
				}
			case 'S', 'R':
				if r.Status != 403 || s.checkDenied(t, r, "") != "Authorization_RequestDenied" {
					t.Errorf("%s: GET %s: %d, want 403: %s", c.name, path, r.Status, r.Body)
					continue
				}
				if ch := r.Header.Get("WWW-Authenticate"); (want == 'S') != strings.Contains(ch, `error="insufficient_scope"`) {
					t.Errorf("%s: GET %s: %c with WWW-Authenticate %q", c.name, path, want, ch)
				}
			}
		}
	}
}

// The branding endpoints (organization/{id}/branding, Graph's
// organizationalBranding) have their own matrix, in the same cell letters.
// Reads: OrganizationalBranding.Read(Write).All or Organization.Read(Write).All
// as application permissions; any signed-in member with User.Read (Graph's
// least privileged delegated read). Writes: OrganizationalBranding.ReadWrite.All
// or Organization.ReadWrite.All, and for a signed-in user the Global
// Administrator role (graphdir has no Organizational Branding Administrator).
var brandingMatrixEndpoints = []string{"get", "patch", "putLogo", "getLogo", "locList", "locCreate", "locPatch", "locDelete"}

var brandingMatrixCallers = []matrixCaller{
	// Application permissions.                                                                   get patch putLogo getLogo locList locCreate locPatch locDelete
	{name: "app OrganizationalBranding.Read.All", app: []string{"OrganizationalBranding.Read.All"}, cells: "OSSOOSSS"},
	{name: "app OrganizationalBranding.ReadWrite.All", app: []string{"OrganizationalBranding.ReadWrite.All"}, cells: "OOOOOOOO"},
	{name: "app Organization.Read.All", app: []string{"Organization.Read.All"}, cells: "OSSOOSSS"},
	{name: "app Organization.ReadWrite.All", app: []string{"Organization.ReadWrite.All"}, cells: "OOOOOOOO"},
	{name: "app User.Read.All", app: []string{"User.Read.All"}, cells: "SSSSSSSS"},
	{name: "app Directory.ReadWrite.All", app: []string{"Directory.ReadWrite.All"}, cells: "SSSSSSSS"},
	{name: "app unrelated permission", app: []string{"Mail.Read"}, cells: "SSSSSSSS"},

	// Signed-in users: the scope, then (for writes) the role.
	{name: "customer with User.Read", role: "", scp: []string{"User.Read"}, cells: "OSSOOSSS"},
	{name: "Global Administrator with OrganizationalBranding.ReadWrite.All", role: "Global Administrator", scp: []string{"OrganizationalBranding.ReadWrite.All"}, cells: "OOOOOOOO"},
	{name: "Global Administrator with Organization.ReadWrite.All", role: "Global Administrator", scp: []string{"Organization.ReadWrite.All"}, cells: "OOOOOOOO"},
	{name: "Global Administrator with User.Read", role: "Global Administrator", scp: []string{"User.Read"}, cells: "OSSOOSSS"},
	{name: "Global Administrator with Mail.Read", role: "Global Administrator", scp: []string{"Mail.Read"}, cells: "SSSSSSSS"},
	{name: "User Administrator with OrganizationalBranding.ReadWrite.All", role: "User Administrator", scp: []string{"OrganizationalBranding.ReadWrite.All"}, cells: "ORROORRR"},
	{name: "customer with OrganizationalBranding.ReadWrite.All", role: "", scp: []string{"OrganizationalBranding.ReadWrite.All"}, cells: "ORROORRR"},
}

func TestPermissionMatrixBranding(t *testing.T) {
	s := newStack(t)
	for _, c := range brandingMatrixCallers {
		if len(c.cells) != len(brandingMatrixEndpoints) || strings.Trim(c.cells, "OSR") != "" {
			t.Fatalf("%s: malformed cells %q", c.name, c.cells)
		}
	}
	admin := s.appToken("OrganizationalBranding.ReadWrite.All")
	base := s.brandingURL(s.tenant)
	logo := pngOf(t, 20, 10, false)
	if r := s.putLogo(base+"/bannerLogo", admin, "image/png", logo); r.Status != 204 {
		t.Fatalf("seed: %d %s", r.Status, r.Body)
	}
	if r := s.do("POST", base+"/localizations", admin, `{"id":"de"}`); r.Status != 201 {
		t.Fatalf("seed localization: %d %s", r.Status, r.Body)
	}
	n := 0
	newLocale := func() string {
		n++
		return fmt.Sprintf("en-x-m%d", n)
	}
	for _, c := range brandingMatrixCallers {
		var token string
		if c.app != nil {
			token = s.appToken(c.app...)
		} else {
			var roles []string
			if c.role != "" {
				roles = []string{c.role}
			}
			n++
			token = s.userToken(s.rawUser(s.tenant, fmt.Sprintf("brandcaller%d@contoso.com", n), roles...), c.scp...)
		}
		for i, ep := range brandingMatrixEndpoints {
			want := c.cells[i]
			t.Run(c.name+"/"+ep, func(t *testing.T) {
				var r *response
				before, beforeBranding := s.snapshot(), s.brandingSnapshot()
				switch ep {
				case "get":
					r = s.do("GET", base, token, nil)
				case "patch":
					r = s.do("PATCH", base, token, `{"signInPageText":"matrix"}`)
				case "putLogo":
					r = s.putLogo(base+"/squareLogo", token, "image/png", logo)
				case "getLogo":
					r = s.do("GET", base+"/bannerLogo", token, nil)
				case "locList":
					r = s.do("GET", base+"/localizations", token, nil)
				case "locCreate":
					r = s.do("POST", base+"/localizations", token, `{"id":"`+newLocale()+`"}`)
				case "locPatch":
					r = s.do("PATCH", base+"/localizations/de", token, `{"usernameHintText":"matrix"}`)
				case "locDelete":
					loc := "de"
					if want == 'O' {
						loc = newLocale()
						if r := s.do("POST", base+"/localizations", admin, `{"id":"`+loc+`"}`); r.Status != 201 {
							t.Fatalf("localization: %d %s", r.Status, r.Body)
						}
						before, beforeBranding = s.snapshot(), s.brandingSnapshot()
					}
					r = s.do("DELETE", base+"/localizations/"+loc, token, nil)
				}
				switch want {
				case 'O':
					if r.Status < 200 || r.Status > 299 {
						t.Fatalf("%s: %d, want 2xx: %s", ep, r.Status, r.Body)
					}
				case 'S', 'R':
					if r.Status != 403 {
						t.Fatalf("%s: %d, want 403 (%c): %s", ep, r.Status, want, r.Body)
					}
					if code := s.checkDenied(t, r, before); code != "Authorization_RequestDenied" {
						t.Errorf("code %q", code)
					}
					if s.brandingSnapshot() != beforeBranding {
						t.Fatal("a refused request changed the branding")
					}
					ch := r.Header.Get("WWW-Authenticate")
					msg := fmt.Sprint(r.JSON(t)["error"].(map[string]any)["message"])
					if want == 'S' && !strings.Contains(ch, `error="insufficient_scope"`) {
						t.Errorf("scope denial: WWW-Authenticate %q, message %s", ch, msg)
					}
					if want == 'R' && (ch != "" || !strings.Contains(msg, "Global Administrator")) {
						t.Errorf("role denial: WWW-Authenticate %q, message %s", ch, msg)
					}
				}
			})
		}
	}
}
