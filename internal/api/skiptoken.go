package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"

	"github.com/graphdir/graphdir/internal/directory"
)

// skipTokenVersion is the first byte of every token's payload; a new
// continuation format (e.g. keyset values for $orderby) takes a new version.
const skipTokenVersion = 1

// maxSkipTokenLen bounds what we decode; real tokens are about 100 bytes.
const maxSkipTokenLen = 512

// skipTokenSigner makes and checks $skiptoken values: base64url(payload ||
// HMAC-SHA256(key, tenant, query shape, payload)), payload = version ||
// AfterID. The tenant and query shape are bound by the MAC but not carried,
// so a token is only valid for the tenant and query options it came from;
// anything else (forged, altered, replayed on another query or tenant) is
// a 400, never a 500.
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

// Sign returns the token that continues a listing after afterID.
func (s skipTokenSigner) Sign(tenantID string, shape [sha256.Size]byte, afterID string) string {
	payload := append([]byte{skipTokenVersion}, afterID...)
	return base64.RawURLEncoding.EncodeToString(append(payload, s.mac(tenantID, shape, payload)...))
}

// Open checks token and returns the AfterID it carries.
func (s skipTokenSigner) Open(tenantID string, shape [sha256.Size]byte, token string) (string, error) {
	if len(token) > maxSkipTokenLen {
		return "", errBadSkipToken()
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 2+sha256.Size {
		return "", errBadSkipToken()
	}
	payload, sum := raw[:len(raw)-sha256.Size], raw[len(raw)-sha256.Size:]
	if !hmac.Equal(sum, s.mac(tenantID, shape, payload)) || payload[0] != skipTokenVersion {
		return "", errBadSkipToken()
	}
	return string(payload[1:]), nil
}

func errBadSkipToken() error {
	return (&directory.Error{Kind: directory.KindInvalid,
		Message: "The $skiptoken is invalid or does not belong to this query. Use @odata.nextLink as returned."}).WithTarget("$skiptoken")
}
