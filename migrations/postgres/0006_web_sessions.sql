-- The web UI: users sign in with a password (argon2id PHC string; NULL = API keys only)
-- and get a server-side session; the cookie carries a random token whose sha256 is the key.
ALTER TABLE users ADD COLUMN password_hash TEXT;

CREATE TABLE web_sessions (
    token_hash  TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id),
    -- Synchronizer token every state-changing request of the session must echo.
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
