-- The change log behind delta query (GET /v1.0/users/delta,
-- internal/store/postgres/delta.go explains the reader and why it misses
-- nothing).
--
--   * Triggers write one user_changes row per changed user row, in the
--     writer's own transaction, so a change and its log row commit (or
--     roll back) together. xid is the writer's top-level transaction id
--     (xid8: 64 bits, never wraps); readers decide what a delta round
--     returns by comparing it with PostgreSQL snapshots
--     (pg_visible_in_snapshot), never by seq, because sequence values are
--     taken in one order and committed in another.
--   * kind is what the row did: 'upsert' (created, updated or restored;
--     the user is live), 'removed-changed' (moved to deleted items, or
--     changed while there), 'removed-deleted' (purged). Readers report a
--     user's state as of their own snapshot; kind is for diagnosis.
--   * changed_props lists the users columns an update changed (the version
--     counter aside), or 'identities'; NULL means "everything" (a create, a
--     restore, a change the trigger cannot name): Prefer: return=minimal
--     then sends the whole object.
--   * Bounded: PruneUserChanges deletes what a mark snapshot at least the
--     retention old could see and records that snapshot in
--     user_changes_horizon; a delta token whose snapshot does not contain
--     it may have lost changes and is answered 410 syncStateNotFound.
--   * users.deleted_at belongs to 00006 (deleted items); it is added here
--     too, IF NOT EXISTS, so that this migration stands on its own. The
--     trigger reads it through to_jsonb and would work without it.
--   * Tables whose rows are part of a user (user_identities here; for
--     example user_extension_values later) log through
--     user_changes_log_part(prop): attach it with
--       CREATE TRIGGER ... AFTER INSERT OR UPDATE OR DELETE ON <table>
--       FOR EACH ROW EXECUTE FUNCTION user_changes_log_part('<property>');
--     ('*' or no argument: changed_props NULL). The table needs tenant_id
--     and user_id columns.

-- +goose Up
ALTER TABLE users ADD COLUMN IF NOT EXISTS deleted_at timestamptz;

CREATE TABLE user_changes (
    tenant_id     uuid        NOT NULL,
    seq           bigint      GENERATED ALWAYS AS IDENTITY,
    xid           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    user_id       uuid        NOT NULL,
    kind          text        NOT NULL,
    changed_props text[],
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT user_changes_pkey PRIMARY KEY (tenant_id, seq),
    CONSTRAINT user_changes_kind_check CHECK (kind IN ('upsert', 'removed-changed', 'removed-deleted'))
);

-- A delta round reads one tenant's xid range [base xmin, target xmax).
CREATE INDEX user_changes_xid_idx ON user_changes (tenant_id, xid);
-- Pruning works across tenants, oldest first.
CREATE INDEX user_changes_prune_idx ON user_changes (xid);

-- Marks: snapshots taken by each pruning run, so that a later run can
-- prune "what was visible retention ago" exactly, by snapshot.
CREATE TABLE user_change_marks (
    taken_at timestamptz NOT NULL DEFAULT now(),
    snap     pg_snapshot NOT NULL
);
CREATE INDEX user_change_marks_taken_idx ON user_change_marks (taken_at);

-- One row: every change visible in pruned may have been deleted.
CREATE TABLE user_changes_horizon (
    one    boolean     NOT NULL DEFAULT true,
    pruned pg_snapshot,
    at     timestamptz,
    CONSTRAINT user_changes_horizon_pkey PRIMARY KEY (one),
    CONSTRAINT user_changes_horizon_one CHECK (one)
);
INSERT INTO user_changes_horizon (one) VALUES (true);

-- +goose StatementBegin
CREATE FUNCTION user_changes_log() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n jsonb;
    o jsonb;
    changed text[];
    k text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
        VALUES (OLD.tenant_id, OLD.id, 'removed-deleted', NULL);
        RETURN NULL;
    END IF;
    n := to_jsonb(NEW);
    k := CASE WHEN n->>'deleted_at' IS NULL THEN 'upsert' ELSE 'removed-changed' END;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
        VALUES (NEW.tenant_id, NEW.id, k, NULL);
        RETURN NULL;
    END IF;
    o := to_jsonb(OLD);
    SELECT array_agg(e.key ORDER BY e.key) INTO changed
    FROM jsonb_each(n) e
    WHERE e.key <> 'version' AND e.value IS DISTINCT FROM o->e.key;
    IF changed IS NULL THEN
        RETURN NULL; -- nothing but the version counter changed
    END IF;
    IF 'deleted_at' = ANY (changed) AND k = 'upsert' THEN
        changed := NULL; -- restored: the whole object is new to readers
    END IF;
    INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
    VALUES (NEW.tenant_id, NEW.id, k, changed);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_changes_log_part() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r jsonb;
    props text[];
BEGIN
    IF TG_OP = 'DELETE' THEN r := to_jsonb(OLD); ELSE r := to_jsonb(NEW); END IF;
    IF TG_NARGS > 0 AND TG_ARGV[0] <> '*' THEN props := ARRAY[TG_ARGV[0]]; END IF;
    INSERT INTO user_changes (tenant_id, user_id, kind, changed_props)
    VALUES ((r->>'tenant_id')::uuid, (r->>'user_id')::uuid, 'upsert', props);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_log_changes AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION user_changes_log();

-- Only the columns that make up an identity: 00006's user_deleted flag
-- follows the user's soft delete, which the users trigger already logs.
CREATE TRIGGER user_identities_log_changes AFTER INSERT OR DELETE ON user_identities
    FOR EACH ROW EXECUTE FUNCTION user_changes_log_part('identities');
CREATE TRIGGER user_identities_log_updates AFTER UPDATE OF sign_in_type, issuer, issuer_assigned_id ON user_identities
    FOR EACH ROW EXECUTE FUNCTION user_changes_log_part('identities');

-- +goose Down
DROP TRIGGER user_identities_log_updates ON user_identities;
DROP TRIGGER user_identities_log_changes ON user_identities;
DROP TRIGGER users_log_changes ON users;
DROP FUNCTION user_changes_log_part();
DROP FUNCTION user_changes_log();
DROP TABLE user_changes_horizon;
DROP TABLE user_change_marks;
DROP TABLE user_changes;
-- users.deleted_at stays: 00006 owns it.
