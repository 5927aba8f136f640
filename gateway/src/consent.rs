//! Consent in the OpenID Connect flow: whether a request for e-ME profile
//! fields needs the citizen's decision, the grant that covers it, and the
//! claims a grant releases.

use eid_core::consent::{ConsentRequest, Grant};
use eid_core::oidc::authz::{AuthorizationRequest, Prompt};
use eid_core::profile::{FIELDS, Value};
use serde_json::Map;

use crate::http::error::ApiError;
use crate::state::AppState;

/// What a request needs before its code is issued.
#[derive(Debug, Clone)]
pub enum Needed {
    /// No profile field asked for.
    Nothing,
    /// A live grant covers it.
    Covered(Grant),
    /// The citizen must decide.
    Ask(ConsentRequest),
}

/// A live grant of `citizen_id` covering `request`, newest first.
pub async fn covering_grant(
    state: &AppState,
    citizen_id: &str,
    request: &ConsentRequest,
) -> Result<Option<Grant>, ApiError> {
    let now = state.now();
    Ok(state
        .db()
        .grants_of(citizen_id, Some(&request.client_id))
        .await
        .map_err(ApiError::unavailable)?
        .into_iter()
        .find(|g| g.covers(citizen_id, request, now)))
}

/// What `request` needs from `citizen_id`. `prompt=consent` asks again
/// even when a grant covers the request.
pub async fn needed(
    state: &AppState,
    request: &AuthorizationRequest,
    citizen_id: &str,
) -> Result<Needed, ApiError> {
    let Some(consent) = request.consent_request().map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "invalid_request",
            e.to_string(),
        )
    })?
    else {
        return Ok(Needed::Nothing);
    };
    if request.prompt.contains(&Prompt::Consent) {
        return Ok(Needed::Ask(consent));
    }
    Ok(match covering_grant(state, citizen_id, &consent).await? {
        Some(grant) => Needed::Covered(grant),
        None => Needed::Ask(consent),
    })
}

/// The claims `grant` releases now: each granted field that has a value,
/// under its claim name (an address as an object), and nothing when the
/// grant is revoked or expired or profiles are not configured.
pub async fn released_claims(
    state: &AppState,
    grant: &Grant,
) -> Result<Map<String, serde_json::Value>, ApiError> {
    let mut claims = Map::new();
    let Some(profiles) = state.profiles() else {
        return Ok(claims);
    };
    let now = state.now();
    if !grant.is_live(now) {
        return Ok(claims);
    }
    let entries = profiles
        .load(state.db(), &grant.citizen_id)
        .await
        .map_err(ApiError::unavailable)?;
    let values: Vec<_> = entries.into_iter().map(|e| (e.spec, e.value)).collect();
    for (spec, value) in grant.release(&values, now) {
        let json = match value {
            Value::Text(text) => serde_json::Value::String(text.clone()),
            Value::Address(address) => {
                serde_json::to_value(address).map_err(ApiError::unavailable)?
            }
        };
        claims.insert(spec.claim.to_owned(), json);
    }
    debug_assert!(claims.keys().all(|k| FIELDS.iter().any(|f| f.claim == k)));
    Ok(claims)
}
