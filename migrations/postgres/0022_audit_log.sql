-- The audit log: who did what, when, from where (docs/self-hosting/audit-log.md).
-- Append-only: rows are inserted, and deleted only by retention once past
-- VALIDIBOT_AUDIT_RETENTION_DAYS; changing one is refused by the trigger below.
CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY,
    at        BIGINT NOT NULL,
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
    status    BIGINT,
    detail    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_at ON audit_events (at, id);
CREATE INDEX audit_events_workspace ON audit_events (workspace, at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
