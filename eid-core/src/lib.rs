//! Identity domain of the eID gateway.
//!
//! This crate holds the identity side's types, pure logic and the storage
//! *traits* that logic needs. It depends on neither an HTTP framework nor a
//! database driver: the `gateway` crate implements the traits with sqlx and
//! maps the errors defined here to HTTP responses.
//!
//! Time is always a parameter (`now: OffsetDateTime`), never read from the
//! system clock inside this crate, so that tests pin it.

pub mod audit;
pub mod cert;
pub mod consent;
pub mod oidc;
pub mod profile;
pub mod replay;
pub mod secret;
pub mod session;
pub mod store;

pub use replay::{ReplayStore, Sighting};
pub use secret::Secret;
pub use store::StoreError;
