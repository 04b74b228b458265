-- Asynchronous container steps. A job whose run waits on one is `waiting`: no lease, no
-- worker slot, claimable again at `available_at` (the earliest deadline of its
-- executions) or as soon as a callback or the reconciler wakes it. SQLite cannot change
-- a CHECK constraint in place, so `jobs` is rebuilt (nothing references it).
CREATE TABLE jobs_new (
    id               TEXT PRIMARY KEY,
    run_id           TEXT NOT NULL UNIQUE REFERENCES runs(id),
    state            TEXT NOT NULL CHECK (state IN ('queued', 'leased', 'waiting')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    available_at     INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_token      INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    progress         TEXT
);
INSERT INTO jobs_new (id, run_id, state, attempts, max_attempts, available_at, lease_owner, lease_token, lease_expires_at, last_error, created_at, progress)
    SELECT id, run_id, state, attempts, max_attempts, available_at, lease_owner, lease_token, lease_expires_at, last_error, created_at, progress FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_claim ON jobs (state, available_at);

-- One launch of a step's container on a launcher. `callback_id` is the execution's
-- identity on the wire: a repeated callback finds the row already `delivered` (the
-- receipt) and is answered as a replay; one for a row `reconciled`, or for a run that
-- ended, is refused.
CREATE TABLE remote_executions (
    callback_id    TEXT PRIMARY KEY,
    run_id         TEXT NOT NULL REFERENCES runs(id),
    step_position  INTEGER NOT NULL,
    step_key       TEXT NOT NULL,
    launcher       TEXT NOT NULL,
    execution_name TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('launched', 'delivered', 'reconciled', 'abandoned')),
    deadline_at    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    exit_code      INTEGER,
    -- The output envelope as delivered (read from the bucket, checked, capped).
    output         TEXT,
    -- Reconciled: timed_out, validator_failed, oom, runner_error.
    outcome        TEXT,
    detail         TEXT
);
CREATE INDEX remote_executions_step ON remote_executions (run_id, step_position);
CREATE INDEX remote_executions_open ON remote_executions (state, deadline_at);
