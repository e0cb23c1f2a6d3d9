// Package schema holds graphdir's PostgreSQL migrations in goose format
// (NNNNN_verb_object.sql, each with an Up and a Down section), embedded into
// the binary so that no SQL files need to ship beside it.
//
// It imports nothing. internal/store/postgres applies these files with goose's
// Provider API; nothing else should read them except test helpers that need a
// fingerprint of the schema (internal/store/postgres/pgtest).
package schema
