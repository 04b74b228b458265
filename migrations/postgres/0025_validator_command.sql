-- The command a container validator's image runs (its entrypoint followed by its
-- command, a JSON array), read from the image when it is registered. A launcher that
-- cannot inspect images (Kubernetes) starts the agent with it; NULL for rows
-- registered before, which such a launcher refuses until re-registered.
ALTER TABLE container_validators ADD COLUMN command TEXT;
