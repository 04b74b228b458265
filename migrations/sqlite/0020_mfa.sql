-- Two-factor authentication for password sign-ins: a TOTP secret per user (RFC 6238),
-- single-use recovery codes, and the short-lived challenge between a right password and
-- the code. Recovery codes and challenge tokens are stored as sha256 only.
CREATE TABLE user_mfa (
    user_id      TEXT PRIMARY KEY REFERENCES users(id),
    -- Base32 secret. While confirmed_at is NULL the enrolment is pending: the secret was
    -- shown but no code from it was typed yet, and sign-ins don't ask for one.
    totp_secret  TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    -- The last 30-second step a code was accepted for: a code is good once.
    last_step    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE mfa_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users(id),
    code_hash  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);

-- An owner may require every member who signs in with a password to use a second factor.
ALTER TABLE workspaces ADD COLUMN require_mfa INTEGER NOT NULL DEFAULT 0;
