package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// User flow rules that need no data: the default flow, who may call the
// flow API, and the validation of a flow body (each refusal names its
// property). The store-backed paths are tested against PostgreSQL in
// internal/store/postgres (TestUserFlowStore, TestUserFlowForApp).

func TestFlowDefault(t *testing.T) {
	d := directory.DefaultUserFlow()
	if !d.Default || d.ID != "" || !d.AllowPasswords || d.AllowEmailOTP || !d.SignUpAllowed || d.MFARequired {
		t.Fatalf("default flow: %+v", d)
	}
	if len(d.Attributes) != 1 {
		t.Fatalf("default attributes: %+v", d.Attributes)
	}
	a := d.Attributes[0]
	if a.Name != "displayName" || a.UserProperty != "displayName" || !a.BuiltIn || !a.Required || a.DataType != "string" || a.InputType != "text" {
		t.Errorf("default displayName attribute: %+v", a)
	}
	// Each call returns its own value: a caller changing it changes no
	// other caller's default.
	d.Attributes[0].Required = false
	if !directory.DefaultUserFlow().Attributes[0].Required {
		t.Error("DefaultUserFlow shares its attributes")
	}
	// Hostile or unknown ids resolve to the default without touching the
	// store (the fake panics on any store call).
	svc := newService(newFakeStore())
	for _, ids := range [][2]string{{"", ""}, {"x", "y"}, {tenantID, "'; --"}} {
		if uf, err := svc.UserFlowForApp(context.Background(), ids[0], ids[1]); err != nil || !uf.Default {
			t.Errorf("UserFlowForApp(%q, %q) = %+v, %v", ids[0], ids[1], uf, err)
		}
	}
}

func TestFlowAuthorize(t *testing.T) {
	for _, tt := range []struct {
		name  string
		p     *directory.Principal
		write bool
		want  string
	}{
		{"no caller", nil, false, "unauthenticated"},
		{"app without permission", app("Application.ReadWrite.All"), false, "forbidden"},
		{"app read", app("EventListener.Read.All"), false, "ok"},
		{"app read cannot write", app("EventListener.Read.All"), true, "forbidden"},
		{"app write", app("EventListener.ReadWrite.All"), true, "ok"},
		{"app write reads", app("EventListener.ReadWrite.All"), false, "ok"},
		{"delegated scope", user(adminID, "EventListener.ReadWrite.All"), true, "ok"},
		{"delegated without scope", user(adminID, "User.ReadWrite.All"), false, "forbidden"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := kindName(directory.AuthorizeUserFlows(tt.p, tt.write)); got != tt.want {
				t.Errorf("AuthorizeUserFlows = %s, want %s", got, tt.want)
			}
		})
	}
	// A signed-in user needs the Global Administrator role as well; the
	// refusal comes before any flow is read or validated.
	f := newFakeStore()
	svc := newService(f)
	ctx := as(user(adminID, "EventListener.ReadWrite.All"))
	if _, err := svc.CreateUserFlow(ctx, directory.UserFlowInput{}); directory.KindOf(err) != directory.KindForbidden ||
		!strings.Contains(err.Error(), "Global Administrator") {
		t.Errorf("user without role: %v", err)
	}
	f.roles[adminID] = []string{directory.RoleGlobalAdministrator}
	ctx = as(user(adminID, "EventListener.ReadWrite.All")) // a new request: roles are read once per request
	if _, err := svc.CreateUserFlow(ctx, directory.UserFlowInput{}); directory.KindOf(err) != directory.KindInvalid {
		t.Errorf("Global Administrator reaches validation: %v", err)
	}
}

func TestFlowValidation(t *testing.T) {
	svc := newService(newFakeStore())
	ctx := as(app("EventListener.ReadWrite.All"))
	pw := []string{directory.IdentityProviderEmailPassword}
	base := func() directory.UserFlowInput {
		return directory.UserFlowInput{DisplayName: str("Flow"), IdentityProviders: &pw, SignUpAllowed: new(bool)}
	}
	views := func(inputs ...directory.FlowInputField) *[]directory.FlowView {
		return &[]directory.FlowView{{Inputs: inputs}}
	}
	attrs := func(ids ...string) *[]directory.FlowAttributeRef {
		out := make([]directory.FlowAttributeRef, len(ids))
		for i, id := range ids {
			out[i] = directory.FlowAttributeRef{ID: id}
		}
		return &out
	}
	for _, tt := range []struct {
		name   string
		edit   func(in *directory.UserFlowInput)
		target string
	}{
		{"no displayName", func(in *directory.UserFlowInput) { in.DisplayName = nil }, "displayName"},
		{"blank displayName", func(in *directory.UserFlowInput) { in.DisplayName = str("  ") }, "displayName"},
		{"long displayName", func(in *directory.UserFlowInput) { in.DisplayName = str(strings.Repeat("x", 257)) }, "displayName"},
		{"no identity providers", func(in *directory.UserFlowInput) { in.IdentityProviders = nil }, "onAuthenticationMethodLoadStart"},
		{"empty identity providers", func(in *directory.UserFlowInput) { in.IdentityProviders = &[]string{} }, "identityProviders"},
		{"social provider", func(in *directory.UserFlowInput) { in.IdentityProviders = &[]string{"Google-OAUTH"} }, "identityProviders"},
		{"provider twice", func(in *directory.UserFlowInput) {
			in.IdentityProviders = &[]string{"EmailPassword-OAUTH", "emailpassword-oauth"}
		}, "identityProviders"},
		{"no sign-up setting", func(in *directory.UserFlowInput) { in.SignUpAllowed = nil }, "onInteractiveAuthFlowStart"},
		{"negative priority", func(in *directory.UserFlowInput) { n := -1; in.Priority = &n }, "priority"},
		{"long description", func(in *directory.UserFlowInput) { in.Description = str(strings.Repeat("d", 1025)) }, "description"},
		{"appId not a GUID", func(in *directory.UserFlowInput) { in.AppIDs = &[]string{"my-app"} }, "includeApplications"},
		{"appId twice", func(in *directory.UserFlowInput) {
			in.AppIDs = &[]string{appID, strings.ToUpper(appID)}
		}, "includeApplications"},
		{"unknown attribute", func(in *directory.UserFlowInput) { in.Attributes = attrs("favoriteColor") }, "attributes"},
		{"unknown input attribute", func(in *directory.UserFlowInput) {
			in.Pages = views(directory.FlowInputField{Attribute: "mobilePhone"})
		}, "attribute"},
		{"input without attribute", func(in *directory.UserFlowInput) { in.Pages = views(directory.FlowInputField{Label: "x"}) }, "attribute"},
		{"two inputs for one attribute", func(in *directory.UserFlowInput) {
			in.Pages = views(directory.FlowInputField{Attribute: "city"}, directory.FlowInputField{Attribute: "City"})
		}, "attribute"},
		{"input not in attributes", func(in *directory.UserFlowInput) {
			in.Attributes, in.Pages = attrs("displayName"), views(directory.FlowInputField{Attribute: "city"})
		}, "attribute"},
		{"attribute type mismatch", func(in *directory.UserFlowInput) {
			in.Attributes = &[]directory.FlowAttributeRef{{ID: "city", UserFlowAttributeType: str("custom")}}
		}, "userFlowAttributeType"},
		{"attribute data type mismatch", func(in *directory.UserFlowInput) {
			in.Attributes = &[]directory.FlowAttributeRef{{ID: "city", DataType: str("boolean")}}
		}, "dataType"},
		{"attribute twice", func(in *directory.UserFlowInput) { in.Attributes = attrs("city", "CITY") }, "attributes"},
		{"bad input type", func(in *directory.UserFlowInput) {
			in.Pages = views(directory.FlowInputField{Attribute: "city", InputType: "dropdown"})
		}, "inputType"},
		{"bad regex", func(in *directory.UserFlowInput) {
			in.Pages = views(directory.FlowInputField{Attribute: "city", ValidationRegEx: str("([a-z")})
		}, "validationRegEx"},
		{"long label", func(in *directory.UserFlowInput) {
			in.Pages = views(directory.FlowInputField{Attribute: "city", Label: strings.Repeat("l", 257)})
		}, "label"},
		{"too many views", func(in *directory.UserFlowInput) {
			v := make([]directory.FlowView, 11)
			in.Pages = &v
		}, "views"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := base()
			tt.edit(&in)
			_, err := svc.CreateUserFlow(ctx, in)
			e := directory.AsError(err)
			if err == nil || e.Kind != directory.KindInvalid || e.Target != tt.target {
				t.Fatalf("CreateUserFlow = %v (target %q), want invalid naming %q", err, e.Target, tt.target)
			}
			if !strings.Contains(e.Message, tt.target) && !strings.Contains(e.Message, "'"+tt.target+"'") {
				t.Errorf("message does not name %q: %s", tt.target, e.Message)
			}
		})
	}
}
