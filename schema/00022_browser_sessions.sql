-- Browser sign-in (issue 14): hosted-page sessions and authorization codes.
--
--   * browser_sessions is the server side of the __Host- session cookie. The
--     cookie carries a random token (256 bits); only its SHA-256 is kept, so
--     a database read hands out no live session. id is the session id (the
--     tokens' sid). clients lists the applications that received a code
--     during the session: RP-initiated logout redirects only to their
--     registered URIs. A session is void once ended, expired, or older than
--     its user's sign_in_sessions_valid_from (revokeSignInSessions, password
--     reset, disable, delete), which the lookup reads in the same statement.
--   * authorization_codes holds one row per code, keyed by the SHA-256 of
--     the code (never the code). Redemption is one
--     UPDATE ... WHERE used_at IS NULL RETURNING, so of two instances racing
--     on a code exactly one wins; family_id is the refresh-token family the
--     code produced, revoked when the code is presented again.
--   * Both live minutes to hours; a background job deletes expired rows.

-- +goose Up
CREATE TABLE browser_sessions (
    tenant_id  uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid        NOT NULL,
    token_hash bytea       NOT NULL,
    user_id    uuid        NOT NULL,
    amr        text[]      NOT NULL DEFAULT '{}',
    auth_time  timestamptz NOT NULL,
    clients    text[]      NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    ended_at   timestamptz,
    CONSTRAINT browser_sessions_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT browser_sessions_hash_check CHECK (octet_length(token_hash) = 32)
);
CREATE UNIQUE INDEX browser_sessions_token_key ON browser_sessions (tenant_id, token_hash);
CREATE INDEX browser_sessions_expiry_idx ON browser_sessions (expires_at);

CREATE TABLE authorization_codes (
    tenant_id      uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    code_hash      bytea       NOT NULL,
    client_id      text        NOT NULL,
    redirect_uri   text        NOT NULL,
    redirect_kind  text        NOT NULL,
    code_challenge text        NOT NULL DEFAULT '',
    nonce          text        NOT NULL DEFAULT '',
    session_id     uuid        NOT NULL,
    user_id        uuid        NOT NULL,
    scopes         text[]      NOT NULL,
    amr            text[]      NOT NULL DEFAULT '{}',
    acrs           text[]      NOT NULL DEFAULT '{}',
    auth_time      timestamptz NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz,
    family_id      uuid,
    CONSTRAINT authorization_codes_pkey PRIMARY KEY (tenant_id, code_hash),
    CONSTRAINT authorization_codes_hash_check CHECK (octet_length(code_hash) = 32)
);
CREATE INDEX authorization_codes_expiry_idx ON authorization_codes (expires_at);

-- +goose Down
DROP TABLE authorization_codes;
DROP TABLE browser_sessions;
