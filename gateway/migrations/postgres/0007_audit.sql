-- The audit trail: hash-chained entries (eid_core::audit), identifiers
-- only, never personal data. Entries are only ever appended.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT    NOT NULL,
    citizen_id TEXT,
    client_id  TEXT,
    detail     TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE INDEX audit_log_by_client ON audit_log (client_id, seq);
