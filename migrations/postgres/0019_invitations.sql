-- Invitations and password resets: a link mailed to an address, good once until it
-- expires. Only the sha256 of a link's token is stored, so a copy of the database
-- cannot be used to accept an invitation or reset a password.
CREATE TABLE invitations (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'author', 'executor', 'viewer')),
    token_hash   TEXT NOT NULL UNIQUE,
    invited_by   TEXT REFERENCES users(id),
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- At most one of these is ever set: accepted (by whom), or revoked (also when a
    -- newer invitation to the same address replaced it).
    accepted_at  BIGINT,
    accepted_by  TEXT REFERENCES users(id),
    revoked_at   BIGINT
);
CREATE INDEX invitations_workspace ON invitations (workspace_id, created_at);
CREATE INDEX invitations_email ON invitations (workspace_id, lower(email));

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_user ON password_resets (user_id);

-- Password resets find accounts by address, whatever its case.
CREATE INDEX users_email ON users (lower(email));
