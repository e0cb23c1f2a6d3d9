-- The sortable key indexes of users hold live users only.
--
-- Every listing and count of live users has "u.deleted_at IS NULL" in its
-- WHERE clause (liveUser, internal/store/postgres/deleted.go). While these
-- indexes also held the deleted users, that condition could only be
-- checked on the heap, so a count was an Index Scan with
-- "Filter: (deleted_at IS NULL)": one heap fetch per match (25,000 random
-- fetches for $count with city eq 'Dublin' at 1M users). Partial on it, the
-- condition is implied by the index, and a count can be an Index Only
-- Scan that visits the heap only for pages the visibility map does not
-- mark all-visible; an unfiltered count reads the smallest of them.
--
--   * Key columns, expressions and names are those of 00001/00002, so the
--     Index field of internal/store/postgres/properties.go and the sort
--     and keyset plans stay as they were.
--   * Each INCLUDEs its raw column. PostgreSQL (15) plans an index-only
--     scan only when every column the WHERE clause names can be returned
--     by the index, even a column used only inside an indexed expression:
--     "COALESCE(lower(u.city), '') COLLATE "C" = ..." needs city itself.
--     Without it a filtered count stays an Index Scan with a heap fetch
--     per match. The cost is the value's bytes once more in each leaf
--     entry; the number of entries written does not change.
--   * The deleted-items listing (deleted_at IS NOT NULL) no longer reaches
--     these: it reads users_deleted_key_idx (00006) and sorts, which is
--     fine for the few deleted users a tenant has.
--   * The planner takes no statistics from a partial index's expressions
--     (see 00009), and these were the only source for the expressions the
--     translator compares: without an expression statistics object, eq on
--     city or a displayName range falls back to default estimates.
--   * A soft delete no longer adds entries to these indexes (the updated
--     row is not live), a restore adds them again; both were already
--     non-HOT updates (deleted_at is indexed).

-- +goose Up
DROP INDEX users_display_name_key_idx;
CREATE INDEX users_display_name_key_idx ON users (tenant_id, (display_name IS NOT NULL), (COALESCE(lower(display_name), '')) COLLATE "C", id) INCLUDE (display_name) WHERE deleted_at IS NULL;
CREATE STATISTICS users_display_name_key_stat ON ((COALESCE(lower(display_name), '') COLLATE "C")) FROM users;
DROP INDEX users_given_name_key_idx;
CREATE INDEX users_given_name_key_idx ON users (tenant_id, (given_name IS NOT NULL), (COALESCE(lower(given_name), '')) COLLATE "C", id) INCLUDE (given_name) WHERE deleted_at IS NULL;
CREATE STATISTICS users_given_name_key_stat ON ((COALESCE(lower(given_name), '') COLLATE "C")) FROM users;
DROP INDEX users_surname_key_idx;
CREATE INDEX users_surname_key_idx ON users (tenant_id, (surname IS NOT NULL), (COALESCE(lower(surname), '')) COLLATE "C", id) INCLUDE (surname) WHERE deleted_at IS NULL;
CREATE STATISTICS users_surname_key_stat ON ((COALESCE(lower(surname), '') COLLATE "C")) FROM users;
DROP INDEX users_mail_key_idx;
CREATE INDEX users_mail_key_idx ON users (tenant_id, (mail IS NOT NULL), (COALESCE(lower(mail), '')) COLLATE "C", id) INCLUDE (mail) WHERE deleted_at IS NULL;
CREATE STATISTICS users_mail_key_stat ON ((COALESCE(lower(mail), '') COLLATE "C")) FROM users;
DROP INDEX users_city_key_idx;
CREATE INDEX users_city_key_idx ON users (tenant_id, (city IS NOT NULL), (COALESCE(lower(city), '')) COLLATE "C", id) INCLUDE (city) WHERE deleted_at IS NULL;
CREATE STATISTICS users_city_key_stat ON ((COALESCE(lower(city), '') COLLATE "C")) FROM users;
DROP INDEX users_account_enabled_key_idx;
CREATE INDEX users_account_enabled_key_idx ON users (tenant_id, (account_enabled IS NOT NULL), (COALESCE(account_enabled, false)), id) INCLUDE (account_enabled) WHERE deleted_at IS NULL;
CREATE STATISTICS users_account_enabled_key_stat ON ((COALESCE(account_enabled, false))) FROM users;
DROP INDEX users_user_principal_name_key_idx;
CREATE INDEX users_user_principal_name_key_idx ON users (tenant_id, (lower(user_principal_name)) COLLATE "C", id) INCLUDE (user_principal_name) WHERE deleted_at IS NULL;
CREATE STATISTICS users_user_principal_name_key_stat ON ((lower(user_principal_name) COLLATE "C")) FROM users;
DROP INDEX users_created_at_idx;
CREATE INDEX users_created_at_idx ON users (tenant_id, created_at, id) WHERE deleted_at IS NULL;
ANALYZE users;

-- +goose Down
DROP INDEX users_created_at_idx;
CREATE INDEX users_created_at_idx ON users (tenant_id, created_at, id);
DROP STATISTICS users_user_principal_name_key_stat;
DROP INDEX users_user_principal_name_key_idx;
CREATE INDEX users_user_principal_name_key_idx ON users (tenant_id, (lower(user_principal_name)) COLLATE "C", id);
DROP STATISTICS users_account_enabled_key_stat;
DROP INDEX users_account_enabled_key_idx;
CREATE INDEX users_account_enabled_key_idx ON users (tenant_id, (account_enabled IS NOT NULL), (COALESCE(account_enabled, false)), id);
DROP STATISTICS users_city_key_stat;
DROP INDEX users_city_key_idx;
CREATE INDEX users_city_key_idx ON users (tenant_id, (city IS NOT NULL), (COALESCE(lower(city), '')) COLLATE "C", id);
DROP STATISTICS users_mail_key_stat;
DROP INDEX users_mail_key_idx;
CREATE INDEX users_mail_key_idx ON users (tenant_id, (mail IS NOT NULL), (COALESCE(lower(mail), '')) COLLATE "C", id);
DROP STATISTICS users_surname_key_stat;
DROP INDEX users_surname_key_idx;
CREATE INDEX users_surname_key_idx ON users (tenant_id, (surname IS NOT NULL), (COALESCE(lower(surname), '')) COLLATE "C", id);
DROP STATISTICS users_given_name_key_stat;
DROP INDEX users_given_name_key_idx;
CREATE INDEX users_given_name_key_idx ON users (tenant_id, (given_name IS NOT NULL), (COALESCE(lower(given_name), '')) COLLATE "C", id);
DROP STATISTICS users_display_name_key_stat;
DROP INDEX users_display_name_key_idx;
CREATE INDEX users_display_name_key_idx ON users (tenant_id, (display_name IS NOT NULL), (COALESCE(lower(display_name), '')) COLLATE "C", id);
