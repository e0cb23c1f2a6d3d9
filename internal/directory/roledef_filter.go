package directory

import (
	"strings"

	"github.com/graphdir/graphdir/internal/textlimit"
	"github.com/graphdir/graphdir/pkg/odata"
)

// FilterRoleDefinitions returns the definitions of defs that the $filter e
// matches (all when e is nil). The role definitions are the small fixed
// set compiled into graphdir (roleDefinitions), never stored, so the
// filter is evaluated over that list here rather than translated to SQL:
// there is no table to index and at most a dozen items to test.
//
// It takes what Graph documents for List unifiedRoleDefinitions: eq and ne
// on id, templateId, displayName, description (strings, compared as Graph
// does, case-insensitively), isBuiltIn and isEnabled (Booleans), combined
// with and, or, not and parentheses, and in (...) lists of strings.
func FilterRoleDefinitions(defs []*RoleDefinition, e odata.Expr) ([]*RoleDefinition, error) {
	if e == nil {
		return defs, nil
	}
	out := []*RoleDefinition{}
	for _, d := range defs {
		ok, err := matchRoleDefinition(d, e)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, d)
		}
	}
	return out, nil
}

// roleDefinitionValue returns the value of the filterable property named
// (case-insensitively) by path: a string, or a bool.
func roleDefinitionValue(d *RoleDefinition, path *odata.PathExpr) (any, error) {
	if path.Base != nil || len(path.Segments) != 1 {
		return nil, errRoleDefinitionFilter()
	}
	switch name := path.Segments[0]; strings.ToLower(name) {
	case "id", "templateid":
		return d.ID, nil
	case "displayname":
		return d.DisplayName, nil
	case "description":
		return d.Description, nil
	case "isbuiltin", "isenabled":
		// Every definition graphdir serves is a built-in, enabled role.
		return true, nil
	default:
		return nil, (&Error{Kind: KindUnsupported,
			Message: "Unsupported filter on roleDefinitions: property '" + textlimit.Clip(name, 100) + "' cannot be filtered; use id, templateId, displayName, description, isBuiltIn or isEnabled."}).WithTarget(textlimit.Clip(name, 100))
	}
}

func errRoleDefinitionFilter() error {
	return Errorf(KindUnsupported, "Unsupported filter on roleDefinitions: only eq, ne and in on id, templateId, displayName, description, isBuiltIn and isEnabled, joined by and, or and not, are supported.")
}

// equalLiteral compares a property value with a literal of its type.
func equalLiteral(v any, lit *odata.Literal) (bool, error) {
	switch v := v.(type) {
	case string:
		if lit.Kind != odata.LitString && lit.Kind != odata.LitGUID {
			return false, errRoleDefinitionFilter()
		}
		return strings.EqualFold(v, lit.Value), nil
	case bool:
		if lit.Kind != odata.LitBool {
			return false, errRoleDefinitionFilter()
		}
		return v == (lit.Value == "true"), nil
	}
	return false, errRoleDefinitionFilter()
}

func matchRoleDefinition(d *RoleDefinition, e odata.Expr) (bool, error) {
	switch x := e.(type) {
	case *odata.BinaryExpr:
		switch x.Op {
		case odata.OpAnd, odata.OpOr:
			a, err := matchRoleDefinition(d, x.X)
			if err != nil {
				return false, err
			}
			b, err := matchRoleDefinition(d, x.Y)
			if err != nil {
				return false, err
			}
			if x.Op == odata.OpAnd {
				return a && b, nil
			}
			return a || b, nil
		case odata.OpEq, odata.OpNe:
			path, ok := x.X.(*odata.PathExpr)
			lit, ok2 := x.Y.(*odata.Literal)
			if !ok || !ok2 {
				return false, errRoleDefinitionFilter()
			}
			v, err := roleDefinitionValue(d, path)
			if err != nil {
				return false, err
			}
			eq, err := equalLiteral(v, lit)
			return eq == (x.Op == odata.OpEq), err
		}
	case *odata.UnaryExpr:
		if x.Op == odata.OpNot {
			m, err := matchRoleDefinition(d, x.X)
			return !m, err
		}
	case *odata.InExpr:
		path, ok := x.X.(*odata.PathExpr)
		if !ok {
			return false, errRoleDefinitionFilter()
		}
		v, err := roleDefinitionValue(d, path)
		if err != nil {
			return false, err
		}
		found := false
		for _, item := range x.List {
			lit, ok := item.(*odata.Literal)
			if !ok {
				return false, errRoleDefinitionFilter()
			}
			eq, err := equalLiteral(v, lit)
			if err != nil {
				return false, err
			}
			found = found || eq
		}
		return found, nil
	}
	return false, errRoleDefinitionFilter()
}
