-- Idempotency keys of creating calls, per department and operation.
CREATE TABLE idempotency_keys (
    department   TEXT    NOT NULL,
    operation    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash BYTEA   NOT NULL,
    status       INTEGER,
    body         BYTEA,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (department, operation, key)
);
