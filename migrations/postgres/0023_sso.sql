-- Single sign-on with OpenID Connect. An identity is a provider's subject linked to a
-- local account; a pending sign-in keeps the PKCE verifier and nonce server-side until
-- the provider sends the browser back (any API process may receive that).
CREATE TABLE sso_identities (
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users(id),
    -- The address the provider gave at the last sign-in (verified or not): for admins.
    email           TEXT,
    created_at      BIGINT NOT NULL,
    last_sign_in_at BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
-- One identity per provider per account: a second subject cannot take over an account.
CREATE UNIQUE INDEX sso_identities_user ON sso_identities (provider, user_id);

CREATE TABLE sso_logins (
    -- sha256 of the state parameter, which the browser's cookie must also carry.
    state_hash    TEXT PRIMARY KEY,
    provider      TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    next          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);

-- How a web session began: NULL for a password, else the provider; and whether a second
-- factor was used (a TOTP code, or the provider's amr claim saying so).
ALTER TABLE web_sessions ADD COLUMN sso_provider TEXT;
ALTER TABLE web_sessions ADD COLUMN second_factor BIGINT NOT NULL DEFAULT 0;

-- A membership the provider's group mapping made and keeps in step at each sign-in;
-- NULL for one an admin or an invitation made (SSO never changes those).
ALTER TABLE memberships ADD COLUMN sso_provider TEXT;
