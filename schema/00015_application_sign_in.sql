-- What users sign in to an application with (issue 12): Graph's spa, web,
-- publicClient, isFallbackPublicClient and nativeAuthenticationApisEnabled,
-- and the tenant-wide consent for delegated scopes (requiredResourceAccess).
--
--   * Redirect URIs are text arrays in registration order (Graph keeps the
--     order). At most 256 per application, so a sign-in's exact-match check
--     reads the application by client id (applications_app_id_key) and
--     compares in memory; no index on the URIs themselves is needed.
--   * spa_origins holds the Web origins of the spa redirect URIs, computed
--     by directory.OriginOf when they are written: a CORS preflight names
--     no client, so the question is "does any application of this tenant
--     have this origin", which application_spa_origins_idx answers.
--   * delegated_scopes are the consented delegated scopes by Graph name
--     (openid, User.Read, ...); requiredResourceAccess is rendered from them.
--     Application permissions stay in application_roles (00003).
--   * native_authentication_apis and is_fallback_public_client are NULL
--     until set, as Graph returns them.

-- +goose Up
ALTER TABLE applications
    ADD COLUMN spa_redirect_uris           text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN spa_origins                 text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN web_redirect_uris           text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN web_logout_url              text,
    ADD COLUMN public_client_redirect_uris text[]  NOT NULL DEFAULT '{}',
    ADD COLUMN is_fallback_public_client   boolean,
    ADD COLUMN native_authentication_apis  text
        CONSTRAINT applications_native_authentication_apis_check CHECK (native_authentication_apis IN ('none', 'all')),
    ADD COLUMN delegated_scopes            text[]  NOT NULL DEFAULT '{}';

CREATE INDEX application_spa_origins_idx ON applications USING gin (tenant_id, spa_origins);

-- +goose Down
DROP INDEX application_spa_origins_idx;
ALTER TABLE applications
    DROP COLUMN delegated_scopes,
    DROP COLUMN native_authentication_apis,
    DROP COLUMN is_fallback_public_client,
    DROP COLUMN public_client_redirect_uris,
    DROP COLUMN web_logout_url,
    DROP COLUMN web_redirect_uris,
    DROP COLUMN spa_origins,
    DROP COLUMN spa_redirect_uris;
