//! Security headers on every response. A handler that needs another policy
//! (a page that frames nothing but loads an image from elsewhere, say) sets
//! the header itself; these are only added when absent.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The default Content-Security-Policy: our own resources only, no plugins,
/// no framing, forms post only to us, violations reported to `/csp-report`.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
form-action 'self'; frame-ancestors 'none'; report-uri /csp-report";

/// HSTS value sent on TLS listeners: one year, subdomains included.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// Whether the listener serving the request terminates TLS.
#[derive(Debug, Clone, Copy)]
pub struct Transport {
    /// `true` on a TLS listener: adds HSTS.
    pub tls: bool,
}

const DEFAULTS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    // Responses may carry tokens or personal data: nothing is cached unless
    // a handler says so.
    ("cache-control", "no-store"),
];

/// Middleware: adds the security headers a response does not set itself.
pub async fn security_headers(
    State(transport): State<Transport>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in DEFAULTS {
        if !headers.contains_key(*name) {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
    }
    if transport.tls && !headers.contains_key(header::STRICT_TRANSPORT_SECURITY) {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        );
    }
    response
}
