package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/graphdir/graphdir/internal/directory"
)

// tenantSelect reads a tenant t with its domains, the default domain first.
const tenantSelect = `SELECT t.id, t.display_name, t.default_domain, t.created_at, t.hide_user_not_found,
	ARRAY(SELECT d.domain FROM tenant_domains d WHERE d.tenant_id = t.id
		ORDER BY lower(d.domain) <> lower(t.default_domain), lower(d.domain)) AS domains
FROM tenants t`

type tenantRow struct {
	ID            string         `db:"id"`
	DisplayName   string         `db:"display_name"`
	DefaultDomain string         `db:"default_domain"`
	CreatedAt     time.Time      `db:"created_at"`
	HideUser      *bool          `db:"hide_user_not_found"`
	Domains       pq.StringArray `db:"domains"`
}

func (r *tenantRow) tenant() *directory.Tenant {
	return &directory.Tenant{
		ID:               r.ID,
		DisplayName:      r.DisplayName,
		DefaultDomain:    r.DefaultDomain,
		Domains:          nonNil(r.Domains),
		CreatedAt:        r.CreatedAt.UTC(),
		HideUserNotFound: r.HideUser,
	}
}

// ensureTenantSQL creates a tenant and its domains in one statement, or does
// nothing when the id exists: an existing tenant keeps its name and domains.
// ON CONFLICT waits for a concurrent creator to commit, so when it returns
// the tenant is visible to the next statement either way.
const ensureTenantSQL = `WITH t AS (
	INSERT INTO tenants (id, display_name, default_domain, created_at)
	VALUES ($1, $2, $3, COALESCE($4, now()))
	ON CONFLICT (id) DO NOTHING
	RETURNING id
)
INSERT INTO tenant_domains (tenant_id, domain)
SELECT t.id, d.domain FROM t, unnest($5::text[]) AS d(domain)
ON CONFLICT DO NOTHING`

// EnsureTenant returns the tenant with t.ID, creating it with t's display
// name, default domain and domains when it does not exist. Safe to call
// concurrently. KindInvalid when t.ID is not a GUID or the default domain is
// empty.
func (s *Store) EnsureTenant(ctx context.Context, t directory.Tenant) (*directory.Tenant, error) {
	const op = "postgres: ensure tenant"
	if !directory.IsGUID(t.ID) {
		return nil, directory.Errorf(directory.KindInvalid, "The tenant id must be a GUID.").WithTarget("tenantId")
	}
	if t.DefaultDomain == "" {
		return nil, directory.Errorf(directory.KindInvalid, "The tenant's default domain is required.").WithTarget("defaultDomain")
	}
	domains := []string{t.DefaultDomain}
	for _, d := range t.Domains {
		if d != "" && !strings.EqualFold(d, t.DefaultDomain) {
			domains = append(domains, d)
		}
	}
	var created *time.Time
	if !t.CreatedAt.IsZero() {
		created = &t.CreatedAt
	}
	if _, err := s.db.ExecContext(ctx, ensureTenantSQL, t.ID, t.DisplayName, t.DefaultDomain, created, pq.Array(domains)); err != nil {
		return nil, translate(err, op)
	}
	return s.Tenant(ctx, t.ID)
}

// DefaultTenant returns the oldest tenant. KindNotFound when there is none.
func (s *Store) DefaultTenant(ctx context.Context) (*directory.Tenant, error) {
	return s.tenant(ctx, tenantSelect+` ORDER BY t.created_at, t.id LIMIT 1`, "postgres: default tenant", "")
}

// Tenant returns the tenant with the given id and its domains. KindNotFound
// when it does not exist.
func (s *Store) Tenant(ctx context.Context, id string) (*directory.Tenant, error) {
	if !directory.IsGUID(id) {
		return nil, errTenantNotFound(id)
	}
	return s.tenant(ctx, tenantSelect+` WHERE t.id = $1`, "postgres: get tenant", id)
}

func (s *Store) tenant(ctx context.Context, query, op, id string) (*directory.Tenant, error) {
	var args []any
	if id != "" {
		args = append(args, id)
	}
	var r tenantRow
	err := s.db.QueryRowxContext(ctx, query, args...).StructScan(&r)
	if isNoRows(err) {
		return nil, errTenantNotFound(id)
	}
	if err != nil {
		return nil, translate(err, op)
	}
	return r.tenant(), nil
}

func errTenantNotFound(id string) error {
	if id == "" {
		return directory.Errorf(directory.KindNotFound, "No tenant exists.")
	}
	return directory.Errorf(directory.KindNotFound, "Tenant '%s' does not exist.", id)
}
