-- Assertions on any step (CEL over the document, the step's outputs, earlier steps,
-- the submission's metadata and the workflow's constants), stored as the JSON list the
-- definition gave; and the workflow's constants (a JSON object). NULL: none.
ALTER TABLE workflow_steps ADD COLUMN assertions TEXT;
ALTER TABLE workflows ADD COLUMN constants TEXT;
