//! Single-use identifiers: the replay guard behind `jti` claims, DPoP proofs,
//! authorization codes and pushed request URIs.
//!
//! A protocol message carries an identifier that must be accepted at most
//! once while the message is valid. The guard remembers each identifier until
//! its own expiry; afterwards the message is rejected on its expiry anyway, so
//! the entry can be purged. Several gateway processes share one database, so
//! the guard lives in storage, not in memory, and "first sighting wins" must
//! hold under concurrency.

use std::future::Future;

use time::OffsetDateTime;

use crate::StoreError;

/// The longest scope name a store must accept, in bytes.
pub const MAX_SCOPE_LEN: usize = 64;
/// The longest identifier a store must accept, in bytes. Longer identifiers
/// are rejected before they reach storage, so an attacker cannot fill it with
/// huge keys.
pub const MAX_ID_LEN: usize = 256;

/// Outcome of presenting an identifier to the replay guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// First time this identifier was seen in this scope (or its previous
    /// record had expired): accept the message.
    Fresh,
    /// The identifier was already recorded and has not expired: reject the
    /// message as a replay.
    Replayed,
}

/// Error from [`check_key`]: the scope or identifier cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayKeyError {
    /// The scope is empty or longer than [`MAX_SCOPE_LEN`].
    #[error("replay scope must be 1 to {max} bytes, got {len}")]
    BadScope {
        /// Length of the scope presented.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The identifier is empty or longer than [`MAX_ID_LEN`].
    #[error("single-use identifier must be 1 to {max} bytes, got {len}")]
    BadId {
        /// Length of the identifier presented.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The identifier contains a NUL character, which no protocol
    /// identifier has and PostgreSQL text cannot store.
    #[error("single-use identifier contains a NUL character")]
    NulInId,
}

/// Checks that a scope and identifier fit the limits every store enforces.
///
/// Callers validate untrusted identifiers with this before calling
/// [`ReplayStore::check_and_record`], so that they can answer the client with
/// a protocol error rather than a storage error.
pub fn check_key(scope: &str, id: &str) -> Result<(), ReplayKeyError> {
    if scope.is_empty() || scope.len() > MAX_SCOPE_LEN {
        return Err(ReplayKeyError::BadScope {
            len: scope.len(),
            max: MAX_SCOPE_LEN,
        });
    }
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ReplayKeyError::BadId {
            len: id.len(),
            max: MAX_ID_LEN,
        });
    }
    if id.contains('\0') {
        return Err(ReplayKeyError::NulInId);
    }
    Ok(())
}

/// Storage for single-use identifiers.
///
/// Implementations must make [`check_and_record`](Self::check_and_record)
/// atomic: when several callers (threads or processes) present the same
/// identifier at once, exactly one of them sees [`Sighting::Fresh`].
pub trait ReplayStore: Send + Sync {
    /// Records `id` in `scope` until `expires_at`, unless it is already
    /// recorded with an expiry later than `now`.
    ///
    /// Returns [`Sighting::Fresh`] when the identifier was recorded by this
    /// call and [`Sighting::Replayed`] when a live record already existed.
    /// Callers must have validated the key with [`check_key`]; stores reject
    /// oversized keys with [`StoreError::InvalidValue`].
    fn check_and_record(
        &self,
        scope: &str,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Sighting, StoreError>> + Send;

    /// Deletes every record whose expiry is at or before `now` and returns
    /// how many were deleted.
    fn purge_expired(
        &self,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_limits_are_enforced() {
        assert_eq!(check_key("jti", "abc"), Ok(()));
        assert_eq!(
            check_key("", "abc"),
            Err(ReplayKeyError::BadScope { len: 0, max: 64 })
        );
        assert_eq!(
            check_key("jti", ""),
            Err(ReplayKeyError::BadId { len: 0, max: 256 })
        );
        let long = "x".repeat(MAX_ID_LEN + 1);
        assert!(matches!(
            check_key("jti", &long),
            Err(ReplayKeyError::BadId { len: 257, .. })
        ));
        assert_eq!(check_key("jti", &"x".repeat(MAX_ID_LEN)), Ok(()));
        assert!(check_key(&"s".repeat(MAX_SCOPE_LEN + 1), "a").is_err());
        assert_eq!(check_key("jti", "a\0b"), Err(ReplayKeyError::NulInId));
    }
}
