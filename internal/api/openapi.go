package api

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// The OpenAPI 3 description of every route graphdir serves, served at
// /openapi.json without authentication (it describes the API, it holds no
// data). The user schemas are generated from directory's property table, so
// they cannot disagree with what the handlers write; a test checks that
// every route of the Gin engine appears here and validates real responses
// against the document.

// apiOp documents one operation. Paths use OpenAPI's {param} form.
type apiOp struct {
	method, path, id, summary string
	// public operations need no bearer token.
	public bool
	// params are the query options the operation accepts.
	params []string
	// body names the request body schema ("" for none).
	body string
	// status and schema of the success response; schema "" means no body,
	// "count" a text/plain integer.
	status int
	schema string
	// headers documented on the success response.
	headers []string
	// oauth operations (the token endpoint) answer errors in OAuth 2.0's
	// form (RFC 6749 5.2), not Graph's envelope, and take a form body.
	oauth bool
}

// undocumentedHandlers serve routes that exist only to refuse a method
// (405 with the operation's own error form); the document describes the
// methods that work.
var undocumentedHandlers = []string{"handleTokenMethod"}

const (
	schemaUser           = "User"
	schemaUserCollection = "UserCollection"
	schemaUserWrite      = "UserWrite"
	schemaObject         = "Object"
	schemaCollection     = "ObjectCollection"
	schemaStatus         = "Status"
	schemaCount          = "count"
)

// apiOps lists the operations. Keep it in step with routes.go; the route
// test fails otherwise.
var apiOps = []apiOp{
	{method: "GET", path: "/v1.0/users", id: "listUsers", summary: "List the users of the caller's tenant.",
		params: []string{"$filter", "$select", "$orderby", "$top", "$skip", "$skiptoken", "$search", "$count", "ConsistencyLevel"},
		status: 200, schema: schemaUserCollection, headers: []string{"x-ms-resource-unit", "x-ms-throttle-limit-percentage"}},
	{method: "POST", path: "/v1.0/users", id: "createUser", summary: "Create a user.",
		body: schemaUserWrite, status: 201, schema: schemaUser, headers: []string{"Location", "x-ms-resource-unit"}},
	{method: "GET", path: "/v1.0/users/$count", id: "countUsers", summary: "Count the users $filter and $search match.",
		params: []string{"$filter", "$search", "ConsistencyLevel"}, status: 200, schema: schemaCount},
	{method: "GET", path: "/v1.0/users/delta", id: "usersDelta", summary: "Delta query: page through the live users, then follow @odata.deltaLink for what changed since ($deltatoken=latest starts from now; Prefer: return=minimal, odata.maxpagesize).",
		params: []string{"$select", "$filter", "$skiptoken", "$deltatoken", "Prefer"}, status: 200, schema: schemaCollection, headers: []string{"Preference-Applied"}},
	{method: "GET", path: "/v1.0/users/{key}", id: "getUser", summary: "Get a user by id or userPrincipalName.",
		params: []string{"$select"}, status: 200, schema: schemaUser, headers: []string{"ETag"}},
	{method: "PATCH", path: "/v1.0/users/{key}", id: "updateUser", summary: "Update a user (If-Match: W/\"<version>\" makes it conditional: 412 when changed meanwhile).",
		params: []string{"If-Match"}, body: schemaUserWrite, status: 204, headers: []string{"ETag"}},
	{method: "DELETE", path: "/v1.0/users/{key}", id: "deleteUser", summary: "Move a user to deleted items (If-Match makes it conditional).",
		params: []string{"If-Match"}, status: 204},
	{method: "GET", path: "/v1.0/me", id: "getMe", summary: "Get the signed-in user.",
		params: []string{"$select"}, status: 200, schema: schemaUser, headers: []string{"ETag"}},
	{method: "PATCH", path: "/v1.0/me", id: "updateMe", summary: "Update the signed-in user's own profile.",
		params: []string{"If-Match"}, body: schemaUserWrite, status: 204, headers: []string{"ETag"}},

	{method: "GET", path: "/v1.0/directory/deletedItems/microsoft.graph.user", id: "listDeletedUsers",
		summary: "List deleted users (deleted items), with deletedDateTime; $orderby may use deletedDateTime.",
		params:  []string{"$filter", "$select", "$orderby", "$top", "$skip", "$skiptoken", "$search", "$count", "ConsistencyLevel"},
		status:  200, schema: schemaUserCollection},
	{method: "GET", path: "/v1.0/directory/deletedItems/microsoft.graph.user/$count", id: "countDeletedUsers",
		summary: "Count the deleted users $filter and $search match.", params: []string{"$filter", "$search", "ConsistencyLevel"},
		status: 200, schema: schemaCount},
	{method: "GET", path: "/v1.0/directory/deletedItems/{id}", id: "getDeletedUser", summary: "Get a deleted user.",
		params: []string{"$select"}, status: 200, schema: schemaUser, headers: []string{"ETag"}},
	{method: "POST", path: "/v1.0/directory/deletedItems/{id}/restore", id: "restoreDeletedUser",
		summary: "Restore a deleted user (400 ObjectConflict when its userPrincipalName or an identity was taken meanwhile).",
		status:  200, schema: schemaUser, headers: []string{"ETag"}},
	{method: "DELETE", path: "/v1.0/directory/deletedItems/{id}", id: "purgeDeletedUser",
		summary: "Permanently delete a deleted user.", status: 204},

	{method: "POST", path: "/v1.0/me/changePassword", id: "changeMyPassword",
		summary: "Change the signed-in user's password (currentPassword, newPassword).", body: schemaObject, status: 204},
	{method: "GET", path: "/v1.0/auditLogs/directoryAudits", id: "listDirectoryAudits",
		summary: "List the tenant's directory audit events.", params: []string{"$filter", "$top", "$skiptoken"}, status: 200, schema: schemaCollection},
	{method: "POST", path: "/v1.0/$batch", id: "batch", body: "BatchRequest", status: 200, schema: "BatchResponse",
		summary: "Run up to 20 requests in one call (JSON batching); each is authorized and throttled as if sent alone."},

	{method: "GET", path: "/v1.0/roleManagement/directory/roleDefinitions", id: "listRoleDefinitions",
		summary: "List the directory role definitions.", params: []string{"$filter", "$select", "$top"}, status: 200, schema: schemaCollection},
	{method: "GET", path: "/v1.0/roleManagement/directory/roleDefinitions/{id}", id: "getRoleDefinition",
		summary: "Get a directory role definition.", status: 200, schema: schemaObject},
	{method: "GET", path: "/v1.0/roleManagement/directory/roleAssignments", id: "listRoleAssignments",
		summary: "List directory role assignments.", params: []string{"$filter", "$select", "$top", "$expand"}, status: 200, schema: schemaCollection},
	{method: "POST", path: "/v1.0/roleManagement/directory/roleAssignments", id: "createRoleAssignment",
		summary: "Assign a directory role.", body: schemaObject, status: 201, schema: schemaObject},
	{method: "GET", path: "/v1.0/roleManagement/directory/roleAssignments/{id}", id: "getRoleAssignment",
		summary: "Get a directory role assignment.", status: 200, schema: schemaObject},
	{method: "DELETE", path: "/v1.0/roleManagement/directory/roleAssignments/{id}", id: "deleteRoleAssignment",
		summary: "Remove a directory role assignment.", status: 204},

	{method: "GET", path: "/v1.0/applications", id: "listApplications", summary: "List the tenant's applications.",
		params: []string{"$filter", "$select", "$top"}, status: 200, schema: schemaCollection},
	{method: "POST", path: "/v1.0/applications", id: "createApplication", summary: "Register an application.",
		body: schemaObject, status: 201, schema: schemaObject},
	{method: "GET", path: "/v1.0/applications/{key}", id: "getApplication", summary: "Get an application by id or appId.",
		params: []string{"$select"}, status: 200, schema: schemaObject},
	{method: "PATCH", path: "/v1.0/applications/{key}", id: "updateApplication", summary: "Update an application.",
		body: schemaObject, status: 204},
	{method: "DELETE", path: "/v1.0/applications/{key}", id: "deleteApplication", summary: "Delete an application.", status: 204},
	{method: "POST", path: "/v1.0/applications/{key}/addPassword", id: "addApplicationPassword",
		summary: "Add a client secret; its secretText is returned once.", body: schemaObject, status: 200, schema: schemaObject},
	{method: "POST", path: "/v1.0/applications/{key}/removePassword", id: "removeApplicationPassword",
		summary: "Remove a client secret by keyId.", body: schemaObject, status: 204},
	{method: "GET", path: "/v1.0/applications/{key}/extensionProperties", id: "listExtensionProperties",
		summary: "List the directory extension properties an application defines.", status: 200, schema: schemaCollection},
	{method: "POST", path: "/v1.0/applications/{key}/extensionProperties", id: "createExtensionProperty", body: schemaObject,
		summary: "Define a directory extension property (name, dataType, targetObjects, isMultiValued) for users.", status: 201, schema: schemaObject, headers: []string{"Location"}},
	{method: "GET", path: "/v1.0/applications/{key}/extensionProperties/{id}", id: "getExtensionProperty",
		summary: "Get a directory extension property.", status: 200, schema: schemaObject},
	{method: "DELETE", path: "/v1.0/applications/{key}/extensionProperties/{id}", id: "deleteExtensionProperty",
		summary: "Delete a directory extension property and every value of it.", status: 204},

	{method: "POST", path: "/{tenant}/oauth2/v2.0/token", id: "token", public: true, oauth: true,
		summary: "The built-in issuer's token endpoint (client credentials grant).", status: 200, schema: schemaObject},
	{method: "GET", path: "/{tenant}/discovery/v2.0/keys", id: "getJWKS", public: true,
		summary: "The built-in issuer's signing keys (JWKS) for a tenant.", status: 200, schema: schemaObject},
	{method: "GET", path: "/{tenant}/v2.0/.well-known/openid-configuration", id: "getOpenIDConfiguration", public: true,
		summary: "The built-in issuer's OpenID Connect discovery document for a tenant.", status: 200, schema: schemaObject},
	{method: "GET", path: "/healthz", id: "health", public: true, summary: "Liveness: the process serves HTTP.", status: 200, schema: schemaStatus},
	{method: "GET", path: "/readyz", id: "ready", public: true,
		summary: "Readiness: the database answers and its schema is current; 503 otherwise.", status: 200, schema: schemaStatus},
	{method: "GET", path: "/openapi.json", id: "openapi", public: true, summary: "This document.", status: 200, schema: schemaObject},
}

type obj = map[string]any

var openAPIDocument = sync.OnceValue(func() []byte {
	b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
	if err != nil {
		panic(err) // maps of strings and numbers: cannot fail
	}
	return b
})

// OpenAPIDocument returns the OpenAPI 3 document as JSON.
func OpenAPIDocument() []byte { return openAPIDocument() }

// handleOpenAPI serves the document.
func (s *server) handleOpenAPI(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=3600")
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(OpenAPIDocument())
}

func ref(name string) obj { return obj{"$ref": "#/components/schemas/" + name} }

func buildOpenAPI() obj {
	paths := obj{}
	for _, op := range apiOps {
		item, _ := paths[op.path].(obj)
		if item == nil {
			item = obj{}
			paths[op.path] = item
		}
		item[strings.ToLower(op.method)] = operationObject(op)
	}
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "graphdir",
			"version":     "1.0",
			"description": "A Microsoft Graph v1.0-compatible /users directory on PostgreSQL. Errors use Graph's envelope; 429 and 503 carry Retry-After.",
		},
		"paths": paths,
		"components": obj{
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
			"schemas":         schemas(),
			"responses":       errorResponses(),
		},
	}
}

func operationObject(op apiOp) obj {
	o := obj{"operationId": op.id, "summary": op.summary}
	var params []any
	for _, seg := range strings.Split(op.path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, obj{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": obj{"type": "string"}})
		}
	}
	for _, p := range op.params {
		in := "query"
		if !strings.HasPrefix(p, "$") {
			in = "header"
		}
		params = append(params, obj{"name": p, "in": in, "required": false, "schema": obj{"type": "string"}})
	}
	if !op.public {
		o["security"] = []any{obj{"bearer": []any{}}}
		params = append(params, obj{"name": "client-request-id", "in": "header", "required": false, "schema": obj{"type": "string"}})
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	switch {
	case op.oauth:
		o["requestBody"] = obj{"required": true, "content": obj{"application/x-www-form-urlencoded": obj{"schema": ref("TokenRequest")}}}
	case op.body != "":
		o["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": ref(op.body)}}}
	}
	ok := obj{"description": http.StatusText(op.status)}
	switch op.schema {
	case "":
	case schemaCount:
		ok["content"] = obj{"text/plain": obj{"schema": obj{"type": "string", "pattern": "^[0-9]+$"}}}
	default:
		ok["content"] = obj{"application/json": obj{"schema": ref(op.schema)}}
	}
	hdrs := obj{}
	for _, h := range append([]string{"request-id"}, op.headers...) {
		hdrs[h] = obj{"schema": obj{"type": "string"}}
	}
	if !op.public {
		hdrs["client-request-id"] = obj{"schema": obj{"type": "string"}}
		hdrs["x-ms-resource-unit"] = obj{"schema": obj{"type": "string"}, "description": "Resource units the request cost."}
	}
	ok["headers"] = hdrs
	responses := obj{
		strconv.Itoa(op.status): ok,
		"default":               obj{"$ref": "#/components/responses/Error"},
		"503":                   obj{"$ref": "#/components/responses/ServiceUnavailable"},
	}
	if op.oauth {
		responses["default"] = obj{"$ref": "#/components/responses/OAuthError"}
		delete(responses, "503")
	}
	if !op.public {
		responses["429"] = obj{"$ref": "#/components/responses/TooManyRequests"}
	}
	o["responses"] = responses
	return o
}

func errorResponses() obj {
	content := obj{"application/json": obj{"schema": ref("Error")}}
	retry := obj{"required": true, "schema": obj{"type": "string", "pattern": "^[0-9]+$"},
		"description": "Seconds to wait before retrying."}
	return obj{
		"Error": obj{"description": "Graph error envelope.", "content": content},
		"OAuthError": obj{"description": "OAuth 2.0 error response (RFC 6749 5.2).",
			"content": obj{"application/json": obj{"schema": ref("OAuthError")}}},
		"TooManyRequests": obj{"description": "Throttled (Graph's TooManyRequests).", "content": content,
			"headers": obj{
				"Retry-After":               retry,
				"x-ms-throttle-scope":       obj{"required": true, "schema": obj{"type": "string"}},
				"x-ms-throttle-information": obj{"required": true, "schema": obj{"type": "string"}},
			}},
		"ServiceUnavailable": obj{"description": "Database unavailable, not ready, or the instance is at its concurrency limit.",
			"content": content, "headers": obj{"Retry-After": retry}},
	}
}

func schemas() obj {
	read := obj{"@odata.context": obj{"type": "string"}, "@odata.etag": obj{"type": "string"},
		"@odata.type": obj{"type": "string", "enum": []any{odataTypeUser}}}
	write := obj{"@odata.type": obj{"type": "string", "enum": []any{odataTypeUser}}}
	props := append([]*directory.Property(nil), directory.UserProperties()...)
	sort.Slice(props, func(i, j int) bool { return props[i].Name < props[j].Name })
	for _, p := range props {
		s := propertySchema(p)
		if !p.WriteOnly {
			read[p.Name] = s
		}
		if !p.ReadOnly {
			write[p.Name] = s
		}
	}
	nullableString := obj{"type": "string", "nullable": true}
	return obj{
		"User":      obj{"type": "object", "properties": read, "additionalProperties": false},
		"UserWrite": obj{"type": "object", "properties": write, "additionalProperties": false},
		"UserCollection": obj{"type": "object", "required": []any{"@odata.context", "value"}, "additionalProperties": false,
			"properties": obj{
				"@odata.context":  obj{"type": "string"},
				"@odata.count":    obj{"type": "integer"},
				"@odata.nextLink": obj{"type": "string"},
				"value":           obj{"type": "array", "items": ref("User")},
			}},
		"ObjectIdentity": obj{"type": "object", "additionalProperties": false, "properties": obj{
			"signInType": nullableString, "issuer": nullableString, "issuerAssignedId": nullableString,
		}},
		"PasswordProfile": obj{"type": "object", "additionalProperties": false, "properties": obj{
			"password":                             nullableString,
			"forceChangePasswordNextSignIn":        obj{"type": "boolean", "nullable": true},
			"forceChangePasswordNextSignInWithMfa": obj{"type": "boolean", "nullable": true},
		}},
		"Object": obj{"type": "object", "additionalProperties": true},
		"TokenRequest": obj{"type": "object", "required": []any{"grant_type", "client_id", "scope"}, "properties": obj{
			"grant_type": obj{"type": "string", "enum": []any{"client_credentials"}}, "client_id": obj{"type": "string"},
			"client_secret": obj{"type": "string"}, "scope": obj{"type": "string"},
		}},
		"OAuthError": obj{"type": "object", "required": []any{"error"}, "properties": obj{
			"error": obj{"type": "string"}, "error_description": obj{"type": "string"},
		}},
		"ObjectCollection": obj{"type": "object", "required": []any{"value"}, "properties": obj{"value": obj{"type": "array", "items": ref("Object")}}},
		"Status":           obj{"type": "object", "required": []any{"status"}, "properties": obj{"status": obj{"type": "string"}}},
		"BatchRequest":     batchRequestSchema(),
		"BatchResponse":    batchResponseSchema(),
		"Error": obj{"type": "object", "required": []any{"error"}, "additionalProperties": false, "properties": obj{
			"error": obj{"type": "object", "required": []any{"code", "message", "innerError"}, "additionalProperties": false,
				"properties": obj{
					"code":    obj{"type": "string"},
					"message": obj{"type": "string"},
					"target":  obj{"type": "string"},
					"details": obj{"type": "array", "items": obj{"type": "object", "properties": obj{
						"code": obj{"type": "string"}, "message": obj{"type": "string"}, "target": obj{"type": "string"},
					}}},
					"innerError": obj{"type": "object", "required": []any{"date", "request-id", "client-request-id"}, "properties": obj{
						"date": obj{"type": "string"}, "request-id": obj{"type": "string"}, "client-request-id": obj{"type": "string"},
					}},
				}},
		}},
	}
}

func propertySchema(p *directory.Property) obj {
	switch p.Type {
	case directory.TypeBool:
		return obj{"type": "boolean", "nullable": true}
	case directory.TypeDateTime:
		return obj{"type": "string", "format": "date-time", "nullable": true}
	case directory.TypeStringCollection:
		return obj{"type": "array", "items": obj{"type": "string"}}
	case directory.TypeIdentities:
		return obj{"type": "array", "items": ref("ObjectIdentity")}
	case directory.TypePasswordProfile:
		return ref("PasswordProfile")
	}
	return obj{"type": "string", "nullable": true}
}
