//! [`KeyStore`] on the `signing_keys` table.

use eid_core::StoreError;
use eid_core::oidc::{Alg, Jwk, KeyStore, StoredKey};
use sqlx::Row;

use super::{Db, from_unix, store_error, to_unix, with_pool};

struct KeyRow {
    kid: String,
    alg: String,
    public_jwk: String,
    sealed_private: Vec<u8>,
    created_at: i64,
    sign_from: i64,
    signing_until: Option<i64>,
}

fn invalid(field: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::InvalidValue {
        field,
        detail: detail.to_string(),
    }
}

impl KeyRow {
    fn into_key(self) -> Result<StoredKey, StoreError> {
        Ok(StoredKey {
            alg: Alg::from_name(&self.alg).ok_or_else(|| invalid("signing_keys.alg", &self.alg))?,
            public_jwk: serde_json::from_str::<Jwk>(&self.public_jwk)
                .map_err(|e| invalid("signing_keys.public_jwk", e))?,
            kid: self.kid,
            sealed_private: self.sealed_private,
            created_at: from_unix("signing_keys.created_at", self.created_at)?,
            sign_from: from_unix("signing_keys.sign_from", self.sign_from)?,
            signing_until: self
                .signing_until
                .map(|t| from_unix("signing_keys.signing_until", t))
                .transpose()?,
        })
    }
}

impl KeyStore for Db {
    async fn list_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows = with_pool!(self, pool => match sqlx::query(
            "SELECT kid, alg, public_jwk, sealed_private, created_at, sign_from, signing_until \
             FROM signing_keys ORDER BY created_at, sign_from, kid",
        )
        .fetch_all(pool)
        .await
        {
            Ok(rows) => rows
                .iter()
                .map(|row| -> Result<KeyRow, sqlx::Error> {
                    Ok(KeyRow {
                        kid: row.try_get(0)?,
                        alg: row.try_get(1)?,
                        public_jwk: row.try_get(2)?,
                        sealed_private: row.try_get(3)?,
                        created_at: row.try_get(4)?,
                        sign_from: row.try_get(5)?,
                        signing_until: row.try_get(6)?,
                    })
                })
                .collect::<Result<Vec<_>, _>>(),
            Err(e) => Err(e),
        })
        .map_err(store_error)?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    async fn insert_rotated_key(&self, key: &StoredKey) -> Result<(), StoreError> {
        let jwk = serde_json::to_string(&key.public_jwk).map_err(|e| invalid("signing_keys", e))?;
        let sign_from = to_unix(key.sign_from);
        with_pool!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE signing_keys SET signing_until = $1 WHERE signing_until IS NULL")
                .bind(sign_from)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO signing_keys \
                 (kid, alg, public_jwk, sealed_private, created_at, sign_from, signing_until) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL)",
            )
            .bind(&key.kid)
            .bind(key.alg.name())
            .bind(&jwk)
            .bind(&key.sealed_private)
            .bind(to_unix(key.created_at))
            .bind(sign_from)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        }
        .await)
        .map_err(store_error)
    }
}
