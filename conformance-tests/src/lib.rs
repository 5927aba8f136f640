//! The auditors' conformance suite: checks a gateway deployment over HTTP,
//! as any outsider would, and reports as text, JSON or JUnit XML.
//!
//! The suite grows with the gateway's capabilities. Today it checks the
//! contract every endpoint shares: operations endpoints, the error body and
//! request ids, and transport security headers. OIDC/FAPI 2.0, consent,
//! payments and webhook checks, and the x509-limbo certificate vectors, come
//! with their capabilities.

use serde::Serialize;

pub mod checks;
pub mod limbo;
pub mod report;

pub use checks::run;
pub use report::{Outcome, Report, Status};

/// The suite could not run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid base url {url:?}: must start with http:// or https://")]
    BadBaseUrl {
        /// The URL given.
        url: String,
    },
    /// The gateway did not answer at all.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The URL tried.
        url: String,
        /// The transport error.
        reason: String,
    },
}

/// Output formats of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// One line per check, then a summary line.
    Text,
    /// The whole report as one JSON document.
    Json,
    /// JUnit XML, for CI systems.
    Junit,
}
