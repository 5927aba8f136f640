//! The consent page, `/consent?flow=...`: a department's request for e-ME
//! profile fields, shown to the signed-in citizen with the department's
//! name, the purpose, how long the data is kept, and each field with a
//! preview of its value (the HKID number masked). Optional fields can be
//! unticked; required ones cannot (the citizen declines instead).
//!
//! Agreeing stores a grant and sends the browser back through
//! `/signin/continue`, which now finds the request covered and issues the
//! code. Declining ends the request: the department gets
//! `error=access_denied`.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use eid_core::consent::{ConsentRequest, Grant};
use eid_core::oidc::ClientStore;
use eid_core::oidc::authz::AuthorizationRequest;
use eid_core::oidc::grant::handle_hash;
use serde::Deserialize;
use time::Duration;

use super::i18n::{Lang, Messages};
use super::language;
use crate::http::error::ApiError;
use crate::signin::is_handle;
use crate::state::AppState;

/// How long a grant lives (reused until then unless revoked).
pub const GRANT_LIFETIME_DAYS: i64 = 365;

/// One field as shown.
#[derive(Debug)]
struct AskedView {
    id: &'static str,
    label: &'static str,
    preview: String,
    essential: bool,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    m: &'a Messages,
    switch_url: String,
    lang: &'static str,
    csrf: String,
    flow: String,
    department: String,
    form_title: String,
    purpose: String,
    retention_days: u32,
    fields: Vec<AskedView>,
}

fn gone() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "flow_expired",
        "this request has expired or was finished; start again from the department's service",
    )
}

/// The waiting request of `flow` and the consent it asks for.
async fn waiting(
    state: &AppState,
    flow: &str,
) -> Result<(AuthorizationRequest, ConsentRequest), ApiError> {
    if !is_handle(flow) {
        return Err(gone());
    }
    let json = state
        .db()
        .pending_authorization(&handle_hash(flow), state.now())
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(gone)?;
    let request: AuthorizationRequest =
        serde_json::from_str(&json).map_err(ApiError::unavailable)?;
    let consent = request.consent_request().ok().flatten().ok_or_else(gone)?;
    Ok((request, consent))
}

/// Query of `GET /consent`.
#[derive(Debug, Default, Deserialize)]
pub struct ConsentQuery {
    /// The waiting request.
    pub flow: Option<String>,
    /// `en` or `zh-HK`.
    pub lang: Option<String>,
}

/// `GET /consent`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ConsentQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let flow = query.flow.unwrap_or_default();
    let (request, consent) = waiting(&state, &flow).await?;
    let Some((citizen, csrf)) = super::signed_in_page(&state, &headers).await else {
        return Ok(super::account::see_other(&format!(
            "/signin?flow={flow}&lang={}",
            lang.tag()
        )));
    };
    let department = state
        .db()
        .get_client(&consent.client_id)
        .await
        .map_err(ApiError::unavailable)?
        .map_or_else(|| consent.client_id.clone(), |c| c.name);
    let entries = match state.profiles() {
        Some(profiles) => profiles
            .load(state.db(), &citizen.citizen_id)
            .await
            .map_err(ApiError::unavailable)?,
        None => Vec::new(),
    };
    let m = lang.messages();
    let el = lang.eme();
    let fields = consent
        .fields
        .iter()
        .map(|asked| {
            let entry = entries.iter().find(|e| e.spec.id == asked.spec.id);
            AskedView {
                id: asked.spec.id,
                label: asked.spec.label(el),
                preview: entry.map_or_else(
                    || m.consent_missing.to_owned(),
                    |e| asked.spec.preview(&e.value, el),
                ),
                essential: asked.essential,
            }
        })
        .collect();
    let form_title = consent
        .form
        .as_ref()
        .map_or_else(String::new, |f| match lang {
            Lang::En => f.title_en.clone(),
            Lang::ZhHk => f.title_zh.clone(),
        });
    // Approving or declining ends at the department's redirect URI.
    let department_origin = super::helper_origin(&request.redirect_uri);
    Ok(super::render_with_origins(
        &ConsentPage {
            m,
            switch_url: format!("/consent?flow={flow}&lang={}", lang.other().tag()),
            lang: lang.tag(),
            csrf,
            flow,
            department,
            form_title,
            purpose: consent.purpose.clone(),
            retention_days: consent.retention_days,
            fields,
        },
        None,
        department_origin.as_deref(),
    ))
}

/// `POST /consent` (a form: `csrf`, `flow`, `decision` = `approve` or
/// `decline`, and one `field` per ticked field).
pub async fn decide(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let single = |name: &str| -> Result<String, ApiError> {
        let mut values = pairs.iter().filter(|(n, _)| n == name).map(|(_, v)| v);
        match (values.next(), values.next()) {
            (Some(v), None) => Ok(v.clone()),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_form",
                format!("the form needs exactly one {name}"),
            )),
        }
    };
    let (token, flow, decision) = (single("csrf")?, single("flow")?, single("decision")?);
    let citizen = super::signed_in_with_token(&state, &headers, &token, "consent").await?;
    let (request, consent) = waiting(&state, &flow).await?;
    match decision.as_str() {
        "approve" => {
            let ticked: Vec<&str> = pairs
                .iter()
                .filter(|(n, _)| n == "field")
                .map(|(_, v)| v.as_str())
                .collect();
            let unticked: Vec<&str> = consent
                .fields
                .iter()
                .map(|f| f.spec.id)
                .filter(|id| !ticked.contains(id))
                .collect();
            let id = crate::signin::random_handle()
                .ok_or_else(|| ApiError::unavailable("random generator failure"))?;
            let grant = Grant::decide(
                id,
                &citizen.citizen_id,
                &consent,
                &unticked,
                state.now(),
                Duration::days(GRANT_LIFETIME_DAYS),
            )
            .map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_decision", e.to_string())
            })?;
            state
                .db()
                .insert_grant(&grant)
                .await
                .map_err(ApiError::unavailable)?;
            crate::audit::record(
                &state,
                "consent.grant",
                Some(&citizen.citizen_id),
                Some(&grant.client_id),
                serde_json::json!({
                    "grant": grant.id,
                    "asked": grant.asked,
                    "granted": grant.granted,
                    "form": grant.form_id,
                }),
            )
            .await?;
            Ok(super::account::see_other(&format!(
                "/signin/continue?flow={flow}"
            )))
        }
        "decline" => {
            state
                .db()
                .take_pending_authorization(&handle_hash(&flow), state.now())
                .await
                .map_err(ApiError::unavailable)?
                .ok_or_else(gone)?;
            crate::audit::record(
                &state,
                "consent.decline",
                Some(&citizen.citizen_id),
                Some(&consent.client_id),
                serde_json::json!({ "asked": consent.field_ids() }),
            )
            .await?;
            let issuer = state.config().issuer();
            let mut params = vec![
                ("error", "access_denied"),
                (
                    "error_description",
                    "the citizen declined to share these details",
                ),
            ];
            if let Some(s) = &request.state {
                params.push(("state", s));
            }
            params.push(("iss", &issuer));
            Ok(crate::http::flow::redirect(&request.redirect_uri, &params))
        }
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_form",
            "decision must be approve or decline",
        )),
    }
}
