//! [`IdempotencyStore`] on the `idempotency_keys` table.

use payment_core::StoreError;
use payment_core::idempotency::{Begin, IdempotencyKey, IdempotencyStore, StoredResponse};
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, to_unix, with_pool};

fn store_error(error: sqlx::Error) -> StoreError {
    match super::store_error(error) {
        eid_core::StoreError::Unavailable { detail } => StoreError::Unavailable { detail },
        other => StoreError::Backend {
            detail: other.to_string(),
        },
    }
}

impl IdempotencyStore for Db {
    async fn begin(
        &self,
        key: &IdempotencyKey,
        request_hash: &[u8],
        now: OffsetDateTime,
    ) -> Result<Begin, StoreError> {
        let claimed = with_pool!(self, pool => sqlx::query(
            "INSERT INTO idempotency_keys (department, operation, key, request_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (department, operation, key) DO NOTHING",
        )
        .bind(&key.department)
        .bind(&key.operation)
        .bind(&key.key)
        .bind(request_hash)
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)?;
        if claimed {
            return Ok(Begin::Proceed);
        }
        let row = with_pool!(self, pool => sqlx::query(
            "SELECT request_hash, status, body FROM idempotency_keys \
             WHERE department = $1 AND operation = $2 AND key = $3",
        )
        .bind(&key.department)
        .bind(&key.operation)
        .bind(&key.key)
        .fetch_optional(pool)
        .await
        .and_then(|row| {
            row.map(|row| {
                Ok::<_, sqlx::Error>((
                    row.try_get::<Vec<u8>, _>(0)?,
                    row.try_get::<Option<i32>, _>(1)?,
                    row.try_get::<Option<Vec<u8>>, _>(2)?,
                ))
            })
            .transpose()
        }))
        .map_err(store_error)?;
        Ok(match row {
            // Abandoned in between: the caller may try again.
            None => Begin::InProgress,
            Some((hash, _, _)) if hash != request_hash => Begin::Mismatch,
            Some((_, Some(status), body)) => Begin::Replay(StoredResponse {
                status: u16::try_from(status).unwrap_or(500),
                body: body.unwrap_or_default(),
            }),
            Some(_) => Begin::InProgress,
        })
    }

    async fn complete(
        &self,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE idempotency_keys SET status = $1, body = $2 \
             WHERE department = $3 AND operation = $4 AND key = $5",
        )
        .bind(i32::from(response.status))
        .bind(&response.body)
        .bind(&key.department)
        .bind(&key.operation)
        .bind(&key.key)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    async fn abandon(&self, key: &IdempotencyKey) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "DELETE FROM idempotency_keys \
             WHERE department = $1 AND operation = $2 AND key = $3 AND status IS NULL",
        )
        .bind(&key.department)
        .bind(&key.operation)
        .bind(&key.key)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }
}
