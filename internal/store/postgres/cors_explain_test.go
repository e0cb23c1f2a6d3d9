package postgres_test

import (
	"context"
	"testing"

	"github.com/graphdir/graphdir/internal/store/postgres"
)

// TestSPAOriginAnyTenant_UsesIndex: a CORS preflight names no tenant, and
// is unauthenticated, so its question (is this origin a spa origin of any
// application in any tenant?) must be answered from
// application_spa_origins_idx, never by reading every application.
func TestSPAOriginAnyTenant_UsesIndex(t *testing.T) {
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	ctx := context.Background()
	db := s.DB()
	for _, tenant := range []string{tn.ID, other.ID} {
		if _, err := db.ExecContext(ctx, `INSERT INTO applications (tenant_id, id, app_id, display_name, spa_redirect_uris, spa_origins)
			SELECT $1, gen_random_uuid(), gen_random_uuid(), 'app ' || i,
				ARRAY['https://spa' || i || '.example/cb'], ARRAY['https://spa' || i || '.example']
			FROM generate_series(1, 20000) AS i`, tenant); err != nil {
			t.Fatalf("seed applications: %v", err)
		}
	}
	if _, err := db.ExecContext(ctx, "VACUUM (ANALYZE) applications"); err != nil {
		t.Fatal(err)
	}
	explainWithout(t, db, "spa origin in any tenant", postgres.SPAOriginAnyTenantSQL, []any{"https://spa7.example"}, "applications")
	for origin, want := range map[string]bool{"https://spa7.example": true, "https://spa7.example:8443": false} {
		if ok, err := s.SPAOriginRegisteredAnyTenant(ctx, origin); err != nil || ok != want {
			t.Errorf("SPAOriginRegisteredAnyTenant(%q) = %v, %v", origin, ok, err)
		}
	}
}
