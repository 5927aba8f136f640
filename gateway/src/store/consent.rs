//! Consent grants. Field lists are stored as JSON arrays of field ids;
//! values never reach this table. A citizen revokes only their own grants,
//! and a department reads only its own.

use std::collections::BTreeSet;

use eid_core::StoreError;
use eid_core::consent::Grant;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, from_unix, store_error, to_unix, with_pool};

const COLUMNS: &str = "id, citizen_id, client_id, form_id, asked, granted, purpose, \
                       retention_days, granted_at, expires_at, revoked_at";

/// A grant's columns as read, before they are checked.
type RawGrant = (
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
);

fn fields(json: &str, column: &'static str) -> Result<BTreeSet<String>, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::InvalidValue {
        field: column,
        detail: e.to_string(),
    })
}

fn to_grant(raw: RawGrant) -> Result<Grant, StoreError> {
    let (
        id,
        citizen_id,
        client_id,
        form_id,
        asked,
        granted,
        purpose,
        retention,
        at,
        until,
        revoked,
    ) = raw;
    Ok(Grant {
        id,
        citizen_id,
        client_id,
        form_id,
        asked: fields(&asked, "consent_grants.asked")?,
        granted: fields(&granted, "consent_grants.granted")?,
        purpose,
        retention_days: u32::try_from(retention).map_err(|e| StoreError::InvalidValue {
            field: "consent_grants.retention_days",
            detail: e.to_string(),
        })?,
        granted_at: from_unix("consent_grants.granted_at", at)?,
        expires_at: from_unix("consent_grants.expires_at", until)?,
        revoked_at: revoked
            .map(|t| from_unix("consent_grants.revoked_at", t))
            .transpose()?,
    })
}

macro_rules! raw_grant {
    ($row:expr) => {
        (|| -> Result<RawGrant, sqlx::Error> {
            let row = $row;
            Ok((
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
                row.try_get(4)?,
                row.try_get(5)?,
                row.try_get(6)?,
                row.try_get(7)?,
                row.try_get(8)?,
                row.try_get(9)?,
                row.try_get(10)?,
            ))
        })()
    };
}

impl Db {
    /// Stores a new grant.
    pub async fn insert_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        let json = |set: &BTreeSet<String>| serde_json::to_string(set).unwrap_or_default();
        with_pool!(self, pool => sqlx::query(&format!(
            "INSERT INTO consent_grants ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&grant.id)
        .bind(&grant.citizen_id)
        .bind(&grant.client_id)
        .bind(&grant.form_id)
        .bind(json(&grant.asked))
        .bind(json(&grant.granted))
        .bind(&grant.purpose)
        .bind(i64::from(grant.retention_days))
        .bind(to_unix(grant.granted_at))
        .bind(to_unix(grant.expires_at))
        .bind(grant.revoked_at.map(to_unix))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// The citizen's grants (with `client_id`, only those to that
    /// department), newest first.
    pub async fn grants_of(
        &self,
        citizen_id: &str,
        client_id: Option<&str>,
    ) -> Result<Vec<Grant>, StoreError> {
        let sql = match client_id {
            None => format!(
                "SELECT {COLUMNS} FROM consent_grants WHERE citizen_id = $1 \
                 ORDER BY granted_at DESC, id"
            ),
            Some(_) => format!(
                "SELECT {COLUMNS} FROM consent_grants WHERE citizen_id = $1 AND client_id = $2 \
                 ORDER BY granted_at DESC, id"
            ),
        };
        let raws = with_pool!(self, pool => {
            let mut query = sqlx::query(&sql).bind(citizen_id);
            if let Some(client) = client_id {
                query = query.bind(client);
            }
            query.fetch_all(pool).await.and_then(|rows| {
                rows.iter().map(|row| raw_grant!(row)).collect::<Result<Vec<_>, _>>()
            })
        })
        .map_err(store_error)?;
        raws.into_iter().map(to_grant).collect()
    }

    /// A department's own grant by id (`None` for another department's).
    pub async fn grant_for_client(
        &self,
        client_id: &str,
        grant_id: &str,
    ) -> Result<Option<Grant>, StoreError> {
        let raw = with_pool!(self, pool => sqlx::query(&format!(
            "SELECT {COLUMNS} FROM consent_grants WHERE id = $1 AND client_id = $2"
        ))
        .bind(grant_id)
        .bind(client_id)
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| raw_grant!(row)).transpose()))
        .map_err(store_error)?;
        raw.map(to_grant).transpose()
    }

    /// Revokes one of the citizen's live grants; `false` when there is no
    /// such grant of theirs, or it was already revoked.
    pub async fn revoke_grant(
        &self,
        citizen_id: &str,
        grant_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE consent_grants SET revoked_at = $1 \
             WHERE id = $2 AND citizen_id = $3 AND revoked_at IS NULL",
        )
        .bind(to_unix(now))
        .bind(grant_id)
        .bind(citizen_id)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }
}
