-- Directory extension attributes (Graph's extensionProperty): per-tenant
-- definitions owned by an application, and their values on users.
--
--   * extension_properties.name is the full property name,
--     extension_{appId without dashes}_{name}; it is unique per tenant
--     ignoring case (the appId in it makes it unique per application, as
--     Graph has it). Deleting the application deletes its definitions.
--   * user_extension_values holds one row per value: ordinal 0 for a
--     single-valued property, 0..n-1 for a multi-valued String. Exactly one
--     of the value columns is set, by the definition's dataType (String:
--     value_text; Integer and LargeInteger: value_num; Boolean: value_bool;
--     DateTime: value_time). Deleting a definition deletes its values
--     (cascade), so a deleted definition's values can never be returned.
--   * The value indexes lead with (tenant_id, ext_id) and end with user_id:
--     a filter on one extension is one index range whose user ids then probe
--     users_pkey (internal/store/postgres/extensions_query.go).

-- +goose Up
CREATE TABLE extension_properties (
    tenant_id       uuid        NOT NULL,
    id              uuid        NOT NULL,
    application_id  uuid        NOT NULL,
    name            text        NOT NULL,
    data_type       text        NOT NULL,
    is_multi_valued boolean     NOT NULL DEFAULT false,
    target_objects  text[]      NOT NULL DEFAULT '{User}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT extension_properties_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT extension_properties_app_fkey FOREIGN KEY (tenant_id, application_id)
        REFERENCES applications (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT extension_properties_type_check
        CHECK (data_type IN ('String', 'Integer', 'LargeInteger', 'Boolean', 'DateTime')),
    CONSTRAINT extension_properties_multi_check
        CHECK (NOT is_multi_valued OR data_type = 'String')
);

CREATE UNIQUE INDEX extension_properties_name_key
    ON extension_properties (tenant_id, (lower(name) COLLATE "C"));
CREATE INDEX extension_properties_app_idx
    ON extension_properties (tenant_id, application_id);

CREATE TABLE user_extension_values (
    tenant_id  uuid        NOT NULL,
    user_id    uuid        NOT NULL,
    ext_id     uuid        NOT NULL,
    ordinal    integer     NOT NULL,
    value_text text,
    value_num  bigint,
    value_bool boolean,
    value_time timestamptz,
    CONSTRAINT user_extension_values_pkey PRIMARY KEY (tenant_id, user_id, ext_id, ordinal),
    CONSTRAINT user_extension_values_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT user_extension_values_ext_fkey FOREIGN KEY (tenant_id, ext_id)
        REFERENCES extension_properties (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT user_extension_values_one_check CHECK (
        (value_text IS NOT NULL)::int + (value_num IS NOT NULL)::int +
        (value_bool IS NOT NULL)::int + (value_time IS NOT NULL)::int = 1)
);

-- Not partial: it also serves the cascade from extension_properties.
CREATE INDEX user_extension_values_text_idx
    ON user_extension_values (tenant_id, ext_id, (lower(value_text) COLLATE "C"), user_id);
CREATE INDEX user_extension_values_num_idx
    ON user_extension_values (tenant_id, ext_id, value_num, user_id) WHERE value_num IS NOT NULL;
CREATE INDEX user_extension_values_bool_idx
    ON user_extension_values (tenant_id, ext_id, value_bool, user_id) WHERE value_bool IS NOT NULL;
CREATE INDEX user_extension_values_time_idx
    ON user_extension_values (tenant_id, ext_id, value_time, user_id) WHERE value_time IS NOT NULL;

-- +goose Down
DROP TABLE user_extension_values;
DROP TABLE extension_properties;
