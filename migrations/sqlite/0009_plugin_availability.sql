-- An operator can switch an installed validator off without uninstalling it, and
-- (Pro) make it available in chosen workspaces only. A slug without a row is on
-- everywhere.
CREATE TABLE plugin_availability (
    slug        TEXT PRIMARY KEY,
    disabled    INTEGER NOT NULL DEFAULT 0,
    -- 1: only the workspaces listed in plugin_workspaces may use it.
    restricted  INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);
CREATE TABLE plugin_workspaces (
    slug          TEXT NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    PRIMARY KEY (slug, workspace_id)
);
