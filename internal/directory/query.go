package directory

import (
	"slices"
	"strings"

	"github.com/graphdir/graphdir/pkg/odata"
)

// ReferencedProperties returns the user properties q's $filter, $search
// and $orderby refer to, each once, in order of first appearance: filter,
// then search, then orderby. Names come back canonical when the property
// table knows them (LookupPropertyFold) and as written otherwise, so a
// permission check sees unknown names too. A lambda's collection counts
// (identities for identities/any(i:i/issuer eq 'x')); the members of its
// range variable do not, as they are parts of that one property. Function
// names, literals and the range variables themselves are not properties.
func ReferencedProperties(q ListQuery) []string {
	var out []string
	add := func(name string) {
		if name == "" || strings.HasPrefix(name, "$") || strings.HasPrefix(name, "@") {
			return
		}
		if p, ok := LookupPropertyFold(name); ok {
			name = p.Name
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	var walk func(e odata.Expr, vars []string)
	walkPath := func(pe *odata.PathExpr, vars []string) {
		if pe == nil {
			return
		}
		if pe.Base != nil {
			walk(pe.Base, vars)
			return
		}
		if len(pe.Segments) > 0 && !slices.Contains(vars, pe.Segments[0]) {
			add(pe.Segments[0])
		}
	}
	walk = func(e odata.Expr, vars []string) {
		switch x := e.(type) {
		case nil:
		case *odata.BinaryExpr:
			walk(x.X, vars)
			walk(x.Y, vars)
		case *odata.UnaryExpr:
			walk(x.X, vars)
		case *odata.PathExpr:
			walkPath(x, vars)
		case *odata.CallExpr:
			if x.Recv != nil {
				walk(x.Recv, vars)
			}
			for _, a := range x.Args {
				walk(a, vars)
			}
		case *odata.NamedArg:
			walk(x.Value, vars)
		case *odata.InExpr:
			walk(x.X, vars)
			for _, it := range x.List {
				walk(it, vars)
			}
		case *odata.ArrayExpr:
			for _, it := range x.Elems {
				walk(it, vars)
			}
		case *odata.ObjectExpr:
			for _, m := range x.Members {
				walk(m.Value, vars)
			}
		case *odata.LambdaExpr:
			walkPath(x.Collection, vars)
			if x.Body != nil {
				walk(x.Body, append(slices.Clip(vars), x.Var))
			}
		case *odata.CountExpr:
			walkPath(x.Collection, vars)
			walk(x.Filter, vars)
		case *odata.FilterExpr:
			walkPath(x.Collection, vars)
			walk(x.Filter, vars)
		case *odata.KeyExpr:
			walk(x.X, vars)
			for _, k := range x.Keys {
				walk(k, vars)
			}
		}
	}
	walk(q.Filter, nil)
	var walkSearch func(e odata.SearchExpr)
	walkSearch = func(e odata.SearchExpr) {
		switch x := e.(type) {
		case *odata.SearchTerm:
			add(x.Property)
		case *odata.SearchBinary:
			walkSearch(x.X)
			walkSearch(x.Y)
		case *odata.SearchNot:
			walkSearch(x.X)
		}
	}
	walkSearch(q.Search)
	for _, o := range q.OrderBy {
		walk(o.Expr, nil)
	}
	return out
}
