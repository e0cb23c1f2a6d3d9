package directory_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// The rules of directory.Service, table by table, over a fake store: no
// PostgreSQL. fakeStore embeds directory.Store, so a method a test reaches
// without the fake overriding it panics (nil interface) instead of quietly
// answering.

const (
	tenantID = "0d9f3b1e-0000-4000-8000-000000000001"
	janeID   = "0d9f3b1e-0000-4000-8000-00000000000a" // a customer
	bobID    = "0d9f3b1e-0000-4000-8000-00000000000b" // another user
	adminID  = "0d9f3b1e-0000-4000-8000-00000000000c" // holds roles per test
	appID    = "0d9f3b1e-0000-4000-8000-0000000000ff"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeStore struct {
	directory.Store

	mu      sync.Mutex
	tenant  directory.Tenant
	users   map[string]*directory.User // by id
	roles   map[string][]string        // user id -> role template ids
	created []*directory.User
	patches []directory.UserPatch
	deletes []directory.UserKey
	guards  []*directory.TargetGuard
	// events are the stored audit events: those the writes stored in
	// their "transaction" and those appended on their own.
	events []*directory.AuditEvent
	// writeErr, when set, fails the next write.
	writeErr error
}

func newFakeStore() *fakeStore {
	s := func(v string) *string { return &v }
	yes := true
	return &fakeStore{
		tenant: directory.Tenant{ID: tenantID, DisplayName: "Contoso", DefaultDomain: "contoso.com",
			Domains: []string{"contoso.com", "contoso.onmicrosoft.com"}},
		users: map[string]*directory.User{
			janeID: {ID: janeID, TenantID: tenantID, UserPrincipalName: s("jane@contoso.com"), DisplayName: s("Jane"),
				JobTitle: s("Engineer"), City: s("Oslo"), AccountEnabled: &yes, Version: 3},
			bobID: {ID: bobID, TenantID: tenantID, UserPrincipalName: s("bob@contoso.com"), DisplayName: s("Bob"),
				JobTitle: s("CFO"), AccountEnabled: &yes, Version: 1},
			adminID: {ID: adminID, TenantID: tenantID, UserPrincipalName: s("admin@contoso.com"), DisplayName: s("Admin"),
				AccountEnabled: &yes, Version: 1},
		},
		roles: map[string][]string{},
	}
}

func (f *fakeStore) Tenant(_ context.Context, id string) (*directory.Tenant, error) {
	if id != f.tenant.ID {
		return nil, directory.Errorf(directory.KindNotFound, "no tenant")
	}
	t := f.tenant
	return &t, nil
}

func (f *fakeStore) UserRoles(_ context.Context, _, userID string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.roles[userID], nil
}

func (f *fakeStore) find(key directory.UserKey) *directory.User {
	if key.ID != "" {
		return f.users[key.ID]
	}
	for _, u := range f.users {
		if u.UserPrincipalName != nil && strings.EqualFold(*u.UserPrincipalName, key.UPN) {
			return u
		}
	}
	return nil
}

func (f *fakeStore) GetUser(_ context.Context, _ string, key directory.UserKey) (*directory.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.find(key)
	if u == nil {
		return nil, directory.ErrNotFoundUser(key.String())
	}
	c := *u
	return &c, nil
}

func (f *fakeStore) ListUsers(_ context.Context, _ string, q directory.ListQuery) (*directory.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	page := &directory.Page{}
	for _, id := range []string{janeID, bobID, adminID} {
		c := *f.users[id]
		page.Users = append(page.Users, &c)
	}
	return page, nil
}

func (f *fakeStore) ExtensionPropertiesByName(context.Context, string, []string) ([]*directory.ExtensionProperty, error) {
	return nil, nil
}

// commit stores ev as a transactional store does when its write commits.
func (f *fakeStore) commit(ev *directory.AuditEvent) {
	if ev != nil {
		ev.Sanitize()
		f.events = append(f.events, ev)
		ev.MarkPersisted()
	}
}

func (f *fakeStore) takeErr() error {
	err := f.writeErr
	f.writeErr = nil
	return err
}

func (f *fakeStore) CreateUser(_ context.Context, u *directory.User, ev *directory.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.takeErr(); err != nil {
		return err
	}
	f.created = append(f.created, u)
	f.users[u.ID] = u
	f.commit(ev)
	return nil
}

func (f *fakeStore) UpdateUser(_ context.Context, _ string, key directory.UserKey, patch directory.UserPatch) (*directory.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.patches = append(f.patches, patch)
	u := f.find(key)
	if u != nil && patch.Audit != nil {
		patch.Audit.ResolveUser(u.ID, *u.UserPrincipalName, nil)
	}
	if err := f.takeErr(); err != nil {
		return nil, err
	}
	if u == nil {
		return nil, directory.ErrNotFoundUser(key.String())
	}
	f.commit(patch.Audit)
	c := *u
	return &c, nil
}

func (f *fakeStore) SoftDeleteUser(_ context.Context, _ string, key directory.UserKey, guard *directory.TargetGuard, _ int64, ev *directory.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, key)
	f.guards = append(f.guards, guard)
	if f.find(key) == nil {
		return directory.ErrNotFoundUser(key.String())
	}
	f.commit(ev)
	return nil
}

func (f *fakeStore) AppendAuditEvent(_ context.Context, ev *directory.AuditEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	return nil
}

func newService(f *fakeStore) *directory.Service {
	return directory.NewService(f,
		directory.WithClock(func() time.Time { return fixedNow }),
		directory.WithPasswordHasher(func(p string) (string, error) { return "hashed:" + p, nil }),
		directory.WithAuditLog(f),
	)
}

func app(perms ...string) *directory.Principal {
	return &directory.Principal{Kind: directory.PrincipalApp, TenantID: tenantID, AppID: appID, Permissions: perms}
}

func user(id string, scopes ...string) *directory.Principal {
	return &directory.Principal{Kind: directory.PrincipalUser, TenantID: tenantID, AppID: appID, UserID: id, Permissions: scopes}
}

func as(p *directory.Principal) context.Context {
	return directory.WithRequestID(directory.WithPrincipal(context.Background(), p), "req-1")
}

func str(s string) *string { return &s }

func kindName(err error) string {
	if err == nil {
		return "ok"
	}
	switch directory.KindOf(err) {
	case directory.KindInvalid:
		return "invalid"
	case directory.KindReadOnly:
		return "readonly"
	case directory.KindForbidden:
		return "forbidden"
	case directory.KindNotFound:
		return "notfound"
	case directory.KindBadRequest:
		return "badrequest"
	case directory.KindUnauthenticated:
		return "unauthenticated"
	case directory.KindConflict:
		return "conflict"
	case directory.KindUnsupported:
		return "unsupported"
	}
	return "other: " + err.Error()
}

// ----- authorization

func TestServiceAuthorization(t *testing.T) {
	tests := []struct {
		name   string
		caller *directory.Principal
		roles  []string // of adminID
		call   func(context.Context, *directory.Service) error
		want   string
		// wrote: the call reached a store write.
		wrote bool
	}{
		{name: "no caller reads", caller: nil,
			call: getUser(bobID), want: "unauthenticated"},
		{name: "app without permission reads", caller: app(),
			call: getUser(bobID), want: "forbidden"},
		{name: "app with User.Read.All reads", caller: app(directory.PermUserReadAll),
			call: getUser(bobID), want: "ok"},
		{name: "app reads by UPN", caller: app(directory.PermUserReadAll),
			call: getUser("BOB@contoso.com"), want: "ok"},
		{name: "app at /me", caller: app(directory.PermUserReadAll),
			call: func(ctx context.Context, s *directory.Service) error { _, err := s.GetMe(ctx); return err }, want: "badrequest"},
		{name: "customer reads self by id", caller: user(janeID, directory.PermUserRead),
			call: getUser(janeID), want: "ok"},
		{name: "customer reads self by UPN", caller: user(janeID, directory.PermUserRead),
			call: getUser("jane@contoso.com"), want: "ok"},
		{name: "customer reads /me", caller: user(janeID, directory.PermUserRead),
			call: func(ctx context.Context, s *directory.Service) error { _, err := s.GetMe(ctx); return err }, want: "ok"},
		{name: "customer reads another user", caller: user(janeID, directory.PermUserReadAll),
			call: getUser(bobID), want: "forbidden"},
		{name: "customer reads a user that does not exist: the same 403", caller: user(janeID, directory.PermUserReadAll),
			call: getUser("nobody@contoso.com"), want: "forbidden"},
		{name: "customer lists", caller: user(janeID, directory.PermUserReadAll),
			call: listUsers(), want: "forbidden"},
		{name: "directory reader lists", caller: user(adminID, directory.PermUserReadAll), roles: []string{directory.RoleDirectoryReaders},
			call: listUsers(), want: "ok"},
		{name: "directory reader reads another user", caller: user(adminID, directory.PermUserReadAll), roles: []string{directory.RoleDirectoryReaders},
			call: getUser(bobID), want: "ok"},
		{name: "customer creates", caller: user(janeID, directory.PermUserReadWriteAll),
			call: createUser(workforce("new@contoso.com")), want: "forbidden"},
		{name: "app with User.Read.All creates", caller: app(directory.PermUserReadAll),
			call: createUser(workforce("new@contoso.com")), want: "forbidden"},
		{name: "app with User.ReadWrite.All creates", caller: app(directory.PermUserReadWriteAll),
			call: createUser(workforce("new@contoso.com")), want: "ok", wrote: true},
		{name: "customer deletes self", caller: user(janeID, directory.PermUserReadWriteAll),
			call: deleteUser(janeID), want: "forbidden"},
		{name: "app deletes", caller: app("User.DeleteRestore.All"),
			call: deleteUser(bobID), want: "ok", wrote: true},
		{name: "customer patches another user", caller: user(janeID, directory.PermUserReadWrite),
			call: updateUser(bobID, map[string]any{"city": str("Rome")}), want: "forbidden"},
		{name: "customer patches self-service property of own id", caller: user(janeID, directory.PermUserReadWrite),
			call: updateUser(janeID, map[string]any{"city": str("Rome")}), want: "ok", wrote: true},
		{name: "customer patches own UPN", caller: user(janeID, directory.PermUserReadWrite),
			call: updateUser(janeID, map[string]any{"userPrincipalName": str("j@contoso.com")}), want: "forbidden"},
		{name: "customer patches a non-self-service property at /me", caller: user(janeID, directory.PermUserReadWrite),
			call: updateMe(map[string]any{"department": str("Sales")}), want: "forbidden"},
		{name: "customer patches /me", caller: user(janeID, directory.PermUserReadWrite),
			call: updateMe(map[string]any{"jobTitle": str("Lead")}), want: "ok", wrote: true},
		{name: "user administrator patches another user", caller: user(adminID, directory.PermUserReadWriteAll), roles: []string{directory.RoleUserAdministrator},
			call: updateUser(bobID, map[string]any{"department": str("Sales")}), want: "ok", wrote: true},
		{name: "helpdesk administrator patches a general property", caller: user(adminID, directory.PermUserReadWriteAll), roles: []string{directory.RoleHelpdeskAdministrator},
			call: updateUser(bobID, map[string]any{"department": str("Sales")}), want: "forbidden"},
		{name: "app with only User.EnableDisableAccount.All patches displayName", caller: app("User.EnableDisableAccount.All"),
			call: updateUser(bobID, map[string]any{"displayName": str("B")}), want: "forbidden"},
		{name: "app with User.EnableDisableAccount.All alone disables", caller: app("User.EnableDisableAccount.All"),
			call: updateUser(bobID, map[string]any{"accountEnabled": new(bool)}), want: "forbidden"},
		{name: "app with User.EnableDisableAccount.All and User.Read.All disables", caller: app("User.EnableDisableAccount.All", directory.PermUserReadAll),
			call: updateUser(bobID, map[string]any{"accountEnabled": new(bool)}), want: "ok", wrote: true},
		{name: "identities need User.ManageIdentities.All", caller: app(directory.PermUserReadWriteAll),
			call: updateUser(bobID, map[string]any{"identities": []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.com", IssuerAssignedID: "b@example.com"}}}),
			want: "forbidden"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			f.roles[adminID] = tc.roles
			s := newService(f)
			err := tc.call(as(tc.caller), s)
			if got := kindName(err); got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
			wrote := len(f.created)+len(f.patches)+len(f.deletes) > 0
			if wrote != tc.wrote {
				t.Errorf("reached a store write: %v, want %v", wrote, tc.wrote)
			}
		})
	}
}

func getUser(key string) func(context.Context, *directory.Service) error {
	return func(ctx context.Context, s *directory.Service) error { _, err := s.GetUser(ctx, key); return err }
}

func listUsers() func(context.Context, *directory.Service) error {
	return func(ctx context.Context, s *directory.Service) error {
		_, err := s.ListUsers(ctx, directory.ListQuery{Top: 10})
		return err
	}
}

func createUser(values map[string]any) func(context.Context, *directory.Service) error {
	return func(ctx context.Context, s *directory.Service) error { _, err := s.CreateUser(ctx, values); return err }
}

func updateUser(key string, values map[string]any) func(context.Context, *directory.Service) error {
	return func(ctx context.Context, s *directory.Service) error {
		_, err := s.UpdateUser(ctx, key, values)
		return err
	}
}

func updateMe(values map[string]any) func(context.Context, *directory.Service) error {
	return func(ctx context.Context, s *directory.Service) error { _, err := s.UpdateMe(ctx, values); return err }
}

func deleteUser(key string) func(context.Context, *directory.Service) error {
	return func(ctx context.Context, s *directory.Service) error { return s.DeleteUser(ctx, key) }
}

func workforce(upn string) map[string]any {
	yes := true
	return map[string]any{"accountEnabled": &yes, "displayName": str("New"), "mailNickname": str("new"),
		"userPrincipalName": str(upn), "passwordProfile": &directory.PasswordProfile{Password: str("xWwvJ]6NMw+bWH-d")}}
}

// The roles guard: a sensitive write (5.4) is conditional on the target's
// roles, checked by the store in the write itself, for delegated
// administrators and applications alike; an ordinary property is not.
func TestServiceUpdateCarriesTheRolesGuard(t *testing.T) {
	tests := []struct {
		name      string
		caller    *directory.Principal
		roles     []string
		values    map[string]any
		wantGuard bool
		// allowed: a target role the guard lets through, denied: one it stops.
		allowed, denied string
	}{
		{name: "user administrator, sensitive property", caller: user(adminID, directory.PermUserReadWriteAll),
			roles: []string{directory.RoleUserAdministrator}, values: map[string]any{"mobilePhone": str("+1 555 0100")},
			wantGuard: true, allowed: directory.RoleHelpdeskAdministrator, denied: directory.RoleGlobalAdministrator},
		{name: "application, sensitive property", caller: app(directory.PermUserReadWriteAll),
			values:    map[string]any{"mobilePhone": str("+1 555 0100")},
			wantGuard: true, allowed: directory.RoleUserAdministrator, denied: directory.RoleGlobalAdministrator},
		{name: "application, ordinary property", caller: app(directory.PermUserReadWriteAll),
			values: map[string]any{"department": str("Sales")}, wantGuard: false},
		{name: "user administrator, ordinary property", caller: user(adminID, directory.PermUserReadWriteAll),
			roles: []string{directory.RoleUserAdministrator}, values: map[string]any{"department": str("Sales")}, wantGuard: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			f.roles[adminID] = tc.roles
			if _, err := newService(f).UpdateUser(as(tc.caller), bobID, tc.values); err != nil {
				t.Fatal(err)
			}
			g := f.patches[0].Guard
			if (g != nil) != tc.wantGuard {
				t.Fatalf("guard %+v, want one: %v", g, tc.wantGuard)
			}
			if g != nil && (!slices.Contains(g.Allowed, tc.allowed) || slices.Contains(g.Allowed, tc.denied)) {
				t.Errorf("guard allows %v; want %s in and %s out", g.Allowed, tc.allowed, tc.denied)
			}
		})
	}
}

// ----- reading: User.ReadBasic.All sees the basic profile only

func TestServiceReadBasicTrims(t *testing.T) {
	tests := []struct {
		name     string
		caller   *directory.Principal
		roles    []string
		key      string
		wantJob  bool // jobTitle (not basic) visible
		wantName bool // displayName (basic) visible
	}{
		{"app basic reads another user", app(directory.PermUserReadBasicAll), nil, bobID, false, true},
		{"app full reads another user", app(directory.PermUserReadAll), nil, bobID, true, true},
		{"delegated basic reader reads self in full", user(adminID, directory.PermUserReadBasicAll), []string{directory.RoleDirectoryReaders}, adminID, false, true},
		{"delegated basic reader reads another user", user(adminID, directory.PermUserReadBasicAll), []string{directory.RoleDirectoryReaders}, bobID, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			f.roles[adminID] = tc.roles
			u, err := newService(f).GetUser(as(tc.caller), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if (u.DisplayName != nil) != tc.wantName || (u.JobTitle != nil && tc.key != adminID) != tc.wantJob {
				t.Errorf("displayName %v jobTitle %v", u.DisplayName, u.JobTitle)
			}
			if tc.key == adminID && u.ID != adminID {
				t.Errorf("self read returned %s", u.ID)
			}
		})
	}

	// Listing: every other user is trimmed, and queries may only touch
	// basic properties (so hidden values cannot be guessed from matches).
	f := newFakeStore()
	s := newService(f)
	page, err := s.ListUsers(as(app(directory.PermUserReadBasicAll)), directory.ListQuery{Top: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range page.Users {
		if u.JobTitle != nil || u.City != nil || u.DisplayName == nil {
			t.Errorf("basic listing shows %s: jobTitle %v city %v", u.ID, u.JobTitle, u.City)
		}
	}
	for filter, want := range map[string]string{
		"displayName eq 'Bob'": "ok",
		"jobTitle eq 'CFO'":    "forbidden",
		"city eq 'Oslo'":       "forbidden",
	} {
		e, err := odata.ParseFilter(filter)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.ListUsers(as(app(directory.PermUserReadBasicAll)), directory.ListQuery{Top: 10, Filter: e})
		if got := kindName(err); got != want {
			t.Errorf("basic listing with $filter=%s: %s (%v), want %s", filter, got, err, want)
		}
		_, err = s.ListUsers(as(app(directory.PermUserReadAll)), directory.ListQuery{Top: 10, Filter: e})
		if err != nil {
			t.Errorf("full listing with $filter=%s: %v", filter, err)
		}
	}
	for _, top := range []int{0, 1000} {
		_, err := s.ListUsers(as(app(directory.PermUserReadAll)), directory.ListQuery{Top: top})
		if directory.KindOf(err) != directory.KindUnsupported {
			t.Errorf("$top=%d: %v", top, err)
		}
	}
}

// ----- validation of creates and updates

func TestServiceCreateValidation(t *testing.T) {
	tests := []struct {
		name       string
		change     func(map[string]any)
		wantKind   string
		wantTarget string
	}{
		{"valid workforce user", func(map[string]any) {}, "ok", ""},
		{"missing mailNickname", func(v map[string]any) { delete(v, "mailNickname") }, "invalid", "mailNickname"},
		{"missing passwordProfile", func(v map[string]any) { delete(v, "passwordProfile") }, "invalid", "passwordProfile"},
		{"unverified domain", func(v map[string]any) { v["userPrincipalName"] = str("x@fabrikam.com") }, "invalid", "userPrincipalName"},
		{"double dot in alias", func(v map[string]any) { v["userPrincipalName"] = str("a..b@contoso.com") }, "invalid", "userPrincipalName"},
		{"alias with a space", func(v map[string]any) { v["userPrincipalName"] = str("a b@contoso.com") }, "invalid", "userPrincipalName"},
		{"alias over 64 characters", func(v map[string]any) { v["userPrincipalName"] = str(strings.Repeat("a", 65) + "@contoso.com") }, "invalid", "userPrincipalName"},
		{"weak password", func(v map[string]any) {
			v["passwordProfile"] = &directory.PasswordProfile{Password: str("password")}
		}, "invalid", "passwordProfile.password"},
		{"weak password allowed by DisableStrongPassword", func(v map[string]any) {
			v["passwordProfile"] = &directory.PasswordProfile{Password: str("password1")}
			v["passwordPolicies"] = str("DisableStrongPassword")
		}, "ok", ""},
		{"unknown password policy", func(v map[string]any) { v["passwordPolicies"] = str("DisableEverything") }, "invalid", "passwordPolicies"},
		{"read-only property", func(v map[string]any) { v["creationType"] = str("Invitation") }, "readonly", "creationType"},
		{"unknown property", func(v map[string]any) { v["favouriteColour"] = str("blue") }, "invalid", "favouriteColour"},
		{"control character in displayName", func(v map[string]any) { v["displayName"] = str("Bad\x01Name") }, "invalid", "displayName"},
		{"blank displayName", func(v map[string]any) { v["displayName"] = str("   ") }, "invalid", "displayName"},
		{"displayName over 256 characters", func(v map[string]any) { v["displayName"] = str(strings.Repeat("x", 257)) }, "invalid", "displayName"},
		{"usageLocation not two letters", func(v map[string]any) { v["usageLocation"] = str("NOR") }, "invalid", "usageLocation"},
		{"otherMails not an email", func(v map[string]any) { v["otherMails"] = []string{"not-an-email"} }, "invalid", "otherMails"},
		{"identity with a bad email", func(v map[string]any) {
			v["identities"] = []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.com", IssuerAssignedID: "nope"}}
		}, "invalid", "identities"},
		{"identity missing its issuer", func(v map[string]any) {
			v["identities"] = []directory.Identity{{SignInType: "userName", IssuerAssignedID: "jdoe"}}
		}, "invalid", "identities"},
		{"userName identity starting with a dash", func(v map[string]any) {
			v["identities"] = []directory.Identity{{SignInType: "userName", Issuer: "contoso.com", IssuerAssignedID: "-jdoe"}}
		}, "invalid", "identities"},
		{"issuerAssignedId over 64 characters", func(v map[string]any) {
			v["identities"] = []directory.Identity{{SignInType: "federated", Issuer: "google.com", IssuerAssignedID: strings.Repeat("1", 65)}}
		}, "invalid", "identities"},
		{"userPrincipalName identity disagreeing with the property", func(v map[string]any) {
			v["identities"] = []directory.Identity{{SignInType: "userPrincipalName", Issuer: "contoso.com", IssuerAssignedID: "other@contoso.com"}}
		}, "invalid", "identities"},
		{"accountEnabled false is kept", func(v map[string]any) { no := false; v["accountEnabled"] = &no }, "ok", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			values := workforce("new@contoso.com")
			tc.change(values)
			u, err := newService(f).CreateUser(as(app(directory.PermUserReadWriteAll)), values)
			if got := kindName(err); got != tc.wantKind {
				t.Fatalf("got %s (%v), want %s", got, err, tc.wantKind)
			}
			if err != nil {
				if de := directory.AsError(err); de.Target != tc.wantTarget {
					t.Errorf("target %q, want %q (%v)", de.Target, tc.wantTarget, err)
				}
				if len(f.created) != 0 {
					t.Error("an invalid user reached the store")
				}
				return
			}
			if *u.AccountEnabled != (values["accountEnabled"] == nil || *values["accountEnabled"].(*bool)) {
				t.Errorf("accountEnabled %v", *u.AccountEnabled)
			}
		})
	}
}

// UPN generation and defaults: a customer created with identities only.
func TestServiceCreateDefaults(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		check  func(t *testing.T, u *directory.User)
	}{
		{"local customer: generated UPN, nickname, defaults", map[string]any{
			"displayName":     str("Jane Customer"),
			"identities":      []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.com", IssuerAssignedID: "jane@example.com"}},
			"passwordProfile": &directory.PasswordProfile{Password: str("xWwvJ]6NMw+bWH-d")},
		}, func(t *testing.T, u *directory.User) {
			if *u.UserPrincipalName != u.ID+"@contoso.com" {
				t.Errorf("userPrincipalName %s, want {id}@contoso.com", *u.UserPrincipalName)
			}
			if *u.MailNickname != u.ID {
				t.Errorf("mailNickname %s, want the id", *u.MailNickname)
			}
			if !*u.AccountEnabled || *u.UserType != "Member" || u.CreationType == nil || *u.CreationType != "LocalAccount" {
				t.Errorf("defaults: enabled %v type %v creation %v", *u.AccountEnabled, *u.UserType, u.CreationType)
			}
			if u.Password.Hash != "hashed:xWwvJ]6NMw+bWH-d" || !u.LastPasswordChangeDateTime.Equal(fixedNow) || !u.CreatedDateTime.Equal(fixedNow) {
				t.Errorf("password %q changed %v created %v", u.Password.Hash, u.LastPasswordChangeDateTime, u.CreatedDateTime)
			}
		}},
		{"local customer without a password", map[string]any{
			"displayName": str("No Password"),
			"identities":  []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.com", IssuerAssignedID: "np@example.com"}},
		}, nil},
		{"federated customer needs neither displayName nor password", map[string]any{
			"identities": []directory.Identity{{SignInType: "federated", Issuer: "google.com", IssuerAssignedID: "1234"}},
		}, func(t *testing.T, u *directory.User) {
			if u.CreationType != nil || u.Password.Hash != "" || u.LastPasswordChangeDateTime != nil {
				t.Errorf("federated: creationType %v hash %q", u.CreationType, u.Password.Hash)
			}
		}},
		{"userPrincipalName identity sets the UPN and is not stored", map[string]any{
			"displayName": str("Upn Identity"),
			"identities": []directory.Identity{
				{SignInType: "userPrincipalName", Issuer: "contoso.com", IssuerAssignedID: "upn.id@contoso.com"},
				{SignInType: "federated", Issuer: "google.com", IssuerAssignedID: "99"}},
		}, func(t *testing.T, u *directory.User) {
			if *u.UserPrincipalName != "upn.id@contoso.com" || *u.MailNickname != "upn.id" {
				t.Errorf("upn %s nickname %s", *u.UserPrincipalName, *u.MailNickname)
			}
			if len(u.Identities) != 1 || u.Identities[0].SignInType != "federated" {
				t.Errorf("identities %+v", u.Identities)
			}
		}},
		{"nickname keeps only safe characters", map[string]any{
			"accountEnabled": new(bool), "displayName": str("Odd"), "userPrincipalName": str("o'brien#1@contoso.com"),
			"mailNickname":    str("obrien"),
			"passwordProfile": &directory.PasswordProfile{Password: str("xWwvJ]6NMw+bWH-d")},
		}, func(t *testing.T, u *directory.User) {
			if *u.MailNickname != "obrien" || *u.AccountEnabled {
				t.Errorf("given nickname %s enabled %v", *u.MailNickname, *u.AccountEnabled)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			u, err := newService(f).CreateUser(as(app(directory.PermUserReadWriteAll)), tc.values)
			if tc.check == nil {
				if directory.KindOf(err) != directory.KindInvalid || directory.AsError(err).Target != "passwordProfile" {
					t.Fatalf("got %v, want passwordProfile required", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.created) != 1 || f.created[0] != u || !directory.IsGUID(u.ID) || u.TenantID != tenantID {
				t.Fatalf("created %v", f.created)
			}
			tc.check(t, u)
		})
	}
}

func TestServiceUpdateValidation(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string
		check  func(t *testing.T, p directory.UserPatch)
	}{
		{"clear displayName", map[string]any{"displayName": (*string)(nil)}, "invalid", nil},
		{"clear accountEnabled", map[string]any{"accountEnabled": (*bool)(nil)}, "invalid", nil},
		{"clear jobTitle", map[string]any{"jobTitle": (*string)(nil)}, "ok", func(t *testing.T, p directory.UserPatch) {
			if v, ok := p.Values["jobTitle"]; !ok || v.(*string) != nil {
				t.Errorf("jobTitle %v", p.Values)
			}
		}},
		{"UPN in an unverified domain", map[string]any{"userPrincipalName": str("bob@fabrikam.com")}, "invalid", nil},
		{"read-only property", map[string]any{"createdDateTime": str("2020-01-01T00:00:00Z")}, "readonly", nil},
		{"weak password", map[string]any{"passwordProfile": &directory.PasswordProfile{Password: str("abc")}}, "invalid", nil},
		{"password without a password", map[string]any{"passwordProfile": &directory.PasswordProfile{}}, "invalid", nil},
		{"password reset is hashed", map[string]any{"passwordProfile": &directory.PasswordProfile{
			Password: str("xWwvJ]6NMw+bWH-d"), ForceChangePasswordNextSignIn: new(bool)}}, "ok",
			func(t *testing.T, p directory.UserPatch) {
				if p.Password == nil || p.Password.Hash != "hashed:xWwvJ]6NMw+bWH-d" || !p.PasswordChangedAt.Equal(fixedNow) {
					t.Errorf("password state %+v at %v", p.Password, p.PasswordChangedAt)
				}
				if _, ok := p.Values["passwordProfile"]; ok {
					t.Error("passwordProfile is a patch value")
				}
			}},
		{"identities with a userPrincipalName identity set the UPN", map[string]any{"identities": []directory.Identity{
			{SignInType: "userPrincipalName", Issuer: "contoso.com", IssuerAssignedID: "robert@contoso.com"}}}, "ok",
			func(t *testing.T, p directory.UserPatch) {
				if upn := p.Values["userPrincipalName"].(*string); *upn != "robert@contoso.com" {
					t.Errorf("userPrincipalName %s", *upn)
				}
				if ids := p.Values["identities"].([]directory.Identity); len(ids) != 0 {
					t.Errorf("identities %v", ids)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			caller := app(directory.PermUserReadWriteAll, "User.ManageIdentities.All")
			_, err := newService(f).UpdateUser(as(caller), bobID, tc.values)
			if got := kindName(err); got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
			if err != nil {
				if len(f.patches) != 0 {
					t.Error("an invalid patch reached the store")
				}
				return
			}
			tc.check(t, f.patches[0])
		})
	}

	// If-Match rides along in the same statement.
	f := newFakeStore()
	ctx := directory.WithIfMatch(as(app(directory.PermUserReadWriteAll)), 3)
	if _, err := newService(f).UpdateUser(ctx, "jane@contoso.com", map[string]any{"city": str("Rome")}); err != nil {
		t.Fatal(err)
	}
	if p := f.patches[0]; p.IfVersion != 3 || p.Guard != nil {
		t.Errorf("IfVersion %d guard %v", p.IfVersion, p.Guard)
	}
}

// ----- step-up

func TestServiceStepUp(t *testing.T) {
	tests := []struct {
		name       string
		caller     *directory.Principal
		key        string // "" for /me
		values     map[string]any
		want       string
		wantClaims bool
		wantDetail string
	}{
		{"step-up property without MFA", user(janeID, directory.PermUserReadWrite), "",
			map[string]any{"mobilePhone": str("+47 555 0100")}, "unauthenticated", true, ""},
		{"step-up property with the acrs", &directory.Principal{Kind: directory.PrincipalUser, TenantID: tenantID, UserID: janeID,
			Permissions: []string{directory.PermUserReadWrite}, ACRS: []string{"c1"}}, "",
			map[string]any{"mobilePhone": str("+47 555 0100")}, "ok", false, "acrs:c1"},
		{"step-up property with amr mfa, by own id", &directory.Principal{Kind: directory.PrincipalUser, TenantID: tenantID, UserID: janeID,
			Permissions: []string{directory.PermUserReadWrite}, AMR: []string{"pwd", "mfa"}}, janeID,
			map[string]any{"mobilePhone": str("+47 555 0100")}, "ok", false, "amr:mfa"},
		{"step-up property for another user: a plain 403, no challenge", user(janeID, directory.PermUserReadWrite), bobID,
			map[string]any{"mobilePhone": str("+47 555 0100")}, "forbidden", false, ""},
		{"ordinary self-service property needs no MFA", user(janeID, directory.PermUserReadWrite), "",
			map[string]any{"city": str("Bergen")}, "ok", false, ""},
		{"the wrong acrs is no step-up", &directory.Principal{Kind: directory.PrincipalUser, TenantID: tenantID, UserID: janeID,
			Permissions: []string{directory.PermUserReadWrite}, ACRS: []string{"c2"}}, "",
			map[string]any{"otherMails": []string{"j@example.com"}}, "unauthenticated", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			s := newService(f)
			var err error
			if tc.key == "" {
				_, err = s.UpdateMe(as(tc.caller), tc.values)
			} else {
				_, err = s.UpdateUser(as(tc.caller), tc.key, tc.values)
			}
			if got := kindName(err); got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
			if claims := err != nil && directory.AsError(err).Claims != ""; claims != tc.wantClaims {
				t.Errorf("claims challenge %v, want %v", claims, tc.wantClaims)
			}
			if len(f.events) != 1 {
				t.Fatalf("%d audit events", len(f.events))
			}
			detail := ""
			for _, d := range f.events[0].AdditionalDetails {
				if d.Key == "stepUp" {
					detail = d.Value
				}
			}
			if detail != tc.wantDetail {
				t.Errorf("stepUp detail %q, want %q", detail, tc.wantDetail)
			}
		})
	}
}

// ----- audit events

func TestServiceAuditEvents(t *testing.T) {
	tests := []struct {
		name   string
		caller *directory.Principal
		call   func(context.Context, *directory.Service) error
		check  func(t *testing.T, ev *directory.AuditEvent)
	}{
		{"successful update, stored with the write", app(directory.PermUserReadWriteAll),
			updateUser("bob@contoso.com", map[string]any{"jobTitle": str("CEO"), "city": str("Rome"), "mobilePhone": str("+1")}),
			func(t *testing.T, ev *directory.AuditEvent) {
				want(t, ev, directory.ActivityUpdateUser, directory.AuditSuccess, "")
				tg := ev.Targets[0]
				if tg.ID != bobID || tg.UserPrincipalName != "bob@contoso.com" || tg.Type != "User" {
					t.Errorf("target %+v", tg)
				}
				var names []string
				for _, m := range tg.ModifiedProperties {
					names = append(names, m.DisplayName)
				}
				if !slices.Equal(names, []string{"city", "jobTitle", "mobilePhone"}) {
					t.Errorf("modified %v", names)
				}
				if ev.InitiatedBy.AppID != appID || ev.InitiatedBy.UserID != "" || ev.CorrelationID != "req-1" || ev.TenantID != tenantID {
					t.Errorf("initiator %+v correlation %s", ev.InitiatedBy, ev.CorrelationID)
				}
				if !ev.ActivityDateTime.Equal(fixedNow) {
					t.Errorf("time %v", ev.ActivityDateTime)
				}
				if !slices.Equal(ev.ValueProperties(), []string{"city", "jobTitle"}) {
					t.Errorf("value properties %v: a sensitive value would be shown", ev.ValueProperties())
				}
			}},
		{"failed validation", app(directory.PermUserReadWriteAll),
			updateUser(bobID, map[string]any{"displayName": (*string)(nil)}),
			func(t *testing.T, ev *directory.AuditEvent) {
				want(t, ev, directory.ActivityUpdateUser, directory.AuditFailure, "Request_BadRequest")
				if ev.Targets[0].ID != bobID {
					t.Errorf("target %+v", ev.Targets[0])
				}
			}},
		{"denied customer", user(janeID, directory.PermUserReadWrite),
			updateUser(bobID, map[string]any{"city": str("Rome")}),
			func(t *testing.T, ev *directory.AuditEvent) {
				want(t, ev, directory.ActivityUpdateUser, directory.AuditFailure, "Authorization_RequestDenied")
				if ev.InitiatedBy.UserID != janeID || ev.InitiatedBy.AppID != appID {
					t.Errorf("initiator %+v", ev.InitiatedBy)
				}
			}},
		{"step-up challenge", user(janeID, directory.PermUserReadWrite),
			updateMe(map[string]any{"mobilePhone": str("+1")}),
			func(t *testing.T, ev *directory.AuditEvent) {
				want(t, ev, directory.ActivityUpdateUser, directory.AuditFailure, "insufficient_claims")
				if ev.Targets[0].ID != janeID {
					t.Errorf("/me target %+v", ev.Targets[0])
				}
			}},
		{"create names the new user", app(directory.PermUserReadWriteAll),
			createUser(workforce("created@contoso.com")),
			func(t *testing.T, ev *directory.AuditEvent) {
				want(t, ev, directory.ActivityAddUser, directory.AuditSuccess, "")
				if !directory.IsGUID(ev.Targets[0].ID) || ev.Targets[0].UserPrincipalName != "created@contoso.com" {
					t.Errorf("target %+v", ev.Targets[0])
				}
				for _, m := range ev.Targets[0].ModifiedProperties {
					if m.DisplayName == "passwordProfile" && (m.OldValue != nil || m.NewValue != nil) {
						t.Error("a password value is in the audit event")
					}
				}
			}},
		{"delete of a user that does not exist", app(directory.PermUserReadWriteAll),
			deleteUser("ghost@contoso.com"),
			func(t *testing.T, ev *directory.AuditEvent) {
				want(t, ev, directory.ActivityDeleteUser, directory.AuditFailure, "Request_ResourceNotFound")
				if ev.Targets[0].UserPrincipalName != "ghost@contoso.com" || ev.Targets[0].ID != "" {
					t.Errorf("target %+v", ev.Targets[0])
				}
			}},
		{"hostile key: NUL and invalid UTF-8 escaped, 100 KB cut", app(directory.PermUserReadWriteAll),
			deleteUser("a\x00b\xff" + strings.Repeat("k", 100<<10)),
			func(t *testing.T, ev *directory.AuditEvent) {
				want(t, ev, directory.ActivityDeleteUser, directory.AuditFailure, "Request_ResourceNotFound")
				upn := ev.Targets[0].UserPrincipalName
				if !strings.HasPrefix(upn, `a\x00b\xff`) || len(upn) > directory.MaxAuditString || !utf8.ValidString(upn) {
					t.Errorf("stored key %.40q (%d bytes)", upn, len(upn))
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			err := tc.call(as(tc.caller), newService(f))
			if len(f.events) != 1 {
				t.Fatalf("%d events (err %v)", len(f.events), err)
			}
			if err != nil && !directory.Audited(err) {
				t.Errorf("the error of a recorded failure is not marked Audited: %v", err)
			}
			tc.check(t, f.events[0])
		})
	}
}

func want(t *testing.T, ev *directory.AuditEvent, act directory.Activity, result, reason string) {
	t.Helper()
	if ev.Activity != act || ev.Result != result || ev.ResultReason != reason {
		t.Errorf("event %s %s %q, want %s %s %q", ev.Activity.DisplayName, ev.Result, ev.ResultReason, act.DisplayName, result, reason)
	}
	if !directory.IsGUID(ev.ID) {
		t.Errorf("event id %q", ev.ID)
	}
	if result == directory.AuditFailure {
		for _, m := range ev.Targets[0].ModifiedProperties {
			if m.OldValue != nil || m.NewValue != nil {
				t.Errorf("a failure shows values of %s", m.DisplayName)
			}
		}
	}
}

// A failure the store reports after the event was begun is recorded once,
// by End, and a store error is a failure too.
func TestServiceAuditStoreFailure(t *testing.T) {
	f := newFakeStore()
	f.writeErr = &directory.Error{Kind: directory.KindConflict, Message: "taken"}
	_, err := newService(f).UpdateUser(as(app(directory.PermUserReadWriteAll)), bobID, map[string]any{"city": str("Rome")})
	if directory.KindOf(err) != directory.KindConflict || !directory.Audited(err) {
		t.Fatalf("err %v", err)
	}
	if len(f.events) != 1 {
		t.Fatalf("%d events", len(f.events))
	}
	want(t, f.events[0], directory.ActivityUpdateUser, directory.AuditFailure, "Request_BadRequest")
	if f.events[0].Targets[0].ID != bobID {
		t.Errorf("target %+v", f.events[0].Targets[0])
	}
}

// The edge's refusals: RecordRefused records errors the domain has not,
// RecordDenied only denials, and neither records an Audited error again.
func TestServiceRecordRefused(t *testing.T) {
	bad := directory.Errorf(directory.KindBadRequest, "The request body is not valid UTF-8.")
	denied := directory.ErrInsufficientPrivileges(directory.PermUserReadWriteAll)
	tests := []struct {
		name   string
		record func(context.Context, *directory.Service)
		events int
		reason string
	}{
		{"refused body", func(ctx context.Context, s *directory.Service) {
			s.RecordRefused(ctx, directory.ActivityUpdateUser, "bob@contoso.com", bad)
		}, 1, "BadRequest"},
		{"denied by the edge", func(ctx context.Context, s *directory.Service) {
			s.RecordDenied(ctx, directory.ActivityDeleteUser, bobID, denied)
		}, 1, "Authorization_RequestDenied"},
		{"RecordDenied ignores a malformed request", func(ctx context.Context, s *directory.Service) {
			s.RecordDenied(ctx, directory.ActivityDeleteUser, bobID, bad)
		}, 0, ""},
		{"an error the domain recorded is not recorded again", func(ctx context.Context, s *directory.Service) {
			_, err := s.UpdateUser(ctx, bobID, map[string]any{"displayName": (*string)(nil)})
			s.RecordRefused(ctx, directory.ActivityUpdateUser, bobID, err)
		}, 1, "Request_BadRequest"},
		{"no error, nothing to record", func(ctx context.Context, s *directory.Service) {
			s.RecordRefused(ctx, directory.ActivityUpdateUser, bobID, nil)
		}, 0, ""},
		{"application target", func(ctx context.Context, s *directory.Service) {
			s.RecordRefused(ctx, directory.ActivityDeleteApplication, "not-a-guid\x00", bad)
		}, 1, "BadRequest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeStore()
			tc.record(as(app(directory.PermUserReadWriteAll)), newService(f))
			if len(f.events) != tc.events {
				t.Fatalf("%d events, want %d", len(f.events), tc.events)
			}
			if tc.events == 1 && (f.events[0].Result != directory.AuditFailure || f.events[0].ResultReason != tc.reason) {
				t.Errorf("event %s %q", f.events[0].Result, f.events[0].ResultReason)
			}
			if tc.events == 1 && strings.ContainsRune(f.events[0].Targets[0].ID, 0) {
				t.Errorf("a NUL is stored in target %q", f.events[0].Targets[0].ID)
			}
		})
	}
}

// Role assignment writes by the operator (the CLI) are audited with the
// command line as initiator, in the tenant they change.
func TestServiceOperatorWritesAreAudited(t *testing.T) {
	f := newFakeStore()
	s := newService(f)
	err := s.RemoveRole(context.Background(), tenantID, "0d9f3b1e-0000-4000-8000-0000000000aa")
	if directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("err %v", err)
	}
	if _, err := s.AssignRole(context.Background(), tenantID, bobID, directory.RoleHelpdeskAdministrator); err != nil {
		t.Fatal(err)
	}
	if len(f.events) != 2 {
		t.Fatalf("%d events", len(f.events))
	}
	for i, wantAct := range []directory.Activity{directory.ActivityRemoveRoleMember, directory.ActivityAddRoleMember} {
		ev := f.events[i]
		if ev.Activity != wantAct || ev.TenantID != tenantID || ev.InitiatedBy.AppID != directory.OperatorAppID ||
			ev.InitiatedBy.DisplayName != directory.OperatorDisplayName || ev.InitiatedBy.UserID != "" {
			t.Errorf("event %d: %s by %+v in %s", i, ev.Activity.DisplayName, ev.InitiatedBy, ev.TenantID)
		}
	}
	if f.events[0].Result != directory.AuditFailure || f.events[1].Result != directory.AuditSuccess {
		t.Errorf("results %s %s", f.events[0].Result, f.events[1].Result)
	}

	// tenant create: a taken domain is refused, and so is a bad one; both
	// attempts are recorded, like the success.
	if _, err := s.CreateTenant(context.Background(), "", []string{"contoso.com"}); directory.KindOf(err) != directory.KindConflict {
		t.Errorf("taken domain: %v", err)
	}
	if _, err := s.CreateTenant(context.Background(), "", []string{"not a domain"}); directory.KindOf(err) != directory.KindInvalid {
		t.Errorf("bad domain: %v", err)
	}
	tn, err := s.CreateTenant(context.Background(), "", []string{"fabrikam.com", "fabrikam.net"})
	if err != nil {
		t.Fatal(err)
	}
	if tn.DisplayName != "fabrikam.com" || tn.DefaultDomain != "fabrikam.com" || !directory.IsGUID(tn.ID) {
		t.Errorf("tenant %+v", tn)
	}
	if len(f.events) != 5 {
		t.Fatalf("%d events", len(f.events))
	}
	// All three in the default tenant's trail, the new tenant as target.
	for i, result := range []string{directory.AuditFailure, directory.AuditFailure, directory.AuditSuccess} {
		ev := f.events[2+i]
		if ev.Activity != directory.ActivityAddTenant || ev.TenantID != tenantID || ev.Result != result {
			t.Errorf("tenant event %d: %s in %s: %s", i, ev.Activity.DisplayName, ev.TenantID, ev.Result)
		}
	}
	if tg := f.events[4].Targets[0]; tg.ID != tn.ID || tg.DisplayName != "fabrikam.com" {
		t.Errorf("tenant event target %+v", tg)
	}
}

func (f *fakeStore) DeleteRoleAssignment(_ context.Context, _, id string, _ *directory.AuditEvent) error {
	return directory.Errorf(directory.KindNotFound, "no assignment %s", id)
}

func (f *fakeStore) CreateRoleAssignment(_ context.Context, a *directory.RoleAssignment, _ *directory.AuditEvent) error {
	if f.users[a.PrincipalID] == nil {
		return directory.ErrNotFoundUser(a.PrincipalID)
	}
	a.ID = "0d9f3b1e-0000-4000-8000-0000000000bb"
	return nil
}

func (f *fakeStore) TenantByDomain(_ context.Context, d string) (string, error) {
	if f.tenant.HasDomain(d) {
		return f.tenant.ID, nil
	}
	return "", directory.Errorf(directory.KindNotFound, "no tenant has %s", d)
}

func (f *fakeStore) DefaultTenant(context.Context) (*directory.Tenant, error) {
	t := f.tenant
	return &t, nil
}

func (f *fakeStore) EnsureTenant(_ context.Context, t directory.Tenant) (*directory.Tenant, error) {
	return &t, nil
}

// TestTenantCacheIsBounded: a domain added to the tenant elsewhere (another
// instance, the CLI) is accepted here once the tenant cache's minute is
// over, not only after a restart.
func TestTenantCacheIsBounded(t *testing.T) {
	f := newFakeStore()
	now := fixedNow
	svc := directory.NewService(f, directory.WithClock(func() time.Time { return now }))
	caller := as(app(directory.PermUserReadWriteAll))
	patch := map[string]any{"userPrincipalName": str("bob@fabrikam.com")}
	if _, err := svc.UpdateUser(caller, bobID, patch); kindName(err) != "invalid" {
		t.Fatalf("unverified domain: %v", err)
	}
	f.mu.Lock()
	f.tenant.Domains = append(f.tenant.Domains, "fabrikam.com")
	f.mu.Unlock()
	now = now.Add(59 * time.Second)
	if _, err := svc.UpdateUser(caller, bobID, patch); kindName(err) != "invalid" {
		t.Fatalf("within the cache's minute: %v, want the cached domains", err)
	}
	now = now.Add(time.Second)
	if _, err := svc.UpdateUser(caller, bobID, patch); err != nil {
		t.Fatalf("after the cache's minute: %v", err)
	}
}
