package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/oauth"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// TokenEndpoint is the protocol logic of the built-in issuer's token
// endpoint; *oauth.Server implements it. Errors that carry an OAuth code
// (OAuthError() string, as *oauth.Error does) are rendered as RFC 6749
// §5.2 error responses; anything else is a server_error.
type TokenEndpoint interface {
	ClientCredentials(ctx context.Context, r oauth.Request) (*oauth.Token, error)
	// Refresh serves grant_type=refresh_token.
	Refresh(ctx context.Context, r oauth.Request) (*oauth.TokenResponse, error)
}

// maxTokenBody bounds a token request body. A client credentials request
// is a few hundred bytes; a client assertion, which graphdir does not
// accept, would be a few kilobytes.
const maxTokenBody = 8 << 10

// basicRealm is the realm of the Basic challenge on invalid_client.
const basicRealm = `Basic realm="graphdir"`

// tokenParams are the OAuth parameters that must never travel in the URL
// (RFC 6749 §2.3.1, §3.2).
var tokenParams = []string{"grant_type", "client_id", "client_secret", "scope", "client_assertion", "client_assertion_type", "refresh_token", "code", "code_verifier"}

// oauthStatus is the token endpoint's error table: RFC 6749 error code ->
// HTTP status. invalid_client is 401 (§5.2); a throttled client gets 429
// with Retry-After; everything else the client did wrong is 400.
func oauthStatus(code string, retry time.Duration) int {
	switch {
	case retry > 0:
		return http.StatusTooManyRequests
	case code == oauth.CodeInvalidClient:
		return http.StatusUnauthorized
	case code == oauth.CodeServerError:
		return http.StatusInternalServerError
	case code == oauth.CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// oauthErrorBody is the JSON error of the token endpoint: RFC 6749's error
// and error_description plus the fields Entra adds.
type oauthErrorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes,omitempty"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

type tokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	AccessToken  string `json:"access_token"`
}

// userTokenResponse is a user token response (refresh token grant and
// the sign-in flows): Entra's fields, in Entra's order.
type userTokenResponse struct {
	TokenType             string `json:"token_type"`
	Scope                 string `json:"scope"`
	ExpiresIn             int    `json:"expires_in"`
	ExtExpiresIn          int    `json:"ext_expires_in"`
	AccessToken           string `json:"access_token"`
	RefreshToken          string `json:"refresh_token,omitempty"`
	RefreshTokenExpiresIn int    `json:"refresh_token_expires_in,omitempty"`
	IDToken               string `json:"id_token,omitempty"`
	ClientInfo            string `json:"client_info,omitempty"`
}

// UserTokenJSON is the JSON of a user token response; clientInfo says
// whether the client asked for client_info (client_info=1).
func UserTokenJSON(t *oauth.TokenResponse, clientInfo bool) any {
	out := userTokenResponse{TokenType: "Bearer", Scope: t.Scope, ExpiresIn: t.ExpiresIn, ExtExpiresIn: t.ExpiresIn,
		AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, RefreshTokenExpiresIn: t.RefreshTokenExpiresIn, IDToken: t.IDToken}
	if clientInfo {
		out.ClientInfo = t.ClientInfo
	}
	return out
}

// writeOAuth writes a token endpoint response: JSON, never cached.
func writeOAuth(c *gin.Context, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // strings and ints only
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	c.Status(status)
	_, _ = c.Writer.Write(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// writeOAuthError renders err as an OAuth error response. basic says the
// client authenticated with HTTP Basic, which makes invalid_client carry a
// Basic challenge (RFC 6749 §5.2).
func (s *server) writeOAuthError(c *gin.Context, err error, basic bool) {
	var oe interface {
		OAuthError() string
		OAuthDescription() string
	}
	code, desc := oauth.CodeServerError, "The token could not be issued. Retry the request."
	var codes []int
	if errors.As(err, &oe) {
		code, desc = oe.OAuthError(), oe.OAuthDescription()
		var ec interface{ OAuthErrorCodes() []int }
		if errors.As(err, &ec) {
			codes = ec.OAuthErrorCodes()
		}
	}
	var retry time.Duration
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		retry = ra.RetryAfter()
	}
	status := oauthStatus(code, retry)
	ids := requestIDs(c)
	if status >= 500 {
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "token request failed",
			slog.String("request_id", ids.requestID), slog.Int("status", status), slog.String("error", err.Error()))
	}
	h := c.Writer.Header()
	h.Del("Allow")
	if status == http.StatusUnauthorized && basic {
		h.Set("WWW-Authenticate", basicRealm)
	}
	if retry > 0 {
		h.Set("Retry-After", strconv.Itoa(int((retry+time.Second-1)/time.Second)))
	}
	c.Abort()
	writeOAuth(c, status, oauthErrorBody{
		Error: code, ErrorDescription: desc, ErrorCodes: codes,
		Timestamp: time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		TraceID:   ids.requestID, CorrelationID: ids.clientRequestID,
	})
}

func invalidRequest(desc string) error { return oauth.ErrInvalidRequest(0, desc) }

// handleTokenMethod answers every method but POST on the token endpoint.
func (s *server) handleTokenMethod(c *gin.Context) {
	if s.token == nil || "/"+c.Param("tenant") == apiPrefix {
		s.handleNoRoute(c)
		return
	}
	c.Header("Allow", "POST")
	s.writeOAuthErrorStatus(c, http.StatusMethodNotAllowed, oauth.ErrInvalidRequest(900561, "The endpoint only accepts POST requests."))
}

// writeOAuthErrorStatus writes an OAuth error with a status the error
// table does not pick (405, 413, 415).
func (s *server) writeOAuthErrorStatus(c *gin.Context, status int, e *oauth.Error) {
	ids := requestIDs(c)
	c.Abort()
	writeOAuth(c, status, oauthErrorBody{
		Error: e.Code, ErrorDescription: e.Description, ErrorCodes: e.OAuthErrorCodes(),
		Timestamp: time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		TraceID:   ids.requestID, CorrelationID: ids.clientRequestID,
	})
}

// handleToken serves POST /{tenant}/oauth2/v2.0/token: the client
// credentials grant, with the client secret in the form body
// (client_secret_post) or in HTTP Basic (client_secret_basic, RFC 6749
// §2.3.1: client id and secret form-urlencoded, then base64). It is outside
// /v1.0, so no bearer token is involved.
func (s *server) handleToken(c *gin.Context) {
	tenant := c.Param("tenant")
	if s.token == nil || "/"+tenant == apiPrefix {
		s.handleNoRoute(c)
		return
	}
	r := c.Request
	s.tokenCORS(c, tenant)
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		s.writeOAuthErrorStatus(c, http.StatusUnsupportedMediaType,
			oauth.ErrInvalidRequest(0, "The request body must be 'application/x-www-form-urlencoded'."))
		return
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		s.writeOAuthErrorStatus(c, http.StatusUnsupportedMediaType, oauth.ErrInvalidRequest(0, "The request body must be encoded as UTF-8."))
		return
	}
	if enc := r.Header.Values("Content-Encoding"); len(enc) > 1 || len(enc) == 1 && !strings.EqualFold(strings.TrimSpace(enc[0]), "identity") {
		s.writeOAuthErrorStatus(c, http.StatusUnsupportedMediaType, oauth.ErrInvalidRequest(0, "Content-Encoding is not supported on the token endpoint."))
		return
	}
	if r.ContentLength > maxTokenBody {
		s.writeOAuthErrorStatus(c, http.StatusRequestEntityTooLarge, oauth.ErrInvalidRequest(0, "The request body is too large."))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, r.Body, maxTokenBody))
	if err != nil {
		if isMaxBytes(err) {
			s.writeOAuthErrorStatus(c, http.StatusRequestEntityTooLarge, oauth.ErrInvalidRequest(0, "The request body is too large."))
		} else {
			s.writeOAuthError(c, invalidRequest("The request body could not be read."), false)
		}
		return
	}

	// Credentials and OAuth parameters in the URL end up in proxy and
	// server logs; refuse rather than use them.
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.writeOAuthError(c, invalidRequest("The request URL's query string is malformed."), false)
		return
	}
	for _, p := range tokenParams {
		if query.Has(p) {
			s.writeOAuthError(c, invalidRequest("The parameter '"+p+"' must be sent in the request body, not in the URL."), false)
			return
		}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || !utf8Form(form) {
		s.writeOAuthError(c, invalidRequest("The request body is not a valid form."), false)
		return
	}
	for k, vs := range form {
		// RFC 6749 §3.1: parameters must not be sent more than once.
		if len(vs) > 1 {
			s.writeOAuthError(c, invalidRequest("The parameter '"+textlimit.Clip(k, maxEchoed)+"' was sent more than once."), false)
			return
		}
	}
	if form.Get("client_assertion") != "" || form.Get("client_assertion_type") != "" {
		s.writeOAuthError(c, invalidRequest("Client assertions are not supported; authenticate with a client secret."), false)
		return
	}
	// Native authentication's grants carry the flow's continuation token
	// and no client authentication (nativeauth.go).
	if form.Has("continuation_token") && s.native != nil {
		s.handleNativeToken(c, tenant, form)
		return
	}

	req := oauth.Request{
		TenantID:     tenant,
		GrantType:    form.Get("grant_type"),
		ClientID:     form.Get("client_id"),
		ClientSecret: form.Get("client_secret"),
		Scope:        form.Get("scope"),
		RefreshToken: form.Get("refresh_token"),
		RemoteIP:     c.ClientIP(),
		Code:         form.Get("code"),
		RedirectURI:  form.Get("redirect_uri"),
		CodeVerifier: form.Get("code_verifier"),
		Origin:       r.Header.Get("Origin"),
	}
	auth := r.Header.Values("Authorization")
	basic := false
	switch {
	case len(auth) > 1:
		s.writeOAuthError(c, invalidRequest("The request has more than one Authorization header."), false)
		return
	case len(auth) == 1:
		// A public client has no secret: x/oauth2 (go-oidc) sends it as
		// Basic with an empty password, which the refresh and code grants
		// accept from public clients only (oauth.Server checks the kind).
		id, secret, err := parseBasic(auth[0], req.GrantType == oauth.GrantRefreshToken || req.GrantType == oauth.GrantAuthorizationCode)
		if err != nil {
			s.writeOAuthError(c, &oauth.Error{Code: oauth.CodeInvalidClient, Description: basicErrors[err]}, true)
			return
		}
		basic = true
		if req.ClientSecret != "" {
			// RFC 6749 §2.3: one authentication method per request.
			s.writeOAuthError(c, invalidRequest("The client authenticated with both HTTP Basic and client_secret; use one."), true)
			return
		}
		if req.ClientID != "" && req.ClientID != id {
			s.writeOAuthError(c, invalidRequest("The client_id in the body does not match the client in the Authorization header."), true)
			return
		}
		req.ClientID, req.ClientSecret = id, secret
	}

	if req.GrantType == oauth.GrantAuthorizationCode {
		ex, ok := s.token.(CodeExchanger)
		if !ok {
			s.writeOAuthError(c, &oauth.Error{Code: oauth.CodeUnsupportedGrantType, Description: "The authorization code grant is not enabled."}, basic)
			return
		}
		t, err := ex.AuthorizationCode(c.Request.Context(), req)
		if err != nil {
			s.writeOAuthError(c, err, basic)
			return
		}
		writeOAuth(c, http.StatusOK, UserTokenJSON(t, form.Get("client_info") == "1"))
		return
	}
	if req.GrantType == oauth.GrantRefreshToken {
		t, err := s.token.Refresh(c.Request.Context(), req)
		if err != nil {
			s.writeOAuthError(c, err, basic)
			return
		}
		writeOAuth(c, http.StatusOK, UserTokenJSON(t, form.Get("client_info") == "1"))
		return
	}
	tok, err := s.token.ClientCredentials(c.Request.Context(), req)
	if err != nil {
		s.writeOAuthError(c, err, basic)
		return
	}
	writeOAuth(c, http.StatusOK, tokenResponse{
		TokenType: "Bearer", ExpiresIn: tok.ExpiresIn, ExtExpiresIn: tok.ExpiresIn, AccessToken: tok.AccessToken,
	})
}

// The errors of parseBasic, and the descriptions clients are given for them.
var (
	errBasicMalformed = errors.New("malformed HTTP Basic client credentials")
	errBasicScheme    = errors.New("authorization scheme other than Basic")
	basicErrors       = map[error]string{
		errBasicMalformed: "The Authorization header does not hold valid HTTP Basic client credentials.",
		errBasicScheme:    "Only HTTP Basic client authentication is accepted in the Authorization header.",
	}
)

// parseBasic reads client_secret_basic credentials: base64 of
// urlencode(client_id) ":" urlencode(client_secret) (RFC 6749 §2.3.1).
// publicClient allows an empty secret (a public client identifying itself).
func parseBasic(h string, publicClient bool) (id, secret string, err error) {
	errBasic := errBasicMalformed
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", errBasicScheme
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil || len(raw) > maxTokenBody {
		return "", "", errBasic
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errBasic
	}
	if id, err = url.QueryUnescape(rawID); err != nil {
		return "", "", errBasic
	}
	if secret, err = url.QueryUnescape(rawSecret); err != nil {
		return "", "", errBasic
	}
	if id == "" || secret == "" && !publicClient {
		return "", "", errBasic
	}
	return id, secret, nil
}

// utf8Form reports whether every key and value is valid UTF-8 without
// control characters.
func utf8Form(form url.Values) bool {
	ok := func(s string) bool {
		for _, r := range s {
			if r == '\uFFFD' || r < ' ' || r == 0x7f {
				return false
			}
		}
		return true
	}
	for k, vs := range form {
		if !ok(k) {
			return false
		}
		for _, v := range vs {
			if !ok(v) {
				return false
			}
		}
	}
	return true
}
