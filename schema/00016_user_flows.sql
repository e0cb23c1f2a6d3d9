-- User flows (Graph's identity/authenticationEventsFlows, the
-- externalUsersSelfServiceSignUpEventsFlow type) and the applications each
-- one applies to.
--
--   * user_flows holds one row per flow. identity_providers are the sign-in
--     methods (Graph's builtInIdentityProvider ids); attribute_pages is the
--     attributeCollectionPage's views, as JSON, because the sign-in core
--     always reads a flow whole and nothing queries inside it.
--     display_name is unique per tenant ignoring case (Graph: "Must be
--     unique").
--   * user_flow_applications links applications by client id. Its primary
--     key (tenant_id, app_id) is what makes an application belong to at
--     most one flow, as in Entra; the foreign key to applications
--     (tenant_id, app_id) refuses unknown clients and drops the link with the
--     application. Deleting a flow deletes its links.

-- +goose Up
CREATE TABLE user_flows (
    tenant_id          uuid        NOT NULL,
    id                 uuid        NOT NULL,
    display_name       text        NOT NULL,
    description        text,
    priority           integer     NOT NULL DEFAULT 500,
    identity_providers text[]      NOT NULL,
    sign_up_allowed    boolean     NOT NULL DEFAULT true,
    mfa_required       boolean     NOT NULL DEFAULT false,
    attribute_pages    jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_flows_pkey PRIMARY KEY (tenant_id, id),
    CONSTRAINT user_flows_providers_check CHECK (cardinality(identity_providers) > 0)
);

CREATE UNIQUE INDEX user_flows_display_name_key
    ON user_flows (tenant_id, (lower(display_name) COLLATE "C"));

CREATE TABLE user_flow_applications (
    tenant_id  uuid        NOT NULL,
    app_id     uuid        NOT NULL,
    flow_id    uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT user_flow_applications_pkey PRIMARY KEY (tenant_id, app_id),
    CONSTRAINT user_flow_applications_flow_fkey FOREIGN KEY (tenant_id, flow_id)
        REFERENCES user_flows (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT user_flow_applications_app_fkey FOREIGN KEY (tenant_id, app_id)
        REFERENCES applications (tenant_id, app_id) ON DELETE CASCADE
);

CREATE INDEX user_flow_applications_flow_idx
    ON user_flow_applications (tenant_id, flow_id);

-- +goose Down
DROP TABLE user_flow_applications;
DROP TABLE user_flows;
