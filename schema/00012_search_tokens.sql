-- $search on displayName through a token table instead of the trigram index
-- users_display_name_search_idx.
--
--   * user_search_tokens holds one row per distinct token of each user's
--     displayName, exactly the tokens of graphdir_search_text (00002), so
--     that "a token of the name starts with p" becomes a range of the
--     primary key: token LIKE 'p%' in the "C" collation
--     (internal/store/postgres/search.go). Trigrams select poorly for the
--     short prefixes people type (a 2-letter prefix read ~1.6 s at 1M
--     users), and the GIN index cost ~10 entries per user on every insert
--     and rename; a name has 2-3 tokens, each in two btrees.
--   * Statement-level triggers with transition tables keep it in step on
--     INSERT and DELETE, so a bulk INSERT or COPY into users stays one
--     set-based statement; a rename is a row-level trigger (below). Tokens
--     are derived from the old and new names, never looked up by user.
--   * user_search_tokens_user_idx (tenant_id, user_id, token) serves the
--     other direction: a page in users' order walks users_pkey and this
--     index side by side (a merge semi-join; 2-letter prefix at 1M users:
--     9 ms instead of 340 ms sorting all matching ids), and the second
--     word of "displayName:john sm" is checked per candidate.
--   * No foreign key to users: the delete trigger removes a user's tokens
--     (also on the cascade from tenants), and soft-deleted users keep
--     theirs, which the queries' deleted_at filter on users excludes.

-- +goose Up
-- graphdir_search_tokens is the distinct tokens of graphdir_search_text
-- (00002), by the same rules, as a set (a test checks that both agree). It
-- repeats the rules rather than splitting graphdir_search_text's result:
-- that nested call (not inlinable: it has a FROM) was planned again for
-- every name, ~200 us each; a non-STRICT set-returning SQL function of one
-- SELECT is inlined into the statement that calls it, ~16 us a name.
-- unnest(regexp_split_to_array()) rather than regexp_split_to_table():
-- the planner estimates 10 rows for the former and 1,000 for the latter,
-- which made a one-row INSERT's trigger statement costly enough for JIT.
-- +goose StatementBegin
CREATE FUNCTION graphdir_search_tokens(s text) RETURNS SETOF text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
SELECT DISTINCT t FROM (
    SELECT lower(p) AS t
    FROM unnest(regexp_split_to_array(s, '\s+')) AS w(word),
         unnest(regexp_split_to_array(
             regexp_replace(regexp_replace(regexp_replace(w.word,
                 '([[:lower:]])([[:upper:]])', '\1 \2', 'g'),
                 '([^0-9])([0-9])', '\1 \2', 'g'),
                 '([0-9])([^0-9])', '\1 \2', 'g'),
             '[^[:alnum:]]+')) AS p
    WHERE p <> ''
    UNION ALL
    SELECT lower(regexp_replace(w.word, '[^[:alnum:]]+', '', 'g'))
    FROM unnest(regexp_split_to_array(s, '\s+')) AS w(word)
    WHERE w.word !~ '^([[:lower:]]+|[[:upper:]][[:lower:]]*|[[:upper:]]+|[0-9]+)$'
      AND w.word ~ '[[:alnum:]]'
) AS tokens
$$;
-- +goose StatementEnd

CREATE TABLE user_search_tokens (
    tenant_id uuid NOT NULL,
    token     text COLLATE "C" NOT NULL,
    user_id   uuid NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION user_search_tokens_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_search_tokens (tenant_id, token, user_id)
    SELECT n.tenant_id, t.token, n.id
    FROM user_search_tokens_new n, graphdir_search_tokens(n.display_name) AS t(token);
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- A rename is a row-level trigger: PostgreSQL refuses transition tables on
-- a trigger with a column list, and without one every UPDATE of users
-- (PATCH of other properties, soft delete, password) would capture its rows
-- and run the diff; with the WHEN clause only a changed name fires. The
-- tokens the old and new names share stay.
-- +goose StatementBegin
CREATE FUNCTION user_search_tokens_update() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    old_tokens text[] := ARRAY(SELECT graphdir_search_tokens(OLD.display_name));
    new_tokens text[] := ARRAY(SELECT graphdir_search_tokens(NEW.display_name));
BEGIN
    DELETE FROM user_search_tokens
    WHERE tenant_id = OLD.tenant_id AND user_id = OLD.id
      AND token = ANY (ARRAY(SELECT unnest(old_tokens) EXCEPT SELECT unnest(new_tokens)));
    -- ON CONFLICT: a PATCH must not fail on a token row, whatever its state.
    INSERT INTO user_search_tokens (tenant_id, token, user_id)
    SELECT NEW.tenant_id, t.token, NEW.id
    FROM (SELECT unnest(new_tokens) EXCEPT SELECT unnest(old_tokens)) AS t(token)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_search_tokens_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_search_tokens x
    USING (SELECT o.tenant_id, t.token, o.id AS user_id
           FROM user_search_tokens_old o, graphdir_search_tokens(o.display_name) AS t(token)) AS d
    WHERE x.tenant_id = d.tenant_id AND x.token = d.token AND x.user_id = d.user_id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_search_tokens_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE user_search_tokens;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The triggers come before the copy of the existing names: creating them
-- locks users against writes until this migration commits, so no name
-- changes between the copy and the triggers.
CREATE TRIGGER user_search_tokens_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS user_search_tokens_new
    FOR EACH STATEMENT EXECUTE FUNCTION user_search_tokens_insert();
CREATE TRIGGER user_search_tokens_update AFTER UPDATE OF display_name ON users
    FOR EACH ROW WHEN (OLD.display_name IS DISTINCT FROM NEW.display_name)
    EXECUTE FUNCTION user_search_tokens_update();
CREATE TRIGGER user_search_tokens_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS user_search_tokens_old
    FOR EACH STATEMENT EXECUTE FUNCTION user_search_tokens_delete();
CREATE TRIGGER user_search_tokens_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION user_search_tokens_truncate();

INSERT INTO user_search_tokens (tenant_id, token, user_id)
SELECT u.tenant_id, t.token, u.id
FROM users u, graphdir_search_tokens(u.display_name) AS t(token);

ALTER TABLE user_search_tokens ADD CONSTRAINT user_search_tokens_pkey PRIMARY KEY (tenant_id, token, user_id);
CREATE INDEX user_search_tokens_user_idx ON user_search_tokens (tenant_id, user_id, token);
ANALYZE user_search_tokens;

DROP INDEX users_display_name_search_idx;

-- +goose Down
CREATE INDEX users_display_name_search_idx ON users USING gin (tenant_id, graphdir_search_text(display_name) gin_trgm_ops)
    WHERE display_name IS NOT NULL;
DROP TRIGGER user_search_tokens_truncate ON users;
DROP TRIGGER user_search_tokens_delete ON users;
DROP TRIGGER user_search_tokens_update ON users;
DROP TRIGGER user_search_tokens_insert ON users;
DROP FUNCTION user_search_tokens_truncate();
DROP FUNCTION user_search_tokens_delete();
DROP FUNCTION user_search_tokens_update();
DROP FUNCTION user_search_tokens_insert();
DROP TABLE user_search_tokens;
DROP FUNCTION graphdir_search_tokens(text);
