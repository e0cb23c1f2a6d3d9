package directory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Permissions of the user flow API, as Graph documents them for
// authenticationEventsFlows (application roles and delegated scopes).
const (
	PermEventListenerReadAll      = "EventListener.Read.All"
	PermEventListenerReadWriteAll = "EventListener.ReadWrite.All"
)

// userFlowAdminRoles are the directory roles that let a signed-in user use
// the flow API with a delegated token. Graph's least privileged role,
// External ID User Flow Administrator, is not one of graphdir's built-in
// roles, so only a Global Administrator qualifies.
var userFlowAdminRoles = []string{RoleGlobalAdministrator}

// The audit activities of flow writes.
var (
	ActivityAddUserFlow               = Activity{"Add user flow", "Add", "Policy", "Policy"}
	ActivityUpdateUserFlow            = Activity{"Update user flow", "Update", "Policy", "Policy"}
	ActivityDeleteUserFlow            = Activity{"Delete user flow", "Delete", "Policy", "Policy"}
	ActivityAddUserFlowApplication    = Activity{"Add application to user flow", "Update", "Policy", "Policy"}
	ActivityRemoveUserFlowApplication = Activity{"Remove application from user flow", "Update", "Policy", "Policy"}
)

// AuthorizeUserFlows checks that p may attempt a read (write false) or a
// write of user flows at all, from the token alone: reads need
// EventListener.Read.All or EventListener.ReadWrite.All, writes
// EventListener.ReadWrite.All, as application permissions or delegated
// scopes. A delegated caller's directory role is checked next, by the
// Service method.
func AuthorizeUserFlows(p *Principal, write bool) error {
	need, action := []string{PermEventListenerReadAll, PermEventListenerReadWriteAll}, "Reading user flows"
	if write {
		need, action = []string{PermEventListenerReadWriteAll}, "Writing user flows"
	}
	switch {
	case p == nil:
		return Errorf(KindUnauthenticated, "Access token is empty.")
	case (p.IsApp() || p.IsUser()) && p.Has(need...):
		return nil
	case p.IsApp() || p.IsUser():
		return errNeedsPermission(action, need)
	}
	return Errorf(KindUnauthenticated, "Access token validation failure.")
}

// AuthorizeUserFlows is AuthorizeUserFlows for the HTTP edge, which calls it
// before parsing anything; a refused write is recorded as act on target
// (the path's flow id).
func (s *Service) AuthorizeUserFlows(ctx context.Context, write bool, act Activity, target string) error {
	err := AuthorizeUserFlows(PrincipalFrom(ctx), write)
	if err != nil && write {
		s.RecordDenied(ctx, act, target, err)
	}
	return err
}

// flowCaller resolves the caller of a flow method: the token's
// permissions, then, for a signed-in user, the directory role.
func (s *Service) flowCaller(ctx context.Context, write bool) (*Principal, error) {
	p := PrincipalFrom(ctx)
	if err := AuthorizeUserFlows(p, write); err != nil {
		return nil, err
	}
	if p.IsUser() {
		a, err := s.accessOf(ctx, p)
		if err != nil {
			return nil, err
		}
		if !slices.ContainsFunc(a.RoleIDs, func(id string) bool { return slices.Contains(userFlowAdminRoles, id) }) {
			return nil, &Error{Kind: KindForbidden,
				Message: "Insufficient privileges to complete the operation. Managing user flows needs the Global Administrator role (Entra: External ID User Flow Administrator)."}
		}
	}
	return p, nil
}

// beginFlow starts the audit event of a flow write.
func (s *Service) beginFlow(ctx context.Context, p *Principal, act Activity, id, name string, props ...string) *AuditEvent {
	return s.ext.audit.BeginFor(ctx, p, act, AuditTarget{ID: textlimit.Clip(id, maxEchoed), DisplayName: textlimit.Clip(name, maxEchoed), ModifiedProperties: modifiedProperties(props)})
}

// ErrNotFoundUserFlow is the not-found error of a flow.
func ErrNotFoundUserFlow(id string) *Error {
	return Errorf(KindNotFound, "Resource '%s' does not exist or one of its queried reference-property objects are not present.", textlimit.Clip(id, maxEchoed))
}

// flowID reads a flow key: a GUID, bare or quoted (the
// authenticationEventsFlows('{id}') form).
func flowID(id string) (string, error) {
	if len(id) >= 2 && id[0] == '\'' && id[len(id)-1] == '\'' {
		id = id[1 : len(id)-1]
	}
	if !IsGUID(id) {
		return "", ErrNotFoundUserFlow(id)
	}
	return normalizeGUID(id), nil
}

// CreateUserFlow creates a flow from in. KindInvalid naming the property,
// KindConflict (display name taken, application in another flow),
// KindForbidden.
func (s *Service) CreateUserFlow(ctx context.Context, in UserFlowInput) (_ *UserFlowDefinition, err error) {
	p, err := s.flowCaller(ctx, true)
	if err != nil {
		return nil, err
	}
	name := ""
	if in.DisplayName != nil {
		name = *in.DisplayName
	}
	ev := s.beginFlow(ctx, p, ActivityAddUserFlow, "", name, inputProperties(in)...)
	defer s.auditEnd(ctx, ev, &err)
	switch {
	case in.DisplayName == nil:
		return nil, Errorf(KindInvalid, "Property 'displayName' is required.").WithTarget("displayName")
	case in.IdentityProviders == nil:
		return nil, Errorf(KindInvalid, "Property 'onAuthenticationMethodLoadStart' with at least one of 'identityProviders' is required.").WithTarget("onAuthenticationMethodLoadStart")
	case in.SignUpAllowed == nil:
		return nil, Errorf(KindInvalid, "Property 'onInteractiveAuthFlowStart' with 'isSignUpAllowed' is required.").WithTarget("onInteractiveAuthFlowStart")
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	f := &UserFlowDefinition{TenantID: p.TenantID, ID: s.newID(), Priority: DefaultFlowPriority, CreatedAt: now, UpdatedAt: now}
	if err := s.applyFlowInput(ctx, f, in); err != nil {
		return nil, err
	}
	if ev != nil && len(ev.Targets) > 0 {
		ev.Targets[0].ID = f.ID
	}
	if err := s.store.CreateUserFlow(ctx, f, ev); err != nil {
		return nil, err
	}
	return s.describeFlow(ctx, f)
}

// ListUserFlows returns the caller's tenant's flows, oldest first.
func (s *Service) ListUserFlows(ctx context.Context) ([]*UserFlowDefinition, error) {
	p, err := s.flowCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	flows, err := s.store.ListUserFlows(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	for i, f := range flows {
		if flows[i], err = s.describeFlow(ctx, f); err != nil {
			return nil, err
		}
	}
	return flows, nil
}

// GetUserFlow returns one flow. KindNotFound, KindForbidden.
func (s *Service) GetUserFlow(ctx context.Context, id string) (*UserFlowDefinition, error) {
	p, err := s.flowCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	f, err := s.getFlow(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	return s.describeFlow(ctx, f)
}

func (s *Service) getFlow(ctx context.Context, tenantID, id string) (*UserFlowDefinition, error) {
	fid, err := flowID(id)
	if err != nil {
		return nil, err
	}
	f, err := s.store.GetUserFlow(ctx, tenantID, fid)
	if KindOf(err) == KindNotFound {
		return nil, ErrNotFoundUserFlow(id)
	}
	return f, err
}

// UpdateUserFlow applies in to a flow; absent properties keep their
// values, given ones replace them whole (the attribute collection page and
// the application list included, as Graph's PATCH does).
func (s *Service) UpdateUserFlow(ctx context.Context, id string, in UserFlowInput) (err error) {
	p, err := s.flowCaller(ctx, true)
	if err != nil {
		return err
	}
	ev := s.beginFlow(ctx, p, ActivityUpdateUserFlow, id, "", inputProperties(in)...)
	defer s.auditEnd(ctx, ev, &err)
	// Read, apply, write if unchanged meanwhile; a concurrent PATCH makes
	// this one start over from the flow as it now is.
	for attempt := 1; ; attempt++ {
		f, err := s.getFlow(ctx, p.TenantID, id)
		if err != nil {
			return err
		}
		if ev != nil && len(ev.Targets) > 0 {
			ev.Targets[0].ID, ev.Targets[0].DisplayName = f.ID, f.DisplayName
		}
		prev := f.UpdatedAt
		if err := s.applyFlowInput(ctx, f, in); err != nil {
			return err
		}
		f.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		if !f.UpdatedAt.After(prev) {
			f.UpdatedAt = prev.Add(time.Microsecond)
		}
		err = s.store.UpdateUserFlow(ctx, f, prev, ev)
		switch {
		case KindOf(err) == KindNotFound:
			return ErrNotFoundUserFlow(id)
		case KindOf(err) == KindPreconditionFailed && attempt < maxFlowUpdateAttempts:
			continue
		case KindOf(err) == KindPreconditionFailed:
			return Errorf(KindConflict, "The user flow was changed by another request meanwhile; retry.")
		}
		return err
	}
}

// maxFlowUpdateAttempts bounds the retries of a PATCH that keeps losing
// to concurrent ones.
const maxFlowUpdateAttempts = 5

// DeleteUserFlow deletes a flow; its applications fall back to the default
// flow. KindNotFound, KindForbidden.
func (s *Service) DeleteUserFlow(ctx context.Context, id string) (err error) {
	p, err := s.flowCaller(ctx, true)
	if err != nil {
		return err
	}
	ev := s.beginFlow(ctx, p, ActivityDeleteUserFlow, id, "")
	defer s.auditEnd(ctx, ev, &err)
	fid, err := flowID(id)
	if err != nil {
		return err
	}
	err = s.store.DeleteUserFlow(ctx, p.TenantID, fid, ev)
	if KindOf(err) == KindNotFound {
		return ErrNotFoundUserFlow(id)
	}
	return err
}

// UserFlowApplications returns the client ids a flow includes.
func (s *Service) UserFlowApplications(ctx context.Context, id string) ([]string, error) {
	p, err := s.flowCaller(ctx, false)
	if err != nil {
		return nil, err
	}
	f, err := s.getFlow(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	return f.AppIDs, nil
}

// AddUserFlowApplication links an application (by client id) to a flow.
// KindNotFound (flow), KindInvalid (not an application of the tenant),
// KindConflict (already in a flow).
func (s *Service) AddUserFlowApplication(ctx context.Context, id, appID string) (err error) {
	p, err := s.flowCaller(ctx, true)
	if err != nil {
		return err
	}
	ev := s.beginFlow(ctx, p, ActivityAddUserFlowApplication, id, "", "includeApplications")
	defer s.auditEnd(ctx, ev, &err)
	fid, err := flowID(id)
	if err != nil {
		return err
	}
	if appID == "" {
		return Errorf(KindInvalid, "Property 'appId' is required.").WithTarget("appId")
	}
	if !IsGUID(appID) {
		return Errorf(KindInvalid, "Invalid value specified for property 'appId': '%s' is not an application id (a GUID).", textlimit.Clip(appID, maxEchoed)).WithTarget("appId")
	}
	err = s.store.AddUserFlowApplication(ctx, p.TenantID, fid, normalizeGUID(appID), ev)
	if KindOf(err) == KindNotFound {
		return ErrNotFoundUserFlow(id)
	}
	return err
}

// RemoveUserFlowApplication unlinks an application from a flow.
// KindNotFound when the flow does not exist or does not include it.
func (s *Service) RemoveUserFlowApplication(ctx context.Context, id, appID string) (err error) {
	p, err := s.flowCaller(ctx, true)
	if err != nil {
		return err
	}
	ev := s.beginFlow(ctx, p, ActivityRemoveUserFlowApplication, id, "", "includeApplications")
	defer s.auditEnd(ctx, ev, &err)
	fid, err := flowID(id)
	if err != nil {
		return err
	}
	if !IsGUID(appID) {
		return ErrNotFoundUserFlow(appID)
	}
	err = s.store.RemoveUserFlowApplication(ctx, p.TenantID, fid, normalizeGUID(appID), ev)
	if KindOf(err) == KindNotFound {
		return ErrNotFoundUserFlow(appID)
	}
	return err
}

// UserFlowForApp returns the effective user flow of the application with
// client id appID in tenantID: the flow that includes it, or
// DefaultUserFlow when none does. It takes no caller: the sign-in flows
// call it before any token exists. Whether appID is a registered
// application is the caller's to check. Extension attributes whose
// definition has been deleted since the flow was written are left out.
func (s *Service) UserFlowForApp(ctx context.Context, tenantID, appID string) (UserFlow, error) {
	if !IsGUID(tenantID) || !IsGUID(appID) {
		return DefaultUserFlow(), nil
	}
	f, err := s.store.UserFlowOfApp(ctx, normalizeGUID(tenantID), normalizeGUID(appID))
	if KindOf(err) == KindNotFound {
		return DefaultUserFlow(), nil
	}
	if err != nil {
		return UserFlow{}, err
	}
	return s.effectiveFlow(ctx, f)
}

// effectiveFlow turns a stored flow into the sign-in core's view.
func (s *Service) effectiveFlow(ctx context.Context, f *UserFlowDefinition) (UserFlow, error) {
	uf := UserFlow{
		ID:             f.ID,
		AllowPasswords: slices.Contains(f.IdentityProviders, IdentityProviderEmailPassword),
		AllowEmailOTP:  slices.Contains(f.IdentityProviders, IdentityProviderEmailOTP),
		SignUpAllowed:  f.SignUpAllowed,
		MFARequired:    f.MFARequired,
		Attributes:     []FlowAttribute{},
	}
	inputs := f.Inputs()
	var extNames []string
	for _, in := range inputs {
		if IsExtensionName(in.Attribute) {
			extNames = append(extNames, in.Attribute)
		}
	}
	defs, err := s.lookupExtensions(ctx, f.TenantID, extNames)
	if err != nil {
		return UserFlow{}, err
	}
	for _, in := range inputs {
		a := FlowAttribute{Name: in.Attribute, Label: in.Label, InputType: in.InputType, Required: in.Required,
			Hidden: in.Hidden, Editable: in.Editable, Options: in.Options}
		if in.DefaultValue != nil {
			a.DefaultValue = *in.DefaultValue
		}
		if in.ValidationRegEx != nil {
			a.ValidationRegEx = *in.ValidationRegEx
		}
		if b, ok := lookupBuiltInFlowAttribute(in.Attribute); ok {
			if b.ID == "email" {
				continue // the username, collected and verified anyway
			}
			a.Name, a.UserProperty, a.BuiltIn, a.DataType = b.ID, b.UserProperty, true, b.DataType
		} else if d, ok := defs[strings.ToLower(in.Attribute)]; ok {
			a.Name, a.UserProperty, a.Extension, a.DataType = d.Name, d.Name, d, extensionFlowDataType(d)
		} else {
			continue // its definition was deleted
		}
		uf.Attributes = append(uf.Attributes, a)
	}
	return uf, nil
}

// describeFlow fills f's attribute descriptions (Graph's
// onAttributeCollection.attributes) from its inputs.
func (s *Service) describeFlow(ctx context.Context, f *UserFlowDefinition) (*UserFlowDefinition, error) {
	var extNames []string
	inputs := f.Inputs()
	for _, in := range inputs {
		if IsExtensionName(in.Attribute) {
			extNames = append(extNames, in.Attribute)
		}
	}
	defs, err := s.lookupExtensions(ctx, f.TenantID, extNames)
	if err != nil {
		return nil, err
	}
	f.Attributes = []FlowAttributeInfo{}
	for _, in := range inputs {
		if b, ok := lookupBuiltInFlowAttribute(in.Attribute); ok {
			f.Attributes = append(f.Attributes, FlowAttributeInfo{ID: b.ID, DisplayName: b.DisplayName, Description: b.Description, UserFlowAttributeType: "builtIn", DataType: b.DataType})
			continue
		}
		info := FlowAttributeInfo{ID: in.Attribute, DisplayName: in.Label, UserFlowAttributeType: "custom", DataType: "string"}
		if d, ok := defs[strings.ToLower(in.Attribute)]; ok {
			info.ID, info.DataType = d.Name, extensionFlowDataType(d)
			if i := strings.LastIndexByte(d.Name, '_'); i >= 0 {
				info.DisplayName = d.Name[i+1:]
			}
		}
		f.Attributes = append(f.Attributes, info)
	}
	return f, nil
}

// inputProperties names the properties a write sets, for its audit event.
func inputProperties(in UserFlowInput) []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(in.DisplayName != nil, "displayName")
	add(in.Description != nil, "description")
	add(in.Priority != nil, "priority")
	add(in.IdentityProviders != nil, "onAuthenticationMethodLoadStart")
	add(in.SignUpAllowed != nil, "onInteractiveAuthFlowStart")
	add(in.Attributes != nil || in.Pages != nil, "onAttributeCollection")
	add(in.AppIDs != nil, "conditions")
	add(in.MFARequired != nil, "graphdirMfaRequired")
	return out
}
