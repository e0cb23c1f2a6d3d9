package postgres

import (
	"context"
	"database/sql"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
)

// TenantHideUserNotFound returns the tenant's hide-user-not-found setting
// (nil: the deployment default): one column by primary key, which native
// authentication reads when a username matches no account.
// KindNotFound when the tenant does not exist.
func (s *Store) TenantHideUserNotFound(ctx context.Context, tenantID string) (*bool, error) {
	if !directory.IsGUID(tenantID) {
		return nil, errTenantNotFound(tenantID)
	}
	var hide sql.NullBool
	err := s.db.QueryRowContext(ctx, `SELECT hide_user_not_found FROM tenants WHERE id = $1`, tenantID).Scan(&hide)
	if isNoRows(err) {
		return nil, errTenantNotFound(tenantID)
	}
	if err != nil {
		return nil, translate(err, "postgres: tenant hide user not found")
	}
	if !hide.Valid {
		return nil, nil
	}
	return &hide.Bool, nil
}

// SetTenantHideUserNotFound stores the setting (nil: back to the
// deployment default) with ev (nil: none) in the same transaction.
// KindNotFound when the tenant does not exist, and then ev is not stored
// as a success.
func (s *Store) SetTenantHideUserNotFound(ctx context.Context, tenantID string, hide *bool, ev *directory.AuditEvent) error {
	const op = "postgres: set tenant hide user not found"
	if !directory.IsGUID(tenantID) {
		return errTenantNotFound(tenantID)
	}
	return s.auditedWrite(ctx, op, ev, func(q sqlx.ExtContext) error {
		res, err := q.ExecContext(ctx, `UPDATE tenants SET hide_user_not_found = $2 WHERE id = $1`, tenantID, hide)
		return deletedOne(res, err, op, errTenantNotFound(tenantID)) // one row by key, as a delete
	})
}
