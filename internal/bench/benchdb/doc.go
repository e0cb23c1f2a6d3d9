// Package benchdb is the database side of `graphdir bench`
// (cmd/graphdir/bench.go): the dedicated database, the seeded users and
// their sample, and the raw-SQL side of each scenario (raw.go), which runs
// the statements the store exports (postgres.GetUserStatement and the
// others) so that the bench's ratio compares graphdir with PostgreSQL
// doing the same work. None of it serves requests: it lives apart from
// the store so that the serving code holds no benchmark.
//
// It imports internal/store/postgres (the statements it runs) and
// internal/bench (the /proc CPU readers and the Meter its PostgreSQL CPU
// meter implements; bench imports nothing of ours) and nothing else; with pgtest and localpg it is one of the few packages
// outside the store that may use database/sql and lib/pq, because seeding
// a million users and timing raw statements is SQL by nature, and it must
// not be serving code.
package benchdb
