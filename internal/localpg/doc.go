// Package localpg finds or starts a PostgreSQL server for `make run` and
// `make test` on a machine that may have none running. It imports nothing of
// ours.
//
// The private instance lives under a state directory (`.graphdir/` in the
// checkout by default, git-ignored):
//
//	<StateDir>/lock          flock(2) file serialising Start/Stop across processes
//	<StateDir>/port          TCP port chosen on first start, reused afterwards
//	<StateDir>/pgbase        only when relocated (see below): where the data lives
//	<StateDir>/pgdata/       the cluster (initdb'd once)
//	<StateDir>/run/          unix socket directory (under /tmp/graphdir-pg-<hash>
//	                         instead when the path would overflow sun_path)
//	<StateDir>/postgres.log  server log
//
// pg_ctl starts the postmaster in its own session, so Ctrl-C on `make run`
// does not reach it: whoever calls Start must call Stop on the way out
// (SIGINT/SIGTERM included). TestServerURL leaves its instance running on
// purpose; Shutdown stops it.
//
// Clients connect over TCP on 127.0.0.1 with a port chosen once (never 5432,
// which a system server may want). TCP rather than the unix socket because a
// socket path is limited to ~104 bytes (deep checkouts overflow it) and, when
// we run as root, the socket directory belongs to the postgres account. The
// socket is still created (in run/), so psql -h <StateDir>/run works too.
//
// PostgreSQL refuses to run as root. When the caller is root the server runs
// as the `postgres` system user (created with useradd if missing). That user
// must be able to traverse to the data directory; checkouts under /root or
// t.TempDir() (0700, owned by root) are not traversable, so the data, socket
// and log then move to /tmp/graphdir-pg-<hash of StateDir> and <StateDir>/pgbase
// records that path (a symlink <StateDir>/postgres.log points at the log).
// Nothing is made world-readable to achieve this.
//
// Security note: the cluster uses trust authentication, so any local user
// who can reach 127.0.0.1:<port> connects as superuser. It is a development
// database; do not put anything in it you would not leave on the laptop.
package localpg
