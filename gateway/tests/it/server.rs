//! The server loop: graceful shutdown with requests in flight, the grace
//! limit, and TLS termination.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use gateway::config::TlsConfig;
use gateway::server::{TlsSetupError, load_tls, serve};
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A router whose `/slow` handler signals when it starts, then takes `delay`.
fn slow_router(started: Arc<Notify>, delay: Duration) -> Router {
    Router::new().route(
        "/slow",
        get(move || {
            let started = started.clone();
            async move {
                started.notify_one();
                tokio::time::sleep(delay).await;
                "finished"
            }
        }),
    )
}

#[tokio::test]
async fn in_flight_requests_finish_after_shutdown_starts() {
    let (listener, addr) = listener().await;
    let started = Arc::new(Notify::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        slow_router(started.clone(), Duration::from_millis(400)),
        None,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(10),
    ));
    let request = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    started.notified().await;
    stop.send(()).unwrap();

    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops once the request is done")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn grace_period_bounds_shutdown() {
    let (listener, addr) = listener().await;
    let started = Arc::new(Notify::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        slow_router(started.clone(), Duration::from_secs(600)),
        None,
        async move {
            let _ = stopped.await;
        },
        Duration::from_millis(300),
    ));
    let _request = tokio::spawn(reqwest::get(format!("http://{addr}/slow")));
    started.notified().await;
    let begun = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("a stuck request does not hold shutdown beyond the grace period")
        .unwrap();
    assert!(begun.elapsed() >= Duration::from_millis(300));
}

/// A self-signed certificate for `localhost`, written as PEM files.
fn tls_files(dir: &std::path::Path) -> (TlsConfig, rcgen::CertifiedKey) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_file = dir.join("cert.pem");
    let key_file = dir.join("key.pem");
    std::fs::write(&cert_file, certified.cert.pem()).unwrap();
    std::fs::write(&key_file, certified.key_pair.serialize_pem()).unwrap();
    (
        TlsConfig {
            cert_file,
            key_file,
        },
        certified,
    )
}

#[tokio::test]
async fn tls_listener_serves_the_app_with_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let (tls, certified) = tls_files(dir.path());
    let test_db = crate::support::sqlite().await;
    let mut config = test_db.config.clone();
    config.tls = Some(tls.clone());
    let app = gateway::app(gateway::AppState::new(test_db.db.clone(), config));

    let (listener, addr) = listener().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(
        listener,
        app,
        Some(load_tls(&tls).unwrap()),
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap(),
        )
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/healthz", addr.port());
    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );

    // Plain HTTP on the TLS port is refused without disturbing the server.
    let plain = reqwest::get(format!("http://{addr}/healthz")).await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);
    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);

    stop.send(()).unwrap();
    server.await.unwrap();
    test_db.finish().await;
}

#[test]
fn tls_setup_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (good, _) = tls_files(dir.path());

    let missing = TlsConfig {
        cert_file: dir.path().join("absent.pem"),
        key_file: good.key_file.clone(),
    };
    let err = load_tls(&missing).unwrap_err();
    assert!(matches!(err, TlsSetupError::Certificate { .. }), "{err}");
    assert!(err.to_string().contains("absent.pem"));

    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a pem file").unwrap();
    let err = load_tls(&TlsConfig {
        cert_file: garbage.clone(),
        key_file: good.key_file.clone(),
    })
    .unwrap_err();
    assert!(matches!(err, TlsSetupError::Certificate { .. }), "{err}");
    let err = load_tls(&TlsConfig {
        cert_file: good.cert_file.clone(),
        key_file: garbage,
    })
    .unwrap_err();
    assert!(matches!(err, TlsSetupError::Key { .. }), "{err}");

    // A key that does not belong to the certificate.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let (stranger, _) = tls_files(&other);
    let err = load_tls(&TlsConfig {
        cert_file: good.cert_file,
        key_file: stranger.key_file,
    })
    .unwrap_err();
    assert!(matches!(err, TlsSetupError::Rustls(_)), "{err}");
}
