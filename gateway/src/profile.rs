//! The e-ME profile over the database: values are checked with
//! `eid_core::profile`, sealed before they are stored and opened after
//! they are read, so that only this process, holding the keys, sees them.

use std::sync::Arc;

use eid_core::StoreError;
use eid_core::profile::seal::{ProfileKeys, SealError};
use eid_core::profile::{FieldSpec, Value, field};
use time::OffsetDateTime;

use crate::store::Db;
pub use crate::store::profile::Written;

/// Why a profile operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored value does not open (wrong or missing key, or altered).
    #[error("field {field}: {error}")]
    Seal {
        /// The field.
        field: String,
        /// Why.
        error: SealError,
    },
}

/// A field the citizen has.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The field.
    pub spec: &'static FieldSpec,
    /// Its value.
    pub value: Value,
    /// Where a verified value came from (`card`); `None` when typed.
    pub verified_by: Option<String>,
    /// When it was last written.
    pub updated_at: OffsetDateTime,
}

/// Profiles sealed with the configured keys.
#[derive(Debug, Clone)]
pub struct Profiles {
    keys: Arc<ProfileKeys>,
}

impl Profiles {
    /// Profiles sealed with `keys`.
    pub fn new(keys: ProfileKeys) -> Self {
        Self {
            keys: Arc::new(keys),
        }
    }

    /// The citizen's fields, in catalogue order. Rows of fields the
    /// catalogue no longer has are skipped.
    pub async fn load(&self, db: &Db, citizen_id: &str) -> Result<Vec<Entry>, ProfileError> {
        let mut entries = Vec::new();
        for stored in db.profile_fields(citizen_id).await? {
            let Some(spec) = field(&stored.field) else {
                continue;
            };
            let value = self
                .keys
                .open(citizen_id, spec.id, &stored.sealed)
                .map_err(|error| ProfileError::Seal {
                    field: spec.id.to_owned(),
                    error,
                })?;
            entries.push(Entry {
                spec,
                value,
                verified_by: stored.source,
                updated_at: stored.updated_at,
            });
        }
        let order = |e: &Entry| {
            eid_core::profile::FIELDS
                .iter()
                .position(|f| f.id == e.spec.id)
        };
        entries.sort_by_key(order);
        Ok(entries)
    }

    /// Seals and stores a checked value; `source` names a verified origin
    /// (`card`), `None` a typed value, which does not replace a verified
    /// one.
    pub async fn set(
        &self,
        db: &Db,
        citizen_id: &str,
        spec: &FieldSpec,
        value: &Value,
        source: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Written, ProfileError> {
        let sealed = self
            .keys
            .seal(citizen_id, spec.id, value)
            .map_err(|error| ProfileError::Seal {
                field: spec.id.to_owned(),
                error,
            })?;
        Ok(db
            .put_profile_field(citizen_id, spec.id, &sealed, source, now)
            .await?)
    }

    /// Removes a typed value (a verified one stays).
    pub async fn remove(
        &self,
        db: &Db,
        citizen_id: &str,
        spec: &FieldSpec,
    ) -> Result<bool, ProfileError> {
        Ok(db.delete_profile_field(citizen_id, spec.id).await?)
    }
}

impl Profiles {
    /// Reseals every value that is not under the current key (after a new
    /// key was put first in `profile.encryption_keys`); returns how many.
    /// A value that does not open stops the run with its field named.
    pub async fn reseal_all(&self, db: &Db) -> Result<u64, ProfileError> {
        let kid = self.keys.current_kid().to_owned();
        let mut count = 0;
        loop {
            let batch = db.profile_values_not_under(&kid, 500).await?;
            if batch.is_empty() {
                return Ok(count);
            }
            for (citizen_id, field_id, sealed) in batch {
                let value = self
                    .keys
                    .open(&citizen_id, &field_id, &sealed)
                    .map_err(|error| ProfileError::Seal {
                        field: field_id.clone(),
                        error,
                    })?;
                let again = self
                    .keys
                    .seal(&citizen_id, &field_id, &value)
                    .map_err(|error| ProfileError::Seal {
                        field: field_id.clone(),
                        error,
                    })?;
                if db
                    .reseal_profile_value(&citizen_id, &field_id, &sealed, &again)
                    .await?
                {
                    count += 1;
                }
            }
        }
    }
}
