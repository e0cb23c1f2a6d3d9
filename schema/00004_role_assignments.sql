-- Directory role assignments (internal/directory/roles.go): which built-in
-- role a user holds in a tenant. Roles are read for every delegated request
-- (one indexed query, role_assignments_principal_idx) and checked in the same
-- statement as sensitive writes and deletes (internal/store/postgres/roles.go),
-- so a role granted concurrently cannot slip between check and write.
--
-- role_definition_id is Entra's role template id; the set of valid ids lives
-- in code (RoleDefinitions), not here, so adding a built-in role needs no
-- migration. directory_scope_id is always '/' (tenant-wide) for now.

-- +goose Up
CREATE TABLE role_assignments (
    tenant_id          uuid        NOT NULL,
    id                 uuid        NOT NULL,
    principal_id       uuid        NOT NULL,
    role_definition_id uuid        NOT NULL,
    directory_scope_id text        NOT NULL DEFAULT '/',
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT role_assignments_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT role_assignments_principal_fkey FOREIGN KEY (tenant_id, principal_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT role_assignments_scope_check CHECK (directory_scope_id = '/')
);

-- One assignment of a role per user; also the index the per-request role
-- lookup (tenant_id, principal_id) and the write guards use.
CREATE UNIQUE INDEX role_assignments_principal_role_key
    ON role_assignments (tenant_id, principal_id, role_definition_id);

-- $filter=roleDefinitionId eq '...' (who holds a role).
CREATE INDEX role_assignments_role_idx
    ON role_assignments (tenant_id, role_definition_id, created_at);

-- +goose Down
DROP TABLE role_assignments;
