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

// rawUserColumns are the users columns of an import, in COPY order.
var rawUserColumns = []string{
	"tenant_id", "id", "account_enabled", "age_group", "business_phones", "city", "company_name",
	"consent_provided_for_minor", "country", "created_at", "creation_type", "department",
	"display_name", "employee_id", "employee_type", "fax_number", "given_name", "job_title",
	"mail", "mail_nickname", "mobile_phone", "office_location", "other_mails",
	"password_policies", "postal_code", "preferred_language", "proxy_addresses", "state",
	"street_address", "surname", "usage_location", "user_principal_name", "user_type",
	"password_hash", "force_change_password_next_sign_in",
	"force_change_password_next_sign_in_with_mfa", "last_password_change_at",
}

var rawIdentityColumns = []string{"tenant_id", "user_id", "ordinal", "sign_in_type", "issuer", "issuer_assigned_id"}

var (
	copyRawUsersSQL      = "COPY users (" + strings.Join(rawUserColumns, ", ") + ") FROM STDIN"
	copyRawIdentitiesSQL = "COPY user_identities (" + strings.Join(rawIdentityColumns, ", ") + ") FROM STDIN"
)

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
	stmt, err := tx.PrepareContext(ctx, copyRawUsersSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, r := range batch {
		u := r.User
		var hash *string
		var changed *time.Time
		if u.Password.Hash != "" {
			hash, changed = &u.Password.Hash, &now
		}
		if _, err := stmt.ExecContext(ctx,
			tenantID, u.ID, u.AccountEnabled, u.AgeGroup, strArray(u.BusinessPhones), u.City, u.CompanyName,
			u.ConsentProvidedForMinor, u.Country, now, u.CreationType, u.Department,
			u.DisplayName, u.EmployeeID, u.EmployeeType, u.FaxNumber, u.GivenName, u.JobTitle,
			u.Mail, u.MailNickname, u.MobilePhone, u.OfficeLocation, strArray(u.OtherMails),
			u.PasswordPolicies, u.PostalCode, u.PreferredLanguage, strArray(u.ProxyAddresses), u.State,
			u.StreetAddress, u.Surname, u.UsageLocation, u.UserPrincipalName, u.UserType,
			hash, u.Password.ForceChangePasswordNextSignIn,
			u.Password.ForceChangePasswordNextSignInWithMfa, changed,
		); err != nil {
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
