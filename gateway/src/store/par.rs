//! [`ParStore`] on the `par_requests` table.

use eid_core::StoreError;
use eid_core::oidc::authz::{AuthorizationRequest, ParStore};
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, store_error, to_unix, with_pool};

impl ParStore for Db {
    async fn insert_par(
        &self,
        request_uri: &str,
        request: &AuthorizationRequest,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(request).map_err(|e| StoreError::InvalidValue {
            field: "par_requests.request",
            detail: e.to_string(),
        })?;
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO par_requests (request_uri, client_id, request, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(request_uri)
        .bind(&request.client_id)
        .bind(&json)
        .bind(to_unix(expires_at))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    async fn take_par(
        &self,
        request_uri: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AuthorizationRequest>, StoreError> {
        // One statement: of two concurrent takers, one gets the row.
        let json = with_pool!(self, pool => sqlx::query(
            "DELETE FROM par_requests WHERE request_uri = $1 AND client_id = $2 AND expires_at > $3 \
             RETURNING request",
        )
        .bind(request_uri)
        .bind(client_id)
        .bind(to_unix(now))
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)?;
        json.map(|text| {
            serde_json::from_str(&text).map_err(|e| StoreError::InvalidValue {
                field: "par_requests.request",
                detail: e.to_string(),
            })
        })
        .transpose()
    }
}

impl Db {
    /// Deletes pushed requests that expired unused; returns how many.
    pub async fn purge_expired_par(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query("DELETE FROM par_requests WHERE expires_at <= $1")
            .bind(to_unix(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(store_error)
    }
}
