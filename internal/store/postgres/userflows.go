package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// User flows (schema/00016_user_flows.sql): one row per flow, its
// attribute collection pages as JSON, and one row per linked application
// whose primary key keeps an application in at most one flow.

var _ directory.UserFlowStore = (*Store)(nil)

const userFlowColumns = `f.id::text, f.display_name, f.description, f.priority, f.identity_providers,
	f.sign_up_allowed, f.mfa_required, f.attribute_pages, f.created_at, f.updated_at`

type userFlowRow struct {
	ID                string         `db:"id"`
	DisplayName       string         `db:"display_name"`
	Description       *string        `db:"description"`
	Priority          int            `db:"priority"`
	IdentityProviders pq.StringArray `db:"identity_providers"`
	SignUpAllowed     bool           `db:"sign_up_allowed"`
	MFARequired       bool           `db:"mfa_required"`
	AttributePages    []byte         `db:"attribute_pages"`
	CreatedAt         time.Time      `db:"created_at"`
	UpdatedAt         time.Time      `db:"updated_at"`
}

func (r *userFlowRow) flow(tenantID string) (*directory.UserFlowDefinition, error) {
	f := &directory.UserFlowDefinition{TenantID: tenantID, ID: r.ID, DisplayName: r.DisplayName, Description: r.Description,
		Priority: r.Priority, IdentityProviders: []string(r.IdentityProviders), SignUpAllowed: r.SignUpAllowed,
		MFARequired: r.MFARequired, AppIDs: []string{}, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.AttributePages != nil {
		if err := json.Unmarshal(r.AttributePages, &f.Pages); err != nil {
			return nil, directory.Internal(err, "postgres: user flow pages")
		}
		if f.Pages == nil {
			f.Pages = []directory.FlowView{}
		}
	}
	return f, nil
}

func flowPagesArg(f *directory.UserFlowDefinition) (any, error) {
	if f.Pages == nil {
		return nil, nil
	}
	b, err := json.Marshal(f.Pages)
	if err != nil {
		return nil, directory.Internal(err, "postgres: user flow pages")
	}
	return string(b), nil
}

func errFlowNotFound(id string) error {
	return directory.Errorf(directory.KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

// translateFlowWrite names the property of a flow write's constraint
// violation.
func translateFlowWrite(err error, op, displayName string) error {
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" && pe.Constraint == "user_flows_display_name_key" {
		return &directory.Error{Kind: directory.KindConflict, Target: "displayName",
			Message: "A user flow named '" + displayName + "' already exists; display names are unique.",
			Details: []directory.Detail{{Code: "ObjectConflict", Target: "displayName", Message: "Another user flow has the same displayName."}}}
	}
	return translate(err, op)
}

// CreateUserFlow inserts f and its application links in one transaction.
func (s *Store) CreateUserFlow(ctx context.Context, f *directory.UserFlowDefinition, ev *directory.AuditEvent) error {
	const op = "postgres: create user flow"
	if !directory.IsGUID(f.TenantID) || !directory.IsGUID(f.ID) {
		return directory.Errorf(directory.KindInvalid, "Invalid tenant or flow id.")
	}
	pages, err := flowPagesArg(f)
	if err != nil {
		return err
	}
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_flows (tenant_id, id, display_name, description, priority,
				identity_providers, sign_up_allowed, mfa_required, attribute_pages, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)`,
			f.TenantID, f.ID, f.DisplayName, f.Description, f.Priority, pq.Array(f.IdentityProviders),
			f.SignUpAllowed, f.MFARequired, pages, f.CreatedAt, f.UpdatedAt)
		if err != nil {
			return translateFlowWrite(err, op, f.DisplayName)
		}
		for _, app := range f.AppIDs {
			if err := linkFlowApp(ctx, tx, f.TenantID, f.ID, app); err != nil {
				return err
			}
		}
		return nil
	})
}

// linkFlowApp links app to flow: nothing when it is linked to flow
// already, KindConflict when to another flow, KindInvalid when no
// application of the tenant has that client id.
func linkFlowApp(ctx context.Context, tx *sqlx.Tx, tenantID, flowID, app string) error {
	const op = "postgres: link user flow application"
	// Inserting from applications (rather than relying on the foreign key
	// alone) keeps the transaction usable, so the refusal can say which
	// rule the appId broke.
	var linked string
	err := tx.QueryRowxContext(ctx, `INSERT INTO user_flow_applications (tenant_id, app_id, flow_id, created_at)
		SELECT $1, a.app_id, $3, clock_timestamp() FROM applications a WHERE a.tenant_id = $1 AND a.app_id = $2
		ON CONFLICT (tenant_id, app_id) DO NOTHING
		RETURNING flow_id::text`, tenantID, app, flowID).Scan(&linked)
	if err == nil {
		return nil
	}
	if !isNoRows(err) {
		return translate(err, op)
	}
	// No row: the application does not exist, or it is linked already.
	var owner *string
	err = tx.QueryRowxContext(ctx, `SELECT (SELECT l.flow_id::text FROM user_flow_applications l WHERE l.tenant_id = $1 AND l.app_id = $2)
		FROM applications a WHERE a.tenant_id = $1 AND a.app_id = $2`, tenantID, app).Scan(&owner)
	switch {
	case isNoRows(err):
		return &directory.Error{Kind: directory.KindInvalid, Target: "includeApplications",
			Message: "Invalid value specified for property 'includeApplications': '" + app + "' is not the appId of an application of this tenant."}
	case err != nil:
		return translate(err, op)
	case owner != nil && *owner == flowID:
		return nil
	case owner != nil:
		return &directory.Error{Kind: directory.KindConflict, Target: "includeApplications",
			Message: "The application '" + app + "' is already linked to user flow '" + *owner + "'; an application can be linked to one user flow only.",
			Details: []directory.Detail{{Code: "ObjectConflict", Target: "includeApplications", Message: "The application belongs to another user flow."}}}
	}
	return directory.Internal(fmt.Errorf("application %s neither linked nor linkable", app), op)
}

// GetUserFlow returns one flow with its links.
func (s *Store) GetUserFlow(ctx context.Context, tenantID, id string) (*directory.UserFlowDefinition, error) {
	const op = "postgres: get user flow"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return nil, errFlowNotFound(id)
	}
	var r userFlowRow
	err := s.db.QueryRowxContext(ctx, `SELECT `+userFlowColumns+` FROM user_flows f WHERE f.tenant_id = $1 AND f.id = $2`,
		tenantID, strings.ToLower(id)).StructScan(&r)
	if isNoRows(err) {
		return nil, errFlowNotFound(id)
	}
	if err != nil {
		return nil, translate(err, op)
	}
	f, err := r.flow(tenantID)
	if err != nil {
		return nil, err
	}
	if err := s.loadFlowApps(ctx, tenantID, []*directory.UserFlowDefinition{f}); err != nil {
		return nil, err
	}
	return f, nil
}

// ListUserFlows returns the tenant's flows with their links, oldest first.
func (s *Store) ListUserFlows(ctx context.Context, tenantID string) ([]*directory.UserFlowDefinition, error) {
	const op = "postgres: list user flows"
	out := []*directory.UserFlowDefinition{}
	if !directory.IsGUID(tenantID) {
		return out, nil
	}
	rows, err := s.db.QueryxContext(ctx, `SELECT `+userFlowColumns+` FROM user_flows f WHERE f.tenant_id = $1 ORDER BY f.created_at, f.id`, tenantID)
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var r userFlowRow
		if err := rows.StructScan(&r); err != nil {
			return nil, translate(err, op)
		}
		f, err := r.flow(tenantID)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	if err := s.loadFlowApps(ctx, tenantID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// loadFlowApps fills the AppIDs of flows with one statement.
func (s *Store) loadFlowApps(ctx context.Context, tenantID string, flows []*directory.UserFlowDefinition) error {
	const op = "postgres: user flow applications"
	if len(flows) == 0 {
		return nil
	}
	ids := make([]string, len(flows))
	byID := map[string]*directory.UserFlowDefinition{}
	for i, f := range flows {
		ids[i] = f.ID
		byID[f.ID] = f
	}
	rows, err := s.db.QueryContext(ctx, `SELECT flow_id::text, app_id::text FROM user_flow_applications
		WHERE tenant_id = $1 AND flow_id = ANY($2::uuid[]) ORDER BY created_at, app_id`, tenantID, pq.Array(ids))
	if err != nil {
		return translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var flow, app string
		if err := rows.Scan(&flow, &app); err != nil {
			return translate(err, op)
		}
		if f := byID[flow]; f != nil {
			f.AppIDs = append(f.AppIDs, app)
		}
	}
	return translate(rows.Err(), op)
}

// UpdateUserFlow replaces the stored flow by f, its links included.
func (s *Store) UpdateUserFlow(ctx context.Context, f *directory.UserFlowDefinition, ifUpdatedAt time.Time, ev *directory.AuditEvent) error {
	const op = "postgres: update user flow"
	if !directory.IsGUID(f.TenantID) || !directory.IsGUID(f.ID) {
		return errFlowNotFound(f.ID)
	}
	pages, err := flowPagesArg(f)
	if err != nil {
		return err
	}
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE user_flows SET display_name = $3, description = $4, priority = $5,
				identity_providers = $6, sign_up_allowed = $7, mfa_required = $8, attribute_pages = $9::jsonb, updated_at = $10
			WHERE tenant_id = $1 AND id = $2 AND updated_at = $11`,
			f.TenantID, f.ID, f.DisplayName, f.Description, f.Priority, pq.Array(f.IdentityProviders),
			f.SignUpAllowed, f.MFARequired, pages, f.UpdatedAt, ifUpdatedAt)
		if err != nil {
			return translateFlowWrite(err, op, f.DisplayName)
		}
		if err := deletedOne(res, nil, op, errFlowNotFound(f.ID)); err != nil {
			// Gone, or changed since it was read.
			var exists bool
			if qerr := tx.QueryRowxContext(ctx, `SELECT EXISTS (SELECT 1 FROM user_flows WHERE tenant_id = $1 AND id = $2)`, f.TenantID, f.ID).Scan(&exists); qerr != nil {
				return translate(qerr, op)
			}
			if exists {
				return directory.Errorf(directory.KindPreconditionFailed, "The user flow has changed since it was read.")
			}
			return err
		}
		apps := f.AppIDs
		if apps == nil {
			apps = []string{}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM user_flow_applications WHERE tenant_id = $1 AND flow_id = $2 AND app_id::text <> ALL($3::text[])`,
			f.TenantID, f.ID, pq.Array(apps)); err != nil {
			return translate(err, op)
		}
		for _, app := range apps {
			if err := linkFlowApp(ctx, tx, f.TenantID, f.ID, app); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteUserFlow removes a flow; its links go with it (cascade).
func (s *Store) DeleteUserFlow(ctx context.Context, tenantID, id string, ev *directory.AuditEvent) error {
	const op = "postgres: delete user flow"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return errFlowNotFound(id)
	}
	return s.auditedWrite(ctx, op, ev, func(q sqlx.ExtContext) error {
		res, err := q.ExecContext(ctx, `DELETE FROM user_flows WHERE tenant_id = $1 AND id = $2`, tenantID, strings.ToLower(id))
		return deletedOne(res, err, op, errFlowNotFound(id))
	})
}

// AddUserFlowApplication links appID to the flow.
func (s *Store) AddUserFlowApplication(ctx context.Context, tenantID, flowID, appID string, ev *directory.AuditEvent) error {
	const op = "postgres: add user flow application"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(flowID) || !directory.IsGUID(appID) {
		return errFlowNotFound(flowID)
	}
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		// Lock the flow so that a concurrent delete cannot leave a link
		// to nothing (the foreign key would refuse it anyway).
		var one int
		err := tx.QueryRowxContext(ctx, `SELECT 1 FROM user_flows WHERE tenant_id = $1 AND id = $2 FOR UPDATE`, tenantID, strings.ToLower(flowID)).Scan(&one)
		if isNoRows(err) {
			return errFlowNotFound(flowID)
		}
		if err != nil {
			return translate(err, op)
		}
		return linkFlowApp(ctx, tx, tenantID, strings.ToLower(flowID), strings.ToLower(appID))
	})
}

// RemoveUserFlowApplication unlinks appID from the flow.
func (s *Store) RemoveUserFlowApplication(ctx context.Context, tenantID, flowID, appID string, ev *directory.AuditEvent) error {
	const op = "postgres: remove user flow application"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(flowID) || !directory.IsGUID(appID) {
		return errFlowNotFound(appID)
	}
	return s.auditedWrite(ctx, op, ev, func(q sqlx.ExtContext) error {
		res, err := q.ExecContext(ctx, `DELETE FROM user_flow_applications WHERE tenant_id = $1 AND flow_id = $2 AND app_id = $3`,
			tenantID, strings.ToLower(flowID), strings.ToLower(appID))
		return deletedOne(res, err, op, errFlowNotFound(appID))
	})
}

// UserFlowOfApp returns the flow that includes appID.
func (s *Store) UserFlowOfApp(ctx context.Context, tenantID, appID string) (*directory.UserFlowDefinition, error) {
	const op = "postgres: user flow of application"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(appID) {
		return nil, errFlowNotFound(appID)
	}
	var r userFlowRow
	err := s.db.QueryRowxContext(ctx, `SELECT `+userFlowColumns+` FROM user_flow_applications l
		JOIN user_flows f ON f.tenant_id = l.tenant_id AND f.id = l.flow_id
		WHERE l.tenant_id = $1 AND l.app_id = $2`, tenantID, strings.ToLower(appID)).StructScan(&r)
	if isNoRows(err) {
		return nil, errFlowNotFound(appID)
	}
	if err != nil {
		return nil, translate(err, op)
	}
	f, err := r.flow(tenantID)
	if err != nil {
		return nil, err
	}
	if err := s.loadFlowApps(ctx, tenantID, []*directory.UserFlowDefinition{f}); err != nil {
		return nil, err
	}
	return f, nil
}
