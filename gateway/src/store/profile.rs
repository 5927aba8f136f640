//! The citizens' e-ME profile values, sealed (the database never sees a
//! value in clear; `gateway::profile` seals and opens). A value that came
//! from a verified source is never replaced or removed by a typed one.

use eid_core::StoreError;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, from_unix, store_error, to_unix, with_pool};

/// A stored profile field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredField {
    /// The field id.
    pub field: String,
    /// The sealed value.
    pub sealed: String,
    /// Where a verified value came from (`card`); `None` when typed.
    pub source: Option<String>,
    /// When it was last written.
    pub updated_at: OffsetDateTime,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Stored.
    Stored,
    /// Not stored: the field holds a verified value and this one is typed.
    Verified,
}

impl Db {
    /// The citizen's stored fields.
    pub async fn profile_fields(&self, citizen_id: &str) -> Result<Vec<StoredField>, StoreError> {
        let rows = with_pool!(self, pool => sqlx::query(
            "SELECT field, sealed, source, updated_at FROM profile_fields WHERE citizen_id = $1 \
             ORDER BY field",
        )
        .bind(citizen_id)
        .fetch_all(pool)
        .await
        .and_then(|rows| {
            rows.into_iter()
                .map(|row| {
                    Ok((
                        row.try_get::<String, _>(0)?,
                        row.try_get::<String, _>(1)?,
                        row.try_get::<Option<String>, _>(2)?,
                        row.try_get::<i64, _>(3)?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        }))
        .map_err(store_error)?;
        rows.into_iter()
            .map(|(field, sealed, source, at)| {
                Ok(StoredField {
                    field,
                    sealed,
                    source,
                    updated_at: from_unix("profile_fields.updated_at", at)?,
                })
            })
            .collect()
    }

    /// Stores a sealed value. A typed value (`source` `None`) does not
    /// replace a verified one; a verified value replaces anything.
    pub async fn put_profile_field(
        &self,
        citizen_id: &str,
        field: &str,
        sealed: &str,
        source: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Written, StoreError> {
        let changed = with_pool!(self, pool => sqlx::query(
            "INSERT INTO profile_fields (citizen_id, field, sealed, source, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (citizen_id, field) DO UPDATE \
             SET sealed = excluded.sealed, source = excluded.source, updated_at = excluded.updated_at \
             WHERE profile_fields.source IS NULL OR excluded.source IS NOT NULL",
        )
        .bind(citizen_id)
        .bind(field)
        .bind(sealed)
        .bind(source)
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(store_error)?;
        Ok(if changed == 1 {
            Written::Stored
        } else {
            Written::Verified
        })
    }

    /// Removes a typed value; a verified one stays. Returns whether a row
    /// went.
    pub async fn delete_profile_field(
        &self,
        citizen_id: &str,
        field: &str,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "DELETE FROM profile_fields WHERE citizen_id = $1 AND field = $2 AND source IS NULL",
        )
        .bind(citizen_id)
        .bind(field)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }
}

impl Db {
    /// Up to `limit` sealed values not under key `kid`, as (citizen id,
    /// field, sealed).
    pub async fn profile_values_not_under(
        &self,
        kid: &str,
        limit: i64,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT citizen_id, field, sealed FROM profile_fields WHERE sealed NOT LIKE $1 LIMIT $2",
        )
        .bind(format!("v1.{kid}.%"))
        .bind(limit)
        .fetch_all(pool)
        .await
        .and_then(|rows| {
            rows.iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
                .collect::<Result<Vec<_>, sqlx::Error>>()
        }))
        .map_err(store_error)
    }

    /// Replaces a sealed value if it is still `old` (a concurrent change
    /// wins); returns whether it was replaced.
    pub async fn reseal_profile_value(
        &self,
        citizen_id: &str,
        field: &str,
        old: &str,
        new: &str,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE profile_fields SET sealed = $1 WHERE citizen_id = $2 AND field = $3 AND sealed = $4",
        )
        .bind(new)
        .bind(citizen_id)
        .bind(field)
        .bind(old)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }
}
