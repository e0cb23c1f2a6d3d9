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
// data). The operations come from the route table (routes.go), the same
// rows the Gin engine is built from; the user schemas are generated from
// directory's property table, so they cannot disagree with what the
// handlers write. A test validates real responses against the document.

const (
	schemaUser           = "User"
	schemaUserCollection = "UserCollection"
	schemaUserWrite      = "UserWrite"
	schemaObject         = "Object"
	schemaApplication    = "Application"
	schemaCollection     = "ObjectCollection"
	schemaStatus         = "Status"
	schemaCount          = "count"
	schemaXML            = "xml"
	schemaStream         = "stream" // image bytes (branding logos)
	schemaHTML           = "html"
)

type obj = map[string]any

// openAPI holds the document, built once on first use. (A sync.OnceValue
// variable would be an initialization cycle: the route table names
// handleOpenAPI, which serves the document.)
var openAPI struct {
	once sync.Once
	doc  []byte
}

// OpenAPIDocument returns the OpenAPI 3 document as JSON.
func OpenAPIDocument() []byte {
	openAPI.once.Do(func() {
		b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
		if err != nil {
			panic(err) // maps of strings and numbers: cannot fail
		}
		openAPI.doc = b
	})
	return openAPI.doc
}

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
	for _, rt := range (&server{}).routes() {
		if rt.undocumented {
			continue
		}
		for i, p := range rt.paths {
			p = openAPIPathOf(p)
			item, _ := paths[p].(obj)
			if item == nil {
				item = obj{}
				paths[p] = item
			}
			id := rt.id
			if i > 0 {
				id += "_" + strconv.Itoa(i+1)
			}
			item[strings.ToLower(rt.method)] = operationObject(rt, p, id)
		}
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

// openAPIPathOf turns a Gin path ("/v1.0/users/:key") into OpenAPI's form
// ("/v1.0/users/{key}").
func openAPIPathOf(ginPath string) string {
	segs := strings.Split(ginPath, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

func operationObject(op route, path, id string) obj {
	o := obj{"operationId": id, "summary": op.summary}
	if op.tag != "" {
		o["tags"] = []any{op.tag}
	}
	var params []any
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") {
			params = append(params, obj{"name": strings.Trim(seg, "{}"), "in": "path", "required": true, "schema": obj{"type": "string"}})
		}
	}
	for _, o := range optionNames {
		if op.options&o.bit != 0 {
			params = append(params, obj{"name": o.name, "in": "query", "required": false, "schema": obj{"type": "string"}})
		}
	}
	for _, h := range op.params {
		params = append(params, obj{"name": h, "in": "header", "required": false, "schema": obj{"type": "string"}})
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
	case op.body == schemaStream:
		o["requestBody"] = obj{"required": false, "content": streamContent("application/octet-stream")}
	case op.body != "":
		o["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{"schema": ref(op.body)}}}
	}
	ok := obj{"description": http.StatusText(op.status)}
	switch op.schema {
	case "":
	case schemaCount:
		ok["content"] = obj{"text/plain": obj{"schema": obj{"type": "string", "pattern": "^[0-9]+$"}}}
	case schemaXML:
		ok["content"] = obj{"application/xml": obj{"schema": obj{"type": "string"}}}
	case schemaStream:
		ok["content"] = streamContent()
	case schemaHTML:
		ok["content"] = obj{"text/html": obj{"schema": obj{"type": "string"}}}
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

// streamContent is the content of an image stream (PNG or JPEG), plus
// extra media types a request may declare.
func streamContent(extra ...string) obj {
	c := obj{}
	for _, mt := range append([]string{"image/png", "image/jpeg"}, extra...) {
		c[mt] = obj{"schema": obj{"type": "string", "format": "binary"}}
	}
	return c
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
	uriList := obj{"type": "array", "maxItems": directory.MaxRedirectURIs, "items": obj{"type": "string", "maxLength": directory.MaxRedirectURILength}}
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
		// Applications are an open type (extension values may follow);
		// the sign-in properties are declared (appsignin.go).
		schemaApplication: applicationSchema(),
		"RedirectUris":    obj{"type": "object", "additionalProperties": false, "properties": obj{"redirectUris": uriList}},
		"WebApplication": obj{"type": "object", "additionalProperties": false, "properties": obj{
			"redirectUris": uriList, "logoutUrl": nullableString, "homePageUrl": nullableString,
			"implicitGrantSettings": obj{"type": "object", "nullable": true, "properties": obj{
				"enableAccessTokenIssuance": obj{"type": "boolean"}, "enableIdTokenIssuance": obj{"type": "boolean"}}},
			"redirectUriSettings": obj{"type": "array", "items": obj{"type": "object"}},
		}},
		"RequiredResourceAccess": obj{"type": "object", "additionalProperties": false, "required": []any{"resourceAppId", "resourceAccess"},
			"properties": obj{
				"resourceAppId": obj{"type": "string", "format": "uuid"},
				"resourceAccess": obj{"type": "array", "items": obj{"type": "object", "additionalProperties": false, "required": []any{"id", "type"},
					"properties": obj{"id": obj{"type": "string", "format": "uuid"}, "type": obj{"type": "string", "enum": []any{"Scope"}}}}},
			}},
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

// undocumentedHandlers names the handlers of the undocumented rows, for the
// test that matches the engine's routes against the document.
var undocumentedHandlers = []string{"handleTokenMethod", "handleNativeMethod", "handleNativePreflight"}

// applicationSchema describes an application as graphdir reads and
// writes it; server-set members are marked readOnly.
func applicationSchema() obj {
	str := obj{"type": "string"}
	ro := func(o obj) obj { o["readOnly"] = true; return o }
	return obj{"type": "object", "additionalProperties": true, "properties": obj{
		"@odata.context":         obj{"type": "string"},
		"@odata.type":            obj{"type": "string", "enum": []any{odataTypeApplication}},
		"id":                     ro(obj{"type": "string"}),
		"appId":                  ro(obj{"type": "string"}),
		"createdDateTime":        ro(obj{"type": "string", "format": "date-time"}),
		"deletedDateTime":        ro(obj{"type": "string", "nullable": true}),
		"displayName":            str,
		"signInAudience":         ro(obj{"type": "string"}),
		"keyCredentials":         ro(obj{"type": "array", "items": ref(schemaObject)}),
		"passwordCredentials":    ro(obj{"type": "array", "items": ref(schemaObject)}),
		"isFallbackPublicClient": obj{"type": "boolean", "nullable": true},
		"nativeAuthenticationApisEnabled": obj{"type": "string", "nullable": true,
			"enum": []any{directory.NativeAuthNone, directory.NativeAuthAll, nil}},
		"publicClient":           ref("RedirectUris"),
		"spa":                    ref("RedirectUris"),
		"web":                    ref("WebApplication"),
		"requiredResourceAccess": obj{"type": "array", "items": ref("RequiredResourceAccess")},
		permissionsProperty:      obj{"type": "array", "items": str},
		directory.PKCERequiredProperty: obj{"type": "boolean", "default": true,
			"description": "graphdir extension: false lets a confidential web app (web.redirectUris) sign in without PKCE; public clients always need it."},
	}}
}
