package api

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// The OData service description: GET /v1.0/$metadata (CSDL XML, OData 4.0)
// and GET /v1.0/ (the JSON service document). Every @odata.context graphdir
// writes points into this document, and generic OData tools (Excel and
// Power BI feeds, odata2ts, SAP's generator, .NET's OData client) build
// their model from it. It declares only what graphdir serves, in Graph's
// namespace and spelling, so a client generated from it works against
// Graph too. The user type comes from directory's property table and the
// Capabilities annotations from the store's query allow-list
// (Options.QueryCapabilities), so neither can drift from the behaviour.
// Both documents are public, as Graph serves $metadata without a token.

const (
	metadataPath        = apiPrefix + "/$metadata"
	serviceDocumentPath = apiPrefix + "/"
	graphNamespace      = "microsoft.graph"
	graphContainer      = "GraphService"
	capabilitiesNS      = "Org.OData.Capabilities.V1"
	capabilitiesURI     = "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml"
)

// publicAPIPath reports whether a /v1.0 path is served without
// authentication: the two service documents, nothing else.
func publicAPIPath(path string) bool {
	return path == metadataPath || path == serviceDocumentPath
}

// csdlProperty is a structural property or an operation's parameter;
// nonNull marks Nullable="false".
type csdlProperty struct {
	name, typ string
	nonNull   bool
}

// csdlNav is a navigation property; contains marks ContainsTarget="true"
// (Graph's contained collections such as directory/deletedItems).
type csdlNav struct {
	name, typ string
	contains  bool
}

// csdlType is an entity or complex type.
type csdlType struct {
	name, base  string
	entity      bool
	abstract    bool
	open        bool
	key         string
	props       []csdlProperty
	navs        []csdlNav
	enumMembers []string // an EnumType when set
}

// csdlOperation is a bound function or action.
type csdlOperation struct {
	name       string
	function   bool // Function (composable GET) rather than Action (POST)
	binding    string
	params     []csdlProperty // the parameters after the binding one
	returnType string
}

// csdlSet is an entity set or a singleton of the entity container.
type csdlSet struct {
	name, typ string
	singleton bool
}

func csdlStr(name string) csdlProperty  { return csdlProperty{name: name, typ: "Edm.String"} }
func csdlBool(name string) csdlProperty { return csdlProperty{name: name, typ: "Edm.Boolean"} }
func csdlDateTime(name string) csdlProperty {
	return csdlProperty{name: name, typ: "Edm.DateTimeOffset"}
}
func csdlStrings(name string) csdlProperty {
	return csdlProperty{name: name, typ: "Collection(Edm.String)", nonNull: true}
}
func csdlColl(name, typ string) csdlProperty {
	return csdlProperty{name: name, typ: "Collection(" + typ + ")", nonNull: true}
}

// userCSDLProperties declares user's own properties from directory's table.
// id and deletedDateTime come from entity and directoryObject; directory
// extension properties (extension_{appId}_{name}) are dynamic properties
// of the open directoryObject type, as Graph declares them.
func userCSDLProperties() []csdlProperty {
	var out []csdlProperty
	for _, p := range directory.UserProperties() {
		if p.Name == "id" || p.Name == "deletedDateTime" || p.Type == directory.TypeExtension {
			continue
		}
		t := p.Type.String()
		t = strings.ReplaceAll(t, graphNamespace+".", "graph.")
		out = append(out, csdlProperty{name: p.Name, typ: t, nonNull: strings.HasPrefix(t, "Collection(")})
	}
	return out
}

// csdlTypes lists every type graphdir's responses use.
func csdlTypes() []csdlType {
	return []csdlType{
		{name: "entity", entity: true, abstract: true, key: "id", props: []csdlProperty{{name: "id", typ: "Edm.String", nonNull: true}}},
		{name: "directoryObject", base: "graph.entity", entity: true, open: true, props: []csdlProperty{csdlDateTime("deletedDateTime")}},
		{name: "user", base: "graph.directoryObject", entity: true, open: true, props: userCSDLProperties()},
		{name: "objectIdentity", props: []csdlProperty{csdlStr("issuer"), csdlStr("issuerAssignedId"), csdlStr("signInType")}},
		{name: "passwordProfile", props: []csdlProperty{csdlBool("forceChangePasswordNextSignIn"), csdlBool("forceChangePasswordNextSignInWithMfa"), csdlStr("password")}},

		{name: "application", base: "graph.directoryObject", entity: true, open: true,
			props: []csdlProperty{
				csdlStr("appId"), csdlDateTime("createdDateTime"), csdlStr("displayName"), csdlStr("signInAudience"),
				csdlColl("keyCredentials", "graph.keyCredential"), csdlColl("passwordCredentials", "graph.passwordCredential"),
				// What users sign in to the application with (appsignin.go).
				csdlBool("isFallbackPublicClient"), {name: "nativeAuthenticationApisEnabled", typ: "graph.nativeAuthenticationApisEnabled"},
				{name: "publicClient", typ: "graph.publicClientApplication"}, csdlColl("requiredResourceAccess", "graph.requiredResourceAccess"),
				{name: "spa", typ: "graph.spaApplication"}, {name: "web", typ: "graph.webApplication"},
				// graphdir's own: the application permissions granted to
				// the application's client-credentials tokens.
				csdlStrings("graphdirPermissions"),
				// graphdir's own: false lets a confidential web app use
				// the authorization code flow without PKCE (appsignin.go).
				{name: "graphdirPkceRequired", typ: "Edm.Boolean", nonNull: true},
			},
			navs: []csdlNav{{name: "extensionProperties", typ: "Collection(graph.extensionProperty)", contains: true}}},
		{name: "publicClientApplication", props: []csdlProperty{csdlStrings("redirectUris")}},
		{name: "spaApplication", props: []csdlProperty{csdlStrings("redirectUris")}},
		{name: "webApplication", props: []csdlProperty{csdlStr("homePageUrl"), {name: "implicitGrantSettings", typ: "graph.implicitGrantSettings"},
			csdlStr("logoutUrl"), csdlStrings("redirectUris"), csdlColl("redirectUriSettings", "graph.redirectUriSettings")}},
		{name: "implicitGrantSettings", props: []csdlProperty{csdlBool("enableAccessTokenIssuance"), csdlBool("enableIdTokenIssuance")}},
		{name: "redirectUriSettings", props: []csdlProperty{{name: "index", typ: "Edm.Int32"}, csdlStr("uri")}},
		{name: "requiredResourceAccess", props: []csdlProperty{
			{name: "resourceAccess", typ: "Collection(graph.resourceAccess)", nonNull: true}, {name: "resourceAppId", typ: "Edm.String", nonNull: true}}},
		{name: "resourceAccess", props: []csdlProperty{{name: "id", typ: "Edm.Guid", nonNull: true}, csdlStr("type")}},
		{name: "nativeAuthenticationApisEnabled", enumMembers: []string{"none", "all", "unknownFutureValue"}},
		{name: "keyCredential", props: []csdlProperty{
			{name: "customKeyIdentifier", typ: "Edm.Binary"}, csdlStr("displayName"), csdlDateTime("endDateTime"),
			{name: "key", typ: "Edm.Binary"}, {name: "keyId", typ: "Edm.Guid"}, csdlDateTime("startDateTime"), csdlStr("type"), csdlStr("usage")}},
		{name: "passwordCredential", props: []csdlProperty{
			{name: "customKeyIdentifier", typ: "Edm.Binary"}, csdlStr("displayName"), csdlDateTime("endDateTime"), csdlStr("hint"),
			{name: "keyId", typ: "Edm.Guid"}, csdlStr("secretText"), csdlDateTime("startDateTime")}},
		{name: "extensionProperty", base: "graph.directoryObject", entity: true, props: []csdlProperty{
			csdlStr("appDisplayName"), {name: "dataType", typ: "Edm.String", nonNull: true},
			{name: "isMultiValued", typ: "Edm.Boolean", nonNull: true}, csdlBool("isSyncedFromOnPremises"),
			{name: "name", typ: "Edm.String", nonNull: true}, csdlStrings("targetObjects")}},

		{name: "directory", base: "graph.entity", entity: true,
			navs: []csdlNav{{name: "deletedItems", typ: "Collection(graph.directoryObject)", contains: true}}},

		{name: "auditLogRoot", base: "graph.entity", entity: true,
			navs: []csdlNav{{name: "directoryAudits", typ: "Collection(graph.directoryAudit)", contains: true},
				{name: "signIns", typ: "Collection(graph.signIn)", contains: true}}},
		{name: "directoryAudit", base: "graph.entity", entity: true, props: []csdlProperty{
			{name: "activityDateTime", typ: "Edm.DateTimeOffset", nonNull: true}, csdlStr("activityDisplayName"),
			csdlColl("additionalDetails", "graph.keyValue"), csdlStr("category"), csdlStr("correlationId"),
			{name: "initiatedBy", typ: "graph.auditActivityInitiator", nonNull: true}, csdlStr("loggedByService"), csdlStr("operationType"),
			{name: "result", typ: "graph.operationResult"}, csdlStr("resultReason"), csdlColl("targetResources", "graph.targetResource")}},
		{name: "operationResult", enumMembers: []string{"success", "failure", "timeout", "unknownFutureValue"}},
		{name: "auditActivityInitiator", props: []csdlProperty{{name: "app", typ: "graph.appIdentity"}, {name: "user", typ: "graph.userIdentity"}}},
		{name: "identity", props: []csdlProperty{csdlStr("displayName"), csdlStr("id")}},
		{name: "userIdentity", base: "graph.identity", props: []csdlProperty{csdlStr("ipAddress"), csdlStr("userPrincipalName")}},
		{name: "appIdentity", props: []csdlProperty{csdlStr("appId"), csdlStr("displayName"), csdlStr("servicePrincipalId"), csdlStr("servicePrincipalName")}},
		{name: "targetResource", props: []csdlProperty{csdlStr("displayName"), {name: "groupType", typ: "graph.groupType"}, csdlStr("id"),
			csdlColl("modifiedProperties", "graph.modifiedProperty"), csdlStr("type"), csdlStr("userPrincipalName")}},
		{name: "groupType", enumMembers: []string{"unifiedGroups", "azureAD", "unknownFutureValue"}},
		{name: "modifiedProperty", props: []csdlProperty{csdlStr("displayName"), csdlStr("newValue"), csdlStr("oldValue")}},
		{name: "keyValue", props: []csdlProperty{csdlStr("key"), csdlStr("value")}},
		{name: "signInActivity", props: []csdlProperty{csdlDateTime("lastNonInteractiveSignInDateTime"), csdlDateTime("lastSignInDateTime"),
			csdlDateTime("lastSuccessfulSignInDateTime")}},
		// signIn: the subset of Graph's properties graphdir records (signins.go).
		{name: "signIn", base: "graph.entity", entity: true, props: []csdlProperty{
			csdlStr("appDisplayName"), csdlStr("appId"), csdlStr("authenticationRequirement"), csdlStr("clientAppUsed"),
			{name: "conditionalAccessStatus", typ: "graph.conditionalAccessStatus"}, csdlStr("correlationId"),
			csdlDateTime("createdDateTime"), csdlStr("ipAddress"), csdlBool("isInteractive"),
			{name: "status", typ: "graph.signInStatus"}, csdlStr("userDisplayName"), csdlStr("userId"), csdlStr("userPrincipalName")}},
		{name: "signInStatus", props: []csdlProperty{csdlStr("additionalDetails"), {name: "errorCode", typ: "Edm.Int32"}, csdlStr("failureReason")}},
		{name: "conditionalAccessStatus", enumMembers: []string{"success", "failure", "notApplied", "unknownFutureValue"}},

		// Branding (branding.go): organization/{id}/branding and its
		// localizations, the subset graphdir serves. The organization
		// itself is declared only as the way to its branding; graphdir
		// serves no organization entity set.
		{name: "organization", base: "graph.directoryObject", entity: true,
			navs: []csdlNav{{name: "branding", typ: "graph.organizationalBranding", contains: true}}},
		{name: "organizationalBrandingProperties", base: "graph.entity", entity: true, abstract: true, props: []csdlProperty{
			csdlStr("backgroundColor"), {name: "bannerLogo", typ: "Edm.Stream"}, csdlStr("bannerLogoRelativeUrl"), csdlStrings("cdnList"),
			csdlStr("signInPageText"), {name: "squareLogo", typ: "Edm.Stream"}, csdlStr("squareLogoRelativeUrl"), csdlStr("usernameHintText")}},
		{name: "organizationalBranding", base: "graph.organizationalBrandingProperties", entity: true,
			navs: []csdlNav{{name: "localizations", typ: "Collection(graph.organizationalBrandingLocalization)", contains: true}}},
		{name: "organizationalBrandingLocalization", base: "graph.organizationalBrandingProperties", entity: true},

		// User flows (userflows.go): identity/authenticationEventsFlows and
		// the parts of externalUsersSelfServiceSignUpEventsFlow graphdir serves.
		{name: "identityContainer", base: "graph.entity", entity: true,
			navs: []csdlNav{{name: "authenticationEventsFlows", typ: "Collection(graph.authenticationEventsFlow)", contains: true}}},
		{name: "authenticationEventsFlow", base: "graph.entity", entity: true, abstract: true, props: []csdlProperty{
			{name: "conditions", typ: "graph.authenticationConditions"}, csdlStr("description"),
			{name: "displayName", typ: "Edm.String", nonNull: true}, {name: "priority", typ: "Edm.Int32", nonNull: true}}},
		{name: "externalUsersSelfServiceSignUpEventsFlow", base: "graph.authenticationEventsFlow", entity: true, props: []csdlProperty{
			{name: "onAttributeCollection", typ: "graph.onAttributeCollectionHandler"},
			{name: "onAttributeCollectionStart", typ: "graph.onAttributeCollectionStartHandler"},
			{name: "onAttributeCollectionSubmit", typ: "graph.onAttributeCollectionSubmitHandler"},
			{name: "onAuthenticationMethodLoadStart", typ: "graph.onAuthenticationMethodLoadStartHandler", nonNull: true},
			{name: "onInteractiveAuthFlowStart", typ: "graph.onInteractiveAuthFlowStartHandler", nonNull: true},
			{name: "onUserCreateStart", typ: "graph.onUserCreateStartHandler"},
			// graphdir's own: every sign-in through the flow needs a
			// second factor (Graph asks for MFA with Conditional Access).
			{name: "graphdirMfaRequired", typ: "Edm.Boolean", nonNull: true}}},
		{name: "authenticationConditions", props: []csdlProperty{{name: "applications", typ: "graph.authenticationConditionsApplications"}}},
		{name: "authenticationConditionsApplications", props: []csdlProperty{csdlBool("includeAllApplications")},
			navs: []csdlNav{{name: "includeApplications", typ: "Collection(graph.authenticationConditionApplication)", contains: true}}},
		{name: "authenticationConditionApplication", entity: true, key: "appId", props: []csdlProperty{{name: "appId", typ: "Edm.String", nonNull: true}}},
		{name: "onInteractiveAuthFlowStartHandler", abstract: true},
		{name: "onInteractiveAuthFlowStartExternalUsersSelfServiceSignUp", base: "graph.onInteractiveAuthFlowStartHandler", props: []csdlProperty{csdlBool("isSignUpAllowed")}},
		{name: "onAuthenticationMethodLoadStartHandler", abstract: true},
		{name: "onAuthenticationMethodLoadStartExternalUsersSelfServiceSignUp", base: "graph.onAuthenticationMethodLoadStartHandler",
			navs: []csdlNav{{name: "identityProviders", typ: "Collection(graph.identityProviderBase)"}}},
		{name: "identityProviderBase", base: "graph.entity", entity: true, props: []csdlProperty{csdlStr("displayName")}},
		{name: "builtInIdentityProvider", base: "graph.identityProviderBase", entity: true, props: []csdlProperty{
			csdlStr("identityProviderType"), {name: "state", typ: "graph.identityProviderState"}}},
		{name: "identityProviderState", enumMembers: []string{"enabled", "disabled", "unknownFutureValue"}},
		{name: "onAttributeCollectionHandler", abstract: true},
		{name: "onAttributeCollectionExternalUsersSelfServiceSignUp", base: "graph.onAttributeCollectionHandler",
			props: []csdlProperty{{name: "attributeCollectionPage", typ: "graph.authenticationAttributeCollectionPage"}},
			navs:  []csdlNav{{name: "attributes", typ: "Collection(graph.identityUserFlowAttribute)"}}},
		{name: "onAttributeCollectionStartHandler", abstract: true},
		{name: "onAttributeCollectionSubmitHandler", abstract: true},
		{name: "authenticationAttributeCollectionPage", props: []csdlProperty{csdlStr("customStringsFileId"),
			csdlColl("views", "graph.authenticationAttributeCollectionPageViewConfiguration")}},
		{name: "authenticationAttributeCollectionPageViewConfiguration", props: []csdlProperty{csdlStr("description"),
			csdlColl("inputs", "graph.authenticationAttributeCollectionInputConfiguration"), csdlStr("title")}},
		{name: "authenticationAttributeCollectionInputConfiguration", props: []csdlProperty{
			{name: "attribute", typ: "Edm.String", nonNull: true}, csdlStr("defaultValue"), csdlBool("editable"), csdlBool("hidden"),
			{name: "inputType", typ: "graph.authenticationAttributeCollectionInputType"}, {name: "label", typ: "Edm.String", nonNull: true},
			csdlColl("options", "graph.authenticationAttributeCollectionOptionConfiguration"), csdlBool("required"),
			csdlStr("validationRegEx"), csdlBool("writeToDirectory")}},
		{name: "authenticationAttributeCollectionInputType", enumMembers: []string{"text", "radioSingleSelect", "checkboxMultiSelect", "boolean", "unknownFutureValue", "checkboxSingleSelect"}},
		{name: "authenticationAttributeCollectionOptionConfiguration", props: []csdlProperty{
			{name: "label", typ: "Edm.String", nonNull: true}, {name: "value", typ: "Edm.String", nonNull: true}}},
		{name: "identityUserFlowAttribute", base: "graph.entity", entity: true, props: []csdlProperty{
			{name: "dataType", typ: "graph.identityUserFlowAttributeDataType", nonNull: true}, csdlStr("description"), csdlStr("displayName"),
			{name: "userFlowAttributeType", typ: "graph.identityUserFlowAttributeType", nonNull: true}}},
		{name: "identityUserFlowAttributeDataType", enumMembers: []string{"string", "boolean", "int64", "stringCollection", "dateTime", "unknownFutureValue"}},
		{name: "identityUserFlowAttributeType", enumMembers: []string{"builtIn", "custom", "required", "unknownFutureValue"}},
		{name: "onUserCreateStartHandler", abstract: true},
		{name: "onUserCreateStartExternalUsersSelfServiceSignUp", base: "graph.onUserCreateStartHandler", props: []csdlProperty{
			{name: "userTypeToCreate", typ: "graph.userType"}}},
		{name: "userType", enumMembers: []string{"member", "guest", "unknownFutureValue"}},

		// Delegated permission grants (permissiongrants.go).
		{name: "oAuth2PermissionGrant", base: "graph.entity", entity: true, props: []csdlProperty{
			csdlStr("clientId"), csdlStr("consentType"), csdlStr("principalId"), csdlStr("resourceId"), csdlStr("scope")}},

		{name: "roleManagement", base: "graph.entity", entity: true,
			navs: []csdlNav{{name: "directory", typ: "graph.rbacApplication", contains: true}}},
		{name: "rbacApplication", base: "graph.entity", entity: true, navs: []csdlNav{
			{name: "roleAssignments", typ: "Collection(graph.unifiedRoleAssignment)", contains: true},
			{name: "roleDefinitions", typ: "Collection(graph.unifiedRoleDefinition)", contains: true}}},
		{name: "unifiedRoleDefinition", base: "graph.entity", entity: true, props: []csdlProperty{
			csdlStr("description"), csdlStr("displayName"), csdlBool("isBuiltIn"), csdlBool("isEnabled"), csdlStrings("resourceScopes"),
			csdlColl("rolePermissions", "graph.unifiedRolePermission"), csdlStr("templateId"), csdlStr("version")}},
		{name: "unifiedRolePermission", props: []csdlProperty{csdlStrings("allowedResourceActions"), csdlStr("condition")}},
		{name: "unifiedRoleAssignment", base: "graph.entity", entity: true,
			props: []csdlProperty{csdlStr("appScopeId"), csdlStr("condition"), csdlStr("directoryScopeId"), csdlStr("principalId"), csdlStr("roleDefinitionId")},
			navs:  []csdlNav{{name: "principal", typ: "graph.directoryObject"}, {name: "roleDefinition", typ: "graph.unifiedRoleDefinition"}}},
	}
}

// csdlOperations lists the bound functions and actions graphdir serves.
func csdlOperations() []csdlOperation {
	return []csdlOperation{
		{name: "delta", function: true, binding: "Collection(graph.user)", returnType: "Collection(graph.user)"},
		{name: "restore", binding: "graph.directoryObject", returnType: "graph.directoryObject"},
		{name: "changePassword", binding: "graph.user", params: []csdlProperty{
			{name: "currentPassword", typ: "Edm.String"}, {name: "newPassword", typ: "Edm.String"}}},
		{name: "revokeSignInSessions", binding: "graph.user", returnType: "Edm.Boolean"},
		{name: "addPassword", binding: "graph.application", params: []csdlProperty{{name: "passwordCredential", typ: "graph.passwordCredential"}},
			returnType: "graph.passwordCredential"},
		{name: "removePassword", binding: "graph.application", params: []csdlProperty{{name: "keyId", typ: "Edm.Guid", nonNull: true}}},
	}
}

// csdlSets is the entity container: the URL roots graphdir serves.
func csdlSets() []csdlSet {
	return []csdlSet{
		{name: "users", typ: "graph.user"},
		{name: "applications", typ: "graph.application"},
		{name: "oauth2PermissionGrants", typ: "graph.oAuth2PermissionGrant"},
		{name: "me", typ: "graph.user", singleton: true},
		{name: "directory", typ: "graph.directory", singleton: true},
		{name: "auditLogs", typ: "graph.auditLogRoot", singleton: true},
		{name: "roleManagement", typ: "graph.roleManagement", singleton: true},
		{name: "identity", typ: "graph.identityContainer", singleton: true},
	}
}

// xmlWriter builds the document; attribute values are escaped.
type xmlWriter struct {
	bytes.Buffer
	depth int
}

func (w *xmlWriter) open(name string, attrs ...string)  { w.tag(name, false, attrs...); w.depth++ }
func (w *xmlWriter) empty(name string, attrs ...string) { w.tag(name, true, attrs...) }
func (w *xmlWriter) close(name string) {
	w.depth--
	w.indent()
	w.WriteString("</" + name + ">\n")
}

func (w *xmlWriter) indent() { w.WriteString(strings.Repeat("  ", w.depth)) }

func (w *xmlWriter) tag(name string, empty bool, attrs ...string) {
	w.indent()
	w.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.WriteString(" " + attrs[i] + `="`)
		_ = xml.EscapeText(w, []byte(attrs[i+1])) // writes to a bytes.Buffer: cannot fail
		w.WriteString(`"`)
	}
	if empty {
		w.WriteString("/>\n")
	} else {
		w.WriteString(">\n")
	}
}

// text writes one element with character content.
func (w *xmlWriter) text(name, content string) {
	w.indent()
	w.WriteString("<" + name + ">")
	_ = xml.EscapeText(w, []byte(content))
	w.WriteString("</" + name + ">\n")
}

// buildMetadata renders the CSDL document for caps (the zero value leaves
// the Capabilities annotations out).
func buildMetadata(caps directory.QueryCapabilities) []byte {
	w := &xmlWriter{}
	w.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	w.open("edmx:Edmx", "Version", "4.0", "xmlns:edmx", "http://docs.oasis-open.org/odata/ns/edmx")
	w.open("edmx:Reference", "Uri", capabilitiesURI)
	w.empty("edmx:Include", "Namespace", capabilitiesNS, "Alias", "Capabilities")
	w.close("edmx:Reference")
	w.open("edmx:DataServices")
	w.open("Schema", "Namespace", graphNamespace, "Alias", "graph", "xmlns", "http://docs.oasis-open.org/odata/ns/edm")
	for _, t := range csdlTypes() {
		writeType(w, t)
	}
	for _, op := range csdlOperations() {
		kind := "Action"
		attrs := []string{"Name", op.name, "IsBound", "true"}
		if op.function {
			kind = "Function"
			attrs = append(attrs, "IsComposable", "true")
		}
		w.open(kind, attrs...)
		w.empty("Parameter", "Name", "bindingParameter", "Type", op.binding)
		for _, p := range op.params {
			writeTyped(w, "Parameter", p.name, p.typ, p.nonNull)
		}
		if op.returnType != "" {
			w.empty("ReturnType", "Type", op.returnType)
		}
		w.close(kind)
	}
	w.open("EntityContainer", "Name", graphContainer)
	for _, s := range csdlSets() {
		if s.singleton {
			w.empty("Singleton", "Name", s.name, "Type", s.typ)
		} else {
			w.empty("EntitySet", "Name", s.name, "EntityType", s.typ)
		}
	}
	w.close("EntityContainer")
	var userNames []string
	for _, p := range directory.UserProperties() {
		if p.Type != directory.TypeExtension {
			userNames = append(userNames, p.Name)
		}
	}
	writeCapabilities(w, graphNamespace+"."+graphContainer+"/users", caps.Users, userNames, true)
	writeCapabilities(w, graphNamespace+"."+graphContainer+"/directory/deletedItems", caps.DeletedUsers, userNames, true)
	writeCapabilities(w, graphNamespace+"."+graphContainer+"/applications", caps.Applications, applicationProperties, true)
	w.close("Schema")
	w.close("edmx:DataServices")
	w.close("edmx:Edmx")
	return w.Bytes()
}

func writeType(w *xmlWriter, t csdlType) {
	if t.enumMembers != nil {
		w.open("EnumType", "Name", t.name)
		for i, m := range t.enumMembers {
			w.empty("Member", "Name", m, "Value", strconv.Itoa(i))
		}
		w.close("EnumType")
		return
	}
	kind := "ComplexType"
	attrs := []string{"Name", t.name}
	if t.entity {
		kind = "EntityType"
	}
	if t.base != "" {
		attrs = append(attrs, "BaseType", t.base)
	}
	if t.abstract {
		attrs = append(attrs, "Abstract", "true")
	}
	if t.open {
		attrs = append(attrs, "OpenType", "true")
	}
	if len(t.props) == 0 && len(t.navs) == 0 && t.key == "" {
		w.empty(kind, attrs...)
		return
	}
	w.open(kind, attrs...)
	if t.key != "" {
		w.open("Key")
		w.empty("PropertyRef", "Name", t.key)
		w.close("Key")
	}
	for _, p := range t.props {
		writeTyped(w, "Property", p.name, p.typ, p.nonNull)
	}
	for _, n := range t.navs {
		attrs := []string{"Name", n.name, "Type", n.typ}
		if n.contains {
			attrs = append(attrs, "ContainsTarget", "true")
		}
		w.empty("NavigationProperty", attrs...)
	}
	w.close(kind)
}

func writeTyped(w *xmlWriter, elem, name, typ string, nonNull bool) {
	attrs := []string{"Name", name, "Type", typ}
	if nonNull {
		attrs = append(attrs, "Nullable", "false")
	}
	w.empty(elem, attrs...)
}

// filterExpression maps a property's operators to the Capabilities
// vocabulary's FilterExpressionType, the closest of its fixed values.
func filterExpression(ops []string) string {
	has := func(op string) bool { return slices.Contains(ops, op) }
	switch {
	case has("startsWith") && has("gt"):
		return "MultiRangeOrSearchExpression"
	case has("startsWith"):
		return "SearchExpression"
	case has("gt"):
		return "MultiRange"
	}
	return "MultiValue"
}

// writeCapabilities annotates the collection at target with what the query
// engine filters, sorts, counts and searches. The non-filterable and
// non-sortable lists are the properties of names (the entity type's) the
// engine leaves out.
func writeCapabilities(w *xmlWriter, target string, caps []directory.QueryCapability, names []string, countable bool) {
	if len(caps) == 0 {
		return
	}
	byName := map[string]directory.QueryCapability{}
	for _, c := range caps {
		byName[c.Property] = c
	}
	var nonFilterable, nonSortable []string
	searchable := false
	for _, name := range names {
		c, ok := byName[name]
		if !ok || len(c.Operators) == 0 {
			nonFilterable = append(nonFilterable, name)
		}
		if !ok || !c.Sortable {
			nonSortable = append(nonSortable, name)
		}
		searchable = searchable || c.Searchable
	}
	term := func(name string) string { return capabilitiesNS + "." + name }
	paths := func(prop string, names []string) {
		w.open("PropertyValue", "Property", prop)
		w.open("Collection")
		for _, n := range names {
			w.text("PropertyPath", n)
		}
		w.close("Collection")
		w.close("PropertyValue")
	}
	w.open("Annotations", "Target", target)

	w.open("Annotation", "Term", term("FilterRestrictions"))
	w.open("Record")
	w.empty("PropertyValue", "Property", "Filterable", "Bool", "true")
	paths("NonFilterableProperties", nonFilterable)
	w.open("PropertyValue", "Property", "FilterExpressionRestrictions")
	w.open("Collection")
	for _, c := range caps {
		if len(c.Operators) == 0 || c.Collection {
			continue
		}
		w.open("Record")
		w.empty("PropertyValue", "Property", "Property", "PropertyPath", c.Property)
		w.empty("PropertyValue", "Property", "AllowedExpressions", "String", filterExpression(c.Operators))
		w.close("Record")
	}
	w.close("Collection")
	w.close("PropertyValue")
	w.close("Record")
	w.close("Annotation")

	w.open("Annotation", "Term", term("SortRestrictions"))
	w.open("Record")
	w.empty("PropertyValue", "Property", "Sortable", "Bool", "true")
	paths("NonSortableProperties", nonSortable)
	w.close("Record")
	w.close("Annotation")

	w.open("Annotation", "Term", term("CountRestrictions"))
	w.open("Record")
	w.empty("PropertyValue", "Property", "Countable", "Bool", boolText(countable))
	w.close("Record")
	w.close("Annotation")

	w.open("Annotation", "Term", term("SearchRestrictions"))
	w.open("Record")
	w.empty("PropertyValue", "Property", "Searchable", "Bool", boolText(searchable))
	w.close("Record")
	w.close("Annotation")

	w.close("Annotations")
}

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// handleMetadata serves the CSDL document.
func (s *server) handleMetadata(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "public, max-age=3600")
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(s.metadata)
}

// handleServiceDocument serves the OData service document: the entity sets
// and singletons a client may start from.
func (s *server) handleServiceDocument(c *gin.Context) {
	b := append([]byte(`{"@odata.context":`), appendString(nil, s.base(c.Request)+metadataPath)...)
	b = append(b, `,"value":[`...)
	for i, set := range csdlSets() {
		if i > 0 {
			b = append(b, ',')
		}
		kind := "EntitySet"
		if set.singleton {
			kind = "Singleton"
		}
		b = append(b, `{"name":`...)
		b = appendString(b, set.name)
		b = append(b, `,"kind":`...)
		b = appendString(b, kind)
		b = append(b, `,"url":`...)
		b = appendString(b, set.name)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	c.Header("OData-Version", "4.0")
	c.Data(http.StatusOK, contentTypeJSON, b)
}
