package directory

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

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

// applyFlowInput validates in and writes it onto f.
func (s *Service) applyFlowInput(ctx context.Context, f *UserFlowDefinition, in UserFlowInput) error {
	if in.DisplayName != nil {
		n := strings.TrimSpace(*in.DisplayName)
		if n == "" || utf8.RuneCountInString(n) > maxFlowDisplayName {
			return Errorf(KindInvalid, "Invalid value specified for property 'displayName': 1 to %d characters.", maxFlowDisplayName).WithTarget("displayName")
		}
		f.DisplayName = n
	}
	if in.Description != nil {
		if utf8.RuneCountInString(*in.Description) > maxFlowDescription {
			return Errorf(KindInvalid, "Invalid value specified for property 'description': at most %d characters.", maxFlowDescription).WithTarget("description")
		}
		if *in.Description == "" {
			f.Description = nil
		} else {
			d := *in.Description
			f.Description = &d
		}
	}
	if in.Priority != nil {
		if *in.Priority < 0 || *in.Priority > 1<<31-1 {
			return Errorf(KindInvalid, "Invalid value specified for property 'priority': an Int32 of at least 0.").WithTarget("priority")
		}
		f.Priority = *in.Priority
	}
	if in.IdentityProviders != nil {
		idps, err := normalizeIdentityProviders(*in.IdentityProviders)
		if err != nil {
			return err
		}
		f.IdentityProviders = idps
	}
	if in.SignUpAllowed != nil {
		f.SignUpAllowed = *in.SignUpAllowed
	}
	if in.MFARequired != nil {
		f.MFARequired = *in.MFARequired
	}
	if in.AppIDs != nil {
		ids, err := normalizeFlowApps(*in.AppIDs)
		if err != nil {
			return err
		}
		f.AppIDs = ids
	}
	if in.Attributes != nil || in.Pages != nil {
		pages, err := s.flowPages(ctx, f, in)
		if err != nil {
			return err
		}
		f.Pages = pages
	}
	return nil
}

func normalizeIdentityProviders(ids []string) ([]string, error) {
	const target = "identityProviders"
	if len(ids) == 0 {
		return nil, Errorf(KindInvalid, "Property 'onAuthenticationMethodLoadStart/identityProviders' must name at least one identity provider.").WithTarget(target)
	}
	var out []string
	for _, id := range ids {
		var canon string
		for _, known := range []string{IdentityProviderEmailPassword, IdentityProviderEmailOTP} {
			if strings.EqualFold(id, known) {
				canon = known
			}
		}
		if canon == "" {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'identityProviders': '%s' is not supported; graphdir supports '%s' and '%s'.",
				textlimit.Clip(id, maxEchoed), IdentityProviderEmailPassword, IdentityProviderEmailOTP).WithTarget(target)
		}
		if slices.Contains(out, canon) {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'identityProviders': '%s' is listed twice.", canon).WithTarget(target)
		}
		out = append(out, canon)
	}
	return out, nil
}

func normalizeFlowApps(ids []string) ([]string, error) {
	const target = "includeApplications"
	if len(ids) > maxFlowApplications {
		return nil, Errorf(KindInvalid, "Invalid value specified for property 'includeApplications': at most %d applications.", maxFlowApplications).WithTarget(target)
	}
	out := []string{}
	for _, id := range ids {
		if !IsGUID(id) {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'includeApplications': '%s' is not an application id (a GUID).", textlimit.Clip(id, maxEchoed)).WithTarget(target)
		}
		id = normalizeGUID(id)
		if slices.Contains(out, id) {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'includeApplications': '%s' is listed twice.", id).WithTarget(target)
		}
		out = append(out, id)
	}
	return out, nil
}

// flowPages validates the attribute collection of in against the tenant's
// attributes and returns f's new pages. An attribute listed in
// onAttributeCollection.attributes without an input gets a default one
// (text, optional, editable); with both lists given, every input's
// attribute must be listed.
func (s *Service) flowPages(ctx context.Context, f *UserFlowDefinition, in UserFlowInput) ([]FlowView, error) {
	var pages []FlowView
	switch {
	case in.Pages != nil:
		pages = slices.Clone(*in.Pages)
	case f.Pages != nil:
		pages = slices.Clone(f.Pages)
	}
	if len(pages) > maxFlowViews {
		return nil, Errorf(KindInvalid, "Invalid value specified for property 'views': at most %d views.", maxFlowViews).WithTarget("views")
	}
	// Resolve every name once: built-in or an extension of the tenant.
	var extNames []string
	collect := func(name string) {
		if _, ok := lookupBuiltInFlowAttribute(name); !ok && IsExtensionName(name) {
			extNames = append(extNames, name)
		}
	}
	for _, v := range pages {
		for _, i := range v.Inputs {
			collect(i.Attribute)
		}
	}
	if in.Attributes != nil {
		for _, a := range *in.Attributes {
			collect(a.ID)
		}
	}
	defs, err := s.lookupExtensions(ctx, f.TenantID, extNames)
	if err != nil {
		return nil, err
	}
	resolve := func(name, target string) (canon, label, kind, dataType string, err error) {
		if b, ok := lookupBuiltInFlowAttribute(name); ok {
			return b.ID, b.DisplayName, "builtIn", b.DataType, nil
		}
		if d, ok := defs[strings.ToLower(name)]; ok {
			short := d.Name[strings.LastIndexByte(d.Name, '_')+1:]
			return d.Name, short, "custom", extensionFlowDataType(d), nil
		}
		names := make([]string, len(builtInFlowAttributes))
		for i, b := range builtInFlowAttributes {
			names[i] = b.ID
		}
		return "", "", "", "", Errorf(KindInvalid, "Invalid value specified for property '%s': '%s' is neither a built-in attribute (%s) nor an extension property of this tenant (extension_{appId without dashes}_{name}).",
			target, textlimit.Clip(name, maxEchoed), strings.Join(names, ", ")).WithTarget(target)
	}

	var listed []string
	if in.Attributes != nil {
		for _, a := range *in.Attributes {
			canon, _, kind, dataType, err := resolve(a.ID, "attributes")
			if err != nil {
				return nil, err
			}
			if a.UserFlowAttributeType != nil && !strings.EqualFold(*a.UserFlowAttributeType, kind) {
				return nil, Errorf(KindInvalid, "Invalid value specified for property 'userFlowAttributeType' of attribute '%s': it is '%s'.", canon, kind).WithTarget("userFlowAttributeType")
			}
			if a.DataType != nil && !strings.EqualFold(*a.DataType, dataType) {
				return nil, Errorf(KindInvalid, "Invalid value specified for property 'dataType' of attribute '%s': it is '%s'.", canon, dataType).WithTarget("dataType")
			}
			if slices.Contains(listed, canon) {
				return nil, Errorf(KindInvalid, "Invalid value specified for property 'attributes': '%s' is listed twice.", canon).WithTarget("attributes")
			}
			listed = append(listed, canon)
		}
	}

	var seen []string
	total := 0
	for vi := range pages {
		v := &pages[vi]
		v.Inputs = slices.Clone(v.Inputs)
		if v.Title != nil && utf8.RuneCountInString(*v.Title) > maxFlowLabel || v.Description != nil && utf8.RuneCountInString(*v.Description) > maxFlowDescription {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'views': a title of at most %d and a description of at most %d characters.", maxFlowLabel, maxFlowDescription).WithTarget("views")
		}
		for ii := range v.Inputs {
			total++
			if total > maxFlowInputs {
				return nil, Errorf(KindInvalid, "Invalid value specified for property 'inputs': at most %d inputs in all.", maxFlowInputs).WithTarget("inputs")
			}
			i := &v.Inputs[ii]
			if i.Attribute == "" {
				return nil, Errorf(KindInvalid, "Property 'attribute' of every input is required.").WithTarget("attribute")
			}
			canon, label, _, _, err := resolve(i.Attribute, "attribute")
			if err != nil {
				return nil, err
			}
			if slices.Contains(seen, canon) {
				return nil, Errorf(KindInvalid, "Invalid value specified for property 'attribute': '%s' has two inputs.", canon).WithTarget("attribute")
			}
			if in.Attributes != nil && !slices.Contains(listed, canon) {
				return nil, Errorf(KindInvalid, "Invalid value specified for property 'attribute': '%s' has an input but is not in 'attributes'.", canon).WithTarget("attribute")
			}
			seen = append(seen, canon)
			i.Attribute = canon
			if err := checkFlowInput(i, label); err != nil {
				return nil, err
			}
		}
	}
	// Listed attributes without an input get a default one.
	for _, canon := range listed {
		if slices.Contains(seen, canon) {
			continue
		}
		_, label, _, _, _ := resolve(canon, "attributes")
		if len(pages) == 0 {
			pages = append(pages, FlowView{})
		}
		last := &pages[len(pages)-1]
		in := FlowInputField{Attribute: canon, Label: label, InputType: "text", Editable: true, WriteToDirectory: true}
		if canon == "email" {
			in.Hidden, in.Editable, in.Required = true, false, true
		}
		last.Inputs = append(last.Inputs, in)
		if total++; total > maxFlowInputs {
			return nil, Errorf(KindInvalid, "Invalid value specified for property 'inputs': at most %d inputs in all.", maxFlowInputs).WithTarget("inputs")
		}
	}
	if pages == nil {
		pages = []FlowView{}
	}
	return pages, nil
}

// checkFlowInput validates one input and fills its defaults.
func checkFlowInput(i *FlowInputField, defaultLabel string) error {
	if i.Label == "" {
		i.Label = defaultLabel
	}
	if utf8.RuneCountInString(i.Label) > maxFlowLabel {
		return Errorf(KindInvalid, "Invalid value specified for property 'label': at most %d characters.", maxFlowLabel).WithTarget("label")
	}
	if i.InputType == "" {
		i.InputType = "text"
	}
	k := slices.IndexFunc(flowInputTypes, func(t string) bool { return strings.EqualFold(t, i.InputType) })
	if k < 0 {
		return Errorf(KindInvalid, "Invalid value specified for property 'inputType': '%s'; use one of %s.", textlimit.Clip(i.InputType, maxEchoed), strings.Join(flowInputTypes, ", ")).WithTarget("inputType")
	}
	i.InputType = flowInputTypes[k]
	if i.DefaultValue != nil && utf8.RuneCountInString(*i.DefaultValue) > maxFlowLabel {
		return Errorf(KindInvalid, "Invalid value specified for property 'defaultValue': at most %d characters.", maxFlowLabel).WithTarget("defaultValue")
	}
	if i.ValidationRegEx != nil {
		if len(*i.ValidationRegEx) > maxFlowRegex {
			return Errorf(KindInvalid, "Invalid value specified for property 'validationRegEx': at most %d characters.", maxFlowRegex).WithTarget("validationRegEx")
		}
		if _, err := regexp.Compile(*i.ValidationRegEx); err != nil {
			return Errorf(KindInvalid, "Invalid value specified for property 'validationRegEx': not a regular expression graphdir can evaluate (RE2 syntax).").WithTarget("validationRegEx")
		}
	}
	if len(i.Options) > maxFlowOptions {
		return Errorf(KindInvalid, "Invalid value specified for property 'options': at most %d options.", maxFlowOptions).WithTarget("options")
	}
	for _, o := range i.Options {
		if utf8.RuneCountInString(o.Label) > maxFlowLabel || utf8.RuneCountInString(o.Value) > maxFlowLabel {
			return Errorf(KindInvalid, "Invalid value specified for property 'options': labels and values of at most %d characters.", maxFlowLabel).WithTarget("options")
		}
	}
	return nil
}
