package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Runtime holds the settings that keep a serving instance healthy under
// faults and abuse: HTTP server timeouts and limits, the database's
// per-statement and connect timeouts, load shedding, throttling and the
// observability listeners. Config embeds it.
type Runtime struct {
	// HTTP server limits against slow or oversized clients.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int
	MaxURLBytes       int
	// RequestTimeout is the deadline every request's context carries into
	// the store.
	RequestTimeout time.Duration
	// MaxConcurrent caps requests served at once; more are shed with 503.
	MaxConcurrent int

	// StatementTimeout is PostgreSQL's statement_timeout for the serving
	// pool; DBConnectTimeout bounds establishing one connection.
	StatementTimeout time.Duration
	DBConnectTimeout time.Duration
	// DBPreparedStatements lets the store prepare its key lookups and
	// single-row writes; off for poolers that cannot carry them.
	DBPreparedStatements bool

	// Throttle enables Graph-style throttling with these limits.
	Throttle                  bool
	ThrottleResourceUnits     int
	ThrottleWindow            time.Duration
	ThrottleAppWrites         int
	ThrottleAppWriteWindow    time.Duration
	ThrottleTenantWrites      int
	ThrottleTenantWriteWindow time.Duration
	// ThrottleLeasePercent is the share of a shared bucket an instance
	// takes at once and spends locally (throttle.Limits.LeasePercent).
	ThrottleLeasePercent int

	// MetricsAddr, when set, serves /metrics on its own listener.
	MetricsAddr string
	// PprofAddr, when set, serves net/http/pprof on a loopback listener.
	PprofAddr string
}

// runtimeVars document Runtime's settings; Vars includes them.
var runtimeVars = []Var{
	{"GRAPHDIR_READ_HEADER_TIMEOUT", "", "10s", "time a client gets to send the request line and headers (slow-client defence)"},
	{"GRAPHDIR_READ_TIMEOUT", "", "60s", "time a client gets to send a whole request, body included"},
	{"GRAPHDIR_WRITE_TIMEOUT", "", "60s", "time from the end of the request headers to the end of the response"},
	{"GRAPHDIR_IDLE_TIMEOUT", "", "120s", "how long an idle keep-alive connection stays open"},
	{"GRAPHDIR_MAX_HEADER_BYTES", "", "32768", "largest request line plus headers; larger requests get 431"},
	{"GRAPHDIR_MAX_URL_BYTES", "", "16384", "longest request URL (path and query); longer ones get 414"},
	{"GRAPHDIR_REQUEST_TIMEOUT", "", "30s", "deadline of one request, carried into every SQL statement it runs"},
	{"GRAPHDIR_MAX_CONCURRENT", "", "256", "requests served at once per instance; beyond it requests are shed with 503 and Retry-After"},
	{"GRAPHDIR_STATEMENT_TIMEOUT", "", "5s", "PostgreSQL statement_timeout of the serving pool (sent at connection start-up, no extra round trip)"},
	{"GRAPHDIR_DB_CONNECT_TIMEOUT", "", "3s", "bound on opening one database connection, so an unreachable database fails requests fast"},
	{"GRAPHDIR_DB_PREPARED_STATEMENTS", "", "true", "prepare key lookups and single-row writes once per connection (no planning per request); false behind a pooler in transaction mode without prepared-statement support"},
	{"GRAPHDIR_THROTTLE", "", "true", "Graph-style throttling (429 TooManyRequests); false disables it"},
	{"GRAPHDIR_THROTTLE_RESOURCE_UNITS", "", "8000", "resource units per application and tenant per GRAPHDIR_THROTTLE_WINDOW"},
	{"GRAPHDIR_THROTTLE_WINDOW", "", "10s", "window in which the resource-unit bucket refills"},
	{"GRAPHDIR_THROTTLE_APP_WRITES", "", "3000", "writes per application and tenant per GRAPHDIR_THROTTLE_APP_WRITE_WINDOW"},
	{"GRAPHDIR_THROTTLE_APP_WRITE_WINDOW", "", "2m30s", "window in which the per-application write bucket refills"},
	{"GRAPHDIR_THROTTLE_TENANT_WRITES", "", "18000", "writes per tenant, all applications, per GRAPHDIR_THROTTLE_TENANT_WRITE_WINDOW"},
	{"GRAPHDIR_THROTTLE_TENANT_WRITE_WINDOW", "", "5m", "window in which the per-tenant write bucket refills"},
	{"GRAPHDIR_THROTTLE_LEASE_PERCENT", "", "1", "percent of a bucket (whole tokens, rounded down) an instance takes from the shared buckets in PostgreSQL at once and spends locally: one round trip per lease instead of per request; the instances together may be stricter than a limit by one lease each (0: a round trip per request, exact)"},
	{"GRAPHDIR_METRICS_ADDR", "", "", "listen address of the Prometheus /metrics endpoint (e.g. :9464); empty disables it. Never on the API listener"},
	{"GRAPHDIR_PPROF_ADDR", "", "", "loopback listen address of net/http/pprof (e.g. 127.0.0.1:6060); empty disables it"},
}

// loadRuntime reads Runtime's settings through env (which applies the
// documented defaults), appending every problem it finds.
func loadRuntime(env func(string) string, problems *[]string) Runtime {
	var r Runtime
	dur := func(name string, dst *time.Duration) {
		d, err := time.ParseDuration(env(name))
		if err != nil || d <= 0 {
			*problems = append(*problems, fmt.Sprintf("%s: %q must be a positive duration such as 10s", name, env(name)))
		}
		*dst = d
	}
	count := func(name string, min int, dst *int) {
		n, err := strconv.Atoi(strings.TrimSpace(env(name)))
		if err != nil || n < min {
			*problems = append(*problems, fmt.Sprintf("%s: %q must be a whole number, at least %d", name, env(name), min))
		}
		*dst = n
	}
	flag := func(name string, dst *bool) {
		b, err := strconv.ParseBool(env(name))
		if err != nil {
			*problems = append(*problems, fmt.Sprintf("%s: %q must be true or false", name, env(name)))
		}
		*dst = b
	}
	dur("GRAPHDIR_READ_HEADER_TIMEOUT", &r.ReadHeaderTimeout)
	dur("GRAPHDIR_READ_TIMEOUT", &r.ReadTimeout)
	dur("GRAPHDIR_WRITE_TIMEOUT", &r.WriteTimeout)
	dur("GRAPHDIR_IDLE_TIMEOUT", &r.IdleTimeout)
	count("GRAPHDIR_MAX_HEADER_BYTES", 4096, &r.MaxHeaderBytes)
	count("GRAPHDIR_MAX_URL_BYTES", 1024, &r.MaxURLBytes)
	dur("GRAPHDIR_REQUEST_TIMEOUT", &r.RequestTimeout)
	count("GRAPHDIR_MAX_CONCURRENT", 1, &r.MaxConcurrent)
	dur("GRAPHDIR_STATEMENT_TIMEOUT", &r.StatementTimeout)
	dur("GRAPHDIR_DB_CONNECT_TIMEOUT", &r.DBConnectTimeout)
	flag("GRAPHDIR_DB_PREPARED_STATEMENTS", &r.DBPreparedStatements)
	flag("GRAPHDIR_THROTTLE", &r.Throttle)
	count("GRAPHDIR_THROTTLE_RESOURCE_UNITS", 1, &r.ThrottleResourceUnits)
	dur("GRAPHDIR_THROTTLE_WINDOW", &r.ThrottleWindow)
	count("GRAPHDIR_THROTTLE_APP_WRITES", 1, &r.ThrottleAppWrites)
	dur("GRAPHDIR_THROTTLE_APP_WRITE_WINDOW", &r.ThrottleAppWriteWindow)
	count("GRAPHDIR_THROTTLE_TENANT_WRITES", 1, &r.ThrottleTenantWrites)
	dur("GRAPHDIR_THROTTLE_TENANT_WRITE_WINDOW", &r.ThrottleTenantWriteWindow)
	count("GRAPHDIR_THROTTLE_LEASE_PERCENT", 0, &r.ThrottleLeasePercent)
	if r.ThrottleLeasePercent > 50 {
		*problems = append(*problems, "GRAPHDIR_THROTTLE_LEASE_PERCENT: must be at most 50")
	}

	if r.StatementTimeout > 0 && r.StatementTimeout < time.Millisecond {
		*problems = append(*problems, "GRAPHDIR_STATEMENT_TIMEOUT: must be at least 1ms")
	}
	if r.DBConnectTimeout > 0 && r.DBConnectTimeout < time.Second {
		// lib/pq counts connect_timeout in whole seconds.
		*problems = append(*problems, "GRAPHDIR_DB_CONNECT_TIMEOUT: must be at least 1s")
	}
	r.MetricsAddr = strings.TrimSpace(env("GRAPHDIR_METRICS_ADDR"))
	if r.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(r.MetricsAddr); err != nil {
			*problems = append(*problems, fmt.Sprintf("GRAPHDIR_METRICS_ADDR: %q is not a host:port address", r.MetricsAddr))
		}
	}
	r.PprofAddr = strings.TrimSpace(env("GRAPHDIR_PPROF_ADDR"))
	if r.PprofAddr != "" {
		host, _, err := net.SplitHostPort(r.PprofAddr)
		switch {
		case err != nil:
			*problems = append(*problems, fmt.Sprintf("GRAPHDIR_PPROF_ADDR: %q is not a host:port address", r.PprofAddr))
		case !isLoopback(host):
			// Profiles expose memory contents and cost CPU: never serve
			// them beyond this machine (or pod; use kubectl port-forward).
			*problems = append(*problems, fmt.Sprintf("GRAPHDIR_PPROF_ADDR: %q must be a loopback address such as 127.0.0.1:6060", r.PprofAddr))
		}
	}
	return r
}
