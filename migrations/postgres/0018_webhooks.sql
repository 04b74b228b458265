-- Webhooks: a workspace's endpoints, the events each subscribes to, and the delivery
-- queue with its log. Deliveries are written in the same transaction as the change
-- they announce (a run's end, a workflow's save), so an event is never lost or
-- announced for a change that rolled back.
CREATE TABLE webhook_endpoints (
    id                    TEXT PRIMARY KEY,
    workspace_id          TEXT NOT NULL REFERENCES workspaces(id),
    url                   TEXT NOT NULL,
    description           TEXT NOT NULL DEFAULT '',
    format                TEXT NOT NULL CHECK (format IN ('standard', 'slack')),
    -- whsec_<base64>; the previous one also signs until previous_secret_until.
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until BIGINT,
    enabled               BIGINT NOT NULL DEFAULT 1,
    disabled_reason       TEXT,
    -- Deliveries in a row that exhausted their attempts; reset by a success.
    failed_in_a_row       BIGINT NOT NULL DEFAULT 0,
    created_by            TEXT REFERENCES users(id),
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_workspace ON webhook_endpoints (workspace_id);

CREATE TABLE webhook_subscriptions (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
);

CREATE TABLE webhook_deliveries (
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    -- The webhook-id header (msg_<uuid>): the same on every attempt and redelivery.
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    -- What the event is about, fixed when it happened (JSON).
    data            TEXT NOT NULL,
    -- The body as first sent; every later attempt sends these bytes.
    payload         TEXT,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    -- The attempt after which a failure is final: NULL for the retry schedule's last,
    -- one more than before for a manual redelivery.
    final_attempt   BIGINT,
    lease_until     BIGINT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    PRIMARY KEY (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    endpoint_id TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    status_code BIGINT,
    -- The first 2 KiB of the response body.
    response    TEXT,
    error       TEXT,
    PRIMARY KEY (endpoint_id, event_id, attempt),
    FOREIGN KEY (endpoint_id, event_id) REFERENCES webhook_deliveries (endpoint_id, event_id) ON DELETE CASCADE
);
