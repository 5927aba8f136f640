//! Errors shared by the storage traits of this crate.

/// A storage backend failed to answer a storage trait call.
///
/// The detail is meant for the operator's log, never for the client: the
/// gateway maps every variant to a generic `503`/`500` error body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or timed out (connection refused,
    /// pool closed, pool exhausted). Retrying later may succeed.
    #[error("storage unavailable: {detail}")]
    Unavailable {
        /// What the backend said, for the log.
        detail: String,
    },
    /// The backend answered with an error that retrying will not fix
    /// (constraint violation, schema mismatch, corrupt row).
    #[error("storage failure: {detail}")]
    Backend {
        /// What the backend said, for the log.
        detail: String,
    },
    /// A stored value could not be interpreted (for example a timestamp out
    /// of range). Points at a bug or at manual edits of the database.
    #[error("stored value for {field} is invalid: {detail}")]
    InvalidValue {
        /// Which column or field held the value.
        field: &'static str,
        /// Why it was rejected.
        detail: String,
    },
}
