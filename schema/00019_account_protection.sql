-- Account protection and sign-in logs (issue 12, items 5 and 6).
--
--   * sign_in_lockouts: Entra-style smart lockout, one row per sign-in
--     identifier, keyed by SHA-256(tenant id, NUL, normalised identifier)
--     so that an identifier nobody owns is locked exactly as one somebody
--     owns (no enumeration through the lockout), and no identifier is
--     stored in clear. Every change is one INSERT ... ON CONFLICT DO UPDATE
--     (internal/store/postgres/protect.go), so instances sharing the
--     database never lose a failure to a read-modify-write race.
--   * rate_windows: fixed-window counters (per IP, per tenant, per step),
--     keyed by a hash of the limit's name and subject and the window's
--     start; one upsert per hit.
--   * sign_ins: Graph's signIn resource (auditLogs/signIns), written on
--     every credential-checking outcome. The listing is newest first with
--     keyset paging on (created_at, id); each supported $filter property
--     has an index that leads with it after tenant_id.
--   * users.last_*sign_in_at: Graph's signInActivity, set in the
--     transaction that writes a successful sign-in's row.

-- +goose Up
CREATE TABLE sign_in_lockouts (
    key             bytea       NOT NULL,
    failures        integer     NOT NULL,
    lockouts        integer     NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    last_failure_at timestamptz NOT NULL,
    CONSTRAINT sign_in_lockouts_pkey PRIMARY KEY (key)
);
-- The quiet-period prune.
CREATE INDEX sign_in_lockouts_last_failure_idx ON sign_in_lockouts (last_failure_at);

CREATE TABLE rate_windows (
    key          bytea       NOT NULL,
    window_start timestamptz NOT NULL,
    hits         bigint      NOT NULL,
    CONSTRAINT rate_windows_pkey PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_windows_window_start_idx ON rate_windows (window_start);

CREATE TABLE sign_ins (
    tenant_id                  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                         uuid        NOT NULL,
    created_at                 timestamptz NOT NULL,
    user_id                    uuid,
    user_principal_name        text        NOT NULL DEFAULT '',
    user_display_name          text        NOT NULL DEFAULT '',
    app_id                     text        NOT NULL DEFAULT '',
    app_display_name           text        NOT NULL DEFAULT '',
    ip_address                 text        NOT NULL DEFAULT '',
    client_app_used            text        NOT NULL DEFAULT '',
    error_code                 integer     NOT NULL,
    failure_reason             text        NOT NULL DEFAULT '',
    additional_details         text        NOT NULL DEFAULT '',
    authentication_requirement text        NOT NULL DEFAULT 'singleFactorAuthentication',
    is_interactive             boolean     NOT NULL DEFAULT true,
    correlation_id             text        NOT NULL DEFAULT '',
    CONSTRAINT sign_ins_pkey PRIMARY KEY (tenant_id, id)
);
CREATE INDEX sign_ins_time_idx  ON sign_ins (tenant_id, created_at, id);
CREATE INDEX sign_ins_user_idx  ON sign_ins (tenant_id, user_id, created_at, id) WHERE user_id IS NOT NULL;
CREATE INDEX sign_ins_upn_idx   ON sign_ins (tenant_id, (lower(user_principal_name)) COLLATE "C", created_at, id);
CREATE INDEX sign_ins_app_idx   ON sign_ins (tenant_id, app_id, created_at, id);
CREATE INDEX sign_ins_error_idx ON sign_ins (tenant_id, error_code, created_at, id);
-- The retention prune, across tenants.
CREATE INDEX sign_ins_created_at_idx ON sign_ins (created_at);

ALTER TABLE users ADD COLUMN last_sign_in_at                 timestamptz;
ALTER TABLE users ADD COLUMN last_successful_sign_in_at      timestamptz;
ALTER TABLE users ADD COLUMN last_non_interactive_sign_in_at timestamptz;
-- $filter=signInActivity/lastSignInDateTime ge|le ...: users that never
-- signed in cost nothing in it.
CREATE INDEX users_last_sign_in_idx ON users (tenant_id, last_sign_in_at, id)
    WHERE last_sign_in_at IS NOT NULL AND deleted_at IS NULL;

-- Sign-in by email: the exact, case-insensitive lookup of a live user's
-- emailAddress identity (the unique issuer index needs the issuer too).
CREATE INDEX user_identities_sign_in_email_idx
    ON user_identities (tenant_id, (lower(issuer_assigned_id)) COLLATE "C")
    WHERE lower(sign_in_type) = 'emailaddress' AND NOT user_deleted;

-- +goose Down
DROP INDEX user_identities_sign_in_email_idx;
DROP INDEX users_last_sign_in_idx;
ALTER TABLE users DROP COLUMN last_non_interactive_sign_in_at;
ALTER TABLE users DROP COLUMN last_successful_sign_in_at;
ALTER TABLE users DROP COLUMN last_sign_in_at;
DROP TABLE sign_ins;
DROP TABLE rate_windows;
DROP TABLE sign_in_lockouts;
