// Package metrics owns graphdir's Prometheus metrics: request counts and
// latencies by route and status, database pool statistics, throttling and
// token-validation failures by reason. It uses its own registry (no global
// state) and imports nothing of ours.
package metrics
