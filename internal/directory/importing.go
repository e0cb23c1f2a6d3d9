package directory

import (
	"context"
	"strconv"
	"strings"
)

// ImportRow is one user of a bulk load, validated and ready to insert: ID,
// TenantID and every default are set and Password holds a hash (never a
// password). Line is the 1-based line of the input it came from.
type ImportRow struct {
	Line int
	User *User
	// Hashed reports that the password was supplied in plain text and
	// hashed during the import (the slow path).
	Hashed bool
}

// ImportReject is one line a bulk load refused: the 1-based input line, the
// property at fault ("" when the line as a whole is, e.g. invalid JSON) and
// why, in words an operator can act on.
type ImportReject struct {
	Line     int    `json:"line"`
	Property string `json:"property"`
	Reason   string `json:"reason"`
}

// String formats r as "line N: property P: reason" ("line N: reason"
// without a property).
func (r ImportReject) String() string {
	if r.Property == "" {
		return "line " + strconv.Itoa(r.Line) + ": " + r.Reason
	}
	return "line " + strconv.Itoa(r.Line) + ": property " + r.Property + ": " + r.Reason
}

// ImportStore is a Store that can bulk-load users.
type ImportStore interface {
	// ImportUsers inserts the rows of batch, which are in line order, into
	// tenantID in one transaction, except those whose userPrincipalName or
	// any identity (issuer, issuerAssignedId; case-insensitively) already
	// exists in the tenant or appears on an earlier line of the batch; those
	// come back as rejects. A returned error means nothing of the batch was
	// written.
	ImportUsers(ctx context.Context, tenantID string, batch []ImportRow) (rejected []ImportReject, err error)
}

// ImportPassword is passwordProfile as an import line carries it: either a
// plain password (PasswordProfile.Password, hashed by NewImportUser) or
// Hash, an existing bcrypt ($2a$, $2b$, $2y$) or argon2id (PHC string) hash
// from another system, stored as it is and never re-hashed. The importer
// (internal/importer) has checked Hash's form.
type ImportPassword struct {
	PasswordProfile
	Hash *string
}

// NewImportUser builds the user of one bulk-load line with the rules of
// CreateUser: required properties, defaults, value formats, verified
// userPrincipalName domains, identity formats and password complexity.
// values are the line's properties as Property.Decode returns them; pw is
// nil when the line has no passwordProfile. It is for an operator's tool,
// not an API caller, so it checks no principal; s needs no store. hashed
// reports that a plain password was hashed here (tens of milliseconds of
// CPU). Safe for concurrent use.
func (s *Service) NewImportUser(t *Tenant, values map[string]any, pw *ImportPassword) (u *User, hashed bool, err error) {
	u = &User{ID: s.newID(), TenantID: t.ID}
	for name, v := range values {
		prop, _ := LookupProperty(name)
		prop.set(u, v)
	}
	// A passwordHash counts as a password.
	withPassword := pw != nil && (pw.Password != nil || pw.Hash != nil)
	if err := s.applyCreateRules(u, t, values, withPassword); err != nil {
		return nil, false, err
	}
	if err := distinctIdentities(u.Identities); err != nil {
		return nil, false, err
	}
	if pw == nil {
		return u, false, nil
	}
	if pw.Hash != nil {
		u.Password = PasswordState{Hash: *pw.Hash}
		if pw.ForceChangePasswordNextSignIn != nil {
			u.Password.ForceChangePasswordNextSignIn = *pw.ForceChangePasswordNextSignIn
		}
		if pw.ForceChangePasswordNextSignInWithMfa != nil {
			u.Password.ForceChangePasswordNextSignInWithMfa = *pw.ForceChangePasswordNextSignInWithMfa
		}
		return u, false, nil
	}
	st, err := s.passwordState(&pw.PasswordProfile, u.PasswordPolicies)
	if err != nil {
		return nil, false, err
	}
	u.Password = *st
	return u, true, nil
}

// distinctIdentities refuses a user that lists one (issuer,
// issuerAssignedId) twice, ignoring case, as the store's unique index would.
func distinctIdentities(ids []Identity) error {
	for i := 1; i < len(ids); i++ {
		for j := 0; j < i; j++ {
			if strings.EqualFold(ids[i].Issuer, ids[j].Issuer) && strings.EqualFold(ids[i].IssuerAssignedID, ids[j].IssuerAssignedID) {
				return &Error{Kind: KindInvalid, Target: "identities",
					Message: "The identity (issuer '" + ids[i].Issuer + "', issuerAssignedId '" + ids[i].IssuerAssignedID + "') is listed twice."}
			}
		}
	}
	return nil
}
