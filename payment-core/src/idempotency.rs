//! Idempotency keys (the `Idempotency-Key` header of creating calls): a
//! replay returns the first response, the same key with a different request
//! is an error, and two concurrent requests with one key cannot both run.
//! Keys are scoped per department and operation. The gateway implements
//! [`IdempotencyStore`] over its database.

use std::future::Future;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A checked idempotency key with its scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// The department (client) that sent it.
    pub department: String,
    /// The operation (`create_bill`, `refund`, ...).
    pub operation: String,
    /// The key itself.
    pub key: String,
}

/// Why a key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdempotencyError {
    /// Empty, too long, or not printable ASCII.
    #[error("Idempotency-Key must be 1 to {MAX_KEY_LEN} printable ASCII characters")]
    BadKey,
}

impl IdempotencyKey {
    /// Checks and scopes a key.
    pub fn new(department: &str, operation: &str, key: &str) -> Result<Self, IdempotencyError> {
        if key.is_empty()
            || key.len() > MAX_KEY_LEN
            || !key.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            return Err(IdempotencyError::BadKey);
        }
        Ok(Self {
            department: department.to_owned(),
            operation: operation.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// A stored first response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// What [`IdempotencyStore::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First use: run the operation, then [`IdempotencyStore::complete`].
    Proceed,
    /// Done before with the same request: answer this again.
    Replay(StoredResponse),
    /// Another request with this key is running: answer 409 and let the
    /// client retry.
    InProgress,
    /// Used before with a different request: answer 422.
    Mismatch,
}

/// Storage of idempotency keys.
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request whose canonical form hashes to
    /// `request_hash`, atomically.
    fn begin(
        &self,
        key: &IdempotencyKey,
        request_hash: &[u8],
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Begin, crate::StoreError>> + Send;

    /// Records the response of a claimed key.
    fn complete(
        &self,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> impl Future<Output = Result<(), crate::StoreError>> + Send;

    /// Releases a claim whose operation failed before changing anything,
    /// so that the client may retry with the same key.
    fn abandon(
        &self,
        key: &IdempotencyKey,
    ) -> impl Future<Output = Result<(), crate::StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        assert!(IdempotencyKey::new("d", "create_bill", "9f1c-2026-11-28").is_ok());
        for bad in ["", "has space", "tab\t", "é", &"k".repeat(256)] {
            assert_eq!(
                IdempotencyKey::new("d", "op", bad),
                Err(IdempotencyError::BadKey),
                "{bad:?}"
            );
        }
    }
}
