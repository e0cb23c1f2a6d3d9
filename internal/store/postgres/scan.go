package postgres

import (
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// Scanning users without sqlx's reflection. sqlx's StructScan walks the
// struct by reflection for every row (fieldsByTraversal was ~17% of the CPU
// of a page of 100 users); the destinations here come from a switch on the
// column name. A column the switch does not know (a new one in userSelect)
// makes the scan fall back to StructScan, which is slower but right;
// TestScanFieldsCoverUserRow asks for the switch to be extended.

// field returns a pointer to the field of r that column col scans into, or
// nil.
func (r *userRow) field(col string) any {
	switch col {
	case "tenant_id":
		return &r.TenantID
	case "id":
		return &r.ID
	case "account_enabled":
		return &r.AccountEnabled
	case "age_group":
		return &r.AgeGroup
	case "business_phones":
		return &r.BusinessPhones
	case "city":
		return &r.City
	case "company_name":
		return &r.CompanyName
	case "consent_provided_for_minor":
		return &r.ConsentProvidedForMinor
	case "country":
		return &r.Country
	case "created_at":
		return &r.CreatedAt
	case "creation_type":
		return &r.CreationType
	case "department":
		return &r.Department
	case "display_name":
		return &r.DisplayName
	case "employee_id":
		return &r.EmployeeID
	case "employee_type":
		return &r.EmployeeType
	case "fax_number":
		return &r.FaxNumber
	case "given_name":
		return &r.GivenName
	case "job_title":
		return &r.JobTitle
	case "mail":
		return &r.Mail
	case "mail_nickname":
		return &r.MailNickname
	case "mobile_phone":
		return &r.MobilePhone
	case "office_location":
		return &r.OfficeLocation
	case "other_mails":
		return &r.OtherMails
	case "password_policies":
		return &r.PasswordPolicies
	case "postal_code":
		return &r.PostalCode
	case "preferred_language":
		return &r.PreferredLanguage
	case "proxy_addresses":
		return &r.ProxyAddresses
	case "state":
		return &r.State
	case "street_address":
		return &r.StreetAddress
	case "surname":
		return &r.Surname
	case "usage_location":
		return &r.UsageLocation
	case "user_principal_name":
		return &r.UserPrincipalName
	case "user_type":
		return &r.UserType
	case "password_hash":
		return &r.PasswordHash
	case "force_change_password_next_sign_in":
		return &r.ForceChange
	case "force_change_password_next_sign_in_with_mfa":
		return &r.ForceChangeWithMfa
	case "last_password_change_at":
		return &r.LastPasswordChangeAt
	case "version":
		return &r.Version
	case "deleted_at":
		return &r.DeletedAt
	case "identities":
		return &r.Identities
	}
	return nil
}

func (r *listRow) field(col string) any {
	switch col {
	case "sort_keys":
		return &r.SortKeys
	case "total":
		return &r.Total
	}
	return r.userRow.field(col)
}

// scanTargets fills dst (len(cols)) with field(cols[i]) and reports
// whether every column has one.
func scanTargets(field func(string) any, cols []string, dst []any) bool {
	for i, c := range cols {
		p := field(c)
		if p == nil {
			return false
		}
		// database/sql scans into a pointer field (**string, a NULL-able
		// column) by reflection, reflect.New and a recursive call: that was
		// the largest part of scanning a page of 100 users. These Scanners
		// do it directly; each is one pointer, so boxing it allocates
		// nothing.
		switch p := p.(type) {
		case **string:
			dst[i] = scanString{p}
		case **bool:
			dst[i] = scanBool{p}
		case **time.Time:
			dst[i] = scanTime{p}
		default:
			dst[i] = p
		}
	}
	return true
}

type (
	scanString struct{ p **string }
	scanBool   struct{ p **bool }
	scanTime   struct{ p **time.Time }
)

func (n scanString) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = nil
	case string:
		*n.p = &v
	case []byte:
		s := string(v)
		*n.p = &s
	default:
		return fmt.Errorf("cannot scan %T into a string", src)
	}
	return nil
}

func (n scanBool) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = nil
	case bool:
		*n.p = &v
	default:
		return fmt.Errorf("cannot scan %T into a bool", src)
	}
	return nil
}

func (n scanTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*n.p = nil
	case time.Time:
		*n.p = &v
	default:
		return fmt.Errorf("cannot scan %T into a time", src)
	}
	return nil
}

// scanUser scans the one row of row into r.
func scanUser(row *sqlx.Row, r *userRow) error { return scanOne(row, r.field, r) }

// scanOne scans the one row of row through field, falling back to
// StructScan into dst when field does not know a column.
func scanOne(row *sqlx.Row, field func(col string) any, dst any) error {
	cols, err := row.Columns()
	if err != nil {
		return row.Scan() // reports the query's error (sql.ErrNoRows included)
	}
	ptrs := make([]any, len(cols))
	if !scanTargets(field, cols, ptrs) {
		return row.StructScan(dst)
	}
	return row.Scan(ptrs...)
}

// listScanner scans the rows of one list statement.
type listScanner struct {
	rows *sqlx.Rows
	cols []string
	dst  []any
}

func newListScanner(rows *sqlx.Rows) (*listScanner, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	return &listScanner{rows: rows, cols: cols, dst: make([]any, len(cols))}, nil
}

func (s *listScanner) scan(r *listRow) error {
	if !scanTargets(r.field, s.cols, s.dst) {
		return s.rows.StructScan(r)
	}
	return s.rows.Scan(s.dst...)
}
