package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func ptr[T any](v T) *T { return &v }

// newTenant returns a store on a fresh database with one tenant.
func newTenant(t *testing.T) (*postgres.Store, *directory.Tenant) {
	t.Helper()
	s := pgtest.NewStore(t)
	return s, mustTenant(t, s, "contoso.onmicrosoft.com")
}

func mustTenant(t *testing.T, s *postgres.Store, domain string) *directory.Tenant {
	t.Helper()
	tn, err := s.EnsureTenant(context.Background(), directory.Tenant{ID: uuid.NewString(), DisplayName: "T " + domain, DefaultDomain: domain})
	if err != nil {
		t.Fatalf("EnsureTenant: %v", err)
	}
	return tn
}

func newUser(tenantID, upn string, ids ...directory.Identity) *directory.User {
	return &directory.User{
		TenantID:          tenantID,
		ID:                uuid.NewString(),
		DisplayName:       ptr("User " + upn),
		UserPrincipalName: ptr(upn),
		AccountEnabled:    ptr(true),
		Identities:        ids,
	}
}

func mustCreate(t *testing.T, s *postgres.Store, u *directory.User) {
	t.Helper()
	if err := s.CreateUser(context.Background(), u, nil); err != nil {
		t.Fatalf("CreateUser(%s): %v", *u.UserPrincipalName, err)
	}
}

func wantKind(t *testing.T, err error, kind directory.Kind, target string) {
	t.Helper()
	if err == nil {
		t.Fatalf("error = nil, want kind %v", kind)
	}
	e := directory.AsError(err)
	if e.Kind != kind || e.Target != target {
		t.Fatalf("error = %v (kind %v, target %q), want kind %v target %q", err, e.Kind, e.Target, kind, target)
	}
	for _, leak := range []string{"duplicate key", "violates", "users_", "user_identities", "SELECT", "INSERT", "UPDATE", "pq:"} {
		if strings.Contains(e.Message, leak) {
			t.Errorf("client message %q leaks %q", e.Message, leak)
		}
	}
}

// counts returns the number of users and identities in the database.
func counts(t *testing.T, db *sqlx.DB) [2]int {
	t.Helper()
	var c [2]int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM user_identities)`).Scan(&c[0], &c[1]); err != nil {
		t.Fatal(err)
	}
	return c
}

// fullUser sets every writable property.
func fullUser(tenantID string) *directory.User {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
	changed := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	return &directory.User{
		ID:                      uuid.NewString(),
		TenantID:                tenantID,
		AccountEnabled:          ptr(false),
		AgeGroup:                ptr("Adult"),
		BusinessPhones:          []string{"+1 425 555 0109"},
		City:                    ptr("Redmond"),
		CompanyName:             ptr("Contoso"),
		ConsentProvidedForMinor: ptr("NotRequired"),
		Country:                 ptr("US"),
		CreatedDateTime:         &created,
		CreationType:            ptr("LocalAccount"),
		Department:              ptr("Retail"),
		DisplayName:             ptr("Adele Vance"),
		EmployeeID:              ptr("E42"),
		EmployeeType:            ptr("Employee"),
		FaxNumber:               ptr("+1 425 555 0100"),
		GivenName:               ptr("Adele"),
		Identities: []directory.Identity{
			{SignInType: "emailAddress", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "AdeleV@adatum.com"},
			{SignInType: "federated", Issuer: "facebook.com", IssuerAssignedID: "5eecb0cd"},
			{SignInType: "userPrincipalName", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "AdeleV@contoso.onmicrosoft.com"},
		},
		JobTitle:          ptr("Retail Manager"),
		Mail:              ptr("AdeleV@contoso.com"),
		MailNickname:      ptr("AdeleV"),
		MobilePhone:       ptr("+1 425 555 0109"),
		OfficeLocation:    ptr("18/2111"),
		OtherMails:        []string{"adele@example.com", "a.vance@example.org"},
		PasswordPolicies:  ptr("DisablePasswordExpiration, DisableStrongPassword"),
		PostalCode:        ptr("98052"),
		PreferredLanguage: ptr("en-US"),
		ProxyAddresses:    []string{"SMTP:AdeleV@contoso.com", "smtp:adele@contoso.net"},
		State:             ptr("WA"),
		StreetAddress:     ptr("One Microsoft Way"),
		Surname:           ptr("Vance"),
		UsageLocation:     ptr("US"),
		UserPrincipalName: ptr("AdeleV@contoso.onmicrosoft.com"),
		UserType:          ptr("Member"),

		LastPasswordChangeDateTime: &changed,
		Password: directory.PasswordState{
			Hash:                                 "$argon2id$v=19$m=65536,t=1,p=4$c2FsdA$aGFzaA",
			ForceChangePasswordNextSignIn:        true,
			ForceChangePasswordNextSignInWithMfa: true,
		},
	}
}

func TestStore_CreateUser_RoundTripsEveryProperty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	want := fullUser(tn.ID)
	mustCreate(t, s, want)

	for _, key := range []directory.UserKey{
		{ID: want.ID},
		{ID: strings.ToUpper(want.ID)},
		{UPN: "AdeleV@contoso.onmicrosoft.com"},
		{UPN: "adelev@CONTOSO.onmicrosoft.com"},
	} {
		// The password state is read only when asked for.
		got, err := s.GetUserWithPassword(ctx, tn.ID, key)
		if err != nil {
			t.Fatalf("GetUserWithPassword(%v): %v", key, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GetUserWithPassword(%v) =\n%+v\nwant\n%+v", key, got, want)
		}
		got, err = s.GetUser(ctx, tn.ID, key)
		if err != nil {
			t.Fatalf("GetUser(%v): %v", key, err)
		}
		noPassword := *want
		noPassword.Password = directory.PasswordState{}
		if !reflect.DeepEqual(got, &noPassword) {
			t.Errorf("GetUser(%v) =\n%+v\nwant\n%+v", key, got, &noPassword)
		}
	}

	// Every Graph property is writable through the store or handled by it.
	cols := postgres.PatchColumns()
	handled := map[string]bool{"id": true, "createdDateTime": true, "lastPasswordChangeDateTime": true, "identities": true, "passwordProfile": true,
		"deletedDateTime": true, "signInSessionsValidFromDateTime": true,
		"signInActivity": true} // signInActivity: RecordSignIn (signins.go)
	for _, p := range directory.UserProperties() {
		if _, ok := cols[p.Name]; !ok && !handled[p.Name] {
			t.Errorf("property %s has no column", p.Name)
		}
	}
	var n int
	for prop, col := range cols {
		if err := s.DB().QueryRow(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = $1`, col).Scan(&n); err != nil || n != 1 {
			t.Errorf("property %s: column %s missing (%v)", prop, col, err)
		}
		if _, ok := directory.LookupProperty(prop); !ok {
			t.Errorf("column map names unknown property %s", prop)
		}
	}
}

func TestStore_CreateUser_Defaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	u := &directory.User{TenantID: tn.ID, UserPrincipalName: ptr("min@contoso.onmicrosoft.com")}
	before := time.Now().Add(-time.Minute)
	mustCreate(t, s, u)
	if !directory.IsGUID(u.ID) {
		t.Errorf("generated id %q", u.ID)
	}
	if u.CreatedDateTime == nil || u.CreatedDateTime.Before(before) {
		t.Errorf("CreatedDateTime = %v", u.CreatedDateTime)
	}
	got, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got.BusinessPhones == nil || got.OtherMails == nil || got.ProxyAddresses == nil || got.Identities == nil {
		t.Errorf("collections must read as empty, not nil: %+v", got)
	}
	if got.DisplayName != nil || got.AccountEnabled != nil || got.LastPasswordChangeDateTime != nil || got.Password.Hash != "" {
		t.Errorf("unset properties must read as null: %+v", got)
	}
	if !got.CreatedDateTime.Equal(*u.CreatedDateTime) {
		t.Errorf("CreatedDateTime %v, returned %v", got.CreatedDateTime, u.CreatedDateTime)
	}

	// A password without a change time is stamped now.
	pw := &directory.User{TenantID: tn.ID, UserPrincipalName: ptr("pw@contoso.onmicrosoft.com"), Password: directory.PasswordState{Hash: "h"}}
	mustCreate(t, s, pw)
	if pw.LastPasswordChangeDateTime == nil {
		t.Error("LastPasswordChangeDateTime not set for a password user")
	}

	// A missing userPrincipalName is the caller's mistake, named.
	err = s.CreateUser(ctx, &directory.User{TenantID: tn.ID}, nil)
	wantKind(t, err, directory.KindInvalid, "userPrincipalName")
}

func TestStore_CreateUser_Conflicts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	mustCreate(t, s, newUser(tn.ID, "Adele@contoso.onmicrosoft.com",
		directory.Identity{SignInType: "emailAddress", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "adele@adatum.com"}))
	before := counts(t, s.DB())

	tests := []struct {
		name   string
		user   *directory.User
		target string
	}{
		{"UPNOtherCase", newUser(tn.ID, "ADELE@Contoso.onmicrosoft.com"), "userPrincipalName"},
		{"IdentityOtherCase", newUser(tn.ID, "other@contoso.onmicrosoft.com",
			directory.Identity{SignInType: "federated", Issuer: "google.com", IssuerAssignedID: "g1"},
			directory.Identity{SignInType: "emailAddress", Issuer: "CONTOSO.onmicrosoft.com", IssuerAssignedID: "Adele@Adatum.com"}), "identities"},
		{"IdentityTwiceInRequest", newUser(tn.ID, "twice@contoso.onmicrosoft.com",
			directory.Identity{SignInType: "federated", Issuer: "google.com", IssuerAssignedID: "abc"},
			directory.Identity{SignInType: "federated", Issuer: "Google.com", IssuerAssignedID: "ABC"}), "identities"},
		// Identities are inserted after the user row: the row must not survive.
		{"IdentityAfterUserRow", newUser(tn.ID, "late@contoso.onmicrosoft.com",
			directory.Identity{SignInType: "emailAddress", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "ADELE@adatum.com"}), "identities"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.CreateUser(ctx, tc.user, nil)
			wantKind(t, err, directory.KindConflict, tc.target)
			if d := directory.AsError(err).Details; len(d) != 1 || d[0].Code != "ObjectConflict" || d[0].Target != tc.target {
				t.Errorf("details = %+v", d)
			}
			if after := counts(t, s.DB()); after != before {
				t.Errorf("rows (users, identities) = %v after failed create, want %v", after, before)
			}
		})
	}

	// The same id twice is a conflict too (the service generates ids; this guards a bug).
	u := newUser(tn.ID, "dup-id@contoso.onmicrosoft.com")
	mustCreate(t, s, u)
	v := newUser(tn.ID, "dup-id2@contoso.onmicrosoft.com")
	v.ID = u.ID
	wantKind(t, s.CreateUser(ctx, v, nil), directory.KindConflict, "id")
}

func TestStore_UpdateUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	u := fullUser(tn.ID)
	mustCreate(t, s, u)
	version := func() (v int64) {
		t.Helper()
		if err := s.DB().QueryRow(`SELECT version FROM users WHERE id = $1`, u.ID).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v0 := version()

	changed := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	newIDs := []directory.Identity{
		{SignInType: "userName", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "adele"},
		{SignInType: "federated", Issuer: "facebook.com", IssuerAssignedID: "5EECB0CD"}, // its own old identity in other case
	}
	got, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{UPN: "ADELEV@contoso.onmicrosoft.com"}, directory.UserPatch{
		Values: map[string]any{
			"displayName":       ptr("Adele V."),
			"jobTitle":          (*string)(nil), // clears
			"accountEnabled":    ptr(true),
			"businessPhones":    []string{},
			"otherMails":        []string{"new@example.com"},
			"proxyAddresses":    []string(nil),
			"userPrincipalName": ptr("adele.vance@contoso.onmicrosoft.com"),
			"identities":        newIDs,
		},
		Password:          &directory.PasswordState{Hash: "new-hash", ForceChangePasswordNextSignIn: false, ForceChangePasswordNextSignInWithMfa: true},
		PasswordChangedAt: changed,
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	want := *u
	want.DisplayName = ptr("Adele V.")
	want.JobTitle = nil
	want.AccountEnabled = ptr(true)
	want.BusinessPhones = []string{}
	want.OtherMails = []string{"new@example.com"}
	want.ProxyAddresses = []string{}
	want.UserPrincipalName = ptr("adele.vance@contoso.onmicrosoft.com")
	want.Identities = newIDs
	want.Password = directory.PasswordState{Hash: "new-hash", ForceChangePasswordNextSignInWithMfa: true}
	want.LastPasswordChangeDateTime = &changed
	want.Version = u.Version + 1
	// A new password ends the user's sign-in sessions (00017): the
	// boundary is now, in whole seconds.
	if from := got.SignInSessionsValidFromDateTime; from == nil || time.Since(*from) > time.Minute || from.Nanosecond() != 0 {
		t.Errorf("signInSessionsValidFromDateTime after a password change = %v", from)
	} else {
		want.SignInSessionsValidFromDateTime = from
	}
	if !reflect.DeepEqual(got, &want) {
		t.Errorf("UpdateUser returned\n%+v\nwant\n%+v", got, &want)
	}
	reread, err := s.GetUserWithPassword(ctx, tn.ID, directory.UserKey{ID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reread, &want) {
		t.Errorf("GetUserWithPassword after update\n%+v\nwant\n%+v", reread, &want)
	}
	if v := version(); v != v0+1 {
		t.Errorf("version = %d, want %d", v, v0+1)
	}
	if c := counts(t, s.DB()); c != [2]int{1, 2} {
		t.Errorf("rows = %v, want [1 2] (identities replaced, not added)", c)
	}

	// A password change without a time is stamped now; an update without a password keeps it.
	got, err = s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Password: &directory.PasswordState{Hash: "h3"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.LastPasswordChangeDateTime.Equal(changed) || got.Password.Hash != "h3" {
		t.Errorf("password not replaced: %+v at %v", got.Password, got.LastPasswordChangeDateTime)
	}
	got, err = s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: u.ID}, directory.UserPatch{Values: map[string]any{"city": ptr("Oslo")}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Password.Hash != "h3" || *got.City != "Oslo" || len(got.Identities) != 2 {
		t.Errorf("unpatched state changed: %+v", got)
	}
}

func TestStore_UpdateUser_Errors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	a := newUser(tn.ID, "a@contoso.onmicrosoft.com", directory.Identity{SignInType: "userName", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "alpha"})
	b := newUser(tn.ID, "b@contoso.onmicrosoft.com", directory.Identity{SignInType: "userName", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: "beta"})
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	bBefore, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: b.ID})
	if err != nil {
		t.Fatal(err)
	}
	before := counts(t, s.DB())

	tests := []struct {
		name   string
		key    directory.UserKey
		patch  map[string]any
		kind   directory.Kind
		target string
	}{
		{"UPNTakenOtherCase", directory.UserKey{ID: b.ID}, map[string]any{"displayName": ptr("changed"), "userPrincipalName": ptr("A@CONTOSO.onmicrosoft.com")}, directory.KindConflict, "userPrincipalName"},
		// The row update succeeds before the identities fail: all must roll back.
		{"IdentityTaken", directory.UserKey{ID: b.ID}, map[string]any{"displayName": ptr("changed"), "identities": []directory.Identity{{SignInType: "userName", Issuer: "Contoso.onmicrosoft.com", IssuerAssignedID: "ALPHA"}}}, directory.KindConflict, "identities"},
		{"IdentityTwice", directory.UserKey{ID: b.ID}, map[string]any{"identities": []directory.Identity{{Issuer: "x", IssuerAssignedID: "y"}, {Issuer: "X", IssuerAssignedID: "Y"}}}, directory.KindConflict, "identities"},
		{"UPNNull", directory.UserKey{ID: b.ID}, map[string]any{"displayName": ptr("changed"), "userPrincipalName": (*string)(nil)}, directory.KindInvalid, "userPrincipalName"},
		{"UnknownProperty", directory.UserKey{ID: b.ID}, map[string]any{"displayName": ptr("changed"), "display_name = 'x' --": ptr("x")}, directory.KindInternal, ""},
		{"ReadOnlyProperty", directory.UserKey{ID: b.ID}, map[string]any{"createdDateTime": ptr(time.Now())}, directory.KindInternal, ""},
		{"WrongValueType", directory.UserKey{ID: b.ID}, map[string]any{"displayName": 42}, directory.KindInternal, ""},
		{"NotFoundID", directory.UserKey{ID: uuid.NewString()}, map[string]any{"displayName": ptr("x")}, directory.KindNotFound, ""},
		{"NotFoundUPN", directory.UserKey{UPN: "nobody@contoso.onmicrosoft.com"}, map[string]any{"displayName": ptr("x")}, directory.KindNotFound, ""},
		{"MalformedID", directory.UserKey{ID: "not-a-guid"}, map[string]any{"displayName": ptr("x")}, directory.KindNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.UpdateUser(ctx, tn.ID, tc.key, directory.UserPatch{Values: tc.patch})
			wantKind(t, err, tc.kind, tc.target)
			got, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: b.ID})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, bBefore) {
				t.Errorf("user changed by a failed update:\n%+v\nwas\n%+v", got, bBefore)
			}
			if after := counts(t, s.DB()); after != before {
				t.Errorf("rows = %v, want %v", after, before)
			}
		})
	}
}

func TestStore_DeleteUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	u := fullUser(tn.ID)
	mustCreate(t, s, u)
	keep := newUser(tn.ID, "keep@contoso.onmicrosoft.com")
	mustCreate(t, s, keep)

	if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{UPN: "ADELEV@contoso.onmicrosoft.com"}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	// A soft delete (deleted.go): the row stays in deleted items.
	if c := counts(t, s.DB()); c != [2]int{2, 3} {
		t.Errorf("rows = %v, want [2 3]", c)
	}
	_, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: u.ID})
	wantKind(t, err, directory.KindNotFound, "")
	wantKind(t, s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: u.ID}), directory.KindNotFound, "")
	wantKind(t, s.DeleteUser(ctx, tn.ID, directory.UserKey{}), directory.KindNotFound, "")

	// The UPN and identities are free again.
	mustCreate(t, s, fullUser(tn.ID))
}

func TestStore_ListUsers_KeysetPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	mustCreate(t, s, newUser(other.ID, "foreign@fabrikam.onmicrosoft.com"))

	const n = 23
	want := map[string]bool{}
	for i := range n {
		u := newUser(tn.ID, fmt.Sprintf("u%02d@contoso.onmicrosoft.com", i),
			directory.Identity{SignInType: "userName", Issuer: "contoso.onmicrosoft.com", IssuerAssignedID: fmt.Sprintf("u%02d", i)})
		mustCreate(t, s, u)
		want[u.ID] = true
	}
	for _, top := range []int{1, 5, 23, 999} {
		seen := map[string]bool{}
		var last string
		q := directory.ListQuery{Top: top}
		for pages := 0; ; pages++ {
			if pages > n+1 {
				t.Fatalf("top %d: paging does not end", top)
			}
			page, err := s.ListUsers(ctx, tn.ID, q)
			if err != nil {
				t.Fatalf("ListUsers(%+v): %v", q, err)
			}
			if len(page.Users) > top {
				t.Fatalf("top %d: page of %d", top, len(page.Users))
			}
			for _, u := range page.Users {
				if seen[u.ID] || !want[u.ID] || u.ID <= last {
					t.Fatalf("top %d: unexpected, repeated or unordered user %s", top, u.ID)
				}
				if len(u.Identities) != 1 || u.TenantID != tn.ID {
					t.Fatalf("top %d: user %s without its identities or tenant: %+v", top, u.ID, u)
				}
				seen[u.ID], last = true, u.ID
			}
			if page.Next == nil {
				break
			}
			if page.Next.ID != last || len(page.Next.Keys) != 0 {
				t.Fatalf("Next %+v, last id %s", page.Next, last)
			}
			q.After = page.Next
		}
		if len(seen) != n {
			t.Errorf("top %d: saw %d users, want %d", top, len(seen), n)
		}
		last = ""
	}

	_, err := s.ListUsers(ctx, tn.ID, directory.ListQuery{Top: 10, After: &directory.Cursor{ID: "x' OR 1=1 --"}})
	wantKind(t, err, directory.KindInvalid, "$skiptoken")
	page, err := s.ListUsers(ctx, uuid.NewString(), directory.ListQuery{Top: 10})
	if err != nil || len(page.Users) != 0 || page.Next != nil {
		t.Errorf("empty tenant: %+v, %v", page, err)
	}
}

func TestStore_TenantIsolation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, a := newTenant(t)
	b := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	id := directory.Identity{SignInType: "federated", Issuer: "google.com", IssuerAssignedID: "same"}
	ua := newUser(a.ID, "same@example.com", id)
	mustCreate(t, s, ua)
	// The same UPN and identity are fine in another tenant.
	ub := newUser(b.ID, "same@example.com", id)
	mustCreate(t, s, ub)

	for _, key := range []directory.UserKey{{ID: ua.ID}} {
		_, err := s.GetUser(ctx, b.ID, key)
		wantKind(t, err, directory.KindNotFound, "")
		_, err = s.UpdateUser(ctx, b.ID, key, directory.UserPatch{Values: map[string]any{"displayName": ptr("hijacked")}})
		wantKind(t, err, directory.KindNotFound, "")
		wantKind(t, s.DeleteUser(ctx, b.ID, key), directory.KindNotFound, "")
	}
	got, err := s.GetUser(ctx, b.ID, directory.UserKey{UPN: "SAME@example.com"})
	if err != nil || got.ID != ub.ID {
		t.Fatalf("GetUser by UPN in B = %+v, %v; want B's user", got, err)
	}
	got, err = s.GetUser(ctx, a.ID, directory.UserKey{ID: ua.ID})
	if err != nil || *got.DisplayName != *ua.DisplayName {
		t.Fatalf("A's user changed: %+v, %v", got, err)
	}
	page, err := s.ListUsers(ctx, b.ID, directory.ListQuery{Top: 10})
	if err != nil || len(page.Users) != 1 || page.Users[0].ID != ub.ID {
		t.Fatalf("ListUsers(B) = %+v, %v", page, err)
	}
}

func TestStore_Tenants(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.NewStore(t)
	_, err := s.DefaultTenant(ctx)
	wantKind(t, err, directory.KindNotFound, "")
	_, err = s.Tenant(ctx, uuid.NewString())
	wantKind(t, err, directory.KindNotFound, "")
	_, err = s.Tenant(ctx, "nope")
	wantKind(t, err, directory.KindNotFound, "")
	_, err = s.EnsureTenant(ctx, directory.Tenant{ID: "nope", DefaultDomain: "x.com"})
	wantKind(t, err, directory.KindInvalid, "tenantId")

	first := directory.Tenant{ID: uuid.NewString(), DisplayName: "Contoso", DefaultDomain: "contoso.onmicrosoft.com",
		Domains: []string{"contoso.com", "CONTOSO.onmicrosoft.com"}, CreatedAt: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}
	second := directory.Tenant{ID: uuid.NewString(), DisplayName: "Fabrikam", DefaultDomain: "fabrikam.onmicrosoft.com"}

	// Concurrent EnsureTenant calls agree on one tenant.
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tn := second
			if i%2 == 0 {
				tn = first
			}
			got, err := s.EnsureTenant(ctx, tn)
			if err == nil && got.ID != tn.ID {
				err = fmt.Errorf("got tenant %s", got.ID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("EnsureTenant: %v", err)
		}
	}
	var n, d int
	if err := s.DB().QueryRow(`SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM tenant_domains)`).Scan(&n, &d); err != nil || n != 2 || d != 3 {
		t.Fatalf("tenants, domains = %d, %d (%v); want 2, 3", n, d, err)
	}

	// An existing tenant is returned as stored, not as asked.
	got, err := s.EnsureTenant(ctx, directory.Tenant{ID: first.ID, DisplayName: "Renamed", DefaultDomain: "other.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := &directory.Tenant{ID: first.ID, DisplayName: "Contoso", DefaultDomain: "contoso.onmicrosoft.com",
		Domains: []string{"contoso.onmicrosoft.com", "contoso.com"}, CreatedAt: first.CreatedAt}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnsureTenant(existing) = %+v, want %+v", got, want)
	}
	if !got.HasDomain("Contoso.COM") {
		t.Error("HasDomain(Contoso.COM) = false")
	}
	def, err := s.DefaultTenant(ctx)
	if err != nil || def.ID != first.ID {
		t.Errorf("DefaultTenant = %+v, %v; want the oldest", def, err)
	}
	byID, err := s.Tenant(ctx, strings.ToUpper(second.ID))
	if err != nil || byID.ID != second.ID || !reflect.DeepEqual(byID.Domains, []string{"fabrikam.onmicrosoft.com"}) {
		t.Errorf("Tenant = %+v, %v", byID, err)
	}
}

func TestStore_SigningKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, tn := newTenant(t)
	keys, err := s.SigningKeys(ctx, tn.ID)
	if err != nil || len(keys) != 0 {
		t.Fatalf("SigningKeys = %v, %v", keys, err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.AddSigningKeyIfNone(ctx, directory.SigningKey{ID: fmt.Sprintf("kid-%d", i), TenantID: tn.ID, Algorithm: "RS256", PrivateDER: []byte{byte(i)}})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("AddSigningKeyIfNone: %v", err)
		}
	}
	keys, err = s.SigningKeys(ctx, tn.ID)
	if err != nil || len(keys) != 1 {
		t.Fatalf("after concurrent adds: %d keys, %v; want 1", len(keys), err)
	}
	first := keys[0]
	if first.TenantID != tn.ID || first.Algorithm != "RS256" || len(first.PrivateDER) != 1 || first.CreatedAt.IsZero() {
		t.Errorf("key = %+v", first)
	}

	// Rotation (added directly here) puts the newer key first; other tenants see none.
	if _, err := s.DB().Exec(`INSERT INTO signing_keys (tenant_id, kid, alg, private_der, created_at) VALUES ($1, 'newer', 'RS256', '\x01', now() + interval '1 hour')`, tn.ID); err != nil {
		t.Fatal(err)
	}
	keys, err = s.SigningKeys(ctx, tn.ID)
	if err != nil || len(keys) != 2 || keys[0].ID != "newer" || keys[1].ID != first.ID {
		t.Errorf("SigningKeys = %+v, %v; want newer first", keys, err)
	}
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	if keys, err := s.SigningKeys(ctx, other.ID); err != nil || len(keys) != 0 {
		t.Errorf("other tenant's keys = %+v, %v", keys, err)
	}
}

func TestStore_Secret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := pgtest.NewStore(t)
	_, err := s.Secret(ctx, "skiptoken", nil)
	wantKind(t, err, directory.KindNotFound, "")

	var wg sync.WaitGroup
	got := make([][]byte, 10)
	errs := make([]error, 10)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.Secret(ctx, "skiptoken", func() ([]byte, error) { return []byte{byte(i), 42}, nil })
		}()
	}
	wg.Wait()
	for i := range got {
		if errs[i] != nil {
			t.Fatalf("Secret: %v", errs[i])
		}
		if string(got[i]) != string(got[0]) {
			t.Fatalf("callers disagree: %v vs %v", got[i], got[0])
		}
	}
	again, err := s.Secret(ctx, "skiptoken", func() ([]byte, error) { t.Error("generate called for an existing secret"); return nil, nil })
	if err != nil || string(again) != string(got[0]) {
		t.Errorf("Secret again = %v, %v", again, err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM server_secrets`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d secrets (%v), want 1", n, err)
	}
	_, err = s.Secret(ctx, "other", func() ([]byte, error) { return nil, fmt.Errorf("no entropy") })
	wantKind(t, err, directory.KindInternal, "")
}
