//! Payment domain of the eID and e-payment gateway.
//!
//! Money, bills, the payment state machine, FPS QR codes, provider adapters
//! and routing live here (see `DESIGN.md`). Like `eid-core`, this crate
//! depends on neither an HTTP framework nor a database driver.
//!
//! - [`money`]: HKD amounts; [`bill`]: a department's bill;
//! - [`payment`]: a bill's attempts and their state machine;
//! - [`fps`], [`fps_render`]: the EMVCo merchant-presented QR payload of
//!   Hong Kong's Faster Payment System, and its rendering;
//! - [`adapters`]: FPS, PPS, card and e-wallet providers behind one trait,
//!   with sandboxes; [`routing`]: which provider takes a payment;
//! - [`ledger`], [`reconcile`]: double-entry books and settlement files;
//! - [`idempotency`], [`webhook`]: idempotency keys and webhook signing.

pub mod adapters;
pub mod bill;
pub mod fps;
pub mod fps_render;
pub mod idempotency;
pub mod ledger;
pub mod money;
pub mod payment;
pub mod reconcile;
pub mod routing;
pub mod webhook;

pub use money::{Money, MoneyError};

/// Hong Kong's offset from UTC: +08:00 all year (no daylight saving).
pub const HONG_KONG: time::UtcOffset = match time::UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => time::UtcOffset::UTC,
};

/// Lowercase hex of `bytes` (signatures and MACs on the wire).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The date in Hong Kong at `now`.
pub fn hong_kong_date(now: time::OffsetDateTime) -> time::Date {
    now.to_offset(HONG_KONG).date()
}

/// A storage backend failed to answer a storage trait call (the detail is
/// for the operator's log).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend is unreachable or timed out; retrying may succeed.
    #[error("storage unavailable: {detail}")]
    Unavailable {
        /// What the backend said.
        detail: String,
    },
    /// The backend refused; retrying will not help.
    #[error("storage failure: {detail}")]
    Backend {
        /// What the backend said.
        detail: String,
    },
}
