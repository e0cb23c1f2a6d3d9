package metrics

import (
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics records what graphdir does. A nil *Metrics records nothing, so
// tests and tools need not build one.
type Metrics struct {
	registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	inflight      prometheus.Gauge
	throttled     *prometheus.CounterVec
	tokenFailures *prometheus.CounterVec
	shed          prometheus.Counter
	replicas      replicaMetrics // replicas.go
}

// New returns Metrics with Go runtime and process collectors registered.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphdir_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "graphdir_http_request_duration_seconds", Help: "HTTP request latency by route template and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graphdir_http_requests_in_flight", Help: "Requests being served now.",
		}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphdir_throttled_requests_total", Help: "Requests refused with 429, by reason.",
		}, []string{"reason"}),
		tokenFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphdir_token_validation_failures_total", Help: "Refused access tokens by reason.",
		}, []string{"reason"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "graphdir_requests_shed_total", Help: "Requests refused with 503 because the instance was at its concurrency limit.",
		}),
	}
	m.replicas = newReplicaMetrics(m.registry)
	m.registry.MustRegister(m.requests, m.latency, m.inflight, m.throttled, m.tokenFailures, m.shed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchDB exports db's connection-pool statistics.
func (m *Metrics) WatchDB(db *sql.DB) {
	if m != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(db, "graphdir"))
	}
}

// ObserveRequest records one finished request. route is the route template
// (never the raw path, which may hold a userPrincipalName).
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// InFlight adjusts the in-flight gauge by delta.
func (m *Metrics) InFlight(delta float64) {
	if m != nil {
		m.inflight.Add(delta)
	}
}

// Throttled counts a 429.
func (m *Metrics) Throttled(reason string) {
	if m != nil {
		m.throttled.WithLabelValues(reason).Inc()
	}
}

// Shed counts a request refused at the concurrency limit.
func (m *Metrics) Shed() {
	if m != nil {
		m.shed.Inc()
	}
}

// TokenFailure counts a refused token by its internal reason.
func (m *Metrics) TokenFailure(reason string) {
	if m != nil {
		m.tokenFailures.WithLabelValues(reason).Inc()
	}
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}
