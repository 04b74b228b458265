-- A workflow's base memory cap for its WASM validator calls, in MiB (NULL: the
-- instance's VALIDIBOT_VALIDATOR_MEMORY_MIB). Part of the version: it can decide a result.
ALTER TABLE workflows ADD COLUMN validator_memory_mib INTEGER;
