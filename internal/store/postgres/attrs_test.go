package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/store/postgres"
)

// attrRows returns user_attrs of user id as "prop=value" strings.
func attrRows(t *testing.T, s *postgres.Store, tenantID, id string) map[string]bool {
	t.Helper()
	rows, err := s.DB().Query(`SELECT prop, value FROM user_attrs WHERE tenant_id = $1 AND user_id = $2`, tenantID, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var prop int16
		var v string
		if err := rows.Scan(&prop, &v); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%d=%s", prop, v)] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkAttrsInStep fails t unless user_attrs holds exactly the rows the
// users columns imply, for every user of every tenant.
func checkAttrsInStep(t *testing.T, s *postgres.Store, step string) {
	t.Helper()
	var missing, extra int
	err := s.DB().QueryRow(`
		WITH want AS (SELECT u.tenant_id, a.prop, a.value, u.id AS user_id FROM users u CROSS JOIN LATERAL graphdir_user_attrs(u) a)
		SELECT (SELECT count(*) FROM (SELECT * FROM want EXCEPT SELECT tenant_id, prop, value, user_id FROM user_attrs) m),
			(SELECT count(*) FROM (SELECT tenant_id, prop, value, user_id FROM user_attrs EXCEPT SELECT * FROM want) e)`).Scan(&missing, &extra)
	if err != nil {
		t.Fatal(err)
	}
	if missing != 0 || extra != 0 {
		t.Errorf("%s: user_attrs has %d rows missing and %d extra", step, missing, extra)
	}
}

// TestUserAttrs_PropNumbers checks that the prop numbers of properties.go
// are the ones schema/00010_user_attrs.sql's graphdir_user_attrs gives each
// column, and that its triggers follow inserts, updates and deletes.
func TestUserAttrs_PropNumbers(t *testing.T) {
	t.Parallel()
	s, tn := newTenant(t)
	ctx := context.Background()
	db := s.DB()
	var cols []string
	want := map[string]bool{}
	seen := map[int16]string{}
	for _, p := range postgres.QueryProperties() {
		if !p.Partial {
			if p.Attr != 0 {
				t.Errorf("%s: Attr %d on a property indexed on users", p.Name, p.Attr)
			}
			continue
		}
		if p.Attr <= 0 {
			t.Errorf("%s: filter-only property without a user_attrs prop number", p.Name)
			continue
		}
		if other, dup := seen[p.Attr]; dup {
			t.Errorf("%s and %s share prop number %d", p.Name, other, p.Attr)
		}
		seen[p.Attr] = p.Name
		cols = append(cols, p.Column)
		want[fmt.Sprintf("%d=v_%s", p.Attr, p.Column)] = true
	}
	if len(cols) != 19 {
		t.Fatalf("%d filter-only properties, want 19", len(cols))
	}
	id := uuid.NewString()
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = "'V_" + strings.ToUpper(c) + "'"
	}
	// Column names come from the allow-list, values are literals of them.
	if _, err := db.ExecContext(ctx, `INSERT INTO users (tenant_id, id, user_principal_name, `+strings.Join(cols, ", ")+`)
		VALUES ($1, $2, 'a@contoso.example', `+strings.Join(vals, ", ")+`)`, tn.ID, id); err != nil {
		t.Fatal(err)
	}
	got := attrRows(t, s, tn.ID, id)
	for k := range want {
		if !got[k] {
			t.Errorf("after insert: missing %s (got %v)", k, got)
		}
	}
	if len(got) != len(want) {
		t.Errorf("after insert: %d rows, want %d: %v", len(got), len(want), got)
	}

	// A set-based insert of several users, some without values.
	if _, err := db.ExecContext(ctx, `INSERT INTO users (tenant_id, id, user_principal_name, job_title, department, country)
		SELECT $1, gen_random_uuid(), 'u' || g || '@contoso.example',
			CASE WHEN g % 2 = 0 THEN 'Dev' || g END, 'Sales', NULL
		FROM generate_series(1, 50) g`, tn.ID); err != nil {
		t.Fatal(err)
	}
	checkAttrsInStep(t, s, "insert select")

	// Updates: a value changed, one cleared, one set, a case-only change,
	// and an update of other columns only.
	steps := []struct{ name, sql string }{
		{"change", `UPDATE users SET job_title = 'Ops', country = NULL, postal_code = '0150' WHERE tenant_id = $1 AND id = $2`},
		{"case only", `UPDATE users SET job_title = 'OPS' WHERE tenant_id = $1 AND id = $2`},
		{"unrelated", `UPDATE users SET display_name = 'A', version = version + 1 WHERE tenant_id = $1 AND id = $2`},
		{"bulk", `UPDATE users SET department = CASE WHEN job_title IS NULL THEN NULL ELSE 'R&D' END, job_title = upper(job_title) WHERE tenant_id = $1 AND id <> $2`},
		{"soft delete", `UPDATE users SET deleted_at = now() WHERE tenant_id = $1 AND (id = $2 OR job_title LIKE 'DEV1%')`},
		{"hard delete", `DELETE FROM users WHERE tenant_id = $1 AND id <> $2 AND deleted_at IS NOT NULL`},
	}
	for _, st := range steps {
		if _, err := db.ExecContext(ctx, st.sql, tn.ID, id); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		checkAttrsInStep(t, s, st.name)
	}
	got = attrRows(t, s, tn.ID, id)
	if !got["1=ops"] || got["2=v_country"] || !got["12=0150"] || len(got) != len(want)-1 {
		t.Errorf("after updates and soft delete: %v", got)
	}
	var n int
	// The 25 even users keep values (the odd ones lost department), less
	// DEV10..DEV18, hard deleted; plus id, soft deleted.
	if err := db.QueryRowContext(ctx, `SELECT count(DISTINCT user_id) FROM user_attrs WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil || n != 21 {
		t.Errorf("%d users in user_attrs after the hard delete (%v), want 21", n, err)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM users WHERE tenant_id = $1 AND id = ANY($2)`, tn.ID, pq.Array([]string{id})); err != nil {
		t.Fatal(err)
	}
	if got := attrRows(t, s, tn.ID, id); len(got) != 0 {
		t.Errorf("after the user's hard delete: %v", got)
	}
	checkAttrsInStep(t, s, "final")
}
