package oauth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/textlimit"
)

// GrantClientCredentials is the only grant type the token endpoint serves.
const GrantClientCredentials = "client_credentials"

// The RFC 6749 §5.2 error codes the endpoint returns.
const (
	CodeInvalidRequest         = "invalid_request"
	CodeInvalidClient          = "invalid_client"
	CodeUnauthorizedClient     = "unauthorized_client"
	CodeUnsupportedGrantType   = "unsupported_grant_type"
	CodeInvalidScope           = "invalid_scope"
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	CodeServerError            = "server_error"
)

// Error is an OAuth error response: Code is the RFC 6749 error, Description
// the error_description, AADSTS the Entra error number clients may know
// (0 when there is none). It is safe to show; Err is for logs only.
type Error struct {
	Code        string
	Description string
	AADSTS      int
	Retry       time.Duration
	Err         error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Description + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Err }

// OAuthError returns the RFC 6749 error code; the HTTP edge picks the
// status from it.
func (e *Error) OAuthError() string { return e.Code }

// OAuthDescription returns the error_description.
func (e *Error) OAuthDescription() string { return e.Description }

// OAuthErrorCodes returns Entra's error_codes.
func (e *Error) OAuthErrorCodes() []int {
	if e.AADSTS == 0 {
		return nil
	}
	return []int{e.AADSTS}
}

// RetryAfter is how long a throttled client must wait (0 when not throttled).
func (e *Error) RetryAfter() time.Duration { return e.Retry }

func newError(code string, aadsts int, desc string) *Error {
	return &Error{Code: code, AADSTS: aadsts, Description: desc}
}

// ErrInvalidRequest is an invalid_request error with an Entra-style
// description; the HTTP edge uses it for malformed requests.
func ErrInvalidRequest(aadsts int, desc string) *Error {
	return newError(CodeInvalidRequest, aadsts, desc)
}

// Request is a parsed token request.
type Request struct {
	TenantID     string
	GrantType    string
	ClientID     string
	ClientSecret string
	Scope        string
	// RefreshToken is the refresh_token of the refresh token grant.
	RefreshToken string
	// Code, RedirectURI and CodeVerifier are the authorization code
	// grant's; Origin is the request's Origin header (a browser's
	// cross-origin redemption).
	Code, RedirectURI, CodeVerifier, Origin string
	// RemoteIP keys the per-address failure limit.
	RemoteIP string
}

// Token is a successful token response.
type Token struct {
	AccessToken string
	// ExpiresIn is the lifetime in seconds, reported one second short as
	// Entra does (3599 for an hour) so clients refresh before expiry.
	ExpiresIn int
}

// Clients authenticates confidential clients; *directory.Applications
// implements it. Every authentication failure is KindUnauthenticated.
type Clients interface {
	AuthenticateClient(ctx context.Context, tenantID, clientID, secret string) (*directory.Application, error)
}

// Minter mints app-only tokens; *issuer.Issuer implements it.
type Minter interface {
	MintClientToken(ctx context.Context, tenantID, objectID, clientID string, roles []string, ttl time.Duration) (string, error)
	Audience() string
}

// Default limits on failed client authentication.
const (
	DefaultClientFailures = 10              // in a row per (tenant, client id) ...
	DefaultClientRefill   = 6 * time.Second // ... then one attempt per 6 s (10 a minute)
	DefaultIPFailures     = 30              // in a row per remote address ...
	DefaultIPRefill       = 2 * time.Second // ... then one per 2 s (30 a minute)
	DefaultMaxKeys        = 100_000         // buckets kept per limiter
	DefaultTokenLifetime  = time.Hour       // Entra's lower bound
	maxParam              = 1024            // longest client_id / scope echoed or logged
	maxSecretLen          = 512             // longer "secrets" are not ours
	maxLoggedClientID     = 64              // client ids are attacker-chosen in logs
	maxEchoed             = 128             // client text repeated in an error description
	throttleDescription   = "Too many failed client authentication attempts. Retry later."
)

// Options tune the endpoint; zero values take the defaults.
type Options struct {
	ClientFailures int
	ClientRefill   time.Duration
	IPFailures     int
	IPRefill       time.Duration
	MaxKeys        int
	// ClientFailures and IPFailures, when set, count failed client
	// authentications instead of this process's memory: serve gives the
	// ones internal/protect keeps in PostgreSQL, so a client locked
	// through one instance is locked on all of them. The numeric fields
	// above then do not apply.
	ClientFailureCounter FailureCounter
	IPFailureCounter     FailureCounter
	TokenLifetime        time.Duration
	// Logger receives one line per failed authentication (never a secret).
	Logger *slog.Logger
	Now    func() time.Time
	// User enables user tokens (IssueUserTokens, the refresh token grant).
	User *UserTokens
}

// Server implements the client credentials grant.
type Server struct {
	clients  Clients
	minter   Minter
	ttl      time.Duration
	log      *slog.Logger
	now      func() time.Time
	byClient FailureCounter
	byIP     FailureCounter
	user     *UserTokens
}

// New returns the token endpoint's protocol logic.
func New(clients Clients, minter Minter, o Options) *Server {
	def := func(v, d int) int {
		if v <= 0 {
			return d
		}
		return v
	}
	defd := func(v, d time.Duration) time.Duration {
		if v <= 0 {
			return d
		}
		return v
	}
	s := &Server{
		clients: clients, minter: minter,
		ttl: defd(o.TokenLifetime, DefaultTokenLifetime), log: o.Logger, now: o.Now,
		byClient: o.ClientFailureCounter,
		byIP:     o.IPFailureCounter,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.byClient == nil {
		s.byClient = &memoryFailures{newFailureLimiter(def(o.ClientFailures, DefaultClientFailures), defd(o.ClientRefill, DefaultClientRefill), def(o.MaxKeys, DefaultMaxKeys)), s.now}
	}
	if s.byIP == nil {
		s.byIP = &memoryFailures{newFailureLimiter(def(o.IPFailures, DefaultIPFailures), defd(o.IPRefill, DefaultIPRefill), def(o.MaxKeys, DefaultMaxKeys)), s.now}
	}
	if o.User != nil {
		u := *o.User
		u.Idle = defd(u.Idle, DefaultRefreshIdle)
		u.MaxAge = defd(u.MaxAge, DefaultRefreshMaxAge)
		u.SPAMaxAge = defd(u.SPAMaxAge, DefaultRefreshSPAMaxAge)
		u.Grace = defd(u.Grace, DefaultRefreshGrace)
		s.user = &u
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// ClientCredentials validates a client credentials request and returns an
// app-only token carrying the application's granted permissions as roles.
//
// Order: the request's syntax (grant type, parameters, scope), then the
// failure limits, then client authentication, so that malformed requests
// never cost a hash and a throttled client is refused even with the right
// secret (otherwise the limit would not stop online guessing). Every
// authentication failure is the same invalid_client; only the log says why.
func (s *Server) ClientCredentials(ctx context.Context, r Request) (*Token, error) {
	if !directory.IsGUID(r.TenantID) {
		return nil, newError(CodeInvalidRequest, 90002, "Tenant '"+printable(textlimit.Clip(r.TenantID, maxEchoed))+"' not found. The tenant must be given by its id (a GUID).")
	}
	tenant := strings.ToLower(r.TenantID)
	switch {
	case r.GrantType == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'grant_type'.")
	case r.GrantType != GrantClientCredentials:
		return nil, newError(CodeUnsupportedGrantType, 70003, "The app requested an unsupported grant type '"+printable(textlimit.Clip(r.GrantType, maxEchoed))+"'. Only 'client_credentials' is supported.")
	case r.ClientID == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'client_id'.")
	case r.Scope == "":
		return nil, newError(CodeInvalidRequest, 900144, "The request body must contain the following parameter: 'scope'.")
	}
	if err := s.checkScope(r.Scope); err != nil {
		return nil, err
	}
	if r.ClientSecret == "" {
		return nil, newError(CodeInvalidClient, 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	}

	app, err := s.authenticate(ctx, tenant, r)
	if err != nil {
		return nil, err
	}

	tok, err := s.minter.MintClientToken(ctx, tenant, app.ID, app.AppID, app.Permissions, s.ttl)
	if err != nil {
		return nil, &Error{Code: CodeServerError, Description: "The token could not be issued. Retry the request.", Err: err}
	}
	return &Token{AccessToken: tok, ExpiresIn: int(s.ttl/time.Second) - 1}, nil
}

// authenticate checks the failure limits, then the client's secret.
// Every authentication failure is the same invalid_client; only the log
// says why.
func (s *Server) authenticate(ctx context.Context, tenant string, r Request) (*directory.Application, error) {
	clientKey := tenant + "\x00" + strings.ToLower(r.ClientID)
	ipWait, err := s.byIP.Wait(ctx, r.RemoteIP)
	if err != nil {
		return nil, &Error{Code: CodeServerError, Description: "The token could not be issued. Retry the request.", Err: err}
	}
	clientWait, err := s.byClient.Wait(ctx, clientKey)
	if err != nil {
		return nil, &Error{Code: CodeServerError, Description: "The token could not be issued. Retry the request.", Err: err}
	}
	if w := max(ipWait, clientWait); w > 0 {
		s.log.LogAttrs(ctx, slog.LevelWarn, "token request throttled",
			slog.String("tenant_id", tenant), slog.String("client_id", printable(textlimit.Clip(r.ClientID, maxLoggedClientID))), slog.String("remote_ip", r.RemoteIP))
		return nil, &Error{Code: CodeTemporarilyUnavailable, Description: throttleDescription, Retry: w}
	}

	var app *directory.Application
	if len(r.ClientSecret) > maxSecretLen || len(r.ClientID) > maxParam {
		err = &directory.Error{Kind: directory.KindUnauthenticated, Err: directory.ErrClientSecretInvalid}
	} else {
		app, err = s.clients.AuthenticateClient(ctx, tenant, r.ClientID, r.ClientSecret)
	}
	if err != nil {
		if directory.KindOf(err) != directory.KindUnauthenticated {
			return nil, &Error{Code: CodeServerError, Description: "The token could not be issued. Retry the request.", Err: err}
		}
		// The refusal stands whatever the counters say; a counter that
		// cannot be written is logged, not turned into a 500 that would
		// tell a guesser something.
		for _, c := range []struct {
			f       FailureCounter
			subject string
		}{{s.byIP, r.RemoteIP}, {s.byClient, clientKey}} {
			if ferr := c.f.Fail(ctx, c.subject); ferr != nil {
				s.log.LogAttrs(ctx, slog.LevelError, "counting a client authentication failure", slog.String("error", ferr.Error()))
			}
		}
		reason := "invalid_secret"
		switch {
		case errors.Is(err, directory.ErrClientUnknown):
			reason = "unknown_client"
		case errors.Is(err, directory.ErrClientSecretExpired):
			reason = "expired_secret"
		}
		s.log.LogAttrs(ctx, slog.LevelWarn, "client authentication failed", slog.String("reason", reason),
			slog.String("tenant_id", tenant), slog.String("client_id", printable(textlimit.Clip(r.ClientID, maxLoggedClientID))), slog.String("remote_ip", r.RemoteIP))
		return nil, &Error{Code: CodeInvalidClient, AADSTS: 7000215,
			Description: "Invalid client secret provided, or the client does not exist in the tenant.", Err: err}
	}

	return app, nil
}

// checkScope accepts exactly one scope, "{resource}/.default" naming our
// audience (compared case-insensitively, as Entra compares resource URIs).
// The client credentials grant has no individual scopes: the token carries
// what the application was granted.
func (s *Server) checkScope(scope string) error {
	fields := strings.Split(scope, " ")
	if len(fields) != 1 {
		return newError(CodeInvalidScope, 70011, "The provided request must include exactly one scope, '"+s.minter.Audience()+"/.default'.")
	}
	resource, ok := strings.CutSuffix(scope, "/.default")
	if !ok {
		return newError(CodeInvalidScope, 1002012, "The provided value for scope "+printable(textlimit.Clip(scope, maxEchoed))+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
	}
	if !strings.EqualFold(resource, s.minter.Audience()) {
		return newError(CodeInvalidScope, 500011, "The resource principal named "+printable(textlimit.Clip(resource, maxEchoed))+" was not found in the tenant. Use '"+s.minter.Audience()+"/.default'.")
	}
	return nil
}

// printable makes client-supplied text safe to echo in a description:
// control characters, quotes and backslashes become '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '"' || r == '\\' {
			return '?'
		}
		return r
	}, s)
}
