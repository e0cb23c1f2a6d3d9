package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// apiPrefix is the Graph version segment every authenticated route lives under.
const apiPrefix = "/v1.0"

// route is one row of the table of contents: how a request is matched, who
// may make it, what serves it, and what /openapi.json says about it. Both
// the Gin engine (addRoutes) and the OpenAPI document (openapi.go) are built
// from routes(), so they cannot disagree; adding a route is one row here
// plus its handler.
type route struct {
	method string
	// paths are Gin paths (":param" segments). The first is Graph's
	// canonical spelling; the others are the spellings OData and Graph's
	// SDKs also send (delta() for the function delta, graph.user for the
	// cast microsoft.graph.user). Each is registered and documented.
	paths []string
	// id, tag and summary are the OpenAPI operationId (alternative paths
	// get id_2, id_3, ...), the tag that groups it, and its summary.
	id, tag, summary string
	// access runs first: the operation's authorization check, so
	// unauthorised callers never reach a parser. nil for routes any
	// authenticated caller may use (authenticate has run for /v1.0) and for
	// public ones.
	access gin.HandlerFunc
	// pre are further middleware between access and the handler
	// (preconditions).
	pre []gin.HandlerFunc
	// handle serves the request.
	handle gin.HandlerFunc

	// The OpenAPI facts.
	// public operations need no bearer token.
	public bool
	// options are the system query options the route takes: its handler
	// refuses the others (routeOptions) and the document lists them.
	options queryOption
	// params are the request headers the operation reads (ConsistencyLevel,
	// If-Match, Prefer).
	params []string
	// body names the request body schema ("" for none).
	body string
	// status and schema of the success response; schema "" means no body,
	// schemaCount a text/plain integer.
	status int
	schema string
	// headers documented on the success response.
	headers []string
	// oauth operations (the token endpoint) answer errors in OAuth 2.0's
	// form (RFC 6749 5.2), not Graph's envelope, and take a form body.
	oauth bool
	// undocumented rows exist only to refuse a method (405 in the
	// operation's own error form); the document describes the methods that
	// work.
	undocumented bool
}

// consistencyLevel is the header of Graph's advanced queries, documented on
// the user collections (graphdir answers with or without it).
var consistencyLevel = []string{"ConsistencyLevel"}

// Paths shared by several rows. The cast segment of deleted items has two
// spellings: the full namespace and Graph's "graph." alias, which the SDKs
// send (GraphUser()).
const (
	usersPath        = apiPrefix + "/users"
	deletedItemsPath = apiPrefix + "/directory/deletedItems"
	deletedCast      = deletedItemsPath + "/microsoft.graph.user"
	deletedCastAlias = deletedItemsPath + "/graph.user"
	rolePrefix       = apiPrefix + "/roleManagement/directory"
	applicationsPath = apiPrefix + "/applications"
	extensionsPath   = applicationsPath + "/:key/extensionProperties"
)

// routes is the table of contents of the API. Graph's key-in-parentheses
// form, /v1.0/users('key') and the like, is rewritten to /v1.0/users/'key'
// before routing (rewriteKeySegment, keypath.go), so the :key and :id rows
// serve both forms.
func (s *server) routes() []route {
	appsRead := s.authorizeApplications(false, directory.Activity{})
	appsWrite := func(act directory.Activity) gin.HandlerFunc { return s.authorizeApplications(true, act) }
	rows := []route{
		// Users (README "Users"; Graph's user resource).
		{method: "GET", paths: []string{usersPath}, id: "listUsers", tag: "users", options: collectionOptions, summary: "List the users of the caller's tenant.",
			access: s.authorize(directory.OpListUsers), handle: s.handleListUsers,
			params: consistencyLevel, status: 200, schema: schemaUserCollection, headers: []string{"x-ms-resource-unit", "x-ms-throttle-limit-percentage"}},
		{method: "POST", paths: []string{usersPath}, id: "createUser", tag: "users", options: writeOptions, summary: "Create a user.",
			access: s.authorize(directory.OpCreateUser), handle: s.handleCreateUser,
			body: schemaUserWrite, status: 201, schema: schemaUser, headers: []string{"Location", "x-ms-resource-unit"}},
		{method: "GET", paths: []string{usersPath + "/$count"}, id: "countUsers", tag: "users", options: countOptions, summary: "Count the users $filter and $search match.",
			access: s.authorize(directory.OpListUsers), handle: s.handleCountUsers,
			params: consistencyLevel, status: 200, schema: schemaCount},
		{method: "GET", paths: []string{usersPath + "/delta", usersPath + "/delta()"}, id: "usersDelta", tag: "users", options: deltaOptions,
			summary: "Delta query: page through the live users, then follow @odata.deltaLink for what changed since ($deltatoken=latest starts from now; $filter=id eq '…' or … tracks up to 50 users; Prefer: return=minimal, odata.maxpagesize).",
			access:  s.authorize(directory.OpListUsers), handle: s.handleUsersDelta,
			params: []string{"Prefer"}, status: 200, schema: schemaCollection, headers: []string{"Preference-Applied"}},
		{method: "GET", paths: []string{usersPath + "/:key"}, id: "getUser", tag: "users", options: entityOptions, summary: "Get a user by id or userPrincipalName.",
			access: s.authorize(directory.OpReadUser), handle: s.handleGetUser,
			status: 200, schema: schemaUser, headers: []string{"ETag"}},
		{method: "PATCH", paths: []string{usersPath + "/:key"}, id: "updateUser", tag: "users", options: writeOptions, summary: "Update a user (If-Match: W/\"<version>\" makes it conditional: 412 when changed meanwhile).",
			access: s.authorize(directory.OpUpdateUser), pre: []gin.HandlerFunc{s.preconditions}, handle: s.handleUpdateUser,
			params: []string{"If-Match"}, body: schemaUserWrite, status: 204, headers: []string{"ETag"}},
		{method: "DELETE", paths: []string{usersPath + "/:key"}, id: "deleteUser", tag: "users", options: writeOptions, summary: "Move a user to deleted items (If-Match makes it conditional).",
			access: s.authorize(directory.OpDeleteUser), pre: []gin.HandlerFunc{s.preconditions}, handle: s.handleDeleteUser,
			params: []string{"If-Match"}, status: 204},
		{method: "GET", paths: []string{apiPrefix + "/me"}, id: "getMe", tag: "me", options: entityOptions, summary: "Get the signed-in user.",
			access: s.authorize(directory.OpReadSelf), handle: s.handleGetMe,
			status: 200, schema: schemaUser, headers: []string{"ETag"}},
		{method: "PATCH", paths: []string{apiPrefix + "/me"}, id: "updateMe", tag: "me", options: writeOptions, summary: "Update the signed-in user's own profile.",
			access: s.authorize(directory.OpUpdateSelf), pre: []gin.HandlerFunc{s.preconditions}, handle: s.handleUpdateMe,
			params: []string{"If-Match"}, body: schemaUserWrite, status: 204, headers: []string{"ETag"}},
		{method: "POST", paths: []string{apiPrefix + "/me/changePassword"}, id: "changeMyPassword", tag: "me", options: writeOptions,
			summary: "Change the signed-in user's password (currentPassword, newPassword).",
			access:  s.authorizeCaller(directory.AuthorizeChangePassword, &directory.ActivityChangePassword), handle: s.handleChangePassword,
			body: schemaObject, status: 204},
		{method: "POST", paths: []string{apiPrefix + "/me/revokeSignInSessions"}, id: "revokeMySignInSessions", tag: "me", options: writeOptions,
			summary: "Revoke the signed-in user's sign-in sessions: refresh tokens die and earlier access tokens of the built-in issuer are refused (signInSessionsValidFromDateTime = now).",
			access:  s.authorizeCaller(directory.AuthorizeRevokeMySignInSessions, &directory.ActivityRevokeSignInSessions), handle: s.handleRevokeMySignInSessions,
			status: 200, schema: schemaObject},
		{method: "POST", paths: []string{usersPath + "/:key/revokeSignInSessions"}, id: "revokeSignInSessions", tag: "users", options: writeOptions,
			summary: "Revoke a user's sign-in sessions (User.RevokeSessions.All): refresh tokens die and earlier access tokens of the built-in issuer are refused.",
			access:  s.authorizeRevoke, handle: s.handleRevokeSignInSessions,
			status: 200, schema: schemaObject},

		// Deleted items (Graph's "List deletedItems": the cast to
		// microsoft.graph.user is a required part of the URL).
		{method: "GET", paths: []string{deletedCast, deletedCastAlias}, id: "listDeletedUsers", tag: "deletedItems", options: collectionOptions,
			summary: "List deleted users (deleted items), with deletedDateTime; $orderby may use deletedDateTime.",
			access:  s.authorize(directory.OpListDeletedUsers), handle: s.handleListDeletedUsers,
			params: consistencyLevel, status: 200, schema: schemaUserCollection},
		{method: "GET", paths: []string{deletedCast + "/$count", deletedCastAlias + "/$count"}, id: "countDeletedUsers", tag: "deletedItems", options: countOptions,
			summary: "Count the deleted users $filter and $search match.",
			access:  s.authorize(directory.OpListDeletedUsers), handle: s.handleCountDeletedUsers,
			params: consistencyLevel, status: 200, schema: schemaCount},
		{method: "GET", paths: []string{deletedItemsPath + "/:id", deletedItemsPath + "/:id/microsoft.graph.user", deletedItemsPath + "/:id/graph.user",
			deletedCast + "/:id", deletedCastAlias + "/:id"}, id: "getDeletedUser", tag: "deletedItems", options: entityOptions, summary: "Get a deleted user.",
			access: s.authorize(directory.OpListDeletedUsers), handle: s.handleGetDeletedUser,
			status: 200, schema: schemaUser, headers: []string{"ETag"}},
		{method: "POST", paths: []string{deletedItemsPath + "/:id/restore"}, id: "restoreDeletedUser", tag: "deletedItems", options: writeOptions,
			summary: "Restore a deleted user (400 ObjectConflict when its userPrincipalName or an identity was taken meanwhile).",
			access:  s.authorize(directory.OpRestoreUser), handle: s.handleRestoreUser,
			status: 200, schema: schemaUser, headers: []string{"ETag"}},
		{method: "DELETE", paths: []string{deletedItemsPath + "/:id"}, id: "purgeDeletedUser", tag: "deletedItems", options: writeOptions,
			summary: "Permanently delete a deleted user.",
			access:  s.authorize(directory.OpRestoreUser), handle: s.handlePurgeUser, status: 204},

		{method: "GET", paths: []string{apiPrefix + "/auditLogs/directoryAudits"}, id: "listDirectoryAudits", tag: "auditLogs", options: optTop | optSkipToken | optFilter | optOrderBy | optFormat,
			summary: "List the tenant's directory audit events, newest first ($orderby=activityDateTime asc for oldest first).",
			access:  s.authorizeCaller(directory.AuthorizeAuditRead, nil), handle: s.handleListDirectoryAudits,
			status: 200, schema: schemaCollection},
		{method: "GET", paths: []string{apiPrefix + "/auditLogs/signIns"}, id: "listSignIns", tag: "auditLogs", options: optTop | optSkipToken | optFilter | optOrderBy | optFormat,
			summary: "List the tenant's sign-ins (every credential check, success or failure), newest first.",
			access:  s.authorizeCaller(directory.AuthorizeAuditRead, nil), handle: s.handleListSignIns,
			status: 200, schema: schemaCollection},
		{method: "GET", paths: []string{apiPrefix + "/auditLogs/signIns/:id"}, id: "getSignIn", tag: "auditLogs", options: optSelect | optFormat,
			summary: "Get one sign-in.",
			access:  s.authorizeCaller(directory.AuthorizeAuditRead, nil), handle: s.handleGetSignIn,
			status: 200, schema: schemaObject},
		// Any authenticated caller may batch; each request inside is
		// authenticated, authorized and throttled on its own (batch.go).
		{method: "POST", paths: []string{batchPath}, id: "batch", tag: "batch",
			summary: "Run up to 20 requests in one call (JSON batching); each is authorized and throttled as if sent alone.",
			handle:  s.handleBatch, body: "BatchRequest", status: 200, schema: "BatchResponse"},

		// Role management (Graph's roleManagement/directory).
		{method: "GET", paths: []string{rolePrefix + "/roleDefinitions"}, id: "listRoleDefinitions", tag: "roleManagement", options: optFilter | optSelect | optFormat,
			summary: "List the directory role definitions.",
			access:  s.authorize(directory.OpReadRoles), handle: s.handleListRoleDefinitions,
			status: 200, schema: schemaCollection},
		{method: "GET", paths: []string{rolePrefix + "/roleDefinitions/:id"}, id: "getRoleDefinition", tag: "roleManagement", options: optSelect | optFormat,
			summary: "Get a directory role definition.",
			access:  s.authorize(directory.OpReadRoles), handle: s.handleGetRoleDefinition, status: 200, schema: schemaObject},
		{method: "GET", paths: []string{rolePrefix + "/roleAssignments"}, id: "listRoleAssignments", tag: "roleManagement", options: optFilter | optSelect | optFormat | optExpand,
			summary: "List directory role assignments.",
			access:  s.authorize(directory.OpReadRoles), handle: s.handleListRoleAssignments,
			status: 200, schema: schemaCollection},
		{method: "POST", paths: []string{rolePrefix + "/roleAssignments"}, id: "createRoleAssignment", tag: "roleManagement", options: optFormat,
			summary: "Assign a directory role.",
			access:  s.authorize(directory.OpWriteRoles), handle: s.handleCreateRoleAssignment, body: schemaObject, status: 201, schema: schemaObject},
		{method: "GET", paths: []string{rolePrefix + "/roleAssignments/:id"}, id: "getRoleAssignment", tag: "roleManagement", options: optSelect | optFormat | optExpand,
			summary: "Get a directory role assignment.",
			access:  s.authorize(directory.OpReadRoles), handle: s.handleGetRoleAssignment, status: 200, schema: schemaObject},
		{method: "DELETE", paths: []string{rolePrefix + "/roleAssignments/:id"}, id: "deleteRoleAssignment", tag: "roleManagement", options: optFormat,
			summary: "Remove a directory role assignment.",
			access:  s.authorize(directory.OpWriteRoles), handle: s.handleDeleteRoleAssignment, status: 204},

		// Applications. Graph's alternate key, applications(appId='...'),
		// is rewritten onto the :key rows (rewriteKeySegment).
		{method: "GET", paths: []string{applicationsPath}, id: "listApplications", tag: "applications", options: optSelect | optTop | optSkipToken | optFormat | optFilter | optOrderBy | optCount | optSearch | optExpand,
			summary: "List the tenant's applications.", params: consistencyLevel,
			access: appsRead, handle: s.handleListApplications,
			status: 200, schema: schemaCollection},
		{method: "GET", paths: []string{applicationsPath + "/$count"}, id: "countApplications", tag: "applications", options: countOptions,
			summary: "Count the applications $filter and $search match.", params: consistencyLevel,
			access: appsRead, handle: s.handleCountApplications, status: 200, schema: schemaCount},
		{method: "POST", paths: []string{applicationsPath}, id: "createApplication", tag: "applications", options: optFormat, summary: "Register an application.",
			access: appsWrite(directory.ActivityAddApplication), handle: s.handleCreateApplication,
			body: schemaApplication, status: 201, schema: schemaApplication},
		{method: "GET", paths: []string{applicationsPath + "/:key"}, id: "getApplication", tag: "applications", options: optSelect | optFormat | optExpand, summary: "Get an application by id or appId.",
			access: appsRead, handle: s.handleGetApplication,
			status: 200, schema: schemaApplication},
		{method: "PATCH", paths: []string{applicationsPath + "/:key"}, id: "updateApplication", tag: "applications", options: optFormat, summary: "Update an application.",
			access: appsWrite(directory.ActivityUpdateApplication), handle: s.handleUpdateApplication, body: schemaApplication, status: 204},
		{method: "DELETE", paths: []string{applicationsPath + "/:key"}, id: "deleteApplication", tag: "applications", options: optFormat, summary: "Delete an application.",
			access: appsWrite(directory.ActivityDeleteApplication), handle: s.handleDeleteApplication, status: 204},
		{method: "POST", paths: []string{applicationsPath + "/:key/addPassword"}, id: "addApplicationPassword", tag: "applications", options: optFormat,
			summary: "Add a client secret; its secretText is returned once.",
			access:  appsWrite(directory.ActivityUpdateApplicationSecrets), handle: s.handleAddPassword,
			body: schemaObject, status: 200, schema: schemaObject},
		{method: "POST", paths: []string{applicationsPath + "/:key/removePassword"}, id: "removeApplicationPassword", tag: "applications", options: optFormat,
			summary: "Remove a client secret by keyId.",
			access:  appsWrite(directory.ActivityUpdateApplicationSecrets), handle: s.handleRemovePassword, body: schemaObject, status: 204},
		// Extension properties take the permissions of applications.
		{method: "GET", paths: []string{extensionsPath}, id: "listExtensionProperties", tag: "applications", options: optSelect | optFilter | optFormat,
			summary: "List the directory extension properties an application defines.",
			access:  appsRead, handle: s.handleListExtensionProperties, status: 200, schema: schemaCollection},
		{method: "POST", paths: []string{extensionsPath}, id: "createExtensionProperty", tag: "applications", options: optFormat,
			summary: "Define a directory extension property (name, dataType, targetObjects, isMultiValued) for users.",
			access:  appsWrite(directory.ActivityAddExtensionProperty), handle: s.handleCreateExtensionProperty,
			body: schemaObject, status: 201, schema: schemaObject, headers: []string{"Location"}},
		{method: "GET", paths: []string{extensionsPath + "/:id"}, id: "getExtensionProperty", tag: "applications", options: optSelect | optFormat,
			summary: "Get a directory extension property.",
			access:  appsRead, handle: s.handleGetExtensionProperty, status: 200, schema: schemaObject},
		{method: "DELETE", paths: []string{extensionsPath + "/:id"}, id: "deleteExtensionProperty", tag: "applications", options: optFormat,
			summary: "Delete a directory extension property and every value of it.",
			access:  appsWrite(directory.ActivityDeleteExtensionProperty), handle: s.handleDeleteExtensionProperty, status: 204},

		// Delegated permission grants (Graph's oauth2PermissionGrants;
		// permissiongrants.go): users' consent from the consent page and
		// administrators' grants. Application permissions only.
		{method: "GET", paths: []string{grantsPath}, id: "listOAuth2PermissionGrants", tag: "oauth2PermissionGrants", options: optFilter | optTop | optSkipToken | optFormat,
			summary: "List the delegated permission grants ($filter: clientId, principalId, consentType eq, joined by and; $top and paging).",
			access:  s.authorizeGrants(false), handle: s.handleListGrants, status: 200, schema: schemaCollection},
		{method: "POST", paths: []string{grantsPath}, id: "createOAuth2PermissionGrant", tag: "oauth2PermissionGrants", options: optFormat,
			summary: "Grant a client delegated scopes for one user (Principal) or every user (AllPrincipals): clientId and resourceId are appIds.",
			access:  s.authorizeGrants(true), handle: s.handleCreateGrant, body: schemaObject, status: 201, schema: schemaObject, headers: []string{"Location"}},
		{method: "GET", paths: []string{grantsPath + "/:id"}, id: "getOAuth2PermissionGrant", tag: "oauth2PermissionGrants", options: optSelect | optFormat,
			summary: "Get a delegated permission grant ($select).",
			access:  s.authorizeGrants(false), handle: s.handleGetGrant, status: 200, schema: schemaObject},
		{method: "PATCH", paths: []string{grantsPath + "/:id"}, id: "updateOAuth2PermissionGrant", tag: "oauth2PermissionGrants", options: optFormat,
			summary: "Replace a grant's scope (space-separated scope names).",
			access:  s.authorizeGrants(true), handle: s.handleUpdateGrant, body: schemaObject, status: 204},
		{method: "DELETE", paths: []string{grantsPath + "/:id"}, id: "deleteOAuth2PermissionGrant", tag: "oauth2PermissionGrants", options: optFormat,
			summary: "Delete a grant: the client's next token request (refresh included) that needs its scopes is refused (invalid_grant, AADSTS65001).",
			access:  s.authorizeGrants(true), handle: s.handleDeleteGrant, status: 204},

		// User flows (Graph's identity/authenticationEventsFlows, the
		// externalUsersSelfServiceSignUpEventsFlow type; userflows.go).
		{method: "GET", paths: []string{flowsPath, flowsPath + "/" + flowCast, flowsPath + "/" + flowCastAlias}, id: "listAuthenticationEventsFlows", tag: "identity",
			options: optSelect | optFilter | optCount | optFormat | optExpand | optOrderBy | optTop | optSkipToken,
			summary: "List the tenant's user flows ($filter: id, displayName, startsWith(displayName), and any() on identity providers, attributes and applications; $orderby displayName, id or priority; $top and paging).",
			access:  s.authorizeUserFlows(false, directory.Activity{}), handle: s.handleListUserFlows, status: 200, schema: schemaCollection},
		{method: "POST", paths: []string{flowsPath}, id: "createAuthenticationEventsFlow", tag: "identity", options: optFormat,
			summary: "Create a user flow (@odata.type #microsoft.graph.externalUsersSelfServiceSignUpEventsFlow).",
			access:  s.authorizeUserFlows(true, directory.ActivityAddUserFlow), handle: s.handleCreateUserFlow,
			body: schemaObject, status: 201, schema: schemaObject, headers: []string{"Location"}},
		{method: "GET", paths: flowPaths(""), id: "getAuthenticationEventsFlow", tag: "identity", options: optSelect | optFormat | optExpand,
			summary: "Get a user flow.",
			access:  s.authorizeUserFlows(false, directory.Activity{}), handle: s.handleGetUserFlow, status: 200, schema: schemaObject},
		{method: "PATCH", paths: flowPaths(""), id: "updateAuthenticationEventsFlow", tag: "identity", options: optFormat,
			summary: "Update a user flow (@odata.type required; given properties replace the stored ones whole).",
			access:  s.authorizeUserFlows(true, directory.ActivityUpdateUserFlow), handle: s.handleUpdateUserFlow, body: schemaObject, status: 204},
		{method: "DELETE", paths: flowPaths(""), id: "deleteAuthenticationEventsFlow", tag: "identity", options: optFormat,
			summary: "Delete a user flow; its applications get the default flow.",
			access:  s.authorizeUserFlows(true, directory.ActivityDeleteUserFlow), handle: s.handleDeleteUserFlow, status: 204},
		{method: "GET", paths: flowPaths(flowAppsSuffix), id: "listAuthenticationEventsFlowApplications", tag: "identity",
			options: optSelect | optFilter | optCount | optFormat | optExpand | optOrderBy | optTop | optSkip | optSkipToken,
			summary: "List the applications a user flow applies to ($filter and $orderby on appId, $top and paging).",
			access:  s.authorizeUserFlows(false, directory.Activity{}), handle: s.handleListUserFlowApplications, status: 200, schema: schemaCollection},
		{method: "POST", paths: flowPaths(flowAppsSuffix), id: "addAuthenticationEventsFlowApplication", tag: "identity", options: optFormat,
			summary: "Link an application ({\"appId\"}) to a user flow; an application belongs to at most one flow.",
			access:  s.authorizeUserFlows(true, directory.ActivityAddUserFlowApplication), handle: s.handleAddUserFlowApplication,
			body: schemaObject, status: 201, schema: schemaObject},
		{method: "DELETE", paths: flowPaths(flowAppsSuffix + "/:appId"), id: "removeAuthenticationEventsFlowApplication", tag: "identity", options: optFormat,
			summary: "Unlink an application from a user flow.",
			access:  s.authorizeUserFlows(true, directory.ActivityRemoveUserFlowApplication), handle: s.handleRemoveUserFlowApplication, status: 204},

		// Branding (Graph's organizationalBranding and its localizations;
		// branding.go, README "Branding").
		{method: "GET", paths: []string{brandingPath}, id: "getOrganizationalBranding", tag: "organization", options: optSelect | optFormat,
			summary: "Get the tenant's default branding (Accept-Language naming a localization's id gets that localization); 404 until branding is set.",
			access:  s.authorizeBranding(false, directory.Activity{}), handle: s.handleGetBranding, params: []string{"Accept-Language"}, status: 200, schema: schemaObject},
		{method: "PATCH", paths: []string{brandingPath}, id: "updateOrganizationalBranding", tag: "organization", options: optFormat,
			summary: "Update the default branding: backgroundColor, signInPageText, usernameHintText (created by its first write).",
			access:  s.authorizeBranding(true, directory.ActivityUpdateBranding), handle: s.handleUpdateBranding, body: schemaObject, status: 204},
		{method: "PUT", paths: logoPaths(brandingPath), id: "putOrganizationalBrandingLogo", tag: "organization", options: optFormat,
			summary: "Set a logo of the default branding: PNG or JPEG bytes within Graph's limits (bannerLogo 245x36, squareLogo 240x240, 10 KB); an empty body removes it.",
			access:  s.authorizeBranding(true, directory.ActivityUpdateBranding), handle: s.handlePutLogo, body: schemaStream, status: 204},
		{method: "GET", paths: logoPaths(brandingPath), id: "getOrganizationalBrandingLogo", tag: "organization", options: optFormat,
			summary: "Get a logo of the default branding (the image bytes).",
			access:  s.authorizeBranding(false, directory.Activity{}), handle: s.handleGetLogo, status: 200, schema: schemaStream},
		{method: "GET", paths: []string{localizationsPath}, id: "listOrganizationalBrandingLocalizations", tag: "organization", options: optSelect | optFormat,
			summary: "List the branding localizations, the default branding (id '0') first.",
			access:  s.authorizeBranding(false, directory.Activity{}), handle: s.handleListLocalizations, status: 200, schema: schemaCollection},
		{method: "POST", paths: []string{localizationsPath}, id: "createOrganizationalBrandingLocalization", tag: "organization", options: optFormat,
			summary: "Create a branding localization (id: a language tag such as 'fr-FR'); the default branding is created with it when missing.",
			access:  s.authorizeBranding(true, directory.ActivityAddBrandingLocalization), handle: s.handleCreateLocalization,
			body: schemaObject, status: 201, schema: schemaObject, headers: []string{"Location"}},
		{method: "GET", paths: []string{localizationPath}, id: "getOrganizationalBrandingLocalization", tag: "organization", options: optSelect | optFormat,
			summary: "Get a branding localization ('0' is the default branding).",
			access:  s.authorizeBranding(false, directory.Activity{}), handle: s.handleGetLocalization, status: 200, schema: schemaObject},
		{method: "PATCH", paths: []string{localizationPath}, id: "updateOrganizationalBrandingLocalization", tag: "organization", options: optFormat,
			summary: "Update a branding localization.",
			access:  s.authorizeBranding(true, directory.ActivityUpdateBranding), handle: s.handleUpdateBranding, body: schemaObject, status: 204},
		{method: "DELETE", paths: []string{localizationPath}, id: "deleteOrganizationalBrandingLocalization", tag: "organization", options: optFormat,
			summary: "Delete a branding localization; remove its logos first, as Graph requires.",
			access:  s.authorizeBranding(true, directory.ActivityDeleteBrandingLocalization), handle: s.handleDeleteLocalization, status: 204},
		{method: "PUT", paths: logoPaths(localizationPath), id: "putOrganizationalBrandingLocalizationLogo", tag: "organization", options: optFormat,
			summary: "Set a logo of a branding localization (as for the default branding).",
			access:  s.authorizeBranding(true, directory.ActivityUpdateBranding), handle: s.handlePutLogo, body: schemaStream, status: 204},
		{method: "GET", paths: logoPaths(localizationPath), id: "getOrganizationalBrandingLocalizationLogo", tag: "organization", options: optFormat,
			summary: "Get a logo of a branding localization (the image bytes).",
			access:  s.authorizeBranding(false, directory.Activity{}), handle: s.handleGetLogo, status: 200, schema: schemaStream},
		// The logos' public URLs, for the hosted sign-in pages: no token.
		{method: "GET", paths: append(logoPaths("/:tenant/branding"), logoPaths("/:tenant/branding/localizations/:locale")...), id: "getBrandingLogoPublic", tag: "issuer", public: true,
			summary: "A tenant's branding logo at its public URL, for the hosted sign-in pages (PNG or JPEG, nosniff, sandboxed).",
			handle:  s.handlePublicLogo, status: 200, schema: schemaStream},

		// The built-in issuer: no bearer token.
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/token"}, id: "token", tag: "issuer", public: true, oauth: true,
			summary: "The built-in issuer's token endpoint (client credentials grant).",
			pre:     []gin.HandlerFunc{s.nativeCORS}, handle: s.handleToken, status: 200, schema: schemaObject},
		{method: "GET", paths: []string{"/:tenant/discovery/v2.0/keys"}, id: "getJWKS", tag: "issuer", public: true,
			summary: "The built-in issuer's signing keys (JWKS) for a tenant.",
			handle:  s.handleJWKS, status: 200, schema: schemaObject},
		{method: "GET", paths: []string{"/:tenant/v2.0/.well-known/openid-configuration"}, id: "getOpenIDConfiguration", tag: "issuer", public: true,
			summary: "The built-in issuer's OpenID Connect discovery document for a tenant.",
			handle:  s.handleDiscovery, status: 200, schema: schemaObject},

		// Browser redirect sign-in (issue 14; browser.go, authorize.go):
		// the code flow's endpoints and the hosted pages.
		{method: "GET", paths: []string{"/:tenant/oauth2/v2.0/authorize"}, id: "authorize", tag: "issuer", public: true,
			summary: "Authorization endpoint (code flow with PKCE S256): the hosted sign-in page, or a redirect to the client with a code or an error (query, fragment or form_post; RFC 9207 iss).",
			handle:  s.handleAuthorize, status: 200, schema: schemaHTML},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/authorize"}, id: "authorizePost", tag: "issuer", public: true,
			summary: "Authorization endpoint, request by form POST (OpenID Connect Core 3.1.2.1).",
			handle:  s.handleAuthorize, status: 200, schema: schemaHTML},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/signin"}, id: "hostedSignIn", tag: "issuer", public: true,
			summary: "The hosted sign-in page's form (email and password); CSRF-protected, answers 303 to the client.",
			handle:  s.handleSignIn, status: 303},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/verify"}, id: "hostedVerifyCode", tag: "issuer", public: true,
			summary: "The hosted MFA page's form (the email one-time code); CSRF-protected, answers 303 to the client.",
			handle:  s.handleVerify, status: 303},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/consent"}, id: "hostedConsent", tag: "issuer", public: true,
			summary: "The hosted consent page's form (Accept or Cancel); CSRF-protected, answers 303 to the client with a code or access_denied.",
			handle:  s.handleConsent, status: 303},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/mfareg"}, id: "hostedMfaRegister", tag: "issuer", public: true,
			summary: "The hosted MFA email registration's forms (the address, then the code mailed to it); CSRF-protected, the last answers 303 to the client.",
			handle:  s.handleMFARegister, status: 200, schema: schemaHTML},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/resend"}, id: "hostedResendCode", tag: "issuer", public: true,
			summary: "Every hosted code page's \"Send a new code\": a new code replaces the flow's last one, within the resend interval and hourly cap (429 with Retry-After otherwise); CSRF-protected.",
			handle:  s.handleResend, status: 200, schema: schemaHTML},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/signup"}, id: "hostedSignUp", tag: "issuer", public: true,
			summary: "The hosted sign-up pages' forms (email, code, password and attributes); CSRF-protected, the last answers 303 to the client.",
			handle:  s.handleSignUp, status: 200, schema: schemaHTML},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/reset"}, id: "hostedReset", tag: "issuer", public: true,
			summary: "The hosted password-reset pages' forms (email, code, new password); CSRF-protected, ends on the sign-in page.",
			handle:  s.handleReset, status: 200, schema: schemaHTML},
		{method: "GET", paths: []string{"/:tenant/oauth2/v2.0/logout"}, id: "logout", tag: "issuer", public: true,
			summary: "End-session endpoint (RP-Initiated Logout): ends the session; a confirmation page leads to a registered post_logout_redirect_uri.",
			handle:  s.handleLogout, status: 200, schema: schemaHTML},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/logout"}, id: "logoutPost", tag: "issuer", public: true,
			summary: "End-session endpoint, request by form POST.",
			handle:  s.handleLogout, status: 200, schema: schemaHTML},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/logout/confirm"}, id: "logoutConfirm", tag: "issuer", public: true,
			summary: "The sign-out confirmation page's button: 303 to the validated post_logout_redirect_uri.",
			handle:  s.handleLogoutConfirm, status: 303},
		{method: "POST", paths: []string{"/:tenant/oauth2/v2.0/revoke"}, id: "revoke", tag: "issuer", public: true, oauth: true,
			summary: "Token revocation (RFC 7009): revokes a refresh token's family; unknown tokens are 200.",
			handle:  s.handleRevoke, status: 200},
		{method: "GET", paths: []string{"/oidc/userinfo"}, id: "userinfo", tag: "issuer", public: true,
			summary: "OpenID Connect UserInfo for a user access token of the built-in issuer.",
			handle:  s.handleUserInfo, status: 200, schema: schemaObject},
		{method: "POST", paths: []string{"/oidc/userinfo"}, id: "userinfoPost", tag: "issuer", public: true,
			summary: "OpenID Connect UserInfo by POST (token in the header or the form body).",
			handle:  s.handleUserInfo, status: 200, schema: schemaObject},

		{method: "GET", paths: []string{"/healthz"}, id: "health", tag: "service", public: true, summary: "Liveness: the process serves HTTP.",
			handle: s.handleHealth, status: 200, schema: schemaStatus},
		{method: "GET", paths: []string{"/readyz"}, id: "ready", tag: "service", public: true,
			summary: "Readiness: the database answers and its schema is current; 503 otherwise.",
			handle:  s.handleReady, status: 200, schema: schemaStatus},
		// The API description: no authentication, like the issuer documents.
		{method: "GET", paths: []string{"/openapi.json"}, id: "openapi", tag: "service", public: true, summary: "This document.",
			handle: s.handleOpenAPI, status: 200, schema: schemaObject},
		// The OData service description and service document (metadata.go):
		// public, as Graph serves $metadata.
		{method: "GET", paths: []string{metadataPath}, id: "odataMetadata", tag: "service", public: true,
			summary: "The OData CSDL document (OData 4.0, namespace microsoft.graph) of every type, entity set, singleton, function and action graphdir serves, with Capabilities annotations from the query engine.",
			handle:  s.handleMetadata, status: 200, schema: schemaXML},
		{method: "GET", paths: []string{serviceDocumentPath}, id: "odataServiceDocument", tag: "service", public: true,
			summary: "The OData service document: the entity sets and singletons.",
			handle:  s.handleServiceDocument, status: 200, schema: schemaObject},
	}
	// The token endpoint answers its other methods itself, in OAuth's
	// error form.
	// (OPTIONS is native authentication's CORS preflight, nativeauth.go.)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		rows = append(rows, route{method: m, paths: []string{"/:tenant/oauth2/v2.0/token", "/:tenant/oauth2/v2.0/revoke"}, handle: s.handleTokenMethod, undocumented: true})
	}
	// Native authentication (nativeauth.go).
	rows = append(rows, s.nativeRoutes()...)
	// OPTIONS on revoke is the CORS preflight of single-page applications
	// (a 405 for any other origin); the token endpoint's is native auth's.
	rows = append(rows, route{method: http.MethodOptions, paths: []string{"/:tenant/oauth2/v2.0/revoke"},
		id: "revokePreflight", tag: "issuer", public: true, oauth: true, status: 204,
		summary: "CORS preflight from the origin of a registered spa redirect URI.", handle: s.handleTokenPreflight})
	return rows
}

// routeOptionsKey is the gin context key of the matched row's options.
const routeOptionsKey = "graphdir.options"

// routeOptions returns the query options the matched route takes (its
// row's options).
func routeOptions(c *gin.Context) queryOption {
	o, _ := c.Get(routeOptionsKey)
	opts, _ := o.(queryOption)
	return opts
}

// addRoutes registers every row of routes(), each path of a row with the
// row's access check, middleware and handler.
func (s *server) addRoutes(r *gin.Engine) {
	for _, rt := range s.routes() {
		var chain []gin.HandlerFunc
		if rt.access != nil {
			chain = append(chain, rt.access)
		}
		if rt.options != 0 {
			// The handler reads what the route takes from its row.
			opts := rt.options
			chain = append(chain, func(c *gin.Context) { c.Set(routeOptionsKey, opts) })
		}
		chain = append(append(chain, rt.pre...), rt.handle)
		for _, p := range rt.paths {
			r.Handle(rt.method, p, chain...)
		}
	}
	// authenticate (a global middleware) has already run for /v1.0 paths,
	// so unknown routes and wrong methods there answer only authenticated
	// callers; everyone else gets the 401 first.
	r.NoRoute(s.handleNoRoute)
	r.NoMethod(s.handleNoMethod)
}
