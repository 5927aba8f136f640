//! Clients whose keys live at a `jwks_uri`: fetched, cached, refetched when
//! the client rotates, refused when unusable.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use eid_core::oidc::{Client, ClientAuth, ClientStore};
use gateway::AppState;
use gateway::state::Clock;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::par::{Dept, base_params, form, keypair, post};
use crate::support::send;

#[derive(Debug)]
struct Settable(Mutex<OffsetDateTime>);

impl Clock for Settable {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// A client assertion dated by the test clock.
fn assertion_at(dept: &Dept, now: OffsetDateTime, jti: &str) -> String {
    let t = now.unix_timestamp();
    eid_core::oidc::jws::sign(
        &dept.key,
        "JWT",
        &json!({"iss": dept.client_id, "sub": dept.client_id, "aud": dept.issuer,
                "iat": t, "exp": t + 60, "jti": jti}),
    )
    .unwrap()
}

/// Serves whatever JSON is in `body` at /jwks.
async fn key_server(body: Arc<Mutex<String>>) -> String {
    let app = Router::new().route(
        "/jwks",
        get(move || {
            let body = body.lock().unwrap().clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/jwks")
}

#[tokio::test]
async fn keys_are_fetched_cached_and_refetched_on_rotation() {
    let db = crate::support::sqlite().await;
    let clock = Arc::new(Settable(Mutex::new(OffsetDateTime::now_utc())));
    let state = AppState::with_parts(
        db.db.clone(),
        db.config.clone(),
        clock.clone(),
        Arc::new(gateway::signin::NoSignIn),
    );
    let app = gateway::app(state.clone());
    let (key_1, jwk_1) = keypair();
    let (key_2, jwk_2) = keypair();
    let served = Arc::new(Mutex::new(json!({"keys": [jwk_1]}).to_string()));
    let jwks_uri = key_server(served.clone()).await;
    // Registered directly: the registry accepts only https jwks_uri values.
    let client = Client {
        client_id: "dept-uri".into(),
        name: "Department".into(),
        redirect_uris: vec!["https://lands.gov.hk/cb".into()],
        post_logout_redirect_uris: vec![],
        scopes: vec!["openid".into(), "profile".into()],
        auth: ClientAuth::PrivateKeyJwtUri { jwks_uri },
        dpop_bound: true,
        enabled: true,
        created_at: state.now(),
    };
    state.db().insert_client(&client).await.unwrap();
    let issuer = state.config().issuer();
    let dept = |key| Dept {
        client_id: "dept-uri".into(),
        key,
        issuer: issuer.clone(),
    };

    let d1 = dept(key_1);
    let a = assertion_at(&d1, clock.now(), "a-1");
    let response = send(&app, post(form(&base_params(&d1, &a)), &[])).await;
    let status = response.status();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        crate::support::json(response).await
    );

    // The department rotates to key 2.
    *served.lock().unwrap() = json!({"keys": [jwk_2]}).to_string();
    let d2 = dept(key_2);
    let a = assertion_at(&d2, clock.now(), "a-2");
    let response = send(&app, post(form(&base_params(&d2, &a)), &[])).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "within a minute the cached set stands"
    );
    *clock.0.lock().unwrap() += Duration::minutes(2);
    let a = assertion_at(&d2, clock.now(), "a-3");
    assert_eq!(
        send(&app, post(form(&base_params(&d2, &a)), &[]))
            .await
            .status(),
        StatusCode::CREATED
    );

    // An unusable key set (private material) refuses the client.
    let mut private = serde_json::to_value(&jwk_2).unwrap();
    private["d"] = json!("AAAA");
    *served.lock().unwrap() = json!({"keys": [private]}).to_string();
    *clock.0.lock().unwrap() += Duration::minutes(10);
    let a = assertion_at(&d2, clock.now(), "a-4");
    assert_eq!(
        send(&app, post(form(&base_params(&d2, &a)), &[]))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    db.finish().await;
}
