-- How far each running step's validator has read the run's document: a JSON object of
-- step key → bytes read, written by the worker holding the lease about once a second
-- for large documents. Advisory (the run page shows it); it goes with the job.
ALTER TABLE jobs ADD COLUMN progress TEXT;
