//! Consent receipts: a JWS (ES256, `typ` `consent-receipt+jwt`, signed
//! with the gateway's current signing key, verifiable with `/jwks` by any
//! JOSE library) stating the department, the purpose, the fields asked
//! and granted (ids, never values), the form, the retention, when the
//! consent was given, until when, and whether it was revoked.
//!
//! - `GET /account/consents/{id}/receipt`: the signed-in citizen's own
//!   grant, as a download;
//! - `GET /v1/consents/{id}/receipt`: for the department, with an access
//!   token it was issued (`Authorization: Bearer` or `DPoP`); only its own
//!   grants.

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
) -> Result<Response, ApiError> {
    let path = format!("/v1/consents/{id}/receipt");
    let access = match super::flow::access_grant(&state, &headers, "GET", &path).await? {
        Ok(access) => access,
        Err(refusal) => return Ok(refusal),
    };
    let grant = state
        .db()
        .grant_for_client(&access.client_id, &id)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(not_found)?;
    let body = receipt(&state, &grant).await?;
    Ok(jwt(body, None))
}
