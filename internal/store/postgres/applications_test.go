package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

var appSecretKey = []byte("0123456789abcdef0123456789abcdef")

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func appTenant(t *testing.T, st *postgres.Store) string {
	t.Helper()
	id := uuid.NewString()
	if _, err := st.EnsureTenant(context.Background(), directory.Tenant{ID: id, DefaultDomain: "apps.test"}); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestApplications_SecretsAreHashedAndChecked(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid := appTenant(t, st)
	clock := &testClock{t: time.Now()}
	apps := directory.NewApplications(st, appSecretKey, directory.WithApplicationsClock(clock.now))

	a, sec, err := apps.OperatorCreateApplication(ctx, tid, "job", []string{"user.read.all", "User.Read.All"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Permissions) != 1 || a.Permissions[0] != "User.Read.All" {
		t.Fatalf("permissions not canonical and deduplicated: %v", a.Permissions)
	}
	if len(sec.SecretText) != 40 || sec.Hint != sec.SecretText[:3] {
		t.Fatalf("secret %d chars, hint %q", len(sec.SecretText), sec.Hint)
	}

	// The database holds a keyed hash and the hint, never the secret.
	var rows int
	if err := st.DB().QueryRow(`SELECT count(*) FROM application_secrets s
		WHERE strpos(s::text, $1) > 0`, sec.SecretText[3:]).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatal("the secret (beyond its 3-character hint) is stored in application_secrets")
	}
	var hash, hint string
	if err := st.DB().QueryRow(`SELECT secret_hash, hint FROM application_secrets WHERE key_id = $1`, sec.KeyID).Scan(&hash, &hint); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "hmac-sha256$") || hint != sec.SecretText[:3] {
		t.Fatalf("stored hash %q hint %q", hash, hint)
	}

	got, err := apps.AuthenticateClient(ctx, tid, strings.ToUpper(a.AppID), sec.SecretText)
	if err != nil || got.ID != a.ID || len(got.Permissions) != 1 {
		t.Fatalf("good secret: %v %+v", err, got)
	}
	for name, c := range map[string]struct {
		tenant, client, secret string
		reason                 error
	}{
		"wrong secret":     {tid, a.AppID, sec.SecretText[:39] + "x", directory.ErrClientSecretInvalid},
		"empty secret":     {tid, a.AppID, "", directory.ErrClientSecretInvalid},
		"unknown client":   {tid, uuid.NewString(), sec.SecretText, directory.ErrClientUnknown},
		"object id":        {tid, a.ID, sec.SecretText, directory.ErrClientUnknown},
		"not a guid":       {tid, "job", sec.SecretText, directory.ErrClientUnknown},
		"other tenant":     {appTenant(t, st), a.AppID, sec.SecretText, directory.ErrClientUnknown},
		"hash as a secret": {tid, a.AppID, hash, directory.ErrClientSecretInvalid},
	} {
		_, err := apps.AuthenticateClient(ctx, c.tenant, c.client, c.secret)
		if directory.KindOf(err) != directory.KindUnauthenticated || !errors.Is(err, c.reason) {
			t.Errorf("%s: %v", name, err)
		}
		if de := directory.AsError(err); de.Message != "The client could not be authenticated." {
			t.Errorf("%s: message %q differs", name, de.Message)
		}
	}

	// A second secret works alongside; removing the first refuses it.
	sec2, err := apps.OperatorAddSecret(ctx, tid, a.AppID, "second", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := sec2.EndDateTime.Sub(sec2.StartDateTime); got != directory.DefaultSecretLifetime {
		t.Errorf("default lifetime %v", got)
	}
	if err := apps.OperatorRemoveSecret(ctx, tid, a.ID, sec.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := apps.AuthenticateClient(ctx, tid, a.AppID, sec.SecretText); !errors.Is(err, directory.ErrClientSecretInvalid) {
		t.Errorf("removed secret: %v", err)
	}
	if _, err := apps.AuthenticateClient(ctx, tid, a.AppID, sec2.SecretText); err != nil {
		t.Errorf("second secret: %v", err)
	}
	if err := apps.OperatorRemoveSecret(ctx, tid, a.ID, sec.KeyID); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("removing twice: %v", err)
	}

	// Expiry: the first day's secret stops working after a day.
	short, err := apps.OperatorAddSecret(ctx, tid, a.AppID, "", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clock.add(25 * time.Hour)
	if _, err := apps.AuthenticateClient(ctx, tid, a.AppID, short.SecretText); !errors.Is(err, directory.ErrClientSecretExpired) {
		t.Errorf("expired secret: %v", err)
	}
	if _, err := apps.AuthenticateClient(ctx, tid, a.AppID, sec2.SecretText); err != nil {
		t.Errorf("unexpired secret after a day: %v", err)
	}

	// Deleting the app takes secrets and permissions with it.
	if err := apps.OperatorDeleteApplication(ctx, tid, a.AppID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := st.DB().QueryRow(`SELECT (SELECT count(*) FROM application_secrets) + (SELECT count(*) FROM application_roles)`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d secret/permission rows survive the application", left)
	}
	if _, err := apps.AuthenticateClient(ctx, tid, a.AppID, sec2.SecretText); !errors.Is(err, directory.ErrClientUnknown) {
		t.Errorf("deleted app: %v", err)
	}
}

func TestApplications_Limits(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid := appTenant(t, st)
	apps := directory.NewApplications(st, appSecretKey)
	if _, _, err := apps.OperatorCreateApplication(ctx, tid, "x", []string{"Everything.All"}, 0); directory.KindOf(err) != directory.KindInvalid {
		t.Errorf("unknown permission: %v", err)
	}
	if _, _, err := apps.OperatorCreateApplication(ctx, tid, " ", nil, 0); directory.KindOf(err) != directory.KindInvalid {
		t.Errorf("blank name: %v", err)
	}
	a, _, err := apps.OperatorCreateApplication(ctx, tid, "x", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < directory.MaxSecretsPerApplication; i++ {
		if _, err := apps.OperatorAddSecret(ctx, tid, a.ID, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := apps.OperatorAddSecret(ctx, tid, a.ID, "", 0); directory.KindOf(err) != directory.KindInvalid {
		t.Errorf("secret beyond the limit: %v", err)
	}
	if _, err := apps.OperatorAddSecret(ctx, tid, a.ID, "", 3*365*24*time.Hour); directory.KindOf(err) != directory.KindInvalid {
		t.Errorf("3-year secret: %v", err)
	}
}

// Several instances starting at once create one bootstrap application, and
// a later start creates none, even after the app was deleted.
func TestApplications_BootstrapOnce(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid := appTenant(t, st)
	apps := directory.NewApplications(st, appSecretKey)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var created []*directory.NewSecret
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, sec, err := apps.EnsureBootstrapApplication(ctx, tid, "boot")
			if err != nil {
				t.Error(err)
				return
			}
			if a != nil {
				mu.Lock()
				created = append(created, sec)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(created) != 1 {
		t.Fatalf("%d bootstrap applications created", len(created))
	}
	list, err := apps.OperatorListApplications(ctx, tid)
	if err != nil || len(list) != 1 {
		t.Fatalf("applications: %v %d", err, len(list))
	}
	if !equalStrings(list[0].Permissions, sortedCopy(directory.BootstrapPermissions)) {
		t.Errorf("bootstrap permissions %v", list[0].Permissions)
	}
	if _, err := apps.AuthenticateClient(ctx, tid, list[0].AppID, created[0].SecretText); err != nil {
		t.Errorf("bootstrap secret: %v", err)
	}
	if err := apps.OperatorDeleteApplication(ctx, tid, list[0].ID); err != nil {
		t.Fatal(err)
	}
	if a, _, err := apps.EnsureBootstrapApplication(ctx, tid, "boot"); err != nil || a != nil {
		t.Errorf("second start: %v %v", a, err)
	}
	// Another tenant gets its own.
	if a, _, err := apps.EnsureBootstrapApplication(ctx, appTenant(t, st), "boot"); err != nil || a == nil {
		t.Errorf("other tenant: %v %v", a, err)
	}
}

// The API methods enforce the caller's permissions and never let a caller
// grant, or get credentials for, more than it holds.
func TestApplications_CallerRules(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid := appTenant(t, st)
	apps := directory.NewApplications(st, appSecretKey)
	as := func(perms ...string) context.Context {
		return directory.WithPrincipal(ctx, &directory.Principal{Kind: directory.PrincipalApp, TenantID: tid, AppID: uuid.NewString(), Permissions: perms})
	}
	admin := as("Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "User.Read.All", "User.ReadWrite.All")
	manager := as("Application.ReadWrite.All")
	name := "job"
	readAll := []string{"User.Read.All"}
	rwAll := []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}

	privileged, _, err := apps.OperatorCreateApplication(ctx, tid, "root", rwAll, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := apps.CreateApplication(admin, directory.ApplicationInput{DisplayName: &name, Permissions: &readAll})
	if err != nil {
		t.Fatal(err)
	}
	for label, err := range map[string]error{
		"reader creates":               errOf(apps.CreateApplication(as("Application.Read.All"), directory.ApplicationInput{DisplayName: &name})),
		"grant without AppRoleAssign":  errOf(apps.CreateApplication(manager, directory.ApplicationInput{DisplayName: &name, Permissions: &readAll})),
		"grant beyond own":             errOf(apps.CreateApplication(admin, directory.ApplicationInput{DisplayName: &name, Permissions: &rwAll})),
		"patch grant beyond own":       apps.UpdateApplication(admin, a.ID, directory.ApplicationInput{Permissions: &rwAll}),
		"revoke without AppRoleAssign": apps.UpdateApplication(as("Application.ReadWrite.All", "User.Read.All"), a.ID, directory.ApplicationInput{Permissions: &[]string{}}),
		"secret for a stronger app":    errOf(apps.AddPassword(admin, privileged.ID, directory.PasswordCredentialInput{})),
		"delete a stronger app":        apps.DeleteApplication(admin, privileged.ID),
		"secret for a granted app":     errOf(apps.AddPassword(manager, a.ID, directory.PasswordCredentialInput{})),
		"delegated":                    errOf(apps.CreateApplication(directory.WithPrincipal(ctx, &directory.Principal{Kind: directory.PrincipalUser, TenantID: tid, UserID: uuid.NewString(), Permissions: []string{"Application.ReadWrite.All"}}), directory.ApplicationInput{DisplayName: &name})),
	} {
		if directory.KindOf(err) != directory.KindForbidden {
			t.Errorf("%s: want forbidden, got %v", label, err)
		}
	}
	if _, err := apps.GetApplication(as("Application.Read.All"), "appId='"+a.AppID+"'"); err != nil {
		t.Errorf("read by appId: %v", err)
	}
	if _, err := apps.GetApplication(as("Application.Read.All"), privileged.ID); err != nil {
		t.Errorf("reading is not limited by the target's permissions: %v", err)
	}
	other := directory.WithPrincipal(ctx, &directory.Principal{Kind: directory.PrincipalApp, TenantID: appTenant(t, st), AppID: "x", Permissions: []string{"Application.ReadWrite.All"}})
	if _, err := apps.GetApplication(other, a.ID); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("cross-tenant read: %v", err)
	}
	if err := apps.DeleteApplication(other, a.ID); directory.KindOf(err) != directory.KindNotFound {
		t.Errorf("cross-tenant delete: %v", err)
	}
	sec, err := apps.AddPassword(admin, a.ID, directory.PasswordCredentialInput{})
	if err != nil {
		t.Fatal(err)
	}
	if err := apps.RemovePassword(admin, a.ID, sec.KeyID); err != nil {
		t.Fatal(err)
	}
	if err := apps.DeleteApplication(admin, a.ID); err != nil {
		t.Fatal(err)
	}
}

func errOf[T any](_ T, err error) error { return err }

func equalStrings(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",")
}

func sortedCopy(s []string) []string {
	out, _ := directory.CanonicalPermissions(s)
	return out
}
