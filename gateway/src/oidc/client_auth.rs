//! Authenticating a client at the PAR and token endpoints: exactly one of
//! `private_key_jwt` (form parameters) or `client_secret_basic` (the
//! Authorization header), with the assertion's `jti` recorded as used.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use eid_core::oidc::client_auth::{CLIENT_ASSERTION_TYPE, verify_assertion, verify_secret};
use eid_core::oidc::{Client, ClientStore, jws};
use eid_core::{ReplayStore, Sighting};

use crate::http::ApiError;
use crate::state::AppState;

fn invalid_client(description: impl Into<String>) -> ApiError {
    ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// The client's credentials in a `Basic` header, form-decoded (RFC 6749 2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| invalid_client("malformed Authorization header"))?;
    let Some(encoded) = text.strip_prefix("Basic ") else {
        return Err(invalid_client(
            "only Basic client authentication is accepted here",
        ));
    };
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
    let decode = |s: &str| -> String {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((decode(id), decode(secret))))
}

async fn load(state: &AppState, client_id: &str) -> Result<Client, ApiError> {
    match state.db().get_client(client_id).await {
        Ok(Some(client)) if client.enabled => Ok(client),
        Ok(_) => Err(invalid_client("unknown or disabled client")),
        Err(e) => Err(ApiError::unavailable(e)),
    }
}

/// Authenticates the client of a PAR or token request.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<Client, ApiError> {
    let basic = basic_credentials(headers)?;
    let assertion = params.get("client_assertion");
    match (basic, assertion) {
        (Some(_), Some(_)) => Err(ApiError::oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "use exactly one client authentication method",
        )),
        (Some((client_id, secret)), None) => {
            let client = load(state, &client_id).await?;
            if params.get("client_id").is_some_and(|id| *id != client_id) {
                return Err(invalid_client("client_id does not match the credentials"));
            }
            verify_secret(&client, &secret).map_err(|e| invalid_client(e.to_string()))?;
            Ok(client)
        }
        (None, Some(assertion)) => {
            if params.get("client_assertion_type").map(String::as_str)
                != Some(CLIENT_ASSERTION_TYPE)
            {
                return Err(invalid_client("client_assertion_type must be jwt-bearer"));
            }
            // Which client: the client_id parameter, or the assertion's sub.
            let named = match params.get("client_id") {
                Some(id) => id.clone(),
                None => jws::parse(assertion)
                    .ok()
                    .and_then(|t| t.unverified_claims())
                    .and_then(|c| c.get("sub").and_then(|s| s.as_str()).map(str::to_owned))
                    .ok_or_else(|| invalid_client("cannot tell which client this is"))?,
            };
            let mut client = load(state, &named).await?;
            if let eid_core::oidc::ClientAuth::PrivateKeyJwtUri { jwks_uri } = &client.auth {
                let kid = jws::parse(assertion)
                    .ok()
                    .and_then(|t| t.header_str("kid").map(str::to_owned));
                let jwks = state
                    .jwks_fetcher()
                    .get(jwks_uri, kid.as_deref(), state.now())
                    .await
                    .map_err(|e| {
                        tracing::warn!(client_id = %client.client_id, error = %e, "client jwks_uri unusable");
                        invalid_client("the client's jwks_uri cannot be read")
                    })?;
                client.auth = eid_core::oidc::ClientAuth::PrivateKeyJwt { jwks };
            }
            let issuer = state.config().issuer();
            let token_endpoint = format!("{issuer}/token");
            let now = state.now();
            let verified = verify_assertion(assertion, &client, &issuer, &token_endpoint, now)
                .map_err(|e| invalid_client(e.to_string()))?;
            let scope = format!("client_assertion:{}", client.client_id);
            let scope: String = scope
                .chars()
                .take(eid_core::replay::MAX_SCOPE_LEN)
                .collect();
            match state
                .db()
                .check_and_record(&scope, &verified.jti, verified.expires_at, now)
                .await
            {
                Ok(Sighting::Fresh) => Ok(client),
                Ok(Sighting::Replayed) => {
                    Err(invalid_client("client assertion jti was already used"))
                }
                Err(e) => Err(ApiError::unavailable(e)),
            }
        }
        (None, None) => Err(invalid_client("client authentication is required")),
    }
}
