//! The authorization code flow: `/authorize` (a pushed request only),
//! `/token` (authorization_code), `/userinfo`, and discovery.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eid_core::oidc::authz::{ACR_VALUES, AuthorizationRequest, ParStore, Prompt, UI_LOCALES};
use eid_core::oidc::grant::{
    AccessGrant, CODE_LIFETIME_SECS, CodeGrant, GrantStore, Redemption, RefreshUse, handle_hash,
    pairwise_subject, pkce_s256_matches,
};
use eid_core::oidc::{ClientStore, KeyEncryptionKey, KeyStore, jws, keys};
use serde_json::{Value, json};
use time::Duration;

use super::error::ApiError;
use super::oidc::{dpop_proof, form_params};
use crate::config::decode_secret;
use crate::state::AppState;

fn oauth(status: StatusCode, code: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::oauth(status, code, description)
}

fn bad_request(code: &'static str, description: impl Into<String>) -> ApiError {
    oauth(StatusCode::BAD_REQUEST, code, description)
}

fn random_handle() -> Result<String, ApiError> {
    crate::signin::random_handle().ok_or_else(|| ApiError::unavailable("random generator failure"))
}

fn seconds(secs: u64) -> Duration {
    Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// A query string's parameters, each at most once.
fn query_params(
    query: Option<String>,
) -> Result<std::collections::BTreeMap<String, String>, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    eid_core::oidc::authz::single_valued(&pairs).map_err(|e| bad_request(e.code, e.description))
}

/// Appends query parameters to a registered redirect URI.
pub(crate) fn redirect(uri: &str, params: &[(&str, &str)]) -> Response {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = if uri.contains('?') { '&' } else { '?' };
    let location = format!("{uri}{separator}{query}");
    match HeaderValue::from_str(&location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        Err(_) => ApiError::unavailable("redirect URI not encodable").into_response(),
    }
}

/// Whether the signed-in citizen satisfies the request without signing in again.
///
/// `resumed`: the request waited for a sign-in that happened after it was
/// parked (an older session was ended when it was), so `prompt=login` is
/// met.
fn session_suffices(
    request: &AuthorizationRequest,
    authentication: &eid_core::oidc::grant::Authentication,
    now: time::OffsetDateTime,
    resumed: bool,
) -> bool {
    if request.prompt.contains(&Prompt::Login) && !resumed {
        return false;
    }
    if let Some(max_age) = request.max_age
        && authentication.auth_time + seconds(max_age) < now
    {
        return false;
    }
    let level = |acr: &str| ACR_VALUES.iter().position(|a| *a == acr);
    let needed = request.acr_values.iter().filter_map(|a| level(a)).min();
    match (needed, level(&authentication.acr)) {
        (Some(needed), Some(have)) => have >= needed,
        (Some(_), None) => false,
        (None, _) => true,
    }
}

/// `GET /authorize`: only `client_id` and a `request_uri` from `/par`.
pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(query)?;
    let client_id = params
        .get("client_id")
        .ok_or_else(|| bad_request("invalid_request", "client_id is required"))?;
    let request_uri = params.get("request_uri").ok_or_else(|| {
        bad_request(
            "invalid_request",
            "authorization requests must be pushed to /par first (request_uri is required)",
        )
    })?;
    match state.db().get_client(client_id).await {
        Ok(Some(client)) if client.enabled => {}
        Ok(_) => return Err(bad_request("invalid_request", "unknown or disabled client")),
        Err(e) => return Err(ApiError::unavailable(e)),
    }
    let now = state.now();
    // Taken, so used once whatever happens next.
    let request = state
        .db()
        .take_par(request_uri, client_id, now)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| {
            bad_request(
                "invalid_request_uri",
                "request_uri is unknown, expired, already used or not yours",
            )
        })?;
    let issuer = state.config().issuer();
    let with_state = |mut params: Vec<(&'static str, String)>| {
        if let Some(s) = &request.state {
            params.push(("state", s.clone()));
        }
        params.push(("iss", issuer.clone()));
        params
    };
    let current = state.sessions().current(&headers).await;
    let authentication = current
        .clone()
        .filter(|a| session_suffices(&request, a, now, false));
    let Some(authentication) = authentication else {
        if request.prompt.contains(&Prompt::None) {
            let params = with_state(vec![
                ("error", "login_required".to_owned()),
                (
                    "error_description",
                    "the citizen is not signed in".to_owned(),
                ),
            ]);
            let borrowed: Vec<(&str, &str)> =
                params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            return Ok(redirect(&request.redirect_uri, &borrowed));
        }
        // The citizen signs in (or steps up) first; the request waits.
        let (flow, lang) = park(&state, &request).await?;
        // prompt=login: the citizen signs in afresh; the old session ends
        // so that only a sign-in made for this request can resume it.
        if request.prompt.contains(&Prompt::Login) && current.is_some() {
            state.sessions().end(&headers).await;
        }
        let step_up = if current.is_some() && !request.prompt.contains(&Prompt::Login) {
            "&step_up=1"
        } else {
            ""
        };
        return see_other(&format!("/signin?flow={flow}&lang={lang}{step_up}"));
    };
    if let crate::consent::Needed::Ask(_) =
        crate::consent::needed(&state, &request, &authentication.citizen_id).await?
    {
        if request.prompt.contains(&Prompt::None) {
            let params = with_state(vec![
                ("error", "consent_required".to_owned()),
                (
                    "error_description",
                    "the citizen has not agreed to release these profile fields".to_owned(),
                ),
            ]);
            let borrowed: Vec<(&str, &str)> =
                params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            return Ok(redirect(&request.redirect_uri, &borrowed));
        }
        let (flow, lang) = park(&state, &request).await?;
        return see_other(&format!("/consent?flow={flow}&lang={lang}"));
    }
    issue_code(&state, request, authentication).await
}

/// Keeps `request` waiting for the citizen (sign-in or consent); returns
/// its flow handle and the page language.
async fn park(
    state: &AppState,
    request: &AuthorizationRequest,
) -> Result<(String, &'static str), ApiError> {
    let flow = random_handle()?;
    let lang = page_lang(request);
    let json = serde_json::to_string(request).map_err(ApiError::unavailable)?;
    let wait = seconds(state.config().signin.pending_authorization_secs);
    state
        .db()
        .put_pending_authorization(&handle_hash(&flow), &json, state.now() + wait)
        .await
        .map_err(ApiError::unavailable)?;
    Ok((flow, lang))
}

/// The pages' language for a request: Chinese when the department's first
/// `ui_locales` is `zh-HK`, else English.
fn page_lang(request: &AuthorizationRequest) -> &'static str {
    if request.ui_locales.first().map(String::as_str) == Some("zh-HK") {
        "zh-HK"
    } else {
        "en"
    }
}

fn see_other(location: &str) -> Result<Response, ApiError> {
    HeaderValue::from_str(location)
        .map(|value| (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response())
        .map_err(ApiError::unavailable)
}

/// Issues a code for `request` to `authentication` and sends the browser
/// back to the department.
async fn issue_code(
    state: &AppState,
    request: AuthorizationRequest,
    authentication: eid_core::oidc::grant::Authentication,
) -> Result<Response, ApiError> {
    let now = state.now();
    let mut params = vec![];
    if let Some(s) = &request.state {
        params.push(("state", s.clone()));
    }
    params.push(("iss", state.config().issuer()));
    let code = random_handle()?;
    params.insert(0, ("code", code.clone()));
    let redirect_uri = request.redirect_uri.clone();
    state
        .db()
        .insert_code(
            &handle_hash(&code),
            &CodeGrant {
                request,
                authentication,
                expires_at: now + Duration::seconds(CODE_LIFETIME_SECS),
            },
        )
        .await
        .map_err(ApiError::unavailable)?;
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Ok(redirect(&redirect_uri, &borrowed))
}

/// `GET /signin/continue?flow=...`: after signing in, back to the
/// department's authorization request. The request is taken only once the
/// session satisfies it, so a citizen who must still step up keeps it.
pub async fn resume(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_params(query)?;
    let gone = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "flow_expired",
            "this sign-in has expired or was finished; start again from the department's service",
        )
    };
    let flow = params.get("flow").ok_or_else(gone)?;
    let now = state.now();
    let json = state
        .db()
        .pending_authorization(&handle_hash(flow), now)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(gone)?;
    let request: AuthorizationRequest =
        serde_json::from_str(&json).map_err(ApiError::unavailable)?;
    let authentication = state
        .sessions()
        .current(&headers)
        .await
        .filter(|a| session_suffices(&request, a, now, true))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "sign_in_required",
                "sign in (at the level the service asks for) before continuing",
            )
        })?;
    // Profile fields not yet agreed to: the request keeps waiting while
    // the citizen decides.
    if let crate::consent::Needed::Ask(_) =
        crate::consent::needed(&state, &request, &authentication.citizen_id).await?
    {
        let lang = page_lang(&request);
        return see_other(&format!("/consent?flow={flow}&lang={lang}"));
    }
    // Taken now: a second continue (another tab, a replay) finds nothing.
    state
        .db()
        .take_pending_authorization(&handle_hash(flow), now)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(gone)?;
    issue_code(&state, request, authentication).await
}

fn invalid_grant(description: &str) -> ApiError {
    bad_request("invalid_grant", description)
}

/// `POST /token`: the authorization code grant.
pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = form_params(&headers, &body)?;
    let client = crate::oidc::client_auth::authenticate(&state, &headers, &params).await?;
    match params.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {}
        Some("refresh_token") => return refresh(&state, &headers, &params, &client).await,
        Some(_) => {
            return Err(bad_request(
                "unsupported_grant_type",
                "only authorization_code and refresh_token are supported",
            ));
        }
        None => return Err(bad_request("invalid_request", "grant_type is required")),
    }
    let get = |name: &str| params.get(name).map(String::as_str);
    let code = get("code").ok_or_else(|| bad_request("invalid_request", "code is required"))?;
    let code_hash = handle_hash(code);
    let now = state.now();
    let (grant, used) = state
        .db()
        .get_code(&code_hash)
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| invalid_grant("unknown or expired code"))?;
    if let Some(family) = used {
        // A code used twice: whoever has it, the tokens it bought are void.
        state
            .db()
            .revoke_family(&family)
            .await
            .map_err(ApiError::unavailable)?;
        tracing::warn!(client_id = %client.client_id, "authorization code reused; its tokens are revoked");
        return Err(invalid_grant("the code was already used"));
    }
    if grant.request.client_id != client.client_id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if grant.expires_at <= now {
        return Err(invalid_grant("unknown or expired code"));
    }
    if get("redirect_uri") != Some(grant.request.redirect_uri.as_str()) {
        return Err(invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = get("code_verifier")
        .ok_or_else(|| bad_request("invalid_request", "code_verifier is required"))?;
    if !pkce_s256_matches(verifier, &grant.request.code_challenge) {
        return Err(invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let jkt = dpop_proof(&state, &headers, "POST", "/token", None).await?;
    if client.dpop_bound && jkt.is_none() {
        return Err(bad_request(
            "invalid_dpop_proof",
            "a DPoP proof is required",
        ));
    }
    if let Some(bound) = &grant.request.dpop_jkt
        && jkt.as_deref() != Some(bound.as_str())
    {
        return Err(bad_request(
            "invalid_dpop_proof",
            "the DPoP key differs from the one the code is bound to",
        ));
    }
    let secret = state
        .config()
        .oidc
        .pairwise_secret
        .as_ref()
        .and_then(decode_secret)
        .ok_or_else(|| ApiError::unavailable("oidc.pairwise_secret is not configured"))?;
    let signing = current_signing_key(&state, now).await?;
    let family = random_handle()?;
    match state
        .db()
        .redeem_code(&code_hash, &client.client_id, &family, now)
        .await
        .map_err(ApiError::unavailable)?
    {
        Redemption::Granted(_) => {}
        Redemption::Reused { family } => {
            state
                .db()
                .revoke_family(&family)
                .await
                .map_err(ApiError::unavailable)?;
            return Err(invalid_grant("the code was already used"));
        }
        Redemption::Unknown => return Err(invalid_grant("unknown or expired code")),
    }
    let request = &grant.request;
    let auth = &grant.authentication;
    let subject = pairwise_subject(&secret, &client.client_id, &auth.citizen_id);
    let config = state.config();
    // The profile fields the citizen granted for this request, if any.
    let consent_grant = match request.consent_request() {
        Ok(Some(consent)) => {
            crate::consent::covering_grant(&state, &auth.citizen_id, &consent).await?
        }
        _ => None,
    };
    let (access_token, refresh_token) = issue_tokens(
        &state,
        &family,
        &client.client_id,
        &subject,
        &request.scopes,
        jkt.as_deref(),
        Some(&auth.citizen_id),
        consent_grant.as_ref().map(|g| g.id.as_str()),
    )
    .await?;
    let mut claims = json!({
        "iss": config.issuer(),
        "sub": subject,
        "aud": client.client_id,
        "iat": now.unix_timestamp(),
        "exp": (now + seconds(config.oidc.id_token_lifetime_secs)).unix_timestamp(),
        "auth_time": auth.auth_time.unix_timestamp(),
        "acr": auth.acr,
        "amr": auth.amr,
        "sid": auth.session_id,
    });
    if let Some(nonce) = &request.nonce {
        claims["nonce"] = Value::String(nonce.clone());
    }
    if let Some(grant) = &consent_grant {
        let released = crate::consent::released_claims(&state, grant).await?;
        if !released.is_empty() {
            crate::audit::record(
                &state,
                "release",
                Some(&auth.citizen_id),
                Some(&client.client_id),
                json!({
                    "grant": grant.id,
                    "via": "id_token",
                    "claims": released.keys().collect::<Vec<_>>(),
                }),
            )
            .await?;
        }
        for (claim, value) in released {
            claims[claim] = value;
        }
    }
    let id_token = jws::sign(&signing, "JWT", &claims)
        .map_err(|e| ApiError::unavailable(format!("signing: {e}")))?;
    Ok((
        [(header::PRAGMA, HeaderValue::from_static("no-cache"))],
        Json(json!({
            "access_token": access_token,
            "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": config.oidc.access_token_lifetime_secs,
            "refresh_token": refresh_token,
            "id_token": id_token,
            "scope": request.scopes.join(" "),
        })),
    )
        .into_response())
}

/// Stores a new access token and refresh token of `family`; returns them.
#[allow(clippy::too_many_arguments)]
async fn issue_tokens(
    state: &AppState,
    family: &str,
    client_id: &str,
    subject: &str,
    scopes: &[String],
    jkt: Option<&str>,
    citizen_id: Option<&str>,
    consent_grant: Option<&str>,
) -> Result<(String, String), ApiError> {
    let now = state.now();
    let config = state.config();
    let access_token = random_handle()?;
    let refresh_token = random_handle()?;
    let mut grant = AccessGrant {
        family: family.to_owned(),
        client_id: client_id.to_owned(),
        subject: subject.to_owned(),
        scopes: scopes.to_vec(),
        jkt: jkt.map(str::to_owned),
        expires_at: now + seconds(config.oidc.access_token_lifetime_secs),
        citizen_id: citizen_id.map(str::to_owned),
        consent_grant: consent_grant.map(str::to_owned),
    };
    state
        .db()
        .insert_access_token(&handle_hash(&access_token), &grant)
        .await
        .map_err(ApiError::unavailable)?;
    grant.expires_at = now + seconds(config.oidc.refresh_token_lifetime_secs);
    state
        .db()
        .insert_refresh_token(&handle_hash(&refresh_token), &grant)
        .await
        .map_err(ApiError::unavailable)?;
    Ok((access_token, refresh_token))
}

/// `grant_type=refresh_token`: the token is spent and replaced; a replayed
/// one revokes every token of its family.
async fn refresh(
    state: &AppState,
    headers: &HeaderMap,
    params: &std::collections::BTreeMap<String, String>,
    client: &eid_core::oidc::Client,
) -> Result<Response, ApiError> {
    let token = params
        .get("refresh_token")
        .ok_or_else(|| bad_request("invalid_request", "refresh_token is required"))?;
    let jkt = dpop_proof(state, headers, "POST", "/token", None).await?;
    if client.dpop_bound && jkt.is_none() {
        return Err(bad_request(
            "invalid_dpop_proof",
            "a DPoP proof is required",
        ));
    }
    let hash = handle_hash(token);
    // Check ownership and binding before the token is spent.
    match state
        .db()
        .token_family(&hash)
        .await
        .map_err(ApiError::unavailable)?
    {
        Some((_, owner)) if owner == client.client_id => {}
        _ => return Err(invalid_grant("unknown, expired or revoked refresh token")),
    }
    let grant = match state
        .db()
        .use_refresh_token(&hash, state.now())
        .await
        .map_err(ApiError::unavailable)?
    {
        RefreshUse::Fresh(grant) => grant,
        RefreshUse::Reused { family } => {
            state
                .db()
                .revoke_family(&family)
                .await
                .map_err(ApiError::unavailable)?;
            tracing::warn!(client_id = %client.client_id, "refresh token reused; its family is revoked");
            return Err(invalid_grant("the refresh token was already used"));
        }
        RefreshUse::Unknown => {
            return Err(invalid_grant("unknown, expired or revoked refresh token"));
        }
    };
    if let Some(bound) = &grant.jkt
        && jkt.as_deref() != Some(bound.as_str())
    {
        // Spent by a proof of the wrong key: the family is no longer safe.
        state
            .db()
            .revoke_family(&grant.family)
            .await
            .map_err(ApiError::unavailable)?;
        return Err(bad_request(
            "invalid_dpop_proof",
            "the DPoP key differs from the token's",
        ));
    }
    let (access_token, refresh_token) = issue_tokens(
        state,
        &grant.family,
        &client.client_id,
        &grant.subject,
        &grant.scopes,
        grant.jkt.as_deref(),
        grant.citizen_id.as_deref(),
        grant.consent_grant.as_deref(),
    )
    .await?;
    Ok((
        [(header::PRAGMA, HeaderValue::from_static("no-cache"))],
        Json(json!({
            "access_token": access_token,
            "token_type": if grant.jkt.is_some() { "DPoP" } else { "Bearer" },
            "expires_in": state.config().oidc.access_token_lifetime_secs,
            "refresh_token": refresh_token,
            "scope": grant.scopes.join(" "),
        })),
    )
        .into_response())
}

/// `POST /revoke` (RFC 7009): revokes the family of an access or refresh
/// token of the authenticated client. Unknown tokens are not an error.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = form_params(&headers, &body)?;
    let client = crate::oidc::client_auth::authenticate(&state, &headers, &params).await?;
    let token = params
        .get("token")
        .ok_or_else(|| bad_request("invalid_request", "token is required"))?;
    if let Some((family, owner)) = state
        .db()
        .token_family(&handle_hash(token))
        .await
        .map_err(ApiError::unavailable)?
        && owner == client.client_id
    {
        state
            .db()
            .revoke_family(&family)
            .await
            .map_err(ApiError::unavailable)?;
    }
    Ok(StatusCode::OK.into_response())
}

pub(crate) async fn current_signing_key(
    state: &AppState,
    now: time::OffsetDateTime,
) -> Result<keys::SigningKey, ApiError> {
    let kek = state
        .config()
        .keys
        .encryption_key
        .as_ref()
        .and_then(|k| KeyEncryptionKey::from_base64(k).ok())
        .ok_or_else(|| ApiError::unavailable("keys.encryption_key is not configured"))?;
    let all = state
        .db()
        .list_keys()
        .await
        .map_err(ApiError::unavailable)?;
    let current = keys::current(&all, now)
        .ok_or_else(|| ApiError::unavailable("no signing key: run gateway keys rotate"))?;
    keys::unseal(current, &kek).map_err(ApiError::unavailable)
}

fn invalid_token(scheme: &str, description: &str) -> Response {
    let mut response =
        ApiError::oauth(StatusCode::UNAUTHORIZED, "invalid_token", description).into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "{scheme} error=\"invalid_token\", algs=\"ES256 EdDSA\""
    )) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `GET` or `POST /userinfo`: the claims the access token allows. DPoP-bound
/// tokens need `Authorization: DPoP` and a proof with `ath` by the bound key.
pub async fn userinfo(
    State(state): State<AppState>,
    method: axum::http::Method,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let grant = match access_grant(&state, &headers, method.as_str(), "/userinfo").await? {
        Ok(grant) => grant,
        Err(refusal) => return Ok(refusal),
    };
    let mut claims = json!({ "sub": grant.subject });
    if let (Some(grant_id), Some(citizen_id)) = (&grant.consent_grant, &grant.citizen_id)
        && let Some(consent) = state
            .db()
            .grant_for_client(&grant.client_id, grant_id)
            .await
            .map_err(ApiError::unavailable)?
        && consent.citizen_id == *citizen_id
    {
        let released = crate::consent::released_claims(&state, &consent).await?;
        if !released.is_empty() {
            crate::audit::record(
                &state,
                "release",
                Some(citizen_id),
                Some(&grant.client_id),
                json!({
                    "grant": consent.id,
                    "via": "userinfo",
                    "claims": released.keys().collect::<Vec<_>>(),
                }),
            )
            .await?;
        }
        for (claim, value) in released {
            claims[claim] = value;
        }
    }
    Ok(Json(claims).into_response())
}

/// `GET /.well-known/openid-configuration`.
pub async fn discovery(State(state): State<AppState>) -> Response {
    // The e-ME groups' scopes and the profile claims (released only with
    // the citizen's consent).
    let scopes: Vec<&str> = ["openid", "profile"]
        .into_iter()
        .chain(eid_core::profile::Group::ALL.iter().map(|g| g.scope()))
        .collect();
    let claims: Vec<&str> = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "sid",
    ]
    .into_iter()
    .chain(eid_core::profile::FIELDS.iter().map(|f| f.claim))
    .collect();
    let issuer = state.config().issuer();
    let endpoint = |path: &str| format!("{issuer}{path}");
    let algs = ["ES256", "EdDSA"];
    (
        [(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"))],
        Json(json!({
            "issuer": issuer,
            "authorization_endpoint": endpoint("/authorize"),
            "token_endpoint": endpoint("/token"),
            "userinfo_endpoint": endpoint("/userinfo"),
            "jwks_uri": endpoint("/jwks"),
            "pushed_authorization_request_endpoint": endpoint("/par"),
            "require_pushed_authorization_requests": true,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "revocation_endpoint": endpoint("/revoke"),
            "end_session_endpoint": endpoint("/logout"),
            "revocation_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": algs,
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "token_endpoint_auth_signing_alg_values_supported": algs,
            "code_challenge_methods_supported": ["S256"],
            "dpop_signing_alg_values_supported": algs,
            "authorization_response_iss_parameter_supported": true,
            "acr_values_supported": ACR_VALUES,
            "scopes_supported": scopes,
            "claims_supported": claims,
            "claims_parameter_supported": true,
            "prompt_values_supported": ["none", "login", "consent"],
            "ui_locales_supported": UI_LOCALES,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": true,
        })),
    )
        .into_response()
}

/// `GET` or `POST /logout`: RP-initiated logout (OpenID Connect RP-Initiated
/// Logout 1.0). `id_token_hint` (an ID token this provider issued, expired or
/// not) names the client; a `post_logout_redirect_uri` must be registered
/// for it exactly. Ends the browser's sign-in session.
pub async fn logout(
    State(state): State<AppState>,
    method: axum::http::Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let params = if method == axum::http::Method::POST {
        form_params(&headers, &body)?
    } else {
        query_params(query)?
    };
    let hinted_client = match params.get("id_token_hint") {
        None => None,
        Some(hint) => Some(id_token_audience(&state, hint).await?),
    };
    let client_id = match (hinted_client, params.get("client_id")) {
        (Some(a), Some(b)) if &a != b => {
            return Err(bad_request(
                "invalid_request",
                "client_id does not match the id_token_hint",
            ));
        }
        (Some(a), _) => Some(a),
        (None, b) => b.cloned(),
    };
    state.sessions().end(&headers).await;
    let Some(target) = params.get("post_logout_redirect_uri") else {
        return Ok(Json(json!({ "status": "signed_out" })).into_response());
    };
    let client_id = client_id.ok_or_else(|| {
        bad_request(
            "invalid_request",
            "post_logout_redirect_uri needs id_token_hint or client_id",
        )
    })?;
    let client = match state.db().get_client(&client_id).await {
        Ok(Some(c)) if c.enabled => c,
        Ok(_) => return Err(bad_request("invalid_request", "unknown or disabled client")),
        Err(e) => return Err(ApiError::unavailable(e)),
    };
    if !client.post_logout_redirect_uris.iter().any(|u| u == target) {
        return Err(bad_request(
            "invalid_request",
            "post_logout_redirect_uri is not registered for this client",
        ));
    }
    let mut back: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = params.get("state") {
        back.push(("state", s.as_str()));
    }
    Ok(redirect(target, &back))
}

/// The audience of an ID token this provider signed (with any published
/// key; expiry is not checked, as logout hints are often old tokens).
async fn id_token_audience(state: &AppState, hint: &str) -> Result<String, ApiError> {
    let bad = || {
        bad_request(
            "invalid_request",
            "id_token_hint is not an ID token from this provider",
        )
    };
    let token = jws::parse(hint).map_err(|_| bad())?;
    let kid = token.header_str("kid").ok_or_else(bad)?;
    let all = state
        .db()
        .list_keys()
        .await
        .map_err(ApiError::unavailable)?;
    let key = all.iter().find(|k| k.kid == kid).ok_or_else(bad)?;
    let claims = token.verify(&key.public_jwk).map_err(|_| bad())?;
    if claims.get("iss").and_then(Value::as_str) != Some(state.config().issuer().as_str()) {
        return Err(bad());
    }
    claims
        .get("aud")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(bad)
}

/// The access token on a request (`Authorization: Bearer` or `DPoP`, with
/// a DPoP proof for `method` and `path` when the token is bound). The
/// inner `Err` is the `401` to send back.
pub(crate) async fn access_grant(
    state: &AppState,
    headers: &HeaderMap,
    method: &str,
    path: &str,
) -> Result<Result<AccessGrant, Response>, ApiError> {
    let Some(authorization) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(Err(invalid_token("DPoP", "an access token is required")));
    };
    let (scheme, token) = match authorization.split_once(' ') {
        Some((s, t)) if s.eq_ignore_ascii_case("dpop") => ("DPoP", t.trim()),
        Some((s, t)) if s.eq_ignore_ascii_case("bearer") => ("Bearer", t.trim()),
        _ => {
            return Ok(Err(invalid_token(
                "DPoP",
                "unsupported authorization scheme",
            )));
        }
    };
    let Some(grant) = state
        .db()
        .get_access_token(&handle_hash(token), state.now())
        .await
        .map_err(ApiError::unavailable)?
    else {
        return Ok(Err(invalid_token(
            scheme,
            "unknown, expired or revoked access token",
        )));
    };
    match (&grant.jkt, scheme) {
        (Some(bound), "DPoP") => {
            let jkt = dpop_proof(state, headers, method, path, Some(token)).await?;
            if jkt.as_deref() != Some(bound.as_str()) {
                return Ok(Err(invalid_token(
                    "DPoP",
                    "the DPoP proof is not by the token's key",
                )));
            }
        }
        (Some(_), _) => {
            return Ok(Err(invalid_token(
                "DPoP",
                "a DPoP-bound token must be sent with the DPoP scheme",
            )));
        }
        (None, "Bearer") => {}
        (None, _) => return Ok(Err(invalid_token("Bearer", "this token is a Bearer token"))),
    }
    Ok(Ok(grant))
}
