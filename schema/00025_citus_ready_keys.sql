-- Citus readiness (issue 15, SCALING.md): every tenant table is to be
-- distributed on tenant_id, and Citus refuses a primary key or unique
-- constraint that does not include the distribution column. mail_outbox
-- (00018) was keyed by its identity id alone; its key becomes
-- (tenant_id, id). id stays unique on its own (an identity column), so no
-- statement changes meaning; the outbox worker still addresses rows by id
-- alone (mail.Queued carries no tenant), so a plain index on id keeps those
-- updates index lookups. Under Citus they fan out, which a background
-- worker can afford (SCALING.md).
-- internal/store/postgres/citus_schema_test.go holds every table to the
-- rule from here on.

-- +goose Up
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_pkey;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_pkey PRIMARY KEY (tenant_id, id);
CREATE INDEX mail_outbox_id_idx ON mail_outbox (id);

-- +goose Down
DROP INDEX mail_outbox_id_idx;
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_pkey;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_pkey PRIMARY KEY (id);
