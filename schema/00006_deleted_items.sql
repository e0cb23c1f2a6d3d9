-- Deleted items: DELETE /users/{id} moves a user to deleted items instead of
-- removing the row; restore brings it back, purge (or the background purge
-- after the retention period) removes it for good.
--
-- Column contract (delta query and others depend on it):
--   * users.deleted_at IS NULL: a live user; set: the user is in deleted
--     items since then. Soft delete and restore are UPDATEs of deleted_at
--     that bump version; purge is a DELETE of the row.
--   * user_identities.user_deleted mirrors "its user is deleted" (kept by
--     the store in the same transaction), because a unique index cannot
--     look at another table.
--
-- Names (https://learn.microsoft.com/graph/api/directory-deleteditems-restore):
-- as in Entra, the sign-in names of a deleted
-- user are free for live users: nobody can sign in as or look up a deleted
-- user, and an administrator may create a new user with the same
-- userPrincipalName or identity. Restoring the deleted user then fails with
-- Graph's conflict (400 Request_BadRequest, ObjectConflict), raised by the
-- partial unique indexes below when the restore sets deleted_at back to
-- NULL. The indexes keep their names (errors.go maps them to properties).
--
-- The query indexes of 00002 stay as they are: queries on live users add
-- "deleted_at IS NULL" as a filter (deleted users are few, so it removes
-- almost nothing from an index range); the listing of deleted items uses
-- the small partial indexes below.

-- +goose Up
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
ALTER TABLE user_identities ADD COLUMN user_deleted boolean NOT NULL DEFAULT false;

DROP INDEX users_upn_key;
CREATE UNIQUE INDEX users_upn_key ON users (tenant_id, (lower(user_principal_name)) COLLATE "C")
    WHERE deleted_at IS NULL;

-- identities/any(i: i/issuer eq ...) lookups need every row, deleted or not
-- (the deleted-items listing filters on identities too): a plain index with
-- the columns of the unique one, which now covers live users only.
CREATE INDEX user_identities_issuer_idx
    ON user_identities (tenant_id, (lower(issuer)) COLLATE "C", (lower(issuer_assigned_id)) COLLATE "C");
DROP INDEX user_identities_issuer_key;
CREATE UNIQUE INDEX user_identities_issuer_key
    ON user_identities (tenant_id, (lower(issuer)) COLLATE "C", (lower(issuer_assigned_id)) COLLATE "C")
    WHERE NOT user_deleted;

-- The deleted-items listing (default order and $orderby=deletedDateTime,
-- keyset paging) and the background purge (oldest first, all tenants).
CREATE INDEX users_deleted_key_idx ON users (tenant_id, deleted_at, id) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;

-- +goose Down
-- Deleted users cannot survive without the column: purge them first.
DELETE FROM users WHERE deleted_at IS NOT NULL;
DROP INDEX users_deleted_at_idx;
DROP INDEX users_deleted_key_idx;
DROP INDEX user_identities_issuer_key;
CREATE UNIQUE INDEX user_identities_issuer_key
    ON user_identities (tenant_id, (lower(issuer)) COLLATE "C", (lower(issuer_assigned_id)) COLLATE "C");
DROP INDEX user_identities_issuer_idx;
DROP INDEX users_upn_key;
CREATE UNIQUE INDEX users_upn_key ON users (tenant_id, (lower(user_principal_name)) COLLATE "C");
ALTER TABLE user_identities DROP COLUMN user_deleted;
ALTER TABLE users DROP COLUMN deleted_at;
