package api

import (
	"encoding/json"
	"slices"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/jsonstrict"
)

// The property tables a user flow body is decoded by, one per nested
// object: strict at every level, each refusal naming its property.

func decodeString(raw json.RawMessage, into *string) error { return json.Unmarshal(raw, into) }

func decodeBool(raw json.RawMessage, into **bool) error {
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return err
	}
	*into = &b
	return nil
}

// decodeArray decodes a JSON array of objects by t, at most max of them.
func decodeArray[T any](raw json.RawMessage, t *bodyTable[T], max int) ([]T, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	if len(elems) > max {
		return nil, errInvalidValue
	}
	out := make([]T, 0, len(elems))
	for _, e := range elems {
		v, err := decodeObject(e, t)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// requireNull is a row for a Graph property graphdir does not model but
// writes as null: a body may send null, nothing else.
func requireNull[T any](name string) bodyField[T] {
	return bodyField[T]{name: name, nullable: true, invalid: "Property '" + name + "' is not supported by graphdir; only null is accepted.",
		decode: func(json.RawMessage, *T) error { return errInvalidValue }}
}

var flowAppTable = bodyTable[flowAppJSON]{
	resource: "microsoft.graph.authenticationConditionApplication", odataType: odataTypeFlowApp, noun: "an application condition",
	fields: []bodyField[flowAppJSON]{
		{name: "appId", decode: func(raw json.RawMessage, in *flowAppJSON) error { return decodeString(raw, &in.AppID) }},
	},
}

type flowCondAppsInput struct{ apps *[]string }

var flowCondAppsTable = bodyTable[flowCondAppsInput]{
	resource: "microsoft.graph.authenticationConditionsApplications", odataType: odataTypeFlowCondApps, noun: "application conditions",
	fields: []bodyField[flowCondAppsInput]{
		{name: "includeApplications", decode: func(raw json.RawMessage, in *flowCondAppsInput) error {
			list, err := decodeArray(raw, &flowAppTable, 1000)
			if err != nil {
				return err
			}
			ids := make([]string, len(list))
			for i, a := range list {
				ids[i] = a.AppID
			}
			in.apps = &ids
			return nil
		}},
		{name: "includeAllApplications", nullable: true, invalid: "Property 'includeAllApplications' must be false: a user flow applies to the applications it lists.",
			decode: func(raw json.RawMessage, _ *flowCondAppsInput) error {
				var b bool
				if err := json.Unmarshal(raw, &b); err != nil || b {
					return errInvalidValue
				}
				return nil
			}},
	},
}

type flowCondsInput struct{ apps *[]string }

var flowCondsTable = bodyTable[flowCondsInput]{
	resource: "microsoft.graph.authenticationConditions", odataType: odataTypeFlowConds, noun: "authentication conditions",
	fields: []bodyField[flowCondsInput]{
		{name: "applications", decode: func(raw json.RawMessage, in *flowCondsInput) error {
			v, err := decodeObject(raw, &flowCondAppsTable)
			in.apps = v.apps
			return err
		}},
	},
}

type flowProviderInput struct{ id string }

var flowProviderTable = bodyTable[flowProviderInput]{
	resource: "microsoft.graph.builtInIdentityProvider", odataType: odataTypeBuiltInIdP, noun: "an identity provider",
	fields: slices.Concat([]bodyField[flowProviderInput]{
		{name: "id", decode: func(raw json.RawMessage, in *flowProviderInput) error { return decodeString(raw, &in.id) }},
	}, readOnlyFields[flowProviderInput]("displayName", "identityProviderType", "state")),
}

type flowMethodsInput struct{ ids *[]string }

var flowMethodsTable = bodyTable[flowMethodsInput]{
	resource: "microsoft.graph.onAuthenticationMethodLoadStartExternalUsersSelfServiceSignUp", odataType: odataTypeMethods, noun: "onAuthenticationMethodLoadStart",
	fields: []bodyField[flowMethodsInput]{
		{name: "identityProviders", decode: func(raw json.RawMessage, in *flowMethodsInput) error {
			list, err := decodeArray(raw, &flowProviderTable, 10)
			if err != nil {
				return err
			}
			ids := make([]string, len(list))
			for i, p := range list {
				ids[i] = p.id
			}
			in.ids = &ids
			return nil
		}},
	},
}

type flowSignUpInput struct{ allowed *bool }

var flowSignUpTable = bodyTable[flowSignUpInput]{
	resource: "microsoft.graph.onInteractiveAuthFlowStartExternalUsersSelfServiceSignUp", odataType: odataTypeSignUpStart, noun: "onInteractiveAuthFlowStart",
	fields: []bodyField[flowSignUpInput]{
		{name: "isSignUpAllowed", decode: func(raw json.RawMessage, in *flowSignUpInput) error { return decodeBool(raw, &in.allowed) }},
	},
}

var flowOptionTable = bodyTable[directory.FlowOptionConfig]{
	resource: "microsoft.graph.authenticationAttributeCollectionOptionConfiguration", odataType: odataTypeFlowOption, noun: "an option",
	fields: []bodyField[directory.FlowOptionConfig]{
		{name: "label", decode: func(raw json.RawMessage, in *directory.FlowOptionConfig) error { return decodeString(raw, &in.Label) }},
		{name: "value", decode: func(raw json.RawMessage, in *directory.FlowOptionConfig) error { return decodeString(raw, &in.Value) }},
	},
}

func optionalString(raw json.RawMessage, into **string) error {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return err
	}
	*into = &s
	return nil
}

func boolInto(raw json.RawMessage, into *bool) error { return json.Unmarshal(raw, into) }

var flowInputTable = bodyTable[directory.FlowInputField]{
	resource: "microsoft.graph.authenticationAttributeCollectionInputConfiguration", odataType: odataTypeFlowInput, noun: "an input",
	fields: []bodyField[directory.FlowInputField]{
		{name: "attribute", decode: func(raw json.RawMessage, in *directory.FlowInputField) error { return decodeString(raw, &in.Attribute) }},
		{name: "label", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error { return decodeString(raw, &in.Label) }},
		{name: "inputType", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error { return decodeString(raw, &in.InputType) }},
		{name: "defaultValue", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error {
			return optionalString(raw, &in.DefaultValue)
		}},
		{name: "hidden", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error { return boolInto(raw, &in.Hidden) }},
		{name: "editable", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error { return boolInto(raw, &in.Editable) }},
		{name: "writeToDirectory", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error {
			return boolInto(raw, &in.WriteToDirectory)
		}},
		{name: "required", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error { return boolInto(raw, &in.Required) }},
		{name: "validationRegEx", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) error {
			return optionalString(raw, &in.ValidationRegEx)
		}},
		{name: "options", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowInputField) (err error) {
			in.Options, err = decodeArray(raw, &flowOptionTable, 1000)
			return err
		}},
	},
}

var flowViewTable = bodyTable[directory.FlowView]{
	resource: "microsoft.graph.authenticationAttributeCollectionPageViewConfiguration", odataType: odataTypeFlowView, noun: "a view",
	fields: []bodyField[directory.FlowView]{
		{name: "title", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowView) error { return optionalString(raw, &in.Title) }},
		{name: "description", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowView) error { return optionalString(raw, &in.Description) }},
		{name: "inputs", decode: func(raw json.RawMessage, in *directory.FlowView) (err error) {
			in.Inputs, err = decodeInputs(raw)
			return err
		}},
	},
}

// decodeInputs decodes a view's inputs. editable and writeToDirectory
// default to true when absent, as the admin center creates inputs.
func decodeInputs(raw json.RawMessage) ([]directory.FlowInputField, error) {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	if len(elems) > 1000 {
		return nil, errInvalidValue
	}
	out := make([]directory.FlowInputField, 0, len(elems))
	for _, e := range elems {
		members, err := strictMembers(e)
		if err != nil {
			return nil, err
		}
		v, err := decodeMembers(members, &flowInputTable)
		if err != nil {
			return nil, err
		}
		has := func(k string) bool {
			return slices.ContainsFunc(members, func(m jsonstrict.Member) bool { return m.Key == k && !jsonstrict.IsNull(m.Value) })
		}
		if !has("editable") {
			v.Editable = true
		}
		if !has("writeToDirectory") {
			v.WriteToDirectory = true
		}
		out = append(out, v)
	}
	return out, nil
}

type flowPageInput struct{ views *[]directory.FlowView }

var flowPageTable = bodyTable[flowPageInput]{
	resource: "microsoft.graph.authenticationAttributeCollectionPage", odataType: odataTypeFlowPage, noun: "an attribute collection page",
	fields: []bodyField[flowPageInput]{
		requireNull[flowPageInput]("customStringsFileId"),
		{name: "views", decode: func(raw json.RawMessage, in *flowPageInput) error {
			views, err := decodeArray(raw, &flowViewTable, 1000)
			if err != nil {
				return err
			}
			in.views = &views
			return nil
		}},
	},
}

var flowAttributeTable = bodyTable[directory.FlowAttributeRef]{
	resource: "microsoft.graph.identityUserFlowAttribute", odataType: odataTypeFlowAttr, noun: "a user flow attribute",
	fields: []bodyField[directory.FlowAttributeRef]{
		{name: "id", decode: func(raw json.RawMessage, in *directory.FlowAttributeRef) error { return decodeString(raw, &in.ID) }},
		{name: "userFlowAttributeType", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowAttributeRef) error {
			return optionalString(raw, &in.UserFlowAttributeType)
		}},
		{name: "dataType", nullable: true, decode: func(raw json.RawMessage, in *directory.FlowAttributeRef) error {
			return optionalString(raw, &in.DataType)
		}},
		// Descriptions of the attribute itself, which the tenant's
		// attribute defines; graphdir answers with its own.
		{name: "displayName", nullable: true, decode: func(raw json.RawMessage, _ *directory.FlowAttributeRef) error {
			var s string
			return json.Unmarshal(raw, &s)
		}},
		{name: "description", nullable: true, decode: func(raw json.RawMessage, _ *directory.FlowAttributeRef) error {
			var s string
			return json.Unmarshal(raw, &s)
		}},
	},
}

type flowCollectionInput struct {
	attrs *[]directory.FlowAttributeRef
	views *[]directory.FlowView
}

var flowCollectionTable = bodyTable[flowCollectionInput]{
	resource: "microsoft.graph.onAttributeCollectionExternalUsersSelfServiceSignUp", odataType: odataTypeCollection, noun: "onAttributeCollection",
	fields: []bodyField[flowCollectionInput]{
		{name: "attributes", decode: func(raw json.RawMessage, in *flowCollectionInput) error {
			list, err := decodeArray(raw, &flowAttributeTable, 1000)
			if err != nil {
				return err
			}
			in.attrs = &list
			return nil
		}},
		{name: "attributeCollectionPage", decode: func(raw json.RawMessage, in *flowCollectionInput) error {
			v, err := decodeObject(raw, &flowPageTable)
			if err != nil {
				return err
			}
			if v.views == nil {
				empty := []directory.FlowView{}
				v.views = &empty
			}
			in.views = v.views
			return nil
		}},
		{name: "accessPackages", nullable: true, invalid: "Property 'accessPackages' is not supported by graphdir; only an empty list is accepted.",
			decode: func(raw json.RawMessage, _ *flowCollectionInput) error {
				var list []json.RawMessage
				if err := json.Unmarshal(raw, &list); err != nil || len(list) > 0 {
					return errInvalidValue
				}
				return nil
			}},
	},
}

type flowUserCreateInput struct{}

var flowUserCreateTable = bodyTable[flowUserCreateInput]{
	resource: "microsoft.graph.onUserCreateStartExternalUsersSelfServiceSignUp", odataType: odataTypeUserCreate, noun: "onUserCreateStart",
	fields: []bodyField[flowUserCreateInput]{
		{name: "userTypeToCreate", invalid: "Property 'userTypeToCreate' must be 'member': graphdir creates members only.",
			decode: func(raw json.RawMessage, _ *flowUserCreateInput) error {
				var s string
				if err := json.Unmarshal(raw, &s); err != nil || s != "member" {
					return errInvalidValue
				}
				return nil
			}},
	},
}

// flowTable is the property table of a flow body (without '@odata.type',
// which flowBodyInput checks).
var flowTable = bodyTable[directory.UserFlowInput]{
	resource: "microsoft.graph.externalUsersSelfServiceSignUpEventsFlow", noun: "a user flow",
	fields: slices.Concat([]bodyField[directory.UserFlowInput]{
		{name: "displayName", decode: func(raw json.RawMessage, in *directory.UserFlowInput) error {
			return optionalString(raw, &in.DisplayName)
		}},
		{name: "description", nullable: true, decode: func(raw json.RawMessage, in *directory.UserFlowInput) error {
			return optionalString(raw, &in.Description)
		}},
		{name: "priority", decode: func(raw json.RawMessage, in *directory.UserFlowInput) error {
			var n int
			if err := json.Unmarshal(raw, &n); err != nil {
				return err
			}
			in.Priority = &n
			return nil
		}},
		{name: "conditions", decode: func(raw json.RawMessage, in *directory.UserFlowInput) error {
			v, err := decodeObject(raw, &flowCondsTable)
			in.AppIDs = v.apps
			return err
		}},
		{name: "onAuthenticationMethodLoadStart", decode: func(raw json.RawMessage, in *directory.UserFlowInput) error {
			v, err := decodeObject(raw, &flowMethodsTable)
			if err == nil && v.ids == nil {
				empty := []string{}
				v.ids = &empty
			}
			in.IdentityProviders = v.ids
			return err
		}},
		{name: "onInteractiveAuthFlowStart", decode: func(raw json.RawMessage, in *directory.UserFlowInput) error {
			v, err := decodeObject(raw, &flowSignUpTable)
			if err == nil && v.allowed == nil {
				return directory.Errorf(directory.KindInvalid, "Property 'isSignUpAllowed' is required.").WithTarget("isSignUpAllowed")
			}
			in.SignUpAllowed = v.allowed
			return err
		}},
		{name: "onAttributeCollection", decode: func(raw json.RawMessage, in *directory.UserFlowInput) error {
			v, err := decodeObject(raw, &flowCollectionTable)
			if err == nil && v.attrs == nil && v.views == nil {
				return directory.Errorf(directory.KindInvalid, "Property 'onAttributeCollection' needs 'attributes' or 'attributeCollectionPage'.").WithTarget("onAttributeCollection")
			}
			in.Attributes, in.Pages = v.attrs, v.views
			return err
		}},
		{name: "onUserCreateStart", nullable: true, decode: func(raw json.RawMessage, _ *directory.UserFlowInput) error {
			_, err := decodeObject(raw, &flowUserCreateTable)
			return err
		}},
		{name: graphdirMfaProperty, decode: func(raw json.RawMessage, in *directory.UserFlowInput) error { return decodeBool(raw, &in.MFARequired) }},
		requireNull[directory.UserFlowInput]("onAttributeCollectionStart"),
		requireNull[directory.UserFlowInput]("onAttributeCollectionSubmit"),
	}, readOnlyFields[directory.UserFlowInput]("id")),
}
