package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres/pgtest"
)

func text(s string) *directory.Nullable[string] { return &directory.Nullable[string]{Value: &s} }

// TestBranding_VersionMovesWithEveryWrite: every write bumps the tenant's
// version in its transaction (what the pages' cache checks), a failed
// write does not, and ListBranding returns rows and version from one
// snapshot.
func TestBranding_VersionMovesWithEveryWrite(t *testing.T) {
	ctx := context.Background()
	st := pgtest.NewStore(t)
	tid, other := appTenant(t, st), appTenant(t, st)
	version := func(tenant string) int64 {
		t.Helper()
		v, err := st.BrandingVersion(ctx, tenant)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if version(tid) != 0 {
		t.Fatal("version before any write")
	}
	if _, err := st.UpsertBranding(ctx, tid, "", false, directory.BrandingInput{SignInPageText: text("hi")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertBranding(ctx, tid, "fr-FR", true, directory.BrandingInput{}, nil); err != nil {
		t.Fatal(err)
	}
	if v := version(tid); v != 2 || version(other) != 0 {
		t.Fatalf("versions %d, %d", v, version(other))
	}
	// Failures leave the version (and everything else) as it was.
	if _, err := st.UpsertBranding(ctx, tid, "fr-FR", true, directory.BrandingInput{}, nil); directory.KindOf(err) != directory.KindConflict {
		t.Fatalf("second create: %v", err)
	}
	if _, err := st.UpsertBranding(ctx, tid, "de", false, directory.BrandingInput{}, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("patch of a missing localization: %v", err)
	}
	if _, err := st.UpsertBranding(ctx, uuid.NewString(), "", false, directory.BrandingInput{}, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("unknown tenant: %v", err)
	}
	if err := st.PutBrandingLogo(ctx, tid, "de", directory.LogoBanner, &directory.BrandingImageData{ContentType: "image/png", Data: []byte{1}}, nil); directory.KindOf(err) != directory.KindNotFound {
		t.Fatalf("logo of a missing localization: %v", err)
	}
	if v := version(tid); v != 2 {
		t.Fatalf("failed writes moved the version to %d", v)
	}
	all, v, err := st.ListBranding(ctx, tid)
	if err != nil || v != 2 || len(all) != 2 || all[0].Locale != "" || *all[0].SignInPageText != "hi" || all[1].Locale != "fr-FR" {
		t.Fatalf("ListBranding: %+v %d %v", all, v, err)
	}
	if all, v, err := st.ListBranding(ctx, other); err != nil || v != 0 || len(all) != 0 {
		t.Fatalf("another tenant's: %+v %d %v", all, v, err)
	}

	// Concurrent writes of one tenant serialise on the version row: each
	// counts once.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := st.UpsertBranding(ctx, tid, "", false, directory.BrandingInput{UsernameHintText: text(string(rune('a' + i)))}, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if v := version(tid); v != 10 {
		t.Fatalf("version after 8 concurrent writes: %d", v)
	}
}
