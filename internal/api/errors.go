package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// realm is the RFC 6750 realm in every Bearer challenge.
const realm = "graphdir"

// defaultRetryAfter is sent with 429 and 503 when the error does not say
// how long to wait.
const defaultRetryAfter = 5 * time.Second

// edgeError is an error only the HTTP layer can produce (no route, wrong
// method, body too large, unsupported media type). Its status lives here,
// in the one error table, like every other status.
type edgeError struct {
	status  int
	code    string
	message string
}

func (e *edgeError) Error() string { return e.message }

// errSegmentNotFound answers a path under /v1.0 that names no resource.
// Graph words it this way but answers 400; a 404 is what HTTP clients and
// caches expect of a missing resource, so graphdir uses it.
func errSegmentNotFound(segment string) error {
	return &edgeError{http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment '" + segment + "'."}
}

// errNoResource answers paths outside the API entirely.
func errNoResource() error {
	return &edgeError{http.StatusNotFound, "Request_ResourceNotFound", "The requested resource does not exist."}
}

func errMethodNotAllowed() error {
	return &edgeError{http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request target."}
}

func errEntityTooLarge(limit int64) error {
	return &edgeError{http.StatusRequestEntityTooLarge, "Request_EntityTooLarge",
		"The request body exceeds the maximum size of " + strconv.FormatInt(limit, 10) + " bytes."}
}

func errUnsupportedMediaType(msg string) error {
	return &edgeError{http.StatusUnsupportedMediaType, "Request_UnsupportedMediaType", msg}
}

// graphError is the rendered form of any error: status, headers and the
// fields of Graph's error envelope.
type graphError struct {
	status    int
	code      string
	message   string
	target    string
	details   []directory.Detail
	challenge string // WWW-Authenticate
	retry     time.Duration
}

// classify is the error table: directory Kind (or edge error) -> HTTP
// status and Graph error code. It is the only place that picks a status
// for an error.
func classify(err error) graphError {
	var ee *edgeError
	if errors.As(err, &ee) {
		return graphError{status: ee.status, code: ee.code, message: ee.message}
	}
	de := directory.AsError(err)
	g := graphError{message: de.Message, target: de.Target, details: de.Details}
	switch de.Kind {
	case directory.KindInvalid, directory.KindReadOnly, directory.KindConflict:
		g.status, g.code = http.StatusBadRequest, "Request_BadRequest"
	case directory.KindUnsupported:
		g.status, g.code = http.StatusBadRequest, "Request_UnsupportedQuery"
	case directory.KindBadRequest:
		g.status, g.code = http.StatusBadRequest, "BadRequest"
	case directory.KindNotFound:
		g.status, g.code = http.StatusNotFound, "Request_ResourceNotFound"
	case directory.KindUnauthenticated:
		g.status, g.code = http.StatusUnauthorized, "InvalidAuthenticationToken"
		if de.Message == "" {
			g.message = "Access token is empty."
		}
		switch {
		case de.Claims != "":
			// Step-up: Entra's claims challenge, which MSAL answers by
			// asking for a token with the claims (base64 JSON) and retrying.
			g.challenge = `Bearer realm="` + realm + `", error="insufficient_claims", claims="` + de.Claims + `"`
		case g.message == "Access token is empty.":
			g.challenge = `Bearer realm="` + realm + `"`
		default:
			g.challenge = `Bearer realm="` + realm + `", error="invalid_token", error_description="The access token is invalid."`
		}
	case directory.KindForbidden:
		g.status, g.code = http.StatusForbidden, "Authorization_RequestDenied"
		if len(de.Scope) > 0 {
			g.challenge = `Bearer realm="` + realm + `", error="insufficient_scope", scope="` + strings.Join(de.Scope, " ") + `"`
		}
	case directory.KindPreconditionFailed:
		g.status, g.code = http.StatusPreconditionFailed, "Request_PreconditionFailed"
	case directory.KindTooManyRequests:
		g.status, g.code, g.retry = http.StatusTooManyRequests, "TooManyRequests", retryAfter(err)
	case directory.KindUnavailable:
		g.status, g.code, g.retry = http.StatusServiceUnavailable, "serviceNotAvailable", retryAfter(err)
	default: // KindInternal and anything unclassified
		g = graphError{status: http.StatusInternalServerError, code: "generalException", message: "An internal error occurred."}
	}
	if g.message == "" {
		g.message = http.StatusText(g.status) + "."
	}
	return g
}

// retryAfter lets an error carry its own delay (a rate limiter knows when
// its bucket refills) without the domain knowing about HTTP headers.
func retryAfter(err error) time.Duration {
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) && ra.RetryAfter() > 0 {
		return ra.RetryAfter()
	}
	return defaultRetryAfter
}

// errorEnvelope is Graph's error body.
type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code       string             `json:"code"`
	Message    string             `json:"message"`
	Target     string             `json:"target,omitempty"`
	Details    []directory.Detail `json:"details,omitempty"`
	InnerError innerError         `json:"innerError"`
}

type innerError struct {
	Date            string `json:"date"`
	RequestID       string `json:"request-id"`
	ClientRequestID string `json:"client-request-id"`
}

// writeError renders err as a Graph error and aborts the chain. Internal
// errors are logged here, once, with the request id; their text never
// reaches the client.
func (s *server) writeError(c *gin.Context, err error) {
	if g := classify(err); g.status >= 500 {
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "request failed",
			slog.String("request_id", requestIDs(c).requestID), slog.Int("status", g.status), slog.String("error", err.Error()))
	}
	s.renderError(c, err)
}

// renderError writes err as Graph's error envelope and aborts the chain,
// without logging.
func (s *server) renderError(c *gin.Context, err error) {
	g := classify(err)
	ids := requestIDs(c)
	// Kept for the audited write's middleware (recordRefusal), which
	// records refusals the domain did not.
	_ = c.Error(err)
	c.Abort()
	if c.Writer.Written() {
		return // headers are gone; the log line above is all we can do
	}
	h := c.Writer.Header()
	if g.status != http.StatusMethodNotAllowed {
		h.Del("Allow")
	}
	if g.challenge != "" {
		h.Set("WWW-Authenticate", g.challenge)
	}
	if g.retry > 0 {
		h.Set("Retry-After", strconv.Itoa(int((g.retry+time.Second-1)/time.Second)))
	}
	body := errorEnvelope{Error: errorBody{
		Code:    g.code,
		Message: g.message,
		Target:  g.target,
		Details: g.details,
		InnerError: innerError{
			Date:            time.Now().UTC().Format("2006-01-02T15:04:05"),
			RequestID:       ids.requestID,
			ClientRequestID: ids.clientRequestID,
		},
	}}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		// Only strings and slices of strings: cannot fail.
		panic(err)
	}
	writeJSON(c, g.status, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// maxEchoed bounds how much of a client-supplied name an error message repeats.
const maxEchoed = 128
