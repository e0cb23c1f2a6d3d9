-- Index diet for users: the write cost of 00002's query indexes, cut
-- without making any allowed filter unindexed. Measured before/after in
-- the report of this change (5,000-row INSERT, graphdir import, PATCH).
--
--   * $orderby is kept on displayName, givenName, surname, mail,
--     userPrincipalName, createdDateTime, city, accountEnabled and id
--     (Graph sorts on displayName, userPrincipalName and createdDateTime
--     only).
--     Those keep 00002's full (tenant_id, (col IS NOT NULL), COALESCE(...),
--     id) shape, which sorting with nulls needs.
--   * Every other string property is filter-only: a partial index
--         (tenant_id, (lower(col) COLLATE "C"), id) WHERE col IS NOT NULL
--     serves eq, in, startsWith and gt/ge/lt/le, which all imply a value
--     (the translator writes "u.col IS NOT NULL AND lower(u.col) COLLATE
--     "C" op ..."). A user without the property costs nothing in it on
--     insert or update; most of these are null for most customers.
--     "col eq null" is not index-backed (it matches the users without the
--     property, usually most of them): it is a filter over the tenant's
--     primary-key range, like ne/not/all.
--     The planner takes no statistics from a partial index's expressions,
--     so each gets an expression statistics object (CREATE STATISTICS,
--     PostgreSQL 14+; it costs ANALYZE time only, nothing on writes): with
--     them a selective range or prefix is estimated as such and uses the
--     index.
--   * endsWith (mail, userPrincipalName, as in Graph) is a prefix range
--     over reverse(lower(col)) COLLATE "C" instead of a trigram GIN;
--     contains, which Graph does not support on users, is refused on
--     scalar properties. That drops the three trigram indexes of
--     displayName, mail and userPrincipalName.
--   * GIN indexes with tenant_id (btree_gin) add a tenant_id entry for
--     every row even when the rest is empty, so they become partial:
--     collections WHERE cardinality(col) > 0 (the translator adds that
--     condition to the index hint of any(...)), the $search text WHERE
--     display_name IS NOT NULL.
--   * fillfactor 90 leaves room on heap pages for HOT updates (PATCHes
--     that change no indexed column).

-- +goose Up
ALTER TABLE users SET (fillfactor = 90);

DROP INDEX users_job_title_key_idx;
CREATE INDEX users_job_title_idx ON users (tenant_id, (lower(job_title) COLLATE "C"), id) WHERE job_title IS NOT NULL;
CREATE STATISTICS users_job_title_stat ON ((lower(job_title) COLLATE "C")) FROM users;
DROP INDEX users_country_key_idx;
CREATE INDEX users_country_idx ON users (tenant_id, (lower(country) COLLATE "C"), id) WHERE country IS NOT NULL;
CREATE STATISTICS users_country_stat ON ((lower(country) COLLATE "C")) FROM users;
DROP INDEX users_state_key_idx;
CREATE INDEX users_state_idx ON users (tenant_id, (lower(state) COLLATE "C"), id) WHERE state IS NOT NULL;
CREATE STATISTICS users_state_stat ON ((lower(state) COLLATE "C")) FROM users;
DROP INDEX users_department_key_idx;
CREATE INDEX users_department_idx ON users (tenant_id, (lower(department) COLLATE "C"), id) WHERE department IS NOT NULL;
CREATE STATISTICS users_department_stat ON ((lower(department) COLLATE "C")) FROM users;
DROP INDEX users_company_name_key_idx;
CREATE INDEX users_company_name_idx ON users (tenant_id, (lower(company_name) COLLATE "C"), id) WHERE company_name IS NOT NULL;
CREATE STATISTICS users_company_name_stat ON ((lower(company_name) COLLATE "C")) FROM users;
DROP INDEX users_employee_id_key_idx;
CREATE INDEX users_employee_id_idx ON users (tenant_id, (lower(employee_id) COLLATE "C"), id) WHERE employee_id IS NOT NULL;
CREATE STATISTICS users_employee_id_stat ON ((lower(employee_id) COLLATE "C")) FROM users;
DROP INDEX users_employee_type_key_idx;
CREATE INDEX users_employee_type_idx ON users (tenant_id, (lower(employee_type) COLLATE "C"), id) WHERE employee_type IS NOT NULL;
CREATE STATISTICS users_employee_type_stat ON ((lower(employee_type) COLLATE "C")) FROM users;
DROP INDEX users_mobile_phone_key_idx;
CREATE INDEX users_mobile_phone_idx ON users (tenant_id, (lower(mobile_phone) COLLATE "C"), id) WHERE mobile_phone IS NOT NULL;
CREATE STATISTICS users_mobile_phone_stat ON ((lower(mobile_phone) COLLATE "C")) FROM users;
DROP INDEX users_fax_number_key_idx;
CREATE INDEX users_fax_number_idx ON users (tenant_id, (lower(fax_number) COLLATE "C"), id) WHERE fax_number IS NOT NULL;
CREATE STATISTICS users_fax_number_stat ON ((lower(fax_number) COLLATE "C")) FROM users;
DROP INDEX users_office_location_key_idx;
CREATE INDEX users_office_location_idx ON users (tenant_id, (lower(office_location) COLLATE "C"), id) WHERE office_location IS NOT NULL;
CREATE STATISTICS users_office_location_stat ON ((lower(office_location) COLLATE "C")) FROM users;
DROP INDEX users_street_address_key_idx;
CREATE INDEX users_street_address_idx ON users (tenant_id, (lower(street_address) COLLATE "C"), id) WHERE street_address IS NOT NULL;
CREATE STATISTICS users_street_address_stat ON ((lower(street_address) COLLATE "C")) FROM users;
DROP INDEX users_postal_code_key_idx;
CREATE INDEX users_postal_code_idx ON users (tenant_id, (lower(postal_code) COLLATE "C"), id) WHERE postal_code IS NOT NULL;
CREATE STATISTICS users_postal_code_stat ON ((lower(postal_code) COLLATE "C")) FROM users;
DROP INDEX users_usage_location_key_idx;
CREATE INDEX users_usage_location_idx ON users (tenant_id, (lower(usage_location) COLLATE "C"), id) WHERE usage_location IS NOT NULL;
CREATE STATISTICS users_usage_location_stat ON ((lower(usage_location) COLLATE "C")) FROM users;
DROP INDEX users_preferred_language_key_idx;
CREATE INDEX users_preferred_language_idx ON users (tenant_id, (lower(preferred_language) COLLATE "C"), id) WHERE preferred_language IS NOT NULL;
CREATE STATISTICS users_preferred_language_stat ON ((lower(preferred_language) COLLATE "C")) FROM users;
DROP INDEX users_mail_nickname_key_idx;
CREATE INDEX users_mail_nickname_idx ON users (tenant_id, (lower(mail_nickname) COLLATE "C"), id) WHERE mail_nickname IS NOT NULL;
CREATE STATISTICS users_mail_nickname_stat ON ((lower(mail_nickname) COLLATE "C")) FROM users;
DROP INDEX users_user_type_key_idx;
CREATE INDEX users_user_type_idx ON users (tenant_id, (lower(user_type) COLLATE "C"), id) WHERE user_type IS NOT NULL;
CREATE STATISTICS users_user_type_stat ON ((lower(user_type) COLLATE "C")) FROM users;
DROP INDEX users_creation_type_key_idx;
CREATE INDEX users_creation_type_idx ON users (tenant_id, (lower(creation_type) COLLATE "C"), id) WHERE creation_type IS NOT NULL;
CREATE STATISTICS users_creation_type_stat ON ((lower(creation_type) COLLATE "C")) FROM users;
DROP INDEX users_age_group_key_idx;
CREATE INDEX users_age_group_idx ON users (tenant_id, (lower(age_group) COLLATE "C"), id) WHERE age_group IS NOT NULL;
CREATE STATISTICS users_age_group_stat ON ((lower(age_group) COLLATE "C")) FROM users;
DROP INDEX users_consent_provided_for_minor_key_idx;
CREATE INDEX users_consent_provided_for_minor_idx ON users (tenant_id, (lower(consent_provided_for_minor) COLLATE "C"), id) WHERE consent_provided_for_minor IS NOT NULL;
CREATE STATISTICS users_consent_provided_for_minor_stat ON ((lower(consent_provided_for_minor) COLLATE "C")) FROM users;

-- endsWith: a prefix of the reversed value.
DROP INDEX users_display_name_trgm_idx;
DROP INDEX users_mail_trgm_idx;
DROP INDEX users_user_principal_name_trgm_idx;
CREATE INDEX users_mail_reverse_idx ON users (tenant_id, (reverse(lower(mail)) COLLATE "C")) WHERE mail IS NOT NULL;
CREATE INDEX users_user_principal_name_reverse_idx ON users (tenant_id, (reverse(lower(user_principal_name)) COLLATE "C"));
CREATE STATISTICS users_mail_reverse_stat ON ((reverse(lower(mail)) COLLATE "C")) FROM users;
CREATE STATISTICS users_user_principal_name_reverse_stat ON ((reverse(lower(user_principal_name)) COLLATE "C")) FROM users;

-- Partial GIN indexes.
DROP INDEX users_display_name_search_idx;
CREATE INDEX users_display_name_search_idx ON users USING gin (tenant_id, graphdir_search_text(display_name) gin_trgm_ops)
    WHERE display_name IS NOT NULL;
DROP INDEX users_other_mails_idx;
CREATE INDEX users_other_mails_idx ON users USING gin (tenant_id, graphdir_lower_array(other_mails))
    WHERE cardinality(other_mails) > 0;
DROP INDEX users_other_mails_trgm_idx;
CREATE INDEX users_other_mails_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(other_mails) gin_trgm_ops)
    WHERE cardinality(other_mails) > 0;
DROP INDEX users_proxy_addresses_idx;
CREATE INDEX users_proxy_addresses_idx ON users USING gin (tenant_id, graphdir_lower_array(proxy_addresses))
    WHERE cardinality(proxy_addresses) > 0;
DROP INDEX users_proxy_addresses_trgm_idx;
CREATE INDEX users_proxy_addresses_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(proxy_addresses) gin_trgm_ops)
    WHERE cardinality(proxy_addresses) > 0;
DROP INDEX users_business_phones_trgm_idx;
CREATE INDEX users_business_phones_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(business_phones) gin_trgm_ops)
    WHERE cardinality(business_phones) > 0;

-- +goose Down
DROP INDEX users_business_phones_trgm_idx;
CREATE INDEX users_business_phones_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(business_phones) gin_trgm_ops);
DROP INDEX users_proxy_addresses_trgm_idx;
CREATE INDEX users_proxy_addresses_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(proxy_addresses) gin_trgm_ops);
DROP INDEX users_proxy_addresses_idx;
CREATE INDEX users_proxy_addresses_idx ON users USING gin (tenant_id, graphdir_lower_array(proxy_addresses));
DROP INDEX users_other_mails_trgm_idx;
CREATE INDEX users_other_mails_trgm_idx ON users USING gin (tenant_id, graphdir_elements_text(other_mails) gin_trgm_ops);
DROP INDEX users_other_mails_idx;
CREATE INDEX users_other_mails_idx ON users USING gin (tenant_id, graphdir_lower_array(other_mails));
DROP INDEX users_display_name_search_idx;
CREATE INDEX users_display_name_search_idx ON users USING gin (tenant_id, graphdir_search_text(display_name) gin_trgm_ops);

DROP STATISTICS users_user_principal_name_reverse_stat;
DROP STATISTICS users_mail_reverse_stat;
DROP INDEX users_user_principal_name_reverse_idx;
DROP INDEX users_mail_reverse_idx;
CREATE INDEX users_display_name_trgm_idx ON users USING gin (tenant_id, lower(display_name) gin_trgm_ops);
CREATE INDEX users_mail_trgm_idx ON users USING gin (tenant_id, lower(mail) gin_trgm_ops);
CREATE INDEX users_user_principal_name_trgm_idx ON users USING gin (tenant_id, lower(user_principal_name) gin_trgm_ops);

DROP STATISTICS users_consent_provided_for_minor_stat;
DROP INDEX users_consent_provided_for_minor_idx;
CREATE INDEX users_consent_provided_for_minor_key_idx ON users (tenant_id, (consent_provided_for_minor IS NOT NULL), (COALESCE(lower(consent_provided_for_minor), '')) COLLATE "C", id);
DROP STATISTICS users_age_group_stat;
DROP INDEX users_age_group_idx;
CREATE INDEX users_age_group_key_idx ON users (tenant_id, (age_group IS NOT NULL), (COALESCE(lower(age_group), '')) COLLATE "C", id);
DROP STATISTICS users_creation_type_stat;
DROP INDEX users_creation_type_idx;
CREATE INDEX users_creation_type_key_idx ON users (tenant_id, (creation_type IS NOT NULL), (COALESCE(lower(creation_type), '')) COLLATE "C", id);
DROP STATISTICS users_user_type_stat;
DROP INDEX users_user_type_idx;
CREATE INDEX users_user_type_key_idx ON users (tenant_id, (user_type IS NOT NULL), (COALESCE(lower(user_type), '')) COLLATE "C", id);
DROP STATISTICS users_mail_nickname_stat;
DROP INDEX users_mail_nickname_idx;
CREATE INDEX users_mail_nickname_key_idx ON users (tenant_id, (mail_nickname IS NOT NULL), (COALESCE(lower(mail_nickname), '')) COLLATE "C", id);
DROP STATISTICS users_preferred_language_stat;
DROP INDEX users_preferred_language_idx;
CREATE INDEX users_preferred_language_key_idx ON users (tenant_id, (preferred_language IS NOT NULL), (COALESCE(lower(preferred_language), '')) COLLATE "C", id);
DROP STATISTICS users_usage_location_stat;
DROP INDEX users_usage_location_idx;
CREATE INDEX users_usage_location_key_idx ON users (tenant_id, (usage_location IS NOT NULL), (COALESCE(lower(usage_location), '')) COLLATE "C", id);
DROP STATISTICS users_postal_code_stat;
DROP INDEX users_postal_code_idx;
CREATE INDEX users_postal_code_key_idx ON users (tenant_id, (postal_code IS NOT NULL), (COALESCE(lower(postal_code), '')) COLLATE "C", id);
DROP STATISTICS users_street_address_stat;
DROP INDEX users_street_address_idx;
CREATE INDEX users_street_address_key_idx ON users (tenant_id, (street_address IS NOT NULL), (COALESCE(lower(street_address), '')) COLLATE "C", id);
DROP STATISTICS users_office_location_stat;
DROP INDEX users_office_location_idx;
CREATE INDEX users_office_location_key_idx ON users (tenant_id, (office_location IS NOT NULL), (COALESCE(lower(office_location), '')) COLLATE "C", id);
DROP STATISTICS users_fax_number_stat;
DROP INDEX users_fax_number_idx;
CREATE INDEX users_fax_number_key_idx ON users (tenant_id, (fax_number IS NOT NULL), (COALESCE(lower(fax_number), '')) COLLATE "C", id);
DROP STATISTICS users_mobile_phone_stat;
DROP INDEX users_mobile_phone_idx;
CREATE INDEX users_mobile_phone_key_idx ON users (tenant_id, (mobile_phone IS NOT NULL), (COALESCE(lower(mobile_phone), '')) COLLATE "C", id);
DROP STATISTICS users_employee_type_stat;
DROP INDEX users_employee_type_idx;
CREATE INDEX users_employee_type_key_idx ON users (tenant_id, (employee_type IS NOT NULL), (COALESCE(lower(employee_type), '')) COLLATE "C", id);
DROP STATISTICS users_employee_id_stat;
DROP INDEX users_employee_id_idx;
CREATE INDEX users_employee_id_key_idx ON users (tenant_id, (employee_id IS NOT NULL), (COALESCE(lower(employee_id), '')) COLLATE "C", id);
DROP STATISTICS users_company_name_stat;
DROP INDEX users_company_name_idx;
CREATE INDEX users_company_name_key_idx ON users (tenant_id, (company_name IS NOT NULL), (COALESCE(lower(company_name), '')) COLLATE "C", id);
DROP STATISTICS users_department_stat;
DROP INDEX users_department_idx;
CREATE INDEX users_department_key_idx ON users (tenant_id, (department IS NOT NULL), (COALESCE(lower(department), '')) COLLATE "C", id);
DROP STATISTICS users_state_stat;
DROP INDEX users_state_idx;
CREATE INDEX users_state_key_idx ON users (tenant_id, (state IS NOT NULL), (COALESCE(lower(state), '')) COLLATE "C", id);
DROP STATISTICS users_country_stat;
DROP INDEX users_country_idx;
CREATE INDEX users_country_key_idx ON users (tenant_id, (country IS NOT NULL), (COALESCE(lower(country), '')) COLLATE "C", id);
DROP STATISTICS users_job_title_stat;
DROP INDEX users_job_title_idx;
CREATE INDEX users_job_title_key_idx ON users (tenant_id, (job_title IS NOT NULL), (COALESCE(lower(job_title), '')) COLLATE "C", id);

ALTER TABLE users RESET (fillfactor);
