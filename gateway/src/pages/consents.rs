//! The citizen's consents page, `/account/consents`: every grant with its
//! department, form, purpose, fields, dates and state, and a button that
//! revokes a live one. Revoking behind the session's CSRF token; a
//! revoked grant releases nothing more and is not reused.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use eid_core::oidc::ClientStore;
use eid_core::profile::field;
use serde::Deserialize;
use time::macros::format_description;

use super::i18n::Messages;
use super::{language, render};
use crate::http::error::ApiError;
use crate::state::AppState;

/// One grant as shown.
#[derive(Debug)]
struct GrantView {
    id: String,
    department: String,
    form: String,
    purpose: String,
    fields: Vec<&'static str>,
    granted: String,
    until: String,
    live: bool,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "consents.html")]
struct ConsentsPage<'a> {
    m: &'a Messages,
    switch_url: String,
    lang: &'static str,
    csrf: String,
    notice: &'static str,
    grants: Vec<GrantView>,
}

/// Query of the consents page.
#[derive(Debug, Default, Deserialize)]
pub struct ConsentsQuery {
    /// `en` or `zh-HK`.
    pub lang: Option<String>,
    /// `revoked` after a revocation.
    pub done: Option<String>,
}

/// `GET /account/consents`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ConsentsQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let Some((citizen, csrf)) = super::signed_in_page(&state, &headers).await else {
        return Ok(super::account::see_other(&format!(
            "/signin?lang={}",
            lang.tag()
        )));
    };
    let m = lang.messages();
    let el = lang.eme();
    let date = format_description!("[year]-[month]-[day]");
    let now = state.now();
    let mut grants = Vec::new();
    for grant in state
        .db()
        .grants_of(&citizen.citizen_id, None)
        .await
        .map_err(ApiError::unavailable)?
    {
        let department = state
            .db()
            .get_client(&grant.client_id)
            .await
            .map_err(ApiError::unavailable)?
            .map_or_else(|| grant.client_id.clone(), |c| c.name);
        let live = grant.is_live(now);
        grants.push(GrantView {
            department,
            form: grant.form_id.clone().unwrap_or_default(),
            purpose: grant.purpose.clone(),
            fields: grant
                .granted
                .iter()
                .filter_map(|id| field(id).map(|f| f.label(el)))
                .collect(),
            granted: grant.granted_at.format(&date).unwrap_or_default(),
            until: grant.expires_at.format(&date).unwrap_or_default(),
            live,
            state: if grant.revoked_at.is_some() {
                m.consent_state_revoked
            } else if live {
                m.consent_state_live
            } else {
                m.consent_state_expired
            },
            id: grant.id,
        });
    }
    Ok(render(&ConsentsPage {
        m,
        switch_url: format!("/account/consents?lang={}", lang.other().tag()),
        lang: lang.tag(),
        csrf,
        notice: if query.done.as_deref() == Some("revoked") {
            m.done_consent_revoked
        } else {
            ""
        },
        grants,
    }))
}

/// A revocation.
#[derive(Debug, Deserialize)]
pub struct Revoke {
    /// The session's CSRF token.
    pub csrf: String,
    /// Which grant.
    pub grant: String,
}

/// `POST /account/consents`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ConsentsQuery>,
    Form(form): Form<Revoke>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let citizen = super::signed_in_with_token(&state, &headers, &form.csrf, "consents").await?;
    // Only the citizen's own live grant; anything else changes nothing.
    let client_id = state
        .db()
        .grants_of(&citizen.citizen_id, None)
        .await
        .map_err(ApiError::unavailable)?
        .into_iter()
        .find(|g| g.id == form.grant)
        .map(|g| g.client_id);
    let revoked = state
        .db()
        .revoke_grant(&citizen.citizen_id, &form.grant, state.now())
        .await
        .map_err(ApiError::unavailable)?;
    if !revoked {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "no_such_grant",
            "no such live consent of yours",
        ));
    }
    crate::audit::record(
        &state,
        "consent.revoke",
        Some(&citizen.citizen_id),
        client_id.as_deref(),
        serde_json::json!({ "grant": form.grant }),
    )
    .await?;
    Ok(super::account::see_other(&format!(
        "/account/consents?lang={}&done=revoked",
        lang.tag()
    )))
}
