-- The audit trail: one row per write (or refused write) through the API,
-- served as Graph's directoryAudit at GET /v1.0/auditLogs/directoryAudits.
--
--   * tenant_id leads the primary key and every index (DESIGN.md "Tenancy").
--     There is no foreign key to tenants: the trail outlives what it audits.
--   * Listing is newest first with keyset paging on (activity_date_time, id):
--     audit_events_time_idx answers it, and every activityDateTime range, as
--     one backward index range scan.
--   * Rows never hold a password, a token or a sensitive property's value:
--     target_resources lists modified property names, and values only for
--     properties whose values may be shown (internal/directory/audit.go).
--   * Successful writes insert their row in the write's own transaction.

-- +goose Up
CREATE TABLE audit_events (
    tenant_id             uuid        NOT NULL,
    id                    uuid        NOT NULL,
    activity_date_time    timestamptz NOT NULL,
    category              text        NOT NULL,
    activity_display_name text        NOT NULL,
    operation_type        text        NOT NULL,
    logged_by_service     text        NOT NULL,
    correlation_id        text        NOT NULL DEFAULT '',
    result                text        NOT NULL CHECK (result IN ('success', 'failure')),
    result_reason         text        NOT NULL DEFAULT '',
    initiated_by          jsonb       NOT NULL,
    target_resources      jsonb       NOT NULL,
    additional_details    jsonb       NOT NULL DEFAULT '[]',
    CONSTRAINT audit_events_pkey PRIMARY KEY (tenant_id, id)
);

CREATE INDEX audit_events_time_idx ON audit_events (tenant_id, activity_date_time, id);
CREATE INDEX audit_events_activity_idx ON audit_events (tenant_id, lower(activity_display_name), activity_date_time, id);

-- +goose Down
DROP TABLE audit_events;
