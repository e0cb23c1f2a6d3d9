package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

var _ directory.ApplicationStore = (*Store)(nil)

// applicationSelect reads applications with their granted permissions;
// credentials are read by loadSecrets.
const applicationSelect = `SELECT a.tenant_id, a.id, a.app_id, a.display_name, a.created_at,
	ARRAY(SELECT r.permission FROM application_roles r
		WHERE r.tenant_id = a.tenant_id AND r.application_id = a.id ORDER BY r.permission) AS permissions,
	` + applicationSignInColumns + `
FROM applications a`

// applicationSignInColumns are the sign-in settings (00015) every read of
// an application selects.
const applicationSignInColumns = `a.spa_redirect_uris, a.web_redirect_uris, a.web_logout_url, a.public_client_redirect_uris,
	a.is_fallback_public_client, a.native_authentication_apis, a.delegated_scopes, a.pkce_required`

type applicationRow struct {
	TenantID    string         `db:"tenant_id"`
	ID          string         `db:"id"`
	AppID       string         `db:"app_id"`
	DisplayName string         `db:"display_name"`
	CreatedAt   time.Time      `db:"created_at"`
	Permissions pq.StringArray `db:"permissions"`
	signInRow
	SortKey sql.NullString `db:"sort_key"` // listings only: the keyset sort key
}

func (r *applicationRow) application() *directory.Application {
	return &directory.Application{
		TenantID: r.TenantID, ID: r.ID, AppID: r.AppID, DisplayName: r.DisplayName,
		CreatedAt: r.CreatedAt.UTC(), Permissions: nonNil(r.Permissions),
		PasswordCredentials: []directory.PasswordCredential{},
		SignInSettings:      r.signInRow.settings(),
	}
}

// signInRow scans applicationSignInColumns.
type signInRow struct {
	SPA             pq.StringArray `db:"spa_redirect_uris"`
	Web             pq.StringArray `db:"web_redirect_uris"`
	LogoutURL       sql.NullString `db:"web_logout_url"`
	Public          pq.StringArray `db:"public_client_redirect_uris"`
	FallbackPublic  sql.NullBool   `db:"is_fallback_public_client"`
	NativeAuth      sql.NullString `db:"native_authentication_apis"`
	DelegatedScopes pq.StringArray `db:"delegated_scopes"`
	PKCERequired    bool           `db:"pkce_required"`
}

func (r *signInRow) settings() directory.SignInSettings {
	s := directory.SignInSettings{
		SPARedirectURIs: nonNil(r.SPA), WebRedirectURIs: nonNil(r.Web), PublicClientRedirectURIs: nonNil(r.Public),
		NativeAuthenticationAPIs: r.NativeAuth.String, DelegatedScopes: nonNil(r.DelegatedScopes),
		PKCEOptional: !r.PKCERequired,
	}
	if r.LogoutURL.Valid {
		s.WebLogoutURL = &r.LogoutURL.String
	}
	if r.FallbackPublic.Valid {
		s.IsFallbackPublicClient = &r.FallbackPublic.Bool
	}
	return s
}

// writeSignIn stores the sign-in settings of one application row.
func writeSignIn(ctx context.Context, tx *sqlx.Tx, tenantID, id string, s directory.SignInSettings) error {
	var native *string
	if s.NativeAuthenticationAPIs != "" {
		native = &s.NativeAuthenticationAPIs
	}
	_, err := tx.ExecContext(ctx, `UPDATE applications SET spa_redirect_uris = $3, spa_origins = $4, web_redirect_uris = $5,
		web_logout_url = $6, public_client_redirect_uris = $7, is_fallback_public_client = $8,
		native_authentication_apis = $9, delegated_scopes = $10, pkce_required = $11
		WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, pq.Array(nonNil(s.SPARedirectURIs)), pq.Array(nonNil(directory.Application{SignInSettings: s}.SPAOrigins())),
		pq.Array(nonNil(s.WebRedirectURIs)), s.WebLogoutURL, pq.Array(nonNil(s.PublicClientRedirectURIs)),
		s.IsFallbackPublicClient, native, pq.Array(nonNil(s.DelegatedScopes)), !s.PKCEOptional)
	return translate(err, "postgres: write application sign-in settings")
}

// CreateApplication inserts a with its permissions and credentials in one
// transaction, with ev (nil: none). KindConflict when the id or appId is
// taken.
func (s *Store) CreateApplication(ctx context.Context, a *directory.Application, ev *directory.AuditEvent) error {
	return s.inAuditedTx(ctx, "postgres: create application", audited(ev), func(tx *sqlx.Tx) error {
		return insertApplication(ctx, tx, a)
	})
}

// CreateApplicationOnce creates a unless marker is already recorded in
// server_secrets, recording it in the same transaction. The marker's
// primary key makes a concurrent second caller wait for the first to
// commit and then find the marker, so only one application is created.
func (s *Store) CreateApplicationOnce(ctx context.Context, a *directory.Application, marker string) (bool, error) {
	const op = "postgres: create application once"
	created := false
	err := s.inTx(ctx, op, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO server_secrets (name, value) VALUES ($1, $2)
			ON CONFLICT (name) DO NOTHING`, marker, []byte(a.ID))
		if err != nil {
			return translate(err, op)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return translate(err, op) // nil when the marker exists: nothing to do
		}
		if err := insertApplication(ctx, tx, a); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return created, nil
}

func insertApplication(ctx context.Context, tx *sqlx.Tx, a *directory.Application) error {
	const op = "postgres: create application"
	if !directory.IsGUID(a.TenantID) || !directory.IsGUID(a.ID) || !directory.IsGUID(a.AppID) {
		return directory.Internal(fmt.Errorf("application ids must be GUIDs"), op)
	}
	var created *time.Time
	if !a.CreatedAt.IsZero() {
		created = &a.CreatedAt
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO applications (tenant_id, id, app_id, display_name, created_at)
		VALUES ($1, $2, $3, $4, COALESCE($5, now()))`, a.TenantID, a.ID, a.AppID, a.DisplayName, created); err != nil {
		return translate(err, op)
	}
	if err := setPermissions(ctx, tx, a.TenantID, a.ID, a.Permissions); err != nil {
		return err
	}
	if err := writeSignIn(ctx, tx, a.TenantID, a.ID, a.SignInSettings); err != nil {
		return err
	}
	for _, c := range a.PasswordCredentials {
		if err := insertSecret(ctx, tx, a.TenantID, a.ID, c); err != nil {
			return err
		}
	}
	return nil
}

func setPermissions(ctx context.Context, tx *sqlx.Tx, tenantID, id string, perms []string) error {
	const op = "postgres: set application permissions"
	if _, err := tx.ExecContext(ctx, `DELETE FROM application_roles WHERE tenant_id = $1 AND application_id = $2`, tenantID, id); err != nil {
		return translate(err, op)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO application_roles (tenant_id, application_id, permission)
		SELECT $1, $2, p FROM unnest($3::text[]) AS p ON CONFLICT DO NOTHING`, tenantID, id, pq.Array(perms))
	return translate(err, op)
}

func insertSecret(ctx context.Context, tx *sqlx.Tx, tenantID, id string, c directory.PasswordCredential) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO application_secrets
		(tenant_id, application_id, key_id, display_name, hint, secret_hash, start_at, end_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		tenantID, id, c.KeyID, c.DisplayName, c.Hint, c.SecretHash, c.StartDateTime, c.EndDateTime)
	return translate(err, "postgres: add password credential")
}

// getApplicationSQL reads one application ($1 tenant, $2 its object id,
// or its appId when byAppID).
func getApplicationSQL(byAppID bool) string {
	if byAppID {
		return applicationSelect + ` WHERE a.tenant_id = $1 AND a.app_id = $2`
	}
	return applicationSelect + ` WHERE a.tenant_id = $1 AND a.id = $2`
}

// GetApplication returns one application by object id, or by appId when
// byAppID is set, with its permissions and credentials. KindNotFound.
func (s *Store) GetApplication(ctx context.Context, tenantID, id string, byAppID bool) (*directory.Application, error) {
	const op = "postgres: get application"
	if !directory.IsGUID(tenantID) || !directory.IsGUID(id) {
		return nil, directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	var r applicationRow
	if err := s.db.QueryRowxContext(ctx, getApplicationSQL(byAppID), tenantID, id).StructScan(&r); err != nil {
		return nil, translate(err, op)
	}
	a := r.application()
	if err := s.loadSecrets(ctx, []*directory.Application{a}); err != nil {
		return nil, err
	}
	return a, nil
}

// ListApplications returns up to q.Top applications of the tenant that
// q.Filter and q.Search match, after q.After, in q.OrderBy order (by
// displayName, then id) or by id, with one parameterised statement
// (applications_query.go), and the cursor of the next page (nil on the
// last). Keyset paging: the cursor holds the last row's sort key and id,
// which application_display_name_key_idx (or the primary key) reads in
// order.
func (s *Store) ListApplications(ctx context.Context, tenantID string, q directory.ListQuery) ([]*directory.Application, *directory.Cursor, error) {
	const op = "postgres: list applications"
	out := []*directory.Application{}
	stmt, args, ordered, err := buildApplicationList(tenantID, q)
	if err != nil {
		return nil, nil, err
	}
	if !directory.IsGUID(tenantID) {
		return out, nil, nil
	}
	rows, err := s.db.QueryxContext(ctx, stmt, args...)
	if err != nil {
		return nil, nil, translate(err, op)
	}
	defer rows.Close()
	var keys []sql.NullString
	for rows.Next() {
		var r applicationRow
		if err := rows.StructScan(&r); err != nil {
			return nil, nil, translate(err, op)
		}
		out = append(out, r.application())
		keys = append(keys, r.SortKey)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, translate(err, op)
	}
	var next *directory.Cursor
	if len(out) > q.Top {
		out = out[:q.Top]
		next = &directory.Cursor{ID: out[q.Top-1].ID}
		if k := keys[q.Top-1]; ordered {
			next.Keys = []*string{&k.String}
		}
	}
	if err := s.loadSecrets(ctx, out); err != nil {
		return nil, nil, err
	}
	return out, next, nil
}

// CountApplications counts the tenant's applications q.Filter and
// q.Search match.
func (s *Store) CountApplications(ctx context.Context, tenantID string, q directory.ListQuery) (int64, error) {
	stmt, args, err := buildApplicationCount(tenantID, q)
	if err != nil || !directory.IsGUID(tenantID) {
		return 0, err
	}
	var n int64
	err = s.db.QueryRowxContext(ctx, stmt, args...).Scan(&n)
	return n, translate(err, "postgres: count applications")
}

// loadSecrets fills in the credentials of apps, all of one tenant, oldest first.
// loadSecretsSQL reads the secrets of applications ($1 tenant, $2 their
// object ids).
const loadSecretsSQL = `SELECT application_id, key_id, display_name, hint, secret_hash, start_at, end_at
	FROM application_secrets WHERE tenant_id = $1 AND application_id = ANY($2::uuid[])
	ORDER BY created_at, key_id`

func (s *Store) loadSecrets(ctx context.Context, apps []*directory.Application) error {
	const op = "postgres: read password credentials"
	if len(apps) == 0 {
		return nil
	}
	ids := make([]string, len(apps))
	byID := make(map[string]*directory.Application, len(apps))
	for i, a := range apps {
		ids[i] = a.ID
		byID[a.ID] = a
	}
	rows, err := s.db.QueryContext(ctx, loadSecretsSQL, apps[0].TenantID, pq.Array(ids))
	if err != nil {
		return translate(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var appID string
		var name sql.NullString
		var c directory.PasswordCredential
		if err := rows.Scan(&appID, &c.KeyID, &name, &c.Hint, &c.SecretHash, &c.StartDateTime, &c.EndDateTime); err != nil {
			return translate(err, op)
		}
		if name.Valid {
			c.DisplayName = &name.String
		}
		c.StartDateTime, c.EndDateTime = c.StartDateTime.UTC(), c.EndDateTime.UTC()
		if a := byID[appID]; a != nil {
			a.PasswordCredentials = append(a.PasswordCredentials, c)
		}
	}
	return translate(rows.Err(), op)
}

// UpdateApplication applies patch atomically, with patch.Audit.
// KindNotFound.
func (s *Store) UpdateApplication(ctx context.Context, tenantID, id string, patch directory.ApplicationPatch) error {
	const op = "postgres: update application"
	return s.inAuditedTx(ctx, op, audited(patch.Audit), func(tx *sqlx.Tx) error {
		// Lock the row first so concurrent patches of one app serialise.
		var name string
		if err := tx.QueryRowContext(ctx, `SELECT display_name FROM applications WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			tenantID, id).Scan(&name); err != nil {
			return translate(err, op)
		}
		if patch.DisplayName != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE applications SET display_name = $3 WHERE tenant_id = $1 AND id = $2`,
				tenantID, id, *patch.DisplayName); err != nil {
				return translate(err, op)
			}
		}
		if patch.Permissions != nil {
			if err := setPermissions(ctx, tx, tenantID, id, *patch.Permissions); err != nil {
				return err
			}
		}
		if patch.SignIn != nil {
			var r signInRow
			if err := tx.QueryRowxContext(ctx, `SELECT `+strings.ReplaceAll(applicationSignInColumns, "a.", "")+`
				FROM applications WHERE tenant_id = $1 AND id = $2`, tenantID, id).StructScan(&r); err != nil {
				return translate(err, op)
			}
			cur := r.settings()
			if err := patch.SignIn(&cur); err != nil {
				return err
			}
			return writeSignIn(ctx, tx, tenantID, id, cur)
		}
		return nil
	})
}

// SPAOriginRegistered reports whether an application of the tenant has a
// spa redirect URI of origin (application_spa_origins_idx).
func (s *Store) SPAOriginRegistered(ctx context.Context, tenantID, origin string) (bool, error) {
	if !directory.IsGUID(tenantID) {
		return false, nil
	}
	var ok bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM applications
		WHERE tenant_id = $1 AND spa_origins @> ARRAY[$2::text])`, tenantID, origin).Scan(&ok)
	return ok, translate(err, "postgres: find spa origin")
}

// spaOriginAnyTenantSQL answers a CORS preflight (one bind parameter, the
// origin).
const spaOriginAnyTenantSQL = `SELECT EXISTS (SELECT 1 FROM applications WHERE spa_origins @> ARRAY[$1::text])`

// SPAOriginRegisteredAnyTenant reports whether an application of any
// tenant has a spa redirect URI of origin. A multicolumn GIN index answers
// a condition on any subset of its columns, so application_spa_origins_idx
// serves this one too.
func (s *Store) SPAOriginRegisteredAnyTenant(ctx context.Context, origin string) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, spaOriginAnyTenantSQL, origin).Scan(&ok)
	return ok, translate(err, "postgres: find spa origin in any tenant")
}

// DeleteApplication removes the application, with ev (nil: none); its
// secrets and permissions go with it (ON DELETE CASCADE). KindNotFound.
func (s *Store) DeleteApplication(ctx context.Context, tenantID, id string, ev *directory.AuditEvent) error {
	const op = "postgres: delete application"
	return s.auditedWrite(ctx, op, ev, func(q sqlx.ExtContext) error {
		res, err := q.ExecContext(ctx, `DELETE FROM applications WHERE tenant_id = $1 AND id = $2`, tenantID, id)
		return deletedOne(res, err, op, directory.Errorf(directory.KindNotFound, "Resource does not exist."))
	})
}

// AddPasswordCredential stores c unless the application already has max
// credentials. The application row is locked so that concurrent adds
// cannot exceed max together; ev (nil: none) is stored with c.
// KindNotFound, KindInvalid.
func (s *Store) AddPasswordCredential(ctx context.Context, tenantID, id string, c directory.PasswordCredential, max int, ev *directory.AuditEvent) error {
	const op = "postgres: add password credential"
	return s.inAuditedTx(ctx, op, audited(ev), func(tx *sqlx.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM application_secrets s
				WHERE s.tenant_id = a.tenant_id AND s.application_id = a.id)
			FROM applications a WHERE a.tenant_id = $1 AND a.id = $2 FOR UPDATE`, tenantID, id).Scan(&n); err != nil {
			return translate(err, op)
		}
		if n >= max {
			return directory.Errorf(directory.KindInvalid,
				"An application may have at most %d password credentials; remove one first.", max).WithTarget("passwordCredentials")
		}
		return insertSecret(ctx, tx, tenantID, id, c)
	})
}

// RemovePasswordCredential deletes one credential, with ev (nil: none).
// KindNotFound.
func (s *Store) RemovePasswordCredential(ctx context.Context, tenantID, id, keyID string, ev *directory.AuditEvent) error {
	const op = "postgres: remove password credential"
	if !directory.IsGUID(keyID) {
		return directory.Errorf(directory.KindNotFound, "Resource does not exist.")
	}
	return s.auditedWrite(ctx, op, ev, func(q sqlx.ExtContext) error {
		res, err := q.ExecContext(ctx, `DELETE FROM application_secrets
			WHERE tenant_id = $1 AND application_id = $2 AND key_id = $3`, tenantID, id, keyID)
		return deletedOne(res, err, op, directory.Errorf(directory.KindNotFound, "Resource does not exist."))
	})
}

// deletedOne is the outcome of a DELETE of one row by key: notFound when
// it matched none, so that an audited transaction rolls back and stores no
// success event.
func deletedOne(res sql.Result, err error, op string, notFound error) error {
	if err != nil {
		return translate(err, op)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err, op)
	}
	if n == 0 {
		return notFound
	}
	return nil
}
