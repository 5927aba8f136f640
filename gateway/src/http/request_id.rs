//! The request id: taken from the client's `x-request-id` header when it is
//! a short token of safe characters, generated otherwise; stored in the
//! request's extensions for handlers and logs, and echoed in the response.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header that carries the request id, both ways.
pub static REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied id that is kept.
const MAX_LEN: usize = 64;

/// The id of the request being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A client's id is kept only when it cannot forge log lines or blow up
    /// log storage: 1 to 64 characters of `[A-Za-z0-9._-]`.
    fn from_client(value: &HeaderValue) -> Option<Self> {
        let text = value.to_str().ok()?;
        let ok = !text.is_empty()
            && text.len() <= MAX_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| Self(text.to_owned()))
    }

    fn generate() -> Self {
        Self(uuid::Uuid::new_v4().simple().to_string())
    }
}

/// Middleware: assigns the request id and puts it on the response.
pub async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(RequestId::from_client)
        .unwrap_or_else(RequestId::generate);
    let header = HeaderValue::from_str(id.as_str()).ok();
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    if let Some(header) = header {
        response
            .headers_mut()
            .insert(REQUEST_ID_HEADER.clone(), header);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_filtered() {
        let ok = HeaderValue::from_static("abc-123_X.y");
        assert_eq!(
            RequestId::from_client(&ok).map(|i| i.0),
            Some("abc-123_X.y".to_owned())
        );
        for bad in ["", "a b", "a\"b", "ä", &"x".repeat(65)] {
            if let Ok(value) = HeaderValue::from_str(bad) {
                assert_eq!(RequestId::from_client(&value), None, "{bad:?}");
            }
        }
        assert_eq!(RequestId::generate().0.len(), 32);
    }
}
