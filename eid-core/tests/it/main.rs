//! Integration tests of `eid_core::cert`: RFC 5280 path building and
//! validation and CRL checking on a Hongkong Post e-Cert style PKI built
//! with rcgen (see [`pki`]).
//!
//! A test marked `#[ignore = "validator bug: ..."]` pins down a known
//! defect of the validator: it fails today and should pass once the bug is
//! fixed (`cargo test -p eid-core --test it -- --ignored`). Then drop the
//! attribute.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod authz;
mod client_auth;
mod der;
mod dpop;
mod forge;
mod pki;

mod chain;
mod checks;
mod constraints;
mod hostile;
mod identity;
mod profile;
mod revocation;
