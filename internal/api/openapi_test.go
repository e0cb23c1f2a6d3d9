package api

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/throttle"
)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	return doc
}

// openAPIPath turns a Gin route ("/v1.0/users/:key") into the document's
// form ("/v1.0/users/{key}").
func openAPIPath(ginPath string) string {
	segs := strings.Split(ginPath, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(segs, "/")
}

// TestEveryRouteIsDocumented keeps the document and the router in step:
// every route of the engine is in the document and every documented
// operation is a route.
func TestEveryRouteIsDocumented(t *testing.T) {
	doc := loadOpenAPI(t)
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	(&server{}).addRoutes(engine)
	routes := map[string]bool{}
routes:
	for _, r := range engine.Routes() {
		for _, h := range undocumentedHandlers {
			if strings.HasSuffix(r.Handler, "."+h+"-fm") {
				continue routes
			}
		}
		p := openAPIPath(r.Path)
		routes[r.Method+" "+p] = true
		item := doc.Paths.Find(p)
		if item == nil || item.GetOperation(r.Method) == nil {
			t.Errorf("route %s %s is not in the OpenAPI document (internal/api/openapi.go apiOps)", r.Method, r.Path)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !routes[method+" "+path] {
				t.Errorf("the OpenAPI document describes %s %s, which no route serves", method, path)
			}
		}
	}
}

func TestOpenAPIServedWithoutAuth(t *testing.T) {
	a := newTestAPI(t)
	w := a.do(t, request{method: "GET", target: "/openapi.json"})
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), OpenAPIDocument()) {
		t.Fatalf("status %d", w.Code)
	}
}

// TestResponsesMatchOpenAPI sends representative requests, successes and
// errors, through the real router and validates each response (status,
// headers, body) against the operation the document gives for it.
func TestResponsesMatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	lim := throttle.New(throttle.Limits{ResourceUnits: 2, AppTenantWindow: time.Hour}, nil)
	lim.SetClock(clock.Now)
	a := newTestAPI(t)
	throttled := newTestAPI(t, func(o *Options) { o.Throttle = lim })
	full := sampleUser()
	full.Identities = []directory.Identity{{SignInType: "emailAddress", Issuer: "contoso.com", IssuerAssignedID: "a@b.c"}}
	full.CreatedDateTime = ptr(time.Unix(1_600_000_000, 0).UTC())
	full.OtherMails = []string{"x@y.z"}
	a.users.user = full
	a.users.page = &directory.Page{Users: []*directory.User{full, sampleUser()}, Count: ptr(int64(2))}
	a.users.count = 2

	type tc struct {
		name          string
		op            string // method and document path
		req           request
		status        int
		before, after func()
		api           *testAPI
	}
	createBody := []byte(`{"accountEnabled":true,"displayName":"A","mailNickname":"a","userPrincipalName":"a@contoso.com","passwordProfile":{"password":"Secret-123!","forceChangePasswordNextSignIn":true}}`)
	cases := []tc{
		{name: "list", op: "GET /v1.0/users", req: request{method: "GET", target: "/v1.0/users?$count=true", token: "app-read"}, status: 200},
		{name: "list select", op: "GET /v1.0/users", req: request{method: "GET", target: "/v1.0/users?$select=id,identities,createdDateTime,accountEnabled,otherMails", token: "app-read"}, status: 200},
		{name: "count", op: "GET /v1.0/users/$count", req: request{method: "GET", target: "/v1.0/users/$count", token: "app-rw-b", header: map[string]string{"ConsistencyLevel": "eventual"}}, status: 200},
		{name: "get", op: "GET /v1.0/users/{key}", req: request{method: "GET", target: "/v1.0/users/87d349ed-44d7-43e1-9a83-5f2406dee5bd", token: "app-rw-b"}, status: 200},
		{name: "me", op: "GET /v1.0/me", req: request{method: "GET", target: "/v1.0/me", token: "user-rw"}, status: 200},
		{name: "create", op: "POST /v1.0/users", req: request{method: "POST", target: "/v1.0/users", token: "app-rw-b", body: createBody}, status: 201},
		{name: "patch", op: "PATCH /v1.0/users/{key}", req: request{method: "PATCH", target: "/v1.0/users/x", token: "app-rw-b", body: []byte(`{"city":"Oslo"}`)}, status: 204},
		{name: "patch me", op: "PATCH /v1.0/me", req: request{method: "PATCH", target: "/v1.0/me", token: "user-rw", body: []byte(`{"city":"Oslo"}`)}, status: 204},
		{name: "delete", op: "DELETE /v1.0/users/{key}", req: request{method: "DELETE", target: "/v1.0/users/x", token: "app-rw-b"}, status: 204},
		{name: "health", op: "GET /healthz", req: request{method: "GET", target: "/healthz"}, status: 200},
		{name: "ready", op: "GET /readyz", req: request{method: "GET", target: "/readyz"}, status: 200},
		{name: "openapi", op: "GET /openapi.json", req: request{method: "GET", target: "/openapi.json"}, status: 200},
		{name: "jwks", op: "GET /{tenant}/discovery/v2.0/keys", req: request{method: "GET", target: "/" + tenantA + "/discovery/v2.0/keys"}, status: 200},
		{name: "discovery", op: "GET /{tenant}/v2.0/.well-known/openid-configuration", req: request{method: "GET", target: "/" + tenantA + "/v2.0/.well-known/openid-configuration"}, status: 200},
		{name: "jwks unknown tenant", op: "GET /{tenant}/discovery/v2.0/keys", req: request{method: "GET", target: "/" + tenantB + "/discovery/v2.0/keys"}, status: 404},

		{name: "401", op: "GET /v1.0/users", req: request{method: "GET", target: "/v1.0/users"}, status: 401},
		{name: "403", op: "POST /v1.0/users", req: request{method: "POST", target: "/v1.0/users", token: "app-read", body: createBody}, status: 403},
		{name: "400 filter", op: "GET /v1.0/users", req: request{method: "GET", target: "/v1.0/users?$filter=displayName%20eq", token: "app-rw-b"}, status: 400},
		{name: "400 body", op: "POST /v1.0/users", req: request{method: "POST", target: "/v1.0/users", token: "app-rw-b", body: []byte(`{"DisplayName":"x"}`)}, status: 400},
		{name: "413", op: "POST /v1.0/users", req: request{method: "POST", target: "/v1.0/users", token: "app-rw-b", body: []byte(`{"displayName":"` + strings.Repeat("x", 5000) + `"}`)}, status: 413},
		{name: "404", op: "GET /v1.0/users/{key}", req: request{method: "GET", target: "/v1.0/users/nobody", token: "app-rw-b"}, status: 404,
			before: func() { a.users.err = directory.ErrNotFoundUser("nobody") }, after: func() { a.users.err = nil }},
		{name: "503 from the store", op: "GET /v1.0/users/{key}", req: request{method: "GET", target: "/v1.0/users/x", token: "app-rw-b"}, status: 503,
			before: func() {
				a.users.err = &directory.Error{Kind: directory.KindUnavailable, Message: "The service is temporarily unavailable.", Err: errBoom}
			}, after: func() { a.users.err = nil }},
		{name: "500", op: "GET /v1.0/users/{key}", req: request{method: "GET", target: "/v1.0/users/x", token: "app-rw-b"}, status: 500,
			before: func() { a.users.err = errBoom }, after: func() { a.users.err = nil }},
		// app-rw has a 2-unit bucket: one list, then 429.
		{name: "before throttling", op: "GET /v1.0/users", req: request{method: "GET", target: "/v1.0/users", token: "app-rw"}, status: 200, api: throttled},
		{name: "429", op: "GET /v1.0/users", req: request{method: "GET", target: "/v1.0/users", token: "app-rw"}, status: 429, api: throttled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.before != nil {
				c.before()
			}
			if c.after != nil {
				defer c.after()
			}
			api := a
			if c.api != nil {
				api = c.api
			}
			w := api.do(t, c.req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
			method, path, _ := strings.Cut(c.op, " ")
			validateAgainst(t, doc, method, path, c.req, w)
		})
	}
}

func validateAgainst(t *testing.T, doc *openapi3.T, method, path string, r request, w *httptest.ResponseRecorder) {
	t.Helper()
	item := doc.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("%s %s is not documented", method, path)
	}
	httpReq := httptest.NewRequest(r.method, "http://graph.test:8080"+r.target, nil)
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: httpReq,
			Route:   &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: item.GetOperation(method)},
			Options: &openapi3filter.Options{IncludeResponseStatus: true},
		},
		Status:  w.Code,
		Header:  w.Header(),
		Body:    io.NopCloser(bytes.NewReader(w.Body.Bytes())),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("response does not match the document: %v\nheaders: %v\nbody: %.600s", err, w.Header(), w.Body.String())
	}
	if w.Code == http.StatusTooManyRequests || w.Code == http.StatusServiceUnavailable {
		if w.Header().Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	}
}
