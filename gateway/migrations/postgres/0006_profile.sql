-- The citizens' e-ME profiles: one row per field, the value sealed
-- (AES-256-GCM, bound to citizen and field; see eid_core::profile::seal).
-- source is NULL for what the citizen typed, or where a verified value
-- came from ('card'); a verified value is not replaced by a typed one.
CREATE TABLE profile_fields (
    citizen_id TEXT    NOT NULL REFERENCES citizens (id),
    field      TEXT    NOT NULL,
    sealed     TEXT    NOT NULL,
    source     TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (citizen_id, field)
);
