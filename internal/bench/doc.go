// Package bench is the load generator behind `make bench`: it runs an
// operation from a fixed number of concurrent clients for a fixed time,
// records every latency, and formats the results table. It knows nothing of
// graphdir's API or SQL; cmd/graphdir's bench command supplies the
// operations (HTTP requests, raw statements). It imports nothing of ours.
// Subpackage benchdb holds the bench's database side (seeding, sampling,
// the raw-SQL runner).
package bench
