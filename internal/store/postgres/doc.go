// Package postgres implements directory.Store and directory.KeyStore on
// PostgreSQL with sqlx and lib/pq, and applies the goose migrations in
// package schema.
//
// It is the only package that writes the SQL graphdir serves with (the
// bench's seeding and raw side are internal/bench/benchdb, which runs the
// statements statements.go exports). Every statement is a constant or is
// assembled from constant fragments chosen through static tables (Graph
// property name -> column); values always travel as $n parameters and every
// query is scoped by tenant_id. Driver errors are translated here, at the
// edge: sql.ErrNoRows becomes KindNotFound, a unique violation becomes
// KindConflict naming the Graph property its index guards, and anything else
// becomes KindInternal, whose text is logged and never shown to a client.
//
// properties.go is the one table of user properties: the SELECT list, scan
// targets, INSERT/COPY columns, PATCH columns and the query allow-list
// (operators, sort, search, serving index) are all derived from it at init
// (userprops.go). statements.go exports the exact statements of the hot
// reads and writes, for the bench's raw side (internal/bench/benchdb).
//
// The OData query engine lives here too:
// query.go translates $filter syntax trees with OData 4.01 null semantics,
// search.go translates $search, and list.go builds the one statement of a
// page ($orderby, keyset cursor, $skip, count). schema/00002_query_indexes.sql
// holds the indexes; TestQuery_ExplainUsesIndexes proves every allowed shape
// uses them. stmtcache.go decides which statements run prepared (those whose
// best plan does not depend on the values) and keeps them, bounded.
//
// otp.go and outbox.go keep email one-time codes and the mail outbox for
// internal/otp and internal/mail (their Store and Outbox interfaces; the
// outbox is claimed with FOR UPDATE SKIP LOCKED).
//
// It imports internal/directory, internal/otp and internal/mail (for the
// types of those interfaces), pkg/odata and schema, never internal/api,
// internal/auth or the other packages above the domain. Its own tests live
// in package postgres_test so that they can use pgtest, which imports this
// package.
package postgres
