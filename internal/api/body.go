package api

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"mime"
	"net/http"
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
// them.
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
				if !bytes.Equal(bytes.TrimSpace(m.Value), []byte(`"`+odataTypeUser+`"`)) {
					return nil, (&directory.Error{Kind: directory.KindInvalid,
						Message: "The '@odata.type' of a user must be '" + odataTypeUser + "'."}).WithTarget(name)
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
			return nil, (&directory.Error{Kind: directory.KindReadOnly,
				Message: "Property '" + m.Key + "' is read-only and cannot be set."}).WithTarget(name)
		}
		v, err := prop.Decode(m.Value)
		if err != nil {
			return nil, err
		}
		values[prop.Name] = v
	}
	return values, nil
}
