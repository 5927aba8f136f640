//! The OpenID Connect provider in the service: the department registry and
//! the signing keys over the database, and (in `http::oidc`) the published
//! endpoints.

pub mod client_auth;
pub mod jwks_fetch;
pub mod keyring;
pub mod registry;
