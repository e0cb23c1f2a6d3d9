package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.SignInFlowStore = (*Store)(nil)

const signInFlowColumns = `tenant_id, id, client_id, kind, step, COALESCE(user_id::text, ''), username, amr, data, version, created_at, expires_at`

// CreateSignInFlow implements directory.SignInFlowStore.
func (s *Store) CreateSignInFlow(ctx context.Context, f directory.SignInFlow, handleHash []byte) error {
	const op = "postgres: create sign-in flow"
	data, err := flowData(f.Data)
	if err != nil {
		return directory.Internal(err, op)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO signin_flows
		(tenant_id, id, handle_hash, client_id, kind, step, user_id, username, amr, data, version, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, NULLIF($7, '')::uuid, $8, $9, $10, 1, $11, $12)`,
		f.TenantID, f.ID, handleHash, f.ClientID, f.Kind, f.Step, f.UserID, f.Username,
		pq.Array(nonNil(f.AMR)), data, f.CreatedAt, f.ExpiresAt)
	return translate(err, op)
}

// SignInFlowByHandle implements directory.SignInFlowStore. Expired flows are
// returned too: the caller tells "expired" from "unknown" to the client.
func (s *Store) SignInFlowByHandle(ctx context.Context, tenantID string, handleHash []byte) (directory.SignInFlow, error) {
	const op = "postgres: sign-in flow"
	if !directory.IsGUID(tenantID) {
		return directory.SignInFlow{}, directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+signInFlowColumns+`
		FROM signin_flows WHERE tenant_id = $1 AND handle_hash = $2`, tenantID, handleHash)
	var (
		f    directory.SignInFlow
		amr  pq.StringArray
		data []byte
	)
	if err := row.Scan(&f.TenantID, &f.ID, &f.ClientID, &f.Kind, &f.Step, &f.UserID, &f.Username,
		&amr, &data, &f.Version, &f.CreatedAt, &f.ExpiresAt); err != nil {
		return directory.SignInFlow{}, translate(err, op)
	}
	f.AMR = []string(amr)
	if err := json.Unmarshal(data, &f.Data); err != nil {
		return directory.SignInFlow{}, directory.Internal(fmt.Errorf("%s: data: %w", op, err), op)
	}
	f.CreatedAt, f.ExpiresAt = f.CreatedAt.UTC(), f.ExpiresAt.UTC()
	return f, nil
}

// AdvanceSignInFlow implements directory.SignInFlowStore in one guarded
// UPDATE, so of two requests presenting the same handle at once exactly one
// advances the flow.
func (s *Store) AdvanceSignInFlow(ctx context.Context, f directory.SignInFlow, oldHash, newHash []byte) error {
	const op = "postgres: advance sign-in flow"
	data, err := flowData(f.Data)
	if err != nil {
		return directory.Internal(err, op)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE signin_flows
		SET handle_hash = $4, step = $5, user_id = NULLIF($6, '')::uuid, username = $7, amr = $8, data = $9,
		    version = version + 1
		WHERE tenant_id = $1 AND handle_hash = $2 AND version = $3 AND expires_at > now()`,
		f.TenantID, oldHash, f.Version, newHash, f.Step, f.UserID, f.Username, pq.Array(nonNil(f.AMR)), data)
	if err != nil {
		return translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err, op)
	} else if n != 1 {
		return directory.Errorf(directory.KindConflict, "The flow was advanced by another request or has ended.")
	}
	return nil
}

// DeleteSignInFlow implements directory.SignInFlowStore.
func (s *Store) DeleteSignInFlow(ctx context.Context, tenantID string, handleHash []byte) (bool, error) {
	const op = "postgres: delete sign-in flow"
	if !directory.IsGUID(tenantID) {
		return false, nil
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM signin_flows WHERE tenant_id = $1 AND handle_hash = $2`, tenantID, handleHash)
	if err != nil {
		return false, translate(err, op)
	}
	n, err := res.RowsAffected()
	return n == 1, translate(err, op)
}

// PruneSignInFlows implements directory.SignInFlowStore.
func (s *Store) PruneSignInFlows(ctx context.Context, before time.Time) (int64, error) {
	const op = "postgres: prune sign-in flows"
	res, err := s.db.ExecContext(ctx, `DELETE FROM signin_flows WHERE expires_at < $1`, before)
	if err != nil {
		return 0, translate(err, op)
	}
	n, err := res.RowsAffected()
	return n, translate(err, op)
}

// flowData is the data column's JSON as text: ServingURL turns on
// binary_parameters (serve's and the bench's pools), which sends a []byte
// in binary format, and jsonb refuses that ("unsupported jsonb version").
func flowData(m map[string]string) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}
