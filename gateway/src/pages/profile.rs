//! The citizen's e-ME profile page, `/account/profile`: every field of the
//! catalogue with its value, editable unless it came from a verified
//! source (the smart ID card), which the page marks. The HKID number is
//! shown masked and never put back into the form: an empty box keeps it.
//!
//! A save is all or nothing: when one value is refused the page comes back
//! with what was typed and a hint at each refused field, and nothing is
//! stored.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_core::profile::{DISTRICTS, FIELDS, FieldSpec, Group, Input, Kind, Value};
use serde::Deserialize;

use super::i18n::{Lang, Messages};
use super::{language, render};
use crate::http::error::ApiError;
use crate::profile::Entry;
use crate::signin::csrf_token;
use crate::state::AppState;

/// The six parts of an address input, with their form-name suffixes.
const ADDRESS_PARTS: [&str; 6] = ["flat", "floor", "block", "building", "street", "district"];

/// One option of a select.
#[derive(Debug)]
struct OptionView {
    code: &'static str,
    label: &'static str,
    selected: bool,
}

/// One address part as shown.
#[derive(Debug)]
struct PartView {
    name: String,
    label: &'static str,
    value: String,
}

/// One field as shown.
#[derive(Debug)]
struct FieldView {
    id: &'static str,
    label: &'static str,
    /// `text`, `date`, `select`, `address` or `hkid`.
    control: &'static str,
    autocomplete: &'static str,
    input_type: &'static str,
    value: String,
    preview: String,
    verified: bool,
    has_value: bool,
    options: Vec<OptionView>,
    parts: Vec<PartView>,
    districts: Vec<OptionView>,
    error: &'static str,
}

/// A group of fields as shown.
#[derive(Debug)]
struct GroupView {
    label: &'static str,
    fields: Vec<FieldView>,
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage<'a> {
    m: &'a Messages,
    switch_url: String,
    lang: &'static str,
    csrf: String,
    notice: &'static str,
    has_errors: bool,
    groups: Vec<GroupView>,
}

fn options(
    list: &'static [(&'static str, &'static str, &'static str)],
    lang: Lang,
    selected: &str,
) -> Vec<OptionView> {
    list.iter()
        .map(|(code, en, zh)| OptionView {
            code,
            label: if lang == Lang::En { en } else { zh },
            selected: *code == selected,
        })
        .collect()
}

fn district_options(lang: Lang, selected: &str) -> Vec<OptionView> {
    DISTRICTS
        .iter()
        .map(|(code, en, zh, _)| OptionView {
            code,
            label: if lang == Lang::En { en } else { zh },
            selected: *code == selected,
        })
        .collect()
}

fn part_label(m: &Messages, part: &str) -> &'static str {
    match part {
        "flat" => m.address_flat,
        "floor" => m.address_floor,
        "block" => m.address_block,
        "building" => m.address_building,
        "street" => m.address_street,
        _ => m.address_district,
    }
}

/// The views of every field: stored values, or what was typed when a save
/// came back refused (`typed`, with `errors`).
fn views(
    lang: Lang,
    entries: &[Entry],
    typed: Option<&HashMap<String, String>>,
    errors: &HashMap<&'static str, &'static str>,
) -> Vec<GroupView> {
    let m = lang.messages();
    let el = lang.eme();
    Group::ALL
        .into_iter()
        .map(|group| GroupView {
            label: group.label(el),
            fields: group
                .fields()
                .map(|spec| {
                    let entry = entries.iter().find(|e| e.spec.id == spec.id);
                    field_view(m, lang, spec, entry, typed, errors)
                })
                .collect(),
        })
        .collect()
}

fn field_view(
    m: &Messages,
    lang: Lang,
    spec: &'static FieldSpec,
    entry: Option<&Entry>,
    typed: Option<&HashMap<String, String>>,
    errors: &HashMap<&'static str, &'static str>,
) -> FieldView {
    let el = lang.eme();
    let name = |suffix: Option<&str>| match suffix {
        Some(part) => format!("f.{}.{part}", spec.id),
        None => format!("f.{}", spec.id),
    };
    let typed_or = |key: String, stored: String| match typed {
        Some(form) => form.get(&key).cloned().unwrap_or_default(),
        None => stored,
    };
    let stored_text = match entry.map(|e| &e.value) {
        Some(Value::Text(t)) => t.clone(),
        _ => String::new(),
    };
    let stored_address = match entry.map(|e| &e.value) {
        Some(Value::Address(a)) => Some(a.clone()),
        _ => None,
    };
    let preview = entry.map_or_else(|| m.not_given.to_owned(), |e| spec.preview(&e.value, el));
    let (control, autocomplete, input_type) = match spec.kind {
        Kind::Hkid => ("hkid", "off", "text"),
        Kind::PastDate => ("date", "bday", "date"),
        Kind::Choice(_) => ("select", "off", "text"),
        Kind::Address => ("address", "off", "text"),
        Kind::Phone => ("text", "tel", "tel"),
        Kind::Email => ("text", "email", "email"),
        Kind::EnglishName => ("text", "name", "text"),
        Kind::ChineseName | Kind::Text(_) => ("text", "off", "text"),
    };
    let value = match spec.kind {
        // Never sent back to the browser in full.
        Kind::Hkid | Kind::Address | Kind::Choice(_) => String::new(),
        _ => typed_or(name(None), stored_text.clone()),
    };
    let options = match spec.kind {
        Kind::Choice(list) => options(list, lang, &typed_or(name(None), stored_text)),
        _ => Vec::new(),
    };
    let (parts, districts) = if spec.kind == Kind::Address {
        let stored = |part: &str| {
            stored_address.as_ref().map_or_else(String::new, |a| {
                match part {
                    "flat" => &a.flat,
                    "floor" => &a.floor,
                    "block" => &a.block,
                    "building" => &a.building,
                    "street" => &a.street,
                    _ => &a.district,
                }
                .clone()
            })
        };
        let parts = ADDRESS_PARTS[..5]
            .iter()
            .map(|part| PartView {
                name: name(Some(part)),
                label: part_label(m, part),
                value: typed_or(name(Some(part)), stored(part)),
            })
            .collect();
        let district = typed_or(name(Some("district")), stored("district"));
        (parts, district_options(lang, &district))
    } else {
        (Vec::new(), Vec::new())
    };
    FieldView {
        id: spec.id,
        label: spec.label(el),
        control,
        autocomplete,
        input_type,
        value,
        preview,
        verified: entry.is_some_and(|e| e.verified_by.is_some()),
        has_value: entry.is_some(),
        options,
        parts,
        districts,
        error: errors.get(spec.id).copied().unwrap_or(""),
    }
}

/// Query of the profile page.
#[derive(Debug, Default, Deserialize)]
pub struct ProfileQuery {
    /// `en` or `zh-HK`.
    pub lang: Option<String>,
    /// `saved` after a save.
    pub done: Option<String>,
}

fn unavailable() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "profile_unavailable",
        "e-ME profiles are not configured on this gateway",
    )
}

/// `GET /account/profile`.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ProfileQuery>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let profiles = state.profiles().ok_or_else(unavailable)?;
    let Some((citizen, csrf)) = super::signed_in_page(&state, &headers).await else {
        return Ok(super::account::see_other(&format!(
            "/signin?lang={}",
            lang.tag()
        )));
    };
    let entries = profiles
        .load(state.db(), &citizen.citizen_id)
        .await
        .map_err(ApiError::unavailable)?;
    let m = lang.messages();
    Ok(render(&ProfilePage {
        m,
        switch_url: format!("/account/profile?lang={}", lang.other().tag()),
        lang: lang.tag(),
        csrf,
        notice: if query.done.as_deref() == Some("saved") {
            m.done_saved
        } else {
            ""
        },
        has_errors: false,
        groups: views(lang, &entries, None, &HashMap::new()),
    }))
}

/// `POST /account/profile` (a form: `csrf`, then `f.FIELD` or
/// `f.FIELD.PART` for every field).
pub async fn save(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ProfileQuery>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let lang = language(query.lang.as_deref(), &headers);
    let profiles = state.profiles().ok_or_else(unavailable)?;
    let mut form: HashMap<String, String> = HashMap::new();
    for (name, value) in pairs {
        // A name twice: one of them was not typed by the citizen.
        if form.insert(name, value).is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "duplicate_field",
                "a form field was sent twice",
            ));
        }
    }
    let token = form.get("csrf").cloned().unwrap_or_default();
    let citizen = super::signed_in_with_token(&state, &headers, &token, "profile").await?;
    let entries = profiles
        .load(state.db(), &citizen.citizen_id)
        .await
        .map_err(ApiError::unavailable)?;
    let today = crate::pages::hong_kong_today(state.now());
    let el = lang.eme();
    // Check everything first; store only when all of it is accepted.
    let mut errors: HashMap<&'static str, &'static str> = HashMap::new();
    let mut changes: Vec<(&'static FieldSpec, Option<Value>)> = Vec::new();
    for spec in FIELDS {
        let entry = entries.iter().find(|e| e.spec.id == spec.id);
        if entry.is_some_and(|e| e.verified_by.is_some()) {
            continue;
        }
        let get = |suffix: Option<&str>| {
            let key = match suffix {
                Some(part) => format!("f.{}.{part}", spec.id),
                None => format!("f.{}", spec.id),
            };
            form.get(&key)
                .map(|v| v.trim().to_owned())
                .unwrap_or_default()
        };
        let parsed = if spec.kind == Kind::Address {
            let parts = ADDRESS_PARTS.map(|p| get(Some(p)));
            if parts[..5].iter().all(String::is_empty) {
                None
            } else {
                let refs = [
                    parts[0].as_str(),
                    parts[1].as_str(),
                    parts[2].as_str(),
                    parts[3].as_str(),
                    parts[4].as_str(),
                    parts[5].as_str(),
                ];
                Some(spec.parse(Input::Address(refs), today))
            }
        } else {
            let text = get(None);
            match (spec.kind, text.is_empty()) {
                // The HKID number is never shown in full: empty keeps it.
                (Kind::Hkid, true) => continue,
                (_, true) => None,
                (_, false) => Some(spec.parse(Input::Text(&text), today)),
            }
        };
        match parsed {
            None => {
                if entry.is_some() {
                    changes.push((spec, None));
                }
            }
            Some(Ok(value)) => {
                if entry.map(|e| &e.value) != Some(&value) {
                    changes.push((spec, Some(value)));
                }
            }
            Some(Err(_)) => {
                errors.insert(spec.id, spec.kind.hint(el));
            }
        }
    }
    if !errors.is_empty() {
        let csrf = csrf_token(&headers, state.config().tls.is_some()).unwrap_or_default();
        let m = lang.messages();
        let mut response = render(&ProfilePage {
            m,
            switch_url: format!("/account/profile?lang={}", lang.other().tag()),
            lang: lang.tag(),
            csrf,
            notice: "",
            has_errors: true,
            groups: views(lang, &entries, Some(&form), &errors),
        });
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        response
            .extensions_mut()
            .insert(crate::http::error::OwnBody);
        return Ok(response);
    }
    let now = state.now();
    for (spec, value) in &changes {
        match value {
            Some(value) => {
                profiles
                    .set(state.db(), &citizen.citizen_id, spec, value, None, now)
                    .await
                    .map_err(ApiError::unavailable)?;
            }
            None => {
                profiles
                    .remove(state.db(), &citizen.citizen_id, spec)
                    .await
                    .map_err(ApiError::unavailable)?;
            }
        }
    }
    if !changes.is_empty() {
        let (set, removed): (Vec<_>, Vec<_>) = changes.iter().partition(|(_, v)| v.is_some());
        crate::audit::record(
            &state,
            "profile.change",
            Some(&citizen.citizen_id),
            None,
            serde_json::json!({
                "set": set.iter().map(|(spec, _)| spec.id).collect::<Vec<_>>(),
                "removed": removed.iter().map(|(spec, _)| spec.id).collect::<Vec<_>>(),
            }),
        )
        .await?;
    }
    Ok(
        super::account::see_other(&format!("/account/profile?lang={}&done=saved", lang.tag()))
            .into_response(),
    )
}
