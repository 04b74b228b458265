-- Asynchronous container steps (see the SQLite migration for the why). A job whose run
-- waits on one is `waiting`: no lease, no worker slot.
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check CHECK (state IN ('queued', 'leased', 'waiting'));

CREATE TABLE remote_executions (
    callback_id    TEXT PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES runs(id),
    step_position  BIGINT NOT NULL,
    step_key       TEXT NOT NULL,
    launcher       TEXT NOT NULL,
    execution_name TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('launched', 'delivered', 'reconciled', 'abandoned')),
    deadline_at    BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    exit_code      BIGINT,
    output         TEXT,
    outcome        TEXT,
    detail         TEXT
);
CREATE INDEX remote_executions_step ON remote_executions (run_id, step_position);
CREATE INDEX remote_executions_open ON remote_executions (state, deadline_at);
