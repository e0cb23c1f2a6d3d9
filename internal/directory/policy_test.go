package directory

import "testing"

func TestAuthorize(t *testing.T) {
	app := func(perms ...string) *Principal { return &Principal{Kind: PrincipalApp, Permissions: perms} }
	user := func(perms ...string) *Principal { return &Principal{Kind: PrincipalUser, Permissions: perms} }
	tests := []struct {
		name string
		p    *Principal
		op   Operation
		want Kind // KindInternal (zero) means allowed
	}{
		{"no principal", nil, OpListUsers, KindUnauthenticated},
		{"app read list", app("User.Read.All"), OpListUsers, 0},
		{"app read list case-insensitive", app("user.read.all"), OpListUsers, 0},
		{"app read cannot create", app("User.Read.All"), OpCreateUser, KindForbidden},
		{"app read cannot update", app("User.Read.All"), OpUpdateUser, KindForbidden},
		{"app read cannot delete", app("User.Read.All"), OpDeleteUser, KindForbidden},
		{"app readwrite creates", app("User.ReadWrite.All"), OpCreateUser, 0},
		{"app directory readwrite deletes", app("Directory.ReadWrite.All"), OpDeleteUser, 0},
		{"app prefix is not a permission", app("User.Read"), OpListUsers, KindForbidden},
		{"app on /me", app("User.ReadWrite.All"), OpReadSelf, KindBadRequest},
		{"app on PATCH /me", app("User.ReadWrite.All"), OpUpdateSelf, KindBadRequest},
		{"app with no permissions", app(), OpReadUser, KindForbidden},
		{"user reads self", user("User.Read"), OpReadSelf, 0},
		{"user reads by key (self checked later)", user("User.Read"), OpReadUser, 0},
		// Scopes only: the user's directory roles decide next (authz_test.go).
		{"user with .All scope passes the scope check to list", user("User.ReadWrite.All"), OpListUsers, 0},
		{"user with .All scope passes the scope check to create", user("User.ReadWrite.All"), OpCreateUser, 0},
		{"user with Directory scope passes the scope check to delete", user("Directory.ReadWrite.All"), OpDeleteUser, 0},
		{"user.read cannot list", user("User.Read"), OpListUsers, KindForbidden},
		{"user.read cannot create", user("User.Read", "User.ReadWrite"), OpCreateUser, KindForbidden},
		{"user.readwrite cannot delete", user("User.ReadWrite"), OpDeleteUser, KindForbidden},
		{"User.Create creates (app)", app("User.Create"), OpCreateUser, 0},
		{"User.Create cannot read (app)", app("User.Create"), OpReadUser, KindForbidden},
		{"User.DeleteRestore.All deletes (app)", app("User.DeleteRestore.All"), OpDeleteUser, 0},
		{"User.DeleteRestore.All cannot update (app)", app("User.DeleteRestore.All"), OpUpdateUser, KindForbidden},
		{"User.ReadUpdate.All cannot create (app)", app("User.ReadUpdate.All"), OpCreateUser, KindForbidden},
		{"User.ReadUpdate.All cannot delete (app)", app("User.ReadUpdate.All"), OpDeleteUser, KindForbidden},
		{"User.ReadBasic.All lists (app)", app("User.ReadBasic.All"), OpListUsers, 0},
		{"role read needs a role permission (app)", app("User.ReadWrite.All"), OpReadRoles, KindForbidden},
		{"Directory.Read.All reads roles (app)", app("Directory.Read.All"), OpReadRoles, 0},
		{"only RoleManagement.ReadWrite.Directory assigns (app)", app("Directory.ReadWrite.All"), OpWriteRoles, KindForbidden},
		{"RoleManagement.ReadWrite.Directory assigns (app)", app("RoleManagement.ReadWrite.Directory"), OpWriteRoles, 0},
		{"user.read cannot patch", user("User.Read"), OpUpdateSelf, KindForbidden},
		{"user.readwrite patches self", user("User.ReadWrite"), OpUpdateSelf, 0},
		{"user with unrelated scope", user("Mail.Read"), OpReadSelf, KindForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Authorize(tt.p, tt.op)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("Authorize = %v, want allowed", err)
				}
				return
			}
			if KindOf(err) != tt.want {
				t.Fatalf("Authorize = %v (kind %v), want kind %v", err, KindOf(err), tt.want)
			}
			if tt.want == KindForbidden && len(AsError(err).Scope) == 0 {
				t.Fatalf("403 without the permissions that would suffice")
			}
		})
	}
}

func TestCheckUPN(t *testing.T) {
	tenant := &Tenant{Domains: []string{"contoso.com", "graphdir.local"}}
	tests := []struct {
		upn string
		ok  bool
	}{
		{"AdeleV@contoso.com", true},
		{"adele.v@GRAPHDIR.LOCAL", true},
		{"o'brien_#^~!-x@contoso.com", true},
		{"no-at-sign", false},
		{"@contoso.com", false},
		{"adele@", false},
		{"adele@other.com", false},
		{"ad ele@contoso.com", false},
		{"adélé@contoso.com", false},
		{".adele@contoso.com", false},
		{"a..b@contoso.com", false},
		{"a@b@contoso.com", false},
	}
	for _, tt := range tests {
		if err := checkUPN(tt.upn, tenant); (err == nil) != tt.ok {
			t.Errorf("checkUPN(%q) = %v, want ok=%v", tt.upn, err, tt.ok)
		}
	}
}

func TestParseUserKey(t *testing.T) {
	if k := ParseUserKey("87D349ED-44D7-43E1-9A83-5F2406DEE5BD"); k.ID != "87d349ed-44d7-43e1-9a83-5f2406dee5bd" {
		t.Errorf("GUID key = %+v", k)
	}
	if k := ParseUserKey("adele@contoso.com"); k.UPN != "adele@contoso.com" || k.ID != "" {
		t.Errorf("UPN key = %+v", k)
	}
}
