-- Facts about this installation (demo seeding time, ...).
CREATE TABLE gateway_meta (
    key        TEXT    NOT NULL PRIMARY KEY,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Single-use identifiers (jti, DPoP proofs, codes) until their expiry, Unix seconds.
CREATE TABLE replay_guard (
    scope      TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (scope, id)
);
CREATE INDEX replay_guard_expires_at ON replay_guard (expires_at);
