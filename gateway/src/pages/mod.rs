//! Server-rendered citizen pages (askama templates under `templates/`),
//! in English and Traditional Chinese, with our own stylesheet and script
//! under `/static` and nothing from third parties.
//!
//! The language comes from the `lang` query parameter (the switch on every
//! page and the department's `ui_locales`), else from the browser's
//! `Accept-Language`, else English.

pub mod account;
pub mod i18n;

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
}

/// `GET /signin`.
pub async fn sign_in(
    State(_state): State<AppState>,
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
    let mut switch = form_urlencoded::Serializer::new(String::new());
    if !flow.is_empty() {
        switch.append_pair("flow", &flow);
    }
    switch.append_pair("lang", lang.other().tag());
    if step_up {
        switch.append_pair("step_up", "1");
    }
    render(&SignInPage {
        m: lang.messages(),
        switch_url: format!("/signin?{}", switch.finish()),
        flow,
        step_up,
    })
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

fn asset(content_type: &'static str, body: &'static str) -> Response {
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
