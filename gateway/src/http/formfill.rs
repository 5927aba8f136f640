//! `POST /v1/formfill`: a department fills a form from the citizen's e-ME
//! profile. The request carries an access token issued to the department
//! after the citizen agreed to the form (the `form` parameter at `/par`),
//! and the form-fill request again: the form, its fields under the form's
//! names, the purpose and retention. The answer holds the granted fields
//! that have values, under the form's names, and nothing else: a field
//! the citizen did not agree to (or a wider request than the one agreed
//! to) gets `403 consent_required`, a revoked or expired consent an empty
//! answer.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_core::consent::{ConsentRequest, FormFillAsk};
use serde_json::{Map, json};

use super::error::ApiError;
use crate::state::AppState;

fn consent_required(detail: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "consent_required",
        format!("{detail}; send the citizen through /par with this form to ask"),
    )
}

/// `POST /v1/formfill`.
pub async fn fill(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let access = match super::flow::access_grant(&state, &headers, "POST", "/v1/formfill").await? {
        Ok(access) => access,
        Err(refusal) => return Ok(refusal),
    };
    let ask: FormFillAsk = serde_json::from_slice(&body).map_err(ApiError::malformed_json)?;
    let request = ConsentRequest::from_form(&access.client_id, &ask).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_form_request",
            e.to_string(),
        )
    })?;
    let (Some(grant_id), Some(citizen_id)) = (&access.consent_grant, &access.citizen_id) else {
        return Err(consent_required("this token carries no consent"));
    };
    let grant = state
        .db()
        .grant_for_client(&access.client_id, grant_id)
        .await
        .map_err(ApiError::unavailable)?
        .filter(|g| g.citizen_id == *citizen_id)
        .ok_or_else(|| consent_required("no consent for this token"))?;
    let now = state.now();
    // Revoked or expired: nothing is released, and the department learns
    // that it must ask again.
    if !grant.is_live(now) {
        return Ok(
            Json(json!({ "form": ask.form.id, "fields": {}, "consent": "ended" })).into_response(),
        );
    }
    if !grant.covers(citizen_id, &request, now) {
        return Err(consent_required(
            "the citizen did not agree to this form, purpose or these fields",
        ));
    }
    let released = crate::consent::released_claims(&state, &grant).await?;
    let mut fields = Map::new();
    for asked in &request.fields {
        if let Some(value) = released.get(asked.spec.claim) {
            fields.insert(asked.form_name.clone(), value.clone());
        }
    }
    crate::audit::record(
        &state,
        "release",
        Some(citizen_id),
        Some(&access.client_id),
        json!({
            "grant": grant.id,
            "via": "formfill",
            "form": ask.form.id,
            "fields": request
                .fields
                .iter()
                .filter(|f| fields.contains_key(&f.form_name))
                .map(|f| f.spec.id)
                .collect::<Vec<_>>(),
        }),
    )
    .await?;
    Ok(Json(json!({ "form": ask.form.id, "fields": fields, "consent": grant.id })).into_response())
}
