-- A workflow may keep a run's hash and findings but never the document's bytes
-- (store_submission 0; NULL: stored). Its submissions say so (stored 0), so a worker
-- that did not receive the bytes in memory fails the run instead of looking for them.
ALTER TABLE workflows ADD COLUMN store_submission BIGINT;
ALTER TABLE submissions ADD COLUMN stored BIGINT;
