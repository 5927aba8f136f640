//! [`GrantStore`] on the `auth_codes` and `access_tokens` tables.

use eid_core::StoreError;
use eid_core::oidc::grant::{
    AccessGrant, CodeGrant, GrantStore, Redemption, RefreshGrant, RefreshUse,
};
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, store_error, to_unix, with_pool};

fn to_json(value: &impl serde::Serialize, field: &'static str) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::InvalidValue {
        field,
        detail: e.to_string(),
    })
}

fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
    field: &'static str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::InvalidValue {
        field,
        detail: e.to_string(),
    })
}

impl GrantStore for Db {
    async fn insert_code(&self, code_hash: &str, grant: &CodeGrant) -> Result<(), StoreError> {
        let json = to_json(grant, "auth_codes.grant_json")?;
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO auth_codes (code_hash, client_id, grant_json, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(code_hash)
        .bind(&grant.request.client_id)
        .bind(&json)
        .bind(to_unix(grant.expires_at))
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    async fn get_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<(CodeGrant, Option<String>)>, StoreError> {
        let row = with_pool!(self, pool => sqlx::query(
            "SELECT grant_json, family FROM auth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(pool)
        .await
        .and_then(|row| {
            row.map(|row| Ok::<_, sqlx::Error>((row.try_get::<String, _>(0)?, row.try_get::<Option<String>, _>(1)?)))
                .transpose()
        }))
        .map_err(store_error)?;
        row.map(|(json, family)| Ok((from_json(&json, "auth_codes.grant_json")?, family)))
            .transpose()
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        client_id: &str,
        family: &str,
        now: OffsetDateTime,
    ) -> Result<Redemption, StoreError> {
        let claimed = with_pool!(self, pool => sqlx::query(
            "UPDATE auth_codes SET used_at = $1, family = $2 \
             WHERE code_hash = $3 AND client_id = $4 AND used_at IS NULL AND expires_at > $1 \
             RETURNING grant_json",
        )
        .bind(to_unix(now))
        .bind(family)
        .bind(code_hash)
        .bind(client_id)
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)?;
        if let Some(json) = claimed {
            return Ok(Redemption::Granted(from_json(
                &json,
                "auth_codes.grant_json",
            )?));
        }
        match self.get_code(code_hash).await? {
            Some((_, Some(family))) => Ok(Redemption::Reused { family }),
            _ => Ok(Redemption::Unknown),
        }
    }

    async fn insert_access_token(
        &self,
        token_hash: &str,
        grant: &AccessGrant,
    ) -> Result<(), StoreError> {
        let json = to_json(grant, "access_tokens.grant_json")?;
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO access_tokens (token_hash, family, grant_json, expires_at, revoked) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(&grant.family)
        .bind(&json)
        .bind(to_unix(grant.expires_at))
        .bind(false)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    async fn get_access_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<AccessGrant>, StoreError> {
        let json = with_pool!(self, pool => sqlx::query(
            "SELECT grant_json FROM access_tokens \
             WHERE token_hash = $1 AND revoked = $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(false)
        .bind(to_unix(now))
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)?;
        json.map(|j| from_json(&j, "access_tokens.grant_json"))
            .transpose()
    }

    async fn revoke_family(&self, family: &str) -> Result<u64, StoreError> {
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            let access = sqlx::query("UPDATE access_tokens SET revoked = $1 WHERE family = $2")
                .bind(true)
                .bind(family)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let refresh = sqlx::query("UPDATE refresh_tokens SET revoked = $1 WHERE family = $2")
                .bind(true)
                .bind(family)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(access + refresh)
        }
        .await)
        .map_err(store_error)
    }

    async fn insert_refresh_token(
        &self,
        token_hash: &str,
        grant: &RefreshGrant,
    ) -> Result<(), StoreError> {
        let json = to_json(grant, "refresh_tokens.grant_json")?;
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family, client_id, grant_json, expires_at, used, revoked) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(token_hash)
        .bind(&grant.family)
        .bind(&grant.client_id)
        .bind(&json)
        .bind(to_unix(grant.expires_at))
        .bind(false)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<RefreshUse, StoreError> {
        let spent = with_pool!(self, pool => sqlx::query(
            "UPDATE refresh_tokens SET used = $1 \
             WHERE token_hash = $2 AND used = $3 AND revoked = $3 AND expires_at > $4 \
             RETURNING grant_json",
        )
        .bind(true)
        .bind(token_hash)
        .bind(false)
        .bind(to_unix(now))
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)?;
        if let Some(json) = spent {
            return Ok(RefreshUse::Fresh(Box::new(from_json(
                &json,
                "refresh_tokens.grant_json",
            )?)));
        }
        let used_family = with_pool!(self, pool => sqlx::query(
            "SELECT family FROM refresh_tokens WHERE token_hash = $1 AND used = $2",
        )
        .bind(token_hash)
        .bind(true)
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)?;
        Ok(match used_family {
            Some(family) => RefreshUse::Reused { family },
            None => RefreshUse::Unknown,
        })
    }

    async fn token_family(&self, token_hash: &str) -> Result<Option<(String, String)>, StoreError> {
        let found = with_pool!(self, pool => sqlx::query(
            "SELECT family, client_id FROM refresh_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await
        .and_then(|row| {
            row.map(|row| Ok::<_, sqlx::Error>((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?)))
                .transpose()
        }))
        .map_err(store_error)?;
        if found.is_some() {
            return Ok(found);
        }
        let json = with_pool!(self, pool => sqlx::query(
            "SELECT grant_json FROM access_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await
        .and_then(|row| row.map(|row| row.try_get::<String, _>(0)).transpose()))
        .map_err(store_error)?;
        json.map(|j| {
            from_json::<AccessGrant>(&j, "access_tokens.grant_json")
                .map(|g| (g.family, g.client_id))
        })
        .transpose()
    }
}
