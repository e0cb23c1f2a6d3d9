package benchdb_test

import (
	"context"
	"testing"

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
