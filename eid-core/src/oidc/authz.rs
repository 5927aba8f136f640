//! Authorization requests as pushed to the PAR endpoint (RFC 9126), checked
//! against the FAPI 2.0 Security Profile: authorization code only, PKCE S256
//! only, exact redirect URIs, no request objects.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::client::Client;
use crate::StoreError;

/// Levels of assurance, as `acr` values.
pub const ACR_LOW: &str = "urn:eid-gateway:loa:low";
/// Passkey on an account bound to a verified card identity.
pub const ACR_SUBSTANTIAL: &str = "urn:eid-gateway:loa:substantial";
/// Smart ID card certificate validated in this sign-in.
pub const ACR_HIGH: &str = "urn:eid-gateway:loa:high";
/// Every supported `acr` value, lowest first.
pub const ACR_VALUES: &[&str] = &[ACR_LOW, ACR_SUBSTANTIAL, ACR_HIGH];
/// Supported `ui_locales`.
pub const UI_LOCALES: &[&str] = &["en", "zh-HK"];
/// Longest `state` or `nonce`.
pub const MAX_STATE_LEN: usize = 512;
/// Largest `claims` parameter, in bytes of JSON.
pub const MAX_CLAIMS_LEN: usize = 4096;
/// How long a pushed request may wait for the browser (RFC 9126 suggests
/// short; FAPI 2.0 requires under 600 s).
pub const REQUEST_URI_LIFETIME_SECS: i64 = 60;
/// The prefix of every `request_uri` this provider issues.
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// `prompt` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No interaction: fail with `login_required` if there is no session.
    None,
    /// Sign in again.
    Login,
    /// Ask for consent again.
    Consent,
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    /// The authenticated client.
    pub client_id: String,
    /// The redirect URI (registered, exact).
    pub redirect_uri: String,
    /// Scopes, `openid` first.
    pub scopes: Vec<String>,
    /// `state`, returned as given.
    pub state: Option<String>,
    /// `nonce`, put in the ID token.
    pub nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: String,
    /// `prompt` values.
    pub prompt: Vec<Prompt>,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// Requested `acr` values, in the client's order.
    pub acr_values: Vec<String>,
    /// Requested UI locales that are supported, in the client's order.
    pub ui_locales: Vec<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// The `claims` parameter (a JSON object).
    pub claims: Option<Value>,
    /// The DPoP key the code will be bound to (from `dpop_jkt` or the PAR
    /// request's DPoP proof).
    pub dpop_jkt: Option<String>,
    /// Why the department asks for e-ME profile fields (required when it
    /// asks for any, through `eme.*` scopes or profile claims).
    #[serde(default)]
    pub purpose: Option<String>,
    /// How long the department keeps the profile fields, in days (default
    /// 365).
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// A form-fill request (the `form` parameter, JSON): the form, its
    /// fields under the form's names, purpose and retention. It replaces
    /// `eme.*` scopes and profile claims, which may not come with it.
    #[serde(default)]
    pub form: Option<crate::consent::FormFillAsk>,
}

/// Retention assumed when a department asking for profile fields does
/// not state one.
pub const DEFAULT_RETENTION_DAYS: u32 = 365;

impl AuthorizationRequest {
    /// The e-ME consent this request needs, if it asks for profile fields.
    pub fn consent_request(
        &self,
    ) -> Result<Option<crate::consent::ConsentRequest>, crate::consent::ConsentError> {
        if let Some(form) = &self.form {
            let oidc = crate::consent::ConsentRequest::from_oidc(
                &self.client_id,
                &self.scopes,
                self.claims.as_ref(),
                "-",
                DEFAULT_RETENTION_DAYS,
            )?;
            if oidc.is_some() {
                return Err(crate::consent::ConsentError::Combined);
            }
            return crate::consent::ConsentRequest::from_form(&self.client_id, form).map(Some);
        }
        crate::consent::ConsentRequest::from_oidc(
            &self.client_id,
            &self.scopes,
            self.claims.as_ref(),
            self.purpose.as_deref().unwrap_or(""),
            self.retention_days.unwrap_or(DEFAULT_RETENTION_DAYS),
        )
    }
}

/// Why a pushed request was refused: the OAuth error code and a
/// description for the client's developer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct AuthzError {
    /// `invalid_request`, `invalid_scope`, `unsupported_response_type`, ...
    pub code: &'static str,
    /// What is wrong.
    pub description: String,
}

fn invalid(description: impl Into<String>) -> AuthzError {
    AuthzError {
        code: "invalid_request",
        description: description.into(),
    }
}

/// Collects form parameters, refusing repeated ones (RFC 6749 3.1).
pub fn single_valued(pairs: &[(String, String)]) -> Result<BTreeMap<String, String>, AuthzError> {
    let mut out = BTreeMap::new();
    for (name, value) in pairs {
        if out.insert(name.clone(), value.clone()).is_some() {
            return Err(invalid(format!("parameter {name} is repeated")));
        }
    }
    Ok(out)
}

fn printable(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// Checks a pushed authorization request from an authenticated `client`.
/// `dpop_jkt` is the thumbprint of the PAR request's DPoP proof, if any.
pub fn check_pushed_request(
    params: &BTreeMap<String, String>,
    client: &Client,
    dpop_jkt: Option<&str>,
) -> Result<AuthorizationRequest, AuthzError> {
    let get = |name: &str| params.get(name).map(String::as_str);
    for forbidden in ["request", "request_uri"] {
        if params.contains_key(forbidden) {
            return Err(AuthzError {
                code: if forbidden == "request" {
                    "request_not_supported"
                } else {
                    "invalid_request"
                },
                description: format!("{forbidden} is not accepted at the PAR endpoint"),
            });
        }
    }
    if let Some(id) = get("client_id")
        && id != client.client_id
    {
        return Err(invalid("client_id does not match the authenticated client"));
    }
    match get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(AuthzError {
                code: "unsupported_response_type",
                description: "only response_type=code is supported".into(),
            });
        }
        None => return Err(invalid("response_type is required")),
    }
    if get("response_mode").is_some_and(|m| m != "query") {
        return Err(invalid("only response_mode=query is supported"));
    }
    let redirect_uri = get("redirect_uri").ok_or_else(|| invalid("redirect_uri is required"))?;
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(invalid("redirect_uri is not registered for this client"));
    }
    let scopes: Vec<String> = get("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(AuthzError {
            code: "invalid_scope",
            description: "scope must include openid".into(),
        });
    }
    if let Some(unknown) = scopes.iter().find(|s| !client.scopes.contains(s)) {
        return Err(AuthzError {
            code: "invalid_scope",
            description: format!("scope {unknown} is not allowed for this client"),
        });
    }
    match get("code_challenge_method") {
        Some("S256") => {}
        Some(_) => return Err(invalid("code_challenge_method must be S256")),
        None => return Err(invalid("code_challenge_method=S256 is required")),
    }
    let code_challenge =
        get("code_challenge").ok_or_else(|| invalid("code_challenge is required"))?;
    // BASE64URL(SHA-256(verifier)) is exactly 43 characters.
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid(
            "code_challenge must be a base64url SHA-256 (43 characters)",
        ));
    }
    let bounded = |name: &str| -> Result<Option<String>, AuthzError> {
        match get(name) {
            Some(v) if v.len() > MAX_STATE_LEN || !printable(v) || v.is_empty() => Err(invalid(
                format!("{name} must be 1 to {MAX_STATE_LEN} printable characters"),
            )),
            other => Ok(other.map(str::to_owned)),
        }
    };
    let state = bounded("state")?;
    let nonce = bounded("nonce")?;
    let login_hint = bounded("login_hint")?;
    let mut prompt = Vec::new();
    for value in get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        prompt.push(match value {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            other => return Err(invalid(format!("prompt value {other} is not supported"))),
        });
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return Err(invalid("prompt=none must stand alone"));
    }
    let max_age = match get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .map_err(|_| invalid("max_age must be a non-negative integer"))?,
        ),
    };
    let acr_values: Vec<String> = get("acr_values")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = acr_values
        .iter()
        .find(|a| !ACR_VALUES.contains(&a.as_str()))
    {
        return Err(invalid(format!("acr value {unknown} is not supported")));
    }
    let ui_locales = get("ui_locales")
        .unwrap_or_default()
        .split(' ')
        .filter(|l| UI_LOCALES.iter().any(|s| s.eq_ignore_ascii_case(l)))
        .map(|l| {
            UI_LOCALES
                .iter()
                .find(|s| s.eq_ignore_ascii_case(l))
                .map_or_else(|| l.to_owned(), |s| (*s).to_owned())
        })
        .collect();
    let claims = match get("claims") {
        None => None,
        Some(text) if text.len() > MAX_CLAIMS_LEN => {
            return Err(invalid("claims is too large"));
        }
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(value @ Value::Object(_)) => Some(value),
            _ => return Err(invalid("claims must be a JSON object")),
        },
    };
    let requested_jkt = get("dpop_jkt");
    if let (Some(param), Some(proof)) = (requested_jkt, dpop_jkt)
        && param != proof
    {
        return Err(AuthzError {
            code: "invalid_dpop_proof",
            description: "dpop_jkt does not match the DPoP proof's key".into(),
        });
    }
    // Binding at PAR is optional (RFC 9449 10): without it, the code is
    // bound to the key of the DPoP proof at the token endpoint.
    let dpop_jkt = requested_jkt.or(dpop_jkt).map(str::to_owned);
    let purpose = get("purpose").map(str::to_owned);
    let form = match get("form") {
        None => None,
        Some(text) if text.len() > MAX_CLAIMS_LEN => return Err(invalid("form is too large")),
        Some(text) => Some(
            serde_json::from_str::<crate::consent::FormFillAsk>(text)
                .map_err(|e| invalid(format!("form is not a form-fill request: {e}")))?,
        ),
    };
    let retention_days = match get("retention_days") {
        None => None,
        Some(v) => Some(
            v.parse::<u32>()
                .map_err(|_| invalid("retention_days must be a whole number of days"))?,
        ),
    };
    let request = AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state,
        nonce,
        code_challenge: code_challenge.to_owned(),
        prompt,
        max_age,
        acr_values,
        ui_locales,
        login_hint,
        claims,
        dpop_jkt,
        purpose,
        retention_days,
        form,
    };
    // A request for profile fields must say why, and ask for them well.
    request
        .consent_request()
        .map_err(|e| invalid(format!("{e}")))?;
    Ok(request)
}

/// Storage of pushed requests until the browser brings their `request_uri`.
pub trait ParStore: Send + Sync {
    /// Stores a pushed request under `request_uri` until `expires_at`.
    fn insert_par(
        &self,
        request_uri: &str,
        request: &AuthorizationRequest,
        expires_at: OffsetDateTime,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes and returns the request if it exists, belongs to
    /// `client_id` and has not expired at `now`: a `request_uri` is used once.
    fn take_par(
        &self,
        request_uri: &str,
        client_id: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<AuthorizationRequest>, StoreError>> + Send;
}
