package postgres

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// conflictProperty maps a unique index or constraint (schema/*.sql) to the
// Graph property a duplicate collides on.
var conflictProperty = map[string]string{
	"users_upn_key":              "userPrincipalName",
	"users_pkey":                 "id",
	"user_identities_issuer_key": "identities",
	"tenants_pkey":               "id",
	"tenant_domains_domain_key":  "domains",
	"tenant_domains_pkey":        "domains",
	"applications_pkey":          "id",
	"applications_app_id_key":    "appId",
}

// translate turns a driver error into a *directory.Error. Errors that are
// already classified pass through. The cause is kept in Err for logs; the
// Message never contains SQL or driver text.
func translate(err error, op string) error {
	if err == nil {
		return nil
	}
	var de *directory.Error
	if errors.As(err, &de) {
		return de
	}
	if isNoRows(err) {
		return &directory.Error{Kind: directory.KindNotFound, Message: "Resource does not exist.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		cause := fmt.Errorf("%s: %w", op, err)
		code := string(pe.Code)
		switch {
		case code == "23505": // unique_violation
			if prop, ok := conflictProperty[pe.Constraint]; ok {
				e := directory.ErrConflict(prop)
				e.Err = cause
				return e
			}
			return &directory.Error{Kind: directory.KindConflict, Message: "Another object with the same value already exists.", Err: cause}
		case code == "22021", code == "22P05": // character_not_in_repertoire (NUL, invalid UTF-8), untranslatable_character
			return &directory.Error{Kind: directory.KindInvalid, Err: cause,
				Message: "A value contains characters that cannot be stored or compared (NUL or invalid UTF-8)."}
		case code == "23502": // not_null_violation
			if prop, ok := propertyOfColumn[pe.Column]; ok {
				return &directory.Error{Kind: directory.KindInvalid, Target: prop, Message: "Property '" + prop + "' cannot be null.", Err: cause}
			}
		case strings.HasPrefix(code, "08"), // connection exception
			strings.HasPrefix(code, "53"),                     // insufficient resources (too many connections, ...)
			code == "57P01", code == "57P02", code == "57P03", // admin/crash shutdown, cannot connect now
			code == "40001", code == "40P01", // serialization failure, deadlock: worth a retry
			code == "57014": // query_canceled: statement_timeout or the request's deadline
			return &directory.Error{Kind: directory.KindUnavailable, Message: "The service is temporarily unavailable. Retry the request.", Err: cause}
		}
	}
	if isTransient(err) { // unreachable server, broken connection, deadline (resilience.go)
		return &directory.Error{Kind: directory.KindUnavailable, Message: "The service is temporarily unavailable. Retry the request.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return directory.Internal(err, op)
}
