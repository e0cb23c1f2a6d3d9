package postgres

import (
	"context"

	"github.com/graphdir/graphdir/internal/directory"
)

// Tenants returns every tenant, oldest first (operator tooling).
func (s *Store) Tenants(ctx context.Context) ([]*directory.Tenant, error) {
	var rows []tenantRow
	if err := s.db.SelectContext(ctx, &rows, tenantSelect+` ORDER BY t.created_at, t.id`); err != nil {
		return nil, translate(err, "postgres: list tenants")
	}
	out := make([]*directory.Tenant, len(rows))
	for i := range rows {
		out[i] = rows[i].tenant()
	}
	return out, nil
}

// TenantByDomain returns the id of the tenant that has domain
// (case-insensitively). KindNotFound when none has.
func (s *Store) TenantByDomain(ctx context.Context, domain string) (string, error) {
	var ids []string
	if err := s.db.SelectContext(ctx, &ids, `SELECT tenant_id::text FROM tenant_domains
		WHERE lower(domain) = lower($1) ORDER BY created_at LIMIT 1`, domain); err != nil {
		return "", translate(err, "postgres: tenant by domain")
	}
	if len(ids) == 0 {
		return "", directory.Errorf(directory.KindNotFound, "No tenant has the domain '%s'.", domain)
	}
	return ids[0], nil
}
