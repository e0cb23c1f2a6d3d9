package postgres_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// user_search_tokens (schema/00012) follows users through every kind of
// write, single-row and set-based: after each step it holds exactly the
// tokens graphdir_search_tokens derives from each user's current name, and
// $search finds users by their new names only.
func TestSearchTokens_FollowUsers(t *testing.T) {
	t.Parallel()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	ctx := context.Background()
	db := s.DB()

	exact := func(step string) {
		t.Helper()
		var missing, extra int
		err := db.QueryRow(`
			WITH want AS (
				SELECT u.tenant_id, t.token, u.id AS user_id
				FROM users u, graphdir_search_tokens(u.display_name) AS t(token)
			), have AS (SELECT tenant_id, token, user_id FROM user_search_tokens)
			SELECT (SELECT count(*) FROM (SELECT * FROM want EXCEPT ALL SELECT * FROM have) m),
			       (SELECT count(*) FROM (SELECT * FROM have EXCEPT ALL SELECT * FROM want) e)`).Scan(&missing, &extra)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if missing != 0 || extra != 0 {
			t.Errorf("%s: user_search_tokens misses %d tokens and has %d extra", step, missing, extra)
		}
	}
	search := func(text string) []string {
		t.Helper()
		page, err := s.ListUsers(ctx, tn.ID, parse(t, "", "", `"displayName:`+text+`"`))
		if err != nil {
			t.Fatalf("search %q: %v", text, err)
		}
		var names []string
		for _, u := range page.Users {
			names = append(names, *u.DisplayName)
		}
		slices.Sort(names)
		return names
	}
	wantFound := func(text string, want ...string) {
		t.Helper()
		if got := search(text); !slices.Equal(got, want) {
			t.Errorf("search %q = %q, want %q", text, got, want)
		}
	}

	// A bulk INSERT ... SELECT in both tenants (seedSQL, explain_test.go;
	// one name in fifty is null).
	for _, tenant := range []string{tn.ID, other.ID} {
		if _, err := db.ExecContext(ctx, seedSQL, tenant, 120); err != nil {
			t.Fatal(err)
		}
	}
	exact("bulk insert")
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM user_search_tokens`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("no tokens after the bulk insert: %d, %v", n, err)
	}

	mary := newUser(tn.ID, "mary@contoso.onmicrosoft.com")
	mary.DisplayName = ptr("Mary McDonald")
	mustCreate(t, s, mary)
	exact("create")
	wantFound("mcdon", "Mary McDonald")
	wantFound("donald ma", "Mary McDonald")

	// A rename keeps the shared token, drops and adds the others.
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: mary.ID}, directory.UserPatch{
		Values: map[string]any{"displayName": ptr("Mary Smith-Jones")}}); err != nil {
		t.Fatal(err)
	}
	exact("rename")
	wantFound("mcdon")
	wantFound("jon", "Mary Smith-Jones")
	wantFound("smithjones mary", "Mary Smith-Jones")

	// Updates of other columns, a no-op rename, names swapped between
	// users in one statement, and names cleared in bulk.
	if _, err := s.UpdateUser(ctx, tn.ID, directory.UserKey{ID: mary.ID}, directory.UserPatch{
		Values: map[string]any{"jobTitle": ptr("Engineer")}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE users SET display_name = display_name, city = 'Oslo' WHERE tenant_id = $1`,
		`UPDATE users u SET display_name = v.name FROM (VALUES ('V2 Sur14', 'V3 Sur21'), ('V3 Sur21', 'V2 Sur14')) AS v(old, name)
			WHERE u.tenant_id = $1 AND u.display_name = v.old`,
		`UPDATE users SET display_name = NULL WHERE tenant_id = $1 AND display_name LIKE 'V11%'`,
		`UPDATE users SET display_name = 'Zoë Ångström' WHERE tenant_id = $1 AND display_name IS NULL`,
	} {
		if _, err := db.ExecContext(ctx, q, tn.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		exact(q)
	}
	wantFound("ång", slices.Repeat([]string{"Zoë Ångström"}, 14)...)

	// A soft delete hides the user (the tokens stay for a restore); a
	// purge, single or in bulk, removes the tokens.
	if err := s.DeleteUser(ctx, tn.ID, directory.UserKey{ID: mary.ID}); err != nil {
		t.Fatal(err)
	}
	exact("soft delete")
	wantFound("jon")
	if err := s.PurgeUser(ctx, tn.ID, mary.ID, nil, nil); err != nil {
		t.Fatal(err)
	}
	exact("purge")
	if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = $1`, tn.ID); err != nil {
		t.Fatal(err)
	}
	exact("bulk delete")
	if err := db.QueryRow(`SELECT count(*) FROM user_search_tokens WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil || n != 0 {
		t.Errorf("tokens of the emptied tenant: %d, %v", n, err)
	}
	// The cascade from tenants deletes users, and so their tokens.
	if _, err := db.ExecContext(ctx, `DELETE FROM tenants WHERE id = $1`, other.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM user_search_tokens`).Scan(&n); err != nil || n != 0 {
		t.Errorf("tokens after deleting the other tenant: %d, %v", n, err)
	}
}

// graphdir_search_tokens (00012) repeats the rules of graphdir_search_text
// (00002): both give the same tokens, the former without duplicates.
func TestSearchTokens_AgreeWithSearchText(t *testing.T) {
	t.Parallel()
	s := pgtestStore(t)
	for _, name := range []string{"Oscar Ward", "HelloWorld", "HELLOworld", "hello.world", "hello123world", "a1b2c3",
		"McDonald-O'Brien", "Zoë Ångström-Lee", "José  Álvarez\tRuiz", "user_name@contoso.com", "ÉCOLE École", "x", "42",
		"Chen Chen", " leading and trailing ", "", "...", "R2-D2 r2d2"} {
		var text string
		var tokens pq.StringArray
		if err := s.DB().QueryRow(`SELECT graphdir_search_text($1), ARRAY(SELECT graphdir_search_tokens($1))`, name).Scan(&text, &tokens); err != nil {
			t.Fatal(err)
		}
		want := strings.Fields(text)
		slices.Sort(want)
		want = slices.Compact(want)
		got := []string(tokens)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%q: graphdir_search_tokens = %q, graphdir_search_text = %q", name, got, text)
		}
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM graphdir_search_tokens(NULL)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("tokens of a null name: %d, %v", n, err)
	}
}
