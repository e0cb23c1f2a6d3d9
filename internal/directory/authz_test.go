package directory

import (
	"slices"
	"strings"
	"testing"
)

func accessFor(p *Principal, roles ...string) *Access {
	a := &Access{P: p}
	for _, id := range roles {
		r, _ := LookupRole(id)
		a.Roles = append(a.Roles, r)
		a.RoleIDs = append(a.RoleIDs, r.ID)
	}
	return a
}

func delegated(scopes ...string) *Principal {
	return &Principal{Kind: PrincipalUser, UserID: "11111111-1111-1111-1111-111111111111", Permissions: scopes}
}

func appOnly(perms ...string) *Principal { return &Principal{Kind: PrincipalApp, Permissions: perms} }

// allows reports whether a guard lets a write through on a target holding roles.
func allows(plan *WritePlan, roles ...string) bool {
	if plan.Guard == nil {
		return true
	}
	for _, r := range roles {
		if !slices.Contains(plan.Guard.Allowed, r) {
			return false
		}
	}
	return true
}

func TestRoleHierarchy(t *testing.T) {
	rw := delegated("User.ReadWrite.All")
	type tc struct {
		caller string
		target string // "" = no role
		prop   string
		want   bool
	}
	tests := []tc{
		// 5.4 sensitive properties.
		{RoleUserAdministrator, "", "mobilePhone", true},
		{RoleUserAdministrator, RoleDirectoryReaders, "mobilePhone", true},
		{RoleUserAdministrator, RoleHelpdeskAdministrator, "accountEnabled", true},
		{RoleUserAdministrator, RoleUserAdministrator, "userPrincipalName", true},
		{RoleUserAdministrator, RoleAuthenticationAdministrator, "mobilePhone", false},
		{RoleUserAdministrator, RoleGlobalAdministrator, "accountEnabled", false},
		{RoleUserAdministrator, RolePrivilegedAuthenticationAdministrator, "otherMails", false},
		{RoleUserAdministrator, RolePrivilegedRoleAdministrator, "businessPhones", false},
		{RoleAuthenticationAdministrator, RoleAuthenticationAdministrator, "mobilePhone", true},
		{RoleAuthenticationAdministrator, RoleUserAdministrator, "mobilePhone", false},
		{RolePrivilegedAuthenticationAdministrator, RoleGlobalAdministrator, "mobilePhone", true},
		{RoleGlobalAdministrator, RoleGlobalAdministrator, "accountEnabled", true},
		// Password resets.
		{RoleUserAdministrator, RoleGlobalAdministrator, "passwordProfile", false},
		{RoleUserAdministrator, "", "passwordProfile", true},
		{RolePasswordAdministrator, "", "passwordProfile", true},
		{RolePasswordAdministrator, RolePasswordAdministrator, "passwordProfile", true},
		{RolePasswordAdministrator, RoleHelpdeskAdministrator, "passwordProfile", false},
		{RolePasswordAdministrator, RoleUserAdministrator, "passwordProfile", false},
		{RoleHelpdeskAdministrator, RoleHelpdeskAdministrator, "passwordProfile", true},
		{RoleHelpdeskAdministrator, RoleDirectoryReaders, "passwordProfile", true},
		{RoleHelpdeskAdministrator, RoleUserAdministrator, "passwordProfile", false},
		{RolePrivilegedAuthenticationAdministrator, RoleGlobalAdministrator, "passwordProfile", true},
		{RoleGlobalAdministrator, RolePrivilegedAuthenticationAdministrator, "passwordProfile", true},
	}
	for _, tt := range tests {
		name := RoleName(tt.caller) + " on " + RoleName(tt.target) + " " + tt.prop
		t.Run(name, func(t *testing.T) {
			plan, err := accessFor(rw, tt.caller).CheckUpdate([]string{tt.prop})
			if err != nil {
				t.Fatalf("CheckUpdate: %v", err)
			}
			var targets []string
			if tt.target != "" {
				targets = []string{tt.target}
			}
			if got := allows(plan, targets...); got != tt.want {
				t.Fatalf("allowed = %v, want %v (guard %v)", got, tt.want, plan.Guard)
			}
		})
	}
}

func TestCheckUpdatePermissions(t *testing.T) {
	tests := []struct {
		name  string
		a     *Access
		props []string
		ok    bool
		scope string // expected in Scope when refused for a permission
	}{
		{"app ReadWrite.All general", accessFor(appOnly("User.ReadWrite.All")), []string{"jobTitle"}, true, ""},
		{"app ReadUpdate.All general", accessFor(appOnly("User.ReadUpdate.All")), []string{"jobTitle", "accountEnabled"}, true, ""},
		{"app EnableDisable alone", accessFor(appOnly("User.EnableDisableAccount.All")), []string{"accountEnabled"}, false, "User.Read.All"},
		{"app EnableDisable + Read.All", accessFor(appOnly("User.EnableDisableAccount.All", "User.Read.All")), []string{"accountEnabled"}, true, ""},
		{"app EnableDisable cannot displayName", accessFor(appOnly("User.EnableDisableAccount.All", "User.Read.All")), []string{"displayName"}, false, "User.ReadWrite.All"},
		{"app PasswordProfile", accessFor(appOnly("User-PasswordProfile.ReadWrite.All")), []string{"passwordProfile"}, true, ""},
		{"app PasswordProfile cannot accountEnabled", accessFor(appOnly("User-PasswordProfile.ReadWrite.All")), []string{"accountEnabled"}, false, "User.EnableDisableAccount.All"},
		{"app ManageIdentities identities", accessFor(appOnly("User.ManageIdentities.All")), []string{"identities"}, true, ""},
		{"app ManageIdentities cannot displayName", accessFor(appOnly("User.ManageIdentities.All")), []string{"displayName"}, false, "User.ReadWrite.All"},
		{"app ReadWrite.All cannot identities", accessFor(appOnly("User.ReadWrite.All")), []string{"identities"}, false, "User.ManageIdentities.All"},
		{"delegated customer cannot update others", accessFor(delegated("User.ReadWrite.All")), []string{"jobTitle"}, false, ""},
		{"delegated UA general", accessFor(delegated("User.ReadWrite.All"), RoleUserAdministrator), []string{"jobTitle"}, true, ""},
		{"delegated UA without scope", accessFor(delegated("User.Read"), RoleUserAdministrator), []string{"jobTitle"}, false, "User.ReadUpdate.All"},
		{"delegated Password Admin cannot jobTitle", accessFor(delegated("User.ReadWrite.All"), RolePasswordAdministrator), []string{"jobTitle"}, false, ""},
		{"delegated Auth Admin mobilePhone", accessFor(delegated("User.ReadWrite.All"), RoleAuthenticationAdministrator), []string{"mobilePhone"}, true, ""},
		{"delegated Directory Readers cannot write", accessFor(delegated("Directory.ReadWrite.All"), RoleDirectoryReaders), []string{"city"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.a.CheckUpdate(tt.props)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckUpdate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				e := AsError(err)
				if e.Kind != KindForbidden {
					t.Fatalf("kind %v", e.Kind)
				}
				if tt.scope != "" && !slices.Contains(e.Scope, tt.scope) {
					t.Errorf("scope %v does not name %s", e.Scope, tt.scope)
				}
				if tt.scope == "" && len(e.Scope) != 0 {
					t.Errorf("role denial with a scope challenge: %v", e.Scope)
				}
				if !strings.Contains(e.Message, "Insufficient privileges") {
					t.Errorf("message %q", e.Message)
				}
			}
		})
	}
}

func TestAppReachAndDelete(t *testing.T) {
	plan, err := accessFor(appOnly("User.ReadWrite.All")).CheckUpdate([]string{"passwordProfile"})
	if err != nil || allows(plan, RoleGlobalAdministrator) || !allows(plan) || !allows(plan, RoleHelpdeskAdministrator) {
		t.Fatalf("app password reset reach: %v %+v", err, plan.Guard)
	}
	plan, _ = accessFor(appOnly("User.ReadWrite.All")).CheckUpdate([]string{"jobTitle"})
	if plan.Guard != nil {
		t.Fatal("non-sensitive app write is guarded")
	}
	plan, _ = accessFor(delegated("User.ReadWrite.All"), RoleUserAdministrator).CheckDelete()
	if allows(plan, RoleGlobalAdministrator) || !allows(plan, RoleUserAdministrator) {
		t.Fatalf("UA delete reach: %+v", plan.Guard)
	}
	plan, _ = accessFor(delegated("User.ReadWrite.All"), RoleGlobalAdministrator).CheckDelete()
	if plan.Guard != nil {
		t.Fatal("GA delete is guarded")
	}
	err = plan2err(accessFor(delegated("User.ReadWrite.All"), RoleUserAdministrator).CheckDelete())
	if err != nil {
		t.Fatal(err)
	}
	g := accessFor(delegated("User.ReadWrite.All"), RoleUserAdministrator)
	p, _ := g.CheckDelete()
	msg := AsError(p.Guard.Denied([]string{RoleGlobalAdministrator})).Message
	if !strings.Contains(msg, "Global Administrator") || !strings.Contains(msg, "User Administrator") {
		t.Errorf("guard message %q", msg)
	}
}

func plan2err(_ *WritePlan, err error) error { return err }

func TestCheckOperationRoles(t *testing.T) {
	customer := accessFor(delegated("User.ReadWrite.All", "Directory.ReadWrite.All", "RoleManagement.ReadWrite.Directory"))
	for _, op := range []Operation{OpListUsers, OpCreateUser, OpDeleteUser, OpReadRoles, OpWriteRoles} {
		err := customer.CheckOperation(op)
		if KindOf(err) != KindForbidden || len(AsError(err).Scope) != 0 {
			t.Errorf("customer %v: %v", opNames[op], err)
		}
	}
	for _, op := range []Operation{OpReadSelf, OpUpdateSelf, OpReadUser, OpUpdateUser} {
		if err := customer.CheckOperation(op); err != nil {
			t.Errorf("customer %v: %v", opNames[op], err)
		}
	}
	ua := accessFor(delegated("User.ReadWrite.All"), RoleUserAdministrator)
	if ua.CheckOperation(OpWriteRoles) == nil || ua.CheckOperation(OpCreateUser) != nil {
		t.Error("User Administrator: may create users, may not manage roles")
	}
	pra := accessFor(delegated("RoleManagement.ReadWrite.Directory"), RolePrivilegedRoleAdministrator)
	if pra.CheckOperation(OpWriteRoles) != nil || pra.CheckOperation(OpCreateUser) == nil {
		t.Error("Privileged Role Administrator: manages roles, does not create users")
	}
	dr := accessFor(delegated("User.ReadBasic.All"), RoleDirectoryReaders)
	if dr.ReadLevel() != ReadBasic || dr.CheckOperation(OpListUsers) != nil {
		t.Error("Directory Readers with ReadBasic: basic listing")
	}
	if accessFor(delegated("User.Read"), RoleGlobalAdministrator).ReadLevel() != ReadNone {
		t.Error("a GA with User.Read reads only themselves")
	}
}

func TestBasicQueryAndRedaction(t *testing.T) {
	name, job := "Adele", "CEO"
	u := &User{ID: "x", DisplayName: &name, JobTitle: &job, OtherMails: []string{"a@b.c"}, Identities: []Identity{{SignInType: "emailAddress"}}}
	r := RedactBasic(u)
	if r.DisplayName == nil || *r.DisplayName != "Adele" || r.JobTitle != nil || len(r.OtherMails) != 0 || len(r.Identities) != 0 || r.ID != "x" {
		t.Fatalf("redacted = %+v", r)
	}
}
