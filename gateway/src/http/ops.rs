//! Operations endpoints: liveness, readiness, metrics, and the receiver of
//! the browsers' Content-Security-Policy violation reports.

use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is up and serving. Never touches the database,
/// so an orchestrator does not restart a healthy process during a database
/// outage.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: `200` only when the database answers within the configured
/// time; a load balancer stops sending traffic otherwise.
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let limit = Duration::from_millis(state.config().database.ready_timeout_ms);
    match tokio::time::timeout(limit, state.db().ping()).await {
        Ok(Ok(())) => Ok(Json(json!({ "status": "ready", "database": "ok" }))),
        Ok(Err(e)) => Err(not_ready(e)),
        Err(_) => Err(not_ready(format!(
            "no answer within {} ms",
            limit.as_millis()
        ))),
    }
}

fn not_ready(detail: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %detail, "readiness check failed: database");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "the database is not answering",
    )
}

/// `GET /metrics`: Prometheus text exposition format 0.0.4.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state
        .metrics()
        .render()
        .map_err(|e| ApiError::unavailable(format!("metrics encoding: {e}")))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}

/// The part of a CSP report we read. Browsers send either the legacy
/// `{"csp-report": {...}}` (`application/csp-report`) or the Reporting API's
/// list of `{"type": "csp-violation", "body": {...}}`
/// (`application/reports+json`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CspReport {
    Legacy {
        #[serde(rename = "csp-report")]
        report: LegacyBody,
    },
    Reporting(Vec<ReportingEntry>),
}

#[derive(Debug, Deserialize)]
struct LegacyBody {
    #[serde(rename = "effective-directive", alias = "violated-directive")]
    directive: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ReportingEntry {
    body: ReportingBody,
}

#[derive(Debug, Deserialize)]
struct ReportingBody {
    #[serde(rename = "effectiveDirective")]
    directive: Option<String>,
}

const CSP_REPORT_TYPES: &[&str] = &[
    "application/csp-report",
    "application/reports+json",
    "application/json",
];

/// `POST /csp-report`: counts violations by directive. Only the directive is
/// kept: reports quote page URLs, which may carry personal data.
pub async fn csp_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let report: CspReport = parse_json(&headers, &body, CSP_REPORT_TYPES)?;
    let directives: Vec<Option<String>> = match report {
        CspReport::Legacy { report } => vec![report.directive],
        CspReport::Reporting(entries) => entries.into_iter().map(|e| e.body.directive).collect(),
    };
    for directive in directives {
        state
            .metrics()
            .observe_csp_report(&directive_label(directive.as_deref()));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Keeps the metric's label set small: known directive names, or `other`.
fn directive_label(directive: Option<&str>) -> String {
    const KNOWN: &[&str] = &[
        "default-src",
        "script-src",
        "script-src-elem",
        "script-src-attr",
        "style-src",
        "style-src-elem",
        "style-src-attr",
        "img-src",
        "font-src",
        "connect-src",
        "object-src",
        "base-uri",
        "form-action",
        "frame-ancestors",
        "frame-src",
    ];
    let name = directive
        .and_then(|d| d.split_whitespace().next())
        .unwrap_or("");
    KNOWN
        .iter()
        .find(|k| **k == name)
        .map_or_else(|| "other".to_owned(), |k| (*k).to_owned())
}

/// Decodes a JSON body after checking its media type against `accepted`.
/// Errors are the API's: `415 unsupported_media_type`, `400 malformed_json`.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
    accepted: &[&str],
) -> Result<T, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !accepted.contains(&media_type.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be one of: {}", accepted.join(", ")),
        ));
    }
    serde_json::from_slice(body).map_err(ApiError::malformed_json)
}

/// Middleware: counts each request and its latency by matched route (never
/// the raw path, which would let clients create unbounded label values).
pub async fn record_metrics(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method: &'static str = match request.method().as_str() {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let response = next.run(request).await;
    state.metrics().observe_http(
        method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directive_labels_are_bounded() {
        assert_eq!(directive_label(Some("script-src-elem")), "script-src-elem");
        assert_eq!(directive_label(Some("img-src 'self'")), "img-src");
        assert_eq!(directive_label(Some("made-up")), "other");
        assert_eq!(directive_label(None), "other");
    }
}
