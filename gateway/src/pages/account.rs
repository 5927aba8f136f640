//! The citizen's account page: their passkeys (list, rename, remove, never
//! the last one) and sign-out, here or everywhere. Every form carries the
//! session's CSRF token; a post without it changes nothing.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::macros::format_description;

use super::i18n::Messages;
use super::language;
use crate::http::error::ApiError;
use crate::signin::passkeys::MAX_NAME_CHARS;
use crate::state::AppState;
use crate::store::signin::Removal;

/// One passkey as shown.
#[derive(Debug)]
struct KeyView {
    id: String,
    name: String,
    created: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    m: &'a Messages,
    switch_url: String,
    lang: &'static str,
    csrf: String,
    notice: &'static str,
    passkeys: Vec<KeyView>,
    card_enabled: bool,
    has_card: bool,
    can_bind: bool,
    card_tls_link: String,
    helper_url: String,
    profile_enabled: bool,
}

/// Query of the account page.
#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    /// `en` or `zh-HK`.
    pub lang: Option<String>,
    /// What the last change did.
    pub done: Option<String>,
    /// The result of a card sign-in or binding that came back here.
    pub card: Option<String>,
}

pub(crate) fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(LOCATION, value)]).into_response(),
        Err(e) => ApiError::unavailable(e).into_response(),
    }
}

/// `GET /account/passkeys`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AccountQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let Some((citizen, csrf)) = super::signed_in_page(&state, &headers).await else {
        return Ok(see_other(&format!("/signin?lang={}", lang.tag())));
    };
    let m = lang.messages();
    let date = format_description!("[year]-[month]-[day]");
    let passkeys = state
        .db()
        .passkeys_of(&citizen.citizen_id)
        .await
        .map_err(ApiError::unavailable)?
        .into_iter()
        .map(|k| KeyView {
            id: k.credential_id,
            name: k.name,
            created: k.created_at.format(&date).unwrap_or_default(),
            last_used: k
                .last_used_at
                .and_then(|t| t.format(&date).ok())
                .unwrap_or_else(|| m.never.to_owned()),
        })
        .collect();
    let notice = match (query.done.as_deref(), query.card.as_deref()) {
        (Some("renamed"), _) => m.done_renamed,
        (Some("removed"), _) => m.done_removed,
        (Some("refused"), _) => m.done_refused,
        (_, Some("card_bound")) => m.done_card_bound,
        (_, Some("signed_in")) => m.done_card_signed_in,
        (_, code) => super::card_message(m, code),
    };
    let has_card = state
        .db()
        .has_card(&citizen.citizen_id)
        .await
        .map_err(ApiError::unavailable)?;
    let helper_url = super::helper_url(&state);
    let card_tls_link = super::card_tls_link(
        &state,
        &[("intent", "bind"), ("csrf", &csrf), ("lang", lang.tag())],
    );
    Ok(super::render_with_helper(
        &AccountPage {
            m,
            switch_url: format!("/account/passkeys?lang={}", lang.other().tag()),
            lang: lang.tag(),
            notice,
            passkeys,
            card_enabled: state.cards().is_some()
                && (!card_tls_link.is_empty() || !helper_url.is_empty()),
            has_card,
            // Binding needs a passkey sign-in in this session.
            can_bind: citizen.amr.iter().any(|m| m == "hwk"),
            card_tls_link,
            helper_url: helper_url.clone(),
            profile_enabled: state.profiles().is_some(),
            csrf,
        },
        &helper_url,
    ))
}

/// A rename or removal.
#[derive(Debug, Deserialize)]
pub struct PasskeyChange {
    /// The session's CSRF token.
    pub csrf: String,
    /// `rename` or `remove`.
    pub action: String,
    /// Which passkey.
    pub credential_id: String,
    /// The new name (rename).
    #[serde(default)]
    pub name: String,
}

/// `POST /account/passkeys`.
pub async fn change(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AccountQuery>,
    Form(form): Form<PasskeyChange>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers).tag();
    let citizen = super::signed_in_with_token(&state, &headers, &form.csrf, "account").await?;
    let db = state.db();
    let done = match form.action.as_str() {
        "rename" => {
            let name: String = form
                .name
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_NAME_CHARS)
                .collect();
            let ok = !name.trim().is_empty()
                && db
                    .rename_passkey(&citizen.citizen_id, &form.credential_id, name.trim())
                    .await
                    .map_err(ApiError::unavailable)?;
            if ok { "renamed" } else { "refused" }
        }
        "remove" => match db
            .remove_passkey(&citizen.citizen_id, &form.credential_id)
            .await
            .map_err(ApiError::unavailable)?
        {
            Removal::Removed => "removed",
            Removal::LastOne | Removal::NotFound => "refused",
        },
        _ => "refused",
    };
    Ok(see_other(&format!(
        "/account/passkeys?lang={lang}&done={done}"
    )))
}

/// Sign-out from the account page.
#[derive(Debug, Deserialize)]
pub struct SignOutForm {
    /// The session's CSRF token.
    pub csrf: String,
    /// `true` to end every session of the citizen.
    #[serde(default)]
    pub everywhere: String,
}

/// `POST /account/signout`.
pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<AccountQuery>,
    Form(form): Form<SignOutForm>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers).tag();
    let citizen = super::signed_in_with_token(&state, &headers, &form.csrf, "account").await?;
    if form.everywhere == "true" {
        state
            .db()
            .delete_sessions_of(&citizen.citizen_id)
            .await
            .map_err(ApiError::unavailable)?;
    } else {
        state.sessions().end(&headers).await;
    }
    Ok(see_other(&format!("/signin?lang={lang}")))
}
