//! The HTTP surface through `app.oneshot`: operations endpoints, the error
//! body on every failure, request ids, security headers, metrics.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bytes::Bytes;
use gateway::AppState;
use http_body_util::StreamBody;

use crate::support::{app, get, json, send, text};

/// Asserts the error body and that its request id is the response header's.
async fn assert_error(response: axum::http::Response<Body>, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "error bodies are JSON"
    );
    let header_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let body = json(response).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(body["request_id"], header_id.as_str());
    assert_eq!(
        body.as_object().unwrap().len(),
        3,
        "no extra fields: {body}"
    );
}

#[tokio::test]
async fn healthz_says_ok() {
    let (app, _, db) = app().await;
    let response = send(&app, get("/healthz")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await, serde_json::json!({"status": "ok"}));
    db.finish().await;
}

#[tokio::test]
async fn readyz_is_ready_while_the_database_answers() {
    let (app, _, db) = app().await;
    let response = send(&app, get("/readyz")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await["database"], "ok");
    db.finish().await;
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let (app, state, db) = app().await;
    state.db().close().await;
    let response = send(&app, get("/readyz")).await;
    assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
    // Liveness does not depend on the database.
    assert_eq!(send(&app, get("/healthz")).await.status(), StatusCode::OK);
    db.finish().await;
}

#[tokio::test]
async fn readyz_fails_when_the_postgres_server_is_gone() {
    let Some(test_db) = crate::support::postgres().await else {
        return;
    };
    let state = AppState::new(test_db.db.clone(), test_db.config.clone());
    let app = gateway::app(state.clone());
    assert_eq!(send(&app, get("/readyz")).await.status(), StatusCode::OK);
    state.db().close().await;
    assert_error(
        send(&app, get("/readyz")).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
    )
    .await;
    test_db.finish().await;
}

#[tokio::test]
async fn unknown_route_gets_the_error_body() {
    let (app, _, db) = app().await;
    let response = send(&app, get("/no/such/thing?x=1")).await;
    assert_error(response, StatusCode::NOT_FOUND, "not_found").await;
    db.finish().await;
}

#[tokio::test]
async fn wrong_method_gets_the_error_body_and_allow() {
    let (app, _, db) = app().await;
    let request = Request::delete("/healthz").body(Body::empty()).unwrap();
    let response = send(&app, request).await;
    let allow = response.headers()[header::ALLOW]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("GET"), "{allow}");
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    db.finish().await;
}

fn csp_post(content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post("/csp-report")
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

#[tokio::test]
async fn malformed_json_gets_the_error_body() {
    let (app, _, db) = app().await;
    for body in ["{not json", "", "[1,2", "{\"csp-report\": 5}", "null"] {
        let response = send(&app, csp_post("application/csp-report", body)).await;
        assert_error(response, StatusCode::BAD_REQUEST, "malformed_json").await;
    }
    db.finish().await;
}

#[tokio::test]
async fn wrong_content_type_is_refused() {
    let (app, _, db) = app().await;
    let response = send(&app, csp_post("text/plain", "{}")).await;
    assert_error(
        response,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    db.finish().await;
}

#[tokio::test]
async fn oversized_body_gets_413_with_and_without_length() {
    let (app, state, db) = app().await;
    let limit = state.config().http.max_body_bytes;
    let mut big = String::from("{\"csp-report\":{\"effective-directive\":\"");
    big.push_str(&"a".repeat(limit));
    big.push_str("\"}}");

    let response = send(&app, csp_post("application/csp-report", big.clone())).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    // Chunked, without Content-Length: the limit holds while streaming.
    let chunks: Vec<Result<http_body::Frame<Bytes>, std::io::Error>> = big
        .as_bytes()
        .chunks(8192)
        .map(|c| Ok(http_body::Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let stream = futures_util::stream::iter(chunks);
    let response = send(
        &app,
        csp_post("application/csp-report", Body::new(StreamBody::new(stream))),
    )
    .await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    db.finish().await;
}

#[tokio::test]
async fn csp_reports_are_counted_by_directive_only() {
    let (app, _, db) = app().await;
    let legacy = r#"{"csp-report":{"document-uri":"https://gw/consent?hkid=A1234567","effective-directive":"script-src-elem","blocked-uri":"https://evil.example"}}"#;
    let response = send(&app, csp_post("application/csp-report", legacy)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let reporting = r#"[{"type":"csp-violation","body":{"effectiveDirective":"img-src"}},{"type":"csp-violation","body":{"effectiveDirective":"bogus-directive"}}]"#;
    let response = send(&app, csp_post("application/reports+json", reporting)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    let metrics = text(send(&app, get("/metrics")).await).await;
    assert!(metrics.contains("csp_violation_reports_total{directive=\"script-src-elem\"} 1"));
    assert!(metrics.contains("csp_violation_reports_total{directive=\"img-src\"} 1"));
    assert!(metrics.contains("csp_violation_reports_total{directive=\"other\"} 1"));
    assert!(!metrics.contains("A1234567"), "no personal data in metrics");
    assert!(!metrics.contains("evil.example"));
    db.finish().await;
}

#[tokio::test]
async fn request_ids_are_generated_or_kept_when_safe() {
    let (app, _, db) = app().await;
    let first = send(&app, get("/healthz")).await;
    let second = send(&app, get("/healthz")).await;
    let a = first.headers()["x-request-id"].to_str().unwrap().to_owned();
    let b = second.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(a.len(), 32);
    assert_ne!(a, b, "each request gets its own id");

    let kept = Request::get("/healthz")
        .header("x-request-id", "dept-A.trace_42")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, kept).await.headers()["x-request-id"],
        "dept-A.trace_42"
    );

    // A forged id that would inject into logs is replaced, also in errors.
    let hostile = Request::get("/missing")
        .header("x-request-id", "x\" level=ERROR msg=\"forged")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, hostile).await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(json(response).await["request_id"], id.as_str());
    db.finish().await;
}

#[tokio::test]
async fn security_headers_on_success_and_error() {
    let (app, _, db) = app().await;
    for uri in ["/healthz", "/missing"] {
        let response = send(&app, get(uri)).await;
        let headers = response.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert!(
            !headers.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "no HSTS on plain HTTP"
        );
    }
    db.finish().await;
}

#[tokio::test]
async fn hsts_only_when_tls_is_configured() {
    let test_db = crate::support::sqlite().await;
    let mut config = test_db.config.clone();
    config.tls = Some(gateway::config::TlsConfig {
        cert_file: "unused.pem".into(),
        key_file: "unused.pem".into(),
    });
    let app = gateway::app(AppState::new(test_db.db.clone(), config));
    let response = send(&app, get("/healthz")).await;
    assert_eq!(
        response.headers()[header::STRICT_TRANSPORT_SECURITY],
        "max-age=31536000; includeSubDomains"
    );
    test_db.finish().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let (app, _, db) = app().await;
    for _ in 0..3 {
        send(&app, get("/healthz")).await;
    }
    send(&app, get("/nope/1")).await;
    send(&app, get("/nope/2")).await;
    let response = send(&app, get("/metrics")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = text(response).await;
    assert!(body.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 3"#));
    // Unknown paths share one label value: clients cannot grow the series.
    assert!(body.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 2"#));
    assert!(!body.contains("/nope"));
    assert!(body.contains(
        r#"http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 3"#
    ));
    db.finish().await;
}

#[tokio::test]
async fn unusual_methods_share_one_label() {
    let (app, _, db) = app().await;
    let request = Request::builder()
        .method("FOOBAR")
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    let response = send(&app, request).await;
    assert_error(
        response,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let body = text(send(&app, get("/metrics")).await).await;
    assert!(body.contains(r#"method="other",route="/healthz",status="405""#));
    assert!(!body.contains("FOOBAR"));
    db.finish().await;
}

#[tokio::test]
async fn jwks_publishes_the_signing_keys() {
    use eid_core::oidc::{Alg, KeyEncryptionKey};
    let (app, state, db) = app().await;
    let response = send(&app, get("/jwks")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json(response).await, serde_json::json!({"keys": []}));

    let kek = KeyEncryptionKey::from_bytes(&[3u8; 32]).unwrap();
    let kid = gateway::oidc::keyring::ensure_key(state.db(), &kek, Alg::Es256, state.now())
        .await
        .unwrap()
        .expect("a first key");
    assert_eq!(
        gateway::oidc::keyring::ensure_key(state.db(), &kek, Alg::Es256, state.now())
            .await
            .unwrap(),
        None,
        "only when there is none"
    );
    let response = send(&app, get("/jwks")).await;
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/jwk-set+json"
    );
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=300"
    );
    let body = json(response).await;
    let keys = body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], kid.as_str());
    assert_eq!(keys[0]["kty"], "EC");
    assert_eq!(keys[0]["alg"], "ES256");
    assert!(keys[0].get("d").is_none(), "never the private key");
    db.finish().await;
}
