package api

import (
	"strconv"

	"github.com/graphdir/graphdir/internal/directory"
)

// The JSON of a user flow in Graph's shape (the bodies are decoded by
// the tables in userflows_body.go).

// graphdirMfaProperty is graphdir's extension property of a flow: whether
// every sign-in through it needs a second factor (an email one-time code).
// Graph asks for MFA with a Conditional Access policy, which graphdir does
// not have; the flow is where the sign-in core reads everything else.
const graphdirMfaProperty = "graphdirMfaRequired"

func itoa(n int) string { return strconv.Itoa(n) }

type flowJSON struct {
	Type                            string          `json:"@odata.type"`
	ID                              string          `json:"id"`
	DisplayName                     string          `json:"displayName"`
	Description                     *string         `json:"description"`
	Priority                        int             `json:"priority"`
	Conditions                      flowConditions  `json:"conditions"`
	OnInteractiveAuthFlowStart      flowSignUp      `json:"onInteractiveAuthFlowStart"`
	OnAuthenticationMethodLoadStart flowMethods     `json:"onAuthenticationMethodLoadStart"`
	OnAttributeCollection           *flowCollection `json:"onAttributeCollection"`
	OnAttributeCollectionStart      *struct{}       `json:"onAttributeCollectionStart"`
	OnAttributeCollectionSubmit     *struct{}       `json:"onAttributeCollectionSubmit"`
	OnUserCreateStart               flowUserCreate  `json:"onUserCreateStart"`
	MFARequired                     bool            `json:"graphdirMfaRequired"`
}

type flowConditions struct {
	Applications flowConditionApps `json:"applications"`
}

type flowConditionApps struct {
	IncludeAllApplications bool          `json:"includeAllApplications"`
	IncludeApplications    []flowAppJSON `json:"includeApplications"`
}

type flowAppJSON struct {
	AppID string `json:"appId"`
}

type flowSignUp struct {
	Type            string `json:"@odata.type"`
	IsSignUpAllowed bool   `json:"isSignUpAllowed"`
}

type flowMethods struct {
	Type              string             `json:"@odata.type"`
	IdentityProviders []flowProviderJSON `json:"identityProviders"`
}

type flowProviderJSON struct {
	Type                 string  `json:"@odata.type"`
	ID                   string  `json:"id"`
	DisplayName          string  `json:"displayName"`
	IdentityProviderType string  `json:"identityProviderType"`
	State                *string `json:"state"`
}

type flowCollection struct {
	Type                    string              `json:"@odata.type"`
	AttributeCollectionPage flowPageJSON        `json:"attributeCollectionPage"`
	Attributes              []flowAttributeJSON `json:"attributes"`
}

type flowPageJSON struct {
	CustomStringsFileID *string        `json:"customStringsFileId"`
	Views               []flowViewJSON `json:"views"`
}

type flowViewJSON struct {
	Title       *string         `json:"title"`
	Description *string         `json:"description"`
	Inputs      []flowInputJSON `json:"inputs"`
}

type flowInputJSON struct {
	Attribute        string           `json:"attribute"`
	Label            string           `json:"label"`
	InputType        string           `json:"inputType"`
	DefaultValue     *string          `json:"defaultValue"`
	Hidden           bool             `json:"hidden"`
	Editable         bool             `json:"editable"`
	WriteToDirectory bool             `json:"writeToDirectory"`
	Required         bool             `json:"required"`
	ValidationRegEx  *string          `json:"validationRegEx"`
	Options          []flowOptionJSON `json:"options"`
}

type flowOptionJSON struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

type flowAttributeJSON struct {
	ID                    string  `json:"id"`
	DisplayName           string  `json:"displayName"`
	Description           *string `json:"description"`
	UserFlowAttributeType string  `json:"userFlowAttributeType"`
	DataType              string  `json:"dataType"`
}

type flowUserCreate struct {
	Type             string `json:"@odata.type"`
	UserTypeToCreate string `json:"userTypeToCreate"`
}

// The @odata.type values of a flow's handlers.
const (
	odataTypeSignUpStart  = "#microsoft.graph.onInteractiveAuthFlowStartExternalUsersSelfServiceSignUp"
	odataTypeMethods      = "#microsoft.graph.onAuthenticationMethodLoadStartExternalUsersSelfServiceSignUp"
	odataTypeCollection   = "#microsoft.graph.onAttributeCollectionExternalUsersSelfServiceSignUp"
	odataTypeUserCreate   = "#microsoft.graph.onUserCreateStartExternalUsersSelfServiceSignUp"
	odataTypeBuiltInIdP   = "#microsoft.graph.builtInIdentityProvider"
	odataTypeFlowApp      = "#microsoft.graph.authenticationConditionApplication"
	odataTypeFlowAttr     = "#microsoft.graph.identityUserFlowAttribute"
	odataTypeFlowPage     = "#microsoft.graph.authenticationAttributeCollectionPage"
	odataTypeFlowView     = "#microsoft.graph.authenticationAttributeCollectionPageViewConfiguration"
	odataTypeFlowInput    = "#microsoft.graph.authenticationAttributeCollectionInputConfiguration"
	odataTypeFlowOption   = "#microsoft.graph.authenticationAttributeCollectionOptionConfiguration"
	odataTypeFlowConds    = "#microsoft.graph.authenticationConditions"
	odataTypeFlowCondApps = "#microsoft.graph.authenticationConditionsApplications"
)

// identityProviderFacts are the builtInIdentityProvider properties of the
// providers graphdir offers.
var identityProviderFacts = map[string][2]string{
	directory.IdentityProviderEmailPassword: {"Email with password", "EmailPassword"},
	directory.IdentityProviderEmailOTP:      {"Email one-time passcode", "EmailOTP"},
}

func toFlowApps(apps []string) []flowAppJSON {
	out := make([]flowAppJSON, len(apps))
	for i, a := range apps {
		out[i] = flowAppJSON{AppID: a}
	}
	return out
}

func toFlowJSON(f *directory.UserFlowDefinition) flowJSON {
	out := flowJSON{
		Type: odataTypeFlow, ID: f.ID, DisplayName: f.DisplayName, Description: f.Description, Priority: f.Priority,
		Conditions:                      flowConditions{Applications: flowConditionApps{IncludeApplications: toFlowApps(f.AppIDs)}},
		OnInteractiveAuthFlowStart:      flowSignUp{Type: odataTypeSignUpStart, IsSignUpAllowed: f.SignUpAllowed},
		OnAuthenticationMethodLoadStart: flowMethods{Type: odataTypeMethods, IdentityProviders: []flowProviderJSON{}},
		OnUserCreateStart:               flowUserCreate{Type: odataTypeUserCreate, UserTypeToCreate: "member"},
		MFARequired:                     f.MFARequired,
	}
	for _, id := range f.IdentityProviders {
		facts := identityProviderFacts[id]
		out.OnAuthenticationMethodLoadStart.IdentityProviders = append(out.OnAuthenticationMethodLoadStart.IdentityProviders,
			flowProviderJSON{Type: odataTypeBuiltInIdP, ID: id, DisplayName: facts[0], IdentityProviderType: facts[1]})
	}
	if f.Pages != nil {
		col := &flowCollection{Type: odataTypeCollection,
			AttributeCollectionPage: flowPageJSON{Views: []flowViewJSON{}}, Attributes: []flowAttributeJSON{}}
		for _, v := range f.Pages {
			vj := flowViewJSON{Title: v.Title, Description: v.Description, Inputs: []flowInputJSON{}}
			for _, i := range v.Inputs {
				ij := flowInputJSON{Attribute: i.Attribute, Label: i.Label, InputType: i.InputType, DefaultValue: i.DefaultValue,
					Hidden: i.Hidden, Editable: i.Editable, WriteToDirectory: i.WriteToDirectory, Required: i.Required,
					ValidationRegEx: i.ValidationRegEx, Options: []flowOptionJSON{}}
				for _, o := range i.Options {
					ij.Options = append(ij.Options, flowOptionJSON(o))
				}
				vj.Inputs = append(vj.Inputs, ij)
			}
			col.AttributeCollectionPage.Views = append(col.AttributeCollectionPage.Views, vj)
		}
		for _, a := range f.Attributes {
			aj := flowAttributeJSON{ID: a.ID, DisplayName: a.DisplayName, UserFlowAttributeType: a.UserFlowAttributeType, DataType: a.DataType}
			if a.Description != "" {
				d := a.Description
				aj.Description = &d
			}
			col.Attributes = append(col.Attributes, aj)
		}
		out.OnAttributeCollection = col
	}
	return out
}
