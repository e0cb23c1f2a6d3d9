package importer

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/directory"
)

// decodeFast decodes the common shape of an import line without
// encoding/json's token stream, which costs several times more than all
// the other work of a line together. It accepts only lines whose every
// value has exactly the expected JSON type, keys without escapes, no
// numbers, no unknown or read-only properties; for anything else it
// returns ok false and the line goes through decodeLine, which then
// also produces every error. So the fast path changes no verdict: on what it
// accepts, both decoders produce the same values.
func decodeFast(data []byte) (values map[string]any, pp *directory.ImportPassword, ok bool) {
	if !utf8.Valid(data) {
		return nil, nil, false
	}
	d := fastDecoder{b: data}
	values = make(map[string]any, 24)
	var keys [48]string
	seen := keys[:0]
	ok = d.object(func(key string) bool {
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if key == "@odata.type" {
			s, isStr := d.str()
			return isStr && s != nil && *s == odataTypeUser
		}
		prop, found := directory.LookupProperty(key)
		if !found || prop.ReadOnly {
			return false
		}
		switch prop.Type {
		case directory.TypeString:
			s, isStr := d.str()
			if !isStr {
				return false
			}
			values[prop.Name] = s
		case directory.TypeBool:
			b, isBool := d.boolean()
			if !isBool {
				return false
			}
			values[prop.Name] = b
		case directory.TypeStringCollection:
			if d.null() {
				values[prop.Name] = []string{}
				return true
			}
			out := []string{}
			if !d.array(func() bool {
				s, isStr := d.str()
				if !isStr || s == nil {
					return false
				}
				out = append(out, *s)
				return true
			}) {
				return false
			}
			values[prop.Name] = out
		case directory.TypeIdentities:
			if d.null() {
				values[prop.Name] = []directory.Identity{}
				return true
			}
			out := []directory.Identity{}
			if !d.array(func() bool {
				var id directory.Identity
				var got [3]bool
				if !d.object(func(k string) bool {
					var dst *string
					var i int
					switch k {
					case "signInType":
						dst, i = &id.SignInType, 0
					case "issuer":
						dst, i = &id.Issuer, 1
					case "issuerAssignedId":
						dst, i = &id.IssuerAssignedID, 2
					default:
						return false
					}
					if got[i] {
						return false
					}
					got[i] = true
					s, isStr := d.str()
					if !isStr {
						return false
					}
					if s != nil {
						*dst = *s
					}
					return true
				}) {
					return false
				}
				out = append(out, id)
				return true
			}) {
				return false
			}
			values[prop.Name] = out
		case directory.TypePasswordProfile:
			var p directory.ImportPassword
			var got [4]bool
			if !d.object(func(k string) bool {
				i := -1
				switch k {
				case "password":
					i = 0
				case "passwordHash":
					i = 1
				case "forceChangePasswordNextSignIn":
					i = 2
				case "forceChangePasswordNextSignInWithMfa":
					i = 3
				}
				if i < 0 || got[i] {
					return false
				}
				got[i] = true
				var isType bool
				switch i {
				case 0:
					p.Password, isType = d.str()
				case 1:
					p.Hash, isType = d.str()
				case 2:
					p.ForceChangePasswordNextSignIn, isType = d.boolean()
				case 3:
					p.ForceChangePasswordNextSignInWithMfa, isType = d.boolean()
				}
				return isType
			}) {
				return false
			}
			if (p.Password == nil) == (p.Hash == nil) || p.Hash != nil && checkPasswordHash(*p.Hash) != "" {
				return false
			}
			pp = &p
			values[prop.Name] = &p.PasswordProfile
		default:
			return false
		}
		return true
	})
	if !ok {
		return nil, nil, false
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, nil, false
	}
	return values, pp, true
}

// fastDecoder reads the subset of JSON decodeFast accepts. Every
// method returns false on anything outside it.
type fastDecoder struct {
	b []byte
	i int
}

func (d *fastDecoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// object reads {"key": value, ...}, calling member with d positioned at
// each value.
func (d *fastDecoder) object(member func(key string) bool) bool {
	d.ws()
	return d.list('{', '}', func() bool {
		key, ok := d.plainString()
		if !ok {
			return false
		}
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return false
		}
		d.i++
		d.ws()
		return member(key)
	})
}

// array reads [elem, ...], calling elem with d positioned at each element.
func (d *fastDecoder) array(elem func() bool) bool {
	return d.list('[', ']', elem)
}

// list reads what objects and arrays share: open, then items separated by
// commas, then end; item is called with d positioned at each.
func (d *fastDecoder) list(open, end byte, item func() bool) bool {
	if d.i >= len(d.b) || d.b[d.i] != open {
		return false
	}
	d.i++
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == end {
		d.i++
		return true
	}
	for {
		d.ws()
		if !item() {
			return false
		}
		d.ws()
		if d.i >= len(d.b) {
			return false
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case end:
			d.i++
			return true
		default:
			return false
		}
	}
}

// plainString reads a string without escapes.
func (d *fastDecoder) plainString() (string, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := string(d.b[d.i+1 : j])
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// str reads a string or null (nil). Strings with escapes are unquoted by
// encoding/json, as the slow path would.
func (d *fastDecoder) str() (*string, bool) {
	if d.null() {
		return nil, true
	}
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	escaped := false
	for j := d.i + 1; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			var s string
			if escaped {
				if json.Unmarshal(d.b[d.i:j+1], &s) != nil {
					return nil, false
				}
			} else {
				s = string(d.b[d.i+1 : j])
			}
			d.i = j + 1
			return &s, true
		case c == '\\':
			escaped = true
			j++ // the escaped character; \uXXXX's digits are plain
		case c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// boolean reads true, false or null (nil).
func (d *fastDecoder) boolean() (*bool, bool) {
	switch {
	case d.null():
		return nil, true
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		d.i += 4
		t := true
		return &t, true
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		d.i += 5
		f := false
		return &f, true
	}
	return nil, false
}

// null reads null if it is next.
func (d *fastDecoder) null() bool {
	if bytes.HasPrefix(d.b[d.i:], []byte("null")) {
		d.i += 4
		return true
	}
	return false
}
