//! payment-core integration tests (one binary, DESIGN.md convention 9).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod fps;
mod fps_adapter;
mod ledger;
mod localstripe;
mod payment;
mod pps_adapter;
mod qr_independent;
mod routing;
mod stripe;
