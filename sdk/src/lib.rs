//! Client library for departments integrating with the eID and e-payment
//! gateway.
//!
//! Today it knows the gateway's wire contract shared by every endpoint: the
//! error body (`{"error", "message", "request_id"}`) and the operations
//! endpoints. Sign-in (OpenID Connect with PAR, PKCE, `private_key_jwt` and
//! DPoP), form filling, bills and webhook verification arrive with their
//! capabilities.
//!
//! ```no_run
//! # async fn demo() -> Result<(), sdk::Error> {
//! let gateway = sdk::Client::new("http://127.0.0.1:8080")?;
//! gateway.health().await?;
//! match gateway.ready().await {
//!     Ok(()) => println!("ready"),
//!     Err(sdk::Error::Api(e)) => println!("not ready: {} (quote {})", e.code, e.request_id),
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

pub mod webhook;

use serde::{Deserialize, Serialize};

/// The header in which the gateway returns each request's id. Quote it when
/// asking the gateway's operators about a request.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The body of every 4xx and 5xx answer from the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiErrorBody {
    /// Stable machine-readable code, for example `not_found`.
    pub error: String,
    /// Explanation for a developer; not meant for end users.
    pub message: String,
    /// The request's id, also in the `x-request-id` header.
    pub request_id: String,
}

/// An error answer, with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gateway answered {status} {code}: {message} (request id {request_id})")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// The stable code from the body.
    pub code: String,
    /// The message from the body.
    pub message: String,
    /// The request id from the body.
    pub request_id: String,
}

/// What can go wrong when calling the gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid gateway base url {url:?}: {reason}")]
    BadBaseUrl {
        /// The URL given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The gateway answered with an error body.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The gateway answered an error status without the documented body
    /// (for example a proxy in front of it answered).
    #[error("gateway answered {status} without an error body")]
    UnexpectedResponse {
        /// HTTP status code.
        status: u16,
    },
    /// The request could not be sent or the answer not read.
    #[error("cannot reach the gateway: {0}")]
    Transport(#[from] reqwest::Error),
}

/// A connection to one gateway.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for the gateway at `base_url` (for example
    /// `https://eid.example.gov.hk`), with a 10 s timeout per request.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        let base = base_url.trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(Error::BadBaseUrl {
                url: base_url.to_owned(),
                reason: "must start with https:// or http://".to_owned(),
            });
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            base: base.to_owned(),
            http,
        })
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /healthz`: `Ok` when the gateway process is up.
    pub async fn health(&self) -> Result<(), Error> {
        self.get_ok("/healthz").await
    }

    /// `GET /readyz`: `Ok` when the gateway and its database can serve.
    pub async fn ready(&self) -> Result<(), Error> {
        self.get_ok("/readyz").await
    }

    async fn get_ok(&self, path: &str) -> Result<(), Error> {
        let response = self.http.get(format!("{}{path}", self.base)).send().await?;
        check(response).await.map(|_| ())
    }
}

/// Turns an error status into [`Error::Api`] (or
/// [`Error::UnexpectedResponse`]) and passes successes through.
pub async fn check(response: reqwest::Response) -> Result<reqwest::Response, Error> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(response);
    }
    let bytes = response.bytes().await?;
    match parse_error(status.as_u16(), &bytes) {
        Some(error) => Err(Error::Api(error)),
        None => Err(Error::UnexpectedResponse {
            status: status.as_u16(),
        }),
    }
}

/// Decodes an error body, or `None` if the bytes are not one.
pub fn parse_error(status: u16, body: &[u8]) -> Option<ApiError> {
    let body: ApiErrorBody = serde_json::from_slice(body).ok()?;
    Some(ApiError {
        status,
        code: body.error,
        message: body.message,
        request_id: body.request_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_error_body() {
        let body = br#"{"error":"not_found","message":"no such resource","request_id":"abc"}"#;
        let error = parse_error(404, body).expect("parses");
        assert_eq!(error.code, "not_found");
        assert_eq!(error.request_id, "abc");
        assert_eq!(error.status, 404);
        assert!(error.to_string().contains("request id abc"));
    }

    #[test]
    fn rejects_bodies_that_are_not_error_bodies() {
        assert_eq!(parse_error(502, b"<html>Bad Gateway</html>"), None);
        assert_eq!(parse_error(500, br#"{"error":"x"}"#), None);
        assert_eq!(parse_error(500, b""), None);
    }

    #[test]
    fn base_url_must_be_http() {
        assert!(matches!(
            Client::new("eid.example.gov.hk"),
            Err(Error::BadBaseUrl { .. })
        ));
        let client = Client::new("https://eid.example.gov.hk/").expect("valid");
        assert_eq!(client.base_url(), "https://eid.example.gov.hk");
    }
}
