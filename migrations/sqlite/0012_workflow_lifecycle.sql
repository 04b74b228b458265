-- A workflow (every version of a slug) can be archived: no new runs or edits, its
-- history kept. `retention_days` overrides the instance's run retention for the
-- workflow's runs (kept on every version of the slug; NULL: the instance's setting).
ALTER TABLE workflows ADD COLUMN archived_at INTEGER;
ALTER TABLE workflows ADD COLUMN retention_days INTEGER;
