package postgres

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/pkg/odata"
)

// Translation of $filter and $search syntax trees into one parameterised
// WHERE clause over users u.
//
// Null semantics. OData 4.01 evaluates a filter in three values (true,
// false, null) and selects a row only when it is true; SQL does the same
// with its own rules, which differ: in SQL "city = 'x'" is NULL for a null
// city, in OData "city eq 'x'" is false, so "not (city eq 'x')" selects the
// users without a city. Rather than wrap expressions in COALESCE (which
// hides them from indexes), the translator pushes negation down to the
// leaves: cond(e, want) returns SQL that is TRUE exactly when e evaluates
// to want (true or false) and FALSE or NULL otherwise. Then
//
//	cond(a and b, true)  = cond(a, true) AND cond(b, true)
//	cond(a and b, false) = cond(a, false) OR cond(b, false)
//	cond(a or b, true)   = cond(a, true) OR cond(b, true)
//	cond(a or b, false)  = cond(a, false) AND cond(b, false)
//	cond(not a, w)       = cond(a, !w)
//
// which is OData's three-valued logic (null and x is false or null, never
// true; not null is null). At the leaves:
//
//	eq, ne, in, gt, ge, lt, le  two-valued: never null. The positive form
//	                            is "col IS NOT NULL AND key op $n" (index
//	                            range), the negative form NOT(positive):
//	                            city ne 'x' and not(city eq 'x') select
//	                            null cities; city gt 'x' is false for them.
//	eq null, ne null            col IS NULL / col IS NOT NULL.
//	gt/ge/lt/le null            false (negated: true).
//	startsWith, endsWith,       null when the property is null (or the
//	contains                    argument is null): true form "col IS NOT
//	                            NULL AND key LIKE p", false form "col IS
//	                            NOT NULL AND key NOT LIKE p"; a null city
//	                            satisfies neither, so not startsWith(city,
//	                            'O') excludes it.
//	a Boolean property          accountEnabled: true form "= true", false
//	                            form "= false"; null satisfies neither.
//	any(), all()                quantified over the elements as OData
//	                            defines: any is false when the body is
//	                            false for every element, all is false when
//	                            it is false for one.
//
// Every value is bound as a parameter; strings are lower-cased by SQL's
// lower() on both sides so that the comparison uses exactly the function
// the expression indexes use. LIKE patterns are built in Go with %, _ and \
// escaped.

// elementSep separates collection elements in graphdir_elements_text.
const elementSep = "\x1f"

// compiler accumulates the arguments of one statement; $1 is the tenant.
type compiler struct {
	args []any
	// option names the query option being translated, for error targets.
	option string
	// scope is set inside a lambda body.
	scope *lambdaScope
	// disjunct counts the SQL ORs around the expression being translated.
	disjunct int
	// ext holds the tenant's extension definitions the query names, by
	// lower-cased name (extensions_query.go).
	ext map[string]*directory.ExtensionProperty
	// extArray writes extension predicates as id arrays, not EXISTS: a
	// count visits every match, and the array probes users_pkey instead
	// of letting the planner hash the whole users table.
	extArray bool
	// deleted is set when the statement lists deleted items, where
	// deletedDateTime is queryable (deleted.go).
	deleted bool
}

type lambdaScope struct {
	variable string
	prop     *userProperty
	alias    string // m (collection element) or i (identity row)
}

func newCompiler(tenantID string) *compiler { return &compiler{args: []any{tenantID}} }

func (c *compiler) bind(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

// ----- errors

func (c *compiler) unsupported(format string, args ...any) error {
	return &directory.Error{Kind: directory.KindUnsupported, Target: c.option, Message: fmt.Sprintf(format, args...)}
}

func (c *compiler) unknownProperty(name string) error {
	return c.unsupported("Property '%s' does not exist as a declared property or extension property.", name)
}

func (c *compiler) invalidClause(name string) error {
	return c.unsupported("Unsupported or invalid query filter clause specified for property '%s' of resource 'User'.", name)
}

// ----- operands

// operand is a comparable value of a row: a property, a lambda element or
// a collection count.
type operand struct {
	name string   // for messages
	kind propKind // kindString, kindStringNotNull, kindBool, kindDateTime, kindID, or kindCount/kindElement
	ops  opSet
	// notNull is the SQL test that the value is present; "" when the value
	// is never null.
	notNull string
	// isNull is the SQL test that the value is null ("" when never null).
	isNull string
	// key is the indexed, never-null comparison expression.
	key string
	// raw is lower(value) without COALESCE/COLLATE, for trigram LIKE.
	raw string
	// identityField is set for i/signInType etc.
	identityField string
	// attr is the user_attrs prop number of a filter-only property: its
	// positive forms read user_attrs (attrs_query.go).
	attr int16
}

// Further operand kinds that exist only in expressions.
const (
	kindCount   propKind = 100 + iota // coll/$count: integer, never null
	kindElement                       // element of a string collection inside a lambda, never null
)

// scalarOperand returns the operand of a scalar property of users u.
func scalarOperand(p *userProperty) operand {
	col := "u." + p.Column
	switch p.Kind {
	case kindString:
		key := "COALESCE(lower(" + col + "), '') COLLATE \"C\""
		if p.partial() {
			// Every use of key is guarded by notNull: no COALESCE needed
			// (the positive forms read user_attrs, whose value is this key).
			key = "lower(" + col + ") COLLATE \"C\""
		}
		return operand{name: p.Name, kind: p.Kind, ops: p.Ops,
			notNull: col + " IS NOT NULL", isNull: col + " IS NULL",
			key: key, raw: "lower(" + col + ")", attr: p.Attr}
	case kindStringNotNull:
		return operand{name: p.Name, kind: p.Kind, ops: p.Ops,
			key: "lower(" + col + ") COLLATE \"C\"", raw: "lower(" + col + ")"}
	case kindBool:
		return operand{name: p.Name, kind: p.Kind, ops: p.Ops,
			notNull: col + " IS NOT NULL", isNull: col + " IS NULL",
			key: "COALESCE(" + col + ", false)"}
	}
	if p.Kind == kindDateTime && directory.IsSignInActivity(p.Name) {
		// signInActivity's parts are null until the user's first
		// sign-in: eq null and ne must see that.
		return operand{name: p.Name, kind: p.Kind, ops: p.Ops, key: col,
			notNull: col + " IS NOT NULL", isNull: col + " IS NULL"}
	}
	return operand{name: p.Name, kind: p.Kind, ops: p.Ops, key: col}
}

// operand resolves e as a comparable value.
func (c *compiler) operand(e odata.Expr) (operand, error) {
	switch e := e.(type) {
	case *odata.PathExpr:
		if e.Base != nil || len(e.Segments) == 0 {
			return operand{}, c.unsupported("Unsupported query filter clause '%s'.", e)
		}
		if s := c.scope; s != nil && e.Segments[0] == s.variable {
			return c.lambdaOperand(e)
		}
		if c.scope != nil {
			if _, ok := lookupQueryProperty(e.Segments[0]); ok {
				return operand{}, c.unsupported("Inside the lambda over '%s' only the range variable '%s' can be used, not '%s'.", c.scope.prop.Name, c.scope.variable, e)
			}
		}
		if len(e.Segments) == 2 {
			// A complex property's part stored in a column of its own
			// (signInActivity/lastSignInDateTime).
			if p, ok := c.lookup(e.Segments[0] + "/" + e.Segments[1]); ok {
				return scalarOperand(p), nil
			}
		}
		p, err := c.property(e.Segments[0])
		if err != nil {
			return operand{}, err
		}
		if len(e.Segments) > 1 {
			return operand{}, c.invalidClause(p.Name)
		}
		switch p.Kind {
		case kindCollection, kindIdentities:
			return operand{}, c.unsupported("Property '%s' is a collection; use %s/any(...) or %s/$count.", p.Name, p.Name, p.Name)
		}
		return scalarOperand(p), nil
	case *odata.CountExpr:
		if e.Filter != nil || e.Collection.Base != nil || len(e.Collection.Segments) != 1 {
			return operand{}, c.unsupported("Unsupported query filter clause '%s'.", e)
		}
		if c.scope != nil {
			return operand{}, c.unsupported("$count is not supported inside a lambda.")
		}
		p, err := c.property(e.Collection.Segments[0])
		if err != nil {
			return operand{}, err
		}
		switch p.Kind {
		case kindCollection:
			return operand{name: p.Name + "/$count", kind: kindCount, ops: allowEq | allowRange, key: "cardinality(u." + p.Column + ")"}, nil
		case kindIdentities:
			// The userPrincipalName identity, derived from the NOT NULL
			// user_principal_name, is always there: count it as the API shows it.
			return operand{name: p.Name + "/$count", kind: kindCount, ops: allowEq | allowRange,
				key: "(SELECT count(*) + 1 FROM user_identities i WHERE i.tenant_id = u.tenant_id AND i.user_id = u.id)"}, nil
		}
		return operand{}, c.unsupported("Property '%s' is not a collection; $count applies to collections.", p.Name)
	case *odata.BinaryExpr:
		return operand{}, c.unsupported("The arithmetic operator '%s' is not supported in $filter.", e.Op)
	case *odata.CallExpr:
		return operand{}, c.unsupported("The function '%s' is not supported in $filter.", e.Name)
	}
	return operand{}, c.unsupported("Unsupported query filter clause '%s'.", e)
}

// property looks a name up in the allow-list, telling unknown properties
// from known ones that cannot be queried.
func (c *compiler) property(name string) (*userProperty, error) {
	if p, ok := c.lookup(name); ok {
		return p, nil
	}
	if dp, ok := directory.LookupPropertyFold(name); ok {
		return nil, c.invalidClause(dp.Name)
	}
	if d := c.extByName(name); d != nil {
		return nil, c.invalidClause(d.Name)
	}
	return nil, c.unknownProperty(name)
}

func (c *compiler) lambdaOperand(e *odata.PathExpr) (operand, error) {
	s := c.scope
	switch s.prop.Kind {
	case kindCollection:
		if len(e.Segments) != 1 {
			return operand{}, c.unsupported("The elements of '%s' are strings; '%s' has no properties.", s.prop.Name, e)
		}
		return operand{name: s.prop.Name, kind: kindElement, ops: elementOps,
			key: "lower(m.v)", raw: "lower(m.v)"}, nil
	case kindIdentities:
		if len(e.Segments) != 2 {
			return operand{}, c.unsupported("Use %s/issuer, %s/issuerAssignedId or %s/signInType inside identities/any(...).", s.variable, s.variable, s.variable)
		}
		f, ok := identityFields[strings.ToLower(e.Segments[1])]
		if !ok {
			return operand{}, c.unsupported("Property '%s' does not exist on objectIdentity; use issuer, issuerAssignedId or signInType.", e.Segments[1])
		}
		return operand{name: "identities/" + f.name, kind: kindElement, ops: identityFieldOps,
			key: "lower(i." + f.column + ") COLLATE \"C\"", identityField: f.name}, nil
	}
	return operand{}, c.unsupported("Unsupported query filter clause '%s'.", e)
}

// ----- values

// value type-checks literal l against o and returns the SQL of its
// comparison value (already lower-cased for strings).
func (c *compiler) value(o operand, l *odata.Literal) (string, error) {
	mismatch := func(want string) error {
		return c.unsupported("Property '%s' is of type %s; it cannot be compared with the %s value %s.", o.name, want, l.Kind, l)
	}
	switch o.kind {
	case kindString, kindStringNotNull, kindElement:
		if l.Kind != odata.LitString {
			return "", mismatch("Edm.String")
		}
		if err := c.checkUPNIdentity(o, l.Value); err != nil {
			return "", err
		}
		return "lower(" + c.bind(l.Value) + ")", nil
	case kindBool:
		if l.Kind != odata.LitBool {
			return "", mismatch("Edm.Boolean")
		}
		return c.bind(l.Value == "true") + "::boolean", nil
	case kindDateTime:
		if l.Kind != odata.LitDateTimeOffset {
			return "", mismatch("Edm.DateTimeOffset")
		}
		t, err := time.Parse(time.RFC3339Nano, l.Value)
		if err != nil {
			return "", c.unsupported("Invalid DateTimeOffset value %s for property '%s'.", l, o.name)
		}
		return c.bind(t) + "::timestamptz", nil
	case kindID:
		id, err := c.guid(o, l)
		if err != nil {
			return "", err
		}
		return c.bind(id) + "::uuid", nil
	case kindCount:
		if l.Kind != odata.LitInt {
			return "", mismatch("Edm.Int32")
		}
		n, err := strconv.ParseInt(l.Value, 10, 32)
		if err != nil {
			return "", c.unsupported("Invalid count %s for '%s'.", l, o.name)
		}
		return c.bind(n) + "::bigint", nil
	}
	return "", c.unsupported("Unsupported query filter clause for '%s'.", o.name)
}

func (c *compiler) guid(o operand, l *odata.Literal) (string, error) {
	if l.Kind != odata.LitString && l.Kind != odata.LitGUID {
		return "", c.unsupported("Property '%s' is of type Edm.String (a GUID); it cannot be compared with the %s value %s.", o.name, l.Kind, l)
	}
	if !directory.IsGUID(l.Value) {
		return "", &directory.Error{Kind: directory.KindInvalid, Target: c.option, Message: fmt.Sprintf("Invalid object identifier '%s'.", l.Value)}
	}
	return strings.ToLower(l.Value), nil
}

// checkUPNIdentity refuses predicates on the userPrincipalName identity:
// graphdir derives it from userPrincipalName rather than storing it, and,
// as in Graph, identities filters match the stored sign-in identities.
func (c *compiler) checkUPNIdentity(o operand, v string) error {
	if o.identityField == "signInType" && strings.EqualFold(v, "userPrincipalName") {
		return c.unsupported("The userPrincipalName identity cannot be filtered through identities; filter on userPrincipalName instead.")
	}
	return nil
}

// ----- boolean expressions

// cond returns SQL that is TRUE exactly when e evaluates to want.
func (c *compiler) cond(e odata.Expr, want bool) (string, error) {
	switch e := e.(type) {
	case *odata.BinaryExpr:
		switch e.Op {
		case odata.OpAnd, odata.OpOr:
			// and for true / or for false need both sides.
			both := (e.Op == odata.OpAnd) == want
			if !both {
				c.disjunct++
				defer func() { c.disjunct-- }()
			}
			x, err := c.cond(e.X, want)
			if err != nil {
				return "", err
			}
			y, err := c.cond(e.Y, want)
			if err != nil {
				return "", err
			}
			if both {
				return "(" + x + " AND " + y + ")", nil
			}
			return "(" + x + " OR " + y + ")", nil
		case odata.OpEq, odata.OpNe, odata.OpGt, odata.OpGe, odata.OpLt, odata.OpLe:
			return c.compare(e, want)
		case odata.OpHas:
			return "", c.unsupported("The 'has' operator is not supported.")
		}
		return "", c.unsupported("The arithmetic operator '%s' is not supported in $filter.", e.Op)
	case *odata.UnaryExpr:
		if e.Op == odata.OpNot {
			return c.cond(e.X, !want)
		}
		return "", c.unsupported("Arithmetic negation is not supported in $filter.")
	case *odata.InExpr:
		return c.in(e, want)
	case *odata.CallExpr:
		return c.call(e, want)
	case *odata.LambdaExpr:
		return c.lambda(e, want)
	case *odata.Literal:
		switch e.Kind {
		case odata.LitBool:
			if (e.Value == "true") == want {
				return "TRUE", nil
			}
			return "FALSE", nil
		case odata.LitNull:
			return "FALSE", nil
		}
		return "", c.unsupported("The $filter expression must be Boolean; %s is a %s value.", e, e.Kind)
	case *odata.PathExpr:
		o, err := c.operand(e)
		if err != nil {
			return "", err
		}
		if o.kind != kindBool {
			return "", c.unsupported("The $filter expression must be Boolean; '%s' is not.", o.name)
		}
		return "(" + o.notNull + " AND " + o.key + " = " + strconv.FormatBool(want) + ")", nil
	}
	return "", c.unsupported("Unsupported query filter clause '%s'.", e)
}

var mirrored = map[odata.BinaryOp]odata.BinaryOp{
	odata.OpEq: odata.OpEq, odata.OpNe: odata.OpNe,
	odata.OpGt: odata.OpLt, odata.OpGe: odata.OpLe, odata.OpLt: odata.OpGt, odata.OpLe: odata.OpGe,
}

var sqlOps = map[odata.BinaryOp]string{
	odata.OpEq: "=", odata.OpGt: ">", odata.OpGe: ">=", odata.OpLt: "<", odata.OpLe: "<=",
}

// compare translates a comparison of an operand with a literal.
func (c *compiler) compare(e *odata.BinaryExpr, want bool) (string, error) {
	x, y, op := e.X, e.Y, e.Op
	if _, ok := x.(*odata.Literal); ok {
		x, y, op = y, x, mirrored[op]
	}
	if _, ok := x.(*odata.Literal); ok {
		return "", c.unsupported("A comparison needs a property: '%s'.", e)
	}
	if d := c.extOf(x); d != nil {
		return c.extCompare(d, e, y, op, want)
	}
	o, err := c.operand(x)
	if err != nil {
		return "", err
	}
	l, ok := y.(*odata.Literal)
	if !ok {
		if _, isCall := y.(*odata.CallExpr); isCall {
			return "", c.unsupported("Unsupported query filter clause '%s': functions cannot be compared.", e)
		}
		return "", c.unsupported("Comparing '%s' with another expression is not supported; compare it with a literal value.", o.name)
	}
	if op == odata.OpNe { // two-valued: ne is not eq
		op, want = odata.OpEq, !want
	}
	if op == odata.OpEq && o.ops&allowEq == 0 || op != odata.OpEq && o.ops&allowRange == 0 {
		return "", c.unsupported("Operator '%s' is not supported for property '%s'.", e.Op, o.name)
	}
	if l.Kind == odata.LitNull {
		if op != odata.OpEq { // ordering comparisons with null are false
			return boolSQL(!want), nil
		}
		if o.isNull == "" {
			return boolSQL(!want), nil
		}
		if want {
			return o.isNull, nil
		}
		return o.notNull, nil
	}
	v, err := c.value(o, l)
	if err != nil {
		return "", err
	}
	if want && o.attr != 0 {
		return c.attrSet(o.attr, "a.value "+sqlOps[op]+" "+v), nil
	}
	return positive(o, o.key+" "+sqlOps[op]+" "+v, want), nil
}

// positive guards a two-valued comparison by the operand's presence and
// negates it for want == false.
func positive(o operand, cmp string, want bool) string {
	s := cmp
	if o.notNull != "" {
		s = o.notNull + " AND " + cmp
	}
	if want {
		return "(" + s + ")"
	}
	return "NOT (" + s + ")"
}

func boolSQL(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// in translates x in (a, b, ...): eq of each item, or'ed, as one = ANY.
func (c *compiler) in(e *odata.InExpr, want bool) (string, error) {
	if d := c.extOf(e.X); d != nil {
		return c.extIn(d, e, want)
	}
	o, err := c.operand(e.X)
	if err != nil {
		return "", err
	}
	if o.ops&allowEq == 0 {
		return "", c.unsupported("Operator 'in' is not supported for property '%s'.", o.name)
	}
	var strs []string
	var bools []bool
	var times []time.Time
	var ints []int64
	lits, hasNull, err := c.inLiterals(e, o.name)
	if err != nil {
		return "", err
	}
	for _, l := range lits {
		switch o.kind {
		case kindString, kindStringNotNull, kindElement:
			if l.Kind != odata.LitString {
				return "", c.unsupported("Property '%s' is of type Edm.String; it cannot be compared with the %s value %s.", o.name, l.Kind, l)
			}
			if err := c.checkUPNIdentity(o, l.Value); err != nil {
				return "", err
			}
			strs = append(strs, l.Value)
		case kindID:
			id, err := c.guid(o, l)
			if err != nil {
				return "", err
			}
			strs = append(strs, id)
		case kindBool:
			if l.Kind != odata.LitBool {
				return "", c.unsupported("Property '%s' is of type Edm.Boolean; it cannot be compared with the %s value %s.", o.name, l.Kind, l)
			}
			bools = append(bools, l.Value == "true")
		case kindDateTime:
			if l.Kind != odata.LitDateTimeOffset {
				return "", c.unsupported("Property '%s' is of type Edm.DateTimeOffset; it cannot be compared with the %s value %s.", o.name, l.Kind, l)
			}
			t, err := time.Parse(time.RFC3339Nano, l.Value)
			if err != nil {
				return "", c.unsupported("Invalid DateTimeOffset value %s for property '%s'.", l, o.name)
			}
			times = append(times, t)
		case kindCount:
			n, err := strconv.ParseInt(l.Value, 10, 32)
			if l.Kind != odata.LitInt || err != nil {
				return "", c.unsupported("'%s' is an integer; it cannot be compared with the %s value %s.", o.name, l.Kind, l)
			}
			ints = append(ints, n)
		}
	}
	var list string
	switch o.kind {
	case kindString, kindStringNotNull, kindElement:
		if len(strs) > 0 {
			list = "graphdir_lower_array(" + c.bind(pq.Array(strs)) + "::text[])"
		}
	case kindID:
		if len(strs) > 0 {
			list = c.bind(pq.Array(strs)) + "::uuid[]"
		}
	case kindBool:
		if len(bools) > 0 {
			list = c.bind(pq.Array(bools)) + "::boolean[]"
		}
	case kindDateTime:
		if len(times) > 0 {
			ts := make([]string, len(times))
			for i, t := range times {
				ts[i] = t.Format(time.RFC3339Nano)
			}
			list = c.bind(pq.Array(ts)) + "::timestamptz[]"
		}
	case kindCount:
		if len(ints) > 0 {
			list = c.bind(pq.Array(ints)) + "::bigint[]"
		}
	}
	var parts []string
	switch {
	case list != "" && want && o.attr != 0:
		if hasNull { // or'ed with the null test
			c.disjunct++
		}
		parts = append(parts, c.attrSet(o.attr, "a.value = ANY("+list+")"))
		if hasNull {
			c.disjunct--
		}
	case list != "":
		cmp := o.key + " = ANY(" + list + ")"
		if o.notNull != "" {
			cmp = o.notNull + " AND " + cmp
		}
		parts = append(parts, cmp)
	}
	if hasNull && o.isNull != "" {
		parts = append(parts, o.isNull)
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

// reverseRunes reverses s by characters, as PostgreSQL's reverse() does.
func reverseRunes(s string) string {
	r := []rune(s)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return string(r)
}

// likeEscape escapes LIKE's metacharacters (backslash is PostgreSQL's
// default escape character).
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// call translates startsWith, endsWith and contains.
func (c *compiler) call(e *odata.CallExpr, want bool) (string, error) {
	fn := e.Canonical
	switch fn {
	case "startswith", "endswith", "contains":
	default:
		return "", c.unsupported("The function '%s' is not supported in $filter.", e.Name)
	}
	if e.Recv != nil || len(e.Args) != 2 {
		return "", c.unsupported("%s takes two arguments: a property and a string.", e.Name)
	}
	if _, ok := e.Args[0].(*odata.Literal); ok {
		return "", c.unsupported("The first argument of %s must be a property.", e.Name)
	}
	if d := c.extOf(e.Args[0]); d != nil {
		return c.extCall(d, e, want)
	}
	o, err := c.operand(e.Args[0])
	if err != nil {
		return "", err
	}
	need := map[string]opSet{"startswith": allowStartsWith, "endswith": allowEndsWith, "contains": allowContains}[fn]
	if o.ops&need == 0 || o.kind == kindCount {
		if fn == "contains" && o.kind != kindCount && o.ops&allowStartsWith != 0 {
			return "", c.unsupported("Function '%s' is not supported for property '%s': as in Microsoft Graph, users support no contains; use startsWith, or $search=\"displayName:word\" for words of the name.", e.Name, o.name)
		}
		return "", c.unsupported("Function '%s' is not supported for property '%s'.", e.Name, o.name)
	}
	l, ok := e.Args[1].(*odata.Literal)
	if !ok {
		return "", c.unsupported("The second argument of %s must be a string literal.", e.Name)
	}
	if l.Kind == odata.LitNull { // string functions of null are null
		return "FALSE", nil
	}
	if l.Kind != odata.LitString {
		return "", c.unsupported("Property '%s' is of type Edm.String; %s cannot take the %s value %s.", o.name, e.Name, l.Kind, l)
	}
	if err := c.checkUPNIdentity(o, l.Value); err != nil {
		return "", err
	}
	var pattern, target string
	switch {
	case fn == "startswith":
		pattern, target = likeEscape(l.Value)+"%", o.key // btree range in "C"
	case fn == "endswith" && o.kind != kindElement:
		// A prefix of the reversed value: a btree range over
		// reverse(lower(col)) COLLATE "C" (00009). Reversing before
		// lower() is the same as after: lower() maps characters one to
		// one in the database's libc collation.
		pattern, target = likeEscape(reverseRunes(l.Value))+"%", "reverse("+o.raw+") COLLATE \"C\""
	case fn == "endswith":
		pattern, target = "%"+likeEscape(l.Value), o.raw // trigram (elements)
	default:
		pattern, target = "%"+likeEscape(l.Value)+"%", o.raw
	}
	if want && o.attr != 0 && fn == "startswith" {
		return c.attrSet(o.attr, "a.value LIKE lower("+c.bind(pattern)+")"), nil
	}
	like := " LIKE "
	if !want {
		like = " NOT LIKE "
	}
	s := target + like + "lower(" + c.bind(pattern) + ")"
	if o.notNull != "" {
		s = o.notNull + " AND " + s
	}
	return "(" + s + ")", nil
}

// lambda translates coll/any(v: body), coll/all(v: body) and coll/any().
func (c *compiler) lambda(e *odata.LambdaExpr, want bool) (string, error) {
	if c.scope != nil {
		return "", c.unsupported("Nested lambda expressions are not supported.")
	}
	if e.Collection.Base != nil || len(e.Collection.Segments) != 1 {
		return "", c.unsupported("Unsupported query filter clause '%s'.", e)
	}
	if d := c.extByName(e.Collection.Segments[0]); d != nil {
		return c.extLambda(d, e, want)
	}
	p, err := c.property(e.Collection.Segments[0])
	if err != nil {
		return "", err
	}
	if p.Kind != kindCollection && p.Kind != kindIdentities {
		return "", c.unsupported("Property '%s' is not a collection; %s applies to collections.", p.Name, e.Kind)
	}
	if e.Body == nil {
		if e.Kind == odata.LambdaAll {
			return "", c.unsupported("all() needs a condition.")
		}
		if p.Kind == kindIdentities { // the userPrincipalName identity is always there
			return boolSQL(want), nil
		}
		if want {
			return "(cardinality(u." + p.Column + ") > 0)", nil
		}
		return "(cardinality(u." + p.Column + ") = 0)", nil
	}
	scope := &lambdaScope{variable: e.Var, prop: p, alias: "m"}
	from := "unnest(u." + p.Column + ") AS m(v)"
	if p.Kind == kindIdentities {
		scope.alias = "i"
		from = "user_identities i WHERE i.tenant_id = u.tenant_id AND i.user_id = u.id AND"
	} else {
		from += " WHERE"
	}
	c.scope = scope
	defer func() { c.scope = nil }()

	// any(b) is true when b is true for some element, false when b is
	// false for every element; all(b) is true when b is true for every
	// element, false when b is false for some.
	exists := func(b string) string { return "EXISTS (SELECT 1 FROM " + from + " " + b + ")" }
	switch {
	case e.Kind == odata.LambdaAny && want:
		disjunct := c.disjunct
		c.disjunct = 0
		b, err := c.cond(e.Body, true)
		c.disjunct = disjunct
		if err != nil {
			return "", err
		}
		if p.Kind == kindIdentities && disjunct > 0 {
			// Under an OR a correlated EXISTS becomes a per-row filter; the
			// ids of the matching identities, computed once from their
			// index, keep the users side an index condition (BitmapOr).
			return "u.id = ANY(ARRAY(SELECT i.user_id FROM user_identities i WHERE i.tenant_id = $1 AND " + b + "))", nil
		}
		s := exists(b)
		if p.Kind == kindCollection {
			hint, err := c.hint(p, e.Body)
			if err != nil {
				return "", err
			}
			if hint != "" {
				// The hint is implied by the exact EXISTS and uses an index;
				// the collection indexes are partial (00009): only non-empty
				// collections are in them.
				s = "cardinality(u." + p.Column + ") > 0 AND " + hint + " AND " + s
			}
		}
		return "(" + s + ")", nil
	case e.Kind == odata.LambdaAny:
		b, err := c.cond(e.Body, false)
		if err != nil {
			return "", err
		}
		return "NOT " + exists("NOT "+b), nil
	case want: // all, true
		b, err := c.cond(e.Body, true)
		if err != nil {
			return "", err
		}
		return "NOT " + exists("NOT "+b), nil
	default: // all, false
		b, err := c.cond(e.Body, false)
		if err != nil {
			return "", err
		}
		return exists(b), nil
	}
}

// hint returns an indexable condition on the whole collection that every
// row satisfying any(body) satisfies, or "" when there is none (ne, not,
// an or with an unindexable side).
func (c *compiler) hint(p *userProperty, body odata.Expr) (string, error) {
	col := "u." + p.Column
	elements := "graphdir_elements_text(" + col + ") LIKE lower("
	switch e := body.(type) {
	case *odata.BinaryExpr:
		switch e.Op {
		case odata.OpAnd, odata.OpOr:
			x, err := c.hint(p, e.X)
			if err != nil {
				return "", err
			}
			y, err := c.hint(p, e.Y)
			if err != nil {
				return "", err
			}
			switch {
			case x != "" && y != "":
				if e.Op == odata.OpAnd {
					return "(" + x + " AND " + y + ")", nil
				}
				return "(" + x + " OR " + y + ")", nil
			case e.Op == odata.OpAnd:
				return x + y, nil
			}
			return "", nil
		case odata.OpEq:
			l, ok := e.Y.(*odata.Literal)
			if !ok {
				l, _ = e.X.(*odata.Literal)
			}
			if l == nil || l.Kind != odata.LitString {
				return "", nil
			}
			if p.ArrayIndex {
				return "graphdir_lower_array(" + col + ") @> ARRAY[lower(" + c.bind(l.Value) + ")]", nil
			}
			return elements + c.bind("%"+elementSep+likeEscape(l.Value)+elementSep+"%") + ")", nil
		}
	case *odata.InExpr:
		var vals []string
		for _, item := range e.List {
			if l, ok := item.(*odata.Literal); ok && l.Kind == odata.LitString {
				vals = append(vals, l.Value)
			}
		}
		if len(vals) == 0 || len(vals) != len(e.List) {
			return "", nil
		}
		if p.ArrayIndex {
			return "graphdir_lower_array(" + col + ") && graphdir_lower_array(" + c.bind(pq.Array(vals)) + "::text[])", nil
		}
		ors := make([]string, len(vals))
		for i, v := range vals {
			ors[i] = elements + c.bind("%"+elementSep+likeEscape(v)+elementSep+"%") + ")"
		}
		return "(" + strings.Join(ors, " OR ") + ")", nil
	case *odata.CallExpr:
		if len(e.Args) != 2 {
			return "", nil
		}
		l, ok := e.Args[1].(*odata.Literal)
		if !ok || l.Kind != odata.LitString {
			return "", nil
		}
		v := likeEscape(l.Value)
		switch e.Canonical {
		case "startswith":
			return elements + c.bind("%"+elementSep+v+"%") + ")", nil
		case "endswith":
			return elements + c.bind("%"+v+elementSep+"%") + ")", nil
		case "contains":
			return elements + c.bind("%"+v+"%") + ")", nil
		}
	}
	return "", nil
}

// inLiterals returns the non-null literals of an 'in' list and whether it
// also holds null; anything but a literal is refused, naming the property.
func (c *compiler) inLiterals(e *odata.InExpr, name string) (lits []*odata.Literal, hasNull bool, err error) {
	for _, item := range e.List {
		l, ok := item.(*odata.Literal)
		if !ok {
			return nil, false, c.unsupported("The 'in' list of '%s' must hold literal values.", name)
		}
		if l.Kind == odata.LitNull {
			hasNull = true
			continue
		}
		lits = append(lits, l)
	}
	return lits, hasNull, nil
}
