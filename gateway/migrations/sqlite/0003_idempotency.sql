-- Idempotency keys of creating calls, per department and operation.
CREATE TABLE idempotency_keys (
    department   TEXT    NOT NULL,
    operation    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash BLOB    NOT NULL,
    status       INTEGER,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (department, operation, key)
);
