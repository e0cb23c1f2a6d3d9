-- Graph throttling shared by every instance (issue 15, item 1).
--
--   * throttle_buckets: one token bucket per (tenant, bucket name), the
--     name being 'ru|{app}', 'w|{app}' or 'tw' (internal/throttle). A
--     bucket holds its tokens as of updated_at; refill is computed when it
--     is next taken, so an idle bucket costs nothing and a missing one is
--     full.
--     UNLOGGED: a counter that lasts seconds to minutes is not worth a WAL
--     record and an fsync per request; after a crash or a fail-over the
--     buckets start full, which errs on the callers' side for one window.
--     fillfactor 50 and no index on updated_at keep every take a HOT update
--     (the prune scans the table, which holds one row per active bucket).
--   * throttle_take: spends a request's cost from all its buckets or from
--     none, in one round trip; see the function's comment.

-- +goose Up
CREATE UNLOGGED TABLE throttle_buckets (
    tenant_id  uuid             NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text             NOT NULL,
    tokens     double precision NOT NULL,
    updated_at timestamptz      NOT NULL,
    CONSTRAINT throttle_buckets_pkey PRIMARY KEY (tenant_id, name)
) WITH (fillfactor = 50);

-- throttle_take takes from bucket p_names[i] of p_tenant (of capacity
-- p_capacity[i], refilling at p_rate[i] tokens a second) up to p_want[i]
-- tokens but at least p_cost[i], for every i, or nothing from any when
-- one has fewer than p_cost[i]. (An instance asks for more than the
-- request costs to keep a small lease of tokens it spends locally.) p_now
-- is the time of the take (NULL: the database's clock, the one clock
-- every instance shares; tests pass their own).
--
-- It returns refused = 0, the tokens granted and each bucket's tokens
-- after the take, or refused = i (1-based) and the tokens of the buckets
-- up to i before any take. Buckets are created full and locked in name order, so two takes
-- over overlapping buckets never deadlock; a concurrent take waits on the
-- row lock, so no token is spent twice.
-- +goose StatementBegin
CREATE FUNCTION throttle_take(p_tenant uuid, p_names text[], p_capacity double precision[],
                              p_rate double precision[], p_cost double precision[], p_want double precision[],
                              p_now timestamptz,
                              OUT refused integer, OUT granted double precision[], OUT levels double precision[])
LANGUAGE plpgsql AS $$
DECLARE
    at     timestamptz := coalesce(p_now, statement_timestamp());
    n      integer     := cardinality(p_names);
    have   double precision;
    stored integer;
BEGIN
    refused := 0;
    granted := '{}';
    levels := '{}';
    -- The common case, one existing bucket (a read) with all it is asked
    -- for: one statement. A concurrent take of the row makes the UPDATE
    -- re-check its WHERE on the row as that take left it.
    IF n = 1 THEN
        UPDATE throttle_buckets b
           SET tokens = least(p_capacity[1], b.tokens + greatest(0, extract(epoch FROM at - b.updated_at)) * p_rate[1])
                        - greatest(p_cost[1], p_want[1]),
               updated_at = greatest(b.updated_at, at)
         WHERE b.tenant_id = p_tenant AND b.name = p_names[1]
           AND least(p_capacity[1], b.tokens + greatest(0, extract(epoch FROM at - b.updated_at)) * p_rate[1])
               >= greatest(p_cost[1], p_want[1])
        RETURNING b.tokens INTO have;
        IF FOUND THEN
            granted := ARRAY[greatest(p_cost[1], p_want[1])];
            levels := ARRAY[have];
            RETURN;
        END IF;
    END IF;
    -- Missing buckets are created full before any row is locked (creating
    -- one while holding another's lock could deadlock with a take that
    -- created them in the other order).
    SELECT count(*) INTO stored FROM throttle_buckets WHERE tenant_id = p_tenant AND name = ANY (p_names);
    IF stored < n THEN
        INSERT INTO throttle_buckets (tenant_id, name, tokens, updated_at)
        SELECT p_tenant, u.name, u.capacity, at FROM unnest(p_names, p_capacity) AS u(name, capacity)
         ORDER BY u.name
            ON CONFLICT (tenant_id, name) DO NOTHING;
    END IF;
    PERFORM 1 FROM throttle_buckets WHERE tenant_id = p_tenant AND name = ANY (p_names) ORDER BY name FOR UPDATE;
    FOR i IN 1 .. n LOOP
        have := NULL;
        SELECT least(p_capacity[i], b.tokens + greatest(0, extract(epoch FROM at - b.updated_at)) * p_rate[i])
          INTO have FROM throttle_buckets b WHERE b.tenant_id = p_tenant AND b.name = p_names[i];
        -- Pruned since the insert: pruned buckets had refilled, so full.
        have := coalesce(have, p_capacity[i]);
        levels := levels || have;
        IF have < p_cost[i] THEN
            -- A refused take writes nothing: the stored state refills to
            -- the same level.
            refused := i;
            RETURN;
        END IF;
    END LOOP;
    FOR i IN 1 .. n LOOP
        granted[i] := least(levels[i], greatest(p_cost[i], p_want[i]));
        levels[i] := levels[i] - granted[i];
        UPDATE throttle_buckets SET tokens = levels[i], updated_at = greatest(updated_at, at)
         WHERE tenant_id = p_tenant AND name = p_names[i];
        IF NOT FOUND THEN
            INSERT INTO throttle_buckets (tenant_id, name, tokens, updated_at) VALUES (p_tenant, p_names[i], levels[i], at)
                ON CONFLICT (tenant_id, name) DO NOTHING;
        END IF;
    END LOOP;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION throttle_take(uuid, text[], double precision[], double precision[], double precision[], double precision[], timestamptz);
DROP TABLE throttle_buckets;
