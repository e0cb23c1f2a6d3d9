package odata

import (
	"fmt"
	"strings"
)

// SearchExpr is a node of a $search expression.
type SearchExpr interface {
	Pos() int
	String() string
	searchNode()
}

// SearchTermKind tells how a search term was written.
type SearchTermKind int

// The search term kinds.
const (
	SearchWord       SearchTermKind = iota + 1 // blue
	SearchPhrase                               // "blue green" or Graph's "displayName:blue"
	SearchIncomplete                           // '"blue' : OData 4.01 searchExpr-incomplete, the whole value in single quotes
)

// SearchOp is AND or OR.
type SearchOp int

// The search operators.
const (
	SearchAnd SearchOp = iota + 1 // AND, also implied between juxtaposed terms
	SearchOr
)

// String returns "AND" or "OR".
func (op SearchOp) String() string {
	if op == SearchOr {
		return "OR"
	}
	return "AND"
}

type (
	// SearchTerm is a word or phrase. In a phrase of the Graph form
	// "property:text" Property is the part before the first colon (an
	// identifier) and Text the rest; otherwise Property is empty.
	SearchTerm struct {
		Kind     SearchTermKind
		Property string
		Text     string // unescaped
		TermPos  int
	}

	// SearchBinary is X AND Y or X OR Y.
	SearchBinary struct {
		Op    SearchOp
		X, Y  SearchExpr
		OpPos int // offset of the operator, or of Y for an implied AND
	}

	// SearchNot is NOT X.
	SearchNot struct {
		X      SearchExpr
		NotPos int
	}
)

func (*SearchTerm) searchNode()   {}
func (*SearchBinary) searchNode() {}
func (*SearchNot) searchNode()    {}

// Pos returns the offset of the term.
func (t *SearchTerm) Pos() int { return t.TermPos }

// Pos returns the offset of X.
func (b *SearchBinary) Pos() int { return b.X.Pos() }

// Pos returns the offset of NOT.
func (n *SearchNot) Pos() int { return n.NotPos }

func isSearchKeyword(s string) bool { return s == "AND" || s == "OR" || s == "NOT" }

// String prints the term; a word that is a keyword is parenthesised so that
// it reads back as a word.
func (t *SearchTerm) String() string {
	switch t.Kind {
	case SearchPhrase:
		s := t.Text
		if t.Property != "" {
			s = t.Property + ":" + s
		}
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	case SearchIncomplete:
		return quoteString(t.Text)
	}
	if isSearchKeyword(t.Text) {
		return "(" + t.Text + ")"
	}
	return t.Text
}

func searchPrec(e SearchExpr) int {
	if b, ok := e.(*SearchBinary); ok {
		return int(3 - b.Op) // OR 1, AND 2
	}
	return 3
}

// String prints X AND Y / X OR Y with parentheses where needed.
func (b *SearchBinary) String() string {
	p := searchPrec(b)
	return paren(b.X.String(), searchPrec(b.X) < p) + " " + b.Op.String() + " " + paren(b.Y.String(), searchPrec(b.Y) <= p)
}

// String prints NOT X.
func (n *SearchNot) String() string {
	return "NOT " + paren(n.X.String(), searchPrec(n.X) < 3)
}

// ParseSearch parses a $search value (already percent-decoded): words,
// double-quoted phrases (backslash escapes '"' and '\'), Graph's
// "property:text" phrases, AND, OR, NOT and parentheses. Juxtaposed terms
// are ANDed; NOT binds tighter than AND, AND tighter than OR. AND, OR and
// NOT are operators only in upper case and only where an operand follows;
// elsewhere they are words ($search=NOT is a search for "NOT").
func ParseSearch(s string) (SearchExpr, error) { return DefaultLimits.ParseSearch(s) }

// ParseSearch parses a $search value within the limits l.
func (l Limits) ParseSearch(s string) (SearchExpr, error) {
	return l.withDefaults().parseSearch(s, 0, nil)
}

type searchToken int

const (
	sEOF searchToken = iota
	sWord
	sPhrase
	sLparen
	sRparen
)

type searchParser struct {
	src    string
	enc    []bool // enc[i]: src[i] came from a percent-encoding (nil: none did)
	offset int
	lim    Limits
	errors ErrorList
	depth  int
	nodes  int

	pos int
	tok searchToken
	val string
}

// parseSearch parses src[start:]; enc, when not nil, marks bytes of src that
// were percent-encoded and makes a raw (not encoded) ';' in a word an error,
// as in the URL grammar.
func (l Limits) parseSearch(src string, start int, enc []bool) (x SearchExpr, err error) {
	if len(src)-start > l.MaxLength {
		return nil, ErrorList{{Offset: start + l.MaxLength, Msg: fmt.Sprintf("value longer than %d bytes", l.MaxLength), Limit: true}}
	}
	p := &searchParser{src: src, enc: enc, offset: start, lim: l}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			x, err = nil, p.errors.Err()
		}
	}()
	i := start
	for i < len(src) && isSpace(src[i]) {
		i++
	}
	if i < len(src) && src[i] == '\'' {
		return p.parseIncomplete(i), nil
	}
	p.next()
	x = p.parseOr()
	if p.tok != sEOF {
		p.error(p.pos, "unexpected "+p.found()+" in search expression")
	}
	return x, nil
}

func (p *searchParser) error(offset int, msg string) {
	p.errors = append(p.errors, &Error{Offset: offset, Msg: msg})
	panic(bailout{})
}

func (p *searchParser) node(pos int) {
	p.nodes++
	if p.nodes > p.lim.MaxNodes {
		p.errors = append(p.errors, &Error{Offset: pos, Msg: fmt.Sprintf("search expression has more than %d nodes", p.lim.MaxNodes), Limit: true})
		panic(bailout{})
	}
}

func (p *searchParser) found() string {
	switch p.tok {
	case sEOF:
		return "end of input"
	case sLparen:
		return "'('"
	case sRparen:
		return "')'"
	}
	return "'" + p.val + "'"
}

func (p *searchParser) parseIncomplete(i int) SearchExpr {
	start := i
	var b strings.Builder
	for i++; ; i++ {
		if i >= len(p.src) {
			p.error(len(p.src), "search string not terminated")
		}
		if p.src[i] == '\'' {
			if i+1 < len(p.src) && p.src[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			break
		}
		b.WriteByte(p.src[i])
	}
	for i++; i < len(p.src); i++ {
		if !isSpace(p.src[i]) {
			p.error(i, "unexpected text after quoted search string")
		}
	}
	return &SearchTerm{Kind: SearchIncomplete, Text: b.String(), TermPos: start}
}

// scan reads the token at p.offset without consuming state other than the
// returned values.
func (p *searchParser) scan(i int) (pos int, tok searchToken, val string, end int) {
	for i < len(p.src) && isSpace(p.src[i]) {
		i++
	}
	if i >= len(p.src) {
		return i, sEOF, "", i
	}
	c := p.src[i]
	switch {
	case c == '"':
		start := i
		var b strings.Builder
		for i++; ; i++ {
			if i >= len(p.src) {
				p.error(len(p.src), "search phrase not terminated")
			}
			c := p.src[i]
			if c == '"' {
				break
			}
			if c == '\\' && i+1 < len(p.src) && (p.src[i+1] == '"' || p.src[i+1] == '\\') {
				i++
				c = p.src[i]
			}
			b.WriteByte(c)
		}
		i++
		if i < len(p.src) && !isSpace(p.src[i]) && p.src[i] != ')' {
			p.error(i, "expected space after search phrase")
		}
		if b.Len() == 0 {
			p.error(start, "empty search phrase")
		}
		return start, sPhrase, b.String(), i
	case c == '(':
		return i, sLparen, "(", i + 1
	case c == ')':
		return i, sRparen, ")", i + 1
	case c == '\'':
		p.error(i, "a search word cannot start with a single quote")
	}
	start := i
	for ; i < len(p.src); i++ {
		c := p.src[i]
		if isSpace(c) || c == '"' {
			break
		}
		if c == '(' || c == ')' {
			break
		}
		if c == ';' && p.enc != nil && !p.enc[i] {
			p.error(i, "';' must be percent-encoded in $search")
		}
	}
	if i < len(p.src) && (p.src[i] == '"' || p.src[i] == '(') {
		p.error(i, "expected space after search word")
	}
	return start, sWord, p.src[start:i], i
}

func (p *searchParser) next() {
	var end int
	p.pos, p.tok, p.val, end = p.scan(p.offset)
	p.offset = end
}

// peekOperand reports whether the token after the look-ahead can start an
// operand, which makes an AND, OR or NOT look-ahead an operator.
func (p *searchParser) peekOperand() bool {
	_, tok, _, _ := p.scan(p.offset)
	return tok == sWord || tok == sPhrase || tok == sLparen
}

func (p *searchParser) isOp(word string) bool {
	return p.tok == sWord && p.val == word && p.peekOperand()
}

func (p *searchParser) parseOr() SearchExpr {
	x := p.parseAnd()
	for p.isOp("OR") {
		pos := p.pos
		p.next()
		y := p.parseAnd()
		p.node(pos)
		x = &SearchBinary{Op: SearchOr, X: x, Y: y, OpPos: pos}
	}
	return x
}

func (p *searchParser) parseAnd() SearchExpr {
	x := p.parseUnary()
	for {
		pos := p.pos
		switch {
		case p.isOp("AND"):
			p.next()
		case p.isOp("OR"):
			return x
		case p.tok == sWord || p.tok == sPhrase || p.tok == sLparen:
			// implied AND
		default:
			return x
		}
		y := p.parseUnary()
		p.node(pos)
		x = &SearchBinary{Op: SearchAnd, X: x, Y: y, OpPos: pos}
	}
}

func (p *searchParser) parseUnary() SearchExpr {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > p.lim.MaxDepth {
		p.errors = append(p.errors, &Error{Offset: p.pos, Msg: fmt.Sprintf("search expression nested more than %d levels deep", p.lim.MaxDepth), Limit: true})
		panic(bailout{})
	}
	if p.isOp("NOT") {
		pos := p.pos
		p.next()
		x := p.parseUnary()
		p.node(pos)
		return &SearchNot{X: x, NotPos: pos}
	}
	switch p.tok {
	case sWord:
		t := &SearchTerm{Kind: SearchWord, Text: p.val, TermPos: p.pos}
		p.node(p.pos)
		p.next()
		return t
	case sPhrase:
		t := &SearchTerm{Kind: SearchPhrase, Text: p.val, TermPos: p.pos}
		if i := strings.IndexByte(t.Text, ':'); i > 0 && isSearchProperty(t.Text[:i]) {
			t.Property, t.Text = t.Text[:i], t.Text[i+1:]
		}
		p.node(p.pos)
		p.next()
		return t
	case sLparen:
		p.next()
		x := p.parseOr()
		if p.tok != sRparen {
			p.error(p.pos, "expected ')', found "+p.found())
		}
		p.next()
		return x
	}
	p.error(p.pos, "expected search term, found "+p.found())
	return nil
}

// isSearchProperty reports whether s can be the property of a Graph
// "property:text" phrase: an ASCII identifier.
func isSearchProperty(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || 'a' <= c|0x20 && c|0x20 <= 'z' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return s != ""
}
