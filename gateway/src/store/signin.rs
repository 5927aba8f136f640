//! Citizens, passkeys, passkey ceremonies, sessions and authorization
//! requests waiting for a sign-in. Secrets held by the browser (session
//! cookies, ceremony and flow handles) are stored only as hashes; a
//! ceremony or pending request is taken once, in one statement.

use eid_core::StoreError;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, from_unix, store_error, to_unix, with_pool};

/// A passkey as listed to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySummary {
    /// The credential id (base64url).
    pub credential_id: String,
    /// The citizen's name for it.
    pub name: String,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it last signed in.
    pub last_used_at: Option<OffsetDateTime>,
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// The citizen.
    pub citizen_id: String,
    /// Level reached.
    pub acr: String,
    /// Methods used (JSON array).
    pub amr: Vec<String>,
    /// When the citizen signed in.
    pub auth_time: OffsetDateTime,
    /// When the session was last used.
    pub last_seen: OffsetDateTime,
}

/// What removing a passkey did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Removed.
    Removed,
    /// Not removed: it is the account's last passkey.
    LastOne,
    /// No such passkey on this account.
    NotFound,
}

impl Db {
    /// Creates a citizen account with its first passkey, in one transaction.
    pub async fn create_citizen_with_passkey(
        &self,
        citizen_id: &str,
        credential_id: &str,
        name: &str,
        credential_json: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("INSERT INTO citizens (id, created_at) VALUES ($1, $2)")
                .bind(citizen_id)
                .bind(to_unix(now))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO passkeys (credential_id, citizen_id, name, credential, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(credential_id)
            .bind(citizen_id)
            .bind(name)
            .bind(credential_json)
            .bind(to_unix(now))
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await)
        .map_err(store_error)
    }

    /// Adds a passkey to an existing account.
    pub async fn add_passkey(
        &self,
        citizen_id: &str,
        credential_id: &str,
        name: &str,
        credential_json: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO passkeys (credential_id, citizen_id, name, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(credential_id)
        .bind(citizen_id)
        .bind(name)
        .bind(credential_json)
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// The owner and stored credential of a passkey.
    pub async fn passkey(
        &self,
        credential_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT citizen_id, credential FROM passkeys WHERE credential_id = $1",
        )
        .bind(credential_id)
        .fetch_optional(pool)
        .await
        .and_then(|row| {
            row.map(|row| Ok((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?)))
                .transpose()
        }))
        .map_err(store_error)
    }

    /// Stores a passkey's updated credential (counter, backup state) after
    /// a sign-in.
    pub async fn passkey_used(
        &self,
        credential_id: &str,
        credential_json: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE credential_id = $3",
        )
        .bind(credential_json)
        .bind(to_unix(now))
        .bind(credential_id)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// A citizen's passkeys, oldest first.
    pub async fn passkeys_of(&self, citizen_id: &str) -> Result<Vec<PasskeySummary>, StoreError> {
        let rows = with_pool!(self, pool => sqlx::query(
            "SELECT credential_id, name, created_at, last_used_at FROM passkeys \
             WHERE citizen_id = $1 ORDER BY created_at, credential_id",
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
                        row.try_get::<i64, _>(2)?,
                        row.try_get::<Option<i64>, _>(3)?,
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        }))
        .map_err(store_error)?;
        rows.into_iter()
            .map(|(credential_id, name, created, used)| {
                Ok(PasskeySummary {
                    credential_id,
                    name,
                    created_at: from_unix("passkeys.created_at", created)?,
                    last_used_at: used
                        .map(|u| from_unix("passkeys.last_used_at", u))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Renames one of a citizen's passkeys; false when it is not theirs.
    pub async fn rename_passkey(
        &self,
        citizen_id: &str,
        credential_id: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE passkeys SET name = $1 WHERE citizen_id = $2 AND credential_id = $3",
        )
        .bind(name)
        .bind(citizen_id)
        .bind(credential_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }

    /// Removes one of a citizen's passkeys, never the last one (checked in
    /// the same statement, so two concurrent removals cannot both pass).
    pub async fn remove_passkey(
        &self,
        citizen_id: &str,
        credential_id: &str,
    ) -> Result<Removal, StoreError> {
        let removed = with_pool!(self, pool => sqlx::query(
            "DELETE FROM passkeys WHERE citizen_id = $1 AND credential_id = $2 \
             AND (SELECT COUNT(*) FROM passkeys WHERE citizen_id = $1) > 1",
        )
        .bind(citizen_id)
        .bind(credential_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected()))
        .map_err(store_error)?;
        if removed == 1 {
            return Ok(Removal::Removed);
        }
        let exists = self
            .passkey(credential_id)
            .await?
            .is_some_and(|(owner, _)| owner == citizen_id);
        Ok(if exists {
            Removal::LastOne
        } else {
            Removal::NotFound
        })
    }

    /// Stores a ceremony's state until `expires_at`.
    pub async fn put_ceremony(
        &self,
        handle_hash: &str,
        kind: &str,
        state_json: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO signin_ceremonies (handle_hash, kind, state, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(handle_hash)
        .bind(kind)
        .bind(state_json)
        .bind(to_unix(expires_at))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Takes a live ceremony of `kind` (once: a replayed finish finds
    /// nothing).
    pub async fn take_ceremony(
        &self,
        handle_hash: &str,
        kind: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "DELETE FROM signin_ceremonies WHERE handle_hash = $1 AND kind = $2 AND expires_at > $3 \
             RETURNING state",
        )
        .bind(handle_hash)
        .bind(kind)
        .bind(to_unix(now))
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)
    }

    /// Starts a session.
    pub async fn insert_session(
        &self,
        id_hash: &str,
        citizen_id: &str,
        acr: &str,
        amr: &[String],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let amr = serde_json::to_string(amr).map_err(|e| StoreError::InvalidValue {
            field: "sessions.amr",
            detail: e.to_string(),
        })?;
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (id_hash, citizen_id, acr, amr, auth_time, created_at, last_seen) \
             VALUES ($1, $2, $3, $4, $5, $5, $5)",
        )
        .bind(id_hash)
        .bind(citizen_id)
        .bind(acr)
        .bind(&amr)
        .bind(to_unix(now))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// A session by the hash of its cookie.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = with_pool!(self, pool => sqlx::query(
            "SELECT citizen_id, acr, amr, auth_time, last_seen FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(pool)
        .await
        .and_then(|row| {
            row.map(|row| {
                Ok((
                    row.try_get::<String, _>(0)?,
                    row.try_get::<String, _>(1)?,
                    row.try_get::<String, _>(2)?,
                    row.try_get::<i64, _>(3)?,
                    row.try_get::<i64, _>(4)?,
                ))
            })
            .transpose()
        }))
        .map_err(store_error)?;
        row.map(|(citizen_id, acr, amr, auth_time, last_seen)| {
            Ok(SessionRow {
                citizen_id,
                acr,
                amr: serde_json::from_str(&amr).map_err(|e| StoreError::InvalidValue {
                    field: "sessions.amr",
                    detail: e.to_string(),
                })?,
                auth_time: from_unix("sessions.auth_time", auth_time)?,
                last_seen: from_unix("sessions.last_seen", last_seen)?,
            })
        })
        .transpose()
    }

    /// Marks a session used at `now`.
    pub async fn touch_session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("UPDATE sessions SET last_seen = $1 WHERE id_hash = $2")
            .bind(to_unix(now))
            .bind(id_hash)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(store_error)
    }

    /// Ends one session.
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(store_error)
    }

    /// Ends every session of a citizen ("sign out everywhere"); returns how
    /// many.
    pub async fn delete_sessions_of(&self, citizen_id: &str) -> Result<u64, StoreError> {
        with_pool!(self, pool => sqlx::query("DELETE FROM sessions WHERE citizen_id = $1")
            .bind(citizen_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected()))
        .map_err(store_error)
    }

    /// Keeps an authorization request until the citizen has signed in.
    pub async fn put_pending_authorization(
        &self,
        handle_hash: &str,
        request_json: &str,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO pending_authorizations (handle_hash, request, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(handle_hash)
        .bind(request_json)
        .bind(to_unix(expires_at))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Reads a waiting authorization request without taking it.
    pub async fn pending_authorization(
        &self,
        handle_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT request FROM pending_authorizations WHERE handle_hash = $1 AND expires_at > $2",
        )
        .bind(handle_hash)
        .bind(to_unix(now))
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)
    }

    /// Takes a waiting authorization request (once).
    pub async fn take_pending_authorization(
        &self,
        handle_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "DELETE FROM pending_authorizations WHERE handle_hash = $1 AND expires_at > $2 RETURNING request",
        )
        .bind(handle_hash)
        .bind(to_unix(now))
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)
    }

    /// Deletes expired ceremonies and waiting requests, and sessions
    /// signed in before `sessions_before` (past their absolute timeout);
    /// returns how many rows went.
    pub async fn purge_expired_signin(
        &self,
        now: OffsetDateTime,
        sessions_before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        with_pool!(self, pool => async {
            let mut purged = 0;
            for (sql, at) in [
                ("DELETE FROM signin_ceremonies WHERE expires_at <= $1", now),
                ("DELETE FROM pending_authorizations WHERE expires_at <= $1", now),
                ("DELETE FROM sessions WHERE auth_time <= $1", sessions_before),
            ] {
                purged += sqlx::query(sql).bind(to_unix(at)).execute(pool).await?.rows_affected();
            }
            Ok::<u64, sqlx::Error>(purged)
        }
        .await)
        .map_err(store_error)
    }
}
