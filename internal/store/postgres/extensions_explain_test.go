package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// seedExtensionValuesSQL gives the users of seedSQL (tenant $1, $2 users)
// values of the definitions $3 (String: 'T' || g % 5000, null for one in
// twenty), $4 (Integer: g), $5 (Boolean: g % 2 = 0, for one in three),
// $6 (DateTime: 2024-01-01 + g minutes) and $7 (multi-valued String: 'c' ||
// g % 3000 and 'all', for every other user).
const seedExtensionValuesSQL = `
INSERT INTO user_extension_values (tenant_id, user_id, ext_id, ordinal, value_text, value_num, value_bool, value_time)
SELECT $1::uuid, md5($1::text || g)::uuid, v.ext_id, v.ord, v.t, v.n, v.b, v.ts
FROM generate_series(1, $2::int) AS g,
	LATERAL (VALUES
		($3::uuid, 0, CASE WHEN g % 20 <> 1 THEN 'T' || (g % 5000) END, NULL::bigint, NULL::boolean, NULL::timestamptz),
		($4::uuid, 0, NULL, g::bigint, NULL, NULL),
		($5::uuid, 0, NULL, NULL, CASE WHEN g % 3 = 0 THEN g % 2 = 0 END, NULL),
		($6::uuid, 0, NULL, NULL, NULL, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute'),
		($7::uuid, 0, CASE WHEN g % 2 = 0 THEN 'c' || (g % 3000) END, NULL, NULL, NULL),
		($7::uuid, 1, CASE WHEN g % 2 = 0 THEN 'all' END, NULL, NULL, NULL)
	) AS v(ext_id, ord, t, n, b, ts)
WHERE v.t IS NOT NULL OR v.n IS NOT NULL OR v.b IS NOT NULL OR v.ts IS NOT NULL`

// TestExtensions_ExplainUsesIndexes runs EXPLAIN on the statements
// ListUsers and CountUsers send for extension filters (and a filtered
// extension sort) on a seeded tenant and fails on any sequential scan of
// users or user_extension_values.
func TestExtensions_ExplainUsesIndexes(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	ctx := context.Background()
	db := s.DB()
	defsOf := func(tid string) []*directory.ExtensionProperty {
		a := extApp(t, s, tid)
		return []*directory.ExtensionProperty{
			extDef(t, s, a, "tier", directory.ExtensionString, false),
			extDef(t, s, a, "score", directory.ExtensionInteger, false),
			extDef(t, s, a, "vip", directory.ExtensionBoolean, false),
			extDef(t, s, a, "since", directory.ExtensionDateTime, false),
			extDef(t, s, a, "tags", directory.ExtensionString, true),
		}
	}
	var defs []*directory.ExtensionProperty
	for _, seed := range []struct {
		tenant string
		n      int
	}{{tn.ID, explainUsers}, {other.ID, explainUsers / 10}} {
		if _, err := db.ExecContext(ctx, seedSQL, seed.tenant, seed.n); err != nil {
			t.Fatalf("seed users: %v", err)
		}
		d := defsOf(seed.tenant)
		if seed.tenant == tn.ID {
			defs = d
		}
		if _, err := db.ExecContext(ctx, seedExtensionValuesSQL, seed.tenant, seed.n, d[0].ID, d[1].ID, d[2].ID, d[3].ID, d[4].ID); err != nil {
			t.Fatalf("seed values: %v", err)
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE users; ANALYZE user_extension_values; ANALYZE extension_properties"); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded in %v", time.Since(start).Round(time.Millisecond))
	byName := map[string]*directory.ExtensionProperty{}
	for _, d := range defs {
		byName[strings.ToLower(d.Name)] = d
	}
	tier, score, vip, since, tags := defs[0].Name, defs[1].Name, defs[2].Name, defs[3].Name, defs[4].Name
	type check struct{ filter, orderby string }
	checks := []check{
		{filter: tier + " eq 'T1234'"},
		{filter: tier + " in ('T1234', 'T42')"},
		{filter: "startsWith(" + tier + ", 'T123')"},
		{filter: tier + " gt 'T4990'"},
		{filter: tier + " eq 'T1234' or " + tier + " eq 'T4321'"},
		{filter: tier + " eq 'T1234' or mail eq 'V12345@mail.example'"},
		{filter: tier + " eq 'T1234' and startsWith(displayName, 'V1')"},
		{filter: score + " eq 12345"},
		{filter: score + " ge 59990"},
		{filter: score + " ge 100 and " + score + " lt 140"},
		{filter: score + " in (1, 2, 3)"},
		{filter: vip + " eq true"},
		{filter: since + " ge 2024-02-11T00:00:00Z"},
		{filter: since + " lt 2024-01-01T01:00:00Z"},
		{filter: tags + "/any(t: t eq 'c1234')"},
		{filter: tags + "/any(t: t in ('c1234', 'c42'))"},
		{filter: tags + "/any(t: startsWith(t, 'c123'))"},
		{filter: tags + "/any(t: t eq 'c1234') or " + tier + " eq 'T1'"},
		{filter: tier + " eq 'T1234'", orderby: score + " desc"},
		{filter: "startsWith(" + tier + ", 'T123')", orderby: tier},
		{filter: tier + " eq 'T1234'", orderby: "displayName"},
	}
	explained := 0
	for _, c := range checks {
		q := parse(t, c.filter, c.orderby, "")
		q.Extensions = byName
		name := "$filter=" + c.filter + " $orderby=" + c.orderby
		sql, args, err := postgres.ListSQL(tn.ID, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explainNoSeqScan(t, db, name, sql, args)
		sql, args, err = postgres.CountSQL(tn.ID, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		explainNoSeqScan(t, db, "count "+name, sql, args)
		explained += 2
	}
	// A keyset page of an extension sort.
	q := parse(t, "startsWith("+tier+", 'T12')", tier+" desc", "")
	q.Extensions = byName
	q.After = &directory.Cursor{Keys: []*string{ptr("t1250")}, ID: uuid.NewString()}
	sql, args, err := postgres.ListSQL(tn.ID, q)
	if err != nil {
		t.Fatal(err)
	}
	explainNoSeqScan(t, db, "keyset page", sql, args)
	t.Logf("%d statements explained without a sequential scan in %v", explained+1, time.Since(start).Round(time.Millisecond))
}

// explainNoSeqScan fails t when the plan of sql scans users or
// user_extension_values sequentially.
func explainNoSeqScan(t *testing.T, db *sqlx.DB, name, sql string, args []any) {
	t.Helper()
	explainWithout(t, db, name, sql, args, "users", "user_extension_values")
}
