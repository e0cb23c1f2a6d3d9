-- Filter-only string properties leave the users heap's indexes: their
-- lower-cased values live in user_attrs, one row per (user, property with a
-- value), under ONE btree. Before this, each had a partial index on users
-- (00009), so a PATCH of jobTitle or officeLocation was a non-HOT update
-- that rewrote entries in all ~39 indexes of users, and every query's
-- planning examined the 19 partial indexes.
--
--   * prop numbers are fixed here and mirrored by queryProperty.Attr in
--     internal/store/postgres/properties.go (TestUserAttrs_PropNumbers checks they agree).
--     Never renumber: rows carry them.
--   * value is lower(col) COLLATE "C", the same key the partial indexes
--     had, so eq, in, startsWith (a prefix range) and gt/ge/lt/le on it are
--     index ranges of (tenant_id, prop, value, user_id). The user id ends
--     the key: the translator probes users_pkey with it
--     (extensions_query.go does the same for extension values).
--   * The users columns stay the source of truth: user_attrs is derived
--     by triggers and only the positive (index-backed) forms of a
--     predicate read it; ne, not and eq null stay filters on users.
--   * A unique index rather than a PRIMARY KEY constraint: BenchBulkSeed
--     drops and rebuilds every index that backs no constraint around its
--     bulk insert, and this one must be among them.
--   * No foreign key to users: it would cost a users_pkey probe per row
--     inserted; hard deletes remove the rows through the trigger instead.
--     Soft-deleted users keep theirs (deleted items are filterable too).
--   * Maintenance: INSERT and DELETE are statement-level triggers with
--     transition tables, one set-based statement each, so COPY and
--     INSERT ... SELECT stay set-based. UPDATE is a row-level trigger on
--     the moved columns with a WHEN clause: PostgreSQL refuses transition
--     tables on a trigger with a column list, and without one every UPDATE
--     of users (soft delete, password, version) would capture its rows and
--     run the diff; with the WHEN clause an unrelated update fires nothing.
--     TRUNCATE users truncates user_attrs.
--   * Statistics: an mcv list on (prop, value), so a value common for one
--     property is not estimated from all properties' values together.

-- +goose Up
CREATE TABLE user_attrs (
    tenant_id uuid       NOT NULL,
    prop      smallint   NOT NULL,
    value     text       COLLATE "C" NOT NULL,
    user_id   uuid       NOT NULL
);

-- The (prop, value) rows of a user: one per moved property with a value.
CREATE FUNCTION graphdir_user_attrs(u users) RETURNS TABLE (prop smallint, value text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT v.prop::smallint, lower(v.value) COLLATE "C"
    FROM (VALUES
        (1, u.job_title),
        (2, u.country),
        (3, u.state),
        (4, u.department),
        (5, u.company_name),
        (6, u.employee_id),
        (7, u.employee_type),
        (8, u.mobile_phone),
        (9, u.fax_number),
        (10, u.office_location),
        (11, u.street_address),
        (12, u.postal_code),
        (13, u.usage_location),
        (14, u.preferred_language),
        (15, u.mail_nickname),
        (16, u.user_type),
        (17, u.creation_type),
        (18, u.age_group),
        (19, u.consent_provided_for_minor)
    ) AS v(prop, value)
    WHERE v.value IS NOT NULL
$$;

INSERT INTO user_attrs (tenant_id, prop, value, user_id)
SELECT u.tenant_id, a.prop, a.value, u.id
FROM users u CROSS JOIN LATERAL graphdir_user_attrs(u) a;

CREATE UNIQUE INDEX user_attrs_key ON user_attrs (tenant_id, prop, value, user_id);
CREATE STATISTICS user_attrs_prop_value_stat (mcv) ON prop, value FROM user_attrs;
ANALYZE user_attrs;

-- +goose StatementBegin
CREATE FUNCTION user_attrs_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_attrs (tenant_id, prop, value, user_id)
    SELECT n.tenant_id, a.prop, a.value, n.id
    FROM user_attrs_new n CROSS JOIN LATERAL graphdir_user_attrs(n) a;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- The deleted users' rows are found by probing user_attrs_key with their
-- full key, (tenant_id, prop, value, user_id) from graphdir_user_attrs.
-- Left to itself the planner joins the transition table with user_attrs
-- on (tenant_id, user_id), which no index serves: a hash join over all of
-- user_attrs for every bulk delete. Its cost estimate is then large
-- enough for JIT, which only adds compile time here.
-- +goose StatementBegin
CREATE FUNCTION user_attrs_delete() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off AS $$
BEGIN
    DELETE FROM user_attrs x
    USING user_attrs_old o CROSS JOIN LATERAL graphdir_user_attrs(o) a
    WHERE x.tenant_id = o.tenant_id AND x.prop = a.prop AND x.value = a.value AND x.user_id = o.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_attrs_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM user_attrs x
    USING (SELECT * FROM graphdir_user_attrs(OLD) EXCEPT SELECT * FROM graphdir_user_attrs(NEW)) a
    WHERE x.tenant_id = OLD.tenant_id AND x.prop = a.prop AND x.value = a.value AND x.user_id = OLD.id;
    INSERT INTO user_attrs (tenant_id, prop, value, user_id)
    SELECT NEW.tenant_id, a.prop, a.value, NEW.id
    FROM (SELECT * FROM graphdir_user_attrs(NEW) EXCEPT SELECT * FROM graphdir_user_attrs(OLD)) a;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION user_attrs_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE user_attrs;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER user_attrs_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS user_attrs_new
    FOR EACH STATEMENT EXECUTE FUNCTION user_attrs_insert();
CREATE TRIGGER user_attrs_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS user_attrs_old
    FOR EACH STATEMENT EXECUTE FUNCTION user_attrs_delete();
CREATE TRIGGER user_attrs_update AFTER UPDATE OF
    job_title, country, state, department, company_name, employee_id,
    employee_type, mobile_phone, fax_number, office_location,
    street_address, postal_code, usage_location, preferred_language,
    mail_nickname, user_type, creation_type, age_group,
    consent_provided_for_minor
    ON users FOR EACH ROW
    WHEN (
        (OLD.job_title, OLD.country, OLD.state, OLD.department,
        OLD.company_name, OLD.employee_id, OLD.employee_type,
        OLD.mobile_phone, OLD.fax_number, OLD.office_location,
        OLD.street_address, OLD.postal_code, OLD.usage_location,
        OLD.preferred_language, OLD.mail_nickname, OLD.user_type,
        OLD.creation_type, OLD.age_group, OLD.consent_provided_for_minor)
        IS DISTINCT FROM
        (NEW.job_title, NEW.country, NEW.state, NEW.department,
        NEW.company_name, NEW.employee_id, NEW.employee_type,
        NEW.mobile_phone, NEW.fax_number, NEW.office_location,
        NEW.street_address, NEW.postal_code, NEW.usage_location,
        NEW.preferred_language, NEW.mail_nickname, NEW.user_type,
        NEW.creation_type, NEW.age_group, NEW.consent_provided_for_minor))
    EXECUTE FUNCTION user_attrs_update();
CREATE TRIGGER user_attrs_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION user_attrs_truncate();

DROP STATISTICS users_job_title_stat;
DROP INDEX users_job_title_idx;
DROP STATISTICS users_country_stat;
DROP INDEX users_country_idx;
DROP STATISTICS users_state_stat;
DROP INDEX users_state_idx;
DROP STATISTICS users_department_stat;
DROP INDEX users_department_idx;
DROP STATISTICS users_company_name_stat;
DROP INDEX users_company_name_idx;
DROP STATISTICS users_employee_id_stat;
DROP INDEX users_employee_id_idx;
DROP STATISTICS users_employee_type_stat;
DROP INDEX users_employee_type_idx;
DROP STATISTICS users_mobile_phone_stat;
DROP INDEX users_mobile_phone_idx;
DROP STATISTICS users_fax_number_stat;
DROP INDEX users_fax_number_idx;
DROP STATISTICS users_office_location_stat;
DROP INDEX users_office_location_idx;
DROP STATISTICS users_street_address_stat;
DROP INDEX users_street_address_idx;
DROP STATISTICS users_postal_code_stat;
DROP INDEX users_postal_code_idx;
DROP STATISTICS users_usage_location_stat;
DROP INDEX users_usage_location_idx;
DROP STATISTICS users_preferred_language_stat;
DROP INDEX users_preferred_language_idx;
DROP STATISTICS users_mail_nickname_stat;
DROP INDEX users_mail_nickname_idx;
DROP STATISTICS users_user_type_stat;
DROP INDEX users_user_type_idx;
DROP STATISTICS users_creation_type_stat;
DROP INDEX users_creation_type_idx;
DROP STATISTICS users_age_group_stat;
DROP INDEX users_age_group_idx;
DROP STATISTICS users_consent_provided_for_minor_stat;
DROP INDEX users_consent_provided_for_minor_idx;

-- +goose Down
CREATE INDEX users_job_title_idx ON users (tenant_id, (lower(job_title) COLLATE "C"), id) WHERE job_title IS NOT NULL;
CREATE STATISTICS users_job_title_stat ON ((lower(job_title) COLLATE "C")) FROM users;
CREATE INDEX users_country_idx ON users (tenant_id, (lower(country) COLLATE "C"), id) WHERE country IS NOT NULL;
CREATE STATISTICS users_country_stat ON ((lower(country) COLLATE "C")) FROM users;
CREATE INDEX users_state_idx ON users (tenant_id, (lower(state) COLLATE "C"), id) WHERE state IS NOT NULL;
CREATE STATISTICS users_state_stat ON ((lower(state) COLLATE "C")) FROM users;
CREATE INDEX users_department_idx ON users (tenant_id, (lower(department) COLLATE "C"), id) WHERE department IS NOT NULL;
CREATE STATISTICS users_department_stat ON ((lower(department) COLLATE "C")) FROM users;
CREATE INDEX users_company_name_idx ON users (tenant_id, (lower(company_name) COLLATE "C"), id) WHERE company_name IS NOT NULL;
CREATE STATISTICS users_company_name_stat ON ((lower(company_name) COLLATE "C")) FROM users;
CREATE INDEX users_employee_id_idx ON users (tenant_id, (lower(employee_id) COLLATE "C"), id) WHERE employee_id IS NOT NULL;
CREATE STATISTICS users_employee_id_stat ON ((lower(employee_id) COLLATE "C")) FROM users;
CREATE INDEX users_employee_type_idx ON users (tenant_id, (lower(employee_type) COLLATE "C"), id) WHERE employee_type IS NOT NULL;
CREATE STATISTICS users_employee_type_stat ON ((lower(employee_type) COLLATE "C")) FROM users;
CREATE INDEX users_mobile_phone_idx ON users (tenant_id, (lower(mobile_phone) COLLATE "C"), id) WHERE mobile_phone IS NOT NULL;
CREATE STATISTICS users_mobile_phone_stat ON ((lower(mobile_phone) COLLATE "C")) FROM users;
CREATE INDEX users_fax_number_idx ON users (tenant_id, (lower(fax_number) COLLATE "C"), id) WHERE fax_number IS NOT NULL;
CREATE STATISTICS users_fax_number_stat ON ((lower(fax_number) COLLATE "C")) FROM users;
CREATE INDEX users_office_location_idx ON users (tenant_id, (lower(office_location) COLLATE "C"), id) WHERE office_location IS NOT NULL;
CREATE STATISTICS users_office_location_stat ON ((lower(office_location) COLLATE "C")) FROM users;
CREATE INDEX users_street_address_idx ON users (tenant_id, (lower(street_address) COLLATE "C"), id) WHERE street_address IS NOT NULL;
CREATE STATISTICS users_street_address_stat ON ((lower(street_address) COLLATE "C")) FROM users;
CREATE INDEX users_postal_code_idx ON users (tenant_id, (lower(postal_code) COLLATE "C"), id) WHERE postal_code IS NOT NULL;
CREATE STATISTICS users_postal_code_stat ON ((lower(postal_code) COLLATE "C")) FROM users;
CREATE INDEX users_usage_location_idx ON users (tenant_id, (lower(usage_location) COLLATE "C"), id) WHERE usage_location IS NOT NULL;
CREATE STATISTICS users_usage_location_stat ON ((lower(usage_location) COLLATE "C")) FROM users;
CREATE INDEX users_preferred_language_idx ON users (tenant_id, (lower(preferred_language) COLLATE "C"), id) WHERE preferred_language IS NOT NULL;
CREATE STATISTICS users_preferred_language_stat ON ((lower(preferred_language) COLLATE "C")) FROM users;
CREATE INDEX users_mail_nickname_idx ON users (tenant_id, (lower(mail_nickname) COLLATE "C"), id) WHERE mail_nickname IS NOT NULL;
CREATE STATISTICS users_mail_nickname_stat ON ((lower(mail_nickname) COLLATE "C")) FROM users;
CREATE INDEX users_user_type_idx ON users (tenant_id, (lower(user_type) COLLATE "C"), id) WHERE user_type IS NOT NULL;
CREATE STATISTICS users_user_type_stat ON ((lower(user_type) COLLATE "C")) FROM users;
CREATE INDEX users_creation_type_idx ON users (tenant_id, (lower(creation_type) COLLATE "C"), id) WHERE creation_type IS NOT NULL;
CREATE STATISTICS users_creation_type_stat ON ((lower(creation_type) COLLATE "C")) FROM users;
CREATE INDEX users_age_group_idx ON users (tenant_id, (lower(age_group) COLLATE "C"), id) WHERE age_group IS NOT NULL;
CREATE STATISTICS users_age_group_stat ON ((lower(age_group) COLLATE "C")) FROM users;
CREATE INDEX users_consent_provided_for_minor_idx ON users (tenant_id, (lower(consent_provided_for_minor) COLLATE "C"), id) WHERE consent_provided_for_minor IS NOT NULL;
CREATE STATISTICS users_consent_provided_for_minor_stat ON ((lower(consent_provided_for_minor) COLLATE "C")) FROM users;

DROP TRIGGER user_attrs_truncate ON users;
DROP TRIGGER user_attrs_update ON users;
DROP TRIGGER user_attrs_delete ON users;
DROP TRIGGER user_attrs_insert ON users;
DROP FUNCTION user_attrs_truncate();
DROP FUNCTION user_attrs_update();
DROP FUNCTION user_attrs_delete();
DROP FUNCTION user_attrs_insert();
DROP TABLE user_attrs;
DROP FUNCTION graphdir_user_attrs(users);
