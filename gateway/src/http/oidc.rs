//! Published OpenID Connect endpoints: the key set and pushed authorization
//! requests. Discovery, `/authorize`, `/token`, `/userinfo`, `/revoke` and
//! `/logout` arrive with the rest of the authorization code flow.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use time::Duration;

use super::error::ApiError;
use crate::oidc::keyring;
use crate::state::AppState;

/// `GET /jwks`: the public signing keys (RFC 7517), cacheable for five
/// minutes; new keys are published a grace period before they sign.
pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let lifetime = Duration::seconds(
        i64::try_from(
            state
                .config()
                .oidc
                .access_token_lifetime_secs
                .max(state.config().oidc.id_token_lifetime_secs),
        )
        .unwrap_or(i64::MAX),
    );
    let jwks = keyring::published_jwks(state.db(), state.now(), lifetime)
        .await
        .map_err(ApiError::unavailable)?;
    Ok((
        [
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            ),
        ],
        Json(jwks),
    )
        .into_response())
}

/// Checks a `DPoP` header for a request to `path` and records its `jti`;
/// returns the key thumbprint, or `None` without a header.
pub async fn dpop_proof(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    method: &str,
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<String>, ApiError> {
    use eid_core::oidc::dpop::{ProofContext, verify_proof};
    use eid_core::{ReplayStore, Sighting};
    let mut values = headers.get_all("dpop").iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |description: String| {
        ApiError::oauth(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_dpop_proof",
            description,
        )
    };
    if values.next().is_some() {
        return Err(bad("only one DPoP header is allowed".into()));
    }
    let proof = value
        .to_str()
        .map_err(|_| bad("malformed DPoP header".into()))?;
    let url = format!("{}{path}", state.config().issuer());
    let context = ProofContext {
        method,
        url: &url,
        access_token,
        nonce: None,
    };
    let now = state.now();
    let verified = verify_proof(proof, &context, now).map_err(|e| bad(e.to_string()))?;
    if state.config().oidc.require_dpop_nonce {
        let issuer = nonce_issuer(state)?;
        if !verified
            .nonce
            .as_deref()
            .is_some_and(|n| issuer.accepts(n, now))
        {
            let status = if access_token.is_some() {
                axum::http::StatusCode::UNAUTHORIZED
            } else {
                axum::http::StatusCode::BAD_REQUEST
            };
            let fresh = HeaderValue::from_str(&issuer.current(now))
                .map_err(|_| ApiError::unavailable("nonce not encodable"))?;
            let mut error = ApiError::oauth(
                status,
                "use_dpop_nonce",
                "use the DPoP-Nonce header's nonce in the proof",
            )
            .with_header(axum::http::HeaderName::from_static("dpop-nonce"), fresh);
            if access_token.is_some() {
                error = error.with_header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("DPoP error=\"use_dpop_nonce\""),
                );
            }
            return Err(error);
        }
    }
    match state
        .db()
        .check_and_record("dpop", &verified.jti, verified.replay_until, now)
        .await
    {
        Ok(Sighting::Fresh) => Ok(Some(verified.jkt)),
        Ok(Sighting::Replayed) => Err(bad("DPoP proof jti was already used".into())),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// The DPoP nonce issuer, keyed from the key-encryption key so that every
/// gateway process accepts every other's nonces.
fn nonce_issuer(state: &AppState) -> Result<eid_core::oidc::dpop::NonceIssuer, ApiError> {
    let kek = state
        .config()
        .keys
        .encryption_key
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("keys.encryption_key is not configured"))?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, kek.expose().as_bytes());
    let derived = ring::hmac::sign(&key, b"dpop-nonce");
    Ok(eid_core::oidc::dpop::NonceIssuer::new(derived.as_ref(), 60))
}

/// Reads an `application/x-www-form-urlencoded` body into single-valued
/// parameters (a repeated parameter is `invalid_request`).
pub fn form_params(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if media_type.as_deref() != Some("application/x-www-form-urlencoded") {
        return Err(ApiError::oauth(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    eid_core::oidc::authz::single_valued(&pairs).map_err(authz_error)
}

fn authz_error(e: eid_core::oidc::authz::AuthzError) -> ApiError {
    ApiError::oauth(axum::http::StatusCode::BAD_REQUEST, e.code, e.description)
}

/// `POST /par`: pushed authorization requests (RFC 9126), the only way in
/// (FAPI 2.0). Answers `201 {"request_uri", "expires_in"}`.
pub async fn par(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    use base64::Engine;
    use eid_core::oidc::authz::{
        ParStore, REQUEST_URI_LIFETIME_SECS, REQUEST_URI_PREFIX, check_pushed_request,
    };
    use ring::rand::SecureRandom;

    let params = form_params(&headers, &body)?;
    let client = crate::oidc::client_auth::authenticate(&state, &headers, &params).await?;
    let jkt = dpop_proof(&state, &headers, "POST", "/par", None).await?;
    let request = check_pushed_request(&params, &client, jkt.as_deref()).map_err(authz_error)?;
    let mut random = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| ApiError::unavailable("random generator failure"))?;
    let request_uri = format!(
        "{REQUEST_URI_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
    );
    let expires_at = state.now() + Duration::seconds(REQUEST_URI_LIFETIME_SECS);
    state
        .db()
        .insert_par(&request_uri, &request, expires_at)
        .await
        .map_err(ApiError::unavailable)?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(serde_json::json!({
            "request_uri": request_uri,
            "expires_in": REQUEST_URI_LIFETIME_SECS,
        })),
    )
        .into_response())
}
