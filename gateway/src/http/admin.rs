//! The operators' HTTP API (`/admin`), behind the operator token: the
//! department registry, as `gateway client` offers it on the command line.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eid_core::oidc::{ClientAuth, ClientStore};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::ApiError;
use super::ops::parse_json;
use crate::oidc::registry::{self, AuthChoice, Registration, RegistrationError};
use crate::state::AppState;

/// Middleware: the operator token, compared in constant time; without a
/// configured token the API does not exist (404).
pub async fn require_operator(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(expected) = &state.config().admin.token else {
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
            .into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let digest = |s: &str| ring::digest::digest(&ring::digest::SHA256, s.as_bytes());
    if !eid_core::secret::constant_time_eq(
        digest(presented).as_ref(),
        digest(expected.expose()).as_ref(),
    ) {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the operator token is missing or wrong",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(request).await
}

/// The body of `POST /admin/clients`: exactly one of `jwks`, `jwks_uri`,
/// `secret: true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewClient {
    name: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    #[serde(default)]
    secret: bool,
    #[serde(default = "yes")]
    dpop_bound: bool,
}

fn yes() -> bool {
    true
}

fn client_json(c: &eid_core::oidc::Client) -> Value {
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "enabled": c.enabled,
        "token_endpoint_auth_method": c.auth.method(),
        "jwks_uri": match &c.auth {
            ClientAuth::PrivateKeyJwtUri { jwks_uri } => Some(jwks_uri.clone()),
            _ => None,
        },
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "scopes": c.scopes,
        "dpop_bound": c.dpop_bound,
        "created_at": c.created_at.unix_timestamp(),
    })
}

/// `GET /admin/clients`.
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let clients = state
        .db()
        .list_clients()
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(
        json!({ "clients": clients.iter().map(client_json).collect::<Vec<_>>() }),
    ))
}

/// `POST /admin/clients`: `201` with the client, and its secret once.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewClient = parse_json(&headers, &body, &["application/json"])?;
    let auth = match (new.jwks, new.jwks_uri, new.secret) {
        (Some(jwks), None, false) => {
            AuthChoice::Jwks(serde_json::to_vec(&jwks).map_err(ApiError::malformed_json)?)
        }
        (None, Some(uri), false) => AuthChoice::JwksUri(uri),
        (None, None, true) => AuthChoice::Secret,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_client_metadata",
                "give exactly one of jwks, jwks_uri or secret: true",
            ));
        }
    };
    let registration = Registration {
        name: new.name,
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        scopes: new.scopes,
        auth,
        dpop_bound: new.dpop_bound,
    };
    let registered = registry::register(state.db(), registration, state.now())
        .await
        .map_err(|e| match e {
            RegistrationError::Store(_) | RegistrationError::Random => ApiError::unavailable(e),
            other => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_client_metadata",
                other.to_string(),
            ),
        })?;
    let mut body = client_json(&registered.client);
    if let Some(secret) = registered.secret {
        body["client_secret"] = Value::String(secret.expose().clone());
    }
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /admin/clients/{id}/disable` and `/enable`.
pub async fn set_enabled(
    State(state): State<AppState>,
    Path((client_id, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let enabled = match action.as_str() {
        "enable" => true,
        "disable" => false,
        _ => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such action",
            ));
        }
    };
    let found = state
        .db()
        .set_client_enabled(&client_id, enabled)
        .await
        .map_err(ApiError::unavailable)?;
    if !found {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such client",
        ));
    }
    Ok(Json(json!({ "client_id": client_id, "enabled": enabled })))
}
