-- Delegated permission grants (issue 14: user consent), in the shape of
-- Graph's oauth2PermissionGrant.
--
--   * One row per grant: consent_type 'Principal' is one user's consent to
--     one client (principal_id set), 'AllPrincipals' an administrator's for
--     every user of the tenant (principal_id NULL). scopes are canonical
--     scope names; Graph's space-separated scope string is built from them.
--   * graphdir has no service principals: client_id is the client's appId
--     and resource_id Microsoft Graph's appId (the only resource graphdir
--     serves), where Graph puts service principal object ids (README).
--   * A user consents once per client and resource: accepting more scopes
--     later extends that row (INSERT ... ON CONFLICT on the partial unique
--     indexes), so concurrent consents from two instances cannot make two
--     grants.
--   * The client's and the user's rows own their grants: deleting the
--     application or purging the user deletes them.
--   * The token endpoint looks grants up by (tenant, client, user) on every
--     code redemption and refresh that needs a scope beyond the tenant-wide
--     consent: oauth2_permission_grants_principal_key serves it.

-- +goose Up
CREATE TABLE oauth2_permission_grants (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id           text        NOT NULL,
    client_id    uuid        NOT NULL,
    consent_type text        NOT NULL,
    principal_id uuid,
    resource_id  uuid        NOT NULL,
    scopes       text[]      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT oauth2_permission_grants_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT oauth2_permission_grants_client_fkey FOREIGN KEY (tenant_id, client_id)
        REFERENCES applications (tenant_id, app_id) ON DELETE CASCADE,
    CONSTRAINT oauth2_permission_grants_principal_fkey FOREIGN KEY (tenant_id, principal_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT oauth2_permission_grants_type_check CHECK (
        (consent_type = 'Principal' AND principal_id IS NOT NULL)
        OR (consent_type = 'AllPrincipals' AND principal_id IS NULL))
);
CREATE UNIQUE INDEX oauth2_permission_grants_principal_key
    ON oauth2_permission_grants (tenant_id, client_id, principal_id, resource_id) WHERE principal_id IS NOT NULL;
CREATE UNIQUE INDEX oauth2_permission_grants_all_key
    ON oauth2_permission_grants (tenant_id, client_id, resource_id) WHERE principal_id IS NULL;
-- $filter=principalId eq '…' (every app a user consented to).
CREATE INDEX oauth2_permission_grants_user_idx
    ON oauth2_permission_grants (tenant_id, principal_id) WHERE principal_id IS NOT NULL;

-- +goose Down
DROP TABLE oauth2_permission_grants;
