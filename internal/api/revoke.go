package api

import (
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// handleRevoke serves POST /{tenant}/oauth2/v2.0/revoke (RFC 7009, a
// graphdir extension: Entra revokes with revokeSignInSessions only). A
// refresh token's whole family is revoked; an unknown token is 200, as the
// RFC says.
func (s *server) handleRevoke(c *gin.Context) {
	tenant := c.Param("tenant")
	rv, ok := s.token.(Revoker)
	if s.token == nil || !ok || s.browser == nil || "/"+tenant == apiPrefix {
		s.handleNoRoute(c)
		return
	}
	s.tokenCORS(c, tenant)
	r := c.Request
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		s.writeOAuthErrorStatus(c, http.StatusUnsupportedMediaType, oauth.ErrInvalidRequest(0, "The request body must be 'application/x-www-form-urlencoded'."))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxTokenBody))
	if err != nil {
		s.writeOAuthErrorStatus(c, http.StatusRequestEntityTooLarge, oauth.ErrInvalidRequest(0, "The request body is too large."))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || !utf8Form(form) {
		s.writeOAuthError(c, invalidRequest("The request body is not a valid form."), false)
		return
	}
	for k, vs := range form {
		if len(vs) > 1 {
			s.writeOAuthError(c, invalidRequest("The parameter '"+textlimit.Clip(k, maxEchoed)+"' was sent more than once."), false)
			return
		}
	}
	req := oauth.Request{TenantID: tenant, ClientID: form.Get("client_id"), ClientSecret: form.Get("client_secret"), RemoteIP: c.ClientIP()}
	basic := false
	if auth := r.Header.Values("Authorization"); len(auth) == 1 {
		id, secret, err := parseBasic(auth[0], true)
		if err != nil || req.ClientSecret != "" || (req.ClientID != "" && req.ClientID != id) {
			s.writeOAuthError(c, &oauth.Error{Code: oauth.CodeInvalidClient, Description: "The client credentials are malformed or sent twice."}, true)
			return
		}
		req.ClientID, req.ClientSecret, basic = id, secret, true
	} else if len(auth) > 1 {
		s.writeOAuthError(c, invalidRequest("The request has more than one Authorization header."), false)
		return
	}
	if err := rv.Revoke(c.Request.Context(), req, form.Get("token")); err != nil {
		s.writeOAuthError(c, err, basic)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	c.Abort()
}
