package jsonstrict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Member is one key of an object with its undecoded value.
type Member struct {
	Key   string
	Value json.RawMessage
}

// Error describes why a document was refused. Key, when set, names the
// offending member.
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("%s (property '%s')", e.Msg, e.Key)
	}
	return e.Msg
}

// Object splits data, which must hold exactly one JSON object, into its
// members in document order. Duplicate keys, trailing data, invalid UTF-8 and
// non-object documents are errors.
func Object(data []byte) ([]Member, error) {
	if !utf8.Valid(data) {
		return nil, &Error{Msg: "The request body is not valid UTF-8."}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &Error{Msg: "The request body must be a JSON object."}
	}
	var members []Member
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, syntaxError(err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, &Error{Msg: "Invalid JSON: expected a property name."}
		}
		if seen[key] {
			return nil, &Error{Key: key, Msg: "Duplicate property in the request body"}
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, syntaxError(err)
		}
		if err := checkNested(raw); err != nil {
			var je *Error
			if errors.As(err, &je) && je.Key != "" {
				je.Key = key + "." + je.Key
			} else if errors.As(err, &je) {
				je.Key = key
			}
			return nil, err
		}
		members = append(members, Member{Key: key, Value: raw})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, syntaxError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Msg: "Invalid JSON: unexpected data after the request body's object."}
	}
	return members, nil
}

// checkNested refuses duplicate keys at any depth inside v.
func checkNested(v json.RawMessage) error {
	t := bytes.TrimLeft(v, " \t\r\n")
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return nil
	}
	if t[0] == '{' {
		ms, err := Object(t)
		if err != nil {
			return err
		}
		_ = ms
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(t, &items); err != nil {
		return syntaxError(err)
	}
	for _, it := range items {
		if err := checkNested(it); err != nil {
			return err
		}
	}
	return nil
}

func syntaxError(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &Error{Msg: "Invalid JSON: the request body ended unexpectedly."}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &Error{Msg: fmt.Sprintf("Invalid JSON at offset %d: %s.", se.Offset, se.Error())}
	}
	return &Error{Msg: "Invalid JSON: " + err.Error()}
}

// IsNull reports whether raw is the JSON literal null.
func IsNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// Fields decodes an object whose keys must each be one of allowed, spelled
// exactly. It returns the members by key.
func Fields(data []byte, allowed ...string) (map[string]json.RawMessage, error) {
	ms, err := Object(data)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(ms))
	for _, m := range ms {
		ok := false
		for _, a := range allowed {
			if m.Key == a {
				ok = true
				break
			}
		}
		if !ok {
			return nil, &Error{Key: m.Key, Msg: "Unknown property"}
		}
		out[m.Key] = m.Value
	}
	return out, nil
}
