package api

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// odataTypeUser is the only @odata.type a user body may declare.
const odataTypeUser = "#microsoft.graph.user"

// readBody returns the request body of a POST or PATCH: JSON only, plain or
// gzip (Graph SDKs compress), never more than s.maxBody bytes either on the
// wire or after decompression, so a gzip bomb is a 413 rather than an OOM.
func (s *server) readBody(c *gin.Context) ([]byte, error) {
	r := c.Request
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, errUnsupportedMediaType("The request body must have Content-Type 'application/json'.")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, errUnsupportedMediaType("The request body must be encoded as UTF-8.")
	}
	encodings := r.Header.Values("Content-Encoding")
	if len(encodings) > 1 {
		return nil, errUnsupportedMediaType("Only one Content-Encoding, 'gzip', is supported.")
	}
	var encoding string
	if len(encodings) == 1 {
		encoding = strings.ToLower(strings.TrimSpace(encodings[0]))
	}
	if r.ContentLength > s.maxBody {
		return nil, errEntityTooLarge(s.maxBody)
	}
	body := http.MaxBytesReader(c.Writer, r.Body, s.maxBody)
	defer body.Close()

	var data []byte
	switch encoding {
	case "", "identity":
		data, err = io.ReadAll(body)
	case "gzip", "x-gzip":
		var zr *gzip.Reader
		zr, err = gzip.NewReader(body)
		if err == nil {
			data, err = io.ReadAll(io.LimitReader(zr, s.maxBody+1))
			if err == nil && int64(len(data)) > s.maxBody {
				return nil, errEntityTooLarge(s.maxBody)
			}
		}
		if err != nil && !isMaxBytes(err) {
			return nil, directory.Errorf(directory.KindBadRequest, "The request body is not valid gzip data.")
		}
	default:
		return nil, errUnsupportedMediaType("Content-Encoding '" + encoding + "' is not supported; use 'gzip' or none.")
	}
	switch {
	case isMaxBytes(err):
		return nil, errEntityTooLarge(s.maxBody)
	case err != nil:
		return nil, directory.Errorf(directory.KindBadRequest, "The request body could not be read.")
	}
	return data, nil
}

func isMaxBytes(err error) bool {
	var mb *http.MaxBytesError
	return errors.As(err, &mb)
}

// strictMembers splits a JSON object body into its members, strictly
// (jsonstrict); a fault at one key is an invalid value of that property,
// any other fault a malformed request.
func strictMembers(data []byte) ([]jsonstrict.Member, error) {
	members, err := jsonstrict.Object(data)
	if err != nil {
		var je *jsonstrict.Error
		if errors.As(err, &je) && je.Key != "" {
			return nil, (&directory.Error{Kind: directory.KindInvalid, Message: textlimit.Clip(je.Error(), maxEchoed)}).WithTarget(textlimit.Clip(je.Key, maxEchoed))
		}
		return nil, directory.Errorf(directory.KindBadRequest, "%s", textlimit.Clip(err.Error(), maxEchoed))
	}
	return members, nil
}

// decodeUserBody splits a user body strictly and decodes each property:
// keys spelled exactly, once, known and writable, values of the right type.
// It returns the values keyed by property name, as directory.Service takes
// them. Its table is directory's user property table (LookupProperty), which
// also types extension values and hints at case-variant keys; the bodies of
// the other resources use bodyTable below.
func decodeUserBody(data []byte) (map[string]any, error) {
	members, err := strictMembers(data)
	if err != nil {
		return nil, err
	}
	values := make(map[string]any, len(members))
	for _, m := range members {
		name := textlimit.Clip(m.Key, maxEchoed)
		if strings.HasPrefix(m.Key, "@") {
			if m.Key == "@odata.type" {
				if !isODataType(m.Value, odataTypeUser) {
					return nil, odataTypeError(odataTypeUser, "a user")
				}
				continue
			}
			return nil, (&directory.Error{Kind: directory.KindInvalid,
				Message: "Annotation '" + name + "' is not supported in the request body."}).WithTarget(name)
		}
		prop, ok := directory.LookupProperty(m.Key)
		if !ok && directory.IsExtensionName(m.Key) {
			// Typed by the Service against the tenant's definitions.
			values[m.Key] = directory.RawExtension(m.Value)
			continue
		}
		if !ok {
			if p, fold := directory.LookupPropertyFold(m.Key); fold {
				return nil, (&directory.Error{Kind: directory.KindInvalid,
					Message: "Property '" + name + "' does not exist as a declared property or extension property; property names are case-sensitive, did you mean '" + p.Name + "'?"}).WithTarget(name)
			}
			return nil, (&directory.Error{Kind: directory.KindInvalid,
				Message: "Property '" + name + "' does not exist as a declared property or extension property."}).WithTarget(name)
		}
		if prop.ReadOnly {
			return nil, readOnlyProperty(m.Key)
		}
		v, err := prop.Decode(m.Value)
		if err != nil {
			return nil, err
		}
		values[prop.Name] = v
	}
	return values, nil
}

// ----- property tables for the other bodies

// bodyTable is the property table of one kind of JSON object body (an
// application, an extension property definition, an addPassword request,
// ...): decodeMembers reads a body into a T by it, so that a new property
// is one row.
type bodyTable[T any] struct {
	// resource names the body's type in the refusal of an unknown key,
	// e.g. "microsoft.graph.application".
	resource string
	// odataType is the one '@odata.type' the body may declare, and noun
	// names the resource in its refusal ("an application"). With no
	// odataType, '@odata.type' is an unknown key like any other.
	odataType, noun string
	// unknown, when set, words the refusal of an unknown key (clipped to
	// maxEchoed) in place of unknownProperty's message, for a body that
	// answers it in its own words (a role assignment lists its writable
	// properties).
	unknown func(key string) string
	fields  []bodyField[T]
}

// bodyField is one row of a bodyTable: a key, spelled exactly, and what a
// body may do with it. A row either decodes its value (decode) or refuses
// the key whatever its value: readOnly for server-set properties (400
// read-only), refuse for properties graphdir does not let a body set (400
// invalid, so that nothing is silently dropped).
type bodyField[T any] struct {
	name string
	// decode stores a value into *into. It never sees null: a null value
	// is skipped when nullable and refused as an invalid value otherwise.
	// An error that is not a *directory.Error (a failed json.Unmarshal,
	// say) is reported as an invalid value of the property, so a row can
	// return json.Unmarshal's error as is; a nested object's row calls
	// decodeObject with its own table and returns its error unchanged.
	decode   func(raw json.RawMessage, into *T) error
	nullable bool
	// decodeNull passes a null value to decode, for a property whose null
	// means something (a nullable property a PATCH resets).
	decodeNull bool
	readOnly   bool
	// refuse is the message refusing the key: for a readOnly row it
	// replaces the default "is read-only" message.
	refuse string
	// invalid, when set, is the message refusing an invalid value (a null
	// where null is not allowed, a value decode cannot read) in place of
	// invalidProperty's.
	invalid string
}

// errInvalidValue is what a decode func returns for a value of the right
// JSON type that is still out of range; decodeMembers reports it as an
// invalid value of the row's property.
var errInvalidValue = errors.New("invalid value")

// readOnlyFields are rows refusing server-set keys as read-only.
func readOnlyFields[T any](names ...string) []bodyField[T] {
	rows := make([]bodyField[T], len(names))
	for i, n := range names {
		rows[i] = bodyField[T]{name: n, readOnly: true}
	}
	return rows
}

// unsupportedFields are rows refusing Graph properties graphdir does not
// model.
func unsupportedFields[T any](names ...string) []bodyField[T] {
	rows := make([]bodyField[T], len(names))
	for i, n := range names {
		rows[i] = bodyField[T]{name: n, refuse: "Property '" + n + "' is not supported by graphdir."}
	}
	return rows
}

// decodeObject splits data, which must be one JSON object, strictly and
// decodes it by t.
func decodeObject[T any](data []byte, t *bodyTable[T]) (T, error) {
	members, err := strictMembers(data)
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeMembers(members, t)
}

// decodeMembers decodes the members of a JSON object body by t, in body
// order, stopping at the first refused member: an unknown key (names are
// case-sensitive, as Graph's are), a read-only or refused key, a null
// where null is not allowed, a value the row cannot decode, or a wrong
// '@odata.type'. Duplicate keys never get here (jsonstrict refuses them).
func decodeMembers[T any](members []jsonstrict.Member, t *bodyTable[T]) (T, error) {
	var v T
	for _, m := range members {
		if m.Key == "@odata.type" && t.odataType != "" {
			if !isODataType(m.Value, t.odataType) {
				return v, odataTypeError(t.odataType, t.noun)
			}
			continue
		}
		i := slices.IndexFunc(t.fields, func(f bodyField[T]) bool { return f.name == m.Key })
		if i < 0 {
			if t.unknown != nil {
				key := textlimit.Clip(m.Key, maxEchoed)
				return v, (&directory.Error{Kind: directory.KindInvalid, Message: t.unknown(key)}).WithTarget(key)
			}
			return v, unknownProperty(m.Key, t.resource)
		}
		f := &t.fields[i]
		switch {
		case f.readOnly && f.refuse != "":
			return v, (&directory.Error{Kind: directory.KindReadOnly, Message: f.refuse}).WithTarget(f.name)
		case f.readOnly:
			return v, readOnlyProperty(f.name)
		case f.refuse != "":
			return v, (&directory.Error{Kind: directory.KindInvalid, Message: f.refuse}).WithTarget(f.name)
		case jsonstrict.IsNull(m.Value) && f.decodeNull:
		case jsonstrict.IsNull(m.Value) && f.nullable:
			continue
		case jsonstrict.IsNull(m.Value):
			return v, f.invalidValue()
		}
		if err := f.decode(m.Value, &v); err != nil {
			var de *directory.Error
			if errors.As(err, &de) {
				return v, err
			}
			return v, f.invalidValue()
		}
	}
	return v, nil
}

// invalidValue refuses an invalid value of f's property.
func (f *bodyField[T]) invalidValue() error {
	if f.invalid != "" {
		return (&directory.Error{Kind: directory.KindInvalid, Message: f.invalid}).WithTarget(f.name)
	}
	return invalidProperty(f.name)
}

// isODataType reports whether raw is the JSON string want.
func isODataType(raw json.RawMessage, want string) bool {
	var got string
	return json.Unmarshal(raw, &got) == nil && got == want
}

func odataTypeError(want, noun string) error {
	return (&directory.Error{Kind: directory.KindInvalid,
		Message: "The '@odata.type' of " + noun + " must be '" + want + "'."}).WithTarget("@odata.type")
}

func readOnlyProperty(key string) error {
	return (&directory.Error{Kind: directory.KindReadOnly,
		Message: "Property '" + key + "' is read-only and cannot be set."}).WithTarget(textlimit.Clip(key, maxEchoed))
}

// unknownProperty refuses a key no row of resource's table names.
func unknownProperty(key, resource string) error {
	return (&directory.Error{Kind: directory.KindInvalid,
		Message: "Property '" + textlimit.Clip(key, maxEchoed) + "' does not exist as a declared property or extension property of '" + resource + "'."}).WithTarget(textlimit.Clip(key, maxEchoed))
}

// invalidProperty refuses a value of the wrong type (or out of range).
func invalidProperty(key string) error {
	return (&directory.Error{Kind: directory.KindInvalid,
		Message: "Invalid value specified for property '" + key + "'."}).WithTarget(key)
}
