package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.BrowserSignInStore = (*Store)(nil)

// The statements of the browser sign-in, named so that the bench's raw
// side runs exactly them (statements.go).
const (
	createBrowserSessionSQL = `INSERT INTO browser_sessions
		(tenant_id, id, token_hash, user_id, amr, auth_time, clients, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	browserSessionByTokenSQL = `SELECT b.tenant_id::text, b.id::text, b.user_id::text, b.amr, b.auth_time, b.clients, b.created_at, b.expires_at
		FROM browser_sessions b
		JOIN users u ON u.tenant_id = b.tenant_id AND u.id = b.user_id
		WHERE b.tenant_id = $1 AND b.token_hash = $2 AND b.ended_at IS NULL AND b.expires_at > $3
		  AND u.deleted_at IS NULL AND u.account_enabled IS DISTINCT FROM FALSE
		  AND b.created_at >= COALESCE(u.sign_in_sessions_valid_from, '-infinity'::timestamptz)`
	addBrowserSessionClientSQL = `UPDATE browser_sessions SET clients = array_append(clients, $3)
		WHERE tenant_id = $1 AND id = $2 AND NOT ($3 = ANY (clients))`
	createAuthCodeSQL = `INSERT INTO authorization_codes
		(tenant_id, code_hash, client_id, redirect_uri, redirect_kind, code_challenge, nonce, session_id, user_id,
		 scopes, amr, acrs, auth_time, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	redeemAuthCodeSQL = `UPDATE authorization_codes SET used_at = $3
		WHERE tenant_id = $1 AND code_hash = $2 AND used_at IS NULL AND lower(client_id) = lower($4)
		RETURNING ` + authCodeColumns
	setAuthCodeFamilySQL = `UPDATE authorization_codes SET family_id = $3
		WHERE tenant_id = $1 AND code_hash = $2`
)

func authCodeArgs(c directory.AuthCode, codeHash []byte) []any {
	return []any{c.TenantID, codeHash, c.ClientID, c.RedirectURI, string(c.RedirectKind), c.CodeChallenge, c.Nonce, c.SessionID, c.UserID,
		pq.Array(nonNil(c.Scopes)), pq.Array(nonNil(c.AMR)), pq.Array(nonNil(c.ACRS)), c.AuthTime, c.CreatedAt, c.ExpiresAt}
}

// CreateBrowserSession implements directory.BrowserSignInStore.
func (s *Store) CreateBrowserSession(ctx context.Context, bs directory.BrowserSession, tokenHash []byte) error {
	_, err := s.db.ExecContext(ctx, createBrowserSessionSQL,
		bs.TenantID, bs.ID, tokenHash, bs.UserID, pq.Array(nonNil(bs.AMR)), bs.AuthTime, pq.Array(nonNil(bs.Clients)),
		bs.CreatedAt, bs.ExpiresAt)
	return translate(err, "postgres: create browser session")
}

// BrowserSessionByToken implements directory.BrowserSignInStore: the user's
// revocation boundary and existence are checked in the same statement.
func (s *Store) BrowserSessionByToken(ctx context.Context, tenantID string, tokenHash []byte, now time.Time) (*directory.BrowserSession, error) {
	if !directory.IsGUID(tenantID) {
		return nil, directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	var bs directory.BrowserSession
	err := s.db.QueryRowContext(ctx, browserSessionByTokenSQL, tenantID, tokenHash, now).Scan(&bs.TenantID, &bs.ID, &bs.UserID, pq.Array(&bs.AMR), &bs.AuthTime,
		pq.Array(&bs.Clients), &bs.CreatedAt, &bs.ExpiresAt)
	if err != nil {
		return nil, translate(err, "postgres: browser session")
	}
	bs.AuthTime, bs.CreatedAt, bs.ExpiresAt = bs.AuthTime.UTC(), bs.CreatedAt.UTC(), bs.ExpiresAt.UTC()
	return &bs, nil
}

// AddBrowserSessionClient implements directory.BrowserSignInStore.
func (s *Store) AddBrowserSessionClient(ctx context.Context, tenantID, sessionID, clientID string) error {
	_, err := s.db.ExecContext(ctx, addBrowserSessionClientSQL, tenantID, sessionID, clientID)
	return translate(err, "postgres: add browser session client")
}

// EndBrowserSession implements directory.BrowserSignInStore.
func (s *Store) EndBrowserSession(ctx context.Context, tenantID string, tokenHash []byte, at time.Time) error {
	if !directory.IsGUID(tenantID) {
		return nil
	}
	_, err := s.db.ExecContext(ctx, `UPDATE browser_sessions SET ended_at = $3
		WHERE tenant_id = $1 AND token_hash = $2 AND ended_at IS NULL`, tenantID, tokenHash, at)
	return translate(err, "postgres: end browser session")
}

// CreateAuthCode implements directory.BrowserSignInStore.
func (s *Store) CreateAuthCode(ctx context.Context, c directory.AuthCode, codeHash []byte) error {
	_, err := s.db.ExecContext(ctx, createAuthCodeSQL, authCodeArgs(c, codeHash)...)
	return translate(err, "postgres: create authorization code")
}

const authCodeColumns = `tenant_id::text, client_id, redirect_uri, redirect_kind, code_challenge, nonce, session_id::text, user_id::text,
	scopes, amr, acrs, auth_time, created_at, expires_at, used_at, COALESCE(family_id::text, '')`

func scanAuthCode(row rowScanner) (*directory.AuthCode, error) {
	var c directory.AuthCode
	var kind string
	var used sql.NullTime
	if err := row.Scan(&c.TenantID, &c.ClientID, &c.RedirectURI, &kind, &c.CodeChallenge, &c.Nonce, &c.SessionID, &c.UserID,
		pq.Array(&c.Scopes), pq.Array(&c.AMR), pq.Array(&c.ACRS), &c.AuthTime, &c.CreatedAt, &c.ExpiresAt, &used, &c.FamilyID); err != nil {
		return nil, err
	}
	c.RedirectKind = directory.RedirectKind(kind)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = c.AuthTime.UTC(), c.CreatedAt.UTC(), c.ExpiresAt.UTC()
	if used.Valid {
		t := used.Time.UTC()
		c.UsedAt = &t
	}
	return &c, nil
}

// RedeemAuthCode implements directory.BrowserSignInStore: one conditional
// UPDATE decides which request spends the code.
func (s *Store) RedeemAuthCode(ctx context.Context, tenantID, clientID string, codeHash []byte, at time.Time) (*directory.AuthCode, bool, error) {
	const op = "postgres: redeem authorization code"
	if !directory.IsGUID(tenantID) {
		return nil, false, directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	c, err := scanAuthCode(s.db.QueryRowContext(ctx, redeemAuthCodeSQL, tenantID, codeHash, at, clientID))
	if err == nil {
		return c, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, translate(err, op)
	}
	c, err = scanAuthCode(s.db.QueryRowContext(ctx, `SELECT `+authCodeColumns+`
		FROM authorization_codes WHERE tenant_id = $1 AND code_hash = $2`, tenantID, codeHash))
	if err != nil {
		return nil, false, translate(err, op)
	}
	return c, false, nil
}

// SetAuthCodeFamily implements directory.BrowserSignInStore.
func (s *Store) SetAuthCodeFamily(ctx context.Context, tenantID string, codeHash []byte, familyID string) error {
	_, err := s.db.ExecContext(ctx, setAuthCodeFamilySQL, tenantID, codeHash, familyID)
	return translate(err, "postgres: set authorization code family")
}

// PruneBrowserSignIn implements directory.BrowserSignInStore. Used codes
// are kept until they expire, so that a replay within their lifetime is
// recognised as one.
func (s *Store) PruneBrowserSignIn(ctx context.Context, before time.Time) (int64, error) {
	const op = "postgres: prune browser sign-in"
	var total int64
	for _, q := range []string{
		`DELETE FROM authorization_codes WHERE expires_at < $1`,
		`DELETE FROM browser_sessions WHERE expires_at < $1 OR ended_at < $1`,
	} {
		res, err := s.db.ExecContext(ctx, q, before)
		if err != nil {
			return total, translate(err, op)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// RevokeRefreshTokenFamily implements directory.BrowserSignInStore: the
// family of the token under hash is revoked when the token was issued to
// clientID; false when there is no such token.
func (s *Store) RevokeRefreshTokenFamily(ctx context.Context, tenantID, clientID string, hash []byte, at time.Time) (bool, error) {
	if !directory.IsGUID(tenantID) {
		return false, nil
	}
	var family string
	err := s.db.QueryRowContext(ctx, `SELECT family_id::text FROM refresh_tokens
		WHERE tenant_id = $1 AND token_hash = $2 AND lower(client_id) = lower($3)`, tenantID, hash, clientID).Scan(&family)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, translate(err, "postgres: revoke refresh token")
	}
	return true, s.RevokeRefreshFamily(ctx, tenantID, family, at)
}
