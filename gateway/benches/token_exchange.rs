//! Authorization-code-to-token exchanges per second against the gateway on
//! loopback: PAR + PKCE + private_key_jwt + DPoP, on SQLite and (with
//! `TEST_DATABASE_URL`) on PostgreSQL.
//!
//! `cargo bench -p gateway --bench token_exchange`
//!
//! The service runs in this process on its own Tokio runtime, served by
//! `gateway::server::serve` on 127.0.0.1 (real TCP, HTTP/1.1 keep-alive). A
//! test session source stands in for citizen sign-in. Codes are obtained
//! beforehand (PAR and authorize are not measured), and every token request
//! (its client assertion and DPoP proof, each signed ES256) is built before
//! the clock starts, so the load generator spends no signing time during
//! the measurement. Then `CONCURRENCY` connections send the exchanges.
//! Afterwards the cost of the cryptographic steps of one exchange is
//! measured on its own, in process.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use eid_core::Secret;
use eid_core::oidc::grant::Authentication;
use eid_core::oidc::keys::{KeyEncryptionKey, SigningKey, generate, unseal};
use eid_core::oidc::{Alg, Jwk, jws};
use gateway::config::Config;
use gateway::oidc::registry::{AuthChoice, Registration, register};
use gateway::signin::{BoxFuture, SessionSource};
use gateway::{AppState, Db};
use serde_json::json;
use time::OffsetDateTime;

const CONCURRENCY: usize = 32;
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

#[derive(Debug)]
struct SignedIn;

impl SessionSource for SignedIn {
    fn current<'a>(&'a self, _: &'a HeaderMap) -> BoxFuture<'a, Option<Authentication>> {
        Box::pin(async {
            Some(Authentication {
                citizen_id: "citizen-1".into(),
                auth_time: OffsetDateTime::now_utc(),
                acr: "urn:eid-gateway:loa:low".into(),
                amr: vec!["hwk".into()],
                session_id: "sid".into(),
            })
        })
    }
}

fn keypair() -> (SigningKey, Jwk) {
    let kek = KeyEncryptionKey::from_bytes(&[2u8; 32]).unwrap();
    let now = OffsetDateTime::now_utc();
    let stored = generate(Alg::Es256, &kek, now, now).unwrap();
    (unseal(&stored, &kek).unwrap(), stored.public_jwk)
}

fn assertion(key: &SigningKey, client_id: &str, aud: &str, jti: &str) -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    jws::sign(
        key,
        "JWT",
        &json!({"iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + 240, "jti": jti}),
    )
    .unwrap()
}

fn proof(key: &SigningKey, jwk: &Jwk, htu: &str, jti: &str) -> String {
    jws::sign_with_header(
        key,
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
        &json!({"jti": jti, "htm": "POST", "htu": htu, "iat": OffsetDateTime::now_utc().unix_timestamp()}),
    )
    .unwrap()
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn database(url: &str) -> (Db, Config) {
    let mut config = Config::default();
    config.database.url = url.to_owned();
    config.database.max_connections = 16;
    let db = Db::connect(&config.database).await.unwrap();
    db.migrate().await.unwrap();
    (db, config)
}

fn run_backend(name: &str, url: String, exchanges: usize) {
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("gw-server")
        .enable_all()
        .build()
        .unwrap();
    let (db, mut config) = server_rt.block_on(database(&url));
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    config.http.public_url = Some(format!("http://{addr}"));
    config.keys.encryption_key = Some(Secret::new(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
    ));
    config.oidc.pairwise_secret = Some(Secret::new(
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
    ));
    let issuer = config.issuer();
    let state = AppState::with_parts(
        db,
        config,
        Arc::new(gateway::state::SystemClock),
        Arc::new(SignedIn),
    );
    let kek = KeyEncryptionKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
    let (dept_key, dept_jwk) = keypair();
    let client_id = server_rt.block_on(async {
        gateway::oidc::keyring::ensure_key(state.db(), &kek, Alg::Es256, state.now())
            .await
            .unwrap();
        register(
            state.db(),
            Registration {
                name: "Bench Department".into(),
                redirect_uris: vec!["https://bench.gov.hk/cb".into()],
                post_logout_redirect_uris: vec![],
                scopes: vec![],
                auth: AuthChoice::Jwks(serde_json::to_vec(&json!({"keys": [dept_jwk]})).unwrap()),
                dpop_bound: true,
            },
            state.now(),
        )
        .await
        .unwrap()
        .client
        .client_id
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = gateway::app(state.clone());
    let server = server_rt.spawn(gateway::server::serve(
        listener,
        app,
        None,
        async move {
            let _ = stopped.await;
        },
        Duration::from_secs(5),
    ));

    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    let (dpop_key, dpop_jwk) = keypair();

    // Codes, beforehand: PAR + authorize.
    let started = Instant::now();
    let codes: Vec<String> = client_rt.block_on(async {
        let mut codes = Vec::with_capacity(exchanges);
        for i in 0..exchanges {
            let a = assertion(&dept_key, &client_id, &issuer, &format!("par-{i}"));
            let body = form(&[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", "https://bench.gov.hk/cb"),
                ("scope", "openid"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &a),
            ]);
            let r: serde_json::Value = http
                .post(format!("{base}/par"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let request_uri = r["request_uri"].as_str().unwrap().to_owned();
            let q = form(&[("client_id", &client_id), ("request_uri", &request_uri)]);
            let response = http
                .get(format!("{base}/authorize?{q}"))
                .send()
                .await
                .unwrap();
            let location = response.headers()["location"].to_str().unwrap().to_owned();
            let code = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
                .find(|(k, _)| k == "code")
                .unwrap()
                .1
                .into_owned();
            codes.push(code);
        }
        codes
    });
    let prepare = started.elapsed();

    // Every request built before the clock starts.
    let token_url = format!("{base}/token");
    let requests: Vec<(String, String)> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            let a = assertion(&dept_key, &client_id, &issuer, &format!("tok-{i}"));
            let body = form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", "https://bench.gov.hk/cb"),
                ("code_verifier", VERIFIER),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &a),
            ]);
            (
                body,
                proof(
                    &dpop_key,
                    &dpop_jwk,
                    &format!("{issuer}/token"),
                    &format!("dp-{i}"),
                ),
            )
        })
        .collect();

    let cpu_before = server_cpu_seconds();
    let latencies = client_rt.block_on(async {
        let queue = Arc::new(std::sync::Mutex::new(requests));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..CONCURRENCY {
            let queue = queue.clone();
            let http = http.clone();
            let token_url = token_url.clone();
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((body, dpop)) = next else { break };
                    let t = Instant::now();
                    let response = http
                        .post(&token_url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .header("dpop", dpop)
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
                    let _ = response.bytes().await;
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for w in workers {
            all.extend(w.await.unwrap());
        }
        (started.elapsed(), all)
    });
    let (elapsed, mut lat) = latencies;
    let server_cpu = server_cpu_seconds() - cpu_before;
    lat.sort();
    let rate = exchanges as f64 / elapsed.as_secs_f64();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "{name}: {exchanges} exchanges in {:.2} s = {rate:.0}/s ({:.0}/s per core, {cores} cores shared with the load generator); \
         gateway threads used {server_cpu:.2} CPU-s = {:.0} exchanges per gateway CPU-second; \
         latency p50 {:.1} ms, p99 {:.1} ms, concurrency {CONCURRENCY} (codes prepared in {:.1} s)",
        elapsed.as_secs_f64(),
        rate / cores as f64,
        exchanges as f64 / server_cpu.max(1e-9),
        lat[lat.len() / 2].as_secs_f64() * 1e3,
        lat[lat.len() * 99 / 100].as_secs_f64() * 1e3,
        prepare.as_secs_f64(),
    );
    let _ = stop.send(());
    server_rt.block_on(server).unwrap();
}

/// CPU time (user + system) of the gateway's threads in this process: the
/// server runtime's workers (`gw-server*`) and the SQLite driver's
/// connection threads (`sqlx*`). The load generator runs on the main thread
/// and is not counted; neither is the PostgreSQL server, a process of its own.
fn server_cpu_seconds() -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let mut total = 0u64;
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !(comm.starts_with("gw-server") || comm.starts_with("sqlx")) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        // After the ")" that ends the command name: utime is field 12, stime 13.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = fields.get(11).and_then(|f| f.parse().ok()).unwrap_or(0);
            let stime: u64 = fields.get(12).and_then(|f| f.parse().ok()).unwrap_or(0);
            total += utime + stime;
        }
    }
    total as f64 / ticks
}

/// The cryptographic steps of one exchange, on their own.
fn crypto_costs() {
    let (key, jwk) = keypair();
    let client = eid_core::oidc::Client {
        client_id: "c".into(),
        name: "c".into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        scopes: vec![],
        auth: eid_core::oidc::ClientAuth::PrivateKeyJwt {
            jwks: eid_core::oidc::Jwks {
                keys: vec![jwk.clone()],
            },
        },
        dpop_bound: true,
        enabled: true,
        created_at: OffsetDateTime::now_utc(),
    };
    let n = 2000;
    let a = assertion(&key, "c", "https://i", "j");
    let t = Instant::now();
    for _ in 0..n {
        eid_core::oidc::client_auth::verify_assertion(
            &a,
            &client,
            "https://i",
            "https://i/token",
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    }
    let assertion_cost = t.elapsed() / n;
    let p = proof(&key, &jwk, "https://i/token", "x");
    let ctx = eid_core::oidc::dpop::ProofContext {
        method: "POST",
        url: "https://i/token",
        access_token: None,
        nonce: None,
    };
    let t = Instant::now();
    for _ in 0..n {
        eid_core::oidc::dpop::verify_proof(&p, &ctx, OffsetDateTime::now_utc()).unwrap();
    }
    let dpop_cost = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        jws::sign(
            &key,
            "JWT",
            &json!({"iss": "https://i", "sub": "s", "aud": "c"}),
        )
        .unwrap();
    }
    let sign_cost = t.elapsed() / n;
    let kek = KeyEncryptionKey::from_bytes(&[2u8; 32]).unwrap();
    let now = OffsetDateTime::now_utc();
    let stored = generate(Alg::Es256, &kek, now, now).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        unseal(&stored, &kek).unwrap();
    }
    let unseal_cost = t.elapsed() / n;
    println!(
        "per exchange, in process: client assertion verify {:.1} µs, DPoP proof verify {:.1} µs, \
         ID token sign {:.1} µs, signing key unseal {:.1} µs; total crypto {:.1} µs",
        assertion_cost.as_secs_f64() * 1e6,
        dpop_cost.as_secs_f64() * 1e6,
        sign_cost.as_secs_f64() * 1e6,
        unseal_cost.as_secs_f64() * 1e6,
        (assertion_cost + dpop_cost + sign_cost + unseal_cost).as_secs_f64() * 1e6,
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let exchanges = if quick { 20 } else { 3000 };
    let dir = tempfile::tempdir().unwrap();
    run_backend(
        "SQLite",
        format!("sqlite://{}", dir.path().join("bench.db").display()),
        exchanges,
    );
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            // A fresh schema of its own, dropped afterwards.
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let schema = format!("gwbench_{}", uuid::Uuid::new_v4().simple());
            rt.block_on(async {
                let admin = sqlx::PgPool::connect(&url).await.unwrap();
                sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                    .execute(&admin)
                    .await
                    .unwrap();
            });
            let sep = if url.contains('?') { '&' } else { '?' };
            run_backend(
                "PostgreSQL",
                format!("{url}{sep}options=-c%20search_path%3D{schema}"),
                exchanges,
            );
            rt.block_on(async {
                let admin = sqlx::PgPool::connect(&url).await.unwrap();
                sqlx::query(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
                    .execute(&admin)
                    .await
                    .unwrap();
            });
        }
        _ => println!("PostgreSQL: skipped, TEST_DATABASE_URL is unset"),
    }
    crypto_costs();
}
