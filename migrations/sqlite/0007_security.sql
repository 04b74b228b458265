-- Files a container validator left (EnergyPlus's eplusout.sql, say), recorded only by the
-- host when it collects them from the container's output directory. They used to be a
-- step output named "artifacts", which any validator could forge to name any blob or
-- path; outputs of that name are now plain outputs. Artifacts of earlier runs are not
-- carried over: nothing tells a collected list from a forged one.
CREATE TABLE step_artifacts (
    run_id        TEXT NOT NULL REFERENCES runs(id),
    step_position INTEGER NOT NULL,
    name          TEXT NOT NULL,
    mime_type     TEXT NOT NULL,
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    PRIMARY KEY (run_id, step_position, name)
);

-- Failed web sign-ins per account and per client address, for throttling with backoff.
CREATE TABLE sign_in_failures (
    subject       TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    last_failure  INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL
);
