-- Refresh tokens and sign-in session revocation (issue 12, item 3).
--
--   * refresh_tokens holds one row per refresh token ever issued, keyed by
--     the SHA-256 of the token (never the token itself). A family is the
--     chain of rotations that started with one sign-in; family_expires_at
--     is its absolute lifetime, expires_at the token's idle (sliding)
--     lifetime capped by it. rotated_at is set, atomically, when the token
--     is exchanged for its successor; revoked_at when the family dies.
--   * users.sign_in_sessions_valid_from is Graph's
--     signInSessionsValidFromDateTime: delegated access tokens of the
--     built-in issuer issued before it are refused. It is kept in whole
--     seconds, as Graph shows it and as iat counts: a token issued in the
--     same second right after a revocation (a sign-in that follows a
--     password reset) must not be refused.
--   * users_sign_in_sessions (BEFORE UPDATE) moves it to now() on every
--     event that ends a user's sessions (password set, account disabled,
--     soft delete) and revokes the user's refresh tokens, in the event's own
--     transaction, whichever code path wrote the row (PATCH, changePassword,
--     import, delete). revokeSignInSessions sets the column itself and the
--     same trigger revokes the tokens.
--   * The new users column joins the statement-level change log of 00011
--     (which lists every column; TestDeltaChangeLog_StatementTriggersMatch
--     RowTriggers checks it), so a revocation is a change delta can see.

-- +goose Up
ALTER TABLE users ADD COLUMN sign_in_sessions_valid_from timestamptz;

CREATE TABLE refresh_tokens (
    tenant_id         uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    token_hash        bytea       NOT NULL,
    family_id         uuid        NOT NULL,
    user_id           uuid        NOT NULL,
    client_id         text        NOT NULL,
    scopes            text[]      NOT NULL,
    amr               text[]      NOT NULL DEFAULT '{}',
    acrs              text[]      NOT NULL DEFAULT '{}',
    auth_time         timestamptz NOT NULL,
    session_id        text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    family_expires_at timestamptz NOT NULL,
    rotated_at        timestamptz,
    revoked_at        timestamptz,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (tenant_id, token_hash),
    CONSTRAINT refresh_tokens_hash_check CHECK (octet_length(token_hash) = 32)
);
-- Family revocation and the per-user revocation of the trigger.
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (tenant_id, family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (tenant_id, user_id) WHERE revoked_at IS NULL;

-- +goose StatementBegin
CREATE FUNCTION users_sign_in_sessions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_password_change_at IS DISTINCT FROM OLD.last_password_change_at
       OR NEW.password_hash IS DISTINCT FROM OLD.password_hash
       OR (NEW.account_enabled IS FALSE AND OLD.account_enabled IS DISTINCT FROM FALSE)
       OR (NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL) THEN
        NEW.sign_in_sessions_valid_from := date_trunc('second', now());
    END IF;
    IF NEW.sign_in_sessions_valid_from IS DISTINCT FROM OLD.sign_in_sessions_valid_from THEN
        UPDATE refresh_tokens SET revoked_at = now()
        WHERE tenant_id = NEW.tenant_id AND user_id = NEW.id AND revoked_at IS NULL;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_sign_in_sessions BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION users_sign_in_sessions();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION user_changes_log_users_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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
            CASE WHEN n.sign_in_sessions_valid_from IS DISTINCT FROM o.sign_in_sessions_valid_from THEN 'sign_in_sessions_valid_from' END,
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


-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION user_changes_log_users_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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
DROP TRIGGER users_sign_in_sessions ON users;
DROP FUNCTION users_sign_in_sessions();
DROP TABLE refresh_tokens;
ALTER TABLE users DROP COLUMN sign_in_sessions_valid_from;
