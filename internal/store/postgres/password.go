package postgres

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.PasswordStore = (*Store)(nil)

// ChangePassword reads the user's password state and passwordPolicies under
// a row lock, lets change decide, and stores the new state with
// lastPasswordChangeDateTime = at, all in one transaction (which also holds
// ev, nil for none). The hash never leaves this method except into change.
// KindNotFound when the user does not exist; change's error as it is.
func (s *Store) ChangePassword(ctx context.Context, tenantID, userID string, at time.Time,
	change func(current directory.PasswordState, policies *string) (*directory.PasswordState, error), ev *directory.AuditEvent) error {
	const op = "postgres: change password"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(userID) {
		return directory.ErrNotFoundUser(userID)
	}
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		var hash, policies *string
		var force, forceMfa bool
		err := tx.QueryRowxContext(ctx, `SELECT password_hash, password_policies,
			force_change_password_next_sign_in, force_change_password_next_sign_in_with_mfa
			FROM users WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE`, tenantID, userID).
			Scan(&hash, &policies, &force, &forceMfa)
		if isNoRows(err) {
			return directory.ErrNotFoundUser(userID)
		}
		if err != nil {
			return translate(err, op)
		}
		cur := directory.PasswordState{ForceChangePasswordNextSignIn: force, ForceChangePasswordNextSignInWithMfa: forceMfa}
		if hash != nil {
			cur.Hash = *hash
		}
		next, err := change(cur, policies)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE users SET password_hash = $3,
			force_change_password_next_sign_in = $4, force_change_password_next_sign_in_with_mfa = $5,
			last_password_change_at = $6, version = version + 1
			WHERE tenant_id = $1 AND id = $2`,
			tenantID, userID, next.Hash, next.ForceChangePasswordNextSignIn, next.ForceChangePasswordNextSignInWithMfa, at)
		return translate(err, op)
	})
}
