package postgres_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/store/postgres"
)

// seedAuditSQL gives tenant $1 $2 audit events, one a minute from
// 2024-01-01, activity 'Update user' for one in ten ('Add user' else).
const seedAuditSQL = `
INSERT INTO audit_events (tenant_id, id, activity_date_time, category, activity_display_name, operation_type,
	logged_by_service, result, initiated_by, target_resources)
SELECT $1::uuid, md5($1::text || 'audit' || g)::uuid, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute',
	'UserManagement', CASE WHEN g % 10 = 0 THEN 'Update user' ELSE 'Add user' END, 'Add',
	'Core Directory', 'success', '{}', '[]'
FROM generate_series(1, $2::int) AS g`

// $orderby=activityDateTime asc lists oldest first, and its keyset pages
// continue forward: every event once, in order.
func TestAudit_ListAscendingPages(t *testing.T) {
	t.Parallel()
	s, tn := newTenant(t)
	ctx := context.Background()
	if _, err := s.DB().ExecContext(ctx, seedAuditSQL, tn.ID, 25); err != nil {
		t.Fatal(err)
	}
	for _, asc := range []bool{true, false} {
		var times []time.Time
		q := directory.AuditQuery{Top: 7, Ascending: asc}
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("paging does not end")
			}
			page, err := s.ListAuditEvents(ctx, tn.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range page.Events {
				times = append(times, ev.ActivityDateTime)
			}
			if page.Next == nil {
				break
			}
			q.After = page.Next
		}
		sorted := slices.IsSortedFunc(times, func(a, b time.Time) int {
			if asc {
				return a.Compare(b)
			}
			return b.Compare(a)
		})
		if len(times) != 25 || !sorted || len(slices.Compact(slices.Clone(times))) != 25 {
			t.Errorf("ascending=%v: %d events, in order %v", asc, len(times), sorted)
		}
		first := time.Date(2024, 1, 1, 0, 1, 0, 0, time.UTC)
		if asc && !times[0].Equal(first) || !asc && !times[len(times)-1].Equal(first) {
			t.Errorf("ascending=%v: first %v, last %v", asc, times[0], times[len(times)-1])
		}
	}
	// A range bounds the ascending listing too.
	from := time.Date(2024, 1, 1, 0, 20, 0, 0, time.UTC)
	page, err := s.ListAuditEvents(ctx, tn.ID, directory.AuditQuery{Top: 100, Ascending: true, From: &from, FromExclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 5 || !page.Events[0].ActivityDateTime.Equal(from.Add(time.Minute)) {
		t.Errorf("gt range ascending: %d events, first %v", len(page.Events), page.Events[0].ActivityDateTime)
	}
}

// Both orders, with and without filters and a cursor, are one index range
// scan: no sequential scan of audit_events and no sort.
func TestAudit_ExplainOrderUsesIndex(t *testing.T) {
	t.Parallel()
	s, tn := newTenant(t)
	other := mustTenant(t, s, "fabrikam.onmicrosoft.com")
	ctx := context.Background()
	db := s.DB()
	for _, seed := range []struct {
		tenant string
		n      int
	}{{tn.ID, 20000}, {other.ID, 2000}} {
		if _, err := db.ExecContext(ctx, seedAuditSQL, seed.tenant, seed.n); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
	from := time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)
	cursor := &directory.AuditCursor{Time: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), ID: uuid.NewString()}
	for _, asc := range []bool{false, true} {
		for name, q := range map[string]directory.AuditQuery{
			"all":          {},
			"range":        {From: &from},
			"activity":     {ActivityDisplayName: "update user"},
			"cursor":       {After: cursor},
			"activity+cur": {ActivityDisplayName: "Update user", After: cursor},
		} {
			q.Ascending = asc
			sql, args, err := postgres.AuditListSQL(tn.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			label := name
			if asc {
				label += " asc"
			}
			explainWithout(t, db, label, sql, args, "audit_events")
			var out []byte
			if err := db.QueryRow("EXPLAIN (FORMAT JSON) "+sql, args...).Scan(&out); err != nil {
				t.Fatal(err)
			}
			var plans []struct{ Plan planNode }
			if err := json.Unmarshal(out, &plans); err != nil {
				t.Fatal(err)
			}
			var sorts func(n planNode) bool
			sorts = func(n planNode) bool {
				return n.NodeType == "Sort" || n.NodeType == "Incremental Sort" || slices.ContainsFunc(n.Plans, sorts)
			}
			if sorts(plans[0].Plan) {
				t.Errorf("%s: the plan sorts; the index should give the order: %s", label, out)
			}
		}
	}
}
