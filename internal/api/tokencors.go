package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/oauth"
)

// CodeExchanger is the authorization code grant (*oauth.Server).
type CodeExchanger interface {
	AuthorizationCode(ctx context.Context, r oauth.Request) (*oauth.TokenResponse, error)
}

// Revoker is RFC 7009 revocation (*oauth.Server).
type Revoker interface {
	Revoke(ctx context.Context, r oauth.Request, token string) error
}

var (
	_ CodeExchanger = (*oauth.Server)(nil)
	_ Revoker       = (*oauth.Server)(nil)
)

// tokenCORS grants a cross-origin token request from the origin of a spa
// redirect URI registered in the tenant (msal-browser redeems codes and
// refresh tokens with fetch, without a preflight: browser-redirect.md rule
// 11). No credentials mode: the body carries everything. The grant does not
// decide anything else: the grant itself checks that the origin is the
// client's.
func (s *server) tokenCORS(c *gin.Context, tenant string) bool {
	origin := c.Request.Header.Get("Origin")
	if c.Writer.Header().Get("Access-Control-Allow-Origin") != "" {
		return true // granted already (native authentication's nativeCORS runs first on /token)
	}
	c.Writer.Header().Add("Vary", "Origin")
	if origin == "" || s.browser == nil || s.origins == nil || len(origin) > 512 {
		return false
	}
	// The instance's origin cache (cors.go), shared with the Graph API's
	// and native authentication's CORS.
	if !s.origins.registered(c.Request.Context(), strings.ToLower(tenant), strings.ToLower(origin)) {
		return false
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", "request-id, client-request-id, Retry-After")
	return true
}

// handleTokenPreflight answers OPTIONS on the revocation endpoint (the
// token endpoint's is native authentication's, which grants the same
// origins): the CORS preflight a browser sends when a request carries a
// header outside the safelist (X-AnchorMailbox, DPoP).
func (s *server) handleTokenPreflight(c *gin.Context) {
	tenant := c.Param("tenant")
	if s.token == nil || "/"+tenant == apiPrefix {
		s.handleNoRoute(c)
		return
	}
	if !s.tokenCORS(c, tenant) {
		c.Header("Allow", "POST")
		s.writeOAuthErrorStatus(c, http.StatusMethodNotAllowed, oauth.ErrInvalidRequest(900561, "The endpoint only accepts POST requests."))
		return
	}
	h := c.Writer.Header()
	h.Set("Access-Control-Allow-Methods", "POST")
	if req := c.Request.Header.Get("Access-Control-Request-Headers"); req != "" && len(req) <= 512 && tokenHeaderList(req) {
		h.Set("Access-Control-Allow-Headers", req)
	}
	h.Set("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
	c.Abort()
}

// tokenHeaderList accepts a comma-separated list of header names (token
// characters only), so that the echo cannot inject anything.
func tokenHeaderList(v string) bool {
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == ',', r == ' ':
		default:
			return false
		}
	}
	return true
}
