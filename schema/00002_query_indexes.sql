-- Indexes and helper functions for the OData query engine
-- (internal/store/postgres/query.go holds the property table that uses them;
-- its doc comment explains each shape).
--
-- Every index leads with tenant_id (DESIGN.md "Tenancy"); the GIN ones need
-- btree_gin for that. One btree per filterable string property serves eq,
-- in, startsWith, gt/ge/lt/le, eq null AND $orderby with keyset paging:
--
--     (tenant_id, (col IS NOT NULL), (COALESCE(lower(col), '')) COLLATE "C", id)
--
--   * lower(): the directory is case-insensitive.
--   * COLLATE "C": byte order, so LIKE 'prefix%' becomes an index range
--     whatever the database's locale, and ordering is the same everywhere.
--   * (col IS NOT NULL) first and COALESCE(...) second make every key
--     component non-null: OData orders nulls first ascending and last
--     descending, which is exactly "false < true" on the first component,
--     and a keyset cursor becomes one plain row comparison
--     ROW(nn, key, id) > ROW($a, $b, $c) that a forward (asc) or backward
--     (desc) scan of this one index answers, nulls included.
--   * id last: ties are broken by id, and a page is an index range scan.
-- NOT NULL columns (userPrincipalName, createdDateTime) skip the first
-- component.
--
-- Trigram GIN indexes serve contains/endsWith where the property table
-- allows them, the token text of displayName for $search, and the joined
-- element text of the string collections for any(startsWith/endsWith).
-- Array GIN indexes over lower-cased copies serve any(m: m eq/in ...).

-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- graphdir_lower_array lower-cases every element of a string collection,
-- for array GIN indexes and = ANY comparisons.
-- +goose StatementBegin
CREATE FUNCTION graphdir_lower_array(a text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT ARRAY(SELECT lower(x) FROM unnest(a) AS x) $$;
-- +goose StatementEnd

-- graphdir_elements_text joins the lower-cased elements of a string
-- collection with U+001F (unit separator) before, between and after them,
-- so that "an element starts with p" is LIKE '%' || chr(31) || p || '%'
-- and a trigram index can answer it. The store rechecks every element
-- exactly, so a value that itself contains U+001F cannot produce a false
-- match.
-- +goose StatementBegin
CREATE FUNCTION graphdir_elements_text(a text[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT chr(31) || lower(array_to_string(a, chr(31))) || chr(31) $$;
-- +goose StatementEnd

-- graphdir_search_text is the $search token text of a displayName:
-- ' tok1 tok2 ... ' with the tokens lower-cased, so that "a token starts
-- with p" is LIKE '% ' || p || '%' (trigram-indexed). Tokens (Graph's
-- rules: https://learn.microsoft.com/graph/search-query-parameter, "Use
-- $search on directory object collections"): the name is split on white space;
-- each word is split at lower->upper case transitions, between digit runs
-- and letters, and at symbols; a word that splits into several parts also
-- contributes itself with the symbols removed (hello.world -> hello,
-- world, helloworld; McDonald -> mc, donald, mcdonald). searchParts in
-- internal/store/postgres/search.go splits the search text by the same
-- rules; a test checks that both agree.
-- +goose StatementBegin
CREATE FUNCTION graphdir_search_text(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
SELECT ' ' || COALESCE(string_agg(t, ' '), '') || ' '
FROM (
    SELECT lower(p) AS t
    FROM regexp_split_to_table(s, '\s+') AS w(word),
         LATERAL regexp_split_to_table(
             regexp_replace(regexp_replace(regexp_replace(w.word,
                 '([[:lower:]])([[:upper:]])', '\1 \2', 'g'),
                 '([^0-9])([0-9])', '\1 \2', 'g'),
                 '([0-9])([^0-9])', '\1 \2', 'g'),
             '[^[:alnum:]]+') AS p
    WHERE p <> ''
    UNION ALL
    SELECT lower(regexp_replace(w.word, '[^[:alnum:]]+', '', 'g'))
    FROM regexp_split_to_table(s, '\s+') AS w(word)
    WHERE w.word !~ '^([[:lower:]]+|[[:upper:]][[:lower:]]*|[[:upper:]]+|[0-9]+)$'
      AND w.word ~ '[[:alnum:]]'
) AS tokens
$$;
-- +goose StatementEnd

-- The 00001 lookup indexes are replaced by the shapes below.
DROP INDEX users_upn_prefix_idx;
DROP INDEX users_display_name_idx;
DROP INDEX users_display_name_prefix_idx;
DROP INDEX users_mail_prefix_idx;

-- userPrincipalName stays unique (same index name: errors.go maps it), now
-- in the "C" collation the query engine compares in.
DROP INDEX users_upn_key;
CREATE UNIQUE INDEX users_upn_key ON users (tenant_id, (lower(user_principal_name)) COLLATE "C");
CREATE INDEX users_user_principal_name_key_idx ON users (tenant_id, (lower(user_principal_name)) COLLATE "C", id);

CREATE INDEX users_display_name_key_idx ON users (tenant_id, (display_name IS NOT NULL), (COALESCE(lower(display_name), '')) COLLATE "C", id);
CREATE INDEX users_given_name_key_idx ON users (tenant_id, (given_name IS NOT NULL), (COALESCE(lower(given_name), '')) COLLATE "C", id);
CREATE INDEX users_surname_key_idx ON users (tenant_id, (surname IS NOT NULL), (COALESCE(lower(surname), '')) COLLATE "C", id);
CREATE INDEX users_mail_key_idx ON users (tenant_id, (mail IS NOT NULL), (COALESCE(lower(mail), '')) COLLATE "C", id);
CREATE INDEX users_job_title_key_idx ON users (tenant_id, (job_title IS NOT NULL), (COALESCE(lower(job_title), '')) COLLATE "C", id);
CREATE INDEX users_city_key_idx ON users (tenant_id, (city IS NOT NULL), (COALESCE(lower(city), '')) COLLATE "C", id);
CREATE INDEX users_country_key_idx ON users (tenant_id, (country IS NOT NULL), (COALESCE(lower(country), '')) COLLATE "C", id);
CREATE INDEX users_state_key_idx ON users (tenant_id, (state IS NOT NULL), (COALESCE(lower(state), '')) COLLATE "C", id);
CREATE INDEX users_department_key_idx ON users (tenant_id, (department IS NOT NULL), (COALESCE(lower(department), '')) COLLATE "C", id);
CREATE INDEX users_company_name_key_idx ON users (tenant_id, (company_name IS NOT NULL), (COALESCE(lower(company_name), '')) COLLATE "C", id);
CREATE INDEX users_employee_id_key_idx ON users (tenant_id, (employee_id IS NOT NULL), (COALESCE(lower(employee_id), '')) COLLATE "C", id);
CREATE INDEX users_employee_type_key_idx ON users (tenant_id, (employee_type IS NOT NULL), (COALESCE(lower(employee_type), '')) COLLATE "C", id);
CREATE INDEX users_mobile_phone_key_idx ON users (tenant_id, (mobile_phone IS NOT NULL), (COALESCE(lower(mobile_phone), '')) COLLATE "C", id);
CREATE INDEX users_fax_number_key_idx ON users (tenant_id, (fax_number IS NOT NULL), (COALESCE(lower(fax_number), '')) COLLATE "C", id);
CREATE INDEX users_office_location_key_idx ON users (tenant_id, (office_location IS NOT NULL), (COALESCE(lower(office_location), '')) COLLATE "C", id);
CREATE INDEX users_street_address_key_idx ON users (tenant_id, (street_address IS NOT NULL), (COALESCE(lower(street_address), '')) COLLATE "C", id);
CREATE INDEX users_postal_code_key_idx ON users (tenant_id, (postal_code IS NOT NULL), (COALESCE(lower(postal_code), '')) COLLATE "C", id);
CREATE INDEX users_usage_location_key_idx ON users (tenant_id, (usage_location IS NOT NULL), (COALESCE(lower(usage_location), '')) COLLATE "C", id);
CREATE INDEX users_preferred_language_key_idx ON users (tenant_id, (preferred_language IS NOT NULL), (COALESCE(lower(preferred_language), '')) COLLATE "C", id);
CREATE INDEX users_mail_nickname_key_idx ON users (tenant_id, (mail_nickname IS NOT NULL), (COALESCE(lower(mail_nickname), '')) COLLATE "C", id);
CREATE INDEX users_user_type_key_idx ON users (tenant_id, (user_type IS NOT NULL), (COALESCE(lower(user_type), '')) COLLATE "C", id);
CREATE INDEX users_creation_type_key_idx ON users (tenant_id, (creation_type IS NOT NULL), (COALESCE(lower(creation_type), '')) COLLATE "C", id);
CREATE INDEX users_age_group_key_idx ON users (tenant_id, (age_group IS NOT NULL), (COALESCE(lower(age_group), '')) COLLATE "C", id);
CREATE INDEX users_consent_provided_for_minor_key_idx ON users (tenant_id, (consent_provided_for_minor IS NOT NULL), (COALESCE(lower(consent_provided_for_minor), '')) COLLATE "C", id);

CREATE INDEX users_account_enabled_key_idx ON users (tenant_id, (account_enabled IS NOT NULL), (COALESCE(account_enabled, false)), id);
-- users_created_at_idx (tenant_id, created_at, id) from 00001 serves createdDateTime.

-- contains / endsWith.
CREATE INDEX users_display_name_trgm_idx ON users USING gin (tenant_id, lower(display_name) gin_trgm_ops);
CREATE INDEX users_mail_trgm_idx ON users USING gin (tenant_id, lower(mail) gin_trgm_ops);
CREATE INDEX users_user_principal_name_trgm_idx ON users USING gin (tenant_id, lower(user_principal_name) gin_trgm_ops);

-- $search on displayName.
CREATE INDEX users_display_name_search_idx ON users USING gin (tenant_id, graphdir_search_text(display_name) gin_trgm_ops);

-- String collections: eq/in on elements, and startsWith/endsWith/contains.
CREATE INDEX users_other_mails_idx ON users USING gin (tenant_id, graphdir_lower_array(other_mails));
CREATE INDEX users_other_mails_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(other_mails) gin_trgm_ops);
CREATE INDEX users_proxy_addresses_idx ON users USING gin (tenant_id, graphdir_lower_array(proxy_addresses));
CREATE INDEX users_proxy_addresses_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(proxy_addresses) gin_trgm_ops);
CREATE INDEX users_business_phones_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(business_phones) gin_trgm_ops);

-- identities/any(i: ...): issuer (+ issuerAssignedId) through the unique
-- index, issuerAssignedId alone, signInType alone; all in "C" so that
-- startsWith is a range.
DROP INDEX user_identities_issuer_key;
CREATE UNIQUE INDEX user_identities_issuer_key
    ON user_identities (tenant_id, (lower(issuer)) COLLATE "C", (lower(issuer_assigned_id)) COLLATE "C");
CREATE INDEX user_identities_assigned_id_idx
    ON user_identities (tenant_id, (lower(issuer_assigned_id)) COLLATE "C");
CREATE INDEX user_identities_sign_in_type_idx
    ON user_identities (tenant_id, (lower(sign_in_type)) COLLATE "C");

-- +goose Down
DROP INDEX user_identities_sign_in_type_idx;
DROP INDEX user_identities_assigned_id_idx;
DROP INDEX user_identities_issuer_key;
CREATE UNIQUE INDEX user_identities_issuer_key
    ON user_identities (tenant_id, lower(issuer), lower(issuer_assigned_id));

DROP INDEX users_business_phones_trgm_idx;
DROP INDEX users_proxy_addresses_trgm_idx;
DROP INDEX users_proxy_addresses_idx;
DROP INDEX users_other_mails_trgm_idx;
DROP INDEX users_other_mails_idx;
DROP INDEX users_display_name_search_idx;
DROP INDEX users_user_principal_name_trgm_idx;
DROP INDEX users_mail_trgm_idx;
DROP INDEX users_display_name_trgm_idx;
DROP INDEX users_account_enabled_key_idx;
DROP INDEX users_consent_provided_for_minor_key_idx;
DROP INDEX users_age_group_key_idx;
DROP INDEX users_creation_type_key_idx;
DROP INDEX users_user_type_key_idx;
DROP INDEX users_mail_nickname_key_idx;
DROP INDEX users_preferred_language_key_idx;
DROP INDEX users_usage_location_key_idx;
DROP INDEX users_postal_code_key_idx;
DROP INDEX users_street_address_key_idx;
DROP INDEX users_office_location_key_idx;
DROP INDEX users_fax_number_key_idx;
DROP INDEX users_mobile_phone_key_idx;
DROP INDEX users_employee_type_key_idx;
DROP INDEX users_employee_id_key_idx;
DROP INDEX users_company_name_key_idx;
DROP INDEX users_department_key_idx;
DROP INDEX users_state_key_idx;
DROP INDEX users_country_key_idx;
DROP INDEX users_city_key_idx;
DROP INDEX users_job_title_key_idx;
DROP INDEX users_mail_key_idx;
DROP INDEX users_surname_key_idx;
DROP INDEX users_given_name_key_idx;
DROP INDEX users_display_name_key_idx;
DROP INDEX users_user_principal_name_key_idx;
DROP INDEX users_upn_key;
CREATE UNIQUE INDEX users_upn_key ON users (tenant_id, lower(user_principal_name));

CREATE INDEX users_upn_prefix_idx          ON users (tenant_id, lower(user_principal_name) text_pattern_ops);
CREATE INDEX users_display_name_idx        ON users (tenant_id, lower(display_name));
CREATE INDEX users_display_name_prefix_idx ON users (tenant_id, lower(display_name) text_pattern_ops);
CREATE INDEX users_mail_prefix_idx         ON users (tenant_id, lower(mail) text_pattern_ops);

DROP FUNCTION graphdir_search_text(text);
DROP FUNCTION graphdir_elements_text(text[]);
DROP FUNCTION graphdir_lower_array(text[]);
-- The extensions stay: other objects may use them, and they are harmless.
