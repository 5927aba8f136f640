//! The one error body every 4xx and 5xx response carries:
//! `{"error": code, "message": text, "request_id": id}`.
//!
//! Handlers return [`ApiError`]; it travels to [`error_envelope`] as a
//! response extension, and that middleware writes the body, so the request id
//! is filled in at one place. Errors that axum or tower-http produce on their
//! own (unknown route, wrong method, body too large, timeouts, panics) have no
//! such extension; the middleware gives them a body from their status code.
//! Internal detail is logged, never sent.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::request_id::RequestId;

/// An error answer: status, a stable machine-readable code and a message
/// safe to show to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, `snake_case`; clients branch on it.
    pub code: &'static str,
    /// Human-readable explanation for the client's developer.
    pub message: String,
    /// OAuth endpoints also send the message as `error_description`
    /// (RFC 6749 5.2), which OAuth client libraries read.
    pub oauth: bool,
    /// Headers the answer carries (`DPoP-Nonce`, `WWW-Authenticate`, ...).
    pub headers: Vec<(axum::http::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            oauth: false,
            headers: Vec::new(),
        }
    }

    /// Adds a header to the answer.
    pub fn with_header(mut self, name: axum::http::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// An OAuth 2.0 error (`invalid_request`, `invalid_client`, ...): the
    /// body also carries `error_description`.
    pub fn oauth(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            oauth: true,
            ..Self::new(status, code, description)
        }
    }

    /// `400 malformed_json`.
    pub fn malformed_json(detail: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the request body is not valid JSON for this endpoint: {detail}"),
        )
    }

    /// `503 service_unavailable`, after logging `detail` for the operator.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "dependency unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            "the service is temporarily unavailable; try again later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        let mut response = self.status.into_response();
        for (name, value) in std::mem::take(&mut self.headers) {
            response.headers_mut().insert(name, value);
        }
        response.extensions_mut().insert(self);
        response
    }
}

/// The serialized error body.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_description: Option<&'a str>,
}

/// The code and message for an error that carries no [`ApiError`].
fn default_for(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request is malformed"),
        StatusCode::UNAUTHORIZED => ("unauthorized", "authentication is required"),
        StatusCode::FORBIDDEN => ("forbidden", "this request is not allowed"),
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed on this resource; see the Allow header",
        ),
        StatusCode::NOT_ACCEPTABLE => ("not_acceptable", "no acceptable representation"),
        StatusCode::REQUEST_TIMEOUT => ("request_timeout", "the request took too long"),
        StatusCode::CONFLICT => (
            "conflict",
            "the request conflicts with the resource's state",
        ),
        StatusCode::LENGTH_REQUIRED => ("length_required", "a Content-Length is required"),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than this endpoint accepts",
        ),
        StatusCode::URI_TOO_LONG => ("uri_too_long", "the request URI is too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the request body's Content-Type is not accepted here",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            "unprocessable_entity",
            "the request body does not have the expected fields",
        ),
        StatusCode::TOO_MANY_REQUESTS => ("rate_limited", "too many requests; slow down"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers_too_large", "the request headers are too large")
        }
        StatusCode::SERVICE_UNAVAILABLE => (
            "service_unavailable",
            "the service is temporarily unavailable; try again later",
        ),
        StatusCode::GATEWAY_TIMEOUT => ("timeout", "the request took too long to answer"),
        s if s.is_server_error() => ("internal_error", "an internal error occurred"),
        _ => ("client_error", "the request cannot be processed"),
    }
}

/// A response extension for error answers that carry their own body (a
/// page re-rendered with the citizen's input and hints): the envelope
/// leaves them as they are.
#[derive(Debug, Clone, Copy)]
pub struct OwnBody;

/// Middleware: gives every 4xx/5xx response the JSON error body, keeping
/// its status and headers (such as `Allow` and `Retry-After`).
pub async fn error_envelope(request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<OwnBody>().is_some()
    {
        return response;
    }
    let (mut parts, _discarded_body) = response.into_parts();
    let api_error = parts.extensions.remove::<ApiError>();
    let (code, message) = match &api_error {
        Some(e) => (e.code, e.message.as_str()),
        None => default_for(status),
    };
    if status.is_server_error() && api_error.is_none() {
        tracing::error!(
            status = status.as_u16(),
            "request failed without a handled error"
        );
    }
    let body = Json(ErrorBody {
        error: code,
        message,
        request_id: &request_id,
        error_description: api_error.as_ref().filter(|e| e.oauth).map(|_| message),
    })
    .into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, body.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_status_has_a_snake_case_code() {
        for code in 400..600u16 {
            let Ok(status) = StatusCode::from_u16(code) else {
                continue;
            };
            let (code, message) = default_for(status);
            assert!(!message.is_empty());
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
        }
    }
}
