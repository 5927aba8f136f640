//! Published OpenID Connect endpoints. For now the key set; discovery and
//! the flow endpoints arrive with the authorization code flow.

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
