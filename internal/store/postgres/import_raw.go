package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/graphdir/graphdir/internal/directory"
)

// The ceiling of graphdir import: what PostgreSQL itself takes to COPY the
// same users, straight into users and user_identities, same columns, same
// batches, no staging and no duplicate checks. The import's rate is
// reported next to it (raw vs graphdir), so that a slow import can be told
// apart from a slow schema (indexes, triggers).

var rawIdentityColumns = []string{"tenant_id", "user_id", "ordinal", "sign_in_type", "issuer", "issuer_assigned_id"}

// copyRawIdentitiesSQL is the COPY of the identities; that of the users is
// copyUsersSQL, derived from the property table (userprops.go).
var copyRawIdentitiesSQL = "COPY user_identities (" + strings.Join(rawIdentityColumns, ", ") + ") FROM STDIN"

// CopyUsersRaw writes batch into tenantID with a bare COPY in one
// transaction: no duplicate checks, so a taken userPrincipalName or
// identity fails the whole batch. It exists to measure the ceiling of
// ImportUsers (cmd/graphdir's import report and bench); loads of operator
// input go through ImportUsers.
func (s *Store) CopyUsersRaw(ctx context.Context, tenantID string, batch []directory.ImportRow) (err error) {
	const op = "postgres: copy users"
	if !directory.IsGUID(tenantID) {
		return directory.Internal(fmt.Errorf("tenant id %q is not a GUID", tenantID), op)
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return translate(err, op)
	}
	defer func() {
		if err != nil {
			tx.Rollback() //nolint:errcheck // the error that matters is err
		}
	}()
	if err := copyRawUsers(ctx, tx, tenantID, time.Now(), batch); err != nil {
		return translate(err, op)
	}
	if err := copyRawIdentities(ctx, tx, tenantID, batch); err != nil {
		return translate(err, op)
	}
	return translate(tx.Commit(), op)
}

// copyRawUsers COPYs batch into users; now is their createdDateTime and,
// for those with a password, lastPasswordChangeDateTime.
func copyRawUsers(ctx context.Context, tx *sqlx.Tx, tenantID string, now time.Time, batch []directory.ImportRow) error {
	stmt, err := tx.PrepareContext(ctx, copyUsersSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range batch {
		// createdDateTime is the load's time, and so is
		// lastPasswordChangeDateTime for a user with a password.
		var changed *time.Time
		if r.User.Password.Hash != "" {
			changed = &now
		}
		if _, err := stmt.ExecContext(ctx, userWriteArgs(tenantID, r.User, &now, changed)...); err != nil {
			return err
		}
	}
	_, err = stmt.ExecContext(ctx)
	return err
}

func copyRawIdentities(ctx context.Context, tx *sqlx.Tx, tenantID string, batch []directory.ImportRow) error {
	var stmt *sql.Stmt
	for _, r := range batch {
		for i, id := range r.User.Identities {
			if stmt == nil {
				var err error
				if stmt, err = tx.PrepareContext(ctx, copyRawIdentitiesSQL); err != nil {
					return err
				}
				defer stmt.Close()
			}
			if _, err := stmt.ExecContext(ctx, tenantID, r.User.ID, i+1, id.SignInType, id.Issuer, id.IssuerAssignedID); err != nil {
				return err
			}
		}
	}
	if stmt == nil {
		return nil
	}
	_, err := stmt.ExecContext(ctx)
	return err
}
