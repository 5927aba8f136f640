//! The flow with a real relying party: the `openidconnect` crate discovers
//! the provider, builds the authorization parameters (pushed to /par, as
//! FAPI 2.0 requires), exchanges the code with private_key_jwt and a DPoP
//! proof, and verifies the ID token against the published keys. Its HTTP
//! client is `app.oneshot`.

use std::sync::Arc;

use axum::body::Body;
use http_body_util::BodyExt;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use tower::ServiceExt;

use crate::par::{assertion, department, dpop, keypair};

/// An `openidconnect` HTTP client over the router; requests to /token get a
/// fresh DPoP proof by `proof`.
fn http(
    app: axum::Router,
    proof: Arc<dyn Fn() -> String + Send + Sync>,
) -> impl Fn(
    openidconnect::HttpRequest,
) -> std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<openidconnect::HttpResponse, std::io::Error>>
            + Send,
    >,
> {
    move |request: openidconnect::HttpRequest| {
        let app = app.clone();
        let proof = proof.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if parts.uri.path() == "/token" {
                let value =
                    axum::http::HeaderValue::from_str(&proof()).map_err(std::io::Error::other)?;
                parts.headers.insert("dpop", value);
            }
            let response = app
                .oneshot(axum::http::Request::from_parts(parts, Body::from(body)))
                .await
                .map_err(std::io::Error::other)?;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(std::io::Error::other)?
                .to_bytes();
            Ok(axum::http::Response::from_parts(parts, bytes.to_vec()))
        })
    }
}

#[tokio::test]
async fn an_openidconnect_relying_party_signs_a_citizen_in() {
    let s = crate::flow::setup_signed_in().await;
    let dept = department(&s.state).await;
    let issuer = dept.issuer.clone();
    let (dpop_key, dpop_jwk) = keypair();
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let token_url = format!("{issuer}/token");
    let proof: Arc<dyn Fn() -> String + Send + Sync> = Arc::new(move || {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        dpop(&dpop_key, &dpop_jwk, &token_url, &format!("oidc-dpop-{n}"))
    });
    let http = http(s.app.clone(), proof);

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery and JWKS");
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(dept.client_id.clone()), None)
            .set_auth_type(AuthType::RequestBody)
            .set_redirect_uri(RedirectUrl::new("https://lands.gov.hk/cb".to_owned()).unwrap());

    // The library builds the request; FAPI 2.0 pushes it to /par.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let mut params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    params.push((
        "client_assertion_type".into(),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
    ));
    params.push((
        "client_assertion".into(),
        assertion(&dept, &issuer, "oidc-par"),
    ));
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let response = crate::support::send(&s.app, crate::par::post(body, &[])).await;
    assert_eq!(response.status(), 201);
    let request_uri = crate::support::json(response).await["request_uri"]
        .as_str()
        .unwrap()
        .to_owned();

    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", dept.client_id.as_str()),
            ("request_uri", request_uri.as_str()),
        ])
        .finish();
    let response =
        crate::support::send(&s.app, crate::support::get(&format!("/authorize?{query}"))).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let redirect = url::Url::parse(&location).unwrap();
    let pairs: std::collections::HashMap<String, String> =
        redirect.query_pairs().into_owned().collect();
    assert_eq!(pairs["state"], *csrf.secret());
    assert_eq!(pairs["iss"], issuer);

    let tokens = client
        .exchange_code(AuthorizationCode::new(pairs["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .add_extra_param(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .add_extra_param("client_assertion", assertion(&dept, &issuer, "oidc-token"))
        .request_async(&http)
        .await
        .expect("token exchange");
    // oauth2 lower-cases token types it does not know.
    assert!(tokens.token_type().as_ref().eq_ignore_ascii_case("DPoP"));
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .expect("the ID token verifies: signature, iss, aud, exp, nonce");
    assert_eq!(claims.issuer().as_str(), issuer);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:eid-gateway:loa:substantial")
    );
    s.db.finish().await;
}
