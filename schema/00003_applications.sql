-- Registered applications (client credentials), their client secrets and the
-- application permissions granted to them.
--
--   * applications.id is the object id (Graph's application.id); app_id is
--     the client id a token request names (Graph's application.appId). Both
--     are unique within a tenant.
--   * application_secrets never holds a secret: secret_hash is a keyed hash
--     (internal/directory/applications.go explains why HMAC-SHA256 with a
--     server key is enough for 240-bit generated secrets), hint the first
--     three characters Graph also shows.
--   * application_roles are the granted application permissions (Graph
--     names, e.g. User.ReadWrite.All), one row each; they become the roles
--     claim of the app's tokens.

-- +goose Up
CREATE TABLE applications (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           uuid        NOT NULL,
    app_id       uuid        NOT NULL,
    display_name text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT applications_pkey PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX applications_app_id_key ON applications (tenant_id, app_id);

CREATE TABLE application_secrets (
    tenant_id      uuid        NOT NULL,
    application_id uuid        NOT NULL,
    key_id         uuid        NOT NULL,
    display_name   text,
    hint           text        NOT NULL,
    secret_hash    text        NOT NULL,
    start_at       timestamptz NOT NULL,
    end_at         timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT application_secrets_pkey PRIMARY KEY (tenant_id, application_id, key_id),
    CONSTRAINT application_secrets_app_fkey FOREIGN KEY (tenant_id, application_id)
        REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT application_secrets_period_check CHECK (end_at > start_at)
);

CREATE TABLE application_roles (
    tenant_id      uuid NOT NULL,
    application_id uuid NOT NULL,
    permission     text NOT NULL,
    CONSTRAINT application_roles_pkey PRIMARY KEY (tenant_id, application_id, permission),
    CONSTRAINT application_roles_app_fkey FOREIGN KEY (tenant_id, application_id)
        REFERENCES applications (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE application_roles;
DROP TABLE application_secrets;
DROP TABLE applications;
