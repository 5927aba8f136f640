//! Consent receipts: a JWS (ES256, `typ` `consent-receipt+jwt`, signed
//! with the gateway's current signing key, verifiable with `/jwks` by any
//! JOSE library) stating the department, the purpose, the fields asked
//! and granted (ids, never values), the form, the retention, when the
//! consent was given, until when, and whether it was revoked.
//!
//! - `GET /account/consents/{id}/receipt`: the signed-in citizen's own
//!   grant, as a download;
//! - `GET /v1/consents/{id}/receipt`: for the department, with one of its
//!   API keys (`Authorization: Bearer gw_…`) or an access token it was
//!   issued (`Bearer` or `DPoP`); only its own grants.

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_core::consent::Grant;
use eid_core::oidc::grant::pairwise_subject;
use eid_core::oidc::jws;
use serde_json::json;

use super::error::ApiError;
use crate::config::decode_secret;
use crate::state::AppState;

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no_such_consent", "no such consent")
}

/// The signed receipt of `grant`.
pub async fn receipt(state: &AppState, grant: &Grant) -> Result<String, ApiError> {
    let now = state.now();
    let secret = state
        .config()
        .oidc
        .pairwise_secret
        .as_ref()
        .and_then(decode_secret)
        .ok_or_else(|| ApiError::unavailable("oidc.pairwise_secret is not configured"))?;
    let key = super::flow::current_signing_key(state, now).await?;
    let header = json!({"typ": "consent-receipt+jwt", "alg": "ES256", "kid": key.kid});
    let claims = json!({
        "iss": state.config().issuer(),
        "jti": grant.id,
        // The citizen as this department knows them.
        "sub": pairwise_subject(&secret, &grant.client_id, &grant.citizen_id),
        "aud": grant.client_id,
        "iat": now.unix_timestamp(),
        "consent": {
            "department": grant.client_id,
            "form": grant.form_id,
            "purpose": grant.purpose,
            "fields_asked": grant.asked,
            "fields_granted": grant.granted,
            "retention_days": grant.retention_days,
            "granted_at": grant.granted_at.unix_timestamp(),
            "expires_at": grant.expires_at.unix_timestamp(),
            "revoked_at": grant.revoked_at.map(|t| t.unix_timestamp()),
        },
    });
    jws::sign_with_header(&key, &header, &claims)
        .map_err(|e| ApiError::unavailable(format!("signing: {e}")))
}

fn jwt(body: String, download: Option<&str>) -> Response {
    let mut response = ([(CONTENT_TYPE, "application/jwt")], body).into_response();
    if let Some(name) = download
        && let Ok(value) = format!("attachment; filename=\"consent-{name}.jwt\"").parse()
    {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
    response
}

/// `GET /account/consents/{id}/receipt`.
pub async fn for_citizen(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let citizen = state.sessions().current(&headers).await.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "sign_in_required",
            "sign in to download your consent receipts",
        )
    })?;
    let grant = state
        .db()
        .grants_of(&citizen.citizen_id, None)
        .await
        .map_err(ApiError::unavailable)?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(not_found)?;
    let body = receipt(&state, &grant).await?;
    Ok(jwt(body, Some(&id[..id.len().min(12)])))
}

/// `GET /v1/consents/{id}/receipt`.
pub async fn for_department(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    known: Option<axum::Extension<crate::api_keys::Department>>,
) -> Result<Response, ApiError> {
    // The department limit has already checked an API key: not again.
    let key = match known {
        Some(axum::Extension(department)) => Some(department),
        None => department_key(&state, &headers).await?,
    };
    let client_id = match key {
        Some(department) => department.client_id,
        None => {
            let path = format!("/v1/consents/{id}/receipt");
            match super::flow::access_grant(&state, &headers, "GET", &path).await? {
                Ok(access) => access.client_id,
                Err(refusal) => return Ok(refusal),
            }
        }
    };
    let grant = state
        .db()
        .grant_for_client(&client_id, &id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(not_found)?;
    let body = receipt(&state, &grant).await?;
    Ok(jwt(body, None))
}

/// The department of an API key on the request (`Authorization: Bearer
/// gw_…`), `None` when the credential is not an API key; a bad key is
/// `401`.
pub async fn department_key(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<crate::api_keys::Department>, ApiError> {
    let Some(credential) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, c)| c.trim())
        .filter(|c| crate::api_keys::is_api_key(c))
    else {
        return Ok(None);
    };
    match state
        .api_keys()
        .authenticate(state.db(), credential, state.now())
        .await
    {
        Ok(department) => Ok(Some(department)),
        Err(crate::api_keys::KeyError::Store(e)) => Err(ApiError::unavailable(e)),
        Err(_) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_api_key",
            "unknown, revoked or wrong API key",
        )
        .with_header(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer error=\"invalid_token\""),
        )),
    }
}
