package postgres

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.RoleStore = (*Store)(nil)

// UserRoles returns the role definition ids assigned to a user, in one
// query on role_assignments_principal_role_key. None for an unknown user.
func (s *Store) UserRoles(ctx context.Context, tenantID, userID string) ([]string, error) {
	if !directory.IsGUID(tenantID) || !directory.IsGUID(userID) {
		return nil, nil
	}
	var ids []string
	// A deleted user's assignments stay for a restore but grant nothing.
	err := s.db.SelectContext(ctx, &ids, `SELECT ra.role_definition_id::text FROM role_assignments ra
		WHERE ra.tenant_id = $1 AND ra.principal_id = $2
			AND EXISTS (SELECT 1 FROM users u WHERE u.tenant_id = ra.tenant_id AND u.id = ra.principal_id AND u.deleted_at IS NULL)
		ORDER BY ra.role_definition_id`, tenantID, strings.ToLower(userID))
	if err != nil {
		return nil, translate(err, "postgres: user roles")
	}
	return ids, nil
}

type roleAssignmentRow struct {
	TenantID         string    `db:"tenant_id"`
	ID               string    `db:"id"`
	PrincipalID      string    `db:"principal_id"`
	RoleDefinitionID string    `db:"role_definition_id"`
	DirectoryScopeID string    `db:"directory_scope_id"`
	CreatedAt        time.Time `db:"created_at"`
}

func (r *roleAssignmentRow) assignment() *directory.RoleAssignment {
	return &directory.RoleAssignment{ID: r.ID, TenantID: r.TenantID, PrincipalID: r.PrincipalID,
		RoleDefinitionID: r.RoleDefinitionID, DirectoryScopeID: r.DirectoryScopeID, CreatedAt: r.CreatedAt.UTC()}
}

const roleAssignmentColumns = `tenant_id::text, id::text, principal_id::text, role_definition_id::text, directory_scope_id, created_at`

// CreateRoleAssignment inserts a when its principal is a user of the tenant,
// in one statement, with ev (nil: none). KindNotFound when the user does
// not exist, KindConflict when they already hold the role. An empty a.ID
// gets a random id.
func (s *Store) CreateRoleAssignment(ctx context.Context, a *directory.RoleAssignment, ev *directory.AuditEvent) error {
	const op = "postgres: create role assignment"
	if !directory.IsGUID(a.TenantID) || !directory.IsGUID(a.PrincipalID) || !directory.IsGUID(a.RoleDefinitionID) {
		return directory.ErrNotFoundUser(a.PrincipalID)
	}
	if a.ID == "" {
		a.ID = uuid.NewString()
	}
	if a.DirectoryScopeID == "" {
		a.DirectoryScopeID = "/"
	}
	var r roleAssignmentRow
	err := s.auditedWrite(ctx, op, ev, func(q sqlx.ExtContext) error {
		err := q.QueryRowxContext(ctx, `INSERT INTO role_assignments
				(tenant_id, id, principal_id, role_definition_id, directory_scope_id)
			SELECT u.tenant_id, $2, u.id, $4, $5 FROM users u WHERE u.tenant_id = $1 AND u.id = $3 AND u.deleted_at IS NULL
			RETURNING `+roleAssignmentColumns,
			a.TenantID, strings.ToLower(a.ID), strings.ToLower(a.PrincipalID), strings.ToLower(a.RoleDefinitionID), a.DirectoryScopeID).StructScan(&r)
		var pe *pq.Error
		switch {
		case isNoRows(err):
			return directory.ErrNotFoundUser(a.PrincipalID)
		case errors.As(err, &pe) && pe.Code == "23505":
			return &directory.Error{Kind: directory.KindConflict, Target: "roleDefinitionId",
				Message: "The principal already holds this role; a role can be assigned to a principal only once.",
				Details: []directory.Detail{{Code: "ObjectConflict", Target: "roleDefinitionId",
					Message: "A role assignment with the same principalId, roleDefinitionId and directoryScopeId already exists."}}}
		}
		return translate(err, op)
	})
	if err != nil {
		return err
	}
	*a = *r.assignment()
	return nil
}

// ListRoleAssignments returns the tenant's assignments f matches, oldest first.
func (s *Store) ListRoleAssignments(ctx context.Context, tenantID string, f directory.RoleAssignmentFilter) ([]*directory.RoleAssignment, error) {
	out := []*directory.RoleAssignment{}
	if !directory.IsGUID(tenantID) {
		return out, nil
	}
	// A deleted user's assignments stay for a restore but are not listed.
	where := []string{"tenant_id = $1", liveAssignment}
	args := []any{tenantID}
	for _, c := range []struct{ col, v string }{{"principal_id", f.PrincipalID}, {"role_definition_id", f.RoleDefinitionID}} {
		if c.v == "" {
			continue
		}
		if !directory.IsGUID(c.v) {
			return out, nil // no assignment has a non-GUID id
		}
		args = append(args, strings.ToLower(c.v))
		where = append(where, c.col+" = $"+strconv.Itoa(len(args)))
	}
	var rows []roleAssignmentRow
	if err := s.db.SelectContext(ctx, &rows, `SELECT `+roleAssignmentColumns+` FROM role_assignments
		WHERE `+strings.Join(where, " AND ")+` ORDER BY created_at, id`, args...); err != nil {
		return nil, translate(err, "postgres: list role assignments")
	}
	for i := range rows {
		out = append(out, rows[i].assignment())
	}
	return out, nil
}

func errRoleAssignmentNotFound(id string) error {
	return directory.Errorf(directory.KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

// GetRoleAssignment returns one assignment. KindNotFound.
func (s *Store) GetRoleAssignment(ctx context.Context, tenantID, id string) (*directory.RoleAssignment, error) {
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return nil, errRoleAssignmentNotFound(id)
	}
	var r roleAssignmentRow
	err := s.db.QueryRowxContext(ctx, `SELECT `+roleAssignmentColumns+` FROM role_assignments
		WHERE tenant_id = $1 AND id = $2 AND `+liveAssignment, tenantID, strings.ToLower(id)).StructScan(&r)
	if isNoRows(err) {
		return nil, errRoleAssignmentNotFound(id)
	}
	if err != nil {
		return nil, translate(err, "postgres: get role assignment")
	}
	return r.assignment(), nil
}

// DeleteRoleAssignment removes one assignment, with ev (nil: none).
// KindNotFound.
func (s *Store) DeleteRoleAssignment(ctx context.Context, tenantID, id string, ev *directory.AuditEvent) error {
	const op = "postgres: delete role assignment"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return errRoleAssignmentNotFound(id)
	}
	return s.auditedWrite(ctx, op, ev, func(q sqlx.ExtContext) error {
		res, err := q.ExecContext(ctx, `DELETE FROM role_assignments WHERE tenant_id = $1 AND id = $2`, tenantID, strings.ToLower(id))
		return deletedOne(res, err, op, errRoleAssignmentNotFound(id))
	})
}

// guardSQL returns the WHERE fragment (starting with " AND") that makes a
// write on users u conditional on g: the target holds no role outside
// g.Allowed. bind adds an argument and returns its placeholder.
func guardSQL(g *directory.TargetGuard, bind func(any) string) string {
	if g == nil {
		return ""
	}
	allowed := g.Allowed
	if allowed == nil {
		allowed = []string{}
	}
	return ` AND NOT EXISTS (SELECT 1 FROM role_assignments ra
		WHERE ra.tenant_id = u.tenant_id AND ra.principal_id = u.id
		AND ra.role_definition_id::text <> ALL(` + bind(pq.Array(allowed)) + `::text[]))`
}

// guardMiss explains a guarded write that matched no row: the target does
// not exist (KindNotFound) or holds a role the guard refuses (g.Denied).
func guardMiss(ctx context.Context, q sqlx.QueryerContext, tenantID, pred string, keyArg any, key directory.UserKey, g *directory.TargetGuard) error {
	var roles pq.StringArray
	err := sqlx.GetContext(ctx, q, &roles, `SELECT ARRAY(SELECT ra.role_definition_id::text FROM role_assignments ra
			WHERE ra.tenant_id = u.tenant_id AND ra.principal_id = u.id ORDER BY 1)
		FROM users u WHERE u.tenant_id = $1 AND `+pred, tenantID, keyArg)
	if isNoRows(err) {
		return directory.ErrNotFoundUser(key.String())
	}
	if err != nil {
		return translate(err, "postgres: guarded write")
	}
	// The re-read runs on a newer snapshot than the write. When the guard
	// allows every role the target holds now, the write missed because the
	// user was absent at that moment (deleted, then restored or recreated
	// concurrently): that is not found, never a denial naming no role.
	if !slices.ContainsFunc([]string(roles), func(r string) bool { return !slices.Contains(g.Allowed, r) }) {
		return directory.ErrNotFoundUser(key.String())
	}
	return g.Denied([]string(roles))
}
