package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/directory"
)

// CORS on the Graph API (README "CORS for single-page apps"): a single-page
// app that signed in with MSAL calls /v1.0 straight from the browser, as
// Graph allows. The origins granted are those of the spa redirect URIs of
// registered applications.
//
// A preflight carries no token, so its tenant is unknown: it is granted
// when the origin is a spa origin of an application in any tenant of this
// deployment (one index-backed query). The request that follows carries
// the token: Access-Control-Allow-Origin is kept only when the origin is a
// spa origin in the token's tenant. Requests that fail before a tenant is
// known (401, 414, 503) keep the any-tenant grant, so that the app can read
// the error. Credentials mode is never granted: tokens travel in
// Authorization, not cookies.

// SPAOrigins answers whether an origin is the origin of a registered spa
// redirect URI; *directory.Applications implements it.
type SPAOrigins interface {
	SPAOriginRegistered(ctx context.Context, tenantID, origin string) (bool, error)
	SPAOriginRegisteredAnyTenant(ctx context.Context, origin string) (bool, error)
}

var _ SPAOrigins = (*directory.Applications)(nil)

// The fixed answers of a granted preflight. Allowed headers are what
// Graph's clients send beyond the CORS-safelisted ones: Graph's own request
// headers, and the Graph JavaScript client's SdkVersion and Retry-Attempt.
const (
	corsAllowMethods  = "GET, POST, PUT, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, Content-Type, ConsistencyLevel, client-request-id, Prefer, If-Match, SdkVersion, Retry-Attempt"
	corsExposeHeaders = "request-id, client-request-id, ETag, Location, Retry-After, Preference-Applied, WWW-Authenticate"
	// corsMaxAge bounds how long a browser reuses a preflight (Chromium
	// caps it at 7200 s anyway).
	corsMaxAge = 3600
)

// DefaultCORSCacheTTL is how long an instance remembers whether an origin
// is registered: a new spa redirect URI is granted everywhere within it.
const DefaultCORSCacheTTL = 5 * time.Second

// maxCORSCacheEntries bounds the origin cache; hostile Origin values cannot
// grow it further (it is emptied when full).
const maxCORSCacheEntries = 4096

// originCache remembers origin lookups briefly: registration is a
// read-only fact for a request, and a preflight costs no query while
// remembered.
type originCache struct {
	src SPAOrigins
	ttl time.Duration
	now func() time.Time
	log *slog.Logger

	mu      sync.Mutex
	entries map[originKey]originEntry
}

// originKey is a tenant (anyTenant for the any-tenant question) and an
// origin.
type originKey struct{ tenant, origin string }

type originEntry struct {
	ok      bool
	expires time.Time
}

const anyTenant = "*"

func newOriginCache(src SPAOrigins, ttl time.Duration, log *slog.Logger) *originCache {
	if ttl == 0 {
		ttl = DefaultCORSCacheTTL
	}
	return &originCache{src: src, ttl: ttl, now: time.Now, log: log, entries: map[originKey]originEntry{}}
}

// registered reports whether origin is a spa origin in tenant (anyTenant:
// in any). A failed lookup is no grant, and is not remembered.
func (o *originCache) registered(ctx context.Context, tenant, origin string) bool {
	k := originKey{tenant, origin}
	now := o.now()
	if o.ttl > 0 {
		o.mu.Lock()
		e, hit := o.entries[k]
		o.mu.Unlock()
		if hit && now.Before(e.expires) {
			return e.ok
		}
	}
	var ok bool
	var err error
	if tenant == anyTenant {
		ok, err = o.src.SPAOriginRegisteredAnyTenant(ctx, origin)
	} else {
		ok, err = o.src.SPAOriginRegistered(ctx, tenant, origin)
	}
	if err != nil {
		o.log.LogAttrs(ctx, slog.LevelWarn, "cors origin lookup failed", slog.String("error", err.Error()))
		return false
	}
	if o.ttl > 0 {
		o.mu.Lock()
		if len(o.entries) >= maxCORSCacheEntries {
			clear(o.entries)
		}
		o.entries[k] = originEntry{ok: ok, expires: now.Add(o.ttl)}
		o.mu.Unlock()
	}
	return ok
}

// corsOrigin returns the request's Origin when it is one a grant could be
// for: a canonical http(s) origin as browsers send it ("null" and
// malformed values never are).
func corsOrigin(r *http.Request) (string, bool) {
	vals := r.Header.Values("Origin")
	if len(vals) != 1 {
		return "", false
	}
	canon, ok := directory.OriginOf(vals[0])
	if !ok || canon != vals[0] {
		return "", false
	}
	return canon, true
}

// cors answers a granted preflight of a /v1.0 URL itself and marks a
// cross-origin request from a spa origin of any tenant as granted;
// corsTenant narrows that to the token's tenant. Everything else passes
// through unchanged: an OPTIONS request that is not a granted preflight
// gets today's answer (401 without a token, 405 with one).
func (s *server) cors(c *gin.Context) {
	if s.origins == nil || !underAPI(c.Request.URL.Path) || c.Request.Header.Get("Origin") == "" {
		c.Next()
		return
	}
	h := c.Writer.Header()
	h.Add("Vary", "Origin")
	origin, ok := corsOrigin(c.Request)
	if !ok || !s.origins.registered(c.Request.Context(), anyTenant, origin) {
		c.Next()
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if c.Request.Method == http.MethodOptions && c.Request.Header.Get("Access-Control-Request-Method") != "" {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
		h.Set("Access-Control-Allow-Methods", corsAllowMethods)
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", strconv.Itoa(corsMaxAge))
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
	c.Next()
}

// corsTenant runs once the token is verified: the grant cors made stays
// only when the origin is a spa origin of the token's tenant, so an app
// registered in one tenant cannot read another tenant's answers from the
// browser.
func (s *server) corsTenant(c *gin.Context) {
	h := c.Writer.Header()
	if origin := h.Get("Access-Control-Allow-Origin"); origin != "" && underAPI(c.Request.URL.Path) {
		if p := directory.PrincipalFrom(c.Request.Context()); p != nil &&
			!s.origins.registered(c.Request.Context(), strings.ToLower(p.TenantID), origin) {
			h.Del("Access-Control-Allow-Origin")
			h.Del("Access-Control-Expose-Headers")
		}
	}
	c.Next()
}
