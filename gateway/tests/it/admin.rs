//! The operators' HTTP API: token required, registrations checked as on the
//! command line, nothing stored on refusal.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use eid_core::Secret;
use gateway::AppState;
use serde_json::json;

use crate::support::{json as body_json, send};

const TOKEN: &str = "operator-token-0123456789abcdef0123";

async fn app_with_token(token: Option<&str>) -> (axum::Router, crate::support::TestDb) {
    let db = crate::support::sqlite().await;
    let mut config = db.config.clone();
    config.admin.token = token.map(|t| Secret::new(t.to_owned()));
    (gateway::app(AppState::new(db.db.clone(), config)), db)
}

fn admin(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    match body {
        Some(b) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

#[tokio::test]
async fn without_a_configured_token_the_api_does_not_exist() {
    let (app, db) = app_with_token(None).await;
    let response = send(&app, admin("GET", "/admin/clients", Some(TOKEN), None)).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    db.finish().await;
}

#[tokio::test]
async fn the_operator_token_is_required() {
    let (app, db) = app_with_token(Some(TOKEN)).await;
    for token in [None, Some("wrong"), Some(&TOKEN[..TOKEN.len() - 1])] {
        let response = send(&app, admin("GET", "/admin/clients", token, None)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(body_json(response).await["error"], "unauthorized");
    }
    db.finish().await;
}

#[tokio::test]
async fn departments_are_registered_listed_and_disabled() {
    let (app, db) = app_with_token(Some(TOKEN)).await;
    let (public, _) = eid_core::oidc::keys::generate_client_es256().unwrap();
    let created = send(
        &app,
        admin(
            "POST",
            "/admin/clients",
            Some(TOKEN),
            Some(json!({"name": "Lands", "redirect_uris": ["https://lands.gov.hk/cb"], "jwks": {"keys": [public]}})),
        ),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created = body_json(created).await;
    let id = created["client_id"].as_str().unwrap().to_owned();
    assert!(created.get("client_secret").is_none());

    let with_secret = body_json(
        send(
            &app,
            admin("POST", "/admin/clients", Some(TOKEN), Some(json!({"name": "Water", "redirect_uris": ["https://wsd.gov.hk/cb"], "secret": true}))),
        )
        .await,
    )
    .await;
    assert!(
        with_secret["client_secret"]
            .as_str()
            .is_some_and(|s| s.len() >= 43)
    );

    let refusals = [
        json!({"name": "X", "redirect_uris": ["http://evil.example/cb"], "secret": true}),
        json!({"name": "X", "redirect_uris": ["https://a.hk/cb"]}),
        json!({"name": "X", "redirect_uris": ["https://a.hk/cb"], "secret": true, "jwks_uri": "https://a.hk/jwks"}),
        json!({"name": "X", "redirect_uris": ["https://a.hk/cb"], "jwks": {"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}}),
        json!({"name": "X", "redirect_uris": ["https://a.hk/cb"], "secret": true, "unknown": 1}),
    ];
    for body in refusals {
        let response = send(
            &app,
            admin("POST", "/admin/clients", Some(TOKEN), Some(body.clone())),
        )
        .await;
        assert!(response.status().is_client_error(), "{body}");
    }
    let malformed = Request::post("/admin/clients")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"name\":"))
        .unwrap();
    assert_eq!(
        body_json(send(&app, malformed).await).await["error"],
        "malformed_json"
    );

    let listed =
        body_json(send(&app, admin("GET", "/admin/clients", Some(TOKEN), None)).await).await;
    assert_eq!(
        listed["clients"].as_array().unwrap().len(),
        2,
        "refusals stored nothing"
    );
    assert!(
        !listed
            .to_string()
            .contains(with_secret["client_secret"].as_str().unwrap())
    );

    let disabled = send(
        &app,
        admin(
            "POST",
            &format!("/admin/clients/{id}/disable"),
            Some(TOKEN),
            None,
        ),
    )
    .await;
    assert_eq!(body_json(disabled).await["enabled"], false);
    let missing = send(
        &app,
        admin("POST", "/admin/clients/nope/disable", Some(TOKEN), None),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad_action = send(
        &app,
        admin(
            "POST",
            &format!("/admin/clients/{id}/delete"),
            Some(TOKEN),
            None,
        ),
    )
    .await;
    assert_eq!(bad_action.status(), StatusCode::NOT_FOUND);
    db.finish().await;
}
