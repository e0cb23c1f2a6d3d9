package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// readyTimeout bounds one readiness probe.
const readyTimeout = 5 * time.Second

// handleJWKS serves the issuer's signing keys for a tenant.
func (s *server) handleJWKS(c *gin.Context) {
	s.serveIssuerDocument(c, func(ctx context.Context, tenant string) ([]byte, error) { return s.issuer.JWKS(ctx, tenant) })
}

// handleDiscovery serves the issuer's OpenID configuration for a tenant.
func (s *server) handleDiscovery(c *gin.Context) {
	s.serveIssuerDocument(c, func(ctx context.Context, tenant string) ([]byte, error) { return s.issuer.Discovery(ctx, tenant) })
}

func (s *server) serveIssuerDocument(c *gin.Context, get func(context.Context, string) ([]byte, error)) {
	tenant := c.Param("tenant")
	// "/v1.0/discovery/v2.0/keys" also matches the tenant wildcard; it is
	// an unknown API path, not a tenant called v1.0.
	if s.issuer == nil || "/"+tenant == apiPrefix {
		s.handleNoRoute(c)
		return
	}
	doc, err := get(c.Request.Context(), tenant)
	if err != nil {
		s.writeError(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	// Public documents; verifiers refetch on an unknown kid anyway.
	h.Set("Cache-Control", "public, max-age=3600")
	h.Set("Access-Control-Allow-Origin", "*")
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(doc)
}

// handleHealth reports that the process serves HTTP (liveness).
func (s *server) handleHealth(c *gin.Context) {
	writeJSON(c, http.StatusOK, []byte(`{"status":"ok"}`))
}

// handleReady reports whether the service can take traffic (readiness).
func (s *server) handleReady(c *gin.Context) {
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			s.writeError(c, &directory.Error{Kind: directory.KindUnavailable, Message: "The service is not ready.", Err: err})
			return
		}
	}
	writeJSON(c, http.StatusOK, []byte(`{"status":"ready"}`))
}

// handleNoRoute answers a path no route matches. Under /v1.0 it names the
// first unknown segment, as Graph does (400 BadRequest); elsewhere there is
// no such resource (404).
func (s *server) handleNoRoute(c *gin.Context) {
	path := c.Request.URL.Path
	if !underAPI(path) {
		s.writeError(c, errNoResource())
		return
	}
	s.writeError(c, errSegmentNotFound(textlimit.Clip(unknownSegment(path), maxEchoed)))
}

// handleNoMethod answers a known path with a method it does not serve; gin
// has set the Allow header.
func (s *server) handleNoMethod(c *gin.Context) {
	s.writeError(c, errMethodNotAllowed())
}

// unknownSegment returns the first segment of an API path that no route
// serves: /v1.0/{users|me}, /v1.0/users/{key}.
func unknownSegment(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, apiPrefix+"/"), "/")
	switch {
	case path == apiPrefix:
		return ""
	case segs[0] == "users" && len(segs) > 2 && segs[1] != "":
		return segs[2]
	case segs[0] == "users" && len(segs) == 2:
		return segs[1]
	case segs[0] == "me" && len(segs) > 1:
		return segs[1]
	}
	return segs[0]
}
