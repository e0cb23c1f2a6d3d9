-- Multi-step sign-in flows (sign-in, sign-up, password reset, MFA, method
-- registration) that native authentication and the hosted pages drive.
--
--   * A flow is referenced by an opaque handle (native auth's
--     continuation_token, a hosted page's flow id). Only its SHA-256 is kept,
--     so a database read does not hand out live handles.
--   * Advancing a step replaces handle_hash in one UPDATE guarded by the old
--     hash and version: a handle is single-use once a step succeeds, and two
--     instances racing on one handle cannot both win. A failed step leaves
--     the handle valid, as the native-auth SDK retries with the old one.
--   * Rows live minutes; a background job deletes expired ones
--     (signin_flows_expiry_idx).

-- +goose Up
CREATE TABLE signin_flows (
    tenant_id   uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid        NOT NULL,
    handle_hash bytea       NOT NULL,
    client_id   text        NOT NULL,
    kind        text        NOT NULL,
    step        text        NOT NULL,
    user_id     uuid,
    username    text        NOT NULL DEFAULT '',
    amr         text[]      NOT NULL DEFAULT '{}',
    data        jsonb       NOT NULL DEFAULT '{}',
    version     integer     NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CONSTRAINT signin_flows_pkey PRIMARY KEY (tenant_id, id)
);

CREATE UNIQUE INDEX signin_flows_handle_key ON signin_flows (tenant_id, handle_hash);
CREATE INDEX signin_flows_expiry_idx ON signin_flows (expires_at);

-- +goose Down
DROP TABLE signin_flows;
