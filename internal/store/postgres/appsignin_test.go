package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func TestApplications_SignInSettingsStored(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid := appTenant(t, st)
	apps := directory.NewApplications(st, appSecretKey)
	admin := directory.WithPrincipal(ctx, &directory.Principal{Kind: directory.PrincipalApp, TenantID: tid, AppID: uuid.NewString(),
		Permissions: []string{directory.PermApplicationReadWriteAll}})

	yes, all := true, directory.NativeAuthAll
	logout := "https://app.example/logout"
	name := "shop"
	a, err := apps.CreateApplication(admin, directory.ApplicationInput{DisplayName: &name, SignIn: directory.SignInInput{
		SPA:                      &[]string{"https://app.example/cb", "http://localhost:5173/cb"},
		Web:                      &directory.WebInput{RedirectURIs: []string{"https://app.example/signin-oidc"}, LogoutURL: &logout},
		PublicClient:             &[]string{"com.example.shop://auth"},
		IsFallbackPublicClient:   &directory.Nullable[bool]{Value: &yes},
		NativeAuthenticationAPIs: &directory.Nullable[string]{Value: &all},
		RequiredResourceAccess: &[]directory.RequiredResourceAccess{{ResourceAppID: directory.GraphResourceAppID, ResourceAccess: []directory.ResourceAccess{
			{ID: "e1fe6dd8-ba31-4d61-89e7-88639da4683d", Type: "Scope"}, {ID: "37f7f235-527c-4136-accd-4a02d197296e", Type: "Scope"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := apps.ClientApplication(ctx, tid, a.AppID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.SPARedirectURIs, []string{"https://app.example/cb", "http://localhost:5173/cb"}) ||
		!slices.Equal(got.WebRedirectURIs, []string{"https://app.example/signin-oidc"}) || got.WebLogoutURL == nil || *got.WebLogoutURL != logout ||
		!slices.Equal(got.PublicClientRedirectURIs, []string{"com.example.shop://auth"}) ||
		got.IsFallbackPublicClient == nil || !*got.IsFallbackPublicClient || !got.NativeAuthEnabled() ||
		!slices.Equal(got.ConsentedScopes(), []string{"openid", "User.Read"}) {
		t.Fatalf("read back %+v", got.SignInSettings)
	}
	if kind, ok := got.RedirectURIKind("http://localhost:5173/cb"); !ok || kind != directory.RedirectSPA {
		t.Fatalf("RedirectURIKind = %q %v", kind, ok)
	}
	for origin, want := range map[string]bool{"https://app.example": true, "http://localhost:5173": true, "https://evil.example": false, "https://app.example:8443": false} {
		if ok, err := apps.SPAOriginRegistered(ctx, tid, origin); err != nil || ok != want {
			t.Errorf("SPAOriginRegistered(%q) = %v, %v", origin, ok, err)
		}
	}
	if ok, _ := apps.SPAOriginRegistered(ctx, appTenant(t, st), "https://app.example"); ok {
		t.Fatal("an origin of another tenant's application is registered here")
	}
	// A CORS preflight names no tenant: any tenant's registration counts.
	for origin, want := range map[string]bool{"https://app.example": true, "http://localhost:5173": true, "https://evil.example": false, "": false} {
		if ok, err := apps.SPAOriginRegisteredAnyTenant(ctx, origin); err != nil || ok != want {
			t.Errorf("SPAOriginRegisteredAnyTenant(%q) = %v, %v", origin, ok, err)
		}
	}

	// A PATCH of one property replaces it whole and leaves the others.
	if err := apps.UpdateApplication(admin, a.ID, directory.ApplicationInput{SignIn: directory.SignInInput{
		Web:                      &directory.WebInput{RedirectURIs: []string{}},
		NativeAuthenticationAPIs: &directory.Nullable[string]{},
	}}); err != nil {
		t.Fatal(err)
	}
	got, _ = apps.ClientApplication(ctx, tid, a.AppID)
	if len(got.WebRedirectURIs) != 0 || got.WebLogoutURL != nil || got.NativeAuthenticationAPIs != "" ||
		len(got.SPARedirectURIs) != 2 || len(got.DelegatedScopes) != 2 {
		t.Fatalf("after PATCH %+v", got.SignInSettings)
	}
	// Listing reads the same columns.
	page, err := apps.ListApplications(admin, directory.ListQuery{Top: 10})
	if err != nil || len(page.Applications) != 1 || len(page.Applications[0].SPARedirectURIs) != 2 {
		t.Fatalf("list: %v %+v", err, page)
	}
	// An SPA with no secret cannot authenticate as a confidential client.
	if _, err := apps.AuthenticateClient(ctx, tid, a.AppID, ""); directory.KindOf(err) != directory.KindUnauthenticated {
		t.Fatalf("secretless client authenticated: %v", err)
	}
	if _, err := apps.ClientApplication(ctx, tid, uuid.NewString()); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("unknown client: %v", err)
	}
	if _, err := apps.ClientApplication(ctx, tid, "not-a-guid"); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("malformed client id: %v", err)
	}
}

// Concurrent PATCHes of different platforms both land, and the limit
// across platforms holds for what is stored even when two PATCHes that are
// each within it race.
func TestApplications_SignInPatchesSerialise(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid := appTenant(t, st)
	apps := directory.NewApplications(st, appSecretKey)
	admin := directory.WithPrincipal(ctx, &directory.Principal{Kind: directory.PrincipalApp, TenantID: tid, AppID: uuid.NewString(),
		Permissions: []string{directory.PermApplicationReadWriteAll}})
	name := "racy"
	a, err := apps.CreateApplication(admin, directory.ApplicationInput{DisplayName: &name})
	if err != nil {
		t.Fatal(err)
	}
	uris := func(n int, f string) *[]string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(f, i)
		}
		return &out
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = apps.UpdateApplication(admin, a.ID, directory.ApplicationInput{SignIn: directory.SignInInput{SPA: uris(200, "https://a.example/s%d")}})
	}()
	go func() {
		defer wg.Done()
		errs[1] = apps.UpdateApplication(admin, a.ID, directory.ApplicationInput{SignIn: directory.SignInInput{PublicClient: uris(100, "https://a.example/p%d")}})
	}()
	wg.Wait()
	got, err := apps.ClientApplication(ctx, tid, a.AppID)
	if err != nil {
		t.Fatal(err)
	}
	total := len(got.SPARedirectURIs) + len(got.PublicClientRedirectURIs)
	failed := 0
	for _, err := range errs {
		if err != nil {
			if directory.KindOf(err) != directory.KindInvalid {
				t.Fatalf("unexpected error: %v", err)
			}
			failed++
		}
	}
	if total > directory.MaxRedirectURIs || failed != 1 {
		t.Fatalf("stored %d redirect URIs with %d refusals; want exactly one PATCH refused and at most %d stored", total, failed, directory.MaxRedirectURIs)
	}
	// Two PATCHes within the limit together both land.
	if err := apps.UpdateApplication(admin, a.ID, directory.ApplicationInput{SignIn: directory.SignInInput{SPA: &[]string{}, PublicClient: &[]string{}}}); err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs[0] = apps.UpdateApplication(admin, a.ID, directory.ApplicationInput{SignIn: directory.SignInInput{SPA: uris(3, "https://a.example/s%d")}})
	}()
	go func() {
		defer wg.Done()
		errs[1] = apps.UpdateApplication(admin, a.ID, directory.ApplicationInput{SignIn: directory.SignInInput{PublicClient: uris(2, "https://a.example/p%d")}})
	}()
	wg.Wait()
	got, _ = apps.ClientApplication(ctx, tid, a.AppID)
	if errs[0] != nil || errs[1] != nil || len(got.SPARedirectURIs) != 3 || len(got.PublicClientRedirectURIs) != 2 {
		t.Fatalf("lost update: %v %v %+v", errs[0], errs[1], got.SignInSettings)
	}
}

// The command line's registration: a public client gets no secret, a
// confidential one does.
func TestApplications_OperatorRegister(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid := appTenant(t, st)
	apps := directory.NewApplications(st, appSecretKey)
	spa := []string{"https://app.example/cb"}
	a, sec, err := apps.OperatorRegisterApplication(ctx, tid, "spa", nil, directory.SignInInput{SPA: &spa}, 0)
	if err != nil || sec != nil || !a.IsPublicClient() {
		t.Fatalf("spa: %v secret=%v", err, sec)
	}
	got, _ := apps.OperatorGetApplication(ctx, tid, a.AppID)
	if len(got.PasswordCredentials) != 0 || !slices.Equal(got.SPARedirectURIs, spa) {
		t.Fatalf("stored %+v", got)
	}
	_, sec, err = apps.OperatorRegisterApplication(ctx, tid, "web", nil, directory.SignInInput{Web: &directory.WebInput{RedirectURIs: []string{"https://app.example/web"}}}, 0)
	if err != nil || sec == nil {
		t.Fatalf("web app: %v secret=%v", err, sec)
	}
	if _, _, err := apps.OperatorRegisterApplication(ctx, tid, "bad", nil, directory.SignInInput{SPA: &[]string{"http://app.example/cb"}}, 0); directory.KindOf(err) != directory.KindInvalid {
		t.Fatalf("http SPA registered: %v", err)
	}
}
