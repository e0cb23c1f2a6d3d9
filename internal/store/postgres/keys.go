package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
)

// signingKeyLockSpace is the first key of the two-int advisory lock that
// serialises AddSigningKeyIfNone per tenant (the second is a hash of the
// tenant id). Two-int advisory locks do not collide with goose's one-bigint lock.
const signingKeyLockSpace = 0x67647200 // "gdr\0"

// SigningKeys returns the tenant's signing keys, newest first.
func (s *Store) SigningKeys(ctx context.Context, tenantID string) ([]directory.SigningKey, error) {
	const op = "postgres: signing keys"
	keys := []directory.SigningKey{}
	if !directory.IsGUID(tenantID) {
		return keys, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT kid, tenant_id, alg, private_der, created_at
		FROM signing_keys WHERE tenant_id = $1 ORDER BY created_at DESC, kid DESC`, tenantID)
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var k directory.SigningKey
		if err := rows.Scan(&k.ID, &k.TenantID, &k.Algorithm, &k.PrivateDER, &k.CreatedAt); err != nil {
			return nil, translate(err, op)
		}
		k.CreatedAt = k.CreatedAt.UTC()
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	return keys, nil
}

// AddSigningKeyIfNone inserts k unless k.TenantID already has a signing key.
// A transaction-scoped advisory lock per tenant makes the check and the
// insert atomic across instances, so concurrent callers end up with one key.
// The tenant must exist (EnsureTenant); a zero k.CreatedAt means now.
func (s *Store) AddSigningKeyIfNone(ctx context.Context, k directory.SigningKey) error {
	const op = "postgres: add signing key"
	if !directory.IsGUID(k.TenantID) {
		return directory.Internal(fmt.Errorf("tenant id %q is not a GUID", k.TenantID), op)
	}
	var created *time.Time
	if !k.CreatedAt.IsZero() {
		created = &k.CreatedAt
	}
	return s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, signingKeyLockSpace, k.TenantID); err != nil {
			return translate(err, op)
		}
		// A new statement, so its snapshot includes keys committed by whoever held the lock before.
		_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (tenant_id, kid, alg, private_der, created_at)
			SELECT $1, $2, $3, $4, COALESCE($5, now())
			WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE tenant_id = $1)`,
			k.TenantID, k.ID, k.Algorithm, k.PrivateDER, created)
		return translate(err, op)
	})
}

// Secret returns the named server secret. When there is none it stores
// generate()'s value unless another instance stored one first, and returns
// whichever value won. KindNotFound when there is none and generate is nil.
func (s *Store) Secret(ctx context.Context, name string, generate func() ([]byte, error)) ([]byte, error) {
	const op = "postgres: secret"
	const get = `SELECT value FROM server_secrets WHERE name = $1`
	var value []byte
	err := s.db.QueryRowContext(ctx, get, name).Scan(&value)
	if err == nil {
		return value, nil
	}
	if !isNoRows(err) {
		return nil, translate(err, op)
	}
	if generate == nil {
		return nil, directory.Errorf(directory.KindNotFound, "Secret '%s' does not exist.", name)
	}
	fresh, err := generate()
	if err != nil {
		return nil, directory.Internal(fmt.Errorf("generate %s: %w", name, err), op)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO NOTHING`, name, fresh); err != nil {
		return nil, translate(err, op)
	}
	if err := s.db.QueryRowContext(ctx, get, name).Scan(&value); err != nil {
		return nil, translate(err, op)
	}
	return value, nil
}
