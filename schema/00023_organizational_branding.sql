-- Branding of the hosted sign-in pages (issue 14): Graph's
-- organizationalBranding and its localizations, a documented subset.
--
--   * organizational_branding holds one row per tenant and locale; locale ''
--     is the default branding (Graph's localization id "0"). The logos are
--     stored here, bytes and detected type, because they are small (Graph
--     bounds them at 10 KB) and must be served by every instance.
--   * organizational_branding_versions holds one counter per tenant, bumped
--     in the transaction of every branding write. Instances cache the
--     branding and read only this counter per page (one primary-key lookup),
--     so a change shows at once everywhere without LISTEN/NOTIFY (which
--     PgBouncer in transaction mode does not carry).

-- +goose Up
CREATE TABLE organizational_branding (
    tenant_id          uuid        NOT NULL,
    locale             text        NOT NULL,
    background_color   text,
    sign_in_page_text  text,
    username_hint_text text,
    banner_logo        bytea,
    banner_logo_type   text,
    square_logo        bytea,
    square_logo_type   text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT organizational_branding_pkey PRIMARY KEY (tenant_id, locale),
    CONSTRAINT organizational_branding_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (id) ON DELETE CASCADE,
    CONSTRAINT organizational_branding_banner_check
        CHECK ((banner_logo IS NULL) = (banner_logo_type IS NULL) AND octet_length(banner_logo) <= 10240),
    CONSTRAINT organizational_branding_square_check
        CHECK ((square_logo IS NULL) = (square_logo_type IS NULL) AND octet_length(square_logo) <= 10240),
    CONSTRAINT organizational_branding_locale_check CHECK (length(locale) <= 35)
);

CREATE TABLE organizational_branding_versions (
    tenant_id uuid   NOT NULL,
    version   bigint NOT NULL,
    CONSTRAINT organizational_branding_versions_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT organizational_branding_versions_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES tenants (id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE organizational_branding_versions;
DROP TABLE organizational_branding;
