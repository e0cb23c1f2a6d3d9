package benchdb_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/bench/benchdb"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func ptr[T any](v T) *T { return &v }

// The raw side runs the store's own statements: what it creates, the store
// reads back; what it patches, the store sees; what the store holds, its
// reads find.
func TestRawRunsTheStoresStatements(t *testing.T) {
	ctx := context.Background()
	s := pgtest.NewStore(t)
	tn, err := s.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "T", DefaultDomain: "bench.test"})
	if err != nil {
		t.Fatal(err)
	}
	raw := benchdb.NewRaw(s.DB().DB)
	defer raw.Close()

	newUser := func(upn string) *directory.User {
		return &directory.User{ID: uuid.NewString(), TenantID: tn.ID, UserPrincipalName: ptr(upn),
			DisplayName: ptr("Raw"), EmployeeType: ptr(benchdb.CreatedType), AccountEnabled: ptr(true),
			Identities: []directory.Identity{{SignInType: "emailAddress", Issuer: "bench.test", IssuerAssignedID: upn}}}
	}
	// Twice: the second run uses the prepared statement.
	for _, upn := range []string{"raw@bench.test", "raw2@bench.test"} {
		st, err := postgres.CreateUserStatement(newUser(upn))
		if err != nil {
			t.Fatal(err)
		}
		if err := raw.InTx(ctx, st, 1); err != nil {
			t.Fatalf("raw create %s: %v", upn, err)
		}
	}
	got, err := s.GetUser(ctx, tn.ID, directory.UserKey{UPN: "raw@bench.test"})
	if err != nil || len(got.Identities) != 1 || *got.DisplayName != "Raw" {
		t.Fatalf("raw create read back %+v (%v)", got, err)
	}

	patch, err := postgres.UpdateUserStatement(tn.ID, directory.UserKey{ID: got.ID},
		directory.UserPatch{Values: map[string]any{"jobTitle": ptr("Engineer"), "officeLocation": ptr("B1")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.InTx(ctx, patch, 1); err != nil {
		t.Fatal(err)
	}
	after, err := s.GetUser(ctx, tn.ID, directory.UserKey{ID: got.ID})
	if err != nil || after.JobTitle == nil || *after.JobTitle != "Engineer" || after.Version != got.Version+1 {
		t.Fatalf("raw patch read back %+v (%v)", after, err)
	}
	missing, err := postgres.UpdateUserStatement(tn.ID, directory.UserKey{ID: uuid.NewString()},
		directory.UserPatch{Values: map[string]any{"jobTitle": ptr("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.InTx(ctx, missing, 1); err == nil {
		t.Error("a patch of no user reported success")
	}

	for _, key := range []directory.UserKey{{ID: got.ID}, {UPN: "RAW@bench.test"}} {
		get, err := postgres.GetUserStatement(tn.ID, key)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if n, err := raw.Query(ctx, get); err != nil || n != 1 {
				t.Errorf("raw get %v: %d rows (%v)", key, n, err)
			}
		}
	}
}

// The refresh grant's statements, run raw: the application is read, and a
// rotation marks the token used and stores a successor the store then
// rotates in turn; a rotated token does not rotate again.
func TestRawRefreshStatements(t *testing.T) {
	ctx := context.Background()
	s := pgtest.NewStore(t)
	tn, err := s.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "T", DefaultDomain: "bench.test"})
	if err != nil {
		t.Fatal(err)
	}
	raw := benchdb.NewRaw(s.DB().DB)
	defer raw.Close()
	u := &directory.User{ID: uuid.NewString(), TenantID: tn.ID, UserPrincipalName: ptr("rt@bench.test"), DisplayName: ptr("RT"), AccountEnabled: ptr(true)}
	if err := s.CreateUser(ctx, u, nil); err != nil {
		t.Fatal(err)
	}
	app := &directory.Application{TenantID: tn.ID, ID: uuid.NewString(), AppID: uuid.NewString(), DisplayName: "spa"}
	if err := s.CreateApplication(ctx, app, nil); err != nil {
		t.Fatal(err)
	}
	sts := postgres.GetApplicationStatements(tn.ID, app.AppID, app.ID)
	if n, err := raw.Query(ctx, sts[0]); err != nil || n != 1 {
		t.Fatalf("raw application read: %d rows (%v)", n, err)
	}
	if n, err := raw.Query(ctx, sts[1]); err != nil || n != 0 {
		t.Fatalf("raw secrets read of an app without secrets: %d rows (%v)", n, err)
	}

	now := time.Now().UTC().Truncate(time.Second)
	tok := directory.RefreshToken{TenantID: tn.ID, FamilyID: uuid.NewString(), UserID: u.ID, ClientID: app.AppID,
		Scopes: []string{"openid", "offline_access"}, AMR: []string{"pwd"}, AuthTime: now, CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), FamilyExpiresAt: now.Add(24 * time.Hour)}
	h0, h1, h2 := sha256.Sum256([]byte("0")), sha256.Sum256([]byte("1")), sha256.Sum256([]byte("2"))
	if err := s.CreateRefreshToken(ctx, h0[:], tok); err != nil {
		t.Fatal(err)
	}
	next := tok
	next.CreatedAt, next.ExpiresAt = now, now.Add(time.Hour)
	rotate := postgres.RotateRefreshTokenStatements(tn.ID, app.AppID, h0[:], h1[:], now, next)
	if err := raw.InTxAll(ctx, rotate, []int{1, 1}); err != nil {
		t.Fatalf("raw rotation: %v", err)
	}
	if err := raw.InTxAll(ctx, rotate, []int{1, 1}); err == nil {
		t.Fatal("a rotated token rotated again")
	}
	got, rotated, err := s.RotateRefreshToken(ctx, tn.ID, app.AppID, h1[:], h2[:], now, time.Hour)
	if err != nil || !rotated || got.FamilyID != tok.FamilyID || got.UserID != u.ID {
		t.Fatalf("the store rotating the raw successor: %+v %v %v", got, rotated, err)
	}
}
