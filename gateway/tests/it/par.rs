//! `POST /par` through `app.oneshot`: client authentication, DPoP binding,
//! the FAPI 2.0 negative cases, and that a refused request stores nothing.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use eid_core::oidc::authz::ParStore;
use eid_core::oidc::keys::{KeyEncryptionKey, SigningKey, generate, unseal};
use eid_core::oidc::{Alg, Jwk, jws};
use gateway::oidc::registry::{AuthChoice, Registration, register};
use gateway::{AppState, Db};
use serde_json::json;
use time::OffsetDateTime;

use crate::support::{app, json as body_json, send};

pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct Dept {
    pub client_id: String,
    pub key: SigningKey,
    pub issuer: String,
}

pub fn keypair() -> (SigningKey, Jwk) {
    let kek = KeyEncryptionKey::from_bytes(&[4u8; 32]).unwrap();
    let now = OffsetDateTime::now_utc();
    let stored = generate(Alg::Es256, &kek, now, now).unwrap();
    (unseal(&stored, &kek).unwrap(), stored.public_jwk)
}

pub async fn department(state: &AppState) -> Dept {
    let (key, public) = keypair();
    let registered = register(
        state.db(),
        Registration {
            name: "Lands Department".into(),
            redirect_uris: vec!["https://lands.gov.hk/cb".into()],
            post_logout_redirect_uris: vec!["https://lands.gov.hk/bye".into()],
            scopes: vec!["openid".into(), "profile".into()],
            auth: AuthChoice::Jwks(serde_json::to_vec(&json!({"keys": [public]})).unwrap()),
            dpop_bound: true,
        },
        state.now(),
    )
    .await
    .unwrap();
    Dept {
        client_id: registered.client.client_id,
        key,
        issuer: state.config().issuer(),
    }
}

pub fn assertion(dept: &Dept, aud: &str, jti: &str) -> String {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    jws::sign(
        &dept.key,
        "JWT",
        &json!({"iss": dept.client_id, "sub": dept.client_id, "aud": aud,
                "iat": now, "exp": now + 60, "jti": jti}),
    )
    .unwrap()
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub fn base_params<'a>(dept: &'a Dept, assertion: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", dept.client_id.as_str()),
        ("redirect_uri", "https://lands.gov.hk/cb"),
        ("scope", "openid profile"),
        ("state", "st"),
        ("nonce", "nn"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ]
}

pub fn post(body: String, extra: &[(&str, String)]) -> Request<Body> {
    let mut builder =
        Request::post("/par").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in extra {
        builder = builder.header(*name, value);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn par_rows(db: &Db) -> i64 {
    let Db::Sqlite(pool) = db else { unreachable!() };
    sqlx::query_scalar("SELECT COUNT(*) FROM par_requests")
        .fetch_one(pool)
        .await
        .unwrap()
}

pub async fn assert_oauth_error(
    response: axum::http::Response<Body>,
    status: StatusCode,
    code: &str,
) {
    assert_eq!(response.status(), status);
    let body = body_json(response).await;
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

pub fn dpop(key: &SigningKey, jwk: &Jwk, htu: &str, jti: &str) -> String {
    jws::sign_with_header(
        key,
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
        &json!({"jti": jti, "htm": "POST", "htu": htu, "iat": OffsetDateTime::now_utc().unix_timestamp()}),
    )
    .unwrap()
}

#[tokio::test]
async fn a_pushed_request_yields_a_single_use_request_uri() {
    let (app, state, db) = app().await;
    let dept = department(&state).await;
    let a = assertion(&dept, &dept.issuer, "a-1");
    let response = send(&app, post(form(&base_params(&dept, &a)), &[])).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body = body_json(response).await;
    let request_uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(body["expires_in"], 60);

    let now = OffsetDateTime::now_utc();
    assert!(
        state
            .db()
            .take_par(&request_uri, "another-client", now)
            .await
            .unwrap()
            .is_none()
    );
    let taken = state
        .db()
        .take_par(&request_uri, &dept.client_id, now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.redirect_uri, "https://lands.gov.hk/cb");
    assert_eq!(taken.state.as_deref(), Some("st"));
    assert!(
        state
            .db()
            .take_par(&request_uri, &dept.client_id, now)
            .await
            .unwrap()
            .is_none(),
        "single use"
    );
    db.finish().await;
}

#[tokio::test]
async fn client_authentication_failures_are_invalid_client_and_store_nothing() {
    let (app, state, db) = app().await;
    let dept = department(&state).await;

    let used = assertion(&dept, &dept.issuer, "a-replayed");
    assert_eq!(
        send(&app, post(form(&base_params(&dept, &used)), &[]))
            .await
            .status(),
        StatusCode::CREATED
    );
    let before = par_rows(state.db()).await;
    let replay = send(&app, post(form(&base_params(&dept, &used)), &[])).await;
    assert_oauth_error(replay, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let wrong_aud = assertion(&dept, "https://elsewhere.example", "a-aud");
    let response = send(&app, post(form(&base_params(&dept, &wrong_aud)), &[])).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let (stranger, _) = keypair();
    let foreign = Dept {
        key: stranger,
        client_id: dept.client_id.clone(),
        issuer: dept.issuer.clone(),
    };
    let forged = assertion(&foreign, &dept.issuer, "a-forged");
    let response = send(&app, post(form(&base_params(&dept, &forged)), &[])).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let mut params = base_params(&dept, "");
    params.retain(|(k, _)| !k.starts_with("client_assertion"));
    let response = send(&app, post(form(&params), &[])).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;

    assert_eq!(
        par_rows(state.db()).await,
        before,
        "refused requests store nothing"
    );
    db.finish().await;
}

#[tokio::test]
async fn request_errors_are_invalid_request() {
    let (app, state, db) = app().await;
    let dept = department(&state).await;
    let cases: Vec<(&str, &str, &str)> = vec![
        ("code_challenge_method", "plain", "invalid_request"),
        ("redirect_uri", "https://evil.example/cb", "invalid_request"),
        ("response_type", "token", "unsupported_response_type"),
        ("scope", "profile", "invalid_scope"),
        (
            "request",
            "eyJhbGciOiJub25lIn0.e30.",
            "request_not_supported",
        ),
    ];
    for (i, (name, value, code)) in cases.into_iter().enumerate() {
        let a = assertion(&dept, &dept.issuer, &format!("a-{i}"));
        let mut params = base_params(&dept, &a);
        params.retain(|(k, _)| *k != name);
        params.push((name, value));
        let response = send(&app, post(form(&params), &[])).await;
        assert_oauth_error(response, StatusCode::BAD_REQUEST, code).await;
    }
    // Missing PKCE altogether.
    let a = assertion(&dept, &dept.issuer, "a-nopkce");
    let mut params = base_params(&dept, &a);
    params.retain(|(k, _)| !k.starts_with("code_challenge"));
    assert_oauth_error(
        send(&app, post(form(&params), &[])).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // Repeated parameter.
    let a = assertion(&dept, &dept.issuer, "a-repeat");
    let mut params = base_params(&dept, &a);
    params.push(("scope", "openid"));
    assert_oauth_error(
        send(&app, post(form(&params), &[])).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // Not a form.
    let request = Request::post("/par")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{}"))
        .unwrap();
    assert_oauth_error(
        send(&app, request).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    // Wrong method.
    let response = send(&app, Request::get("/par").body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(par_rows(state.db()).await, 0);
    db.finish().await;
}

#[tokio::test]
async fn dpop_proofs_bind_the_request_and_are_checked() {
    let (app, state, db) = app().await;
    let dept = department(&state).await;
    let (dpop_key, dpop_jwk) = keypair();
    let htu = format!("{}/par", dept.issuer);

    let a = assertion(&dept, &dept.issuer, "a-dpop");
    let proof = dpop(&dpop_key, &dpop_jwk, &htu, "d-1");
    let response = send(
        &app,
        post(form(&base_params(&dept, &a)), &[("dpop", proof.clone())]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let request_uri = body_json(response).await["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let taken = state
        .db()
        .take_par(&request_uri, &dept.client_id, OffsetDateTime::now_utc())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.dpop_jkt, Some(dpop_jwk.thumbprint()));

    let a = assertion(&dept, &dept.issuer, "a-dpop-replay");
    let response = send(
        &app,
        post(form(&base_params(&dept, &a)), &[("dpop", proof)]),
    )
    .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_dpop_proof").await;

    let a = assertion(&dept, &dept.issuer, "a-dpop-htu");
    let wrong = dpop(
        &dpop_key,
        &dpop_jwk,
        &format!("{}/token", dept.issuer),
        "d-2",
    );
    let response = send(
        &app,
        post(form(&base_params(&dept, &a)), &[("dpop", wrong)]),
    )
    .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_dpop_proof").await;

    let a = assertion(&dept, &dept.issuer, "a-dpop-jkt");
    let mut params = base_params(&dept, &a);
    let other = "x".repeat(43);
    params.push(("dpop_jkt", other.as_str()));
    let proof = dpop(&dpop_key, &dpop_jwk, &htu, "d-3");
    let response = send(&app, post(form(&params), &[("dpop", proof)])).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_dpop_proof").await;
    db.finish().await;
}

#[tokio::test]
async fn secret_clients_use_basic_authentication() {
    let (app, state, db) = app().await;
    let registered = register(
        state.db(),
        Registration {
            name: "Water Supplies".into(),
            redirect_uris: vec!["https://wsd.gov.hk/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec![],
            auth: AuthChoice::Secret,
            dpop_bound: false,
        },
        state.now(),
    )
    .await
    .unwrap();
    let id = registered.client.client_id.clone();
    let secret = registered.secret.unwrap().expose().clone();
    let params = form(&[
        ("response_type", "code"),
        ("redirect_uri", "https://wsd.gov.hk/cb"),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]);
    let basic = |s: &str| format!("Basic {}", STANDARD.encode(format!("{id}:{s}")));
    let response = send(
        &app,
        post(params.clone(), &[("authorization", basic(&secret))]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let response = send(
        &app,
        post(params.clone(), &[("authorization", basic("wrong"))]),
    )
    .await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let response = send(
        &app,
        post(params, &[("authorization", "Bearer x".to_owned())]),
    )
    .await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
    db.finish().await;
}
