package api

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// Users is what the HTTP edge needs of the directory; *directory.Service
// implements it. Every method reads the caller from the context and returns
// *directory.Error values whose Kind decides the response.
type Users interface {
	// GetUser returns the user addressed by object id or userPrincipalName.
	// KindNotFound, KindForbidden.
	GetUser(ctx context.Context, key string) (*directory.User, error)
	// GetMe returns the signed-in user. KindBadRequest for app-only callers.
	GetMe(ctx context.Context) (*directory.User, error)
	// ListUsers returns one page of the caller's tenant. KindForbidden,
	// KindUnsupported, KindInvalid.
	ListUsers(ctx context.Context, q directory.ListQuery) (*directory.Page, error)
	// CountUsers counts the users q's Filter and Search match. Same kinds
	// as ListUsers.
	CountUsers(ctx context.Context, q directory.ListQuery) (int64, error)
	// CreateUser creates a user from decoded property values keyed by exact
	// property name. KindInvalid, KindReadOnly, KindConflict, KindForbidden.
	CreateUser(ctx context.Context, values map[string]any) (*directory.User, error)
	// UpdateUser patches the user addressed by key. KindNotFound, KindInvalid,
	// KindReadOnly, KindConflict, KindForbidden.
	UpdateUser(ctx context.Context, key string, values map[string]any) (*directory.User, error)
	// UpdateMe patches the signed-in user. Same kinds as UpdateUser plus KindBadRequest.
	UpdateMe(ctx context.Context, values map[string]any) (*directory.User, error)
	// DeleteUser deletes the user addressed by key. KindNotFound, KindForbidden.
	DeleteUser(ctx context.Context, key string) error
}

// Directory is everything the HTTP edge needs of the user directory, in
// one declaration: the compiler checks that *directory.Service provides
// every capability a route calls, so none can go missing at run time and
// quietly turn a route into a 404. Test fakes embed Directory and override
// what they use.
type Directory interface {
	Users
	DeletedItems        // deleted.go
	DeltaUsers          // delta.go
	ExtensionUsers      // extensions.go
	Roles               // roles.go
	AuditLogs           // audit.go
	SignInLogs          // signins.go
	PasswordChanger     // password.go
	SessionRevoker      // sessions.go
	OperationAuthorizer // middleware.go
	UserFlows           // userflows.go
	Branding            // branding.go
}

var _ Directory = (*directory.Service)(nil)

// Verifier turns the raw Authorization header values of a request into the
// verified caller. It returns *directory.Error of KindUnauthenticated
// (missing, malformed, expired or otherwise invalid token; the message
// "Access token is empty." marks a request without credentials),
// KindBadRequest (credentials sent twice) or KindForbidden.
type Verifier interface {
	Verify(ctx context.Context, authorization []string) (*directory.Principal, error)
}

// Issuer serves the built-in OpenID issuer's public documents as JSON.
// KindNotFound for an unknown tenant.
type Issuer interface {
	JWKS(ctx context.Context, tenantID string) ([]byte, error)
	Discovery(ctx context.Context, tenantID string) ([]byte, error)
}

// DefaultMaxBodyBytes bounds a request body, after decompression, when
// Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// Options are the dependencies and settings of NewHandler.
type Options struct {
	// Directory serves every /v1.0 route but applications and the
	// batch envelope. Required.
	Directory Directory
	// Applications serves /v1.0/applications and their
	// extensionProperties. Required.
	Applications Applications
	// Verifier authenticates every /v1.0 request. Required.
	Verifier Verifier
	// Issuer serves the JWKS and discovery documents; when nil those
	// routes answer 404.
	Issuer Issuer
	// Logger receives the access log and errors; nil discards.
	Logger *slog.Logger
	// SkipTokenKey signs $skiptoken values (HMAC-SHA256). Every instance
	// behind one load balancer needs the same key; when empty a random key
	// is generated, so tokens do not survive a restart.
	SkipTokenKey []byte
	// MaxBodyBytes bounds POST and PATCH bodies, compressed and
	// decompressed; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Ready reports whether the service can take traffic (/readyz); nil
	// means always ready.
	Ready func(ctx context.Context) error
	// BaseURL, when set, is the public scheme://host[:port] used in
	// @odata.context, @odata.nextLink and Location. Otherwise they are built
	// from the request: https when it came over TLS, and its Host header
	// (proxy headers are never trusted).
	BaseURL *url.URL
	// Runtime holds load shedding, throttling, request deadlines and metrics.
	Runtime
	// Token serves the issuer's token endpoint
	// (/{tenant}/oauth2/v2.0/token); when nil it answers 404.
	Token TokenEndpoint
	// Browser enables the browser redirect sign-in (browser.go); nil
	// leaves its endpoints unserved.
	Browser *BrowserSignIn
	// QueryCapabilities are the store's query facts, published as
	// $metadata's Capabilities annotations (metadata.go); when empty the
	// annotations are left out.
	QueryCapabilities directory.QueryCapabilities
	// CORSOrigins grants CORS on /v1.0 to the origins of registered spa
	// redirect URIs (cors.go); nil uses Applications when it implements
	// SPAOrigins.
	CORSOrigins SPAOrigins
	// CORSCacheTTL is how long an instance remembers an origin lookup;
	// 0 means DefaultCORSCacheTTL, negative no caching.
	CORSCacheTTL time.Duration
	// NativeAuth serves the native authentication endpoints
	// (/{tenant}/signup/v1.0/..., /{tenant}/resetpassword/v1.0/...); when
	// nil they answer 404.
	NativeAuth NativeAuth
	// PermissionGrants serves /v1.0/oauth2PermissionGrants
	// (permissiongrants.go); when nil those routes answer 404 once the
	// caller's permissions allow them.
	PermissionGrants PermissionGrants
}

// server holds what the handlers close over.
type server struct {
	dir        Directory
	verifier   Verifier
	issuer     Issuer
	log        *slog.Logger
	skipTokens skipTokenSigner
	maxBody    int64
	ready      func(ctx context.Context) error
	baseURL    string
	rt         runtimeState
	apps       Applications
	token      TokenEndpoint
	native     NativeAuth
	browser    *BrowserSignIn
	grants     PermissionGrants
	dispatch   http.Handler // the whole handler: serves the requests inside a $batch (batch.go)
	metadata   []byte       // the CSDL document (metadata.go)
	origins    *originCache // CORS grants (cors.go); nil: none
}

// NewHandler returns the HTTP handler of the whole API. It panics when
// Directory, Applications or Verifier is missing: that is a wiring mistake,
// not a runtime condition.
func NewHandler(opts Options) http.Handler {
	if opts.Directory == nil || opts.Applications == nil || opts.Verifier == nil {
		panic("api.NewHandler: Options.Directory, Options.Applications and Options.Verifier are required")
	}
	s := &server{
		dir:      opts.Directory,
		verifier: opts.Verifier,
		issuer:   opts.Issuer,
		log:      opts.Logger,
		maxBody:  opts.MaxBodyBytes,
		ready:    opts.Ready,
		apps:     opts.Applications,
		token:    opts.Token,
		native:   opts.NativeAuth,
		browser:  opts.Browser,
		grants:   opts.PermissionGrants,
		rt:       newRuntimeState(opts.Runtime),
		metadata: buildMetadata(opts.QueryCapabilities),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.CORSOrigins == nil {
		opts.CORSOrigins, _ = opts.Applications.(SPAOrigins)
	}
	if opts.CORSOrigins != nil {
		s.origins = newOriginCache(opts.CORSOrigins, opts.CORSCacheTTL, s.log)
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	key := opts.SkipTokenKey
	if len(key) == 0 {
		key = make([]byte, 32)
		rand.Read(key) // never fails (crypto/rand panics rather than return an error)
	}
	s.skipTokens = skipTokenSigner{key: append([]byte(nil), key...)}
	if opts.BaseURL != nil {
		s.baseURL = strings.TrimSuffix((&url.URL{Scheme: opts.BaseURL.Scheme, Host: opts.BaseURL.Host, Path: opts.BaseURL.Path}).String(), "/")
	}

	// Gin's mode is process-wide; release mode keeps it from printing
	// routes and warnings to stdout.
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// UPNs may carry %23 (#) and, in principle, %2F: route on the raw path
	// and unescape parameter values ourselves so a key is one segment.
	r.UseRawPath = true
	r.UnescapePathValues = true
	// An API answers the URL it was given; redirects would hide client bugs
	// and drop request bodies.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.ForwardedByClientIP = false
	_ = r.SetTrustedProxies(nil) // nil is always valid: trust no proxy
	r.Use(s.requestID, s.observe, s.accessLog, s.recoverPanic, s.cors, s.limitURL, s.shed, s.deadline, s.authenticate, s.corsTenant, s.throttleRequest)
	s.addRoutes(r)

	s.dispatch = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.ServeHTTP(w, rewriteKeySegment(req))
	})
	return s.dispatch
}
