//! Integration tests of the gateway: one binary (DESIGN.md, convention 9).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod admin;
mod audit;
mod browser;
mod card;
mod cert_cli;
mod cli;
mod consent;
mod flow;
mod http;
mod jwks_uri;
mod oidc_client;
mod openapi;
mod par;
mod passkeys;
mod payments;
mod profile;
mod revocation;
mod server;
mod storage;
mod support;
