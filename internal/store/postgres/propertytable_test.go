package postgres

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestPropertyTablesAgree checks the store's table against the API's
// (directory.UserProperties): the same stored properties, the same types,
// and each store row's field of directory.User is the one the domain reads.
func TestPropertyTablesAgree(t *testing.T) {
	// Properties the store handles outside the table's columns.
	// signInActivity is a complex property whose parts are rows of their
	// own (named by their $filter path, "signInActivity/...").
	outside := map[string]bool{"passwordProfile": true, "deletedDateTime": true, "signInActivity": true}
	store := map[string]*userProperty{}
	for i := range userProperties {
		store[userProperties[i].Name] = &userProperties[i]
	}
	for _, dp := range directory.UserProperties() {
		p, ok := store[dp.Name]
		if !ok {
			if !outside[dp.Name] {
				t.Errorf("directory property %s has no row in the store's table", dp.Name)
			}
			continue
		}
		want := map[directory.PropertyType][]propKind{
			directory.TypeString:           {kindString, kindStringNotNull, kindID},
			directory.TypeBool:             {kindBool},
			directory.TypeDateTime:         {kindDateTime},
			directory.TypeStringCollection: {kindCollection},
			directory.TypeIdentities:       {kindIdentities},
		}[dp.Type]
		found := false
		for _, k := range want {
			found = found || k == p.Kind
		}
		if !found {
			t.Errorf("%s: store kind %d does not fit directory type %s", p.Name, p.Kind, dp.Type)
		}
		// The value the store scans into its field is the value the
		// domain reads.
		var u directory.User
		var set any
		switch {
		case p.str != nil:
			v := "x"
			*p.str(&u), set = &v, &v
		case p.b != nil:
			v := true
			*p.b(&u), set = &v, &v
		case p.dt != nil:
			v := time.Now()
			*p.dt(&u), set = &v, &v
		case p.coll != nil:
			v := []string{"x"}
			*p.coll(&u), set = v, v
		default:
			continue
		}
		if got := dp.Value(&u); reflect.ValueOf(got).Pointer() != reflect.ValueOf(set).Pointer() {
			t.Errorf("%s: the store's field is not the one directory reads", p.Name)
		}
	}
	for name := range store {
		if head, _, ok := strings.Cut(name, "/"); ok && head == "signInActivity" {
			continue
		}
		if _, ok := directory.LookupProperty(name); !ok {
			t.Errorf("store row %s is no directory property", name)
		}
	}
}
