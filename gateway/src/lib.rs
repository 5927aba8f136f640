//! The eID and e-payment gateway service: configuration, storage, the HTTP
//! application, the server and the command line.
//!
//! The binary (`src/main.rs`) only parses arguments and calls [`run::run`];
//! everything else lives here so that tests can drive it in-process:
//! [`http::app`] gives the router for `oneshot` tests, [`server::serve`]
//! serves it on a listener.

pub mod api_keys;
pub mod audit;
pub mod cert_cmd;
pub mod cli;
pub mod config;
pub mod consent;
pub mod demo;
pub mod http;
pub mod metrics;
pub mod oidc;
pub mod oidc_cmd;
pub mod pages;
pub mod payments;
pub mod profile;
pub mod qr_cmd;
pub mod reconcile_cmd;
pub mod revocation;
pub mod run;
pub mod server;
pub mod signin;
pub mod state;
pub mod store;
pub mod telemetry;

pub use config::Config;
pub use http::app;
pub use state::AppState;
pub use store::Db;
