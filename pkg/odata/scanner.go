package odata

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanner tokenises a $filter, $orderby or $select value. Like go/scanner it
// reports errors through a handler and always makes progress; the parsers'
// handler records the error and bails out.
type scanner struct {
	src    string
	offset int // next byte to read
	err    func(offset int, msg string)
}

func (s *scanner) init(src string, err func(int, string)) {
	s.src = src
	s.offset = 0
	s.err = err
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' }

// identStart and identPart follow OData's odataIdentifier: a letter or '_'
// then letters, digits or '_' (Unicode letters allowed).
func (s *scanner) identRune(i int, part bool) (int, bool) {
	if i >= len(s.src) {
		return 0, false
	}
	c := s.src[i]
	if c < utf8.RuneSelf {
		if c == '_' || 'a' <= c|0x20 && c|0x20 <= 'z' || part && isDigit(c) {
			return 1, true
		}
		return 0, false
	}
	r, w := utf8.DecodeRuneInString(s.src[i:])
	if r == utf8.RuneError {
		return 0, false
	}
	if unicode.IsLetter(r) || part && (unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r) || unicode.Is(unicode.Pc, r)) {
		return w, true
	}
	return 0, false
}

// scanIdent scans one odataIdentifier at i and returns its end, or i when
// there is none.
func (s *scanner) scanIdent(i int) int {
	w, ok := s.identRune(i, false)
	if !ok {
		return i
	}
	i += w
	for {
		w, ok := s.identRune(i, true)
		if !ok {
			return i
		}
		i += w
	}
}

// scanQualified scans ident *( "." ident ) [ ".*" ] starting at i (which
// must start an identifier).
func (s *scanner) scanQualified(i int) int {
	i = s.scanIdent(i)
	for i < len(s.src) && s.src[i] == '.' {
		if i+1 < len(s.src) && s.src[i+1] == '*' {
			return i + 2
		}
		j := s.scanIdent(i + 1)
		if j == i+1 {
			return i
		}
		i = j
	}
	return i
}

// matchDigits reports whether src[i:i+n] are all digits.
func (s *scanner) matchDigits(i, n int) bool {
	if i+n > len(s.src) {
		return false
	}
	for k := i; k < i+n; k++ {
		if !isDigit(s.src[k]) {
			return false
		}
	}
	return true
}

// guidAt reports whether a GUID (8-4-4-4-12 hex digits) starts at i and is
// not followed by an identifier character.
func (s *scanner) guidAt(i int) bool {
	if i+36 > len(s.src) {
		return false
	}
	for k := 0; k < 36; k++ {
		c := s.src[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	_, more := s.identRune(i+36, true)
	return !more
}

// scan returns the next token: its offset, kind, source text and, for
// strings and typed literals, the unescaped value.
func (s *scanner) scan() (pos int, tok Token, lit, val string) {
	for s.offset < len(s.src) && isSpace(s.src[s.offset]) {
		s.offset++
	}
	pos = s.offset
	if pos >= len(s.src) {
		return pos, EOF, "", ""
	}
	c := s.src[pos]
	switch {
	case isHex(c) && s.guidAt(pos):
		s.offset = pos + 36
		return pos, GUID, s.src[pos:s.offset], ""
	case isDigit(c):
		tok = s.scanNumber()
		return pos, tok, s.src[pos:s.offset], ""
	case c == '$':
		end := s.scanIdent(pos + 1)
		if end == pos+1 {
			s.offset = pos + 1
			s.err(pos, "expected identifier after '$'")
		}
		s.offset = end
		return pos, DOLLARIDENT, s.src[pos:end], ""
	case c == '@':
		end := s.scanQualified(pos + 1)
		if end == pos+1 || strings.HasSuffix(s.src[pos:end], ".*") {
			s.offset = pos + 1
			s.err(pos, "expected identifier after '@'")
		}
		if end < len(s.src) && s.src[end] == '#' {
			e2 := s.scanIdent(end + 1)
			if e2 == end+1 {
				s.err(end+1, "expected term qualifier after '#'")
			}
			end = e2
		}
		s.offset = end
		return pos, ATIDENT, s.src[pos:end], ""
	case c == '\'':
		val = s.scanString(pos)
		return pos, STRING, s.src[pos:s.offset], val
	case c == '"':
		val = s.scanJSONString(pos)
		return pos, JSONSTRING, s.src[pos:s.offset], val
	}
	if end := s.scanQualified(pos); end > pos {
		s.offset = end
		lit = s.src[pos:end]
		if end < len(s.src) && s.src[end] == '\'' && !strings.HasSuffix(lit, ".*") {
			val = s.scanString(end)
			return pos, PREFIXED, lit, val
		}
		return pos, IDENT, lit, ""
	}
	s.offset = pos + 1
	switch c {
	case '(':
		return pos, LPAREN, "(", ""
	case ')':
		return pos, RPAREN, ")", ""
	case '[':
		return pos, LBRACK, "[", ""
	case ']':
		return pos, RBRACK, "]", ""
	case '{':
		return pos, LBRACE, "{", ""
	case '}':
		return pos, RBRACE, "}", ""
	case ',':
		return pos, COMMA, ",", ""
	case ':':
		return pos, COLON, ":", ""
	case '/':
		return pos, SLASH, "/", ""
	case '=':
		return pos, ASSIGN, "=", ""
	case ';':
		return pos, SEMI, ";", ""
	case '*':
		return pos, STAR, "*", ""
	case '-':
		return pos, MINUS, "-", ""
	}
	r, _ := utf8.DecodeRuneInString(s.src[pos:])
	if r == utf8.RuneError {
		s.err(pos, "invalid UTF-8 byte")
	}
	s.err(pos, fmt.Sprintf("unexpected character %q", r))
	return pos, EOF, "", ""
}

// scanString scans a single-quoted string starting at i (a doubled quote escapes a quote)
// and returns its unescaped content.
func (s *scanner) scanString(i int) string {
	start := i
	i++
	var b strings.Builder
	for {
		j := strings.IndexByte(s.src[i:], '\'')
		if j < 0 {
			s.offset = len(s.src)
			s.err(start, "string literal not terminated")
		}
		b.WriteString(s.src[i : i+j])
		i += j + 1
		if i < len(s.src) && s.src[i] == '\'' {
			b.WriteByte('\'')
			i++
			continue
		}
		s.offset = i
		return b.String()
	}
}

// scanJSONString scans a double-quoted JSON string starting at i.
func (s *scanner) scanJSONString(i int) string {
	start := i
	i++
	var b strings.Builder
	for {
		if i >= len(s.src) {
			s.offset = i
			s.err(start, "string literal not terminated")
		}
		c := s.src[i]
		switch c {
		case '"':
			s.offset = i + 1
			return b.String()
		case '\\':
			if i+1 >= len(s.src) {
				s.offset = i + 1
				s.err(start, "string literal not terminated")
			}
			e := s.src[i+1]
			i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				if i+4 > len(s.src) || !isHex(s.src[i]) || !isHex(s.src[i+1]) || !isHex(s.src[i+2]) || !isHex(s.src[i+3]) {
					s.offset = i
					s.err(i-2, "invalid \\u escape in string")
				}
				var r rune
				for k := 0; k < 4; k++ {
					d := s.src[i+k]
					switch {
					case isDigit(d):
						r = r<<4 | rune(d-'0')
					default:
						r = r<<4 | rune(d|0x20-'a'+10)
					}
				}
				i += 4
				if r < utf8.RuneSelf {
					b.WriteByte(byte(r))
				} else {
					b.WriteRune(r)
				}
			default:
				s.offset = i
				s.err(i-2, "invalid escape in string")
			}
		default:
			b.WriteByte(c)
			i++
		}
	}
}

// scanNumber scans a token starting with a digit: a date, a date-time, a
// time of day, an integer, a decimal or a double.
func (s *scanner) scanNumber() Token {
	i := s.offset
	if s.matchDigits(i, 4) && i+4 < len(s.src) && s.src[i+4] == '-' {
		return s.scanDate(i)
	}
	if s.matchDigits(i, 2) && i+2 < len(s.src) && s.src[i+2] == ':' {
		end := s.scanTime(i)
		s.offset = end
		return TIMEOFDAY
	}
	for i < len(s.src) && isDigit(s.src[i]) {
		i++
	}
	tok := INT
	if i < len(s.src) && s.src[i] == '.' {
		i++
		if !s.matchDigits(i, 1) {
			s.offset = i
			s.err(i, "expected digit after decimal point")
		}
		for i < len(s.src) && isDigit(s.src[i]) {
			i++
		}
		tok = DECIMAL
	}
	if i < len(s.src) && s.src[i]|0x20 == 'e' {
		j := i + 1
		if j < len(s.src) && (s.src[j] == '+' || s.src[j] == '-') {
			j++
		}
		if !s.matchDigits(j, 1) {
			s.offset = j
			s.err(j, "expected exponent digits")
		}
		for j < len(s.src) && isDigit(s.src[j]) {
			j++
		}
		i = j
		tok = DOUBLE
	}
	if _, ok := s.identRune(i, true); ok {
		s.offset = i
		s.err(i, "unexpected character after number")
	}
	s.offset = i
	return tok
}

func (s *scanner) expectTwo(i int, lo, hi int, what string) int {
	if !s.matchDigits(i, 2) {
		s.offset = i
		s.err(i, "expected two-digit "+what)
	}
	v := int(s.src[i]-'0')*10 + int(s.src[i+1]-'0')
	if v < lo || v > hi {
		s.offset = i
		s.err(i, what+" out of range")
	}
	return i + 2
}

// scanDate scans yyyy-mm-dd and an optional "T" time with a zone.
func (s *scanner) scanDate(i int) Token {
	i += 5
	i = s.expectTwo(i, 1, 12, "month")
	if i >= len(s.src) || s.src[i] != '-' {
		s.offset = i
		s.err(i, "expected '-' in date")
	}
	i = s.expectTwo(i+1, 1, 31, "day")
	if i >= len(s.src) || s.src[i] != 'T' && s.src[i] != 't' {
		if _, ok := s.identRune(i, true); ok {
			s.offset = i
			s.err(i, "unexpected character after date")
		}
		s.offset = i
		return DATE
	}
	i = s.scanTime(i + 1)
	if i < len(s.src) && (s.src[i] == 'Z' || s.src[i] == 'z') {
		i++
	} else if i < len(s.src) && (s.src[i] == '+' || s.src[i] == '-') {
		i = s.expectTwo(i+1, 0, 23, "zone hour")
		if i >= len(s.src) || s.src[i] != ':' {
			s.offset = i
			s.err(i, "expected ':' in time zone offset")
		}
		i = s.expectTwo(i+1, 0, 59, "zone minute")
	} else {
		s.offset = i
		s.err(i, "expected time zone ('Z' or an offset) in date-time")
	}
	if _, ok := s.identRune(i, true); ok {
		s.offset = i
		s.err(i, "unexpected character after date-time")
	}
	s.offset = i
	return DATETIMEOFFSET
}

// scanTime scans hh:mm[:ss[.fraction]] at i and returns its end.
func (s *scanner) scanTime(i int) int {
	i = s.expectTwo(i, 0, 23, "hour")
	if i >= len(s.src) || s.src[i] != ':' {
		s.offset = i
		s.err(i, "expected ':' in time")
	}
	i = s.expectTwo(i+1, 0, 59, "minute")
	if i < len(s.src) && s.src[i] == ':' {
		i = s.expectTwo(i+1, 0, 59, "second")
		if i < len(s.src) && s.src[i] == '.' {
			i++
			if !s.matchDigits(i, 1) {
				s.offset = i
				s.err(i, "expected fractional seconds")
			}
			for i < len(s.src) && isDigit(s.src[i]) {
				i++
			}
		}
	}
	return i
}
