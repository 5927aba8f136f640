//! Server-rendered citizen pages (askama templates under `templates/`),
//! in English and Traditional Chinese, with our own stylesheet and script
//! under `/static` and nothing from third parties.
//!
//! The language comes from the `lang` query parameter (the switch on every
//! page and the department's `ui_locales`), else from the browser's
//! `Accept-Language`, else English.

pub mod account;
pub mod consent;
pub mod consents;
pub mod i18n;
pub mod pay;
pub mod profile;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use self::i18n::{Lang, Messages};
use crate::http::error::ApiError;
use crate::state::AppState;

/// Picks the page language.
pub fn language(query: Option<&str>, headers: &HeaderMap) -> Lang {
    if let Some(lang) = query.and_then(Lang::from_tag) {
        return lang;
    }
    let accept = headers
        .get(ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // The first language the browser names that we have wins.
    accept
        .split(',')
        .filter_map(|part| part.split(';').next())
        .find_map(|tag| Lang::from_tag(tag.trim()))
        .unwrap_or(Lang::En)
}

fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => ([(CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => ApiError::unavailable(format!("template: {e}")).into_response(),
    }
}

/// The sign-in page.
#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    m: &'a Messages,
    switch_url: String,
    flow: String,
    step_up: bool,
    card_enabled: bool,
    card_tls_link: String,
    helper_url: String,
    card_message: &'static str,
    card_intent: &'static str,
}

/// The message for a card sign-in's result code (`card=` in the URL the
/// card listener sends the browser back to).
pub fn card_message(m: &Messages, code: Option<&str>) -> &'static str {
    match code {
        Some("failed") | Some("too_many_requests") | Some("service_unavailable") => m.card_failed,
        Some("no_certificate") => m.card_none,
        Some("unavailable") => m.card_unavailable,
        Some("card_in_use") => m.done_card_in_use,
        Some("account_has_card") => m.done_account_has_card,
        Some("passkey_sign_in_required") => m.card_bind_needs_passkey,
        _ => "",
    }
}

/// The card listener's sign-in link, with what it needs to send the
/// citizen back (empty without a card listener).
pub fn card_tls_link(state: &AppState, pairs: &[(&str, &str)]) -> String {
    let Some(base) = state.config().card_tls_url() else {
        return String::new();
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    format!("{base}/signin/card/tls?{}", query.finish())
}

/// The configured card-reader helper URL (empty when none).
pub fn helper_url(state: &AppState) -> String {
    state
        .config()
        .signin
        .card
        .as_ref()
        .and_then(|c| c.helper_url.clone())
        .unwrap_or_default()
}

/// Renders a page that may talk to the card-reader helper: its origin is
/// added to `connect-src` (nothing else is).
pub(crate) fn render_with_helper(template: &impl Template, helper_url: &str) -> Response {
    render_with_origins(template, helper_origin(helper_url).as_deref(), None)
}

/// Renders a page whose Content-Security-Policy also allows `connect`
/// for `connect-src` (the card-reader helper) and `form_target` for
/// `form-action` (where a form's redirects end: browsers apply
/// `form-action` to every redirect after a submission, so a form that
/// sends the citizen back to a department names the department's origin).
pub(crate) fn render_with_origins(
    template: &impl Template,
    connect: Option<&str>,
    form_target: Option<&str>,
) -> Response {
    let mut response = render(template);
    if connect.is_none() && form_target.is_none() {
        return response;
    }
    let mut policy = crate::http::headers::CONTENT_SECURITY_POLICY.to_owned();
    if let Some(origin) = connect {
        policy = policy.replacen(
            "default-src 'self';",
            &format!("default-src 'self'; connect-src 'self' {origin};"),
            1,
        );
    }
    if let Some(origin) = form_target {
        policy = policy.replacen(
            "form-action 'self';",
            &format!("form-action 'self' {origin};"),
            1,
        );
    }
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

/// `scheme://host[:port]` of an http(s) URL (a helper, a department's
/// redirect URI), if it is one.
pub(crate) fn helper_origin(url: &str) -> Option<String> {
    let parsed = webauthn_rs::prelude::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(())?;
    Some(parsed.origin().ascii_serialization())
}

/// Query of `GET /signin`.
#[derive(Debug, Default, Deserialize)]
pub struct SignInQuery {
    /// The waiting authorization request's handle.
    pub flow: Option<String>,
    /// `en` or `zh-HK`.
    pub lang: Option<String>,
    /// `1` when the session's level was too low.
    pub step_up: Option<String>,
    /// The result of a card sign-in that came back here.
    pub card: Option<String>,
}

/// `GET /signin`.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<SignInQuery>,
) -> Response {
    let lang = language(query.lang.as_deref(), &headers);
    // A handle that is not one of ours is dropped, not echoed.
    let flow = query
        .flow
        .filter(|f| crate::signin::is_handle(f))
        .unwrap_or_default();
    let step_up = query.step_up.as_deref() == Some("1");
    // (The serializer is not Send: gone before any await.)
    let switch_url = {
        let mut switch = form_urlencoded::Serializer::new(String::new());
        if !flow.is_empty() {
            switch.append_pair("flow", &flow);
        }
        switch.append_pair("lang", lang.other().tag());
        if step_up {
            switch.append_pair("step_up", "1");
        }
        format!("/signin?{}", switch.finish())
    };
    let m = lang.messages();
    let helper_url = helper_url(&state);
    // Stepping up from a passkey session on an account without a card: the
    // card is linked to that account (the citizen proves both in one
    // session), so the department keeps seeing the same person.
    let mut bind_csrf = None;
    if step_up && state.cards().is_some() {
        let tls = state.config().tls.is_some();
        let current = state.sessions().current(&headers).await;
        let passkey_account = current
            .filter(|c| c.amr.iter().any(|m| m == "hwk"))
            .map(|c| c.citizen_id);
        if let Some(citizen_id) = passkey_account {
            let has_card = state.db().has_card(&citizen_id).await.unwrap_or(true);
            if !has_card {
                bind_csrf = crate::signin::csrf_token(&headers, tls);
            }
        }
    }
    let tls_link = match &bind_csrf {
        Some(csrf) => card_tls_link(
            &state,
            &[
                ("flow", &flow),
                ("lang", lang.tag()),
                ("intent", "bind"),
                ("csrf", csrf),
            ],
        ),
        None => card_tls_link(&state, &[("flow", &flow), ("lang", lang.tag())]),
    };
    render_with_helper(
        &SignInPage {
            m,
            switch_url,
            card_intent: if bind_csrf.is_some() {
                "bind"
            } else {
                "sign_in"
            },
            card_enabled: state.cards().is_some()
                && (!tls_link.is_empty() || !helper_url.is_empty()),
            card_tls_link: tls_link,
            card_message: card_message(m, query.card.as_deref()),
            helper_url: helper_url.clone(),
            flow,
            step_up,
        },
        &helper_url,
    )
}

/// The signed-in citizen and their session's CSRF token, for a page that
/// shows forms; `None` when nobody is signed in.
pub(crate) async fn signed_in_page(
    state: &AppState,
    headers: &HeaderMap,
) -> Option<(eid_core::oidc::grant::Authentication, String)> {
    let tls = state.config().tls.is_some();
    let citizen = state.sessions().current(headers).await?;
    let csrf = crate::signin::csrf_token(headers, tls)?;
    Some((citizen, csrf))
}

/// The signed-in citizen posting a form from `page`, if the form carries
/// the session's CSRF token; otherwise 403 and nothing changes.
pub(crate) async fn signed_in_with_token(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    page: &str,
) -> Result<eid_core::oidc::grant::Authentication, ApiError> {
    let tls = state.config().tls.is_some();
    match state.sessions().current(headers).await {
        Some(citizen) if crate::signin::csrf_ok(headers, tls, token) => Ok(citizen),
        _ => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_or_session",
            format!("sign in again and use the form on the {page} page"),
        )),
    }
}

/// Today's date in Hong Kong (UTC+8, no daylight saving), which bounds
/// dates citizens give.
pub fn hong_kong_today(now: time::OffsetDateTime) -> time::Date {
    now.to_offset(time::macros::offset!(+8)).date()
}

/// `GET /static/site.css`.
pub async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/site.css"),
    )
}

/// `GET /static/signin.js`.
pub async fn signin_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/signin.js"),
    )
}

pub(crate) fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}
