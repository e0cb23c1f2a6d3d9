package odata

import (
	"reflect"
	"strings"
)

// Expr is a node of a $filter (or $orderby) expression tree. Pos is the byte
// offset of the node's first character in the option value; String is the
// canonical text of the node, which parses back to an equal tree.
type Expr interface {
	Pos() int
	String() string
	exprNode()
}

// BinaryOp is an infix operator.
type BinaryOp int

// The binary operators, lowest precedence first.
const (
	OpOr BinaryOp = iota + 1
	OpAnd
	OpEq
	OpNe
	OpGt
	OpGe
	OpLt
	OpLe
	OpAdd
	OpSub
	OpMul
	OpDiv
	OpDivBy
	OpMod
	OpHas
)

var binaryOps = map[string]BinaryOp{
	"or": OpOr, "and": OpAnd, "eq": OpEq, "ne": OpNe, "gt": OpGt, "ge": OpGe, "lt": OpLt, "le": OpLe,
	"add": OpAdd, "sub": OpSub, "mul": OpMul, "div": OpDiv, "divby": OpDivBy, "mod": OpMod, "has": OpHas,
}

// String returns the operator's canonical (lower-case) spelling.
func (op BinaryOp) String() string {
	for k, v := range binaryOps {
		if v == op {
			return k
		}
	}
	return "?"
}

// Precedence levels used by the parser and the printer. OData's table, from
// lowest: or, and, not (applies to a whole comparison), eq/ne, relational,
// additive, multiplicative, unary minus, has/in; primary expressions bind
// tightest.
const (
	precLowest = 0
	precOr     = 10
	precAnd    = 20
	precNot    = 25
	precEq     = 30
	precRel    = 40
	precAdd    = 50
	precMul    = 60
	precNeg    = 70
	precHas    = 80
	precPrim   = 100
)

// Precedence returns the binding strength of the operator (higher binds
// tighter).
func (op BinaryOp) Precedence() int {
	switch op {
	case OpOr:
		return precOr
	case OpAnd:
		return precAnd
	case OpEq, OpNe:
		return precEq
	case OpGt, OpGe, OpLt, OpLe:
		return precRel
	case OpAdd, OpSub:
		return precAdd
	case OpMul, OpDiv, OpDivBy, OpMod:
		return precMul
	case OpHas:
		return precHas
	}
	return precLowest
}

// UnaryOp is a prefix operator.
type UnaryOp int

// The unary operators.
const (
	OpNot UnaryOp = iota + 1 // not: logical negation of the following comparison
	OpNeg                    // -: arithmetic negation
)

// String returns "not" or "-".
func (op UnaryOp) String() string {
	if op == OpNot {
		return "not"
	}
	return "-"
}

// LiteralKind classifies a Literal.
type LiteralKind int

// The literal kinds.
const (
	LitNull           LiteralKind = iota + 1 // null
	LitBool                                  // true, false (Value is lower case)
	LitInt                                   // 42, -7 (Value as written; may exceed int64)
	LitDecimal                               // 4.0, -0.55
	LitDouble                                // 1e3, 2.5E-1, INF, -INF, NaN
	LitString                                // 'O''Brien' or, inside JSON, "x" (Value is the unescaped content)
	LitGUID                                  // 01234567-89ab-cdef-0123-456789abcdef (unquoted)
	LitDateTimeOffset                        // 2024-01-01T00:00:00Z, 2024-01-01T10:00:00.5+02:00
	LitDate                                  // 2024-01-01
	LitTimeOfDay                             // 13:20:00
	LitDuration                              // duration'P1D' (Value is the quoted content)
	LitBinary                                // binary'T0RhdGE'
	LitGeography                             // geography'SRID=0;Point(1 2)'
	LitGeometry                              // geometry'SRID=0;Point(1 2)'
	LitEnum                                  // Sales.Pattern'Yellow' (TypeName is the qualified enum type)
)

var literalKindNames = [...]string{
	LitNull: "null", LitBool: "Boolean", LitInt: "integer", LitDecimal: "decimal", LitDouble: "double",
	LitString: "string", LitGUID: "GUID", LitDateTimeOffset: "DateTimeOffset", LitDate: "Date",
	LitTimeOfDay: "TimeOfDay", LitDuration: "Duration", LitBinary: "Binary", LitGeography: "Geography",
	LitGeometry: "Geometry", LitEnum: "enum",
}

// String names the kind for messages.
func (k LiteralKind) String() string {
	if k > 0 && int(k) < len(literalKindNames) {
		return literalKindNames[k]
	}
	return "?"
}

// LambdaKind tells any from all.
type LambdaKind int

// The lambda operators.
const (
	LambdaAny LambdaKind = iota + 1
	LambdaAll
)

// String returns "any" or "all".
func (k LambdaKind) String() string {
	if k == LambdaAll {
		return "all"
	}
	return "any"
}

type (
	// BinaryExpr is X Op Y, e.g. displayName eq 'x', a and b, Price add 2.
	BinaryExpr struct {
		Op    BinaryOp
		X, Y  Expr
		OpPos int // offset of the operator word
	}

	// UnaryExpr is "not X" or "-X". The operand of not extends over a whole
	// comparison: "not a eq b and c" is "(not (a eq b)) and c".
	UnaryExpr struct {
		Op    UnaryOp
		X     Expr
		OpPos int
	}

	// Literal is a constant. Value is the canonical text (see LiteralKind);
	// for LitString and the typed kinds it is the unescaped content.
	Literal struct {
		Kind     LiteralKind
		Value    string
		TypeName string // prefix of typed literals: "duration", "Sales.Pattern", ...
		ValuePos int
	}

	// PathExpr is a member path: segments separated by '/'. A segment is a
	// property or navigation name ("identities"), a qualified type-cast name
	// ("Model.Manager"), $it, $root, $this, a parameter alias ("@p") or an
	// annotation ("@Core.Messages"). Base is nil for an ordinary path; it is
	// the preceding expression when the path continues after a function
	// call, a $filter segment or a key predicate (f()/Name). A path with a
	// Base may have no segments when it only names a collection (f()/$count).
	PathExpr struct {
		Base     Expr
		Segments []string
		StartPos int
	}

	// CallExpr is a function call. Recv is nil for a call at the start of an
	// expression (startswith(a,'b'), Model.Fn(x=1)) and the receiver for a
	// bound function in a path (Products/Model.Best()). Key predicates such
	// as Employees('A1') parse as calls too; the checker tells them apart.
	CallExpr struct {
		Recv      Expr
		Name      string // as written
		Canonical string // Name lower-cased: OData 4.01 function names are case-insensitive
		Args      []Expr // positional arguments, or *NamedArg for name=value parameters
		NamePos   int
	}

	// NamedArg is a name=value function parameter or key property.
	NamedArg struct {
		Name    string
		Value   Expr
		NamePos int
	}

	// InExpr is X in (a, b, ...) or X in [a, b, ...]. With parentheses a
	// list of two or more items holds only literals, as in the ABNF.
	InExpr struct {
		X       Expr
		List    []Expr
		Bracket bool // the list was written as a JSON array
		InPos   int
	}

	// ArrayExpr is a JSON array literal [a, b] (OData 4.01).
	ArrayExpr struct {
		Elems     []Expr
		LbrackPos int
	}

	// ObjectExpr is a JSON object literal {"name": value} (OData 4.01).
	ObjectExpr struct {
		Members   []ObjectMember
		LbracePos int
	}

	// LambdaExpr is Collection/any(Var: Body) or Collection/all(Var: Body).
	// For the empty form Collection/any() Var is "" and Body nil.
	LambdaExpr struct {
		Collection *PathExpr
		Kind       LambdaKind
		Var        string
		Body       Expr
		KindPos    int
	}

	// CountExpr is Collection/$count, optionally with a nested filter:
	// Collection/$count($filter=...).
	CountExpr struct {
		Collection *PathExpr
		Filter     Expr
		CountPos   int
	}

	// FilterExpr is the path segment Collection/$filter(Filter).
	FilterExpr struct {
		Collection *PathExpr
		Filter     Expr
		FilterPos  int
	}

	// KeyExpr is a key predicate after a non-name segment: X(key) or
	// X(name=value,...), e.g. Products/$filter(...)(ID='x').
	KeyExpr struct {
		X         Expr
		Keys      []Expr
		LparenPos int
	}
)

// ObjectMember is one "name": value pair of an ObjectExpr.
type ObjectMember struct {
	Name  string
	Value Expr
}

func (*BinaryExpr) exprNode() {}
func (*UnaryExpr) exprNode()  {}
func (*Literal) exprNode()    {}
func (*PathExpr) exprNode()   {}
func (*CallExpr) exprNode()   {}
func (*NamedArg) exprNode()   {}
func (*InExpr) exprNode()     {}
func (*ArrayExpr) exprNode()  {}
func (*ObjectExpr) exprNode() {}
func (*LambdaExpr) exprNode() {}
func (*CountExpr) exprNode()  {}
func (*FilterExpr) exprNode() {}
func (*KeyExpr) exprNode()    {}

// Pos implementations return the offset of the node's first character.

func (e *BinaryExpr) Pos() int { return e.X.Pos() }
func (e *UnaryExpr) Pos() int  { return e.OpPos }
func (e *Literal) Pos() int    { return e.ValuePos }
func (e *PathExpr) Pos() int   { return e.StartPos }
func (e *CallExpr) Pos() int {
	if e.Recv != nil {
		return e.Recv.Pos()
	}
	return e.NamePos
}
func (e *NamedArg) Pos() int   { return e.NamePos }
func (e *InExpr) Pos() int     { return e.X.Pos() }
func (e *ArrayExpr) Pos() int  { return e.LbrackPos }
func (e *ObjectExpr) Pos() int { return e.LbracePos }
func (e *LambdaExpr) Pos() int { return e.Collection.Pos() }
func (e *CountExpr) Pos() int  { return e.Collection.Pos() }
func (e *FilterExpr) Pos() int { return e.Collection.Pos() }
func (e *KeyExpr) Pos() int    { return e.X.Pos() }

// Equal reports whether two trees (Expr, SearchExpr, OrderItem, SelectItem,
// Query or slices of them) are equal ignoring positions, i.e. ignoring every
// int field whose name ends in "Pos".
func Equal(a, b any) bool {
	return equalValue(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equalValue(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Interface, reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValue(a.Elem(), b.Elem())
	case reflect.Struct:
		t := a.Type()
		for i := 0; i < a.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Int && strings.HasSuffix(f.Name, "Pos") {
				continue
			}
			if !equalValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !equalValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !equalValue(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	}
	return a.Interface() == b.Interface()
}
