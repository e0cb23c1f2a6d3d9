package directory

import (
	"context"
	"time"
)

// User flows: Graph's identity/authenticationEventsFlows, the one type
// External ID lets a tenant create (externalUsersSelfServiceSignUpEventsFlow),
// in the subset graphdir's sign-in core acts on: the sign-in methods,
// whether sign-up is open, the attributes sign-up collects, the
// applications the flow applies to, and (graphdir's own) whether MFA is
// required. The Graph-facing CRUD is in userflows_service.go; the sign-in
// core reads the effective flow of an application with UserFlowForApp.

// The built-in identity providers a flow may offer (Graph's
// builtInIdentityProvider ids for local accounts).
const (
	// IdentityProviderEmailPassword is "Email with password".
	IdentityProviderEmailPassword = "EmailPassword-OAUTH"
	// IdentityProviderEmailOTP is "Email one-time passcode".
	IdentityProviderEmailOTP = "EmailOtpSignup-OAUTH"
)

// Limits on a flow's content. Graph documents none; these keep one flow
// a small, bounded row.
const (
	maxFlowDisplayName  = 256
	maxFlowDescription  = 1024
	maxFlowViews        = 10
	maxFlowInputs       = 50
	maxFlowOptions      = 50
	maxFlowLabel        = 256
	maxFlowRegex        = 512
	maxFlowApplications = 50
	// DefaultFlowPriority is Graph's default priority.
	DefaultFlowPriority = 500
)

// Input types of an attribute collection input
// (authenticationAttributeCollectionInputType).
var flowInputTypes = []string{"text", "radioSingleSelect", "checkboxMultiSelect", "boolean", "checkboxSingleSelect"}

// UserFlowDefinition is a stored user flow, as Graph manages it.
type UserFlowDefinition struct {
	TenantID    string
	ID          string
	DisplayName string
	Description *string
	Priority    int
	// IdentityProviders are the sign-in methods, IdentityProviderEmailPassword
	// and/or IdentityProviderEmailOTP, in the order given.
	IdentityProviders []string
	SignUpAllowed     bool
	MFARequired       bool
	// Pages is attributeCollectionPage.views; nil when the flow has no
	// onAttributeCollection configuration.
	Pages []FlowView
	// AppIDs are the client ids of the applications the flow applies to
	// (conditions.applications.includeApplications), oldest link first.
	AppIDs    []string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Attributes describe the collected attributes as Graph's
	// onAttributeCollection.attributes; filled on read, never stored.
	Attributes []FlowAttributeInfo
}

// FlowView is one page of the attribute collection screen
// (authenticationAttributeCollectionPageViewConfiguration).
type FlowView struct {
	Title       *string          `json:"title,omitempty"`
	Description *string          `json:"description,omitempty"`
	Inputs      []FlowInputField `json:"inputs"`
}

// FlowInputField is one attribute the sign-up screen collects
// (authenticationAttributeCollectionInputConfiguration). Attribute is the
// canonical attribute id: a built-in one (email, displayName, city, ...)
// or a directory extension property name.
type FlowInputField struct {
	Attribute        string             `json:"attribute"`
	Label            string             `json:"label"`
	InputType        string             `json:"inputType"`
	DefaultValue     *string            `json:"defaultValue,omitempty"`
	Hidden           bool               `json:"hidden"`
	Editable         bool               `json:"editable"`
	WriteToDirectory bool               `json:"writeToDirectory"`
	Required         bool               `json:"required"`
	ValidationRegEx  *string            `json:"validationRegEx,omitempty"`
	Options          []FlowOptionConfig `json:"options,omitempty"`
}

// FlowOptionConfig is one choice of a select input
// (authenticationAttributeCollectionOptionConfiguration).
type FlowOptionConfig struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Inputs returns the inputs of every page, in page order.
func (d *UserFlowDefinition) Inputs() []FlowInputField {
	var out []FlowInputField
	for _, v := range d.Pages {
		out = append(out, v.Inputs...)
	}
	return out
}

// UserFlowInput is a create or update body after decoding: nil fields are
// absent. A create needs DisplayName and IdentityProviders.
type UserFlowInput struct {
	DisplayName *string
	// Description "" clears it.
	Description       *string
	Priority          *int
	IdentityProviders *[]string
	SignUpAllowed     *bool
	MFARequired       *bool
	// Attributes are the ids of onAttributeCollection.attributes, when
	// given; AttributeTypes their userFlowAttributeType and dataType when
	// the body stated them (checked against the catalogue).
	Attributes *[]FlowAttributeRef
	// Pages is onAttributeCollection.attributeCollectionPage.views, when given.
	Pages *[]FlowView
	// AppIDs is conditions.applications.includeApplications, when given.
	AppIDs *[]string
}

// FlowAttributeRef is one identityUserFlowAttribute a body names.
type FlowAttributeRef struct {
	ID                    string
	UserFlowAttributeType *string
	DataType              *string
}

// UserFlowStore persists user flows. Every method is scoped to one tenant.
// Audited writes store their event in the write's transaction.
type UserFlowStore interface {
	// CreateUserFlow inserts f with its application links. KindConflict
	// when the display name is taken (Target "displayName") or an
	// application already belongs to a flow (Target "includeApplications");
	// KindInvalid (Target "includeApplications") when an appId is not an
	// application of the tenant.
	CreateUserFlow(ctx context.Context, f *UserFlowDefinition, audit *AuditEvent) error
	// GetUserFlow returns one flow. KindNotFound.
	GetUserFlow(ctx context.Context, tenantID, id string) (*UserFlowDefinition, error)
	// ListUserFlows returns the tenant's flows, oldest first.
	ListUserFlows(ctx context.Context, tenantID string) ([]*UserFlowDefinition, error)
	// UpdateUserFlow replaces the stored flow f.ID by f (its AppIDs
	// included) if it was last updated at ifUpdatedAt: a read-modify-write
	// never overwrites a concurrent one. KindPreconditionFailed when it has
	// changed since, KindNotFound and the kinds of CreateUserFlow.
	UpdateUserFlow(ctx context.Context, f *UserFlowDefinition, ifUpdatedAt time.Time, audit *AuditEvent) error
	// DeleteUserFlow removes a flow and its links. KindNotFound.
	DeleteUserFlow(ctx context.Context, tenantID, id string, audit *AuditEvent) error
	// AddUserFlowApplication links appID to the flow. KindNotFound (no
	// such flow) and the application kinds of CreateUserFlow.
	AddUserFlowApplication(ctx context.Context, tenantID, flowID, appID string, audit *AuditEvent) error
	// RemoveUserFlowApplication unlinks appID from the flow. KindNotFound
	// when the flow does not exist or does not include appID.
	RemoveUserFlowApplication(ctx context.Context, tenantID, flowID, appID string, audit *AuditEvent) error
	// UserFlowOfApp returns the flow appID belongs to; KindNotFound when
	// it belongs to none.
	UserFlowOfApp(ctx context.Context, tenantID, appID string) (*UserFlowDefinition, error)
}

// ----- the sign-in core's view

// UserFlow is the effective flow of one application: what the sign-in core
// (native authentication, hosted pages) offers and asks for. It is a plain
// value with no Graph shape.
type UserFlow struct {
	// ID is the flow's id; "" for the default flow (Default true).
	ID      string
	Default bool
	// AllowPasswords offers email with password (EmailPassword-OAUTH).
	AllowPasswords bool
	// AllowEmailOTP offers email with a one-time passcode
	// (EmailOtpSignup-OAUTH).
	AllowEmailOTP bool
	// SignUpAllowed opens self-service sign-up (isSignUpAllowed).
	SignUpAllowed bool
	// Attributes are what sign-up collects, in screen order. The email
	// address is the username: always collected, verified, and never in
	// this list.
	Attributes []FlowAttribute
	// MFARequired asks every sign-in for a second factor, an email
	// one-time code (graphdir's graphdirMfaRequired).
	MFARequired bool
}

// FlowAttribute is one attribute sign-up collects.
type FlowAttribute struct {
	// Name is the attribute id as Graph names it: displayName, city,
	// extension_{appId without dashes}_{name}, ... (native authentication's
	// attribute name).
	Name string
	// UserProperty is the graphdir user property the value is written to
	// (same as Name except where the built-in attribute maps elsewhere).
	UserProperty string
	// BuiltIn is false for directory extension properties.
	BuiltIn bool
	// DataType is identityUserFlowAttribute's: string, boolean, int64, dateTime.
	DataType string
	// Extension is the definition of an extension attribute (nil for a
	// built-in one).
	Extension *ExtensionProperty
	Label     string
	// InputType is text, radioSingleSelect, checkboxMultiSelect, boolean or
	// checkboxSingleSelect.
	InputType    string
	Required     bool
	Hidden       bool
	Editable     bool
	DefaultValue string
	// ValidationRegEx is the pattern a value must match ("" for none).
	ValidationRegEx string
	Options         []FlowOptionConfig
}

// DefaultUserFlow is the flow of an application no flow includes (and of
// a tenant with no flows): email with password, sign-up open, displayName
// collected and required (a graphdir user needs a displayName, as Graph's
// does), no MFA.
func DefaultUserFlow() UserFlow {
	dn := builtInFlowAttributes[1]
	return UserFlow{
		Default: true, AllowPasswords: true, SignUpAllowed: true,
		Attributes: []FlowAttribute{{
			Name: dn.ID, UserProperty: dn.UserProperty, BuiltIn: true, DataType: dn.DataType,
			Label: dn.DisplayName, InputType: "text", Required: true, Editable: true,
		}},
	}
}

// builtInFlowAttribute is one of External ID's built-in user flow
// attributes and the graphdir user property it writes.
type builtInFlowAttribute struct {
	ID, DisplayName, Description, DataType, UserProperty string
}

// builtInFlowAttributes are the built-in attributes graphdir supports, with
// External ID's names and descriptions. email is the sign-in name: it is
// stored as the user's emailAddress identity and mail.
var builtInFlowAttributes = []builtInFlowAttribute{
	{"email", "Email Address", "Email address of the user", "string", "mail"},
	{"displayName", "Display Name", "Display Name of the User.", "string", "displayName"},
	{"givenName", "Given Name", "The user's given name (also known as first name).", "string", "givenName"},
	{"surname", "Surname", "The user's surname (also known as family name or last name).", "string", "surname"},
	{"city", "City", "The city in which the user is located.", "string", "city"},
	{"country", "Country/Region", "The country/region in which the user is located.", "string", "country"},
	{"postalCode", "Postal Code", "The postal code of the user's address.", "string", "postalCode"},
	{"state", "State/Province", "The state or province in user's address.", "string", "state"},
	{"streetAddress", "Street Address", "The street address where the user is located.", "string", "streetAddress"},
	{"jobTitle", "Job Title", "The user's job title.", "string", "jobTitle"},
}

// lookupBuiltInFlowAttribute finds a built-in attribute by id, ignoring case.
func lookupBuiltInFlowAttribute(id string) (builtInFlowAttribute, bool) {
	for _, a := range builtInFlowAttributes {
		if equalFoldASCII(a.ID, id) {
			return a, true
		}
	}
	return builtInFlowAttribute{}, false
}

// FlowAttributeInfo describes an attribute a flow collects as Graph's
// identityUserFlowAttribute does.
type FlowAttributeInfo struct {
	ID, DisplayName, Description, UserFlowAttributeType, DataType string
}

// extensionFlowDataType maps an extension property's dataType to
// identityUserFlowAttribute's.
func extensionFlowDataType(d *ExtensionProperty) string {
	switch {
	case d.IsMultiValued:
		return "stringCollection"
	case d.DataType == ExtensionBoolean:
		return "boolean"
	case d.DataType == ExtensionInteger, d.DataType == ExtensionLargeInteger:
		return "int64"
	case d.DataType == ExtensionDateTime:
		return "dateTime"
	}
	return "string"
}
