-- Email one-time codes and the mail outbox (internal/otp, internal/mail,
-- internal/store/postgres/otp.go and outbox.go).
--
--   * otp_codes holds at most one live code per (tenant, purpose, binding):
--     a new send replaces the row, a right code deletes it, the fifth wrong
--     one leaves it dead (failed_tries = max). The code is kept only as
--     HMAC-SHA-256 under the server secret "otp-hmac", bound in the MAC to
--     tenant, purpose, binding and address; the binding and address are
--     kept as MACs too, so the table holds no flow id and no address.
--   * otp_sends is the send log behind the per-address hourly cap; rows
--     older than an hour are pruned by the background job.
--   * mail_outbox is the queue the worker sends from. The rendered message
--     (which carries the plaintext code) is blanked once it is sent, fails
--     for good, or outlives discard_after (the code's expiry: unsent by
--     then it is useless). send_after doubles as the lease of a claimed
--     row, so a crashed instance's rows come due again.

-- +goose Up
CREATE TABLE otp_codes (
    tenant_id    uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    purpose      text        NOT NULL,
    binding_mac  bytea       NOT NULL,
    email_mac    bytea       NOT NULL,
    code_mac     bytea       NOT NULL,
    failed_tries integer     NOT NULL DEFAULT 0,
    sent_at      timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    CONSTRAINT otp_codes_pkey PRIMARY KEY (tenant_id, purpose, binding_mac)
);
CREATE INDEX otp_codes_expires_idx ON otp_codes (expires_at);

CREATE TABLE otp_sends (
    tenant_id uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email_mac bytea       NOT NULL,
    sent_at   timestamptz NOT NULL
);
CREATE INDEX otp_sends_address_idx ON otp_sends (tenant_id, email_mac, sent_at);
CREATE INDEX otp_sends_sent_at_idx ON otp_sends (sent_at);

CREATE TABLE mail_outbox (
    id            bigint      GENERATED ALWAYS AS IDENTITY,
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    state         text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'expired')),
    from_name     text        NOT NULL,
    recipient     text        NOT NULL,
    subject       text,
    text_body     text,
    html_body     text,
    created_at    timestamptz NOT NULL,
    send_after    timestamptz NOT NULL,
    discard_after timestamptz NOT NULL,
    attempts      integer     NOT NULL DEFAULT 0,
    claim         uuid,
    last_error    text,
    done_at       timestamptz,
    CONSTRAINT mail_outbox_pkey PRIMARY KEY (id)
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (send_after) WHERE state = 'pending';
CREATE INDEX mail_outbox_done_idx ON mail_outbox (done_at) WHERE state <> 'pending';

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE otp_sends;
DROP TABLE otp_codes;
