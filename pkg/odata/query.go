package odata

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Query holds the parsed query options of a request (or of a $select item's
// nested options). Absent options are nil/zero; Options records which were
// present.
type Query struct {
	Filter  Expr
	OrderBy []OrderItem
	Select  []SelectItem
	Top     *int
	Skip    *int
	Count   *bool
	Search  SearchExpr

	// SkipToken is the decoded $skiptoken value (opaque to this package).
	SkipToken string
	// Aliases maps parameter aliases ("@p") to their parsed values.
	Aliases map[string]Expr
	// Other holds recognised system query options this package does not
	// parse ($expand, $format, $compute, $apply, $id, ...), by canonical
	// name, with decoded values; callers refuse or handle them.
	Other map[string]string
	// Custom holds custom query options (names without '$' or '@').
	Custom map[string]string
	// Options lists the canonical names of the options present, in order:
	// "$filter", "$top", ... for system options, "@p" for aliases and the
	// name as written for custom options.
	Options []string
}

func (q *Query) has(name string) bool {
	for _, o := range q.Options {
		if o == name {
			return true
		}
	}
	return false
}

// Has reports whether the option (canonical name such as "$filter") was
// present.
func (q *Query) Has(name string) bool { return q.has(name) }

// encode prints the options in their order of appearance, joined by sep,
// without percent-encoding.
func (q *Query) encode(sep string) string {
	var parts []string
	for _, name := range q.Options {
		var v string
		switch name {
		case "$filter":
			v = q.Filter.String()
		case "$orderby":
			v = FormatOrderBy(q.OrderBy)
		case "$select":
			v = FormatSelect(q.Select)
		case "$top":
			v = strconv.Itoa(*q.Top)
		case "$skip":
			v = strconv.Itoa(*q.Skip)
		case "$count":
			v = strconv.FormatBool(*q.Count)
		case "$search":
			v = q.Search.String()
		case "$skiptoken":
			v = q.SkipToken
		default:
			if x, ok := q.Aliases[name]; ok {
				v = x.String()
			} else if s, ok := q.Other[name]; ok {
				v = s
			} else {
				v = q.Custom[name]
			}
		}
		parts = append(parts, name+"="+v)
	}
	return strings.Join(parts, sep)
}

// systemOptions are the OData system query options by canonical name; the
// value tells whether this package parses them.
var systemOptions = map[string]bool{
	"$filter": true, "$orderby": true, "$select": true, "$top": true, "$skip": true,
	"$count": true, "$search": true, "$skiptoken": true,
	"$expand": false, "$format": false, "$compute": false, "$apply": false, "$id": false,
	"$deltatoken": false, "$levels": false, "$index": false, "$schemaversion": false,
}

// decode percent-decodes s ('+' stays '+', as in RFC 3986). offs[i] is the
// offset in s of decoded byte i (offs has one extra entry for the end) and
// enc[i] tells whether byte i was percent-encoded. On a malformed escape
// it returns the offset of the '%'.
func decode(s string) (out string, offs []int, enc []bool, bad int) {
	if strings.IndexByte(s, '%') < 0 {
		offs = make([]int, len(s)+1)
		for i := range offs {
			offs[i] = i
		}
		return s, offs, nil, -1
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		offs = append(offs, i)
		if s[i] == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", nil, nil, i
			}
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			enc = append(enc, true)
			i += 3
			continue
		}
		b.WriteByte(s[i])
		enc = append(enc, false)
		i++
	}
	offs = append(offs, len(s))
	return b.String(), offs, enc, -1
}

// ParseQuery parses a raw (still percent-encoded) URL query string, the
// part after '?'. Options are separated by '&'; option names may omit the
// '$' and are case-insensitive (OData 4.01); a duplicated option is an
// error. Errors carry offsets into raw; AST positions are offsets into the
// decoded option value.
func ParseQuery(raw string) (*Query, error) { return DefaultLimits.ParseQuery(raw) }

// ParseQuery parses a raw query string within the limits l.
func (l Limits) ParseQuery(raw string) (*Query, error) {
	l = l.withDefaults()
	fail := func(off int, format string, args ...any) (*Query, error) {
		return nil, ErrorList{{Offset: off, Msg: fmt.Sprintf(format, args...)}}
	}
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		return fail(i, "'#' must be percent-encoded in a query string")
	}
	q := &Query{}
	for start := 0; start <= len(raw); {
		end := strings.IndexByte(raw[start:], '&')
		if end < 0 {
			end = len(raw)
		} else {
			end += start
		}
		part := raw[start:end]
		partStart := start
		start = end + 1
		if part == "" {
			continue
		}
		eq := strings.IndexByte(part, '=')
		if eq < 0 {
			return fail(partStart+len(part), "expected '=' after query option name %q", part)
		}
		name, noffs, _, bad := decode(part[:eq])
		if bad >= 0 {
			return fail(partStart+bad, "malformed percent-encoding")
		}
		valStart := partStart + eq + 1
		value, voffs, venc, bad := decode(part[eq+1:])
		if bad >= 0 {
			return fail(valStart+bad, "malformed percent-encoding")
		}
		canon := name
		switch {
		case strings.HasPrefix(name, "@"):
			if !isIdentifier(name[1:]) {
				return fail(partStart, "invalid parameter alias name %q", name)
			}
		case strings.HasPrefix(name, "$") || systemOptions["$"+strings.ToLower(name)]:
			base := strings.TrimPrefix(name, "$")
			skip := len(name) - len(base)
			for i := 0; i < len(base); i++ {
				if c := base[i]; !('a' <= c|0x20 && c|0x20 <= 'z') {
					return fail(partStart+noffs[skip+i], "invalid character %q in query option name", rune(c))
				}
			}
			canon = "$" + strings.ToLower(base)
			if _, ok := systemOptions[canon]; !ok {
				if skip == 0 {
					canon = name // a custom option after all
				} else {
					return fail(partStart, "unknown system query option %q", name)
				}
			}
		}
		if q.has(canon) {
			return fail(partStart, "duplicate query option %s", canon)
		}
		q.Options = append(q.Options, canon)

		// remap turns errors at offsets into value into offsets into raw.
		remap := func(err error) (*Query, error) {
			var list ErrorList
			if !errors.As(err, &list) {
				return nil, err
			}
			out := make(ErrorList, len(list))
			for i, e := range list {
				off := e.Offset
				if off < 0 {
					off = 0
				}
				if off >= len(voffs) {
					off = len(voffs) - 1
				}
				out[i] = &Error{Offset: valStart + voffs[off], Msg: e.Msg, Limit: e.Limit}
			}
			return nil, out
		}
		var err error
		switch {
		case canon == "$filter":
			q.Filter, err = l.ParseFilter(value)
		case canon == "$orderby":
			q.OrderBy, err = l.ParseOrderBy(value)
		case canon == "$select":
			q.Select, err = l.ParseSelect(value)
		case canon == "$top" || canon == "$skip":
			var n int
			n, err = ParseNonNegativeInt(value)
			if canon == "$top" {
				q.Top = &n
			} else {
				q.Skip = &n
			}
		case canon == "$count":
			var b bool
			b, err = ParseCount(value)
			q.Count = &b
		case canon == "$search":
			if venc == nil {
				venc = make([]bool, len(value)) // nothing was encoded
			}
			q.Search, err = l.parseSearch(value, 0, venc)
		case canon == "$skiptoken":
			q.SkipToken = value
		case strings.HasPrefix(canon, "@"):
			var x Expr
			x, err = l.ParseFilter(value)
			if q.Aliases == nil {
				q.Aliases = map[string]Expr{}
			}
			q.Aliases[canon] = x
		case strings.HasPrefix(canon, "$"):
			if q.Other == nil {
				q.Other = map[string]string{}
			}
			q.Other[canon] = value
		default:
			if q.Custom == nil {
				q.Custom = map[string]string{}
			}
			q.Custom[canon] = value
		}
		if err != nil {
			return remap(err)
		}
	}
	return q, nil
}

// isIdentifier reports whether s is one OData identifier.
func isIdentifier(s string) bool {
	sc := scanner{src: s}
	return s != "" && sc.scanIdent(0) == len(s)
}
