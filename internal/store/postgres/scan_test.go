package postgres

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// Every column of the user select lists must have a scan target, and each
// property's target must be its own field of directory.User: otherwise a
// read fails, or worse, scans into the wrong field.
func TestScanFieldsCoverUserRow(t *testing.T) {
	for _, sel := range []string{userSelect, userSelectWithPassword} {
		for _, col := range selectColumns(sel) {
			if userBinders[col] == nil {
				t.Errorf("column %s of the select list has no scan target", col)
			}
		}
	}
	if n := len(selectColumns(userSelect)); n != len(userSelectBinders) {
		t.Errorf("userSelect has %d columns, userSelectBinders %d", n, len(userSelectBinders))
	}
	if n := len(selectColumns(userSelectWithPassword)); n != len(userSelectWithPasswordBinders) {
		t.Errorf("userSelectWithPassword has %d columns, userSelectWithPasswordBinders %d", n, len(userSelectWithPasswordBinders))
	}
	for i, col := range selectColumns(userSelect) {
		var r userRow
		if reflect.ValueOf(userSelectBinders[i](&r)).String() != reflect.ValueOf(userBinders[col](&r)).String() {
			t.Errorf("userSelectBinders[%d] is not the binder of %s", i, col)
		}
	}
	for _, p := range storedProperties {
		var r userRow
		got := userBinders[p.Column](&r)
		var want, have any
		switch {
		case p.str != nil:
			want, have = p.str(&r.u), got.(scanString).p
		case p.b != nil:
			want, have = p.b(&r.u), got.(scanBool).p
		case p.dt != nil:
			want, have = p.dt(&r.u), got.(scanUTC).p
		case p.coll != nil:
			want, have = p.coll(&r.u), (*[]string)(got.(*pq.StringArray))
		default:
			// No field of directory.User: the value goes to User.Props.
			if sp, ok := got.(scanProp); !ok || sp.u != &r.u || sp.p != p {
				t.Errorf("column %s (no field) does not scan into User.Props", p.Column)
			}
			continue
		}
		if reflect.ValueOf(want).Pointer() != reflect.ValueOf(have).Pointer() {
			t.Errorf("column %s scans into the wrong field", p.Column)
		}
	}
	var r userRow
	if r.field("no_such_column") != nil {
		t.Error("unknown column has a field")
	}
}

// selectColumns returns the column names of a select list built by
// deriveUserSQL ("u.col, ..., <identities> AS identities").
func selectColumns(sel string) []string {
	var out []string
	for _, part := range strings.Split(sel, ", ") {
		if c, ok := strings.CutPrefix(part, "u."); ok && !strings.ContainsAny(c, " (") {
			out = append(out, c)
		}
	}
	return append(out, "identities")
}
