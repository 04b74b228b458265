-- Steps form a graph: the keys a step waits for (JSON list; NULL: the previous step),
-- whether its failure skips its dependents ('stop', the default when NULL) or not
-- ('continue'), and a CEL condition that must hold for it to run (NULL: always).
ALTER TABLE workflow_steps ADD COLUMN depends_on TEXT;
ALTER TABLE workflow_steps ADD COLUMN on_failure TEXT;
ALTER TABLE workflow_steps ADD COLUMN run_when TEXT;
