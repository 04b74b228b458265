-- Validibot schema v1 (PostgreSQL). Keep in step with migrations/sqlite/0001_init.sql:
-- same tables, columns and constraints; only the column types differ.
-- Times are microseconds since the Unix epoch; JSON is stored as text.

CREATE TABLE instance_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE workspaces (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    is_default BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    username   TEXT NOT NULL UNIQUE,
    email      TEXT,
    is_active  BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE memberships (
    user_id      TEXT NOT NULL REFERENCES users(id),
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'author', 'executor', 'viewer')),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, workspace_id)
);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    public_id    TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    revoked_at   BIGINT,
    last_used_at BIGINT
);

CREATE TABLE workflows (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces(id),
    slug            TEXT NOT NULL,
    version         BIGINT NOT NULL,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    timeout_seconds BIGINT NOT NULL,
    content_types   TEXT NOT NULL,
    digest          TEXT NOT NULL,
    created_by      TEXT REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (workspace_id, slug, version)
);

CREATE TABLE workflow_steps (
    id                TEXT PRIMARY KEY,
    workflow_id       TEXT NOT NULL REFERENCES workflows(id) ON DELETE CASCADE,
    position          BIGINT NOT NULL,
    key               TEXT NOT NULL,
    name              TEXT NOT NULL,
    validator         TEXT NOT NULL,
    validator_version TEXT NOT NULL,
    config            TEXT NOT NULL,
    ruleset           TEXT,
    UNIQUE (workflow_id, position),
    UNIQUE (workflow_id, key)
);

CREATE TABLE submissions (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    sha256       TEXT NOT NULL,
    size         BIGINT NOT NULL,
    filename     TEXT,
    content_type TEXT NOT NULL,
    metadata     TEXT NOT NULL DEFAULT '{}',
    created_by   TEXT REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT
);
CREATE INDEX submissions_sha256 ON submissions (sha256);

CREATE TABLE runs (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces(id),
    workflow_id    TEXT NOT NULL REFERENCES workflows(id),
    submission_id  TEXT NOT NULL REFERENCES submissions(id),
    status         TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT')),
    error_category TEXT CHECK (error_category IN ('VALIDATION_FAILED', 'TIMEOUT', 'OOM', 'RUNTIME_ERROR', 'SYSTEM_ERROR')),
    error_detail   TEXT,
    created_by     TEXT REFERENCES users(id),
    created_at     BIGINT NOT NULL,
    started_at     BIGINT,
    finished_at    BIGINT
);
CREATE INDEX runs_workspace_id ON runs (workspace_id, id);
CREATE INDEX runs_workflow_id ON runs (workflow_id);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL UNIQUE REFERENCES runs(id),
    state            TEXT NOT NULL CHECK (state IN ('queued', 'leased')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    available_at     BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_token      BIGINT NOT NULL DEFAULT 0,
    lease_expires_at BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX jobs_claim ON jobs (state, available_at);

CREATE TABLE step_runs (
    id                TEXT PRIMARY KEY,
    run_id            TEXT NOT NULL REFERENCES runs(id),
    position          BIGINT NOT NULL,
    key               TEXT NOT NULL,
    validator         TEXT NOT NULL,
    validator_version TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('PENDING', 'RUNNING', 'PASSED', 'FAILED', 'SKIPPED')),
    started_at        BIGINT,
    finished_at       BIGINT,
    outputs           TEXT NOT NULL DEFAULT '[]',
    error             TEXT,
    UNIQUE (run_id, position)
);

CREATE TABLE findings (
    run_id        TEXT NOT NULL REFERENCES runs(id),
    step_position BIGINT NOT NULL,
    position      BIGINT NOT NULL,
    severity      TEXT NOT NULL CHECK (severity IN ('ERROR', 'WARNING', 'INFO', 'SUCCESS')),
    code          TEXT NOT NULL,
    message       TEXT NOT NULL,
    path          TEXT NOT NULL,
    meta          TEXT,
    PRIMARY KEY (run_id, step_position, position)
);

CREATE TABLE idempotency_keys (
    workspace_id    TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    run_id          TEXT NOT NULL REFERENCES runs(id),
    response_status BIGINT,
    response_body   TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, user_id, key)
);
