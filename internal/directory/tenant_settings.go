package directory

import (
	"context"
	"encoding/json"
	"strconv"
)

// ActivityUpdateTenantSettings is the audit activity of a change to a
// tenant's settings (Entra's "Update company settings"), recorded in that
// tenant's own trail: its administrators are the ones whose sign-in
// answers change.
var ActivityUpdateTenantSettings = Activity{"Update company settings", "Update", "DirectoryManagement", "Directory"}

// auditHideUserNotFound names the setting in the audit trail.
const auditHideUserNotFound = "hideUserNotFound"

// SetTenantHideUserNotFound sets whether the tenant's native
// authentication hides that an account does not exist (nil: the
// deployment default), for the operator at the command line. The change
// is audited (ActivityUpdateTenantSettings) in the tenant's trail with
// the old and new values ("[]" for the default, as Graph writes null): a
// setting, not a secret.
// KindNotFound when the tenant does not exist.
func (s *Service) SetTenantHideUserNotFound(ctx context.Context, tenantID string, hide *bool) (err error) {
	t, err := s.store.Tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	// The old value is read before the write's transaction: an operator
	// setting it at the same moment may see the same old value recorded.
	oldV, newV := auditBoolValue(t.HideUserNotFound), auditBoolValue(hide)
	ev := s.ext.audit.BeginOperator(ctx, t.ID, ActivityUpdateTenantSettings, AuditTarget{ID: t.ID, DisplayName: t.DisplayName,
		ModifiedProperties: []AuditModifiedProperty{{DisplayName: auditHideUserNotFound, OldValue: &oldV, NewValue: &newV}}})
	defer func() { err = s.ext.audit.End(ctx, ev, err) }()
	return s.store.SetTenantHideUserNotFound(ctx, t.ID, hide, ev)
}

// auditBoolValue is a nullable boolean as Graph's audit logs write a
// value: "[true]", "[false]", "[]" for null.
func auditBoolValue(v *bool) string {
	if v == nil {
		return graphAuditValue(nil)
	}
	return graphAuditValue(json.RawMessage(strconv.FormatBool(*v)))
}
