package directory

import (
	"context"
	"time"
)

// SigningKey is one of a tenant's token-signing keys as stored: the private
// key in PKCS#8 DER. Keys live in the database so that every instance of
// graphdir signs and verifies with the same set.
type SigningKey struct {
	ID         string // the JWK kid
	TenantID   string
	Algorithm  string // RS256
	PrivateDER []byte
	CreatedAt  time.Time
}

// KeyStore persists signing keys and server secrets.
type KeyStore interface {
	// SigningKeys returns the tenant's signing keys, newest first.
	SigningKeys(ctx context.Context, tenantID string) ([]SigningKey, error)
	// AddSigningKeyIfNone inserts k unless the tenant already has a key;
	// several instances starting at once end up sharing one key.
	AddSigningKeyIfNone(ctx context.Context, k SigningKey) error
	// Secret returns the named server secret, storing generate()'s value
	// first if there is none yet (first writer wins across instances).
	Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error)
}
