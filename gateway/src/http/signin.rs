//! Passkey sign-in over JSON, for the sign-in pages' script:
//!
//! - `POST /signin/passkey/register/begin` and `.../finish`: a new account
//!   with its first passkey (or, when signed in, one more passkey);
//! - `POST /signin/passkey/begin` and `.../finish`: sign-in with a
//!   discoverable passkey;
//! - `POST /signout` (`{"everywhere": true}` ends every session of the
//!   citizen).
//!
//! Requests must be `application/json` and, when the browser says where
//! they come from (`Origin`, `Sec-Fetch-Site`), come from the gateway's own
//! origin: a cross-site form or script cannot drive them. Every refusal is
//! the same generic `sign_in_failed`, so that nothing tells whether an
//! account or a passkey exists.

use axum::Json;
use axum::extract::State;
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use eid_core::oidc::grant::handle_hash;
use eid_core::session::SignInMethod;
use serde::Deserialize;
use serde_json::json;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::error::ApiError;
use crate::signin::cookie_name;
use crate::signin::passkeys::{PasskeyError, Passkeys};
use crate::state::AppState;

pub(crate) fn failed() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "sign_in_failed",
        "sign-in did not succeed; start again",
    )
}

fn refused(error: PasskeyError) -> ApiError {
    match error {
        PasskeyError::Store(e) => ApiError::unavailable(e),
        PasskeyError::Config(e) => ApiError::unavailable(e),
        other => {
            tracing::info!(reason = %other, "passkey ceremony refused");
            failed()
        }
    }
}

/// Refuses requests a cross-site page could make.
pub(crate) fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim() == "application/json")
        });
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send application/json",
        ));
    }
    let cross_site = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "cross-site request refused",
        )
    };
    if let Some(origin) = headers.get("origin")
        && origin.to_str().ok() != Some(state.config().issuer().as_str())
    {
        return Err(cross_site());
    }
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin") | Ok("none"))
    {
        return Err(cross_site());
    }
    Ok(())
}

fn passkeys(state: &AppState) -> Result<&Passkeys, ApiError> {
    state
        .passkeys()
        .ok_or_else(|| ApiError::unavailable("passkeys are not configured (see the log at start)"))
}

/// Starts a session for `citizen_id` at `acr` with `amr`; returns the
/// `Set-Cookie` value that hands it to the browser.
pub(crate) async fn start_session(
    state: &AppState,
    citizen_id: &str,
    acr: &str,
    amr: &[String],
) -> Result<HeaderValue, ApiError> {
    let value = crate::signin::random_handle()
        .ok_or_else(|| ApiError::unavailable("random generator failure"))?;
    state
        .db()
        .insert_session(&handle_hash(&value), citizen_id, acr, amr, state.now())
        .await
        .map_err(ApiError::unavailable)?;
    let tls = state.config().tls.is_some();
    let cookie = format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        cookie_name(tls),
        state.config().signin.session_absolute_secs,
        if tls { "; Secure" } else { "" },
    );
    HeaderValue::from_str(&cookie).map_err(ApiError::unavailable)
}

/// Starts a session for `citizen_id` and answers with its cookie.
async fn signed_in(
    state: &AppState,
    citizen_id: &str,
    method: SignInMethod,
) -> Result<Response, ApiError> {
    crate::audit::record(
        state,
        "signin",
        Some(citizen_id),
        None,
        json!({ "method": "passkey", "acr": method.acr() }),
    )
    .await?;
    let cookie = start_session(state, citizen_id, method.acr(), &method.amr()).await?;
    let mut response = Json(json!({ "status": "signed_in", "acr": method.acr() })).into_response();
    response.headers_mut().insert(SET_COOKIE, cookie);
    Ok(response)
}

/// Body of a `begin` call.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Begin {}

/// `POST /signin/passkey/register/begin`.
pub async fn register_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let citizen = state
        .sessions()
        .current(&headers)
        .await
        .map(|a| a.citizen_id);
    let (ceremony, options) = passkeys(&state)?
        .begin_registration(state.db(), citizen.as_deref(), state.now())
        .await
        .map_err(refused)?;
    Ok(Json(json!({ "ceremony": ceremony, "options": options })).into_response())
}

/// Body of `POST /signin/passkey/register/finish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterFinish {
    /// The handle from `begin`.
    pub ceremony: String,
    /// What `navigator.credentials.create` returned.
    pub credential: RegisterPublicKeyCredential,
    /// The citizen's name for the passkey.
    #[serde(default)]
    pub name: String,
}

/// `POST /signin/passkey/register/finish`.
pub async fn register_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let body: RegisterFinish = serde_json::from_slice(&body).map_err(|_| failed())?;
    let signed_in_before = state.sessions().current(&headers).await;
    let citizen_id = passkeys(&state)?
        .finish_registration(
            state.db(),
            &body.ceremony,
            &body.credential,
            &body.name,
            state.now(),
        )
        .await
        .map_err(refused)?;
    if signed_in_before.is_some() {
        crate::audit::record(
            &state,
            "account.passkey_added",
            Some(&citizen_id),
            None,
            json!({}),
        )
        .await?;
        return Ok(Json(json!({ "status": "passkey_added" })).into_response());
    }
    crate::audit::record(
        &state,
        "account.created",
        Some(&citizen_id),
        None,
        json!({ "method": "passkey" }),
    )
    .await?;
    signed_in(
        &state,
        &citizen_id,
        SignInMethod::Passkey {
            verified_identity: false,
        },
    )
    .await
}

/// `POST /signin/passkey/begin`.
pub async fn sign_in_begin(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let (ceremony, options) = passkeys(&state)?
        .begin_sign_in(state.db(), state.now())
        .await
        .map_err(refused)?;
    Ok(Json(json!({ "ceremony": ceremony, "options": options })).into_response())
}

/// Body of `POST /signin/passkey/finish`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInFinish {
    /// The handle from `begin`.
    pub ceremony: String,
    /// What `navigator.credentials.get` returned.
    pub credential: PublicKeyCredential,
}

/// `POST /signin/passkey/finish`.
pub async fn sign_in_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let body: SignInFinish = serde_json::from_slice(&body).map_err(|_| failed())?;
    // Attempts on one account are limited whatever address they come
    // from. The credential id is public; the answer stays generic.
    let raw_id: &[u8] = body.credential.raw_id.as_ref();
    if raw_id.len() <= 1023
        && let Some((owner, _)) = state
            .db()
            .passkey(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw_id))
            .await
            .map_err(ApiError::unavailable)?
        && let Err(wait) = state.account_limiter().check(&owner)
    {
        return Ok(super::limit::too_many(wait));
    }
    let citizen_id = passkeys(&state)?
        .finish_sign_in(state.db(), &body.ceremony, &body.credential, state.now())
        .await
        .map_err(refused)?;
    // A verified card identity raises a passkey sign-in to `substantial`.
    let verified_identity = state
        .db()
        .has_card(&citizen_id)
        .await
        .map_err(ApiError::unavailable)?;
    signed_in(
        &state,
        &citizen_id,
        SignInMethod::Passkey { verified_identity },
    )
    .await
}

/// Body of `POST /signout`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignOut {
    /// End every session of the citizen, on every device.
    #[serde(default)]
    pub everywhere: bool,
}

/// `POST /signout`.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let body: SignOut = if body.is_empty() {
        SignOut::default()
    } else {
        serde_json::from_slice(&body).map_err(ApiError::malformed_json)?
    };
    let current = state.sessions().current(&headers).await;
    let mut ended = 0;
    if let Some(authentication) = current {
        if body.everywhere {
            ended = state
                .db()
                .delete_sessions_of(&authentication.citizen_id)
                .await
                .map_err(ApiError::unavailable)?;
        } else {
            state.sessions().end(&headers).await;
            ended = 1;
        }
    }
    let tls = state.config().tls.is_some();
    let clear = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        cookie_name(tls),
        if tls { "; Secure" } else { "" },
    );
    let mut response =
        Json(json!({ "status": "signed_out", "sessions_ended": ended })).into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(response)
}
