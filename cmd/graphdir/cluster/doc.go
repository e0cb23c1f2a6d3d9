// Package cluster holds the cluster test (`make test-cluster`, build tag
// cluster): a PostgreSQL primary with a streaming replica, PgBouncer in
// transaction mode, three `graphdir serve` processes built from ../ and
// HAProxy health-checking /readyz in front of them, all started and
// stopped by the test, with scenarios run under load through the balancer
// (replica routing, read-your-writes, a replica stopped, SIGTERM and
// SIGKILL of an instance, throttling across instances, sign-in flows that
// move between instances). The test is tagged so that `make test` does
// not run it beside the same tests' cheaper in-process versions; `make
// lint` vets it with the tag. It imports nothing of graphdir but the test
// helpers internal/localpg and internal/mail/smtptest, in its tests.
package cluster
