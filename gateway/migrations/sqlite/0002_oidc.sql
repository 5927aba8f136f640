-- Departments (OIDC relying parties). Lists are JSON arrays.
CREATE TABLE clients (
    client_id                 TEXT    NOT NULL PRIMARY KEY,
    name                      TEXT    NOT NULL,
    redirect_uris             TEXT    NOT NULL,
    post_logout_redirect_uris TEXT    NOT NULL,
    scopes                    TEXT    NOT NULL,
    auth_method               TEXT    NOT NULL,
    jwks                      TEXT,
    jwks_uri                  TEXT,
    secret_sha256             BLOB,
    dpop_bound                INTEGER NOT NULL,
    enabled                   INTEGER NOT NULL,
    created_at                INTEGER NOT NULL
);

-- The provider's signing keys; the private half sealed (AES-256-GCM).
CREATE TABLE signing_keys (
    kid            TEXT    NOT NULL PRIMARY KEY,
    alg            TEXT    NOT NULL,
    public_jwk     TEXT    NOT NULL,
    sealed_private BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    sign_from      INTEGER NOT NULL,
    signing_until  INTEGER
);

-- Pushed authorization requests (RFC 9126), single use, until expires_at.
CREATE TABLE par_requests (
    request_uri TEXT    NOT NULL PRIMARY KEY,
    client_id   TEXT    NOT NULL,
    request     TEXT    NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX par_requests_expires_at ON par_requests (expires_at);

-- Authorization codes (by SHA-256), single use; family = tokens issued for it.
CREATE TABLE auth_codes (
    code_hash  TEXT    NOT NULL PRIMARY KEY,
    client_id  TEXT    NOT NULL,
    grant_json TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    family     TEXT
);

-- Access tokens (by SHA-256).
CREATE TABLE access_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    family     TEXT    NOT NULL,
    grant_json TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX access_tokens_family ON access_tokens (family);

-- Refresh tokens (by SHA-256), spent on use; reuse revokes the family.
CREATE TABLE refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    family     TEXT    NOT NULL,
    client_id  TEXT    NOT NULL,
    grant_json TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0,
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
