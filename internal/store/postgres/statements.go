package postgres

import (
	"fmt"
	"strconv"
	"time"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// The statements the store's reads and writes run, with their arguments,
// for callers that must run exactly the same SQL outside the store: the
// raw-SQL side of `graphdir bench` (internal/bench/benchdb), whose ratio
// compares graphdir with PostgreSQL doing the same work. Each is built by
// the very function its store method uses, so the two cannot drift apart.

// Statement is one SQL statement with its arguments.
type Statement struct {
	SQL  string
	Args []any
	// Prepared says that the store runs the statement prepared
	// (stmtcache.go), so that a caller can too: the same protocol work,
	// not graphdir's planning against none or the reverse.
	Prepared bool
	// Exec says that the store runs the statement for its count of rows
	// affected (it returns no rows).
	Exec bool
}

// GetUserStatement is the statement GetUser runs for key.
func GetUserStatement(tenantID string, key directory.UserKey) (Statement, error) {
	query, args, ok := getUserStatement(tenantID, key, false)
	if !ok {
		return Statement{}, fmt.Errorf("postgres: bad key %v", key)
	}
	return Statement{SQL: query, Args: args, Prepared: preparedStatement}, nil
}

// ListStatement is the statement ListUsers runs for q.
func ListStatement(tenantID string, q directory.ListQuery) (Statement, error) {
	st, err := buildList(tenantID, q, pageSize(q.Top))
	if err != nil {
		return Statement{}, err
	}
	return Statement{SQL: st.sql, Args: st.args, Prepared: preparedList(q)}, nil
}

// CreateUserStatement is the statement CreateUser runs for u (ID and
// TenantID set, no extension values) when no audit event is pending: the
// user and its identities, in one statement, in a transaction of its own.
func CreateUserStatement(u *directory.User) (Statement, error) {
	if !directory.IsGUID(u.TenantID) || !directory.IsGUID(u.ID) {
		return Statement{}, fmt.Errorf("postgres: user %q of tenant %q: ids are not GUIDs", u.ID, u.TenantID)
	}
	if len(u.Extensions) > 0 {
		return Statement{}, fmt.Errorf("postgres: extension values take statements of their own")
	}
	query, args := createUserStatement(u)
	return Statement{SQL: query, Args: args, Prepared: preparedStatement}, nil
}

// UpdateUserStatement is the UPDATE that UpdateUser runs for patch when
// no audit event is pending, in a transaction of its own. A patch that
// needs more statements (identities, extension values) is an error.
func UpdateUserStatement(tenantID string, key directory.UserKey, patch directory.UserPatch) (Statement, error) {
	const op = "postgres: update user"
	pred, keyArg, ok := keyPredicate(key, 2)
	if !ok {
		return Statement{}, fmt.Errorf("postgres: bad key %v", key)
	}
	up, err := buildUserUpdate(patch, op)
	if err != nil {
		return Statement{}, err
	}
	if up.replaceIdentities || len(patch.Extensions) > 0 {
		return Statement{}, fmt.Errorf("postgres: identities and extension values take statements of their own")
	}
	args := append([]any{tenantID, keyArg}, up.args...)
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	query := updateUserSQL(up.sets, "", pred, guardSQL(patch.Guard, bind)+versionSQL(patch.IfVersion, bind))
	return Statement{SQL: query, Args: args, Prepared: preparedStatement}, nil
}

// GetApplicationStatements are the statements GetApplication runs for the
// application whose appId is appID and object id objectID: the
// application, then its secrets. The refresh grant reads the client's
// application with them.
func GetApplicationStatements(tenantID, appID, objectID string) []Statement {
	return []Statement{
		{SQL: getApplicationSQL(true), Args: []any{tenantID, appID}},
		{SQL: loadSecretsSQL, Args: []any{tenantID, pq.Array([]string{objectID})}},
	}
}

// RotateRefreshTokenStatements are the statements RotateRefreshToken runs,
// in one transaction of their own, when the token under hash rotates: the
// UPDATE that marks it rotated and returns it (one row), then the INSERT
// of its successor next under successorHash (one row affected). next is
// what the store derives from the returned row: the same token with
// CreatedAt at and ExpiresAt at + idle.
func RotateRefreshTokenStatements(tenantID, clientID string, hash, successorHash []byte, at time.Time, next directory.RefreshToken) []Statement {
	return []Statement{
		{SQL: rotateRefreshSQL, Args: []any{tenantID, hash, at, clientID}},
		{SQL: insertRefresh, Args: refreshArgs(successorHash, next), Exec: true},
	}
}

// The browser sign-in's statements (browsersignin.go), for the bench's
// authorization-code scenario: what an authorize with a session cookie
// and the code's exchange run.

// BrowserSessionByTokenStatement is what BrowserSessionByToken runs (one
// row for a live session).
func BrowserSessionByTokenStatement(tenantID string, tokenHash []byte, now time.Time) Statement {
	return Statement{SQL: browserSessionByTokenSQL, Args: []any{tenantID, tokenHash, now}}
}

// AddBrowserSessionClientStatement is what AddBrowserSessionClient runs.
func AddBrowserSessionClientStatement(tenantID, sessionID, clientID string) Statement {
	return Statement{SQL: addBrowserSessionClientSQL, Args: []any{tenantID, sessionID, clientID}, Exec: true}
}

// CreateAuthCodeStatement is what CreateAuthCode runs for c under
// codeHash (one row affected).
func CreateAuthCodeStatement(c directory.AuthCode, codeHash []byte) Statement {
	return Statement{SQL: createAuthCodeSQL, Args: authCodeArgs(c, codeHash), Exec: true}
}

// RedeemAuthCodeStatement is the conditional UPDATE with which
// RedeemAuthCode spends a code (one row the first time).
func RedeemAuthCodeStatement(tenantID, clientID string, codeHash []byte, at time.Time) Statement {
	return Statement{SQL: redeemAuthCodeSQL, Args: []any{tenantID, codeHash, at, clientID}}
}

// SetAuthCodeFamilyStatement is what SetAuthCodeFamily runs.
func SetAuthCodeFamilyStatement(tenantID string, codeHash []byte, familyID string) Statement {
	return Statement{SQL: setAuthCodeFamilySQL, Args: []any{tenantID, codeHash, familyID}, Exec: true}
}

// CreateRefreshTokenStatement is the INSERT CreateRefreshToken runs, in a
// transaction of its own (one row affected).
func CreateRefreshTokenStatement(hash []byte, t directory.RefreshToken) Statement {
	return Statement{SQL: insertRefresh, Args: refreshArgs(hash, t), Exec: true}
}
