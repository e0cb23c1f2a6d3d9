package api

import (
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

func options(n int) []directory.FlowOptionConfig {
	out := make([]directory.FlowOptionConfig, n)
	for i := range out {
		out[i] = directory.FlowOptionConfig{Label: "L", Value: string(rune('a' + i))}
	}
	return out
}

// TestAttrKind: each stored input type gets its control; a single
// choice becomes a dropdown past dropdownAfter options; a choice input
// without options stays a text box (there is nothing to choose from).
func TestAttrKind(t *testing.T) {
	for _, c := range []struct {
		typ  string
		opts int
		want string
	}{
		{"text", 0, kindText},
		{"radioSingleSelect", 0, kindText},
		{"radioSingleSelect", dropdownAfter, kindRadio},
		{"radioSingleSelect", dropdownAfter + 1, kindSelect},
		{"checkboxMultiSelect", 0, kindText},
		{"checkboxMultiSelect", 3, kindCheckboxes},
		{"boolean", 0, kindCheckbox},
		{"checkboxSingleSelect", 1, kindCheckbox},
	} {
		if got := attrKind(directory.FlowAttribute{InputType: c.typ, Options: options(c.opts)}); got != c.want {
			t.Errorf("%s with %d options: %s, want %s", c.typ, c.opts, got, c.want)
		}
	}
}

// TestSignUpValues: a checkbox group's boxes arrive under their own names
// and are joined; only the option slots count; an unchecked single
// checkbox and hidden attributes give nothing.
func TestSignUpValues(t *testing.T) {
	uf := directory.UserFlow{Attributes: []directory.FlowAttribute{
		{Name: "pets", InputType: "checkboxMultiSelect", Options: options(3)},
		{Name: "news", InputType: "boolean"},
		{Name: "city", InputType: "radioSingleSelect", Options: options(2)},
		{Name: "secret", InputType: "text", Hidden: true},
	}}
	got := signUpValues(uf, map[string]string{"attr_pets.0": "a", "attr_pets.2": " c ", "attr_pets.7": "z", "attr_city": "b", "attr_secret": "x"})
	if len(got) != 2 || got["pets"] != "a,c" || got["city"] != "b" {
		t.Fatalf("values %v", got)
	}
	if got := checkedValue(directory.FlowAttribute{InputType: "checkboxSingleSelect", Options: options(1)}); got != "a" {
		t.Fatalf("checkboxSingleSelect value %q", got)
	}
}
