package api

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// contentTypeJSON is what Graph sends with every JSON response.
const contentTypeJSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

// writeJSON writes a complete JSON body with Graph's headers. Nothing the
// API returns may be cached by an intermediary.
func writeJSON(c *gin.Context, status int, body []byte) {
	h := c.Writer.Header()
	h.Set("Content-Type", contentTypeJSON)
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-store")
	c.Status(status)
	_, _ = c.Writer.Write(body)
}

// appendUser appends u as a JSON object with exactly props, in order,
// after the members already written by the caller (first says whether the
// object is still empty). Unset strings are null, collections [].
func appendUser(b []byte, u *directory.User, props []*directory.Property, first bool) []byte {
	if first {
		b = append(b, '{')
	}
	for _, p := range props {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, p.Name)
		b = append(b, ':')
		b = appendValue(b, p.Value(u))
	}
	return append(b, '}')
}

// appendValue appends one property value in the forms Property.Value
// returns.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case *string:
		if x == nil {
			return append(b, "null"...)
		}
		return appendString(b, *x)
	case *bool:
		if x == nil {
			return append(b, "null"...)
		}
		return strconv.AppendBool(b, *x)
	case *time.Time:
		if x == nil {
			return append(b, "null"...)
		}
		return appendString(b, formatDateTime(*x))
	case *int64: // Integer and LargeInteger extension properties
		if x == nil {
			return append(b, "null"...)
		}
		return strconv.AppendInt(b, *x, 10)
	case []string:
		b = append(b, '[')
		for i, s := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		return append(b, ']')
	case *directory.SignInActivity:
		if x == nil {
			return append(b, "null"...)
		}
		b = append(b, `{"lastSignInDateTime":`...)
		b = appendValue(b, x.LastSignInDateTime)
		b = append(b, `,"lastNonInteractiveSignInDateTime":`...)
		b = appendValue(b, x.LastNonInteractiveSignInDateTime)
		b = append(b, `,"lastSuccessfulSignInDateTime":`...)
		b = appendValue(b, x.LastSuccessfulSignInDateTime)
		return append(b, '}')
	case []directory.Identity:
		b = append(b, '[')
		for i, id := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"signInType":`...)
			b = appendString(b, id.SignInType)
			b = append(b, `,"issuer":`...)
			b = appendString(b, id.Issuer)
			b = append(b, `,"issuerAssignedId":`...)
			b = appendString(b, id.IssuerAssignedID)
			b = append(b, '}')
		}
		return append(b, ']')
	}
	// A property type the writer does not know is a programming error in
	// the property table; null is safer than leaking a Go representation.
	return append(b, "null"...)
}

// formatDateTime writes Edm.DateTimeOffset as Graph does: UTC with a
// trailing Z, fractional seconds only when there are any.
func formatDateTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD;
// control characters and the JavaScript line separators are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
