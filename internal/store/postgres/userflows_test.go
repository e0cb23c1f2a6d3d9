package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

func flowApp(t *testing.T, s *postgres.Store, tenantID, name string) *directory.Application {
	t.Helper()
	a := &directory.Application{TenantID: tenantID, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: name, CreatedAt: time.Now()}
	if err := s.CreateApplication(context.Background(), a, nil); err != nil {
		t.Fatalf("CreateApplication: %v", err)
	}
	return a
}

func newFlow(tenantID, name string, apps ...string) *directory.UserFlowDefinition {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &directory.UserFlowDefinition{TenantID: tenantID, ID: uuid.NewString(), DisplayName: name, Priority: 500,
		IdentityProviders: []string{directory.IdentityProviderEmailPassword}, SignUpAllowed: true, AppIDs: apps,
		Pages:     []directory.FlowView{{Inputs: []directory.FlowInputField{{Attribute: "displayName", Label: "Name", InputType: "text", Required: true}}}},
		CreatedAt: now, UpdatedAt: now}
}

func TestUserFlowStore(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.example")
	a1, a2 := flowApp(t, s, tn.ID, "one"), flowApp(t, s, tn.ID, "two")
	foreign := flowApp(t, s, other.ID, "foreign")

	f := newFlow(tn.ID, "Sign up", a1.AppID)
	if err := s.CreateUserFlow(ctx, f, nil); err != nil {
		t.Fatalf("create: %v", err)
	}
	got, err := s.GetUserFlow(ctx, tn.ID, f.ID)
	if err != nil || got.DisplayName != "Sign up" || !slices.Equal(got.AppIDs, []string{a1.AppID}) ||
		len(got.Pages) != 1 || got.Pages[0].Inputs[0].Attribute != "displayName" || !got.Pages[0].Inputs[0].Required {
		t.Fatalf("get: %v %+v", err, got)
	}
	// Unique display name (ignoring case), per tenant.
	wantKind(t, s.CreateUserFlow(ctx, newFlow(tn.ID, "SIGN UP"), nil), directory.KindConflict, "displayName")
	if err := s.CreateUserFlow(ctx, newFlow(other.ID, "Sign up"), nil); err != nil {
		t.Fatalf("same name in another tenant: %v", err)
	}
	// An application belongs to one flow; unknown and foreign apps are refused,
	// and a refused create writes nothing.
	wantKind(t, s.CreateUserFlow(ctx, newFlow(tn.ID, "Second", a1.AppID), nil), directory.KindConflict, "includeApplications")
	wantKind(t, s.CreateUserFlow(ctx, newFlow(tn.ID, "Third", foreign.AppID), nil), directory.KindInvalid, "includeApplications")
	wantKind(t, s.CreateUserFlow(ctx, newFlow(tn.ID, "Fourth", uuid.NewString()), nil), directory.KindInvalid, "includeApplications")
	if list, _ := s.ListUserFlows(ctx, tn.ID); len(list) != 1 {
		t.Fatalf("refused creates left rows: %d flows", len(list))
	}
	// Tenant isolation.
	if _, err := s.GetUserFlow(ctx, other.ID, f.ID); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("flow visible from another tenant: %v", err)
	}
	if err := s.DeleteUserFlow(ctx, other.ID, f.ID, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("flow deletable from another tenant: %v", err)
	}

	// Links.
	if err := s.AddUserFlowApplication(ctx, tn.ID, f.ID, a2.AppID, nil); err != nil {
		t.Fatalf("add app: %v", err)
	}
	if err := s.AddUserFlowApplication(ctx, tn.ID, f.ID, a2.AppID, nil); err != nil {
		t.Errorf("adding a linked app again: %v", err)
	}
	wantKind(t, s.AddUserFlowApplication(ctx, tn.ID, uuid.NewString(), a2.AppID, nil), directory.KindNotFound, "")
	if of, err := s.UserFlowOfApp(ctx, tn.ID, a2.AppID); err != nil || of.ID != f.ID || len(of.AppIDs) != 2 {
		t.Fatalf("UserFlowOfApp: %v %+v", err, of)
	}
	if err := s.RemoveUserFlowApplication(ctx, tn.ID, f.ID, a1.AppID, nil); err != nil {
		t.Fatalf("remove: %v", err)
	}
	wantKind(t, s.RemoveUserFlowApplication(ctx, tn.ID, f.ID, a1.AppID, nil), directory.KindNotFound, "")
	if _, err := s.UserFlowOfApp(ctx, tn.ID, a1.AppID); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("unlinked app still has a flow: %v", err)
	}

	// Update replaces everything, links included.
	got.DisplayName, got.MFARequired, got.SignUpAllowed = "Renamed", true, false
	got.IdentityProviders = []string{directory.IdentityProviderEmailOTP}
	got.AppIDs = []string{a1.AppID}
	got.Pages = nil
	read := got.UpdatedAt
	got.UpdatedAt = read.Add(time.Second)
	if err := s.UpdateUserFlow(ctx, got, read, nil); err != nil {
		t.Fatalf("update: %v", err)
	}
	// A write based on the old read loses: nothing of it is stored.
	stale := *got
	stale.DisplayName = "Stale"
	if err := s.UpdateUserFlow(ctx, &stale, read, nil); directory.KindOf(err) != directory.KindPreconditionFailed {
		t.Fatalf("stale update: %v", err)
	}
	missing := *got
	missing.ID = uuid.NewString()
	if err := s.UpdateUserFlow(ctx, &missing, got.UpdatedAt, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("update of a missing flow: %v", err)
	}
	up, _ := s.GetUserFlow(ctx, tn.ID, f.ID)
	if up.DisplayName != "Renamed" || !up.MFARequired || up.SignUpAllowed || up.Pages != nil ||
		!slices.Equal(up.IdentityProviders, []string{directory.IdentityProviderEmailOTP}) || !slices.Equal(up.AppIDs, []string{a1.AppID}) {
		t.Fatalf("after update: %+v", up)
	}
	// Deleting the application drops its link; deleting the flow its links.
	if err := s.DeleteApplication(ctx, tn.ID, a1.ID, nil); err != nil {
		t.Fatalf("delete app: %v", err)
	}
	if up, _ := s.GetUserFlow(ctx, tn.ID, f.ID); len(up.AppIDs) != 0 {
		t.Errorf("deleted application still linked: %v", up.AppIDs)
	}
	if err := s.AddUserFlowApplication(ctx, tn.ID, f.ID, a2.AppID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUserFlow(ctx, tn.ID, f.ID, nil); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.UserFlowOfApp(ctx, tn.ID, a2.AppID); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("link outlived its flow: %v", err)
	}
	// Hostile ids never reach SQL as anything but not found.
	for _, id := range []string{"", "x", "'; DROP TABLE user_flows; --"} {
		if _, err := s.GetUserFlow(ctx, tn.ID, id); directory.KindOf(err) != directory.KindNotFound {
			t.Errorf("GetUserFlow(%q): %v", id, err)
		}
	}
}

// TestUserFlowForApp resolves the effective flow of applications through a
// Service over the real store: the default without a flow, the flow's
// settings with one, built-in attributes mapped to user properties, and
// extension attributes typed by their definitions (dropped once deleted).
func TestUserFlowForApp(t *testing.T) {
	ctx := context.Background()
	s, tn := newTenant(t)
	svc := directory.NewService(s)
	a1, a2 := flowApp(t, s, tn.ID, "one"), flowApp(t, s, tn.ID, "two")

	def, err := svc.UserFlowForApp(ctx, tn.ID, a1.AppID)
	if err != nil || !def.Default || !def.AllowPasswords || def.AllowEmailOTP || !def.SignUpAllowed || def.MFARequired ||
		len(def.Attributes) != 1 || def.Attributes[0].Name != "displayName" || !def.Attributes[0].Required {
		t.Fatalf("default: %v %+v", err, def)
	}
	if d, err := svc.UserFlowForApp(ctx, "not-a-tenant", "nope"); err != nil || !d.Default {
		t.Errorf("hostile ids: %v %+v", err, d)
	}

	ext := &directory.ExtensionProperty{TenantID: tn.ID, ID: uuid.NewString(), ApplicationID: a2.ID, AppID: a2.AppID,
		Name: directory.ExtensionName(a2.AppID, "loyalty"), DataType: directory.ExtensionInteger, TargetObjects: []string{"User"}, CreatedAt: time.Now()}
	if err := s.CreateExtensionProperty(ctx, ext); err != nil {
		t.Fatal(err)
	}
	f := newFlow(tn.ID, "Shop", a1.AppID)
	f.IdentityProviders = []string{directory.IdentityProviderEmailOTP, directory.IdentityProviderEmailPassword}
	f.MFARequired, f.SignUpAllowed = true, false
	f.Pages = []directory.FlowView{{Inputs: []directory.FlowInputField{
		{Attribute: "email", Label: "Email", InputType: "text", Hidden: true, Required: true},
		{Attribute: "postalCode", Label: "ZIP", InputType: "text", Required: true, ValidationRegEx: ptr("^[0-9]{5}$")},
		{Attribute: ext.Name, Label: "Loyalty", InputType: "text"},
	}}}
	if err := s.CreateUserFlow(ctx, f, nil); err != nil {
		t.Fatal(err)
	}
	uf, err := svc.UserFlowForApp(ctx, tn.ID, a1.AppID)
	if err != nil || uf.Default || uf.ID != f.ID || !uf.AllowPasswords || !uf.AllowEmailOTP || uf.SignUpAllowed || !uf.MFARequired {
		t.Fatalf("flow: %v %+v", err, uf)
	}
	if len(uf.Attributes) != 2 {
		t.Fatalf("attributes (email is the username, never listed): %+v", uf.Attributes)
	}
	zip, loy := uf.Attributes[0], uf.Attributes[1]
	if zip.Name != "postalCode" || zip.UserProperty != "postalCode" || !zip.BuiltIn || !zip.Required || zip.ValidationRegEx != "^[0-9]{5}$" {
		t.Errorf("postalCode: %+v", zip)
	}
	if loy.Name != ext.Name || loy.BuiltIn || loy.Required || loy.DataType != "int64" || loy.Extension == nil || loy.Extension.ID != ext.ID {
		t.Errorf("extension: %+v", loy)
	}
	// Another app of the tenant still gets the default.
	if d, _ := svc.UserFlowForApp(ctx, tn.ID, a2.AppID); !d.Default {
		t.Errorf("unlinked app: %+v", d)
	}
	if err := s.DeleteExtensionProperty(ctx, tn.ID, a2.ID, ext.ID); err != nil {
		t.Fatal(err)
	}
	if uf, _ := svc.UserFlowForApp(ctx, tn.ID, a1.AppID); len(uf.Attributes) != 1 || uf.Attributes[0].Name != "postalCode" {
		t.Errorf("deleted extension still collected: %+v", uf.Attributes)
	}
}
