-- Initial schema: tenants, their domains, users with sign-in identities,
-- token-signing keys and server secrets.
--
-- Conventions (see DESIGN.md "SQL" and "Tenancy"):
--   * tenant_id leads every primary key and unique index, so each tenant's rows
--     cluster together and the schema can be distributed by tenant_id (Citus).
--   * The directory is case-insensitive: uniqueness and lookups use lower(...)
--     expression indexes while the stored text keeps the caller's casing.
--   * Unique indexes are named; internal/store/postgres maps the names to the
--     Graph property a duplicate collides on (users_upn_key -> userPrincipalName,
--     user_identities_issuer_key -> identities). Rename them only together.

-- +goose Up
CREATE TABLE tenants (
    id             uuid        NOT NULL,
    display_name   text        NOT NULL DEFAULT '',
    default_domain text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenants_pkey PRIMARY KEY (id)
);

CREATE INDEX tenants_created_at_idx ON tenants (created_at, id);

CREATE TABLE tenant_domains (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tenant_domains_pkey PRIMARY KEY (tenant_id, domain)
);

CREATE UNIQUE INDEX tenant_domains_domain_key ON tenant_domains (tenant_id, lower(domain));

CREATE TABLE users (
    tenant_id                   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                          uuid        NOT NULL,

    account_enabled             boolean,
    age_group                   text,
    business_phones             text[]      NOT NULL DEFAULT '{}',
    city                        text,
    company_name                text,
    consent_provided_for_minor  text,
    country                     text,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    creation_type               text,
    department                  text,
    display_name                text,
    employee_id                 text,
    employee_type               text,
    fax_number                  text,
    given_name                  text,
    job_title                   text,
    mail                        text,
    mail_nickname               text,
    mobile_phone                text,
    office_location             text,
    other_mails                 text[]      NOT NULL DEFAULT '{}',
    password_policies           text,
    postal_code                 text,
    preferred_language          text,
    proxy_addresses             text[]      NOT NULL DEFAULT '{}',
    state                       text,
    street_address              text,
    surname                     text,
    usage_location              text,
    user_principal_name         text        NOT NULL,
    user_type                   text,

    -- Write-only password state: a hash, never the password.
    password_hash                               text,
    force_change_password_next_sign_in          boolean NOT NULL DEFAULT false,
    force_change_password_next_sign_in_with_mfa boolean NOT NULL DEFAULT false,
    last_password_change_at                     timestamptz,

    -- version increases with every write; ETags and delta build on it.
    version                     bigint      NOT NULL DEFAULT 1,

    CONSTRAINT users_pkey PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX users_upn_key ON users (tenant_id, lower(user_principal_name));

-- Prefix (startsWith) filters on the common CIAM lookups; the plain lower()
-- index above serves eq and $orderby on userPrincipalName.
CREATE INDEX users_upn_prefix_idx          ON users (tenant_id, lower(user_principal_name) text_pattern_ops);
CREATE INDEX users_display_name_idx        ON users (tenant_id, lower(display_name));
CREATE INDEX users_display_name_prefix_idx ON users (tenant_id, lower(display_name) text_pattern_ops);
CREATE INDEX users_mail_prefix_idx         ON users (tenant_id, lower(mail) text_pattern_ops);
CREATE INDEX users_created_at_idx          ON users (tenant_id, created_at, id);

CREATE TABLE user_identities (
    tenant_id          uuid    NOT NULL,
    user_id            uuid    NOT NULL,
    ordinal            integer NOT NULL,
    sign_in_type       text    NOT NULL,
    issuer             text    NOT NULL,
    issuer_assigned_id text    NOT NULL,
    CONSTRAINT user_identities_pkey PRIMARY KEY (tenant_id, user_id, ordinal),
    CONSTRAINT user_identities_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- (issuer, issuerAssignedId) is unique within a tenant, case-insensitively;
-- it also serves the identities/any(...) sign-in-name lookup.
CREATE UNIQUE INDEX user_identities_issuer_key
    ON user_identities (tenant_id, lower(issuer), lower(issuer_assigned_id));

CREATE TABLE signing_keys (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kid         text        NOT NULL,
    alg         text        NOT NULL,
    private_der bytea       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT signing_keys_pkey PRIMARY KEY (tenant_id, kid)
);

-- Server-wide secrets (e.g. the skiptoken HMAC key) belong to the deployment,
-- not to a tenant, so this is the one table without tenant_id.
CREATE TABLE server_secrets (
    name       text        NOT NULL,
    value      bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT server_secrets_pkey PRIMARY KEY (name)
);

-- +goose Down
DROP TABLE server_secrets;
DROP TABLE signing_keys;
DROP TABLE user_identities;
DROP TABLE users;
DROP TABLE tenant_domains;
DROP TABLE tenants;
