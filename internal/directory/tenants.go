package directory

import (
	"context"
	"strings"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// TenantStore lists tenants and finds them by domain (operator tooling);
// EnsureTenant, DefaultTenant and Tenant are on Store itself.
type TenantStore interface {
	// Tenants returns every tenant, oldest first.
	Tenants(ctx context.Context) ([]*Tenant, error)
	// TenantByDomain returns the id of the tenant that has domain
	// (case-insensitively). KindNotFound when none has.
	TenantByDomain(ctx context.Context, domain string) (string, error)
	// TenantHideUserNotFound returns the tenant's hide-user-not-found
	// setting (nil: the deployment default), one primary-key read for
	// native authentication. KindNotFound when the tenant does not exist.
	TenantHideUserNotFound(ctx context.Context, tenantID string) (*bool, error)
	// SetTenantHideUserNotFound sets it (nil: back to the default), with
	// ev (nil: none) in the same transaction. KindNotFound.
	SetTenantHideUserNotFound(ctx context.Context, tenantID string, hide *bool, ev *AuditEvent) error
}

// ActivityAddTenant is the audit activity of a new tenant (Entra's
// "Create company"), recorded in the default tenant's trail: the home of
// the installation its operator runs, where a refused create (which has no
// tenant of its own) is recorded too, and whose administrators are the
// ones to see new tenants appear. A new tenant's own trail starts empty.
var ActivityAddTenant = Activity{"Create company", "Add", "DirectoryManagement", "Directory"}

// CreateTenant creates a tenant for the operator at the command line (no
// caller: the operator has the database): the first domain is the default
// one, every domain must be a DNS name no other tenant has (KindInvalid,
// KindConflict), and the display name defaults to the first domain. The
// attempt is audited (ActivityAddTenant) with the operator as initiator.
func (s *Service) CreateTenant(ctx context.Context, displayName string, domains []string) (t *Tenant, err error) {
	id := s.newID()
	home := id // the first tenant records its own creation
	switch d, err := s.store.DefaultTenant(ctx); {
	case err == nil:
		home = d.ID
	case KindOf(err) != KindNotFound:
		return nil, err
	}
	ev := s.ext.audit.BeginOperator(ctx, home, ActivityAddTenant, AuditTarget{ID: id, DisplayName: displayName,
		ModifiedProperties: modifiedProperties([]string{"displayName", "verifiedDomains"})})
	defer func() { err = s.ext.audit.End(ctx, ev, err) }()
	if len(domains) == 0 {
		return nil, &Error{Kind: KindInvalid, Target: "verifiedDomains", Message: "A tenant needs at least one domain."}
	}
	for _, d := range domains {
		if !ValidDomain(d) {
			return nil, &Error{Kind: KindInvalid, Target: "verifiedDomains", Message: "'" + textlimit.Clip(d, maxEchoed) + "' is not a domain name."}
		}
		owner, err := s.store.TenantByDomain(ctx, d)
		switch {
		case err == nil:
			return nil, &Error{Kind: KindConflict, Target: "verifiedDomains", Message: "The domain " + d + " already belongs to tenant " + owner + "."}
		case KindOf(err) != KindNotFound:
			return nil, err
		}
	}
	if displayName == "" {
		displayName = domains[0]
	}
	if ev != nil {
		ev.Targets[0].DisplayName = displayName
	}
	return s.store.EnsureTenant(ctx, Tenant{ID: id, DisplayName: displayName, DefaultDomain: domains[0], Domains: domains})
}

// ValidDomain reports whether d is a DNS name a tenant may verify: dotted
// labels of letters, digits and hyphens, at most 253 characters.
func ValidDomain(d string) bool {
	if len(d) > 253 || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") || strings.Contains(d, "..") {
		return false
	}
	for _, c := range d {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
