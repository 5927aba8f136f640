//! Payment domain of the eID and e-payment gateway.
//!
//! Money, bills, the payment state machine, FPS QR codes, provider adapters
//! and routing will live here (see `DESIGN.md`). Like `eid-core`, this crate
//! depends on neither an HTTP framework nor a database driver.
//!
//! The crate is deliberately empty in the foundation: its capabilities arrive
//! with the `payment-core` issue.
