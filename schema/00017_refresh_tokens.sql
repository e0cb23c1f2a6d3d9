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

-- +goose Down
DROP TRIGGER users_sign_in_sessions ON users;
DROP FUNCTION users_sign_in_sessions();
DROP TABLE refresh_tokens;
ALTER TABLE users DROP COLUMN sign_in_sessions_valid_from;
