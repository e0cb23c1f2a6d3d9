package postgres_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

// Sign-in flows through a pool opened as serve opens it (ServingURL:
// binary_parameters): a flow's data is stored, advanced and read back.
// With the data passed as []byte every start failed with "unsupported
// jsonb version number 123".
func TestSignInFlowsOnServingPool(t *testing.T) {
	u, err := postgres.ServingURL(pgtest.NewURL(t), postgres.ServingOptions{StatementTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tn, err := st.EnsureTenant(ctx, directory.Tenant{ID: uuid.NewString(), DisplayName: "Flows", DefaultDomain: "flows.test"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := directory.SignInFlow{TenantID: tn.ID, ID: uuid.NewString(), ClientID: uuid.NewString(), Kind: "signin", Step: "start",
		Username: "a@example.com", AMR: []string{}, Data: map[string]string{"method": "password"}, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	h1, h2 := sha256.Sum256([]byte("one")), sha256.Sum256([]byte("two"))
	if err := st.CreateSignInFlow(ctx, f, h1[:]); err != nil {
		t.Fatal(err)
	}
	got, err := st.SignInFlowByHandle(ctx, tn.ID, h1[:])
	if err != nil || got.Data["method"] != "password" {
		t.Fatalf("read back: %+v %v", got, err)
	}
	got.Step, got.Data["reg_target"] = "reg_pending", "b@example.org"
	if err := st.AdvanceSignInFlow(ctx, got, h1[:], h2[:]); err != nil {
		t.Fatal(err)
	}
	got, err = st.SignInFlowByHandle(ctx, tn.ID, h2[:])
	if err != nil || got.Step != "reg_pending" || got.Data["reg_target"] != "b@example.org" || got.Version != 2 {
		t.Fatalf("after advance: %+v %v", got, err)
	}
}
