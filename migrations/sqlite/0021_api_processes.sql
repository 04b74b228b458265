-- API processes present: each `serve` process writes its row every few seconds, so every
-- one can count the live ones and take its share of the per-key and per-address rate
-- limits (docs/self-hosting: "Rate limits"). Rows not seen for an hour are deleted.
CREATE TABLE api_processes (
    id      TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
);
