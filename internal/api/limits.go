package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/graphdir/graphdir/internal/auth"
	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/metrics"
	"github.com/graphdir/graphdir/internal/throttle"
)

// Defaults of the Runtime settings when left zero.
const (
	DefaultMaxURLBytes    = 16 << 10
	DefaultMaxConcurrent  = 256
	DefaultRequestTimeout = 30 * time.Second
	// shedRetryAfter is what a shed request is told to wait: the overload
	// is momentary (requests are short), so retry soon.
	shedRetryAfter = time.Second
)

// Runtime are the settings that keep one instance healthy under load and
// abuse, and observable. Options embeds it.
type Runtime struct {
	// Metrics records requests, shedding, throttling and token failures;
	// nil records nothing.
	Metrics *metrics.Metrics
	// Throttle applies Graph's per-(tenant, app) and per-tenant buckets to
	// authenticated requests; nil disables throttling. Serving instances
	// share their buckets in PostgreSQL (throttle.Shared).
	Throttle *throttle.Limiter
	// MaxConcurrent caps requests in progress; beyond it requests are shed
	// at once with 503 and Retry-After instead of queueing. /healthz and
	// /readyz are exempt. 0 means DefaultMaxConcurrent.
	MaxConcurrent int
	// MaxURLBytes bounds the request target (path and query); longer is a
	// 414. 0 means DefaultMaxURLBytes.
	MaxURLBytes int
	// RequestTimeout is the deadline of every request's context, which the
	// store passes to each SQL statement. 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration

	// enter, when set, runs after a request has taken its concurrency slot
	// (tests use it to hold slots deterministically).
	enter func(*http.Request)
}

// runtimeState is what the Runtime middleware closes over.
type runtimeState struct {
	metrics        *metrics.Metrics
	limiter        *throttle.Limiter
	slots          chan struct{}
	maxURL         int
	requestTimeout time.Duration
	enter          func(*http.Request)
}

func newRuntimeState(rt Runtime) runtimeState {
	st := runtimeState{metrics: rt.Metrics, limiter: rt.Throttle, maxURL: rt.MaxURLBytes,
		requestTimeout: rt.RequestTimeout, enter: rt.enter}
	n := rt.MaxConcurrent
	if n <= 0 {
		n = DefaultMaxConcurrent
	}
	st.slots = make(chan struct{}, n)
	if st.maxURL <= 0 {
		st.maxURL = DefaultMaxURLBytes
	}
	if st.requestTimeout <= 0 {
		st.requestTimeout = DefaultRequestTimeout
	}
	return st
}

// retryableError is a 429 or 503 that says how long to wait (classify reads
// it through RetryAfter).
type retryableError struct {
	wait time.Duration
	why  string
}

func (e *retryableError) Error() string             { return e.why }
func (e *retryableError) RetryAfter() time.Duration { return e.wait }

func errURITooLong(limit int) error {
	return &edgeError{http.StatusRequestURITooLong, "Request_UriTooLong",
		"The request URL exceeds the maximum length of " + strconv.Itoa(limit) + " bytes; send fewer or shorter query options."}
}

// exemptFromShedding are probes: an orchestrator must see the truth about
// an overloaded instance, not a 503 from the shedder.
func exemptFromShedding(path string) bool {
	return path == "/healthz" || path == "/readyz"
}

// observe records the request in the metrics: in-flight while it runs, then
// its count and latency by route template (never the raw path, which may
// hold a userPrincipalName) and status.
func (s *server) observe(c *gin.Context) {
	m := s.rt.metrics
	if m == nil {
		c.Next()
		return
	}
	start := time.Now()
	m.InFlight(1)
	defer m.InFlight(-1)
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	m.ObserveRequest(route, c.Request.Method, c.Writer.Status(), time.Since(start))
}

// limitURL refuses request targets longer than the configured maximum
// before anything parses them. (The HTTP server's MaxHeaderBytes bounds the
// request line and headers together; this gives a clearer answer below it.)
func (s *server) limitURL(c *gin.Context) {
	if len(c.Request.RequestURI) > s.rt.maxURL || len(c.Request.URL.RawQuery) > s.rt.maxURL {
		s.writeError(c, errURITooLong(s.rt.maxURL))
		return
	}
	c.Next()
}

// shed caps concurrent requests with a try-acquire: at the cap a request is
// refused at once with 503 and Retry-After, so an overloaded instance
// answers quickly and a load balancer can go elsewhere, instead of queueing
// without bound until every request times out.
func (s *server) shed(c *gin.Context) {
	// A request inside a $batch runs in the batch's slot.
	if exemptFromShedding(c.Request.URL.Path) || inBatch(c.Request.Context()) {
		c.Next()
		return
	}
	select {
	case s.rt.slots <- struct{}{}:
	default:
		s.rt.metrics.Shed()
		s.renderError(c, &directory.Error{Kind: directory.KindUnavailable,
			Message: "The service is handling too many requests. Retry after the interval in the Retry-After header.",
			Err:     &retryableError{wait: shedRetryAfter, why: "concurrency limit reached"}})
		return
	}
	defer func() { <-s.rt.slots }()
	if s.rt.enter != nil {
		s.rt.enter(c.Request)
	}
	c.Next()
}

// deadline gives every request a deadline that the store carries into SQL,
// so no request can pin a connection for longer.
func (s *server) deadline(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.rt.requestTimeout)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

// countTokenFailure records why a token was refused (never the token).
func (s *server) countTokenFailure(err error) {
	if s.rt.metrics == nil {
		return
	}
	reason := string(auth.ReasonOf(err))
	if reason == "" {
		reason = "other"
	}
	s.rt.metrics.TokenFailure(reason)
}

// throttleRequest spends the request's cost from the caller's buckets, as
// Graph's identity service does, after authentication (the buckets are per
// tenant and application). A refused request is a 429 TooManyRequests with
// Retry-After and Graph's x-ms-throttle-* headers; an admitted one carries
// x-ms-resource-unit and, above 80% use, x-ms-throttle-limit-percentage.
func (s *server) throttleRequest(c *gin.Context) {
	p := directory.PrincipalFrom(c.Request.Context())
	if s.rt.limiter == nil || p == nil {
		c.Next()
		return
	}
	r := c.Request
	// A $batch itself is charged as one read unit, never as a write: each
	// request inside it is charged on its own when it is dispatched (batch.go).
	write := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions &&
		c.FullPath() != batchPath
	// The options are read with the handlers' splitter; a query string it
	// refuses costs the base, and the handler answers 400.
	params, _ := splitQuery(r.URL.RawQuery)
	var selects, expands bool
	var top int
	for _, p := range params {
		switch strings.ToLower(strings.TrimPrefix(p.name, "$")) {
		case "select":
			selects = true
		case "expand":
			expands = true
		case "top":
			if top == 0 {
				top, _ = strconv.Atoi(p.value)
			}
		}
	}
	list := r.Method == http.MethodGet && c.FullPath() == apiPrefix+"/users"
	cost := throttle.Cost(list, selects, expands, top)
	d, err := s.rt.limiter.Take(r.Context(), throttle.Request{Tenant: p.TenantID, App: p.AppID, ResourceUnits: cost, Write: write})
	if err != nil {
		// The buckets are protection, not data: when they cannot be read
		// (the database is failing, and the request most likely will too)
		// the request goes on unthrottled rather than failing here.
		s.log.LogAttrs(r.Context(), slog.LevelWarn, "throttle unavailable, request not throttled", slog.String("error", err.Error()))
		c.Next()
		return
	}
	h := c.Writer.Header()
	if !d.Allowed {
		s.rt.metrics.Throttled(d.Information)
		h.Set("x-ms-throttle-scope", d.Scope)
		h.Set("x-ms-throttle-information", d.Information)
		s.renderError(c, &directory.Error{Kind: directory.KindTooManyRequests, Message: "Please retry again later.",
			Err: &retryableError{wait: d.RetryAfter, why: d.Information}})
		return
	}
	h.Set("x-ms-resource-unit", strconv.Itoa(cost))
	if d.UsedFraction > 0.8 {
		h.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(d.UsedFraction, 'f', 1, 64))
	}
	c.Next()
}
