// Package pgtest gives each test its own PostgreSQL database, already
// migrated, cloned from a template that is built once per schema version.
//
// The server comes from localpg.TestServerURL: GRAPHDIR_TEST_DATABASE_URL,
// else 127.0.0.1:5432, else a private instance. There is no skipping: a test
// that asks for a database and cannot get one fails, naming the cause.
//
// The template is named graphdir_tmpl_<hash of the migration files>, so a
// schema change gets a fresh template while old branches keep theirs. Test
// binaries of several packages run in parallel processes, so the template is
// built under a server-wide advisory lock, marked complete by IS_TEMPLATE and
// closed to connections (CREATE DATABASE ... TEMPLATE needs it unused).
// Each test's database (t_<random>) is dropped WITH (FORCE) on cleanup.
// Templates of old schemas stay until removed by hand:
//
//	ALTER DATABASE graphdir_tmpl_... IS_TEMPLATE false; DROP DATABASE graphdir_tmpl_...;
//
// pgtest imports internal/store/postgres (to migrate and to build Stores), so
// tests of that package must be in package postgres_test.
//
// It imports internal/localpg, internal/store/postgres and schema, and only
// tests import it.
package pgtest
