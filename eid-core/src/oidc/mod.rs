//! The OpenID Connect provider's domain (FAPI 2.0 Security Profile): the
//! department registry, keys and their public form.
//!
//! This module grows with the provider: authorization requests, codes,
//! tokens, DPoP and client authentication arrive in later steps.

pub mod authz;
pub mod client;
pub mod client_auth;
pub mod dpop;
pub mod grant;
pub mod jwk;
pub mod jws;
pub mod keys;

pub use client::{Client, ClientAuth, ClientError, ClientStore};
pub use jwk::{Alg, Jwk, JwkError, Jwks};
pub use keys::{KeyEncryptionKey, KeyStore, SigningKey, StoredKey};
