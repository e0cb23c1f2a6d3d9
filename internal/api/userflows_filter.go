package api

import (
	"strings"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// The $filter subset of GET /identity/authenticationEventsFlows: eq and ne
// on id and displayName, startsWith on displayName, and the any() forms
// Graph documents (a flow offering an identity provider, collecting an
// attribute, including an application), joined by and, or, not. A tenant
// has few flows, so the filter runs over the list the store returns whole.

type flowMatch func(f *directory.UserFlowDefinition) bool

func errFlowFilter() error {
	return (&directory.Error{Kind: directory.KindUnsupported,
		Message: "Unsupported filter on authenticationEventsFlows: graphdir supports id and displayName (eq, ne), startsWith(displayName,'…'), " +
			"and any() on identityProviders/id, attributes/id and conditions/applications/includeApplications/appId."}).WithTarget("$filter")
}

// compileFlowFilter turns e into a predicate (always true for nil).
func compileFlowFilter(e odata.Expr) (flowMatch, error) {
	if e == nil {
		return func(*directory.UserFlowDefinition) bool { return true }, nil
	}
	switch x := e.(type) {
	case *odata.BinaryExpr:
		switch x.Op {
		case odata.OpAnd, odata.OpOr:
			l, err := compileFlowFilter(x.X)
			if err != nil {
				return nil, err
			}
			r, err := compileFlowFilter(x.Y)
			if err != nil {
				return nil, err
			}
			if x.Op == odata.OpAnd {
				return func(f *directory.UserFlowDefinition) bool { return l(f) && r(f) }, nil
			}
			return func(f *directory.UserFlowDefinition) bool { return l(f) || r(f) }, nil
		case odata.OpEq, odata.OpNe:
			prop, val, ok := pathEqString(x, "")
			if !ok {
				return nil, errFlowFilter()
			}
			neg := x.Op == odata.OpNe
			var get func(f *directory.UserFlowDefinition) string
			switch strings.ToLower(prop) {
			case "id":
				get = func(f *directory.UserFlowDefinition) string { return f.ID }
			case "displayname":
				get = func(f *directory.UserFlowDefinition) string { return f.DisplayName }
			default:
				return nil, errFlowFilter()
			}
			return func(f *directory.UserFlowDefinition) bool { return strings.EqualFold(get(f), val) != neg }, nil
		}
	case *odata.UnaryExpr:
		if x.Op == odata.OpNot {
			m, err := compileFlowFilter(x.X)
			if err != nil {
				return nil, err
			}
			return func(f *directory.UserFlowDefinition) bool { return !m(f) }, nil
		}
	case *odata.CallExpr:
		if x.Recv == nil && x.Canonical == "startswith" && len(x.Args) == 2 {
			p, ok1 := x.Args[0].(*odata.PathExpr)
			lit, ok2 := x.Args[1].(*odata.Literal)
			if ok1 && ok2 && p.Base == nil && len(p.Segments) == 1 && strings.EqualFold(p.Segments[0], "displayName") && lit.Kind == odata.LitString {
				prefix := strings.ToLower(lit.Value)
				return func(f *directory.UserFlowDefinition) bool {
					return strings.HasPrefix(strings.ToLower(f.DisplayName), prefix)
				}, nil
			}
		}
	case *odata.LambdaExpr:
		return compileFlowLambda(x)
	}
	return nil, errFlowFilter()
}

// pathEqString reads "[v/]prop eq 'value'": the property name after the
// lambda variable v ("" for none) and the string.
func pathEqString(b *odata.BinaryExpr, v string) (string, string, bool) {
	p, ok1 := b.X.(*odata.PathExpr)
	lit, ok2 := b.Y.(*odata.Literal)
	if !ok1 || !ok2 || p.Base != nil || (lit.Kind != odata.LitString && lit.Kind != odata.LitGUID) {
		return "", "", false
	}
	segs := p.Segments
	if v != "" {
		if len(segs) != 2 || segs[0] != v {
			return "", "", false
		}
		segs = segs[1:]
	}
	if len(segs) != 1 {
		return "", "", false
	}
	return segs[0], lit.Value, true
}

// compileFlowLambda serves Graph's documented any() filters. Type-cast
// segments (microsoft.graph.… or graph.…) in the collection path are
// skipped, as they name the one type graphdir serves.
func compileFlowLambda(l *odata.LambdaExpr) (flowMatch, error) {
	if l.Kind != odata.LambdaAny || l.Body == nil || l.Collection == nil || l.Collection.Base != nil {
		return nil, errFlowFilter()
	}
	var path []string
	for _, s := range l.Collection.Segments {
		low := strings.ToLower(s)
		if strings.HasPrefix(low, "microsoft.graph.") || strings.HasPrefix(low, "graph.") {
			continue
		}
		path = append(path, low)
	}
	body, ok := l.Body.(*odata.BinaryExpr)
	if !ok || body.Op != odata.OpEq {
		return nil, errFlowFilter()
	}
	prop, val, ok := pathEqString(body, l.Var)
	if !ok {
		return nil, errFlowFilter()
	}
	prop = strings.ToLower(prop)
	var items func(f *directory.UserFlowDefinition) []string
	switch {
	case strings.Join(path, "/") == "onauthenticationmethodloadstart/identityproviders" && prop == "id":
		items = func(f *directory.UserFlowDefinition) []string { return f.IdentityProviders }
	case strings.Join(path, "/") == "onattributecollection/attributes" && prop == "id":
		items = func(f *directory.UserFlowDefinition) []string {
			ids := make([]string, len(f.Attributes))
			for i, a := range f.Attributes {
				ids[i] = a.ID
			}
			return ids
		}
	case strings.Join(path, "/") == "conditions/applications/includeapplications" && prop == "appid":
		items = func(f *directory.UserFlowDefinition) []string { return f.AppIDs }
	default:
		return nil, errFlowFilter()
	}
	return func(f *directory.UserFlowDefinition) bool {
		for _, it := range items(f) {
			if strings.EqualFold(it, val) {
				return true
			}
		}
		return false
	}, nil
}

// compileAppFilter is the $filter of a flow's includeApplications: appId
// eq and ne, joined by and, or, not.
func compileAppFilter(e odata.Expr) (func(appID string) bool, error) {
	unsupported := (&directory.Error{Kind: directory.KindUnsupported,
		Message: "Unsupported filter on includeApplications: graphdir supports appId eq and ne, joined by and, or, not."}).WithTarget("$filter")
	if e == nil {
		return func(string) bool { return true }, nil
	}
	switch x := e.(type) {
	case *odata.BinaryExpr:
		switch x.Op {
		case odata.OpAnd, odata.OpOr:
			l, err := compileAppFilter(x.X)
			if err != nil {
				return nil, err
			}
			r, err := compileAppFilter(x.Y)
			if err != nil {
				return nil, err
			}
			if x.Op == odata.OpAnd {
				return func(a string) bool { return l(a) && r(a) }, nil
			}
			return func(a string) bool { return l(a) || r(a) }, nil
		case odata.OpEq, odata.OpNe:
			prop, val, ok := pathEqString(x, "")
			if !ok || !strings.EqualFold(prop, "appId") {
				return nil, unsupported
			}
			neg := x.Op == odata.OpNe
			return func(a string) bool { return strings.EqualFold(a, val) != neg }, nil
		}
	case *odata.UnaryExpr:
		if x.Op == odata.OpNot {
			m, err := compileAppFilter(x.X)
			if err != nil {
				return nil, err
			}
			return func(a string) bool { return !m(a) }, nil
		}
	}
	return nil, unsupported
}
