-- Departments' API keys for /v1: shown once, stored as the SHA-256 of
-- their secret part; test and live modes; revocable.
CREATE TABLE api_keys (
    key_id      TEXT    PRIMARY KEY,
    client_id   TEXT    NOT NULL,
    mode        TEXT    NOT NULL,
    secret_hash TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX api_keys_by_client ON api_keys (client_id);
