-- Citizen accounts, their passkeys, passkey ceremonies in progress,
-- sign-in sessions, and department requests waiting for a sign-in.
CREATE TABLE citizens (
    id         TEXT    PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- One row per passkey; the credential (public key, counter, backup flags)
-- as webauthn-rs serialises it. No private key ever reaches the gateway.
CREATE TABLE passkeys (
    credential_id TEXT    PRIMARY KEY,
    citizen_id    TEXT    NOT NULL REFERENCES citizens (id),
    name          TEXT    NOT NULL,
    credential    TEXT    NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_by_citizen ON passkeys (citizen_id);

-- Challenge state between begin and finish, under the hash of the handle
-- the browser holds; taken once.
CREATE TABLE signin_ceremonies (
    handle_hash TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Sessions under the hash of the cookie value.
CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,
    citizen_id TEXT    NOT NULL REFERENCES citizens (id),
    acr        TEXT    NOT NULL,
    amr        TEXT    NOT NULL,
    auth_time  BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX sessions_by_citizen ON sessions (citizen_id);

-- Authorization requests (taken from /par) waiting for the citizen.
CREATE TABLE pending_authorizations (
    handle_hash TEXT    PRIMARY KEY,
    request     TEXT    NOT NULL,
    expires_at  BIGINT NOT NULL
);
