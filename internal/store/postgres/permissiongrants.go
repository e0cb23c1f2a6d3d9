package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.PermissionGrantStore = (*Store)(nil)

// The statements of delegated permission grants (schema/00029).
const (
	grantColumns = `tenant_id::text, id, client_id::text, consent_type, COALESCE(principal_id::text, ''), resource_id::text, scopes`
	// addPrincipalGrantScopesSQL creates a user's grant or merges new
	// scopes into it, in one statement: two instances consenting at once
	// end with one row holding both sets.
	addPrincipalGrantScopesSQL = `INSERT INTO oauth2_permission_grants (tenant_id, id, client_id, consent_type, principal_id, resource_id, scopes)
		VALUES ($1, $2, $3, 'Principal', $4, $5, $6)
		ON CONFLICT (tenant_id, client_id, principal_id, resource_id) WHERE principal_id IS NOT NULL
		DO UPDATE SET scopes = ARRAY(
			SELECT DISTINCT s FROM unnest(oauth2_permission_grants.scopes || EXCLUDED.scopes) AS s ORDER BY s)`
	grantedScopesSQL = `SELECT COALESCE(array_agg(DISTINCT s), '{}') FROM oauth2_permission_grants g, unnest(g.scopes) AS s
		WHERE g.tenant_id = $1 AND g.client_id = $2 AND (g.principal_id = $3 OR g.principal_id IS NULL)`
	getGrantSQL    = `SELECT ` + grantColumns + ` FROM oauth2_permission_grants WHERE tenant_id = $1 AND id = $2`
	createGrantSQL = `INSERT INTO oauth2_permission_grants (tenant_id, id, client_id, consent_type, principal_id, resource_id, scopes)
		VALUES ($1, $2, $3, $4, NULLIF($5, '')::uuid, $6, $7)`
	listGrantsSQL = `SELECT ` + grantColumns + ` FROM oauth2_permission_grants
		WHERE tenant_id = $1 AND ($2::uuid IS NULL OR client_id = $2::uuid) AND ($3::uuid IS NULL OR principal_id = $3::uuid)
		  AND ($4::text = '' OR consent_type = $4) AND id > $5
		ORDER BY id LIMIT $6`
	setGrantScopesSQL = `UPDATE oauth2_permission_grants SET scopes = $3 WHERE tenant_id = $1 AND id = $2`
	deleteGrantSQL    = `DELETE FROM oauth2_permission_grants WHERE tenant_id = $1 AND id = $2`
)

func scanGrant(sc interface{ Scan(...any) error }) (directory.OAuth2PermissionGrant, error) {
	var g directory.OAuth2PermissionGrant
	var scopes pq.StringArray
	err := sc.Scan(&g.TenantID, &g.ID, &g.ClientID, &g.ConsentType, &g.PrincipalID, &g.ResourceID, &scopes)
	g.Scopes = nonNil(scopes)
	return g, err
}

// grantWriteError turns a missing client or principal (foreign key) into
// Graph's not-found answer naming the property.
func grantWriteError(err error, op string) error {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23503" {
		prop := "clientId"
		if pe.Constraint == "oauth2_permission_grants_principal_fkey" {
			prop = "principalId"
		}
		return &directory.Error{Kind: directory.KindNotFound, Target: prop,
			Message: "The object named by '" + prop + "' does not exist.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	if errors.As(err, &pe) && pe.Code == "23505" {
		return &directory.Error{Kind: directory.KindConflict, Message: "A permission grant for this client, principal and resource already exists.", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return translate(err, op)
}

// AddPrincipalGrantScopes implements directory.PermissionGrantStore.
func (s *Store) AddPrincipalGrantScopes(ctx context.Context, tenantID, newID, clientID, userID, resourceID string, scopes []string) error {
	_, err := s.db.ExecContext(ctx, addPrincipalGrantScopesSQL, tenantID, newID, clientID, userID, resourceID, pq.Array(scopes))
	return grantWriteError(err, "postgres: add principal grant scopes")
}

// GrantedScopes implements directory.PermissionGrantStore.
func (s *Store) GrantedScopes(ctx context.Context, tenantID, clientID, userID string) ([]string, error) {
	var scopes pq.StringArray
	if err := s.db.QueryRowContext(ctx, grantedScopesSQL, tenantID, clientID, userID).Scan(&scopes); err != nil {
		return nil, translate(err, "postgres: granted scopes")
	}
	return nonNil(scopes), nil
}

// ListPermissionGrants implements directory.PermissionGrantStore: one
// statement whose absent filters are NULL (planned away: lib/pq plans each
// execution with its parameters), keyset paging on the primary key.
func (s *Store) ListPermissionGrants(ctx context.Context, tenantID string, f directory.PermissionGrantFilter) ([]directory.OAuth2PermissionGrant, error) {
	const op = "postgres: list permission grants"
	rows, err := s.db.QueryContext(ctx, listGrantsSQL, tenantID, nullIfEmpty(f.ClientID), nullIfEmpty(f.PrincipalID), f.ConsentType, f.After, f.Top)
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	out := []directory.OAuth2PermissionGrant{}
	for rows.Next() {
		g, err := scanGrant(rows)
		if err != nil {
			return nil, translate(err, op)
		}
		out = append(out, g)
	}
	return out, translate(rows.Err(), op)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// GetPermissionGrant implements directory.PermissionGrantStore.
func (s *Store) GetPermissionGrant(ctx context.Context, tenantID, id string) (*directory.OAuth2PermissionGrant, error) {
	g, err := scanGrant(s.db.QueryRowContext(ctx, getGrantSQL, tenantID, id))
	if err != nil {
		return nil, translate(err, "postgres: get permission grant")
	}
	return &g, nil
}

// CreatePermissionGrant implements directory.PermissionGrantStore.
func (s *Store) CreatePermissionGrant(ctx context.Context, g directory.OAuth2PermissionGrant) error {
	_, err := s.db.ExecContext(ctx, createGrantSQL, g.TenantID, g.ID, g.ClientID, g.ConsentType, g.PrincipalID, g.ResourceID, pq.Array(g.Scopes))
	return grantWriteError(err, "postgres: create permission grant")
}

// SetPermissionGrantScopes implements directory.PermissionGrantStore.
func (s *Store) SetPermissionGrantScopes(ctx context.Context, tenantID, id string, scopes []string) error {
	return s.affectOne(ctx, setGrantScopesSQL, "postgres: set permission grant scopes", tenantID, id, pq.Array(scopes))
}

// DeletePermissionGrant implements directory.PermissionGrantStore.
func (s *Store) DeletePermissionGrant(ctx context.Context, tenantID, id string) error {
	return s.affectOne(ctx, deleteGrantSQL, "postgres: delete permission grant", tenantID, id)
}

// affectOne runs a statement that must touch exactly one row
// (KindNotFound when none).
func (s *Store) affectOne(ctx context.Context, stmt, op string, args ...any) error {
	res, err := s.db.ExecContext(ctx, stmt, args...)
	if err != nil {
		return translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return &directory.Error{Kind: directory.KindNotFound, Message: "Resource does not exist.", Err: err}
	}
	return nil
}
