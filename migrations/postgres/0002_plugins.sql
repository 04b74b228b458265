-- Third-party WASM validators installed from .wasm files. Every installed version is
-- kept (workflow steps pin the version they were saved with); the component itself is
-- a blob in content-addressed storage, named by its sha256.
CREATE TABLE plugins (
    id             TEXT PRIMARY KEY,
    slug           TEXT NOT NULL,
    version        TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    size           BIGINT NOT NULL,
    wit_version    TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    content_types  TEXT NOT NULL,
    config_schema  TEXT NOT NULL,
    -- Capabilities the operator granted (JSON, see plugins::grants); {} = none.
    grants         TEXT NOT NULL DEFAULT '{}',
    installed_by   TEXT REFERENCES users(id),
    installed_at   BIGINT NOT NULL,
    UNIQUE (slug, version)
);
CREATE INDEX plugins_slug ON plugins (slug, installed_at);
