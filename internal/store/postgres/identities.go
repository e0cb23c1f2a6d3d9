package postgres

import (
	"bytes"
	"encoding/json"

	"github.com/graphdir/graphdir/internal/directory"
)

// decodeIdentities decodes the identities column of userSelect: the
// json_agg of json_build_object('signInType', ..., 'issuer', ...,
// 'issuerAssignedId', ...), which PostgreSQL always renders as
//
//	[{"signInType" : "a", "issuer" : "b", "issuerAssignedId" : "c"}, ...]
//
// Reading that fixed shape directly costs a fraction of encoding/json's
// reflection (which was ~10% of a page of users); anything else (an escape
// in a value, another layout) goes to json.Unmarshal, so the result is the
// same either way.
func decodeIdentities(b []byte, out *[]directory.Identity) error {
	if ids, ok := decodeIdentitiesFast(b); ok {
		*out = ids
		return nil
	}
	return json.Unmarshal(b, out)
}

func decodeIdentitiesFast(b []byte) ([]directory.Identity, bool) {
	if bytes.IndexByte(b, '\\') >= 0 {
		return nil, false
	}
	if string(b) == "[]" {
		return []directory.Identity{}, true
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, false
	}
	rest := b[1 : len(b)-1]
	ids := make([]directory.Identity, 0, 1+bytes.Count(rest, []byte("}, {")))
	for {
		var id directory.Identity
		var ok bool
		if rest, ok = expect(rest, `{"signInType" : `); !ok {
			return nil, false
		}
		if id.SignInType, rest, ok = jsonString(rest); !ok {
			return nil, false
		}
		if rest, ok = expect(rest, `, "issuer" : `); !ok {
			return nil, false
		}
		if id.Issuer, rest, ok = jsonString(rest); !ok {
			return nil, false
		}
		if rest, ok = expect(rest, `, "issuerAssignedId" : `); !ok {
			return nil, false
		}
		if id.IssuerAssignedID, rest, ok = jsonString(rest); !ok {
			return nil, false
		}
		if rest, ok = expect(rest, `}`); !ok {
			return nil, false
		}
		ids = append(ids, id)
		if len(rest) == 0 {
			return ids, true
		}
		if rest, ok = expect(rest, `, `); !ok {
			return nil, false
		}
	}
}

func expect(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

// jsonString reads a JSON string without escapes (the caller made sure
// there are none) and returns it and what follows.
func jsonString(b []byte) (string, []byte, bool) {
	if len(b) < 2 || b[0] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return "", nil, false
	}
	return string(b[1 : 1+end]), b[end+2:], true
}
