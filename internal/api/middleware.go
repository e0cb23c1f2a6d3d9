package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/graphdir/graphdir/internal/directory"
)

// idsKey is the gin context key of a request's ids.
const idsKey = "graphdir.ids"

// ids are a request's own id (always generated here) and the id the client
// chose for it (echoed, or the request id when the client sent none).
type ids struct {
	requestID       string
	clientRequestID string
}

func requestIDs(c *gin.Context) ids {
	if v, ok := c.Get(idsKey); ok {
		return v.(ids)
	}
	return ids{}
}

// maxClientRequestID bounds the echoed client-request-id; Graph expects a GUID.
const maxClientRequestID = 128

// requestID gives every request a fresh GUID. A client's value is never
// used as the request id; it is echoed as client-request-id when it is
// short printable ASCII, so it cannot smuggle anything into headers or logs.
func (s *server) requestID(c *gin.Context) {
	id := ids{requestID: uuid.NewString()}
	id.clientRequestID = id.requestID
	if v := c.GetHeader("client-request-id"); v != "" && validClientRequestID(v) {
		id.clientRequestID = v
	}
	c.Set(idsKey, id)
	// The domain reads it too (audit events' correlationId).
	c.Request = c.Request.WithContext(directory.WithRequestID(c.Request.Context(), id.requestID))
	h := c.Writer.Header()
	h.Set("request-id", id.requestID)
	h.Set("client-request-id", id.clientRequestID)
	c.Next()
}

func validClientRequestID(v string) bool {
	if len(v) > maxClientRequestID {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// accessLog writes one line per request. It logs the route template, never
// the path (which may hold a userPrincipalName), the query, headers, tokens
// or bodies.
func (s *server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	id := requestIDs(c)
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("latency", time.Since(start)),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
		slog.String("request_id", id.requestID),
		slog.String("client_request_id", id.clientRequestID),
		slog.String("remote_ip", c.ClientIP()),
	}
	if p := directory.PrincipalFrom(c.Request.Context()); p != nil {
		attrs = append(attrs, slog.String("tenant_id", p.TenantID), slog.String("app_id", p.AppID))
		if p.UserID != "" {
			attrs = append(attrs, slog.String("user_id", p.UserID))
		}
	}
	s.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
}

// recoverPanic turns a panic into Graph's 500 without internals and logs
// it, with the stack, against the request id.
func (s *server) recoverPanic(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v) // the server's own signal to drop the connection
		}
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "panic",
			slog.String("request_id", requestIDs(c).requestID),
			slog.String("panic", fmt.Sprint(v)),
			slog.String("stack", string(debug.Stack())))
		// Already logged with more context than writeError would add.
		s.renderError(c, directory.Errorf(directory.KindInternal, "An internal error occurred."))
	}()
	c.Next()
}

// underAPI reports whether path is /v1.0 or below it.
func underAPI(path string) bool {
	return path == apiPrefix || strings.HasPrefix(path, apiPrefix+"/")
}

// authenticate verifies the caller of every /v1.0 request, known route or
// not, and puts the Principal into the request context. Other paths (issuer
// documents, health) pass through.
func (s *server) authenticate(c *gin.Context) {
	if !underAPI(c.Request.URL.Path) || publicAPIPath(c.Request.URL.Path) {
		c.Next()
		return
	}
	p, err := s.verifier.Verify(c.Request.Context(), c.Request.Header.Values("Authorization"))
	if err == nil && p == nil {
		err = directory.Errorf(directory.KindUnauthenticated, "Access token is empty.")
	}
	if err == nil {
		// After validation, never before: a token that fails validation
		// costs no query. Cached per instance (directory/sessions.go).
		err = s.dir.CheckSignInSession(c.Request.Context(), p)
	}
	if err != nil {
		s.countTokenFailure(err)
		if directory.KindOf(err) == directory.KindBadRequest {
			// RFC 6750 3.1: a malformed request (two credentials) is
			// invalid_request.
			c.Header("WWW-Authenticate", `Bearer realm="`+realm+`", error="invalid_request"`)
		}
		s.writeError(c, err)
		return
	}
	c.Request = c.Request.WithContext(directory.WithPrincipal(c.Request.Context(), p))
	c.Next()
}

// OperationAuthorizer checks, before any parsing, what a caller may
// attempt at all: the token's permissions and a signed-in user's directory
// roles (directory.Service.AuthorizeOperation).
type OperationAuthorizer interface {
	AuthorizeOperation(ctx context.Context, op directory.Operation) error
}

// authorize checks that the caller may attempt op at all, before the
// handler parses anything.
func (s *server) authorize(op directory.Operation) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := s.dir.AuthorizeOperation(c.Request.Context(), op); err != nil {
			s.recordDenied(c, op, err) // audit.go: refused writes join the audit trail
			s.writeError(c, err)
			return
		}
		c.Next()
		if act, ok := directory.AuditedActivity(op, c.Request.Method); ok {
			s.recordRefusal(c, act) // and so do writes the handler refused
		}
	}
}
