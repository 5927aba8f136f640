//! Departments' API keys. Only the SHA-256 of a key's secret part is
//! stored; the key itself is shown once, when it is made.

use eid_core::StoreError;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, from_unix, store_error, to_unix, with_pool};

/// A stored API key (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    /// The key's public id (also inside the key).
    pub key_id: String,
    /// The department.
    pub client_id: String,
    /// `test` or `live`.
    pub mode: String,
    /// SHA-256 of the secret part (for the constant-time comparison).
    pub secret_hash: String,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

impl Db {
    /// Stores a new key.
    pub async fn insert_api_key(&self, key: &StoredApiKey) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO api_keys (key_id, client_id, mode, secret_hash, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.key_id)
        .bind(&key.client_id)
        .bind(&key.mode)
        .bind(&key.secret_hash)
        .bind(to_unix(key.created_at))
        .bind(key.revoked_at.map(to_unix))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// A key with whether its department is enabled, in one query (it runs
    /// on every `/v1` request).
    pub async fn api_key_for_request(
        &self,
        key_id: &str,
    ) -> Result<Option<(StoredApiKey, bool)>, StoreError> {
        let row = with_pool!(self, pool => sqlx::query(
            "SELECT k.key_id, k.client_id, k.mode, k.secret_hash, k.created_at, k.revoked_at, \
             c.enabled FROM api_keys k JOIN clients c ON c.client_id = k.client_id \
             WHERE k.key_id = $1",
        )
        .bind(key_id)
        .fetch_optional(pool)
        .await
        .and_then(|row| {
            row.map(|row| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<String, _>(1)?,
                    row.try_get::<String, _>(2)?,
                    row.try_get::<String, _>(3)?,
                    row.try_get::<i64, _>(4)?,
                    row.try_get::<Option<i64>, _>(5)?,
                    row.try_get::<bool, _>(6)?,
                ))
            })
            .transpose()
        }))
        .map_err(store_error)?;
        row.map(
            |(key_id, client_id, mode, secret_hash, created, revoked, enabled)| {
                Ok((
                    StoredApiKey {
                        key_id,
                        client_id,
                        mode,
                        secret_hash,
                        created_at: from_unix("api_keys.created_at", created)?,
                        revoked_at: revoked
                            .map(|t| from_unix("api_keys.revoked_at", t))
                            .transpose()?,
                    },
                    enabled,
                ))
            },
        )
        .transpose()
    }

    /// A department's keys (without secrets), newest first.
    pub async fn api_keys_of(&self, client_id: &str) -> Result<Vec<String>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT key_id FROM api_keys WHERE client_id = $1 ORDER BY created_at DESC, key_id",
        )
        .bind(client_id)
        .fetch_all(pool)
        .await
        .and_then(|rows| rows.iter().map(|r| r.try_get::<String, _>(0)).collect()))
        .map_err(store_error)
    }

    /// Revokes a key; `false` when it is unknown or already revoked.
    pub async fn revoke_api_key(
        &self,
        key_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE key_id = $2 AND revoked_at IS NULL",
        )
        .bind(to_unix(now))
        .bind(key_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }
}
