package api

import (
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/nativeauth"
	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// NativeAuth is the protocol logic of the native authentication API;
// *nativeauth.Server implements it.
type NativeAuth interface {
	SignUpStart(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	SignUpChallenge(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	SignUpContinue(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	ResetStart(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	ResetChallenge(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	ResetContinue(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	ResetSubmit(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	ResetPoll(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	SignInInitiate(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	SignInChallenge(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	SignInIntrospect(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	RegisterIntrospect(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	RegisterChallenge(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	RegisterContinue(ctx context.Context, r nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)
	// Token serves the token endpoint's native grants (a request with a
	// continuation_token).
	Token(ctx context.Context, r nativeauth.Request) (*oauth.TokenResponse, *nativeauth.Error)
}

var _ NativeAuth = (*nativeauth.Server)(nil)

// maxNativeBody bounds a native authentication form: attributes are the
// largest part (a few hundred bytes in practice).
const maxNativeBody = 32 << 10

// nativeStep is one native authentication endpoint's call into the protocol.
type nativeStep func(NativeAuth, context.Context, nativeauth.Request) (*nativeauth.Response, *nativeauth.Error)

// The native authentication endpoints under /{tenant}/ (reference §1.2).
var nativeEndpoints = []struct {
	path, id, summary string
	step              nativeStep
}{
	{"/oauth2/v2.0/initiate", "nativeSignInInitiate", "Native authentication: start a sign-in (username, challenge_type).", NativeAuth.SignInInitiate},
	{"/oauth2/v2.0/challenge", "nativeSignInChallenge", "Native authentication: ask for the password, send the sign-in email code (again), or with id the MFA code.", NativeAuth.SignInChallenge},
	{"/oauth2/v2.0/introspect", "nativeSignInIntrospect", "Native authentication: the strong authentication methods after mfa_required.", NativeAuth.SignInIntrospect},
	{"/signup/v1.0/start", "nativeSignUpStart", "Native authentication: start a sign-up (username, optional password and attributes).", NativeAuth.SignUpStart},
	{"/signup/v1.0/challenge", "nativeSignUpChallenge", "Native authentication: send the sign-up email code (again), or ask for the password.", NativeAuth.SignUpChallenge},
	{"/signup/v1.0/continue", "nativeSignUpContinue", "Native authentication: submit the sign-up code, password or attributes (grant_type oob, password, attributes).", NativeAuth.SignUpContinue},
	{"/resetpassword/v1.0/start", "nativeResetStart", "Native authentication: start a self-service password reset.", NativeAuth.ResetStart},
	{"/resetpassword/v1.0/challenge", "nativeResetChallenge", "Native authentication: send the password reset email code (again).", NativeAuth.ResetChallenge},
	{"/resetpassword/v1.0/continue", "nativeResetContinue", "Native authentication: submit the password reset code.", NativeAuth.ResetContinue},
	{"/resetpassword/v1.0/submit", "nativeResetSubmit", "Native authentication: submit the new password.", NativeAuth.ResetSubmit},
	{"/resetpassword/v1.0/poll_completion", "nativeResetPoll", "Native authentication: poll the password reset (poll_interval ≥ 1 s; the first poll succeeds).", NativeAuth.ResetPoll},
	{"/register/v1.0/introspect", "nativeRegisterIntrospect", "Native authentication: the strong methods a user may register after registration_required.", NativeAuth.RegisterIntrospect},
	{"/register/v1.0/challenge", "nativeRegisterChallenge", "Native authentication: send a code to the address to register (challenge_target), or answer preverified.", NativeAuth.RegisterChallenge},
	{"/register/v1.0/continue", "nativeRegisterContinue", "Native authentication: submit the registration code (grant_type oob) or complete a preverified one (grant_type continuation_token).", NativeAuth.RegisterContinue},
}

// nativeRoutes are the rows of the native authentication endpoints: POST
// (documented, public, form bodies) and the CORS preflight.
func (s *server) nativeRoutes() []route {
	var rows []route
	for _, ep := range nativeEndpoints {
		p := "/:tenant" + ep.path
		rows = append(rows,
			route{method: http.MethodPost, paths: []string{p}, id: ep.id, tag: "nativeAuth", public: true, oauth: true,
				summary: ep.summary, pre: []gin.HandlerFunc{s.nativeCORS}, handle: s.handleNative(ep.step), status: 200, schema: schemaObject},
			route{method: http.MethodOptions, paths: []string{p}, handle: s.handleNativePreflight, undocumented: true},
		)
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			rows = append(rows, route{method: m, paths: []string{p}, pre: []gin.HandlerFunc{s.nativeCORS}, handle: s.handleNativeMethod, undocumented: true})
		}
	}
	// The token endpoint's POST row is the issuer's (routes.go); its
	// native grants are preceded by this preflight.
	rows = append(rows, route{method: http.MethodOptions, paths: []string{"/:tenant/oauth2/v2.0/token"}, handle: s.handleNativePreflight, undocumented: true})
	return rows
}

// nativeTenant returns the tenant path segment, or false when the request
// is not for a native endpoint at all (no server configured, or /v1.0).
func (s *server) nativeTenant(c *gin.Context) (string, bool) {
	t := c.Param("tenant")
	if s.native == nil || "/"+t == apiPrefix {
		s.handleNoRoute(c)
		return "", false
	}
	return strings.ToLower(t), true
}

// The CORS facts of the native endpoints (reference §1.4): the headers
// the SDK sends, and the one it reads back.
var (
	nativeAllowedHeaders = []string{"client-request-id", "content-type", "x-client-cpu", "x-client-current-telemetry",
		"x-client-last-telemetry", "x-client-os", "x-client-sku", "x-client-ver"}
)

// corsOrigin returns the request's Origin when the tenant's spa
// registrations allow it ("" otherwise: no CORS headers at all). It asks
// the instance's origin cache (cors.go), the one the Graph API's CORS
// uses, so a native-auth conversation costs no query per request for it.
func (s *server) corsOrigin(c *gin.Context, tenant string) string {
	origin := c.GetHeader("Origin")
	if origin == "" || s.native == nil || s.origins == nil || len(origin) > 2048 {
		return ""
	}
	if !s.origins.registered(c.Request.Context(), tenant, origin) {
		return ""
	}
	return origin
}

// nativeCORS adds the CORS answer headers to every response of a native
// endpoint, errors included: without them the SDK sees a network error
// instead of the error JSON.
func (s *server) nativeCORS(c *gin.Context) {
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	h.Set("x-ms-request-id", requestIDs(c).requestID)
	if s.native == nil {
		return
	}
	if origin := s.corsOrigin(c, strings.ToLower(c.Param("tenant"))); origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "x-ms-request-id, request-id, client-request-id")
	}
}

// handleNativePreflight answers the SDK's OPTIONS preflight: 204 with the
// allowed origin, method and headers for a registered spa origin; 403
// with no CORS headers for any other.
func (s *server) handleNativePreflight(c *gin.Context) {
	tenant, ok := s.nativeTenant(c)
	if !ok {
		return
	}
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	h.Add("Vary", "Access-Control-Request-Headers")
	origin := s.corsOrigin(c, tenant)
	if origin == "" {
		s.writeNativeError(c, nativeauth.ErrMalformedRequest("The origin is not allowed to call this endpoint."), http.StatusForbidden)
		return
	}
	allowed := append([]string(nil), nativeAllowedHeaders...)
	for _, name := range strings.Split(c.GetHeader("Access-Control-Request-Headers"), ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		// Headers an SDK request interceptor adds are x-… (reference
		// §1.1); anything else stays unlisted, and the browser refuses it.
		if strings.HasPrefix(name, "x-") && len(name) <= 64 && isToken(name) && !contains(allowed, name) && len(allowed) < 32 {
			allowed = append(allowed, name)
		}
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", strings.Join(allowed, ", "))
	h.Set("Access-Control-Max-Age", "600")
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return s != ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// handleNativeMethod answers the other methods on a native endpoint.
func (s *server) handleNativeMethod(c *gin.Context) {
	if _, ok := s.nativeTenant(c); !ok {
		return
	}
	c.Header("Allow", "POST, OPTIONS")
	s.writeNativeError(c, nativeauth.ErrMalformedRequest("The endpoint only accepts POST requests."), http.StatusMethodNotAllowed)
}

// handleNative serves one native authentication endpoint: the form is
// parsed as strictly as the token endpoint's (one media type, bounded,
// each parameter once, UTF-8 without control characters), then the
// protocol step runs.
func (s *server) handleNative(step nativeStep) gin.HandlerFunc {
	return func(c *gin.Context) {
		tenant, ok := s.nativeTenant(c)
		if !ok {
			return
		}
		form, e, status := readNativeForm(c)
		if e != nil {
			s.writeNativeError(c, e, status)
			return
		}
		resp, e := step(s.native, c.Request.Context(), nativeRequest(c, tenant, form))
		if e != nil {
			s.writeNativeError(c, e, 0)
			return
		}
		writeOAuth(c, http.StatusOK, resp)
	}
}

func nativeRequest(c *gin.Context, tenant string, form map[string]string) nativeauth.Request {
	return nativeauth.Request{TenantID: tenant, Form: form, Locale: textlimit.Clip(c.GetHeader("Accept-Language"), 256),
		IP: c.ClientIP(), Browser: c.GetHeader("Origin") != ""}
}

// handleNativeToken serves a token request that carries a
// continuation_token: a native authentication grant. The token response
// always has client_info (the SDK requires it).
func (s *server) handleNativeToken(c *gin.Context, tenant string, values url.Values) {
	form := make(map[string]string, len(values))
	for k, vs := range values {
		form[k] = vs[0]
	}
	t, e := s.native.Token(c.Request.Context(), nativeRequest(c, strings.ToLower(tenant), form))
	if e != nil {
		s.writeNativeError(c, e, 0)
		return
	}
	writeOAuth(c, http.StatusOK, UserTokenJSON(t, true))
}

// readNativeForm reads a native authentication form body; an error comes
// with the status it needs (0: the error's own).
func readNativeForm(c *gin.Context) (map[string]string, *nativeauth.Error, int) {
	r := c.Request
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, nativeauth.ErrMalformedRequest("The request body must be 'application/x-www-form-urlencoded'."), http.StatusUnsupportedMediaType
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, nativeauth.ErrMalformedRequest("The request body must be encoded as UTF-8."), http.StatusUnsupportedMediaType
	}
	if enc := r.Header.Values("Content-Encoding"); len(enc) > 1 || len(enc) == 1 && !strings.EqualFold(strings.TrimSpace(enc[0]), "identity") {
		return nil, nativeauth.ErrMalformedRequest("Content-Encoding is not supported."), http.StatusUnsupportedMediaType
	}
	if r.ContentLength > maxNativeBody {
		return nil, nativeauth.ErrMalformedRequest("The request body is too large."), http.StatusRequestEntityTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxNativeBody))
	if err != nil {
		if isMaxBytes(err) {
			return nil, nativeauth.ErrMalformedRequest("The request body is too large."), http.StatusRequestEntityTooLarge
		}
		return nil, nativeauth.ErrMalformedRequest("The request body could not be read."), 0
	}
	values, err := url.ParseQuery(string(body))
	if err != nil || !utf8Form(values) {
		return nil, nativeauth.ErrMalformedRequest("The request body is not a valid form."), 0
	}
	form := make(map[string]string, len(values))
	for k, vs := range values {
		if len(vs) > 1 {
			return nil, nativeauth.ErrMalformedRequest("The parameter '" + textlimit.Clip(k, maxEchoed) + "' was sent more than once."), 0
		}
		form[k] = vs[0]
	}
	return form, nil, 0
}

// writeNativeError writes e in Entra's native-auth error shape; status 0
// takes the error's own. Server errors are logged once with the cause.
func (s *server) writeNativeError(c *gin.Context, e *nativeauth.Error, status int) {
	if status == 0 {
		status = e.Status()
	}
	ids := requestIDs(c)
	if status >= 500 {
		msg := e.Error()
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "native authentication request failed",
			slog.String("request_id", ids.requestID), slog.Int("status", status), slog.String("error", msg))
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	c.Abort()
	writeOAuth(c, status, e.Body(ids.requestID, ids.clientRequestID, time.Now()))
}
