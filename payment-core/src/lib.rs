//! Payment domain of the eID and e-payment gateway.
//!
//! Money, bills, the payment state machine, FPS QR codes, provider adapters
//! and routing live here (see `DESIGN.md`). Like `eid-core`, this crate
//! depends on neither an HTTP framework nor a database driver.
//!
//! Available so far: [`money`] (HKD amounts), [`payment`] (a bill's
//! attempts and their state machine) and [`fps`] (the EMVCo
//! merchant-presented QR payload of Hong Kong's Faster Payment System).

pub mod fps;
pub mod fps_render;
pub mod money;
pub mod payment;

pub use money::{Money, MoneyError};
