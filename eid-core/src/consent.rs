//! Consent: what a department asks for, what the citizen grants, and the
//! filter that releases exactly the granted fields.
//!
//! A department asks in one of two ways:
//!
//! - through OpenID Connect: the `eme.*` scopes (every field of the group)
//!   and the `claims` parameter (single claims, `essential` or not), with a
//!   purpose ([`ConsentRequest::from_oidc`]);
//! - through a form-fill request naming a form (id and bilingual title),
//!   its fields under the form's own names, and a purpose
//!   ([`ConsentRequest::from_form`]).
//!
//! The citizen may untick optional fields; essential ones are granted or
//! the whole request is declined. A [`Grant`] records what was asked and
//! what was granted, for whom, for what purpose and until when. It is
//! reused for the same department and form while it lives and the new
//! request asks for nothing it did not ask ([`Grant::covers`]); asking for
//! more asks again. [`Grant::release`] gives exactly the granted fields
//! that have values, and nothing once the grant is revoked or expired.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::profile::{FIELDS, FieldSpec, Group, Value, field};

/// Longest purpose statement, in characters.
pub const MAX_PURPOSE_CHARS: usize = 300;
/// Longest form id and form title, in characters.
pub const MAX_FORM_TEXT_CHARS: usize = 120;
/// Longest retention a department may state, in days (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// Why a request or a decision was refused. Messages are for the
/// department's developers (requests) or the citizen's page (decisions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConsentError {
    /// No profile field was asked for.
    #[error("the request asks for no profile field")]
    NothingAsked,
    /// The purpose is missing, too long or holds control characters.
    #[error("a purpose of 1 to {MAX_PURPOSE_CHARS} characters is required")]
    Purpose,
    /// The retention period is out of range.
    #[error("retention_days must be 1 to {MAX_RETENTION_DAYS}")]
    Retention,
    /// The form's id or title is missing or too long.
    #[error(
        "the form needs an id and titles in English and Chinese of at most {MAX_FORM_TEXT_CHARS} characters"
    )]
    Form,
    /// A field the catalogue does not have.
    #[error("unknown profile field {0:?}")]
    UnknownField(String),
    /// A field asked for twice, or two fields under one form name.
    #[error("field {0:?} appears twice")]
    Duplicate(String),
    /// A form field name is empty, too long or not `[A-Za-z0-9_.-]`.
    #[error("form field name {0:?} must be 1 to 64 of A-Z a-z 0-9 _ . -")]
    FormName(String),
    /// The `claims` parameter is not an object of objects.
    #[error("the claims parameter is malformed")]
    Claims,
    /// A form-fill request together with `eme.*` scopes or profile claims.
    #[error("a form-fill request cannot come with eme.* scopes or profile claims")]
    Combined,
    /// The citizen unticked an essential field.
    #[error("an essential field cannot be left out: decline the request instead")]
    EssentialUnticked,
    /// The citizen unticked a field that was not asked for.
    #[error("that field was not asked for")]
    NotAsked,
}

/// A form a department fills from the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormRef {
    /// The department's id of the form.
    pub id: String,
    /// Its English title.
    pub title_en: String,
    /// Its Chinese title.
    pub title_zh: String,
}

/// One field asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedField {
    /// The profile field.
    pub spec: &'static FieldSpec,
    /// The name it has on the department's form (the field id for OIDC).
    pub form_name: String,
    /// Whether the department cannot do without it.
    pub essential: bool,
}

/// What a department asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRequest {
    /// The department's client id.
    pub client_id: String,
    /// The form, for a form-fill request.
    pub form: Option<FormRef>,
    /// The fields, in catalogue order.
    pub fields: Vec<RequestedField>,
    /// Why the department wants them.
    pub purpose: String,
    /// How long the department keeps them, in days.
    pub retention_days: u32,
}

/// A field of a form-fill request, as a department sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormFieldAsk {
    /// The profile field id.
    pub field: String,
    /// The form's name for it (default: the field id).
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub form_name: Option<String>,
    /// Whether the form cannot do without it.
    #[serde(default)]
    pub essential: bool,
}

/// A form-fill request's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormFillAsk {
    /// The form.
    pub form: FormRef,
    /// The fields.
    pub fields: Vec<FormFieldAsk>,
    /// Why.
    pub purpose: String,
    /// How long the department keeps the data, in days.
    pub retention_days: u32,
}

fn check_purpose(purpose: &str) -> Result<String, ConsentError> {
    let purpose = purpose.trim();
    if purpose.is_empty()
        || purpose.chars().count() > MAX_PURPOSE_CHARS
        || purpose.chars().any(char::is_control)
    {
        return Err(ConsentError::Purpose);
    }
    Ok(purpose.to_owned())
}

fn check_retention(days: u32) -> Result<u32, ConsentError> {
    if (1..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(ConsentError::Retention)
    }
}

fn form_text_ok(text: &str) -> bool {
    let text = text.trim();
    !text.is_empty()
        && text.chars().count() <= MAX_FORM_TEXT_CHARS
        && !text.chars().any(char::is_control)
}

fn in_catalogue_order(mut fields: Vec<RequestedField>) -> Vec<RequestedField> {
    fields.sort_by_key(|f| FIELDS.iter().position(|c| c.id == f.spec.id));
    fields
}

impl ConsentRequest {
    /// A request from an OpenID Connect authorization request: every field
    /// of each `eme.*` scope (optional), and each profile claim named in
    /// the `claims` parameter's `userinfo` or `id_token` members (essential
    /// when it says `"essential": true`). Other scopes and claims are not
    /// the profile's and are left alone. `None` when no profile field is
    /// asked for.
    pub fn from_oidc(
        client_id: &str,
        scopes: &[String],
        claims: Option<&serde_json::Value>,
        purpose: &str,
        retention_days: u32,
    ) -> Result<Option<ConsentRequest>, ConsentError> {
        let mut asked: Vec<RequestedField> = Vec::new();
        let mut add = |spec: &'static FieldSpec, essential: bool| match asked
            .iter_mut()
            .find(|f| f.spec.id == spec.id)
        {
            Some(existing) => existing.essential |= essential,
            None => asked.push(RequestedField {
                spec,
                form_name: spec.id.to_owned(),
                essential,
            }),
        };
        for scope in scopes {
            if let Some(group) = Group::from_scope(scope) {
                group.fields().for_each(|spec| add(spec, false));
            }
        }
        if let Some(claims) = claims {
            let object = claims.as_object().ok_or(ConsentError::Claims)?;
            for member in ["userinfo", "id_token"] {
                let Some(requested) = object.get(member) else {
                    continue;
                };
                let requested = requested.as_object().ok_or(ConsentError::Claims)?;
                for (claim, options) in requested {
                    let Some(spec) = FIELDS.iter().find(|f| f.claim == claim) else {
                        continue;
                    };
                    let essential = match options {
                        serde_json::Value::Null => false,
                        serde_json::Value::Object(o) => match o.get("essential") {
                            None => false,
                            Some(serde_json::Value::Bool(b)) => *b,
                            Some(_) => return Err(ConsentError::Claims),
                        },
                        _ => return Err(ConsentError::Claims),
                    };
                    add(spec, essential);
                }
            }
        }
        if asked.is_empty() {
            return Ok(None);
        }
        Ok(Some(ConsentRequest {
            client_id: client_id.to_owned(),
            form: None,
            fields: in_catalogue_order(asked),
            purpose: check_purpose(purpose)?,
            retention_days: check_retention(retention_days)?,
        }))
    }

    /// A request from a form-fill request body.
    pub fn from_form(client_id: &str, ask: &FormFillAsk) -> Result<ConsentRequest, ConsentError> {
        if !(form_text_ok(&ask.form.id)
            && form_text_ok(&ask.form.title_en)
            && form_text_ok(&ask.form.title_zh))
        {
            return Err(ConsentError::Form);
        }
        if ask.fields.is_empty() {
            return Err(ConsentError::NothingAsked);
        }
        if ask.fields.len() > FIELDS.len() {
            return Err(ConsentError::Duplicate(String::new()));
        }
        let mut fields: Vec<RequestedField> = Vec::new();
        for f in &ask.fields {
            let spec = field(&f.field)
                .ok_or_else(|| ConsentError::UnknownField(f.field.chars().take(64).collect()))?;
            let form_name = f.form_name.clone().unwrap_or_else(|| spec.id.to_owned());
            if form_name.is_empty()
                || form_name.len() > 64
                || !form_name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            {
                return Err(ConsentError::FormName(form_name.chars().take(64).collect()));
            }
            if fields
                .iter()
                .any(|g| g.spec.id == spec.id || g.form_name == form_name)
            {
                return Err(ConsentError::Duplicate(spec.id.to_owned()));
            }
            fields.push(RequestedField {
                spec,
                form_name,
                essential: f.essential,
            });
        }
        Ok(ConsentRequest {
            client_id: client_id.to_owned(),
            form: Some(FormRef {
                id: ask.form.id.trim().to_owned(),
                title_en: ask.form.title_en.trim().to_owned(),
                title_zh: ask.form.title_zh.trim().to_owned(),
            }),
            fields: in_catalogue_order(fields),
            purpose: check_purpose(&ask.purpose)?,
            retention_days: check_retention(ask.retention_days)?,
        })
    }

    /// The ids of the fields asked for.
    pub fn field_ids(&self) -> BTreeSet<String> {
        self.fields.iter().map(|f| f.spec.id.to_owned()).collect()
    }
}

/// A citizen's decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The grant's id.
    pub id: String,
    /// The citizen.
    pub citizen_id: String,
    /// The department.
    pub client_id: String,
    /// The form, for form filling.
    pub form_id: Option<String>,
    /// The fields asked for.
    pub asked: BTreeSet<String>,
    /// The fields granted (a subset of `asked`).
    pub granted: BTreeSet<String>,
    /// The purpose the department stated.
    pub purpose: String,
    /// How long the department keeps the data, in days.
    pub retention_days: u32,
    /// When the citizen agreed.
    #[serde(with = "time::serde::timestamp")]
    pub granted_at: OffsetDateTime,
    /// When the grant stops being reused and releasing.
    #[serde(with = "time::serde::timestamp")]
    pub expires_at: OffsetDateTime,
    /// When the citizen revoked it.
    #[serde(with = "time::serde::timestamp::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl Grant {
    /// The citizen agrees to `request` without the optional fields in
    /// `unticked`; the grant lives `lifetime`.
    pub fn decide(
        id: String,
        citizen_id: &str,
        request: &ConsentRequest,
        unticked: &[&str],
        now: OffsetDateTime,
        lifetime: Duration,
    ) -> Result<Grant, ConsentError> {
        for left_out in unticked {
            match request.fields.iter().find(|f| f.spec.id == *left_out) {
                None => return Err(ConsentError::NotAsked),
                Some(f) if f.essential => return Err(ConsentError::EssentialUnticked),
                Some(_) => {}
            }
        }
        let asked = request.field_ids();
        let granted = asked
            .iter()
            .filter(|id| !unticked.contains(&id.as_str()))
            .cloned()
            .collect();
        Ok(Grant {
            id,
            citizen_id: citizen_id.to_owned(),
            client_id: request.client_id.clone(),
            form_id: request.form.as_ref().map(|f| f.id.clone()),
            asked,
            granted,
            purpose: request.purpose.clone(),
            retention_days: request.retention_days,
            granted_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        })
    }

    /// Neither revoked nor expired at `now`.
    pub fn is_live(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }

    /// Whether this grant answers `request` from `citizen_id` at `now`
    /// without asking again: live, the same citizen, department and form,
    /// the same purpose, and nothing asked that this grant was not asked.
    pub fn covers(&self, citizen_id: &str, request: &ConsentRequest, now: OffsetDateTime) -> bool {
        self.is_live(now)
            && self.citizen_id == citizen_id
            && self.client_id == request.client_id
            && self.form_id.as_deref() == request.form.as_ref().map(|f| f.id.as_str())
            && self.purpose == request.purpose
            && request.field_ids().is_subset(&self.asked)
    }

    /// The values to release: exactly the granted fields that have one,
    /// and nothing when the grant is not live. `values` are the citizen's
    /// (field id, value) pairs.
    pub fn release<'v>(
        &self,
        values: &'v [(&'static FieldSpec, Value)],
        now: OffsetDateTime,
    ) -> Vec<(&'static FieldSpec, &'v Value)> {
        if !self.is_live(now) {
            return Vec::new();
        }
        values
            .iter()
            .filter(|(spec, _)| self.granted.contains(spec.id))
            .map(|(spec, value)| (*spec, value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn ask_form() -> FormFillAsk {
        serde_json::from_value(json!({
            "form": {"id": "LD-17", "title_en": "Application for a licence", "title_zh": "牌照申請"},
            "purpose": "To process your licence application",
            "retention_days": 365,
            "fields": [
                {"field": "name_en", "as": "applicant.name", "essential": true},
                {"field": "mobile", "as": "applicant.phone"},
                {"field": "email"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn oidc_requests_come_from_scopes_and_claims() {
        let claims = json!({
            "userinfo": {"email": {"essential": true}, "sub": null},
            "id_token": {"hk_id_number": null, "acr": {"values": ["x"]}}
        });
        let request = ConsentRequest::from_oidc(
            "dept",
            &scopes(&["openid", "eme.name"]),
            Some(&claims),
            "To reply to you",
            30,
        )
        .unwrap()
        .unwrap();
        let ids: Vec<_> = request.fields.iter().map(|f| f.spec.id).collect();
        assert_eq!(
            ids,
            ["name_en", "name_zh", "hkid", "email"],
            "catalogue order"
        );
        let email = request
            .fields
            .iter()
            .find(|f| f.spec.id == "email")
            .unwrap();
        assert!(email.essential);
        assert!(
            request
                .fields
                .iter()
                .filter(|f| f.spec.id != "email")
                .all(|f| !f.essential)
        );
        // Nothing of the profile asked: no consent needed.
        assert_eq!(
            ConsentRequest::from_oidc("dept", &scopes(&["openid", "profile"]), None, "", 30),
            Ok(None)
        );
        // Malformed claims and missing purposes are refused.
        for bad in [
            json!([]),
            json!({"userinfo": []}),
            json!({"userinfo": {"email": 1}}),
            json!({"userinfo": {"email": {"essential": "yes"}}}),
        ] {
            assert_eq!(
                ConsentRequest::from_oidc("d", &scopes(&["eme.name"]), Some(&bad), "p", 30),
                Err(ConsentError::Claims),
                "{bad}"
            );
        }
        assert_eq!(
            ConsentRequest::from_oidc("d", &scopes(&["eme.name"]), None, "  ", 30),
            Err(ConsentError::Purpose)
        );
        assert_eq!(
            ConsentRequest::from_oidc("d", &scopes(&["eme.name"]), None, "p", 0),
            Err(ConsentError::Retention)
        );
    }

    #[test]
    fn form_requests_name_their_fields_and_are_checked() {
        let request = ConsentRequest::from_form("dept", &ask_form()).unwrap();
        assert_eq!(request.form.as_ref().unwrap().id, "LD-17");
        let names: Vec<_> = request
            .fields
            .iter()
            .map(|f| f.form_name.as_str())
            .collect();
        assert_eq!(names, ["applicant.name", "applicant.phone", "email"]);
        let mut twice = ask_form();
        twice.fields.push(FormFieldAsk {
            field: "name_en".into(),
            form_name: Some("other".into()),
            essential: false,
        });
        assert_eq!(
            ConsentRequest::from_form("d", &twice),
            Err(ConsentError::Duplicate("name_en".into()))
        );
        let mut same_name = ask_form();
        same_name.fields[2].form_name = Some("applicant.phone".into());
        assert!(matches!(
            ConsentRequest::from_form("d", &same_name),
            Err(ConsentError::Duplicate(_))
        ));
        let mut unknown = ask_form();
        unknown.fields[0].field = "password".into();
        assert_eq!(
            ConsentRequest::from_form("d", &unknown),
            Err(ConsentError::UnknownField("password".into()))
        );
        let mut hostile = ask_form();
        hostile.fields[0].form_name = Some("<script>".into());
        assert!(matches!(
            ConsentRequest::from_form("d", &hostile),
            Err(ConsentError::FormName(_))
        ));
        let mut untitled = ask_form();
        untitled.form.title_zh = " ".into();
        assert_eq!(
            ConsentRequest::from_form("d", &untitled),
            Err(ConsentError::Form)
        );
        let mut long = ask_form();
        long.purpose = "x".repeat(MAX_PURPOSE_CHARS + 1);
        assert_eq!(
            ConsentRequest::from_form("d", &long),
            Err(ConsentError::Purpose)
        );
        assert!(serde_json::from_value::<FormFillAsk>(json!({"form": {}, "extra": 1})).is_err());
    }

    #[test]
    fn grants_release_exactly_what_was_granted_while_live() {
        let request = ConsentRequest::from_form("dept", &ask_form()).unwrap();
        assert_eq!(
            Grant::decide(
                "g".into(),
                "c",
                &request,
                &["name_en"],
                NOW,
                Duration::days(30)
            ),
            Err(ConsentError::EssentialUnticked)
        );
        assert_eq!(
            Grant::decide(
                "g".into(),
                "c",
                &request,
                &["hkid"],
                NOW,
                Duration::days(30)
            ),
            Err(ConsentError::NotAsked)
        );
        let grant = Grant::decide(
            "g".into(),
            "c",
            &request,
            &["mobile"],
            NOW,
            Duration::days(30),
        )
        .unwrap();
        assert_eq!(
            grant.granted.iter().map(String::as_str).collect::<Vec<_>>(),
            ["email", "name_en"]
        );
        let values = vec![
            (
                field("name_en").unwrap(),
                Value::Text("CHAN, Tai Man".into()),
            ),
            (field("mobile").unwrap(), Value::Text("+85291234567".into())),
            (field("hkid").unwrap(), Value::Text("A123456(3)".into())),
        ];
        let released: Vec<_> = grant
            .release(&values, NOW)
            .iter()
            .map(|(s, _)| s.id)
            .collect();
        assert_eq!(
            released,
            ["name_en"],
            "email has no value; mobile unticked; hkid not asked"
        );
        assert!(
            grant.release(&values, NOW + Duration::days(30)).is_empty(),
            "expired"
        );
        let mut revoked = grant.clone();
        revoked.revoked_at = Some(NOW);
        assert!(revoked.release(&values, NOW).is_empty(), "revoked");
        // Round trip as stored.
        let stored = serde_json::to_string(&grant).unwrap();
        assert_eq!(serde_json::from_str::<Grant>(&stored).unwrap(), grant);
    }

    #[test]
    fn grants_are_reused_only_for_the_same_request_or_less() {
        let request = ConsentRequest::from_form("dept", &ask_form()).unwrap();
        let grant = Grant::decide(
            "g".into(),
            "c",
            &request,
            &["mobile"],
            NOW,
            Duration::days(30),
        )
        .unwrap();
        assert!(
            grant.covers("c", &request, NOW),
            "the same request, the unticked field too"
        );
        let mut fewer = ask_form();
        fewer.fields.truncate(1);
        assert!(grant.covers(
            "c",
            &ConsentRequest::from_form("dept", &fewer).unwrap(),
            NOW
        ));
        let mut more = ask_form();
        more.fields.push(FormFieldAsk {
            field: "hkid".into(),
            form_name: None,
            essential: false,
        });
        assert!(!grant.covers("c", &ConsentRequest::from_form("dept", &more).unwrap(), NOW));
        assert!(!grant.covers(
            "c",
            &ConsentRequest::from_form("other", &ask_form()).unwrap(),
            NOW
        ));
        assert!(!grant.covers("someone", &request, NOW));
        let mut other_form = ask_form();
        other_form.form.id = "LD-18".into();
        assert!(!grant.covers(
            "c",
            &ConsentRequest::from_form("dept", &other_form).unwrap(),
            NOW
        ));
        let mut other_purpose = ask_form();
        other_purpose.purpose = "Marketing".into();
        assert!(!grant.covers(
            "c",
            &ConsentRequest::from_form("dept", &other_purpose).unwrap(),
            NOW
        ));
        assert!(
            !grant.covers("c", &request, NOW + Duration::days(31)),
            "expired"
        );
    }
}
