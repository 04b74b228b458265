-- Evidence: which exact component ran each step (sha256 of the WASM component;
-- an image ID for container validators), recorded when the step ran.
ALTER TABLE step_runs ADD COLUMN validator_digest TEXT;
