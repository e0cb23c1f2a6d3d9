package api

import (
	"slices"
	"strings"
	"testing"

	"github.com/graphdir/graphdir/internal/directory"
)

// TestExpandableIsWhatHandlersServe: the navigation properties $expand
// accepts come from $metadata; each one must be served by the handlers of
// its type. A navigation property added to csdlTypes fails here until its
// expansion is written (and this list, with its e2e test, says so).
func TestExpandableIsWhatHandlersServe(t *testing.T) {
	served := map[string][]string{
		"user":                  nil, // users, me, delta, deletedItems casts
		"directoryObject":       nil, // deletedItems/{id} without the cast
		"application":           {"extensionProperties"},
		"unifiedRoleAssignment": {"principal", "roleDefinition"},
	}
	for typ, want := range served {
		if got := navigationsOf(typ); !slices.Equal(got, want) {
			t.Errorf("%s: $metadata declares %v, the handlers expand %v", typ, got, want)
		}
	}
}

func TestParseExpand(t *testing.T) {
	for _, tt := range []struct {
		value, typ string
		want       []string
		err        string
	}{
		{"principal", "unifiedRoleAssignment", []string{"principal"}, ""},
		{"PRINCIPAL , roleDefinition", "unifiedRoleAssignment", []string{"principal", "roleDefinition"}, ""},
		{"roleDefinition,principal,principal", "unifiedRoleAssignment", []string{"roleDefinition", "principal"}, ""},
		{"*", "unifiedRoleAssignment", []string{"principal", "roleDefinition"}, ""},
		{"roleDefinition,*", "unifiedRoleAssignment", []string{"roleDefinition", "principal"}, ""},
		{"*", "user", []string{}, ""},
		{"extensionProperties", "application", []string{"extensionProperties"}, ""},
		{"directoryScope", "unifiedRoleAssignment", nil, "Could not find a property named 'directoryScope' on type 'microsoft.graph.unifiedRoleAssignment'."},
		{"owners", "application", nil, "on type 'microsoft.graph.application'"},
		{"manager", "directoryObject", nil, "on type 'microsoft.graph.directoryObject'"},
		{"principal($select=displayName)", "unifiedRoleAssignment", nil, "without nested query options"},
		{"principal/$ref", "unifiedRoleAssignment", nil, "/$ref"},
		{"principal/microsoft.graph.user", "unifiedRoleAssignment", nil, "type-cast"},
		{"principal(", "unifiedRoleAssignment", nil, "unbalanced bracket"},
		{"principal('x", "unifiedRoleAssignment", nil, "unterminated string"},
		{"principal,,roleDefinition", "unifiedRoleAssignment", nil, "An identifier was expected at position 10."},
		{" ", "unifiedRoleAssignment", nil, "An identifier was expected at position 0."},
		{strings.Repeat("x", 5000), "user", nil, "…"},
		{"\"><script>", "user", nil, "Could not find a property named '\"><script>'"},
	} {
		got, err := parseExpand(tt.value, tt.typ)
		if tt.err == "" {
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("parseExpand(%q, %s) = %v, %v; want %v", tt.value, tt.typ, got, err, tt.want)
			}
			continue
		}
		de := directory.AsError(err)
		if err == nil || de.Kind != directory.KindBadRequest || !strings.HasPrefix(de.Message, expandPrefix) || !strings.Contains(de.Message, tt.err) {
			t.Errorf("parseExpand(%q, %s) = %v, %v; want BadRequest %q", tt.value, tt.typ, got, err, tt.err)
		}
		if len(de.Message) > 400 {
			t.Errorf("parseExpand(%.20q…): message of %d bytes echoes too much", tt.value, len(de.Message))
		}
	}
}

func TestExpandSuffix(t *testing.T) {
	for _, tt := range []struct {
		sel, exp []string
		want     string
	}{
		{nil, nil, ""},
		{nil, []string{}, ""},
		{nil, []string{"principal"}, "(principal())"},
		{[]string{"id", "principalId"}, []string{"principal", "roleDefinition"}, "(id,principalId,principal(),roleDefinition())"},
		{[]string{"id"}, nil, "(id)"},
	} {
		if got := expandSuffix(tt.sel, tt.exp); got != tt.want {
			t.Errorf("expandSuffix(%v, %v) = %q, want %q", tt.sel, tt.exp, got, tt.want)
		}
	}
}
