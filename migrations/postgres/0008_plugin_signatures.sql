-- Installed components are checked against the operator's trusted plugin keys; the key
-- id that signed one is kept (NULL: installed unsigned, which the operator allowed).
ALTER TABLE plugins ADD COLUMN signed_by TEXT;
