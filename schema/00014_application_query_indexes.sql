-- Indexes for the query options of GET /v1.0/applications
-- (internal/store/postgres/applications_query.go).
--
--   * application_display_name_key_idx is the displayName key: eq, in and
--     startsWith (a LIKE prefix, a btree range in "C" collation) read it,
--     and $orderby=displayName reads it in order, ties broken by id, which
--     is also the keyset of $skiptoken. Case-insensitive, as Graph compares
--     displayName.
--   * application_display_name_trgm_idx answers the word-inside part of
--     $search="displayName:word" (LIKE '% word%'), which no btree can.
--   * appId eq/in use applications_app_id_key (00003), id eq/in and the
--     unordered listing the primary key.

-- +goose Up
CREATE INDEX application_display_name_key_idx ON applications (tenant_id, (lower(display_name)) COLLATE "C", id);
CREATE INDEX application_display_name_trgm_idx ON applications USING gin (tenant_id, lower(display_name) gin_trgm_ops);
ANALYZE applications;

-- +goose Down
DROP INDEX application_display_name_trgm_idx;
DROP INDEX application_display_name_key_idx;
