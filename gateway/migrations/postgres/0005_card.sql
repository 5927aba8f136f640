-- Smart-ID-card identities bound to citizen accounts: one card identity
-- per account and one account per card identity. The key is a SHA-256
-- over the issuer and the subscriber reference (see signin::card), never
-- the name or the number itself.
CREATE TABLE card_identities (
    card_key   TEXT    PRIMARY KEY,
    citizen_id TEXT    NOT NULL UNIQUE REFERENCES citizens (id),
    bound_at   BIGINT NOT NULL
);
