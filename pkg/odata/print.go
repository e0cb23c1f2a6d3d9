package odata

import (
	"fmt"
	"strings"
)

// The canonical form: lower-case word operators and keywords, single-quoted
// strings (JSON strings become single-quoted too, except object member
// names), no optional whitespace beyond one space around word operators,
// and parentheses only where the tree needs them. Parsing the canonical
// form yields an equal tree (see Equal).

// exprPrec is the precedence of the construct at the top of e.
func exprPrec(e Expr) int {
	switch e := e.(type) {
	case *BinaryExpr:
		return e.Op.Precedence()
	case *UnaryExpr:
		if e.Op == OpNot {
			return precNot
		}
		return precNeg
	case *InExpr:
		return precHas
	}
	return precPrim
}

func isNot(e Expr) bool {
	u, ok := e.(*UnaryExpr)
	return ok && u.Op == OpNot
}

func paren(s string, need bool) string {
	if need {
		return "(" + s + ")"
	}
	return s
}

// String prints X op Y. A "not" operand of a comparison or tighter operator
// is parenthesised because not extends to the right over a comparison.
func (e *BinaryExpr) String() string {
	p := e.Op.Precedence()
	x := paren(e.X.String(), exprPrec(e.X) < p || p >= precEq && isNot(e.X))
	y := paren(e.Y.String(), exprPrec(e.Y) <= p || p >= precEq && isNot(e.Y))
	return x + " " + e.Op.String() + " " + y
}

// String prints "not X" or "-X".
func (e *UnaryExpr) String() string {
	x := e.X.String()
	if e.Op == OpNot {
		_, unary := e.X.(*UnaryExpr)
		return "not " + paren(x, exprPrec(e.X) < precEq && !unary)
	}
	if isNot(e.X) || exprPrec(e.X) < precHas && !isNeg(e.X) {
		return "-(" + x + ")"
	}
	if x != "" && isDigit(x[0]) || strings.HasPrefix(x, "INF") {
		return "- " + x // "-5" would read back as the literal -5
	}
	return "-" + x
}

func isNeg(e Expr) bool {
	u, ok := e.(*UnaryExpr)
	return ok && u.Op == OpNeg
}

// quoteString returns s as an OData single-quoted string.
func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteJSON returns s as a JSON string; bytes that are not valid UTF-8 are
// kept as they are so that the value reads back unchanged.
func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// String prints the literal in canonical form.
func (e *Literal) String() string {
	switch e.Kind {
	case LitString:
		return quoteString(e.Value)
	case LitDuration, LitBinary, LitGeography, LitGeometry, LitEnum:
		return e.TypeName + quoteString(e.Value)
	}
	return e.Value
}

// String prints the path, segments joined by '/'.
func (e *PathExpr) String() string {
	s := strings.Join(e.Segments, "/")
	if e.Base != nil {
		if s == "" {
			return e.Base.String()
		}
		return e.Base.String() + "/" + s
	}
	return s
}

func joinExprs(list []Expr) string {
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = x.String()
	}
	return strings.Join(parts, ",")
}

// String prints [Recv/]Name(args).
func (e *CallExpr) String() string {
	s := e.Name + "(" + joinExprs(e.Args) + ")"
	if e.Recv != nil {
		return e.Recv.String() + "/" + s
	}
	return s
}

// String prints Name=Value.
func (e *NamedArg) String() string { return e.Name + "=" + e.Value.String() }

// String prints X in (list) or X in [list].
func (e *InExpr) String() string {
	x := paren(e.X.String(), exprPrec(e.X) < precHas || isNot(e.X))
	if e.Bracket {
		return x + " in [" + joinExprs(e.List) + "]"
	}
	return x + " in (" + joinExprs(e.List) + ")"
}

// String prints the JSON array.
func (e *ArrayExpr) String() string { return "[" + joinExprs(e.Elems) + "]" }

// String prints the JSON object.
func (e *ObjectExpr) String() string {
	parts := make([]string, len(e.Members))
	for i, m := range e.Members {
		parts[i] = quoteJSON(m.Name) + ":" + m.Value.String()
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// String prints Collection/any(v:body).
func (e *LambdaExpr) String() string {
	if e.Body == nil {
		return e.Collection.String() + "/" + e.Kind.String() + "()"
	}
	return e.Collection.String() + "/" + e.Kind.String() + "(" + e.Var + ":" + e.Body.String() + ")"
}

// String prints Collection/$count[($filter=...)].
func (e *CountExpr) String() string {
	if e.Filter != nil {
		return e.Collection.String() + "/$count($filter=" + e.Filter.String() + ")"
	}
	return e.Collection.String() + "/$count"
}

// String prints Collection/$filter(expr).
func (e *FilterExpr) String() string {
	return e.Collection.String() + "/$filter(" + e.Filter.String() + ")"
}

// String prints X(keys).
func (e *KeyExpr) String() string { return e.X.String() + "(" + joinExprs(e.Keys) + ")" }

// String prints the order item as "expr" or "expr desc".
func (o OrderItem) String() string {
	if o.Desc {
		return o.Expr.String() + " desc"
	}
	return o.Expr.String()
}

// String prints the select item.
func (s SelectItem) String() string {
	var b strings.Builder
	if s.Star {
		b.WriteString("*")
	} else {
		b.WriteString(strings.Join(s.Path, "/"))
	}
	if s.Params != nil {
		b.WriteString("(" + strings.Join(s.Params, ",") + ")")
	}
	if s.Options != nil {
		b.WriteString("(" + s.Options.encode(";") + ")")
	}
	return b.String()
}

// FormatOrderBy prints an $orderby list in canonical form.
func FormatOrderBy(items []OrderItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.String()
	}
	return strings.Join(parts, ",")
}

// FormatSelect prints a $select list in canonical form.
func FormatSelect(items []SelectItem) string {
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = it.String()
	}
	return strings.Join(parts, ",")
}
