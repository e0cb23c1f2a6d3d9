-- A tenant's choice whether native authentication hides that an account
-- does not exist (issue 13 item 7). Entra's contract answers an unknown
-- username with user_not_found at sign-in and password reset; a tenant may
-- prefer to answer as if the account existed.
--
--   * NULL means the deployment's default
--     (GRAPHDIR_NATIVE_AUTH_HIDE_USER_NOT_FOUND), so changing the default
--     changes every tenant that never chose, and `graphdir tenant set
--     --hide-user-not-found=default` returns a tenant to it.
--   * A column on tenants rather than a table of its own: native auth reads
--     it by primary key when a username is unknown, one row of a small
--     reference table (Citus), and adding a nullable column with no default
--     rewrites nothing.

-- +goose Up
ALTER TABLE tenants ADD COLUMN hide_user_not_found boolean;

-- +goose Down
ALTER TABLE tenants DROP COLUMN hide_user_not_found;
