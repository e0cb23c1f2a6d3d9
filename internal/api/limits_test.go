package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphdir/graphdir/internal/directory"
	"github.com/graphdir/graphdir/internal/metrics"
	"github.com/graphdir/graphdir/internal/throttle"
)

func errorOf(t *testing.T, w *httptest.ResponseRecorder) (code, message string) {
	t.Helper()
	var env struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.Error.Code == "" {
		t.Fatalf("status %d: not a Graph error envelope: %v\n%s", w.Code, err, w.Body.String())
	}
	return env.Error.Code, env.Error.Message
}

func TestURLTooLongIs414(t *testing.T) {
	a := newTestAPI(t)
	long := "/v1.0/users?$filter=" + url.QueryEscape("displayName eq '"+strings.Repeat("a", DefaultMaxURLBytes)+"'")
	w := a.do(t, request{method: "GET", target: long, token: "app-rw"})
	if w.Code != http.StatusRequestURITooLong {
		t.Fatalf("status %d, want 414: %s", w.Code, w.Body.String())
	}
	if code, msg := errorOf(t, w); code != "Request_UriTooLong" || !strings.Contains(msg, "16384 bytes") {
		t.Fatalf("got %s %q", code, msg)
	}
	if len(a.users.called()) != 0 {
		t.Fatal("the service was called")
	}
	// Unauthenticated callers get the same answer before any token work.
	if w := a.do(t, request{method: "GET", target: long}); w.Code != http.StatusRequestURITooLong {
		t.Fatalf("anonymous: status %d", w.Code)
	}
}

func TestFilterLimitsAre400WithClearMessage(t *testing.T) {
	a := newTestAPI(t)
	manyNodes := make([]string, 0, 600)
	for range 600 { // ~4 nodes each, in under 8 KiB
		manyNodes = append(manyNodes, "x eq 1")
	}
	inList := make([]string, 0, 1100)
	for range 1100 {
		inList = append(inList, "'x'")
	}
	for _, tc := range []struct{ name, filter, want string }{
		{"too long", "displayName eq '" + strings.Repeat("a", 9000) + "'", "longer than 8192 bytes"},
		{"too deep", strings.Repeat("(", 150) + "givenName eq 'a'" + strings.Repeat(")", 150), "nested more than 100 levels"},
		{"too many nodes", strings.Join(manyNodes, " or "), "more than 2000 nodes"},
		{"in-list too long", "givenName in (" + strings.Join(inList, ",") + ")", "in-list has more than 1000 items"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := a.do(t, request{method: "GET", target: "/v1.0/users?$filter=" + url.QueryEscape(tc.filter), token: "app-rw"})
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %.300s", w.Code, w.Body.String())
			}
			if _, msg := errorOf(t, w); !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q does not say %q", msg, tc.want)
			}
		})
	}
}

func TestConcurrencyCapShedsWith503(t *testing.T) {
	entered := make(chan struct{}, 8)
	release := make(chan struct{})
	m := metrics.New()
	a := newTestAPI(t, func(o *Options) {
		o.MaxConcurrent = 2
		o.Metrics = m
		o.enter = func(r *http.Request) {
			if r.Header.Get("X-Hold") != "" {
				entered <- struct{}{}
				<-release
			}
		}
	})
	var wg sync.WaitGroup
	held := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The issuer document route: its fake keeps no state, so the
			// held requests do not race on the fake's fields.
			held[i] = a.do(t, request{method: "GET", target: "/" + tenantA + "/discovery/v2.0/keys", header: map[string]string{"X-Hold": "1"}}).Code
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatal("held requests did not start")
		}
	}

	start := time.Now()
	w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-rw"})
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("at the cap: status %d Retry-After %q, want 503 and 1", w.Code, w.Header().Get("Retry-After"))
	}
	if code, _ := errorOf(t, w); code != "serviceNotAvailable" {
		t.Fatalf("code %s", code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shedding took %v; it must not queue", d)
	}
	for _, probe := range []string{"/healthz", "/readyz"} {
		if w := a.do(t, request{method: "GET", target: probe}); w.Code != http.StatusOK {
			t.Fatalf("%s at the cap: %d", probe, w.Code)
		}
	}

	close(release)
	wg.Wait()
	if held[0] != 200 || held[1] != 200 {
		t.Fatalf("held requests: %v", held)
	}
	if w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-rw"}); w.Code != http.StatusOK {
		t.Fatalf("after release: %d", w.Code)
	}
	if s := scrape(t, m); !strings.Contains(s, "graphdir_requests_shed_total 1") {
		t.Fatalf("shed not counted:\n%s", grep(s, "shed"))
	}
}

// fakeClock is a settable clock for the limiter.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestThrottlingLikeGraph(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	lim := throttle.New(throttle.Limits{ResourceUnits: 5, AppTenantWindow: 2 * time.Second, AppTenantWrites: 1, AppTenantWriteWindow: 3 * time.Second}, nil)
	lim.SetClock(clock.Now)
	m := metrics.New()
	a := newTestAPI(t, func(o *Options) { o.Throttle = lim; o.Metrics = m })

	// GET /users costs 2, with $select 1, with $top<20 one less.
	w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-rw"})
	if w.Code != 200 || w.Header().Get("x-ms-resource-unit") != "2" || w.Header().Get("x-ms-throttle-limit-percentage") != "" {
		t.Fatalf("first: %d ru=%q pct=%q", w.Code, w.Header().Get("x-ms-resource-unit"), w.Header().Get("x-ms-throttle-limit-percentage"))
	}
	w = a.do(t, request{method: "GET", target: "/v1.0/users?$select=id&$top=5", token: "app-rw"})
	if w.Code != 200 || w.Header().Get("x-ms-resource-unit") != "1" {
		t.Fatalf("select+top: %d ru=%q", w.Code, w.Header().Get("x-ms-resource-unit"))
	}
	w = a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-rw"})
	if w.Code != 200 || w.Header().Get("x-ms-throttle-limit-percentage") != "1.0" {
		t.Fatalf("third (bucket now empty): %d pct=%q", w.Code, w.Header().Get("x-ms-throttle-limit-percentage"))
	}
	w = a.do(t, request{method: "GET", target: "/v1.0/users/x", token: "app-rw"})
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("fourth: status %d, want 429", w.Code)
	}
	if code, msg := errorOf(t, w); code != "TooManyRequests" || msg != "Please retry again later." {
		t.Fatalf("429 body: %s %q", code, msg)
	}
	h := w.Header()
	if h.Get("Retry-After") != "1" || h.Get("x-ms-throttle-scope") != "Tenant_Application/Read/app-1/"+tenantA ||
		h.Get("x-ms-throttle-information") != "ResourceUnitLimitExceeded" || h.Get("request-id") == "" {
		t.Fatalf("429 headers: %v", h)
	}
	// Another application in the same tenant has its own bucket.
	if w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-read"}); w.Code != 200 {
		t.Fatalf("other app: %d", w.Code)
	}
	// Unauthenticated requests are refused before throttling spends anything.
	if w := a.do(t, request{method: "GET", target: "/v1.0/users"}); w.Code != 401 {
		t.Fatalf("anonymous: %d", w.Code)
	}

	// After the window the bucket has refilled.
	clock.Advance(2 * time.Second)
	if w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-rw"}); w.Code != 200 {
		t.Fatalf("after the window: %d", w.Code)
	}

	// Writes spend write quota: one per 3 s here.
	body := []byte(`{"displayName":"x"}`)
	if w := a.do(t, request{method: "DELETE", target: "/v1.0/users/x", token: "app-rw-b"}); w.Code != 204 {
		t.Fatalf("first write: %d %s", w.Code, w.Body.String())
	}
	w = a.do(t, request{method: "PATCH", target: "/v1.0/users/x", token: "app-rw-b", body: body})
	if w.Code != 429 || w.Header().Get("x-ms-throttle-information") != "WriteLimitExceeded" ||
		w.Header().Get("x-ms-throttle-scope") != "Tenant_Application/Write/app-2/"+tenantB || w.Header().Get("Retry-After") != "3" {
		t.Fatalf("second write: %d %v", w.Code, w.Header())
	}
	clock.Advance(3 * time.Second)
	if w := a.do(t, request{method: "PATCH", target: "/v1.0/users/x", token: "app-rw-b", body: body}); w.Code != 204 {
		t.Fatalf("write after the window: %d", w.Code)
	}

	s := scrape(t, m)
	for _, want := range []string{
		`graphdir_throttled_requests_total{reason="ResourceUnitLimitExceeded"} 1`,
		`graphdir_throttled_requests_total{reason="WriteLimitExceeded"} 1`,
		`graphdir_http_requests_total{method="GET",route="/v1.0/users",status="200"}`,
		`graphdir_http_requests_total{method="GET",route="/v1.0/users/:key",status="429"} 1`,
		`graphdir_token_validation_failures_total{reason="other"} 1`,
		`graphdir_http_request_duration_seconds_bucket{method="GET",route="/v1.0/users",le="0.005"}`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("metrics lack %s\n%s", want, grep(s, "graphdir_"))
		}
	}
}

// deadlineUsers records whether the service saw a deadline.
type deadlineUsers struct {
	*fakeUsers
	mu       sync.Mutex
	deadline time.Duration
}

func (d *deadlineUsers) ListUsers(ctx context.Context, q directory.ListQuery) (*directory.Page, error) {
	if dl, ok := ctx.Deadline(); ok {
		d.mu.Lock()
		d.deadline = time.Until(dl)
		d.mu.Unlock()
	}
	return d.fakeUsers.ListUsers(ctx, q)
}

func TestRequestsCarryADeadline(t *testing.T) {
	du := &deadlineUsers{fakeUsers: &fakeUsers{}}
	a := newTestAPI(t, func(o *Options) { o.Directory = du; o.RequestTimeout = 7 * time.Second })
	if w := a.do(t, request{method: "GET", target: "/v1.0/users", token: "app-rw"}); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	du.mu.Lock()
	defer du.mu.Unlock()
	if du.deadline <= 0 || du.deadline > 7*time.Second {
		t.Fatalf("service saw deadline in %v, want within 7s", du.deadline)
	}
}

func TestUnavailableServiceIs503WithRetryAfter(t *testing.T) {
	a := newTestAPI(t, func(o *Options) {
		o.Ready = func(context.Context) error { return errBoom }
	})
	a.users.err = &directory.Error{Kind: directory.KindUnavailable, Message: "The service is temporarily unavailable. Retry the request.", Err: errBoom}
	for _, target := range []string{"/v1.0/users", "/readyz"} {
		w := a.do(t, request{method: "GET", target: target, token: "app-rw"})
		if w.Code != 503 || w.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: %d Retry-After %q", target, w.Code, w.Header().Get("Retry-After"))
		}
		if code, msg := errorOf(t, w); code != "serviceNotAvailable" || strings.Contains(msg, "10.0.0.7") {
			t.Fatalf("%s: %s %q", target, code, msg)
		}
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func grep(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
