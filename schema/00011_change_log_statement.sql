-- The delta change log (00007) written by statement-level triggers: one
-- set-based INSERT INTO user_changes ... SELECT per statement over its
-- transition tables, instead of a plpgsql call per row.
--
-- Same rows as 00007's row-level triggers, as the delta reader
-- (internal/store/postgres/delta.go) sees them: it aggregates per user and
-- window, so only duplicates differ.
--   * users INSERT: (id, 'upsert' or 'removed-changed' by deleted_at, NULL).
--     DELETE: (id, 'removed-deleted', NULL).
--   * users UPDATE: old and new rows paired by key; the columns whose value
--     changed, the version counter aside, sorted; no row when nothing else
--     changed; NULL props for a restore (deleted_at changed on a now-live
--     user). The columns are listed here, compared natively, where 00007
--     compared to_jsonb images: that generic diff was most of the cost
--     (~50 us per row). A column added to users must be added to the list
--     (TestDeltaChangeLog_StatementTriggersMatchRowTriggers changes every
--     column and fails otherwise). A key change, which nothing does (ids
--     are immutable), logs the old key 'removed-deleted' and the new one
--     with NULL props; 00007 logged only the new key.
--   * user_identities INSERT and DELETE: one (user_id, 'upsert',
--     {identities}) per user per statement (00007: one per identity row).
--     UPDATE stays 00007's row-level user_identities_log_updates: a
--     trigger with a column list cannot have transition tables, and no
--     code updates those columns (identities are replaced by DELETE and
--     INSERT).
--   * xid and at keep their defaults: one trigger statement runs in the
--     writer's transaction, so xid (pg_current_xact_id) is the writer's,
--     and the rows commit or roll back with the change.
--   * Cascades (tenant -> users -> user_identities) run as statements of
--     their own and fire these triggers like the row-level ones did.
--   * The identities row of a create is kept although the same
--     transaction's users row (NULL props) already says everything:
--     skipping it takes a lookup by (tenant_id, xid) per user, quadratic in
--     a large import transaction (tried: ~50 -> ~600 us per user in a
--     20,000-user transaction).
--   * The transition tables are captured once per table and event and
--     shared with the statement-level triggers of 00010 and 00012, so
--     these add only their own INSERT ... SELECT.
--   * Tables that are part of a user can still attach 00007's row-level
--     user_changes_log_part(prop), or the statement-level
--     user_changes_log_part_rows(prop) (AFTER INSERT with REFERENCING NEW
--     TABLE AS user_changes_new, AFTER DELETE with REFERENCING OLD TABLE AS
--     user_changes_old; one trigger per event: transition tables need that).
--
-- Measured (PostgreSQL 15, 2 cores shared with other work; backend CPU time
-- from /proc of 20,000 single-row statements in one DO loop, on a copy of
-- users without indexes so that only the trigger differs):
--
--                                  row-level (00007)   this   no trigger
--   INSERT user + INSERT identity       56 us          56 us     31 us
--   UPDATE of two columns               52 us          41 us     15 us
--
-- so single-row statements cost the same (insert) or less (update): the
-- per-statement overhead of transition tables is about what the plpgsql
-- call per row cost. 10,000-row statements on a 200k-user copy of the
-- bench tenant with all indexes (EXPLAIN ANALYZE trigger time, two runs):
--   INSERT INTO users ... SELECT       491-553 ms ->  66-131 ms
--   INSERT INTO user_identities ...    254-414 ms -> 151-181 ms
--   UPDATE users (two columns)       991-1501 ms ->  65-283 ms
--   DELETE FROM users (+ cascade)     538-743 ms -> 131-214 ms
-- pgbench -M prepared -c 16 -j 2 -T 15 on that copy, three alternating
-- runs (tps): create (user + identity in one transaction) 940-1150 ->
-- 910-1180, i.e. unchanged within noise; UPDATE of job_title and
-- office_location 874-1094 -> 1167-1453.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION user_changes_log_users_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
    SELECT n.tenant_id, n.id, CASE WHEN n.deleted_at IS NULL THEN 'upsert' ELSE 'removed-changed' END, NULL
    FROM user_changes_new n;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_changes_log_users_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
    SELECT o.tenant_id, o.id, 'removed-deleted', NULL
    FROM user_changes_old o;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_changes_log_users_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
    SELECT c.tenant_id, c.user_id, c.kind,
        CASE WHEN c.rekeyed OR (c.kind = 'upsert' AND 'deleted_at' = ANY (c.changed)) THEN NULL ELSE c.changed END
    FROM (
        -- OFFSET 0 keeps this a subquery, so that changed is computed once
        -- per row although the outer query reads it three times.
        SELECT COALESCE(n.tenant_id, o.tenant_id) AS tenant_id, COALESCE(n.id, o.id) AS user_id,
            CASE WHEN n.id IS NULL THEN 'removed-deleted'
                 WHEN n.deleted_at IS NULL THEN 'upsert'
                 ELSE 'removed-changed' END AS kind,
            n.id IS NULL OR o.id IS NULL AS rekeyed,
            array_remove(ARRAY[
            CASE WHEN n.account_enabled IS DISTINCT FROM o.account_enabled THEN 'account_enabled' END,
            CASE WHEN n.age_group IS DISTINCT FROM o.age_group THEN 'age_group' END,
            CASE WHEN n.business_phones IS DISTINCT FROM o.business_phones THEN 'business_phones' END,
            CASE WHEN n.city IS DISTINCT FROM o.city THEN 'city' END,
            CASE WHEN n.company_name IS DISTINCT FROM o.company_name THEN 'company_name' END,
            CASE WHEN n.consent_provided_for_minor IS DISTINCT FROM o.consent_provided_for_minor THEN 'consent_provided_for_minor' END,
            CASE WHEN n.country IS DISTINCT FROM o.country THEN 'country' END,
            CASE WHEN n.created_at IS DISTINCT FROM o.created_at THEN 'created_at' END,
            CASE WHEN n.creation_type IS DISTINCT FROM o.creation_type THEN 'creation_type' END,
            CASE WHEN n.deleted_at IS DISTINCT FROM o.deleted_at THEN 'deleted_at' END,
            CASE WHEN n.department IS DISTINCT FROM o.department THEN 'department' END,
            CASE WHEN n.display_name IS DISTINCT FROM o.display_name THEN 'display_name' END,
            CASE WHEN n.employee_id IS DISTINCT FROM o.employee_id THEN 'employee_id' END,
            CASE WHEN n.employee_type IS DISTINCT FROM o.employee_type THEN 'employee_type' END,
            CASE WHEN n.fax_number IS DISTINCT FROM o.fax_number THEN 'fax_number' END,
            CASE WHEN n.force_change_password_next_sign_in IS DISTINCT FROM o.force_change_password_next_sign_in THEN 'force_change_password_next_sign_in' END,
            CASE WHEN n.force_change_password_next_sign_in_with_mfa IS DISTINCT FROM o.force_change_password_next_sign_in_with_mfa THEN 'force_change_password_next_sign_in_with_mfa' END,
            CASE WHEN n.given_name IS DISTINCT FROM o.given_name THEN 'given_name' END,
            CASE WHEN n.id IS DISTINCT FROM o.id THEN 'id' END,
            CASE WHEN n.job_title IS DISTINCT FROM o.job_title THEN 'job_title' END,
            CASE WHEN n.last_password_change_at IS DISTINCT FROM o.last_password_change_at THEN 'last_password_change_at' END,
            CASE WHEN n.mail IS DISTINCT FROM o.mail THEN 'mail' END,
            CASE WHEN n.mail_nickname IS DISTINCT FROM o.mail_nickname THEN 'mail_nickname' END,
            CASE WHEN n.mobile_phone IS DISTINCT FROM o.mobile_phone THEN 'mobile_phone' END,
            CASE WHEN n.office_location IS DISTINCT FROM o.office_location THEN 'office_location' END,
            CASE WHEN n.other_mails IS DISTINCT FROM o.other_mails THEN 'other_mails' END,
            CASE WHEN n.password_hash IS DISTINCT FROM o.password_hash THEN 'password_hash' END,
            CASE WHEN n.password_policies IS DISTINCT FROM o.password_policies THEN 'password_policies' END,
            CASE WHEN n.postal_code IS DISTINCT FROM o.postal_code THEN 'postal_code' END,
            CASE WHEN n.preferred_language IS DISTINCT FROM o.preferred_language THEN 'preferred_language' END,
            CASE WHEN n.proxy_addresses IS DISTINCT FROM o.proxy_addresses THEN 'proxy_addresses' END,
            CASE WHEN n.state IS DISTINCT FROM o.state THEN 'state' END,
            CASE WHEN n.street_address IS DISTINCT FROM o.street_address THEN 'street_address' END,
            CASE WHEN n.surname IS DISTINCT FROM o.surname THEN 'surname' END,
            CASE WHEN n.tenant_id IS DISTINCT FROM o.tenant_id THEN 'tenant_id' END,
            CASE WHEN n.usage_location IS DISTINCT FROM o.usage_location THEN 'usage_location' END,
            CASE WHEN n.user_principal_name IS DISTINCT FROM o.user_principal_name THEN 'user_principal_name' END,
            CASE WHEN n.user_type IS DISTINCT FROM o.user_type THEN 'user_type' END
            ], NULL) AS changed
        FROM user_changes_new n
        FULL JOIN user_changes_old o ON o.tenant_id = n.tenant_id AND o.id = n.id
        OFFSET 0
    ) c
    WHERE c.rekeyed OR cardinality(c.changed) > 0;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_changes_log_part_rows() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    props text[];
BEGIN
    IF TG_NARGS > 0 AND TG_ARGV[0] <> '*' THEN props := ARRAY[TG_ARGV[0]]; END IF;
    IF TG_OP = 'DELETE' THEN
        INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
        SELECT DISTINCT r.tenant_id, r.user_id, 'upsert', props FROM user_changes_old r;
    ELSE
        INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
        SELECT DISTINCT r.tenant_id, r.user_id, 'upsert', props FROM user_changes_new r;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

DROP TRIGGER users_log_changes ON users;
DROP TRIGGER user_identities_log_changes ON user_identities;

CREATE TRIGGER user_changes_users_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS user_changes_new
    FOR EACH STATEMENT EXECUTE FUNCTION user_changes_log_users_inserted();
CREATE TRIGGER user_changes_users_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS user_changes_old NEW TABLE AS user_changes_new
    FOR EACH STATEMENT EXECUTE FUNCTION user_changes_log_users_updated();
CREATE TRIGGER user_changes_users_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS user_changes_old
    FOR EACH STATEMENT EXECUTE FUNCTION user_changes_log_users_deleted();
CREATE TRIGGER user_changes_identities_insert AFTER INSERT ON user_identities
    REFERENCING NEW TABLE AS user_changes_new
    FOR EACH STATEMENT EXECUTE FUNCTION user_changes_log_part_rows('identities');
CREATE TRIGGER user_changes_identities_delete AFTER DELETE ON user_identities
    REFERENCING OLD TABLE AS user_changes_old
    FOR EACH STATEMENT EXECUTE FUNCTION user_changes_log_part_rows('identities');

-- +goose Down
DROP TRIGGER user_changes_identities_delete ON user_identities;
DROP TRIGGER user_changes_identities_insert ON user_identities;
DROP TRIGGER user_changes_users_delete ON users;
DROP TRIGGER user_changes_users_update ON users;
DROP TRIGGER user_changes_users_insert ON users;
CREATE TRIGGER users_log_changes AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_changes_log();
CREATE TRIGGER user_identities_log_changes AFTER INSERT OR DELETE ON user_identities
    FOR EACH ROW EXECUTE FUNCTION user_changes_log_part('identities');
DROP FUNCTION user_changes_log_part_rows();
DROP FUNCTION user_changes_log_users_updated();
DROP FUNCTION user_changes_log_users_deleted();
DROP FUNCTION user_changes_log_users_inserted();
