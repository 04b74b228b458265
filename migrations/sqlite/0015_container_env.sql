-- Operator settings of a registered container validator: environment variables (a JSON
-- object of name → value; NULL none) the container is started with, so an operator can
-- change an image's policy (e.g. VALIDIBOT_ENERGYPLUS_FORBIDDEN_OBJECTS) without
-- rebuilding it.
ALTER TABLE container_validators ADD COLUMN env TEXT;
