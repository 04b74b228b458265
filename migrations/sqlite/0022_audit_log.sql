-- The audit log: who did what, when, from where (docs/self-hosting/audit-log.md).
-- Append-only: rows are inserted, and deleted only by retention once past
-- VALIDIBOT_AUDIT_RETENTION_DAYS; changing one is refused by the trigger below.
CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY,
    at        INTEGER NOT NULL,
    -- Who: the user (NULL when no one was signed in: a failed sign-in, a reset request).
    actor_id  TEXT,
    actor     TEXT,
    -- How: session, api_key, cli, anonymous.
    via       TEXT NOT NULL,
    -- From where: the client address (the trusted proxy's header, else the peer).
    client    TEXT,
    -- What: the API operation's id (createWorkflow, revokeApiKey …) or an event of its
    -- own (signIn, signInFailed, signOut, and the CLI's admin commands).
    action    TEXT NOT NULL,
    workspace TEXT,
    target    TEXT,
    status    INTEGER,
    detail    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_workspace ON audit_events (workspace, at);

CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
