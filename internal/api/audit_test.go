package api

import (
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

func TestAuditFilter(t *testing.T) {
	parse := func(s string) (directory.AuditQuery, error) {
		e, err := odata.ParseFilter(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var q directory.AuditQuery
		return q, auditFilter(e, &q)
	}
	q, err := parse("activityDateTime ge 2024-01-01T00:00:00Z and activityDateTime gt 2024-02-01T00:00:00Z and activityDateTime lt 2024-03-01T00:00:00Z and activityDateTime le 2024-04-01T00:00:00Z and activityDisplayName eq 'Update user'")
	if err != nil {
		t.Fatal(err)
	}
	if !q.From.Equal(time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)) || !q.FromExclusive ||
		!q.To.Equal(time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)) || !q.ToExclusive || q.ActivityDisplayName != "Update user" {
		t.Fatalf("%+v", q)
	}
	q, err = parse("activityDateTime eq 2024-01-01T10:00:00.5+02:00 and result eq 'Failure'")
	if err != nil || !q.From.Equal(*q.To) || q.FromExclusive || q.Result != "failure" {
		t.Fatalf("%+v %v", q, err)
	}
	for _, bad := range []string{"activityDateTime ne 2024-01-01T00:00:00Z", "activityDateTime ge 'x'", "a eq 'b' or c eq 'd'",
		"activityDisplayName ge 'x'", "activityDisplayName eq 'a' and activityDisplayName eq 'b'", "id eq 'x'", "not (result eq 'success')",
		"'x' eq activityDisplayName"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
