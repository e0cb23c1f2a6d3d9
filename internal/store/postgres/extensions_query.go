package postgres

import (
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// Translation of $filter and $orderby on directory extension properties.
//
// Extension values live in user_extension_values x, one row per value, so
// a predicate on one is a set of user ids: the rows of that definition
// whose value satisfies it, an index range of
// (tenant_id, ext_id, value, user_id). With the null semantics of query.go
// (cond(e, want) is TRUE exactly when e evaluates to want), for a
// single-valued property whose value is missing (no row) being null:
//
//	eq, ne, in, gt, ge, lt, le  two-valued: want true is "in the set of
//	                            users whose value compares", want false is
//	                            "not in it" (users without a value included)
//	eq null                     not in the set of users with any value
//	startsWith                  null for a missing value: want true is
//	                            "some value LIKE p", want false "some value
//	                            NOT LIKE p"
//
// The set is written EXISTS (SELECT 1 ... WHERE x.user_id = u.id ...) at
// the top level of a listing, where the planner turns it into a semi-join
// driven by the values index (and can stop at the page's LIMIT), and
// u.id = ANY(ARRAY(SELECT x.user_id ...)) under an OR, where a correlated
// EXISTS would become a per-row filter, and in counts, which visit every
// match anyway: the array is computed once from the values index and
// probes users_pkey (as the identities lambda does, query.go).
//
// A multi-valued String is a collection: ext/any(v: body) and
// ext/all(v: body) with eq, ne, in and startsWith on v (and, or, not),
// and ext/any().
//
// $orderby on a single-valued extension sorts by correlated subqueries on
// the values primary key, with the same never-null components as a
// declared property (presence first, then the value), so keyset paging
// works unchanged: the cursor carries the value as text.

// extByName returns the definition of an extension property the query
// names, nil when name is not one (or is unknown: the caller then refuses
// it as an unknown property).
func (c *compiler) extByName(name string) *directory.ExtensionProperty {
	if c.ext == nil || !directory.IsExtensionName(name) {
		return nil
	}
	return c.ext[strings.ToLower(name)]
}

// extOf returns the definition e refers to, when e is a bare extension
// property path outside a lambda.
func (c *compiler) extOf(e odata.Expr) *directory.ExtensionProperty {
	pe, ok := e.(*odata.PathExpr)
	if !ok || pe.Base != nil || len(pe.Segments) != 1 || c.scope != nil {
		return nil
	}
	return c.extByName(pe.Segments[0])
}

// extColumn is the indexed value expression of d's rows in x, and the
// odata literal kind (and Edm name) it compares with.
func extColumn(d *directory.ExtensionProperty) (key string, kind odata.LiteralKind, edm string) {
	switch d.DataType {
	case directory.ExtensionInteger:
		return "x.value_num", odata.LitInt, "Edm.Int32"
	case directory.ExtensionLargeInteger:
		return "x.value_num", odata.LitInt, "Edm.Int64"
	case directory.ExtensionBoolean:
		return "x.value_bool", odata.LitBool, "Edm.Boolean"
	case directory.ExtensionDateTime:
		return "x.value_time", odata.LitDateTimeOffset, "Edm.DateTimeOffset"
	}
	return `lower(x.value_text) COLLATE "C"`, odata.LitString, "Edm.String"
}

// extValue type-checks l against d and binds it.
func (c *compiler) extValue(d *directory.ExtensionProperty, l *odata.Literal) (string, error) {
	_, kind, edm := extColumn(d)
	if l.Kind != kind {
		return "", c.unsupported("Property '%s' is of type %s; it cannot be compared with the %s value %s.", d.Name, edm, l.Kind, l)
	}
	switch kind {
	case odata.LitInt:
		n, err := strconv.ParseInt(l.Value, 10, 64)
		if err != nil {
			return "", c.unsupported("Invalid integer %s for property '%s'.", l, d.Name)
		}
		return c.bind(n) + "::bigint", nil
	case odata.LitBool:
		return c.bind(l.Value == "true") + "::boolean", nil
	case odata.LitDateTimeOffset:
		t, err := time.Parse(time.RFC3339Nano, l.Value)
		if err != nil {
			return "", c.unsupported("Invalid DateTimeOffset value %s for property '%s'.", l, d.Name)
		}
		return c.bind(t) + "::timestamptz", nil
	}
	return "lower(" + c.bind(l.Value) + ")", nil
}

// extSet is SQL that is TRUE for the users having a value of d that
// satisfies pred (over x).
func (c *compiler) extSet(d *directory.ExtensionProperty, pred string) string {
	ext := c.bind(d.ID) + "::uuid"
	if pred != "" {
		pred = " AND " + pred
	}
	return c.userSet("user_extension_values", "x", "x.ext_id = "+ext+pred)
}

func (c *compiler) extNotCollection(d *directory.ExtensionProperty) error {
	if d.IsMultiValued {
		return c.unsupported("Property '%s' is a collection; use %s/any(v: v eq '...').", d.Name, d.Name)
	}
	return nil
}

// extCompare translates d op l (op already mirrored so that d is on the left).
func (c *compiler) extCompare(d *directory.ExtensionProperty, e *odata.BinaryExpr, y odata.Expr, op odata.BinaryOp, want bool) (string, error) {
	if err := c.extNotCollection(d); err != nil {
		return "", err
	}
	l, ok := y.(*odata.Literal)
	if !ok {
		return "", c.unsupported("Comparing '%s' with another expression is not supported; compare it with a literal value.", d.Name)
	}
	if op == odata.OpNe {
		op, want = odata.OpEq, !want
	}
	if op != odata.OpEq && d.DataType == directory.ExtensionBoolean {
		return "", c.unsupported("Operator '%s' is not supported for property '%s'.", e.Op, d.Name)
	}
	if l.Kind == odata.LitNull {
		if op != odata.OpEq {
			return boolSQL(!want), nil
		}
		if want {
			return "NOT " + c.extSet(d, ""), nil
		}
		return c.extSet(d, ""), nil
	}
	v, err := c.extValue(d, l)
	if err != nil {
		return "", err
	}
	key, _, _ := extColumn(d)
	if !want {
		return "NOT " + c.extSet(d, key+" "+sqlOps[op]+" "+v), nil
	}
	return c.extSet(d, key+" "+sqlOps[op]+" "+v), nil
}

// extIn translates d in (...).
func (c *compiler) extIn(d *directory.ExtensionProperty, e *odata.InExpr, want bool) (string, error) {
	if err := c.extNotCollection(d); err != nil {
		return "", err
	}
	key, kind, _ := extColumn(d)
	var vals []string
	lits, hasNull, err := c.inLiterals(e, d.Name)
	if err != nil {
		return "", err
	}
	for _, l := range lits {
		if _, err := c.extValue(d, l); err != nil { // type check
			return "", err
		}
		c.args = c.args[:len(c.args)-1]
		vals = append(vals, l.Value)
	}
	var list string
	if len(vals) > 0 {
		switch kind {
		case odata.LitInt:
			ns := make([]int64, len(vals))
			for i, v := range vals {
				ns[i], _ = strconv.ParseInt(v, 10, 64)
			}
			list = c.bind(pq.Array(ns)) + "::bigint[]"
		case odata.LitBool:
			bs := make([]bool, len(vals))
			for i, v := range vals {
				bs[i] = v == "true"
			}
			list = c.bind(pq.Array(bs)) + "::boolean[]"
		case odata.LitDateTimeOffset:
			list = c.bind(pq.Array(vals)) + "::timestamptz[]"
		default:
			list = "graphdir_lower_array(" + c.bind(pq.Array(vals)) + "::text[])"
		}
	}
	var parts []string
	if list != "" {
		if hasNull {
			c.disjunct++
		}
		parts = append(parts, c.extSet(d, key+" = ANY("+list+")"))
		if hasNull {
			c.disjunct--
		}
	}
	if hasNull {
		parts = append(parts, "NOT "+c.extSet(d, ""))
	}
	if len(parts) == 0 {
		return boolSQL(!want), nil
	}
	s := "(" + strings.Join(parts, " OR ") + ")"
	if !want {
		return "NOT " + s, nil
	}
	return s, nil
}

// extCall translates startsWith(d, 'p').
func (c *compiler) extCall(d *directory.ExtensionProperty, e *odata.CallExpr, want bool) (string, error) {
	if err := c.extNotCollection(d); err != nil {
		return "", err
	}
	if e.Canonical != "startswith" || d.DataType != directory.ExtensionString {
		return "", c.unsupported("Function '%s' is not supported for property '%s'.", e.Name, d.Name)
	}
	l, ok := e.Args[1].(*odata.Literal)
	if !ok {
		return "", c.unsupported("The second argument of %s must be a string literal.", e.Name)
	}
	if l.Kind == odata.LitNull {
		return "FALSE", nil
	}
	if l.Kind != odata.LitString {
		return "", c.unsupported("Property '%s' is of type Edm.String; %s cannot take the %s value %s.", d.Name, e.Name, l.Kind, l)
	}
	like := " LIKE "
	if !want {
		like = " NOT LIKE "
	}
	key, _, _ := extColumn(d)
	return c.extSet(d, key+like+"lower("+c.bind(likeEscape(l.Value)+"%")+")"), nil
}

// extLambda translates d/any(v: body), d/all(v: body) and d/any() on a
// multi-valued String.
func (c *compiler) extLambda(d *directory.ExtensionProperty, e *odata.LambdaExpr, want bool) (string, error) {
	if !d.IsMultiValued {
		return "", c.unsupported("Property '%s' is not a collection; %s applies to collections.", d.Name, e.Kind)
	}
	if e.Body == nil {
		if e.Kind == odata.LambdaAll {
			return "", c.unsupported("all() needs a condition.")
		}
		if want {
			return c.extSet(d, ""), nil
		}
		return "NOT " + c.extSet(d, ""), nil
	}
	// Elements are never null, so a body is two-valued: false is not true.
	var body func(b odata.Expr, want bool) (string, error)
	elem := func(x odata.Expr) bool {
		pe, ok := x.(*odata.PathExpr)
		return ok && pe.Base == nil && len(pe.Segments) == 1 && pe.Segments[0] == e.Var
	}
	key := `lower(x.value_text) COLLATE "C"`
	neg := func(s string, want bool) string {
		if want {
			return "(" + s + ")"
		}
		return "NOT (" + s + ")"
	}
	body = func(b odata.Expr, want bool) (string, error) {
		switch b := b.(type) {
		case *odata.BinaryExpr:
			switch b.Op {
			case odata.OpAnd, odata.OpOr:
				x, err := body(b.X, want)
				if err != nil {
					return "", err
				}
				y, err := body(b.Y, want)
				if err != nil {
					return "", err
				}
				if (b.Op == odata.OpAnd) == want {
					return "(" + x + " AND " + y + ")", nil
				}
				return "(" + x + " OR " + y + ")", nil
			case odata.OpEq, odata.OpNe:
				x, y := b.X, b.Y
				if _, ok := x.(*odata.Literal); ok {
					x, y = y, x
				}
				l, ok := y.(*odata.Literal)
				if !elem(x) || !ok {
					return "", c.unsupported("Inside %s/%s(...) compare the range variable '%s' with a literal.", d.Name, e.Kind, e.Var)
				}
				w := want == (b.Op == odata.OpEq)
				if l.Kind == odata.LitNull {
					return boolSQL(!w), nil
				}
				if l.Kind != odata.LitString {
					return "", c.unsupported("The elements of '%s' are of type Edm.String; they cannot be compared with the %s value %s.", d.Name, l.Kind, l)
				}
				return neg(key+" = lower("+c.bind(l.Value)+")", w), nil
			}
		case *odata.UnaryExpr:
			if b.Op == odata.OpNot {
				return body(b.X, !want)
			}
		case *odata.InExpr:
			if !elem(b.X) {
				break
			}
			var vals []string
			for _, it := range b.List {
				l, ok := it.(*odata.Literal)
				if !ok || l.Kind != odata.LitString {
					return "", c.unsupported("The 'in' list of '%s' must hold string literals.", d.Name)
				}
				vals = append(vals, l.Value)
			}
			if len(vals) == 0 {
				return boolSQL(!want), nil
			}
			return neg(key+" = ANY(graphdir_lower_array("+c.bind(pq.Array(vals))+"::text[]))", want), nil
		case *odata.CallExpr:
			if b.Canonical != "startswith" || len(b.Args) != 2 || !elem(b.Args[0]) {
				break
			}
			l, ok := b.Args[1].(*odata.Literal)
			if !ok || l.Kind != odata.LitString {
				return "", c.unsupported("The second argument of %s must be a string literal.", b.Name)
			}
			return neg(key+" LIKE lower("+c.bind(likeEscape(l.Value)+"%")+")", want), nil
		}
		return "", c.unsupported("Unsupported query filter clause inside %s/%s(...): use eq, ne, in or startsWith on '%s'.", d.Name, e.Kind, e.Var)
	}
	switch {
	case e.Kind == odata.LambdaAny:
		b, err := body(e.Body, true)
		if err != nil {
			return "", err
		}
		if want {
			return c.extSet(d, b), nil
		}
		return "NOT " + c.extSet(d, b), nil
	default: // all: true when no element fails the body
		b, err := body(e.Body, false)
		if err != nil {
			return "", err
		}
		if want {
			return "NOT " + c.extSet(d, b), nil
		}
		return c.extSet(d, b), nil
	}
}

// ----- $orderby

// extSort is a sort key on a single-valued extension property: param is
// the bound definition id.
type extSort struct {
	def   *directory.ExtensionProperty
	param string
}

func (c *compiler) extSortKey(d *directory.ExtensionProperty, desc bool) (sortKey, error) {
	if d.IsMultiValued {
		return sortKey{}, c.unsupported("Unsupported sort property '%s' for 'User': it is a collection.", d.Name)
	}
	return sortKey{desc: desc, ext: &extSort{def: d, param: c.bind(d.ID) + "::uuid"}}, nil
}

// value is the correlated subquery reading expr of the user's value.
func (e *extSort) value(expr string) string {
	return "(SELECT " + expr + " FROM user_extension_values x WHERE x.tenant_id = u.tenant_id AND x.user_id = u.id AND x.ext_id = " +
		e.param + " AND x.ordinal = 0)"
}

func (e *extSort) raw() (v, zero string) {
	switch e.def.DataType {
	case directory.ExtensionInteger, directory.ExtensionLargeInteger:
		return e.value("x.value_num"), "0::bigint"
	case directory.ExtensionBoolean:
		return e.value("x.value_bool"), "false"
	case directory.ExtensionDateTime:
		return e.value("x.value_time"), "'-infinity'::timestamptz"
	}
	return e.value("lower(x.value_text)"), "''"
}

func (e *extSort) components() []string {
	v, zero := e.raw()
	key := "COALESCE(" + v + ", " + zero + ")"
	if e.def.DataType == directory.ExtensionString {
		key += ` COLLATE "C"`
	}
	return []string{"(" + v + " IS NOT NULL)", key}
}

func (e *extSort) cursorText() string {
	v, _ := e.raw()
	switch e.def.DataType {
	case directory.ExtensionDateTime:
		return `to_char(` + v + ` AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`
	case directory.ExtensionString:
		return v
	}
	return v + "::text"
}

func (c *compiler) extCursorValues(e *extSort, v *string) ([]string, error) {
	if v == nil {
		_, zero := e.raw()
		return []string{c.bind(false) + "::boolean", zero}, nil
	}
	present := c.bind(true) + "::boolean"
	switch e.def.DataType {
	case directory.ExtensionInteger, directory.ExtensionLargeInteger:
		n, err := strconv.ParseInt(*v, 10, 64)
		if err != nil {
			return nil, errInvalidCursor()
		}
		return []string{present, c.bind(n) + "::bigint"}, nil
	case directory.ExtensionBoolean:
		if *v != "true" && *v != "false" {
			return nil, errInvalidCursor()
		}
		return []string{present, c.bind(*v == "true") + "::boolean"}, nil
	case directory.ExtensionDateTime:
		t, err := time.Parse(time.RFC3339Nano, *v)
		if err != nil {
			return nil, errInvalidCursor()
		}
		return []string{present, c.bind(t) + "::timestamptz"}, nil
	}
	return []string{present, c.bind(*v) + "::text"}, nil
}
