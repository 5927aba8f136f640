//! The provider's signing keys over the database: the first key, rotation,
//! and the published key set.

use eid_core::StoreError;
use eid_core::oidc::jwk::{Alg, Jwks};
use eid_core::oidc::keys::{self, KeyError};
use eid_core::oidc::{KeyEncryptionKey, KeyStore, StoredKey};
use time::{Duration, OffsetDateTime};

/// Why a key operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No key-encryption key is configured.
    #[error("keys.encryption_key is not set (GATEWAY_KEYS__ENCRYPTION_KEY)")]
    NoKek,
    /// A key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Makes a first key that signs at once, unless a key exists. Returns the
/// new key's id when one was made.
pub async fn ensure_key<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    alg: Alg,
    now: OffsetDateTime,
) -> Result<Option<String>, KeyringError> {
    if !store.list_keys().await?.is_empty() {
        return Ok(None);
    }
    let key = keys::generate(alg, kek, now, now)?;
    store.insert_rotated_key(&key).await?;
    Ok(Some(key.kid))
}

/// Makes a new key: published now, signing after `grace` (at once when no
/// key signs yet). The current key signs until then.
pub async fn rotate<S: KeyStore>(
    store: &S,
    kek: &KeyEncryptionKey,
    alg: Alg,
    now: OffsetDateTime,
    grace: Duration,
) -> Result<StoredKey, KeyringError> {
    let existing = store.list_keys().await?;
    let sign_from = if keys::current(&existing, now).is_some() {
        now + grace
    } else {
        now
    };
    let key = keys::generate(alg, kek, now, sign_from)?;
    store.insert_rotated_key(&key).await?;
    Ok(key)
}

/// The key set to publish at `now`.
pub async fn published_jwks<S: KeyStore>(
    store: &S,
    now: OffsetDateTime,
    token_lifetime: Duration,
) -> Result<Jwks, StoreError> {
    let all = store.list_keys().await?;
    Ok(Jwks {
        keys: keys::published(&all, now, token_lifetime)
            .into_iter()
            .map(|k| k.public_jwk.clone())
            .collect(),
    })
}
