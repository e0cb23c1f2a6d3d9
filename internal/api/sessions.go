package api

import (
	"bytes"
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// SessionRevoker serves revokeSignInSessions and the sign-in session check
// of delegated tokens (directory/sessions.go).
type SessionRevoker interface {
	// RevokeSignInSessions revokes the sessions of the user key ("" for
	// the signed-in user).
	RevokeSignInSessions(ctx context.Context, key string) error
	// CheckSignInSession refuses (401) a delegated token of the built-in
	// issuer issued before the user's signInSessionsValidFromDateTime.
	CheckSignInSession(ctx context.Context, p *directory.Principal) error
}

// authorizeRevoke is the early check of POST
// /users/{key}/revokeSignInSessions: the token's permissions, audited as
// a refused revocation of the addressed user.
func (s *server) authorizeRevoke(c *gin.Context) {
	if err := directory.AuthorizeRevokeSignInSessions(directory.PrincipalFrom(c.Request.Context())); err != nil {
		if directory.IsDenial(err) {
			s.dir.RecordDenied(c.Request.Context(), directory.ActivityRevokeSignInSessions, auditTarget(c), err)
		}
		s.writeError(c, err)
		return
	}
	c.Next()
	s.recordRefusal(c, directory.ActivityRevokeSignInSessions)
}

// handleRevokeSignInSessions serves POST /users/{key}/revokeSignInSessions.
func (s *server) handleRevokeSignInSessions(c *gin.Context) {
	key, err := userKey(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.revokeSessions(c, key)
}

// handleRevokeMySignInSessions serves POST /me/revokeSignInSessions.
func (s *server) handleRevokeMySignInSessions(c *gin.Context) { s.revokeSessions(c, "") }

// revokeSessions answers Graph's action result, {"value": true}. The
// action has no parameters: the body is empty or an empty JSON object.
func (s *server) revokeSessions(c *gin.Context, key string) {
	if _, err := parseQuery(c.Request.URL.RawQuery, routeOptions(c)); err != nil {
		s.writeError(c, err)
		return
	}
	if c.Request.ContentLength != 0 {
		data, err := s.readBody(c)
		if err != nil {
			s.writeError(c, err)
			return
		}
		if t := bytes.TrimSpace(data); len(t) > 0 && !bytes.Equal(bytes.Join(bytes.Fields(t), nil), []byte("{}")) {
			s.writeError(c, directory.Errorf(directory.KindBadRequest, "revokeSignInSessions takes no parameters; send no body or an empty JSON object."))
			return
		}
	}
	if err := s.dir.RevokeSignInSessions(c.Request.Context(), key); err != nil {
		s.writeError(c, err)
		return
	}
	writeJSON(c, http.StatusOK, marshalJSON(struct {
		Context string `json:"@odata.context"`
		Value   bool   `json:"value"`
	}{s.base(c.Request) + apiPrefix + "/$metadata#Edm.Boolean", true}))
}
