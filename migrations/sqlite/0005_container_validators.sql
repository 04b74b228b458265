-- Container validators on the allow-list: one row per (slug, version), pinned to
-- the image ID it was registered with (a re-tagged image is a different validator).
CREATE TABLE container_validators (
    slug           TEXT NOT NULL,
    version        TEXT NOT NULL,
    image_id       TEXT NOT NULL,
    image_ref      TEXT NOT NULL,
    name           TEXT NOT NULL,
    content_types  TEXT NOT NULL,
    -- Resource limits read from the image labels (JSON, see containers::registry).
    limits         TEXT NOT NULL,
    -- Pro feature that turns it on: validators.advanced (catalog) or validators.user_images.
    feature        TEXT NOT NULL,
    registered_by  TEXT REFERENCES users(id),
    registered_at  INTEGER NOT NULL,
    PRIMARY KEY (slug, version)
);
