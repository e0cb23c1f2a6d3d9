package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// Directory extension properties (schema/00008_extension_properties.sql):
// definitions per tenant and their values on users, one row per value.

var _ directory.ExtensionStore = (*Store)(nil)

const extensionSelect = `SELECT e.tenant_id, e.id, e.application_id, a.app_id, a.display_name AS app_display_name,
	e.name, e.data_type, e.is_multi_valued, e.target_objects, e.created_at
FROM extension_properties e
JOIN applications a ON a.tenant_id = e.tenant_id AND a.id = e.application_id`

type extensionRow struct {
	TenantID       string         `db:"tenant_id"`
	ID             string         `db:"id"`
	ApplicationID  string         `db:"application_id"`
	AppID          string         `db:"app_id"`
	AppDisplayName string         `db:"app_display_name"`
	Name           string         `db:"name"`
	DataType       string         `db:"data_type"`
	IsMultiValued  bool           `db:"is_multi_valued"`
	TargetObjects  pq.StringArray `db:"target_objects"`
	CreatedAt      time.Time      `db:"created_at"`
}

func (r *extensionRow) def() *directory.ExtensionProperty {
	return &directory.ExtensionProperty{
		TenantID: r.TenantID, ID: r.ID, ApplicationID: r.ApplicationID, AppID: r.AppID,
		AppDisplayName: r.AppDisplayName, Name: r.Name, DataType: r.DataType,
		IsMultiValued: r.IsMultiValued, TargetObjects: nonNil(r.TargetObjects), CreatedAt: r.CreatedAt.UTC(),
	}
}

func (s *Store) selectExtensions(ctx context.Context, op, where string, args ...any) ([]*directory.ExtensionProperty, error) {
	var rows []extensionRow
	if err := s.db.SelectContext(ctx, &rows, extensionSelect+" WHERE "+where+" ORDER BY e.created_at, e.id", args...); err != nil {
		return nil, translate(err, op)
	}
	out := make([]*directory.ExtensionProperty, len(rows))
	for i := range rows {
		out[i] = rows[i].def()
	}
	return out, nil
}

// CreateExtensionProperty inserts p. KindConflict when the tenant has a
// property of that name; KindNotFound when the application is gone.
func (s *Store) CreateExtensionProperty(ctx context.Context, p *directory.ExtensionProperty) error {
	const op = "postgres: create extension property"
	if !directory.IsGUID(p.TenantID) || !directory.IsGUID(p.ID) || !directory.IsGUID(p.ApplicationID) {
		return directory.Internal(errors.New("extension property ids must be GUIDs"), op)
	}
	var created time.Time
	err := s.db.QueryRowxContext(ctx, `INSERT INTO extension_properties
		(tenant_id, id, application_id, name, data_type, is_multi_valued, target_objects, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now())) RETURNING created_at`,
		p.TenantID, p.ID, p.ApplicationID, p.Name, p.DataType, p.IsMultiValued, strArray(p.TargetObjects), nullTime(p.CreatedAt),
	).Scan(&created)
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation: the application was deleted
		return &directory.Error{Kind: directory.KindNotFound, Message: "The application does not exist.", Err: err}
	}
	if err != nil {
		return translate(err, op)
	}
	p.CreatedAt = created.UTC()
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ListExtensionProperties returns the definitions of one application, or
// of the whole tenant for applicationID "".
func (s *Store) ListExtensionProperties(ctx context.Context, tenantID, applicationID string) ([]*directory.ExtensionProperty, error) {
	const op = "postgres: list extension properties"
	if !directory.IsGUID(tenantID) {
		return []*directory.ExtensionProperty{}, nil
	}
	if applicationID == "" {
		return s.selectExtensions(ctx, op, "e.tenant_id = $1", tenantID)
	}
	if !directory.IsGUID(applicationID) {
		return []*directory.ExtensionProperty{}, nil
	}
	return s.selectExtensions(ctx, op, "e.tenant_id = $1 AND e.application_id = $2", tenantID, applicationID)
}

// ExtensionPropertiesOf returns the definitions of several applications
// in one statement (extension_properties_app_idx).
func (s *Store) ExtensionPropertiesOf(ctx context.Context, tenantID string, applicationIDs []string) ([]*directory.ExtensionProperty, error) {
	ids := make([]string, 0, len(applicationIDs))
	for _, id := range applicationIDs {
		if directory.IsGUID(id) {
			ids = append(ids, id)
		}
	}
	if !directory.IsGUID(tenantID) || len(ids) == 0 {
		return []*directory.ExtensionProperty{}, nil
	}
	return s.selectExtensions(ctx, "postgres: extension properties of applications",
		"e.tenant_id = $1 AND e.application_id = ANY($2::uuid[])", tenantID, pq.Array(ids))
}

// GetExtensionProperty returns one definition of an application. KindNotFound.
func (s *Store) GetExtensionProperty(ctx context.Context, tenantID, applicationID, id string) (*directory.ExtensionProperty, error) {
	const op = "postgres: get extension property"
	notFound := &directory.Error{Kind: directory.KindNotFound, Message: "The extension property does not exist."}
	if !directory.IsGUID(tenantID) || !directory.IsGUID(applicationID) || !directory.IsGUID(id) {
		return nil, notFound
	}
	defs, err := s.selectExtensions(ctx, op, "e.tenant_id = $1 AND e.application_id = $2 AND e.id = $3", tenantID, applicationID, id)
	if err != nil {
		return nil, err
	}
	if len(defs) == 0 {
		return nil, notFound
	}
	return defs[0], nil
}

// DeleteExtensionProperty removes a definition; its values go by cascade
// in the same statement. KindNotFound.
func (s *Store) DeleteExtensionProperty(ctx context.Context, tenantID, applicationID, id string) error {
	const op = "postgres: delete extension property"
	notFound := &directory.Error{Kind: directory.KindNotFound, Message: "The extension property does not exist."}
	if !directory.IsGUID(tenantID) || !directory.IsGUID(applicationID) || !directory.IsGUID(id) {
		return notFound
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM extension_properties WHERE tenant_id = $1 AND application_id = $2 AND id = $3`,
		tenantID, applicationID, id)
	if err != nil {
		return translate(err, op)
	}
	if n, err := res.RowsAffected(); err != nil {
		return translate(err, op)
	} else if n == 0 {
		return notFound
	}
	return nil
}

// ExtensionPropertiesByName returns the tenant's definitions named by
// names, ignoring case (one index probe each).
func (s *Store) ExtensionPropertiesByName(ctx context.Context, tenantID string, names []string) ([]*directory.ExtensionProperty, error) {
	const op = "postgres: extension properties by name"
	if !directory.IsGUID(tenantID) || len(names) == 0 {
		return []*directory.ExtensionProperty{}, nil
	}
	return s.selectExtensions(ctx, op, `e.tenant_id = $1 AND lower(e.name) COLLATE "C" = ANY(graphdir_lower_array($2::text[]))`,
		tenantID, pq.Array(names))
}

// ExtensionValues reads the values of defs on the given users in one
// statement (primary-key probes).
func (s *Store) ExtensionValues(ctx context.Context, tenantID string, userIDs []string, defs []*directory.ExtensionProperty) (map[string][]directory.ExtensionValue, error) {
	const op = "postgres: read extension values"
	out := map[string][]directory.ExtensionValue{}
	if !directory.IsGUID(tenantID) || len(userIDs) == 0 || len(defs) == 0 {
		return out, nil
	}
	byID := make(map[string]*directory.ExtensionProperty, len(defs))
	extIDs := make([]string, 0, len(defs))
	for _, d := range defs {
		byID[d.ID] = d
		extIDs = append(extIDs, d.ID)
	}
	rows, err := s.db.QueryxContext(ctx, `SELECT user_id, ext_id, value_text, value_num, value_bool, value_time
		FROM user_extension_values
		WHERE tenant_id = $1 AND user_id = ANY($2::uuid[]) AND ext_id = ANY($3::uuid[])
		ORDER BY user_id, ext_id, ordinal`, tenantID, pq.Array(userIDs), pq.Array(extIDs))
	if err != nil {
		return nil, translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var userID, extID string
		var text *string
		var num *int64
		var b *bool
		var t *time.Time
		if err := rows.Scan(&userID, &extID, &text, &num, &b, &t); err != nil {
			return nil, translate(err, op)
		}
		d := byID[extID]
		if d == nil {
			continue
		}
		vals := out[userID]
		if d.IsMultiValued {
			if n := len(vals); n > 0 && vals[n-1].Def == d {
				if text != nil {
					vals[n-1].Texts = append(vals[n-1].Texts, *text)
				}
				continue
			}
			v := directory.ExtensionValue{Def: d}
			if text != nil {
				v.Texts = []string{*text}
			}
			out[userID] = append(vals, v)
			continue
		}
		out[userID] = append(vals, directory.ExtensionValue{Def: d, Text: text, Num: num, Bool: b, Time: utc(t)})
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err, op)
	}
	return out, nil
}

// writeExtensionValues replaces the values of the given definitions on one
// user inside tx (a null value only removes), then enforces the limit of
// extension values per user over everything the user now has. A definition
// deleted meanwhile is KindInvalid naming the property.
func writeExtensionValues(ctx context.Context, tx *sqlx.Tx, tenantID, userID string, vals []directory.ExtensionValue, op string) error {
	if len(vals) == 0 {
		return nil
	}
	extIDs := make([]string, 0, len(vals))
	for _, v := range vals {
		extIDs = append(extIDs, v.Def.ID)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM user_extension_values
		WHERE tenant_id = $1 AND user_id = $2 AND ext_id = ANY($3::uuid[])`, tenantID, userID, pq.Array(extIDs)); err != nil {
		return translate(err, op)
	}
	args := []any{tenantID, userID}
	bind := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	var rows []string
	row := func(d *directory.ExtensionProperty, ord int, text *string, num *int64, b *bool, t *time.Time) {
		rows = append(rows, "($1, $2, "+bind(d.ID)+"::uuid, "+strconv.Itoa(ord)+", "+bind(text)+"::text, "+
			bind(num)+"::bigint, "+bind(b)+"::boolean, "+bind(t)+"::timestamptz)")
	}
	for _, v := range vals {
		switch {
		case v.IsNull():
		case v.Def.IsMultiValued:
			for i := range v.Texts {
				row(v.Def, i, &v.Texts[i], nil, nil, nil)
			}
		default:
			row(v.Def, 0, v.Text, v.Num, v.Bool, v.Time)
		}
	}
	if len(rows) > 0 {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_extension_values
			(tenant_id, user_id, ext_id, ordinal, value_text, value_num, value_bool, value_time)
			VALUES `+strings.Join(rows, ", "), args...)
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "23503" && pe.Constraint == "user_extension_values_ext_fkey" {
			return &directory.Error{Kind: directory.KindInvalid, Message: "An extension property was deleted while the request ran; it no longer exists.", Err: err}
		}
		if err != nil {
			return translate(err, op)
		}
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM user_extension_values WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID); err != nil {
		return translate(err, op)
	}
	if n > directory.MaxExtensionValuesPerUser {
		e := directory.ErrTooManyExtensionValues()
		e.Err = fmt.Errorf("%s: user %s would have %d extension values", op, userID, n)
		return e
	}
	return nil
}
