package odata

import (
	"fmt"
	"strconv"
	"strings"
)

// parser is a recursive-descent parser with one token of look-ahead, in the
// manner of go/parser. It stops at the first error: error records it and
// panics with bailout, which only the entry points recover.
type parser struct {
	sc     scanner
	lim    Limits
	errors ErrorList

	// Look-ahead token.
	pos      int
	tok      Token
	lit, val string
	prevEnd  int // end offset of the previously consumed token

	depth      int
	nodes      int
	typeNameOK bool // the next primary may be a bare qualified type name (cast/isof argument)
}

func (p *parser) init(src string, lim Limits) {
	p.lim = lim.withDefaults()
	p.sc.init(src, p.error)
	p.next()
}

func (p *parser) next() {
	p.prevEnd = p.sc.offset
	p.pos, p.tok, p.lit, p.val = p.sc.scan()
}

func (p *parser) error(offset int, msg string) {
	p.errors = append(p.errors, &Error{Offset: offset, Msg: msg})
	panic(bailout{})
}

func (p *parser) limitError(offset int, msg string) {
	p.errors = append(p.errors, &Error{Offset: offset, Msg: msg, Limit: true})
	panic(bailout{})
}

// found describes the look-ahead token for "expected X, found Y" messages.
func (p *parser) found() string {
	if p.tok == EOF {
		return "end of input"
	}
	return "'" + p.lit + "'"
}

func (p *parser) errorExpected(what string) {
	p.error(p.pos, "expected "+what+", found "+p.found())
}

func (p *parser) expect(tok Token) int {
	pos := p.pos
	if p.tok != tok {
		p.errorExpected(tok.String())
	}
	p.next()
	return pos
}

// node counts one AST node against MaxNodes.
func (p *parser) node(pos int) {
	p.nodes++
	if p.nodes > p.lim.MaxNodes {
		p.limitError(pos, fmt.Sprintf("expression has more than %d nodes", p.lim.MaxNodes))
	}
}

// run checks the length and surrounding whitespace of src, sets up the
// parser and runs f, turning a bailout into the returned error.
func run(src string, lim Limits, f func(p *parser)) (err error) {
	p := &parser{}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			p.errors.Sort()
			err = p.errors.Err()
		}
	}()
	lim = lim.withDefaults()
	if len(src) > lim.MaxLength {
		return ErrorList{{Offset: lim.MaxLength, Msg: fmt.Sprintf("value longer than %d bytes", lim.MaxLength), Limit: true}}
	}
	// The ABNF allows whitespace only between tokens.
	if src != "" && isSpace(src[0]) {
		return ErrorList{{Offset: 0, Msg: "unexpected whitespace at start of value"}}
	}
	if n := len(strings.TrimRight(src, " \t")); n < len(src) {
		return ErrorList{{Offset: n, Msg: "unexpected whitespace at end of value"}}
	}
	p.init(src, lim)
	f(p)
	return nil
}

// ParseFilter parses a $filter value. Syntax only: the result need not be
// Boolean, and names, functions and types are not resolved.
func ParseFilter(s string) (Expr, error) { return DefaultLimits.ParseFilter(s) }

// ParseExpr parses any OData common expression (the grammar of $filter and
// of $orderby items); it accepts exactly what ParseFilter accepts.
func ParseExpr(s string) (Expr, error) { return DefaultLimits.ParseFilter(s) }

// ParseFilter parses a $filter value within the limits l.
func (l Limits) ParseFilter(s string) (Expr, error) {
	var x Expr
	err := run(s, l, func(p *parser) {
		x = p.parseExpr()
		p.expectEOF()
	})
	if err != nil {
		return nil, err
	}
	return x, nil
}

// OrderItem is one $orderby item.
type OrderItem struct {
	Expr Expr
	Desc bool
	Pos  int // offset of the item
}

// ParseOrderBy parses a $orderby value: comma-separated expressions, each
// optionally followed by asc or desc.
func ParseOrderBy(s string) ([]OrderItem, error) { return DefaultLimits.ParseOrderBy(s) }

// ParseOrderBy parses a $orderby value within the limits l.
func (l Limits) ParseOrderBy(s string) ([]OrderItem, error) {
	var items []OrderItem
	err := run(s, l, func(p *parser) {
		items = p.parseOrderByList()
		p.expectEOF()
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

// SelectItem is one $select item: a path, "*" (Star), or a path ending in a
// namespace wildcard segment such as "Model.*". Params lists the parameter
// names of a function overload (Fn(a,b)); Options holds nested query
// options (Addresses($filter=...;$top=5)).
type SelectItem struct {
	Path    []string
	Star    bool
	Params  []string
	Options *Query
	Pos     int
}

// ParseSelect parses a $select value.
func ParseSelect(s string) ([]SelectItem, error) { return DefaultLimits.ParseSelect(s) }

// ParseSelect parses a $select value within the limits l.
func (l Limits) ParseSelect(s string) ([]SelectItem, error) {
	var items []SelectItem
	err := run(s, l, func(p *parser) {
		items = p.parseSelectList()
		p.expectEOF()
	})
	if err != nil {
		return nil, err
	}
	return items, nil
}

func (p *parser) expectEOF() {
	if p.tok != EOF {
		p.error(p.pos, "unexpected "+p.found()+" after expression")
	}
}

func (p *parser) parseExpr() Expr { return p.parseBinary(precOr) }

// parseBinary is precedence climbing over the word operators.
func (p *parser) parseBinary(prec1 int) Expr {
	x := p.parseUnary()
	for p.tok == IDENT {
		word := strings.ToLower(p.lit)
		if word == "in" {
			if precHas < prec1 {
				return x
			}
			x = p.parseIn(x)
			continue
		}
		op, ok := binaryOps[word]
		if !ok || op.Precedence() < prec1 {
			return x
		}
		opPos := p.pos
		p.next()
		y := p.parseBinary(op.Precedence() + 1)
		p.node(opPos)
		x = &BinaryExpr{Op: op, X: x, Y: y, OpPos: opPos}
	}
	return x
}

func (p *parser) parseUnary() Expr {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > p.lim.MaxDepth {
		p.limitError(p.pos, fmt.Sprintf("expression nested more than %d levels deep", p.lim.MaxDepth))
	}
	typeNameOK := p.typeNameOK
	p.typeNameOK = false
	switch {
	case p.tok == MINUS:
		pos := p.pos
		p.next()
		if p.pos == pos+1 && (p.tok == INT || p.tok == DECIMAL || p.tok == DOUBLE || p.tok == IDENT && p.lit == "INF") {
			return p.parseLiteral("-")
		}
		x := p.parseBinary(precHas)
		p.node(pos)
		return &UnaryExpr{Op: OpNeg, X: x, OpPos: pos}
	case p.tok == IDENT && strings.EqualFold(p.lit, "not"):
		pos := p.pos
		p.next()
		x := p.parseBinary(precEq)
		p.node(pos)
		return &UnaryExpr{Op: OpNot, X: x, OpPos: pos}
	}
	return p.parsePrimary(typeNameOK)
}

// parseLiteral turns the look-ahead literal token (with an optional sign)
// into a Literal.
func (p *parser) parseLiteral(sign string) *Literal {
	pos := p.pos
	if sign != "" {
		pos--
	}
	l := &Literal{Value: sign + p.lit, ValuePos: pos}
	switch p.tok {
	case INT:
		l.Kind = LitInt
	case DECIMAL:
		l.Kind = LitDecimal
	case DOUBLE:
		l.Kind = LitDouble
	case GUID:
		l.Kind = LitGUID
	case DATE:
		l.Kind = LitDate
	case DATETIMEOFFSET:
		l.Kind = LitDateTimeOffset
	case TIMEOFDAY:
		l.Kind = LitTimeOfDay
	case STRING, JSONSTRING:
		l.Kind, l.Value = LitString, p.val
	case PREFIXED:
		l.Value, l.TypeName = p.val, p.lit
		switch strings.ToLower(p.lit) {
		case "duration":
			l.Kind = LitDuration
		case "binary":
			l.Kind = LitBinary
		case "geography":
			l.Kind = LitGeography
		case "geometry":
			l.Kind = LitGeometry
		default:
			if !strings.Contains(p.lit, ".") {
				p.error(p.pos, "unknown literal prefix "+p.lit)
			}
			l.Kind = LitEnum
		}
		if l.Kind != LitEnum {
			l.TypeName = strings.ToLower(p.lit)
		}
	case IDENT:
		switch p.lit {
		case "INF", "NaN":
			l.Kind = LitDouble
		default:
			l.Value = strings.ToLower(p.lit)
			if l.Value == "null" {
				l.Kind = LitNull
			} else {
				l.Kind = LitBool
			}
		}
	}
	p.node(pos)
	p.next()
	return l
}

func (p *parser) parsePrimary(typeNameOK bool) Expr {
	switch p.tok {
	case INT, DECIMAL, DOUBLE, GUID, DATE, DATETIMEOFFSET, TIMEOFDAY, STRING, JSONSTRING, PREFIXED:
		return p.parseLiteral("")
	case IDENT:
		switch strings.ToLower(p.lit) {
		case "null", "true", "false":
			return p.parseLiteral("")
		}
		if p.lit == "INF" || p.lit == "NaN" {
			return p.parseLiteral("")
		}
		return p.parsePath(typeNameOK)
	case DOLLARIDENT:
		switch strings.ToLower(p.lit) {
		case "$it", "$root", "$this":
			return p.parsePath(false)
		}
		p.error(p.pos, "unexpected "+p.lit+" at start of expression")
	case ATIDENT:
		return p.parsePath(false)
	case LPAREN:
		p.next()
		x := p.parseExpr()
		p.expect(RPAREN)
		return x
	case LBRACK:
		return p.parseArray()
	case LBRACE:
		return p.parseObject()
	}
	p.errorExpected("expression")
	return nil
}

func isPlainIdent(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".$@#")
}

// parsePath parses a member path and whatever hangs off it: function calls,
// lambdas, $count, $filter segments and key predicates.
func (p *parser) parsePath(typeNameOK bool) Expr {
	start := p.pos
	var cur Expr // the path so far when it ended in a call, $filter or key
	var segs []string
	coll := func() *PathExpr {
		p.node(start)
		return &PathExpr{Base: cur, Segments: segs, StartPos: start}
	}
	flush := func() Expr {
		if len(segs) == 0 {
			return cur
		}
		return coll()
	}
	for first := true; ; first = false {
		pos := p.pos
		switch p.tok {
		case IDENT:
			name := p.lit
			if strings.HasSuffix(name, ".*") {
				p.error(pos, "unexpected wildcard "+name)
			}
			p.next()
			if p.tok == LPAREN {
				lower := strings.ToLower(name)
				if lower == "any" || lower == "all" {
					if first {
						p.error(p.pos, fmt.Sprintf("%s must follow a collection path, as in members/%s(...)", lower, lower))
					}
					kind := LambdaAny
					if lower == "all" {
						kind = LambdaAll
					}
					return p.parseLambda(coll(), kind, pos)
				}
				var recv Expr
				if !first {
					recv = flush()
				}
				args := p.parseArgs(lower == "cast" || lower == "isof")
				p.node(pos)
				cur, segs = &CallExpr{Recv: recv, Name: name, Canonical: lower, Args: args, NamePos: pos}, nil
			} else {
				if first && strings.Contains(name, ".") && p.tok != SLASH && !typeNameOK {
					p.errorExpected("'(' or '/' after qualified name " + name)
				}
				p.node(pos)
				segs = append(segs, name)
			}
		case DOLLARIDENT:
			name := strings.ToLower(p.lit)
			switch {
			case first && (name == "$it" || name == "$root" || name == "$this"):
				p.node(pos)
				segs = append(segs, name)
				p.next()
			case !first && name == "$count":
				p.next()
				c := &CountExpr{Collection: coll(), CountPos: pos}
				if p.tok == LPAREN {
					p.next()
					if p.tok != DOLLARIDENT || !strings.EqualFold(p.lit, "$filter") {
						p.errorExpected("$filter")
					}
					p.next()
					p.expect(ASSIGN)
					c.Filter = p.parseExpr()
					p.expect(RPAREN)
				}
				p.node(pos)
				return c
			case !first && name == "$filter":
				p.next()
				p.expect(LPAREN)
				c := coll()
				f := &FilterExpr{Collection: c, Filter: p.parseExpr(), FilterPos: pos}
				p.expect(RPAREN)
				p.node(pos)
				cur, segs = f, nil
				if p.tok == LPAREN {
					lp := p.pos
					keys := p.parseArgs(false)
					p.node(lp)
					cur = &KeyExpr{X: cur, Keys: keys, LparenPos: lp}
				}
			default:
				p.error(pos, "unexpected "+p.lit+" in path")
			}
		case ATIDENT:
			p.node(pos)
			segs = append(segs, p.lit)
			p.next()
		default:
			p.errorExpected("path segment")
		}
		if p.tok != SLASH {
			return flush()
		}
		p.next()
	}
}

// parseArgs parses "(" [arg {"," arg}] ")" where an argument may be a
// name=value pair.
func (p *parser) parseArgs(typeNames bool) []Expr {
	p.expect(LPAREN)
	args := []Expr{}
	if p.tok == RPAREN {
		p.next()
		return args
	}
	for {
		p.typeNameOK = typeNames
		x := p.parseExpr()
		p.typeNameOK = false
		if p.tok == ASSIGN {
			path, ok := x.(*PathExpr)
			if !ok || path.Base != nil || len(path.Segments) != 1 || !isPlainIdent(path.Segments[0]) {
				p.error(p.pos, "unexpected '=' after argument")
			}
			p.next()
			v := p.parseExpr()
			p.node(x.Pos())
			x = &NamedArg{Name: path.Segments[0], Value: v, NamePos: x.Pos()}
		}
		args = append(args, x)
		if p.tok != COMMA {
			break
		}
		p.next()
	}
	p.expect(RPAREN)
	return args
}

// parseLambda parses "(" [var ":" body] ")" after any/all.
func (p *parser) parseLambda(coll *PathExpr, kind LambdaKind, pos int) Expr {
	p.expect(LPAREN)
	l := &LambdaExpr{Collection: coll, Kind: kind, KindPos: pos}
	p.node(pos)
	if p.tok == RPAREN {
		if kind == LambdaAll {
			p.error(p.pos, "all requires a range variable and a condition, as in all(x:x eq 1)")
		}
		p.next()
		return l
	}
	if p.tok != IDENT || !isPlainIdent(p.lit) {
		p.errorExpected("range variable")
	}
	l.Var = p.lit
	p.next()
	p.expect(COLON)
	p.depth++ // the body is nested in the lambda
	l.Body = p.parseExpr()
	p.depth--
	p.expect(RPAREN)
	return l
}

// parseIn parses "in" followed by a parenthesised list or a JSON array.
func (p *parser) parseIn(x Expr) Expr {
	in := &InExpr{X: x, InPos: p.pos}
	p.node(p.pos)
	p.next()
	switch p.tok {
	case LPAREN:
		p.next()
		in.List = []Expr{}
		if p.tok != RPAREN {
			for {
				item := p.parseExpr()
				if len(in.List) > 0 && !isLiteral(item) {
					p.error(item.Pos(), "an in-list of several items may contain only literals")
				}
				in.List = append(in.List, item)
				if len(in.List) > p.lim.MaxInList {
					p.limitError(item.Pos(), fmt.Sprintf("in-list has more than %d items", p.lim.MaxInList))
				}
				if p.tok != COMMA {
					break
				}
				if !isLiteral(in.List[0]) {
					p.error(p.pos, "expected ')', found ',' (an in-list of several items may contain only literals)")
				}
				p.next()
			}
		}
		p.expect(RPAREN)
	case LBRACK:
		arr := p.parseArray()
		if len(arr.Elems) > p.lim.MaxInList {
			p.limitError(arr.LbrackPos, fmt.Sprintf("in-list has more than %d items", p.lim.MaxInList))
		}
		in.List, in.Bracket = arr.Elems, true
	default:
		p.errorExpected("'(' or '[' after in")
	}
	return in
}

func isLiteral(x Expr) bool {
	_, ok := x.(*Literal)
	return ok
}

func (p *parser) parseArray() *ArrayExpr {
	a := &ArrayExpr{LbrackPos: p.pos, Elems: []Expr{}}
	p.node(p.pos)
	p.expect(LBRACK)
	p.depth++
	if p.tok != RBRACK {
		for {
			a.Elems = append(a.Elems, p.parseExpr())
			if p.tok != COMMA {
				break
			}
			p.next()
		}
	}
	p.depth--
	p.expect(RBRACK)
	return a
}

func (p *parser) parseObject() *ObjectExpr {
	o := &ObjectExpr{LbracePos: p.pos, Members: []ObjectMember{}}
	p.node(p.pos)
	p.expect(LBRACE)
	p.depth++
	if p.tok != RBRACE {
		for {
			if p.tok != JSONSTRING {
				p.errorExpected("member name in double quotes")
			}
			name := p.val
			p.next()
			p.expect(COLON)
			o.Members = append(o.Members, ObjectMember{Name: name, Value: p.parseExpr()})
			if p.tok != COMMA {
				break
			}
			p.next()
		}
	}
	p.depth--
	p.expect(RBRACE)
	return o
}

func (p *parser) parseOrderByList() []OrderItem {
	var items []OrderItem
	for {
		pos := p.pos
		item := OrderItem{Expr: p.parseExpr(), Pos: pos}
		if p.tok == IDENT {
			switch strings.ToLower(p.lit) {
			case "asc":
				p.next()
			case "desc":
				item.Desc = true
				p.next()
			}
		}
		items = append(items, item)
		if p.tok != COMMA {
			return items
		}
		p.next()
	}
}

func (p *parser) parseSelectList() []SelectItem {
	var items []SelectItem
	for {
		items = append(items, p.parseSelectItem())
		if p.tok != COMMA {
			return items
		}
		p.next()
	}
}

func (p *parser) parseSelectItem() SelectItem {
	item := SelectItem{Pos: p.pos}
	p.node(p.pos)
	if p.tok == STAR {
		item.Star = true
		p.next()
		return item
	}
	for {
		switch p.tok {
		case IDENT, ATIDENT:
			item.Path = append(item.Path, p.lit)
			p.node(p.pos)
		default:
			p.errorExpected("property name")
		}
		p.next()
		if p.tok != SLASH || strings.HasSuffix(item.Path[len(item.Path)-1], ".*") {
			break
		}
		p.next()
	}
	if p.tok != LPAREN {
		return item
	}
	p.next()
	p.depth++
	if p.depth > p.lim.MaxDepth {
		p.limitError(p.pos, fmt.Sprintf("expression nested more than %d levels deep", p.lim.MaxDepth))
	}
	if p.tok == DOLLARIDENT || p.tok == ATIDENT {
		item.Options = &Query{}
		p.parseNestedOptions(item.Options)
	} else {
		item.Params = []string{}
		for p.tok != RPAREN {
			if p.tok != IDENT || !isPlainIdent(p.lit) {
				p.errorExpected("parameter name")
			}
			item.Params = append(item.Params, p.lit)
			p.next()
			if p.tok != COMMA {
				break
			}
			p.next()
		}
	}
	p.depth--
	p.expect(RPAREN)
	return item
}

// rawOptionEnd returns the end of a nested option value starting at i: the
// first ';' or unbalanced ')' outside double quotes.
func rawOptionEnd(src string, i int) int {
	depth := 0
	for ; i < len(src); i++ {
		switch src[i] {
		case '"':
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
			if i >= len(src) {
				return len(src)
			}
		case '(':
			depth++
		case ')':
			if depth == 0 {
				return i
			}
			depth--
		case ';':
			if depth == 0 {
				return i
			}
		}
	}
	return i
}

// parseNestedOptions parses name=value pairs separated by ';' inside a
// $select item's parentheses.
func (p *parser) parseNestedOptions(q *Query) {
	for {
		pos := p.pos
		switch p.tok {
		case DOLLARIDENT:
			name := strings.ToLower(p.lit)
			if q.has(name) {
				p.error(pos, "duplicate query option "+name)
			}
			p.next()
			if p.tok != ASSIGN {
				p.errorExpected("'='")
			}
			switch name {
			case "$filter":
				p.next()
				q.Filter = p.parseExpr()
			case "$orderby":
				p.next()
				q.OrderBy = p.parseOrderByList()
			case "$select":
				p.next()
				q.Select = p.parseSelectList()
			case "$top", "$skip":
				p.next()
				if p.tok != INT {
					p.errorExpected("non-negative integer")
				}
				n, err := ParseNonNegativeInt(p.lit)
				if err != nil {
					p.error(p.pos, "invalid "+name+" value "+p.lit)
				}
				if name == "$top" {
					q.Top = &n
				} else {
					q.Skip = &n
				}
				p.next()
			case "$count":
				p.next()
				b, err := ParseCount(p.lit)
				if p.tok != IDENT || err != nil {
					p.errorExpected("true or false")
				}
				q.Count = &b
				p.next()
			case "$search", "$expand", "$levels", "$compute":
				start := p.sc.offset
				end := rawOptionEnd(p.sc.src, start)
				if name == "$search" {
					s, err := p.lim.parseSearch(p.sc.src[:end], start, nil)
					if err != nil {
						p.errors = append(p.errors, err.(ErrorList)...)
						panic(bailout{})
					}
					q.Search = s
				} else {
					if q.Other == nil {
						q.Other = map[string]string{}
					}
					q.Other[name] = p.sc.src[start:end]
				}
				p.sc.offset = end
				p.next()
			default:
				p.error(pos, "unknown nested query option "+name)
			}
			q.Options = append(q.Options, name)
		case ATIDENT:
			name := p.lit
			if q.has(name) {
				p.error(pos, "duplicate parameter alias "+name)
			}
			p.next()
			p.expect(ASSIGN)
			if q.Aliases == nil {
				q.Aliases = map[string]Expr{}
			}
			q.Aliases[name] = p.parseExpr()
			q.Options = append(q.Options, name)
		default:
			p.errorExpected("query option")
		}
		if p.tok != SEMI {
			return
		}
		p.next()
	}
}

// ParseNonNegativeInt parses a $top or $skip value: decimal digits only.
func ParseNonNegativeInt(s string) (int, error) {
	if s == "" {
		return 0, ErrorList{{Offset: 0, Msg: "expected non-negative integer, found end of input"}}
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, ErrorList{{Offset: i, Msg: fmt.Sprintf("expected non-negative integer, found %q", s)}}
		}
	}
	n, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		return 0, ErrorList{{Offset: 0, Msg: "integer " + s + " out of range"}}
	}
	return int(n), nil
}

// ParseCount parses a $count value: true or false (case-insensitive).
func ParseCount(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, ErrorList{{Offset: 0, Msg: fmt.Sprintf("expected true or false, found %q", s)}}
}
