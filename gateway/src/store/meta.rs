//! Small key-value facts about this installation (for example when the demo
//! data was seeded), kept in the `gateway_meta` table.

use eid_core::StoreError;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, from_unix, store_error, to_unix, with_pool};

/// One stored fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaEntry {
    /// The fact's value.
    pub value: String,
    /// When it was last written.
    pub updated_at: OffsetDateTime,
}

impl Db {
    /// Reads a fact.
    pub async fn meta_get(&self, key: &str) -> Result<Option<MetaEntry>, StoreError> {
        let row = with_pool!(self, pool => sqlx::query(
            "SELECT value, updated_at FROM gateway_meta WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(store_error)?
        .map(|row| (row.try_get::<String, _>(0), row.try_get::<i64, _>(1))));
        match row {
            None => Ok(None),
            Some((value, updated_at)) => Ok(Some(MetaEntry {
                value: value.map_err(store_error)?,
                updated_at: from_unix("gateway_meta.updated_at", updated_at.map_err(store_error)?)?,
            })),
        }
    }

    /// Writes a fact, replacing any earlier value.
    pub async fn meta_set(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO gateway_meta (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Writes a fact only if it is not set yet. Returns `true` when this call
    /// wrote it.
    pub async fn meta_insert_new(
        &self,
        key: &str,
        value: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO gateway_meta (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }
}
