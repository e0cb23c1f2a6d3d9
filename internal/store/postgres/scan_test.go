package postgres

import (
	"reflect"
	"testing"
)

// Every db-tagged field of listRow (userRow's included) must be reachable
// through field, pointing at that very field: otherwise reads fall back to
// sqlx's slower StructScan, or worse, scan into the wrong field.
func TestScanFieldsCoverUserRow(t *testing.T) {
	var r listRow
	v := reflect.ValueOf(&r).Elem()
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Anonymous {
				walk(v.Field(i))
				continue
			}
			tag := f.Tag.Get("db")
			if tag == "" {
				continue
			}
			p := r.field(tag)
			if p == nil {
				t.Errorf("column %s (field %s) is missing from userRow.field/listRow.field in scan.go", tag, f.Name)
				continue
			}
			if reflect.ValueOf(p).Pointer() != v.Field(i).Addr().Pointer() || reflect.TypeOf(p).Elem() != f.Type {
				t.Errorf("column %s scans into the wrong field (want %s)", tag, f.Name)
			}
		}
	}
	walk(v)
	if r.field("no_such_column") != nil {
		t.Error("unknown column has a field")
	}
}
