package directory

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/graphdir/graphdir/internal/textlimit"
)

// Validation of a user flow body against the rules and the tenant's
// attributes: every refusal is KindInvalid naming its property.

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
