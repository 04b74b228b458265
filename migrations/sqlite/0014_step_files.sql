-- Files attached to workflow steps (an XSD include, a weather file, a reference table).
-- Uploaded once per workspace and stored as blobs by sha256; a step names the ones it
-- uses (workflow_steps.files, a JSON list of {name, sha256, size, media_type}). The
-- upload row is what lets a workspace's workflows reference a blob at all.
CREATE TABLE workspace_files (
    workspace_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, sha256)
);
ALTER TABLE workflow_steps ADD COLUMN files TEXT;
