//! The suite against a real gateway served on loopback, and against a
//! server that breaks the contract, to show the checks can fail.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use conformance_tests::{SetupError, Status};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Serves `app` on a loopback port until the returned sender is dropped.
async fn serve(app: Router) -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(gateway::server::serve(
        listener,
        app,
        None,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    (format!("http://{addr}"), stop)
}

#[tokio::test]
async fn a_gateway_passes_every_check() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = gateway::Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("gw.db").display());
    let db = gateway::Db::connect(&config.database).await.unwrap();
    db.migrate().await.unwrap();
    let (base, _stop) = serve(gateway::app(gateway::AppState::new(db, config))).await;

    let report = conformance_tests::run(&base).await.unwrap();
    let text = report.to_text();
    assert!(report.success(), "{text}");
    assert_eq!(report.count(Status::Fail), 0);
    assert_eq!(
        report.count(Status::Skip),
        1,
        "only HSTS skips on plain HTTP: {text}"
    );
    assert_eq!(report.count(Status::Pass), 16, "{text}");
    // The SDK's view of the same gateway.
    let client = sdk::Client::new(&base).unwrap();
    client.health().await.unwrap();
    client.ready().await.unwrap();
}

#[tokio::test]
async fn a_server_that_breaks_the_contract_fails() {
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    let (base, _stop) = serve(app).await;
    let report = conformance_tests::run(&base).await.unwrap();
    assert!(!report.success());
    for id in [
        "ops.healthz",
        "errors.not_found",
        "headers.security",
        "request_id.echo",
        "signin.cross_site",
        "signin.page",
        "payments.api_keys",
        "payments.callbacks",
    ] {
        let outcome = report.outcomes.iter().find(|o| o.id == id).unwrap();
        assert_eq!(outcome.status, Status::Fail, "{id}: {outcome:?}");
        assert!(!outcome.detail.is_empty());
    }
    let client = sdk::Client::new(&base).unwrap();
    let err = client.ready().await.unwrap_err();
    assert!(
        matches!(err, sdk::Error::UnexpectedResponse { status: 404 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unreachable_gateway_is_a_setup_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = conformance_tests::run(&format!("http://{addr}"))
        .await
        .unwrap_err();
    assert!(matches!(err, SetupError::Unreachable { .. }), "{err}");
    assert!(matches!(
        conformance_tests::run("ftp://x").await,
        Err(SetupError::BadBaseUrl { .. })
    ));
}
