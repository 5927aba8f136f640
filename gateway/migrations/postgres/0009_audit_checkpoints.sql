-- Signed checkpoints of the audit trail: the hash of entry seq, signed
-- (JWS) with the gateway's signing key, so that a trail cut short or
-- rewritten from the start no longer matches what was signed.
CREATE TABLE audit_checkpoints (
    seq  BIGINT PRIMARY KEY,
    hash TEXT    NOT NULL,
    at   BIGINT NOT NULL,
    jws  TEXT    NOT NULL
);
