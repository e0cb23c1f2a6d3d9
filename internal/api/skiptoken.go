package api

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/graphdir/graphdir/internal/directory"
)

// skipTokenVersion is the first byte of every token's payload. Version 1
// carried a bare id (before $orderby); version 2 carries a
// directory.Cursor as JSON. Tokens of another version are refused like
// forged ones: a client holding an old link starts the listing again.
const skipTokenVersion = 2

// maxSkipTokenLen bounds what we decode. A cursor holds one value per
// $orderby key; sort keys are directory strings of at most a few hundred
// bytes, so real tokens stay well under this.
const maxSkipTokenLen = 8 << 10

// skipTokenSigner makes and checks $skiptoken values: base64url(payload ||
// HMAC-SHA256(key, tenant, query shape, payload)), payload = version ||
// JSON(cursor). The tenant and query shape are bound by the MAC but not
// carried, so a token is only valid for the tenant and query options it
// came from; anything else (forged, altered, replayed on another query or
// tenant) is a 400, never a 500.
type skipTokenSigner struct {
	key []byte
}

func (s skipTokenSigner) mac(tenantID string, shape [sha256.Size]byte, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("graphdir/skiptoken\x00"))
	m.Write([]byte(tenantID))
	m.Write([]byte{0})
	m.Write(shape[:])
	m.Write(payload)
	return m.Sum(nil)
}

// Sign returns the token that continues a listing after cursor.
func (s skipTokenSigner) Sign(tenantID string, shape [sha256.Size]byte, cursor *directory.Cursor) string {
	js, err := json.Marshal(cursor)
	if err != nil {
		// A Cursor is strings and pointers to strings: cannot fail.
		panic(err)
	}
	payload := append([]byte{skipTokenVersion}, js...)
	return encodeToken(append(payload, s.mac(tenantID, shape, payload)...))
}

// Open checks token and returns the cursor it carries.
func (s skipTokenSigner) Open(tenantID string, shape [sha256.Size]byte, token string) (*directory.Cursor, error) {
	if len(token) > maxSkipTokenLen {
		return nil, errBadSkipToken()
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 2+sha256.Size {
		return nil, errBadSkipToken()
	}
	payload, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(sum, s.mac(tenantID, shape, payload)) || payload[0] != skipTokenVersion {
		return nil, errBadSkipToken()
	}
	// The MAC proves we wrote this payload; decoding strictly anyway keeps
	// a key leak from turning into a decoder bug.
	var c directory.Cursor
	dec := json.NewDecoder(bytes.NewReader(payload[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() || c.ID == "" {
		return nil, errBadSkipToken()
	}
	return &c, nil
}

func errBadSkipToken() error {
	return (&directory.Error{Kind: directory.KindInvalid,
		Message: "The $skiptoken is invalid or does not belong to this query. Use @odata.nextLink as returned."}).WithTarget("$skiptoken")
}

// encodeToken is the token's text form: unpadded base64url, safe in a URL
// without escaping.
func encodeToken(raw []byte) string { return base64.RawURLEncoding.EncodeToString(raw) }
