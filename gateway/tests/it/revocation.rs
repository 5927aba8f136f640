//! The HTTP CRL source: caching until nextUpdate, time and size limits,
//! HTTP and parse errors, and gathering a chain's distribution points.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use eid_core::cert::{CertError, Certificate, CrlSource, gather};
use gateway::revocation::HttpCrlSource;
use gateway::state::Clock;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DnType, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use time::OffsetDateTime;
use time::macros::datetime;

#[derive(Debug)]
struct SettableClock(Mutex<OffsetDateTime>);

impl Clock for SettableClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// A CA and its CRL (nextUpdate 2026-12-01), as DER.
fn ca_and_crl() -> (rcgen::Certificate, KeyPair, Vec<u8>) {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "CRL test CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.key_identifier_method = KeyIdMethod::Sha256;
    let ca = params.self_signed(&key).unwrap();
    let crl = CertificateRevocationListParams {
        this_update: datetime!(2026-11-01 00:00 UTC),
        next_update: datetime!(2026-12-01 00:00 UTC),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: vec![],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca, &key)
    .unwrap();
    let der = crl.der().to_vec();
    (ca, key, der)
}

/// Serves the CRL and some broken variants; counts hits on `/crl`.
async fn server(crl: Vec<u8>) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let big = vec![0x30u8; eid_core::cert::MAX_CRL_SIZE + 1];
    let app = Router::new()
        .route(
            "/crl",
            get(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                let crl = crl.clone();
                async move { crl }
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
        .route(
            "/big",
            get(move || {
                let big = big.clone();
                async move { big }
            }),
        )
        .route("/garbage", get(|| async { "not a CRL" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn crls_are_cached_until_next_update() {
    let (_, _, der) = ca_and_crl();
    let (base, hits) = server(der).await;
    let clock = Arc::new(SettableClock(Mutex::new(datetime!(2026-11-28 08:00 UTC))));
    let source = HttpCrlSource::new(Duration::from_secs(2), clock.clone()).unwrap();
    let url = format!("{base}/crl");
    let first = source.fetch(&url).await.unwrap();
    let second = source.fetch(&url).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the second fetch is served from the cache"
    );
    *clock.0.lock().unwrap() = datetime!(2026-12-01 00:00:01 UTC);
    source.fetch(&url).await.unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "past nextUpdate the CRL is fetched again"
    );
}

#[tokio::test]
async fn failures_are_errors_not_hangs() {
    let (_, _, der) = ca_and_crl();
    let (base, _) = server(der).await;
    let clock = Arc::new(gateway::state::FixedClock(datetime!(2026-11-28 08:00 UTC)));
    let source = HttpCrlSource::new(Duration::from_millis(300), clock).unwrap();

    let started = std::time::Instant::now();
    let err = source.fetch(&format!("{base}/slow")).await.unwrap_err();
    assert!(matches!(err, CertError::RevocationFetch { .. }), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout holds"
    );

    let err = source.fetch(&format!("{base}/big")).await.unwrap_err();
    assert!(matches!(err, CertError::TooLarge { .. }), "{err}");
    let err = source.fetch(&format!("{base}/missing")).await.unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    let err = source.fetch(&format!("{base}/garbage")).await.unwrap_err();
    assert!(matches!(err, CertError::Malformed { .. }), "{err}");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = listener.local_addr().unwrap();
    drop(listener);
    let err = source
        .fetch(&format!("http://{closed}/crl"))
        .await
        .unwrap_err();
    assert!(matches!(err, CertError::RevocationFetch { .. }), "{err}");
}

#[tokio::test]
async fn gather_fetches_each_http_distribution_point_once() {
    let (ca, ca_key, der) = ca_and_crl();
    let (base, hits) = server(der).await;
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "citizen");
    // rcgen 0.13 writes no extensions at all unless one of a few fields
    // (the AKI among them) asks for them; the CRL distribution points alone
    // would be dropped.
    params.use_authority_key_identifier_extension = true;
    params.crl_distribution_points = vec![
        CrlDistributionPoint {
            uris: vec![
                format!("{base}/crl"),
                "ldap://directory.example/cn=crl".to_owned(),
            ],
        },
        CrlDistributionPoint {
            uris: vec![format!("{base}/crl"), format!("{base}/missing")],
        },
    ];
    let leaf = params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let leaf = Certificate::from_der(leaf.der()).unwrap();
    let clock = Arc::new(gateway::state::FixedClock(datetime!(2026-11-28 08:00 UTC)));
    let source = HttpCrlSource::new(Duration::from_secs(2), clock).unwrap();
    let gathered = gather(&source, &leaf, &[], 16).await;
    assert_eq!(gathered.revocation.crls.len(), 1, "{:?}", gathered.failures);
    assert_eq!(gathered.failures.len(), 1, "{:?}", gathered.failures);
    assert!(gathered.failures[0].0.ends_with("/missing"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "duplicates and ldap URLs are skipped"
    );
    let limited = gather(&source, &leaf, &[], 0).await;
    assert!(limited.revocation.crls.is_empty() && limited.failures.is_empty());
}
