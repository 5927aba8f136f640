//! [`ReplayStore`] on the `replay_guard` table.

use eid_core::StoreError;
use eid_core::replay::{ReplayStore, Sighting, check_key};
use time::OffsetDateTime;

use super::{Db, store_error, to_unix, with_pool};

impl ReplayStore for Db {
    async fn check_and_record(
        &self,
        scope: &str,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Sighting, StoreError> {
        check_key(scope, id).map_err(|e| StoreError::InvalidValue {
            field: "replay_guard.id",
            detail: e.to_string(),
        })?;
        // One statement, so the database decides the race: the row is
        // inserted, or an expired row is taken over, or nothing happens
        // because a live row exists.
        let done = with_pool!(self, pool => sqlx::query(
            "INSERT INTO replay_guard (scope, id, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (scope, id) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE replay_guard.expires_at <= $4",
        )
        .bind(scope)
        .bind(id)
        .bind(to_unix(expires_at))
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(store_error)?;
        Ok(if done == 1 {
            Sighting::Fresh
        } else {
            Sighting::Replayed
        })
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query("DELETE FROM replay_guard WHERE expires_at <= $1")
            .bind(to_unix(now))
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(store_error)
    }
}
