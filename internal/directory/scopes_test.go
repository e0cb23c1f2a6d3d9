package directory

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNormalizeDelegatedScopes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"bare", []string{"User.Read"}, []string{"User.Read"}},
		{"graphdir-qualified", []string{"api://graphdir/User.Read"}, []string{"User.Read"}},
		{"graph-qualified", []string{"https://graph.microsoft.com/User.ReadWrite"}, []string{"User.ReadWrite"}},
		{"case-insensitive name and resource", []string{"HTTPS://Graph.Microsoft.com/user.read", "API://GraphDir/USER.READWRITE"}, []string{"User.Read", "User.ReadWrite"}},
		{"oidc scopes stay bare, canonical order", []string{"offline_access", "User.Read", "OpenID", "email", "profile"},
			[]string{"openid", "profile", "email", "offline_access", "User.Read"}},
		{"duplicates once", []string{"User.Read", "user.read", "api://graphdir/User.Read"}, []string{"User.Read"}},
		{"empty fields skipped (double spaces)", []string{"", "openid", ""}, []string{"openid"}},
		{"graphdir .default", []string{"api://graphdir/.default"}, []string{ScopeDefault}},
		{"graph .default with oidc", []string{"openid", "https://graph.microsoft.com/.default", "offline_access"}, []string{"openid", "offline_access", ScopeDefault}},
		{"nothing", nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeDelegatedScopes(tc.in)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("NormalizeDelegatedScopes(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	// A configured audience qualifies too, and only when configured.
	if got, err := NormalizeDelegatedScopes([]string{"api://contoso/User.Read"}, "api://contoso/"); err != nil || !slices.Equal(got, []string{"User.Read"}) {
		t.Fatalf("configured resource: %q, %v", got, err)
	}
}

func TestNormalizeDelegatedScopesRefuses(t *testing.T) {
	tests := []struct {
		name, bad string
		in        []string
	}{
		{"unknown", "Mail.Send", []string{"openid", "Mail.Send"}},
		{"application permission is not delegated", "AuditLog.Read.All", []string{"AuditLog.Read.All"}},
		{"unknown resource", "api://other/User.Read", []string{"api://other/User.Read"}},
		{"resource prefix only", "https://graph.microsoft.com.evil/User.Read", []string{"https://graph.microsoft.com.evil/User.Read"}},
		{"double slash", "api://graphdir//User.Read", []string{"api://graphdir//User.Read"}},
		{"qualified oidc scope", "api://graphdir/openid", []string{"api://graphdir/openid"}},
		{"bare .default", ".default", []string{".default"}},
		{".default with named scope of the resource", "User.Read", []string{"User.Read", "api://graphdir/.default"}},
		{"empty name", "api://graphdir/", []string{"api://graphdir/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeDelegatedScopes(tc.in)
			var se *ScopeError
			if !errors.As(err, &se) || se.Scope != tc.bad || se.Reason == "" {
				t.Fatalf("NormalizeDelegatedScopes(%q) = %q, %v; want a ScopeError naming %q", tc.in, got, err, tc.bad)
			}
			if !strings.Contains(err.Error(), tc.bad) {
				t.Fatalf("message %q does not name %q", err, tc.bad)
			}
		})
	}
	long := strings.Repeat("x", 10_000)
	_, err := NormalizeDelegatedScopes([]string{long})
	var se *ScopeError
	if !errors.As(err, &se) || len(se.Scope) > 2*maxEchoed {
		t.Fatalf("a long scope is echoed unclipped: %d bytes", len(se.Scope))
	}
}

func TestGrantedScopes(t *testing.T) {
	a := Application{SignInSettings: SignInSettings{DelegatedScopes: []string{"openid", "profile", "offline_access", "User.Read"}}}
	if got := a.ConsentedScopes(); !slices.Equal(got, []string{"openid", "profile", "offline_access", "User.Read"}) {
		t.Fatalf("ConsentedScopes = %q", got)
	}
	got, err := a.GrantedScopes([]string{"openid", "offline_access", "https://graph.microsoft.com/.default"})
	if err != nil || !slices.Equal(got, []string{"openid", "offline_access", "User.Read"}) {
		t.Fatalf(".default = %q, %v", got, err)
	}
	if got, err := a.GrantedScopes([]string{"api://graphdir/user.read", "profile"}); err != nil || !slices.Equal(got, []string{"profile", "User.Read"}) {
		t.Fatalf("named = %q, %v", got, err)
	}
	_, err = a.GrantedScopes([]string{"openid", "User.ReadWrite"})
	var se *ScopeError
	if !errors.As(err, &se) || se.Scope != "User.ReadWrite" {
		t.Fatalf("unconsented scope: %v", err)
	}
	_, err = a.GrantedScopes([]string{"email"})
	if !errors.As(err, &se) || se.Scope != "email" {
		t.Fatalf("unconsented oidc scope: %v", err)
	}
}

func TestRequiredResourceAccessRoundTrip(t *testing.T) {
	rra := []RequiredResourceAccess{{ResourceAppID: strings.ToUpper(GraphResourceAppID), ResourceAccess: []ResourceAccess{
		{ID: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", Type: "Scope"},
		{ID: "37F7F235-527C-4136-ACCD-4A02D197296E", Type: "Scope"},
	}}}
	names, err := scopesFromResourceAccess(rra)
	if err != nil || !slices.Equal(names, []string{"openid", "User.Read"}) {
		t.Fatalf("scopes = %q, %v", names, err)
	}
	out := Application{SignInSettings: SignInSettings{DelegatedScopes: names}}.RequiredResourceAccess()
	if len(out) != 1 || out[0].ResourceAppID != GraphResourceAppID || len(out[0].ResourceAccess) != 2 ||
		out[0].ResourceAccess[0] != (ResourceAccess{ID: "37f7f235-527c-4136-accd-4a02d197296e", Type: "Scope"}) {
		t.Fatalf("rendered %+v", out)
	}
	if got := (Application{}).RequiredResourceAccess(); got == nil || len(got) != 0 {
		t.Fatalf("no consent renders %v, want []", got)
	}
	bad := []struct {
		name string
		rra  []RequiredResourceAccess
	}{
		{"other resource", []RequiredResourceAccess{{ResourceAppID: "00000002-0000-0000-c000-000000000000"}}},
		{"role", []RequiredResourceAccess{{ResourceAppID: GraphResourceAppID, ResourceAccess: []ResourceAccess{{ID: "df021288-bdef-4463-88db-98f22de89214", Type: "Role"}}}}},
		{"unknown type", []RequiredResourceAccess{{ResourceAppID: GraphResourceAppID, ResourceAccess: []ResourceAccess{{ID: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", Type: "scope"}}}}},
		{"unknown id", []RequiredResourceAccess{{ResourceAppID: GraphResourceAppID, ResourceAccess: []ResourceAccess{{ID: "570282fd-fa5c-430d-a7fd-fc8dc98a9dca", Type: "Scope"}}}}},
		{"duplicate id", []RequiredResourceAccess{{ResourceAppID: GraphResourceAppID, ResourceAccess: []ResourceAccess{
			{ID: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", Type: "Scope"}, {ID: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", Type: "Scope"}}}}},
		{"duplicate resource", []RequiredResourceAccess{{ResourceAppID: GraphResourceAppID}, {ResourceAppID: GraphResourceAppID}}},
	}
	for _, tc := range bad {
		if _, err := scopesFromResourceAccess(tc.rra); KindOf(err) != KindInvalid || err.(*Error).Target != "requiredResourceAccess" {
			t.Errorf("%s: %v, want KindInvalid naming requiredResourceAccess", tc.name, err)
		}
	}
}
