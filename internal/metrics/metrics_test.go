package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	m := New()
	m.ObserveRequest("/v1.0/users/:key", "GET", 200, 3*time.Millisecond)
	m.ObserveRequest("/v1.0/users/:key", "GET", 404, time.Millisecond)
	m.TokenFailure("expired")
	m.Throttled("ResourceUnitLimitExceeded")
	m.Shed()
	m.InFlight(1)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`graphdir_http_requests_total{method="GET",route="/v1.0/users/:key",status="200"} 1`,
		`graphdir_http_requests_total{method="GET",route="/v1.0/users/:key",status="404"} 1`,
		`graphdir_http_request_duration_seconds_count{method="GET",route="/v1.0/users/:key"} 2`,
		`graphdir_token_validation_failures_total{reason="expired"} 1`,
		`graphdir_throttled_requests_total{reason="ResourceUnitLimitExceeded"} 1`,
		`graphdir_requests_shed_total 1`,
		`graphdir_http_requests_in_flight 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	var nilM *Metrics
	nilM.ObserveRequest("x", "GET", 200, 0) // must not panic
}
