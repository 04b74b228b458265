-- Teams (Pro, feature workspaces.teams): named groups of users, granted a role on
-- workspaces. A member's role in a workspace is the strongest of their direct
-- membership and their teams' grants, while the license turns teams on; the rows
-- stay when it does not (nothing is deleted), so renewing restores the access.
CREATE TABLE teams (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id    TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE team_grants (
    team_id      TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL REFERENCES workspaces(id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'author', 'executor', 'viewer')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (team_id, workspace_id)
);
