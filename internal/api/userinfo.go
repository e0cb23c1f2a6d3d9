package api

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/oauth"
)

// handleUserInfo serves GET and POST /oidc/userinfo (OpenID Connect Core
// §5.3): the signed-in user's claims for a delegated access token of the
// built-in issuer, in the header or (POST) the form body. The tenant comes
// from the token, as at Entra's graph.microsoft.com/oidc/userinfo.
func (s *server) handleUserInfo(c *gin.Context) {
	if s.browser == nil {
		s.handleNoRoute(c)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Access-Control-Allow-Origin", "*")
	authz := c.Request.Header.Values("Authorization")
	if c.Request.Method == http.MethodPost && len(authz) == 0 {
		if mt, _, err := mime.ParseMediaType(c.Request.Header.Get("Content-Type")); err == nil && mt == "application/x-www-form-urlencoded" {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxTokenBody)
			if err := c.Request.ParseForm(); err == nil && len(c.Request.PostForm["access_token"]) == 1 {
				authz = []string{"Bearer " + c.Request.PostForm.Get("access_token")}
			}
		}
	}
	ctx := c.Request.Context()
	p, err := s.verifier.Verify(ctx, authz)
	if err == nil && (p == nil || !p.IsUser() || p.Issuer != directory.BuiltinIssuer) {
		err = directory.Errorf(directory.KindUnauthenticated, "The access token is not a user token of this issuer.")
	}
	if err == nil {
		err = s.dir.CheckSignInSession(ctx, p)
	}
	if err != nil {
		if len(authz) == 0 {
			c.Header("WWW-Authenticate", `Bearer realm="`+realm+`"`)
		} else {
			c.Header("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_token", error_description="The access token is invalid."`)
		}
		writeOAuth(c, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The access token is missing, invalid or expired."})
		c.Abort()
		return
	}
	u, err := s.browser.Users.GetUser(ctx, p.TenantID, directory.UserKey{ID: p.UserID})
	if err != nil {
		writeOAuth(c, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "The user of the access token no longer exists."})
		c.Abort()
		return
	}
	var g oauth.UserGrant
	oauth.ProfileClaims(&g, u)
	// Entra's userinfo answers any user token of the issuer, with the
	// profile and email claims (its access tokens leave the OpenID scopes
	// out of scp when API scopes are present, as graphdir's do).
	claims := map[string]any{"sub": strings.ToLower(p.UserID)}
	if g.Name != "" {
		claims["name"] = g.Name
	}
	if g.PreferredUsername != "" {
		claims["preferred_username"] = g.PreferredUsername
	}
	if u.GivenName != nil {
		claims["given_name"] = *u.GivenName
	}
	if u.Surname != nil {
		claims["family_name"] = *u.Surname
	}
	if g.Email != "" {
		claims["email"], claims["email_verified"] = g.Email, g.EmailVerified
	}
	b, _ := json.Marshal(claims)
	c.Header("Content-Type", "application/json; charset=utf-8")
	c.Status(http.StatusOK)
	_, _ = c.Writer.Write(b)
}
