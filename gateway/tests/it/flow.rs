//! The authorization code flow end to end through `app.oneshot`: PAR,
//! authorize (a citizen signed in through the test session source), token
//! with DPoP, userinfo; and the FAPI 2.0 / Basic OP negative cases.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use eid_core::Secret;
use eid_core::oidc::grant::Authentication;
use eid_core::oidc::keys::SigningKey;
use eid_core::oidc::{Alg, Jwk, KeyEncryptionKey, jws};
use gateway::signin::{BoxFuture, SessionSource};
use gateway::{AppState, state::SystemClock};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::par::{Dept, assertion, base_params, department, dpop, form, keypair, post};
use crate::support::{get, json as body_json, send};

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

#[derive(Debug)]
struct SignedIn(Option<Authentication>, std::sync::atomic::AtomicUsize);

impl SessionSource for SignedIn {
    fn current<'a>(&'a self, _headers: &'a HeaderMap) -> BoxFuture<'a, Option<Authentication>> {
        Box::pin(async { self.0.clone() })
    }

    fn end<'a>(&'a self, _headers: &'a HeaderMap) -> BoxFuture<'a, ()> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async {})
    }
}

fn citizen() -> Authentication {
    Authentication {
        citizen_id: "citizen-42".into(),
        auth_time: OffsetDateTime::now_utc(),
        acr: "urn:eid-gateway:loa:substantial".into(),
        amr: vec!["hwk".into()],
        session_id: "sid-1".into(),
    }
}

pub struct Setup {
    pub app: axum::Router,
    pub state: AppState,
    pub db: crate::support::TestDb,
}

/// An app with keys, a pairwise secret and a signed-in citizen.
pub async fn setup_signed_in() -> Setup {
    let Some(s) = setup_on(Backend::Sqlite, Some(citizen())).await else {
        unreachable!("SQLite is always there")
    };
    s
}

/// Which database a case runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// `None` when the backend is PostgreSQL and no server is configured (the
/// reason is printed by `support::postgres`).
async fn setup_on(backend: Backend, signed_in: Option<Authentication>) -> Option<Setup> {
    setup_with(backend, signed_in, |_| {}).await
}

/// Like `setup_on`, with a chance to change the configuration.
async fn setup_with(
    backend: Backend,
    signed_in: Option<Authentication>,
    change: impl FnOnce(&mut gateway::Config),
) -> Option<Setup> {
    let sessions: Arc<dyn SessionSource> = Arc::new(SignedIn(signed_in, Default::default()));
    setup_sessions(backend, Some(sessions), change).await
}

/// An app whose sessions are the database's (real sign-in), at a
/// `localhost` issuer so that passkeys work.
pub async fn setup_db_sessions(backend: Backend) -> Option<Setup> {
    setup_db_sessions_at(backend, "http://localhost:8080").await
}

/// Like `setup_db_sessions`, at the issuer `public_url`.
pub async fn setup_db_sessions_at(backend: Backend, public_url: &str) -> Option<Setup> {
    let public_url = public_url.to_owned();
    setup_sessions(backend, None, move |c| c.http.public_url = Some(public_url)).await
}

/// The database's sessions, with other settings changed by `change`.
pub async fn setup_db_sessions_with(
    backend: Backend,
    change: impl FnOnce(&mut gateway::Config),
) -> Option<Setup> {
    setup_sessions(backend, None, change).await
}

/// Redeems `code` (DPoP-bound) and returns the token response.
pub async fn redeem(s: &Setup, dept: &Dept, code: &str) -> Value {
    let (dpop_key, dpop_jwk) = keypair();
    let proof = dpop(
        &dpop_key,
        &dpop_jwk,
        &format!("{}/token", dept.issuer),
        "dp-redeem",
    );
    let response = send(
        &s.app,
        token_request(dept, code, VERIFIER, "t-redeem", Some(proof)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json(response).await
}

/// The claims of the ID token in `tokens`, verified with the published keys.
pub async fn id_token_claims(s: &Setup, tokens: &Value) -> Value {
    let jwks = body_json(send(&s.app, get("/jwks")).await).await;
    let id_token = jws::parse(tokens["id_token"].as_str().unwrap()).unwrap();
    let kid = id_token.header_str("kid").unwrap();
    let key: Jwk = serde_json::from_value(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == kid)
            .unwrap()
            .clone(),
    )
    .unwrap();
    Value::Object(id_token.verify(&key).unwrap())
}

/// `sessions` absent: the database's sessions.
async fn setup_sessions(
    backend: Backend,
    sessions: Option<Arc<dyn SessionSource>>,
    change: impl FnOnce(&mut gateway::Config),
) -> Option<Setup> {
    let db = match backend {
        Backend::Sqlite => crate::support::sqlite().await,
        Backend::Postgres => crate::support::postgres().await?,
    };
    let mut config = db.config.clone();
    config.keys.encryption_key = Some(Secret::new(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
    ));
    config.oidc.pairwise_secret = Some(Secret::new(
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
    ));
    change(&mut config);
    let state = match sessions {
        Some(sessions) => {
            AppState::with_parts(db.db.clone(), config, Arc::new(SystemClock), sessions)
        }
        None => AppState::with_clock(db.db.clone(), config, Arc::new(SystemClock)),
    };
    let kek = KeyEncryptionKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
    gateway::oidc::keyring::ensure_key(state.db(), &kek, Alg::Es256, state.now())
        .await
        .unwrap();
    Some(Setup {
        app: gateway::app(state.clone()),
        state,
        db,
    })
}

/// Pushes a request (optionally with extra parameters) and returns the request_uri.
pub async fn push(s: &Setup, dept: &Dept, jti: &str, extra: &[(&str, &str)]) -> String {
    let a = assertion(dept, &dept.issuer, jti);
    let mut params = base_params(dept, &a);
    params.extend_from_slice(extra);
    let response = send(&s.app, post(form(&params), &[])).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body_json(response).await["request_uri"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Follows `/authorize` and returns the redirect's query parameters.
async fn authorize(
    s: &Setup,
    dept: &Dept,
    request_uri: &str,
) -> (StatusCode, Vec<(String, String)>) {
    let query = form(&[
        ("client_id", dept.client_id.as_str()),
        ("request_uri", request_uri),
    ]);
    let response = send(&s.app, get(&format!("/authorize?{query}"))).await;
    let status = response.status();
    let params = response
        .headers()
        .get(header::LOCATION)
        .map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.starts_with("https://lands.gov.hk/cb?"), "{l}");
            form_urlencoded::parse(l.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    (status, params)
}

pub fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn code_for(s: &Setup, dept: &Dept, jti: &str) -> String {
    let request_uri = push(s, dept, jti, &[]).await;
    let (status, params) = authorize(s, dept, &request_uri).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    param(&params, "code").unwrap().to_owned()
}

pub fn token_request(
    dept: &Dept,
    code: &str,
    verifier: &str,
    jti: &str,
    dpop_proof: Option<String>,
) -> Request<Body> {
    let a = assertion(dept, &dept.issuer, jti);
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", "https://lands.gov.hk/cb"),
        ("code_verifier", verifier),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", &a),
    ]);
    let mut builder =
        Request::post("/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(p) = dpop_proof {
        builder = builder.header("dpop", p);
    }
    builder.body(Body::from(body)).unwrap()
}

fn userinfo_proof(key: &SigningKey, jwk: &Jwk, issuer: &str, token: &str, jti: &str) -> String {
    jws::sign_with_header(
        key,
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
        &json!({"jti": jti, "htm": "GET", "htu": format!("{issuer}/userinfo"),
                "iat": OffsetDateTime::now_utc().unix_timestamp(),
                "ath": eid_core::oidc::dpop::access_token_hash(token)}),
    )
    .unwrap()
}

async fn userinfo(
    s: &Setup,
    token: &str,
    proof: Option<String>,
    scheme: &str,
) -> (StatusCode, Value) {
    let mut builder =
        Request::get("/userinfo").header(header::AUTHORIZATION, format!("{scheme} {token}"));
    if let Some(p) = proof {
        builder = builder.header("dpop", p);
    }
    let response = send(&s.app, builder.body(Body::empty()).unwrap()).await;
    (response.status(), body_json(response).await)
}

async fn the_full_flow_issues_a_verifiable_id_token_and_dpop_bound_access(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let request_uri = push(&s, &dept, "p-1", &[]).await;
    let (status, params) = authorize(&s, &dept, &request_uri).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(param(&params, "state"), Some("st"));
    assert_eq!(
        param(&params, "iss"),
        Some(dept.issuer.as_str()),
        "RFC 9207"
    );
    let code = param(&params, "code").unwrap();

    let (dpop_key, dpop_jwk) = keypair();
    let proof = dpop(
        &dpop_key,
        &dpop_jwk,
        &format!("{}/token", dept.issuer),
        "dp-1",
    );
    let response = send(
        &s.app,
        token_request(&dept, code, VERIFIER, "t-1", Some(proof)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let tokens = body_json(response).await;
    assert_eq!(tokens["token_type"], "DPoP");
    assert_eq!(tokens["scope"], "openid profile");
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    // The ID token verifies with the published key set.
    let claims = id_token_claims(&s, &tokens).await;
    assert_eq!(claims["iss"], dept.issuer.as_str());
    assert_eq!(claims["aud"], dept.client_id.as_str());
    assert_eq!(claims["nonce"], "nn");
    assert_eq!(claims["acr"], "urn:eid-gateway:loa:substantial");
    assert_eq!(claims["amr"], json!(["hwk"]));
    let sub = claims["sub"].as_str().unwrap().to_owned();
    assert_ne!(sub, "citizen-42", "pairwise, never the internal id");

    let proof = userinfo_proof(&dpop_key, &dpop_jwk, &dept.issuer, &access, "u-1");
    let (status, info) = userinfo(&s, &access, Some(proof), "DPoP").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["sub"], sub.as_str());

    // Another department sees another subject for the same citizen.
    let other = department(&s.state).await;
    let code = code_for(&s, &other, "p-other").await;
    let proof = dpop(
        &dpop_key,
        &dpop_jwk,
        &format!("{}/token", dept.issuer),
        "dp-other",
    );
    let tokens = body_json(
        send(
            &s.app,
            token_request(&other, &code, VERIFIER, "t-other", Some(proof)),
        )
        .await,
    )
    .await;
    let claims = id_token_claims(&s, &tokens).await;
    assert_ne!(claims["sub"], sub.as_str());
    s.db.finish().await;
}

async fn a_reused_code_fails_and_revokes_its_tokens(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let code = code_for(&s, &dept, "p-1").await;
    let (dpop_key, dpop_jwk) = keypair();
    let token_url = format!("{}/token", dept.issuer);
    let first = send(
        &s.app,
        token_request(
            &dept,
            &code,
            VERIFIER,
            "t-1",
            Some(dpop(&dpop_key, &dpop_jwk, &token_url, "d-1")),
        ),
    )
    .await;
    let access = body_json(first).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second = send(
        &s.app,
        token_request(
            &dept,
            &code,
            VERIFIER,
            "t-2",
            Some(dpop(&dpop_key, &dpop_jwk, &token_url, "d-2")),
        ),
    )
    .await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(body_json(second).await["error"], "invalid_grant");
    let proof = userinfo_proof(&dpop_key, &dpop_jwk, &dept.issuer, &access, "u-1");
    let (status, body) = userinfo(&s, &access, Some(proof), "DPoP").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_token");
    s.db.finish().await;
}

async fn token_request_errors_change_nothing(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let other = department(&s.state).await;
    let code = code_for(&s, &dept, "p-1").await;
    let (dpop_key, dpop_jwk) = keypair();
    let token_url = format!("{}/token", dept.issuer);
    let proof = |jti: &str| Some(dpop(&dpop_key, &dpop_jwk, &token_url, jti));

    let cases: Vec<(Request<Body>, &str)> = vec![
        (
            token_request(
                &dept,
                &code,
                "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
                "t-1",
                proof("d-1"),
            ),
            "invalid_grant",
        ),
        (
            token_request(&dept, &code, crate::par::CHALLENGE, "t-2", proof("d-2")),
            "invalid_grant",
        ),
        (
            token_request(&other, &code, VERIFIER, "t-3", proof("d-3")),
            "invalid_grant",
        ),
        (
            token_request(&dept, &code, VERIFIER, "t-4", None),
            "invalid_dpop_proof",
        ),
        (
            token_request(
                &dept,
                &code,
                VERIFIER,
                "t-5",
                Some(dpop(
                    &dpop_key,
                    &dpop_jwk,
                    &format!("{}/par", dept.issuer),
                    "d-5",
                )),
            ),
            "invalid_dpop_proof",
        ),
        (
            token_request(&dept, "not-a-code", VERIFIER, "t-6", proof("d-6")),
            "invalid_grant",
        ),
    ];
    for (request, code_expected) in cases {
        let response = send(&s.app, request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = body_json(response).await;
        assert_eq!(body["error"], code_expected, "{body}");
        assert!(body["error_description"].is_string());
    }
    // After all of that, the code still works: nothing was changed.
    let ok = send(
        &s.app,
        token_request(&dept, &code, VERIFIER, "t-7", proof("d-7")),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    s.db.finish().await;
}

async fn codes_are_bound_to_the_par_dpop_key(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let (bound_key, bound_jwk) = keypair();
    let (other_key, other_jwk) = keypair();
    let thumbprint = bound_jwk.thumbprint();
    let request_uri = push(&s, &dept, "p-1", &[("dpop_jkt", thumbprint.as_str())]).await;
    let (_, params) = authorize(&s, &dept, &request_uri).await;
    let code = param(&params, "code").unwrap().to_owned();
    let token_url = format!("{}/token", dept.issuer);
    let wrong = send(
        &s.app,
        token_request(
            &dept,
            &code,
            VERIFIER,
            "t-1",
            Some(dpop(&other_key, &other_jwk, &token_url, "d-1")),
        ),
    )
    .await;
    assert_eq!(body_json(wrong).await["error"], "invalid_dpop_proof");
    let right = send(
        &s.app,
        token_request(
            &dept,
            &code,
            VERIFIER,
            "t-2",
            Some(dpop(&bound_key, &bound_jwk, &token_url, "d-2")),
        ),
    )
    .await;
    assert_eq!(right.status(), StatusCode::OK);
    let access = body_json(right).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // userinfo: a proof by another key, a Bearer presentation, or none at all fail.
    let foreign = userinfo_proof(&other_key, &other_jwk, &dept.issuer, &access, "u-1");
    assert_eq!(
        userinfo(&s, &access, Some(foreign), "DPoP").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        userinfo(&s, &access, None, "Bearer").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = userinfo(&s, "made-up-token", None, "Bearer").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    s.db.finish().await;
}

async fn authorize_accepts_only_fresh_pushed_requests(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    // Without PAR.
    let query = form(&[
        ("client_id", dept.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", "https://lands.gov.hk/cb"),
    ]);
    let response = send(&s.app, get(&format!("/authorize?{query}"))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response.headers().get(header::LOCATION).is_none(),
        "never redirect an unverified request"
    );
    // Unknown, then reused request_uri.
    let (status, _) = authorize(&s, &dept, "urn:ietf:params:oauth:request_uri:unknown").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let request_uri = push(&s, &dept, "p-1", &[]).await;
    assert_eq!(
        authorize(&s, &dept, &request_uri).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        authorize(&s, &dept, &request_uri).await.0,
        StatusCode::BAD_REQUEST
    );
    // Another client's request_uri.
    let other = department(&s.state).await;
    let request_uri = push(&s, &dept, "p-2", &[]).await;
    assert_eq!(
        authorize(&s, &other, &request_uri).await.0,
        StatusCode::BAD_REQUEST
    );
    s.db.finish().await;
}

async fn prompt_none_without_a_session_redirects_login_required(backend: Backend) {
    let Some(s) = setup_on(backend, None).await else {
        return;
    };
    let dept = department(&s.state).await;
    let request_uri = push(&s, &dept, "p-1", &[("prompt", "none")]).await;
    let (status, params) = authorize(&s, &dept, &request_uri).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(param(&params, "error"), Some("login_required"));
    assert_eq!(param(&params, "state"), Some("st"));
    assert!(param(&params, "code").is_none());
    s.db.finish().await;
    // A higher level of assurance than the session has also needs sign-in.
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let request_uri = push(
        &s,
        &dept,
        "p-2",
        &[
            ("prompt", "none"),
            ("acr_values", "urn:eid-gateway:loa:high"),
        ],
    )
    .await;
    let (_, params) = authorize(&s, &dept, &request_uri).await;
    assert_eq!(param(&params, "error"), Some("login_required"));
    s.db.finish().await;
}

async fn discovery_describes_the_fapi_provider(backend: Backend) {
    let Some(s) = setup_on(backend, None).await else {
        return;
    };
    let response = send(&s.app, get("/.well-known/openid-configuration")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let d = body_json(response).await;
    let issuer = s.state.config().issuer();
    assert_eq!(d["issuer"], issuer.as_str());
    assert_eq!(d["require_pushed_authorization_requests"], true);
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        d["pushed_authorization_request_endpoint"],
        format!("{issuer}/par")
    );
    assert_eq!(d["jwks_uri"], format!("{issuer}/jwks"));
    assert!(
        d["dpop_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("ES256"))
    );
    assert!(
        !d["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );
    // The e-ME scopes and profile claims are advertised.
    let scopes = d["scopes_supported"].as_array().unwrap();
    for scope in ["openid", "eme.name", "eme.contact", "eme.identity"] {
        assert!(scopes.contains(&json!(scope)), "{scope}");
    }
    let claims = d["claims_supported"].as_array().unwrap();
    for claim in [
        "acr",
        "name",
        "name#zh-Hant-HK",
        "hk_id_number",
        "phone_number",
    ] {
        assert!(claims.contains(&json!(claim)), "{claim}");
    }
    s.db.finish().await;
}

fn refresh_request(
    dept: &Dept,
    refresh_token: &str,
    jti: &str,
    proof: Option<String>,
) -> Request<Body> {
    let a = assertion(dept, &dept.issuer, jti);
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", &a),
    ]);
    let mut builder =
        Request::post("/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(p) = proof {
        builder = builder.header("dpop", p);
    }
    builder.body(Body::from(body)).unwrap()
}

async fn refresh_tokens_rotate_and_replay_revokes_the_family(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let other = department(&s.state).await;
    let (key, jwk) = keypair();
    let (stranger_key, stranger_jwk) = keypair();
    let token_url = format!("{}/token", dept.issuer);
    let code = code_for(&s, &dept, "p-1").await;
    let first = body_json(
        send(
            &s.app,
            token_request(
                &dept,
                &code,
                VERIFIER,
                "t-1",
                Some(dpop(&key, &jwk, &token_url, "d-1")),
            ),
        )
        .await,
    )
    .await;
    let refresh_1 = first["refresh_token"].as_str().unwrap().to_owned();

    // Another client, no proof, or a proof by another key: refused.
    let response = send(
        &s.app,
        refresh_request(
            &other,
            &refresh_1,
            "t-2",
            Some(dpop(&key, &jwk, &token_url, "d-2")),
        ),
    )
    .await;
    assert_eq!(body_json(response).await["error"], "invalid_grant");
    let response = send(&s.app, refresh_request(&dept, &refresh_1, "t-3", None)).await;
    assert_eq!(body_json(response).await["error"], "invalid_dpop_proof");

    // The rightful use rotates the token.
    let response = send(
        &s.app,
        refresh_request(
            &dept,
            &refresh_1,
            "t-4",
            Some(dpop(&key, &jwk, &token_url, "d-4")),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = body_json(response).await;
    let refresh_2 = second["refresh_token"].as_str().unwrap().to_owned();
    let access_2 = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh_2, refresh_1);
    let proof = userinfo_proof(&key, &jwk, &dept.issuer, &access_2, "u-1");
    assert_eq!(
        userinfo(&s, &access_2, Some(proof), "DPoP").await.0,
        StatusCode::OK
    );

    // Replaying the spent token revokes everything of the family.
    let response = send(
        &s.app,
        refresh_request(
            &dept,
            &refresh_1,
            "t-5",
            Some(dpop(&key, &jwk, &token_url, "d-5")),
        ),
    )
    .await;
    assert_eq!(body_json(response).await["error"], "invalid_grant");
    let proof = userinfo_proof(&key, &jwk, &dept.issuer, &access_2, "u-2");
    assert_eq!(
        userinfo(&s, &access_2, Some(proof), "DPoP").await.0,
        StatusCode::UNAUTHORIZED
    );
    let response = send(
        &s.app,
        refresh_request(
            &dept,
            &refresh_2,
            "t-6",
            Some(dpop(&key, &jwk, &token_url, "d-6")),
        ),
    )
    .await;
    assert_eq!(body_json(response).await["error"], "invalid_grant");

    // A proof by another key than the binding spends and revokes.
    let code = code_for(&s, &dept, "p-2").await;
    let tokens = body_json(
        send(
            &s.app,
            token_request(
                &dept,
                &code,
                VERIFIER,
                "t-7",
                Some(dpop(&key, &jwk, &token_url, "d-7")),
            ),
        )
        .await,
    )
    .await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let response = send(
        &s.app,
        refresh_request(
            &dept,
            refresh,
            "t-8",
            Some(dpop(&stranger_key, &stranger_jwk, &token_url, "d-8")),
        ),
    )
    .await;
    assert_eq!(body_json(response).await["error"], "invalid_dpop_proof");
    s.db.finish().await;
}

async fn revocation_revokes_the_family_of_the_clients_own_tokens(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let other = department(&s.state).await;
    let (key, jwk) = keypair();
    let token_url = format!("{}/token", dept.issuer);
    let code = code_for(&s, &dept, "p-1").await;
    let tokens = body_json(
        send(
            &s.app,
            token_request(
                &dept,
                &code,
                VERIFIER,
                "t-1",
                Some(dpop(&key, &jwk, &token_url, "d-1")),
            ),
        )
        .await,
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let revoke = |client: &Dept, token: &str, jti: &str| {
        let a = assertion(client, &client.issuer, jti);
        let body = form(&[
            ("token", token),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &a),
        ]);
        Request::post("/revoke")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    // Someone else's token: answered 200, left alone.
    assert_eq!(
        send(&s.app, revoke(&other, &refresh, "r-1")).await.status(),
        StatusCode::OK
    );
    let proof = userinfo_proof(&key, &jwk, &dept.issuer, &access, "u-1");
    assert_eq!(
        userinfo(&s, &access, Some(proof), "DPoP").await.0,
        StatusCode::OK
    );
    // Unknown token: 200.
    assert_eq!(
        send(&s.app, revoke(&dept, "unknown", "r-2")).await.status(),
        StatusCode::OK
    );
    // The client's refresh token: the access token goes with it.
    assert_eq!(
        send(&s.app, revoke(&dept, &refresh, "r-3")).await.status(),
        StatusCode::OK
    );
    let proof = userinfo_proof(&key, &jwk, &dept.issuer, &access, "u-2");
    assert_eq!(
        userinfo(&s, &access, Some(proof), "DPoP").await.0,
        StatusCode::UNAUTHORIZED
    );
    let response = send(
        &s.app,
        refresh_request(
            &dept,
            &refresh,
            "t-2",
            Some(dpop(&key, &jwk, &token_url, "d-2")),
        ),
    )
    .await;
    assert_eq!(body_json(response).await["error"], "invalid_grant");
    // Without client authentication: 401.
    let request = Request::post("/revoke")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form(&[("token", access.as_str())])))
        .unwrap();
    assert_eq!(
        send(&s.app, request).await.status(),
        StatusCode::UNAUTHORIZED
    );
    s.db.finish().await;
}

async fn rp_initiated_logout_returns_only_to_registered_uris(backend: Backend) {
    let Some(s) = setup_on(backend, Some(citizen())).await else {
        return;
    };
    let dept = department(&s.state).await;
    let other = department(&s.state).await;
    let (key, jwk) = keypair();
    let code = code_for(&s, &dept, "p-1").await;
    let tokens = body_json(
        send(
            &s.app,
            token_request(
                &dept,
                &code,
                VERIFIER,
                "t-1",
                Some(dpop(&key, &jwk, &format!("{}/token", dept.issuer), "d-1")),
            ),
        )
        .await,
    )
    .await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let logout = |pairs: &[(&str, &str)]| get(&format!("/logout?{}", form(pairs)));

    let response = send(
        &s.app,
        logout(&[
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://lands.gov.hk/bye"),
            ("state", "z"),
        ]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        response.headers()[header::LOCATION],
        "https://lands.gov.hk/bye?state=z"
    );

    let response = send(
        &s.app,
        logout(&[
            ("client_id", &dept.client_id),
            ("post_logout_redirect_uri", "https://lands.gov.hk/bye"),
        ]),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let response = send(&s.app, logout(&[])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body_json(response).await["status"], "signed_out");

    let mut tampered = id_token.clone();
    tampered.pop();
    tampered.push(if id_token.ends_with('A') { 'B' } else { 'A' });
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("id_token_hint", &id_token),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![
            ("id_token_hint", &tampered),
            ("post_logout_redirect_uri", "https://lands.gov.hk/bye"),
        ],
        vec![("id_token_hint", "not-a-token")],
        vec![("post_logout_redirect_uri", "https://lands.gov.hk/bye")],
        vec![
            ("id_token_hint", &id_token),
            ("client_id", &other.client_id),
        ],
        vec![
            ("client_id", &other.client_id),
            ("post_logout_redirect_uri", "https://lands.gov.hk/cb"),
        ],
    ];
    for pairs in cases {
        let response = send(&s.app, logout(&pairs)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{pairs:?}");
        assert!(response.headers().get(header::LOCATION).is_none());
    }
    s.db.finish().await;
}

fn nonce_proof(
    key: &SigningKey,
    jwk: &Jwk,
    method: &str,
    htu: &str,
    jti: &str,
    nonce: &str,
    ath: Option<&str>,
) -> String {
    let mut claims = json!({"jti": jti, "htm": method, "htu": htu,
        "iat": OffsetDateTime::now_utc().unix_timestamp(), "nonce": nonce});
    if let Some(token) = ath {
        claims["ath"] = json!(eid_core::oidc::dpop::access_token_hash(token));
    }
    jws::sign_with_header(
        key,
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
        &claims,
    )
    .unwrap()
}

async fn server_nonces_are_required_when_configured(backend: Backend) {
    let Some(s) = setup_with(backend, Some(citizen()), |c| {
        c.oidc.require_dpop_nonce = true
    })
    .await
    else {
        return;
    };
    let dept = department(&s.state).await;
    let (key, jwk) = keypair();
    let token_url = format!("{}/token", dept.issuer);
    let code = code_for(&s, &dept, "p-1").await;
    let response = send(
        &s.app,
        token_request(
            &dept,
            &code,
            VERIFIER,
            "t-1",
            Some(dpop(&key, &jwk, &token_url, "d-1")),
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(body_json(response).await["error"], "use_dpop_nonce");
    let wrong = nonce_proof(&key, &jwk, "POST", &token_url, "d-2", "123.forged", None);
    let response = send(
        &s.app,
        token_request(&dept, &code, VERIFIER, "t-2", Some(wrong)),
    )
    .await;
    assert_eq!(body_json(response).await["error"], "use_dpop_nonce");
    let right = nonce_proof(&key, &jwk, "POST", &token_url, "d-3", &nonce, None);
    let response = send(
        &s.app,
        token_request(&dept, &code, VERIFIER, "t-3", Some(right)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let access = body_json(response).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let userinfo_url = format!("{}/userinfo", dept.issuer);
    let plain = userinfo_proof(&key, &jwk, &dept.issuer, &access, "u-1");
    let request = Request::get("/userinfo")
        .header(header::AUTHORIZATION, format!("DPoP {access}"))
        .header("dpop", plain)
        .body(Body::empty())
        .unwrap();
    let response = send(&s.app, request).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains("use_dpop_nonce")
    );
    let nonce = response.headers()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    let proof = nonce_proof(
        &key,
        &jwk,
        "GET",
        &userinfo_url,
        "u-2",
        &nonce,
        Some(&access),
    );
    assert_eq!(
        userinfo(&s, &access, Some(proof), "DPoP").await.0,
        StatusCode::OK
    );
    s.db.finish().await;
}

/// Every case on SQLite and on PostgreSQL.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(super::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_backends!(
    server_nonces_are_required_when_configured,
    rp_initiated_logout_returns_only_to_registered_uris,
    refresh_tokens_rotate_and_replay_revokes_the_family,
    revocation_revokes_the_family_of_the_clients_own_tokens,
    the_full_flow_issues_a_verifiable_id_token_and_dpop_bound_access,
    a_reused_code_fails_and_revokes_its_tokens,
    token_request_errors_change_nothing,
    codes_are_bound_to_the_par_dpop_key,
    authorize_accepts_only_fresh_pushed_requests,
    prompt_none_without_a_session_redirects_login_required,
    discovery_describes_the_fapi_provider,
);

/// A clock the test moves.
#[derive(Debug)]
struct Settable(std::sync::Mutex<OffsetDateTime>);

impl gateway::state::Clock for Settable {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

#[tokio::test]
async fn request_uris_and_codes_expire() {
    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.keys.encryption_key = Some(Secret::new(
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
    ));
    config.oidc.pairwise_secret = Some(Secret::new(
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=".into(),
    ));
    let clock = Arc::new(Settable(std::sync::Mutex::new(OffsetDateTime::now_utc())));
    let state = AppState::with_parts(
        db.db.clone(),
        config,
        clock.clone(),
        Arc::new(SignedIn(Some(citizen()), Default::default())),
    );
    let kek = KeyEncryptionKey::from_bytes(&(0u8..32).collect::<Vec<_>>()).unwrap();
    gateway::oidc::keyring::ensure_key(state.db(), &kek, Alg::Es256, state.now())
        .await
        .unwrap();
    let s = Setup {
        app: gateway::app(state.clone()),
        state,
        db,
    };
    let dept = department(&s.state).await;

    // A request_uri older than 60 s is refused.
    let request_uri = push(&s, &dept, "p-1", &[]).await;
    *clock.0.lock().unwrap() += time::Duration::seconds(61);
    let (status, _) = authorize(&s, &dept, &request_uri).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // A code older than 60 s is refused; the assertion and proof of the
    // late token request are dated by the test clock.
    *clock.0.lock().unwrap() = OffsetDateTime::now_utc();
    let code = code_for(&s, &dept, "p-2").await;
    let later = OffsetDateTime::now_utc() + time::Duration::seconds(61);
    *clock.0.lock().unwrap() = later;
    let t = later.unix_timestamp();
    let a = jws::sign(
        &dept.key,
        "JWT",
        &json!({"iss": dept.client_id, "sub": dept.client_id, "aud": dept.issuer,
                "iat": t, "exp": t + 60, "jti": "late"}),
    )
    .unwrap();
    let (key, jwk) = keypair();
    let proof = jws::sign_with_header(
        &key,
        &json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}),
        &json!({"jti": "late-dpop", "htm": "POST", "htu": format!("{}/token", dept.issuer), "iat": t}),
    )
    .unwrap();
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "https://lands.gov.hk/cb"),
        ("code_verifier", VERIFIER),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", &a),
    ]);
    let request = Request::post("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("dpop", proof)
        .body(Body::from(body))
        .unwrap();
    let response = send(&s.app, request).await;
    assert_eq!(body_json(response).await["error"], "invalid_grant");
    s.db.finish().await;
}
