package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// apiPrefix is the Graph version segment every authenticated route lives under.
const apiPrefix = "/v1.0"

// addRoutes registers every route of the API. Each /v1.0 route names the
// operation it performs: authorize checks it before the handler parses any
// query option or body, so unauthorised callers never reach a parser.
//
// Graph's key-in-parentheses form, /v1.0/users('key'), is rewritten to
// /v1.0/users/'key' before routing (rewriteKeySegment), so the :key routes
// serve both forms.
func (s *server) addRoutes(r *gin.Engine) {
	r.GET(apiPrefix+"/users", s.authorize(directory.OpListUsers), s.handleListUsers)
	r.POST(apiPrefix+"/users", s.authorize(directory.OpCreateUser), s.handleCreateUser)
	r.GET(apiPrefix+"/users/$count", s.authorize(directory.OpListUsers), s.handleCountUsers)
	r.GET(apiPrefix+"/users/delta", s.authorize(directory.OpListUsers), s.handleUsersDelta)
	r.GET(apiPrefix+"/users/:key", s.authorize(directory.OpReadUser), s.handleGetUser)
	r.PATCH(apiPrefix+"/users/:key", s.authorize(directory.OpUpdateUser), s.preconditions, s.handleUpdateUser)
	r.DELETE(apiPrefix+"/users/:key", s.authorize(directory.OpDeleteUser), s.preconditions, s.handleDeleteUser)
	r.GET(apiPrefix+"/me", s.authorize(directory.OpReadSelf), s.handleGetMe)
	r.PATCH(apiPrefix+"/me", s.authorize(directory.OpUpdateSelf), s.preconditions, s.handleUpdateMe)
	r.POST(apiPrefix+"/me/changePassword", s.authorizeCaller(directory.AuthorizeChangePassword, &directory.ActivityChangePassword), s.handleChangePassword)
	r.GET(apiPrefix+"/auditLogs/directoryAudits", s.authorizeCaller(directory.AuthorizeAuditRead, nil), s.handleListDirectoryAudits)
	// Any authenticated caller may batch; each request inside is
	// authenticated, authorized and throttled on its own (batch.go).
	r.POST(batchPath, s.handleBatch)
	s.addRoleRoutes(r)
	s.addDeletedItemsRoutes(r) // deleted.go
	s.addApplicationRoutes(r)
	s.addExtensionPropertyRoutes(r) // extensions.go

	// The built-in issuer's public documents: no authentication.
	r.GET("/:tenant/discovery/v2.0/keys", s.handleJWKS)
	r.GET("/:tenant/v2.0/.well-known/openid-configuration", s.handleDiscovery)
	// Its token endpoint (client credentials): POST only, no bearer token.
	r.POST("/:tenant/oauth2/v2.0/token", s.handleToken)
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		r.Handle(m, "/:tenant/oauth2/v2.0/token", s.handleTokenMethod)
	}

	r.GET("/healthz", s.handleHealth)
	r.GET("/readyz", s.handleReady)
	// The API description: no authentication, like the issuer documents.
	r.GET("/openapi.json", s.handleOpenAPI)

	// authenticate (a global middleware) has already run for /v1.0 paths,
	// so unknown routes and wrong methods there answer only authenticated
	// callers; everyone else gets the 401 first.
	r.NoRoute(s.handleNoRoute)
	r.NoMethod(s.handleNoMethod)
}
