-- Citizens' consent grants (eid_core::consent::Grant): which department
-- may receive which profile fields (ids, never values), for what purpose,
-- until when, and whether the citizen revoked it.
CREATE TABLE consent_grants (
    id             TEXT    PRIMARY KEY,
    citizen_id     TEXT    NOT NULL REFERENCES citizens (id),
    client_id      TEXT    NOT NULL,
    form_id        TEXT,
    asked          TEXT    NOT NULL,
    granted        TEXT    NOT NULL,
    purpose        TEXT    NOT NULL,
    retention_days INTEGER NOT NULL,
    granted_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);
CREATE INDEX consent_grants_by_citizen ON consent_grants (citizen_id, client_id);
CREATE INDEX consent_grants_by_client ON consent_grants (client_id);
