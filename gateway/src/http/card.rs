//! Smart-ID-card sign-in over HTTP.
//!
//! - `POST /signin/card/challenge` (`{"intent": "sign_in" | "bind"}`): a
//!   challenge for the card-reader helper, bound to this browser by a
//!   short-lived cookie;
//! - `POST /signin/card/finish`: the helper's signature and the card's
//!   chain;
//! - `GET /signin/card/tls` on the card listener: the TLS client
//!   certificate the browser presented; answers with a redirect back to
//!   the gateway's pages.
//!
//! Whichever way, a validated card either signs the citizen in (`acr`
//! `high`; a card used for the first time gets a new account) or, with
//! intent `bind` and a passkey sign-in in the same session, is bound to
//! the signed-in account, whose later passkey sign-ins reach
//! `substantial`. A citizen who lost their passkeys signs in with the card
//! and registers a new passkey from the account page.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use eid_core::session::SignInMethod;
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::signin::{failed, same_origin, start_session};
use crate::server::PeerCertificates;
use crate::signin::card::{self, CardError, CardVerifier, ChallengeAnswer, Intent, VerifiedCard};
use crate::signin::{cookie, csrf_ok};
use crate::state::AppState;
use crate::store::card::CardBinding;

/// The cookie that ties a signed challenge to the browser that asked for
/// it, over TLS and on plain HTTP.
const BINDING_COOKIE: [&str; 2] = ["__Host-eid_card", "eid_card"];

fn binding_cookie(tls: bool) -> &'static str {
    BINDING_COOKIE[usize::from(!tls)]
}

fn verifier(state: &AppState) -> Result<&CardVerifier, ApiError> {
    state.cards().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "card_sign_in_unavailable",
            "smart-ID-card sign-in is not offered here",
        )
    })
}

fn refused(error: CardError) -> ApiError {
    match error {
        CardError::Store(e) => ApiError::unavailable(e),
        CardError::Random => ApiError::unavailable("random generator failure"),
        other => {
            // The code only: a certificate error's text can name the
            // holder (subject names, e-mail addresses).
            tracing::info!(reason = other.code(), "card sign-in refused");
            failed()
        }
    }
}

/// What a card sign-in ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Signed in (the account existed).
    SignedIn,
    /// Signed in with a new account made for the card.
    NewAccount,
    /// The card is now bound to the signed-in account.
    Bound,
}

impl Outcome {
    fn status(self) -> &'static str {
        match self {
            Outcome::SignedIn => "signed_in",
            Outcome::NewAccount => "account_created",
            Outcome::Bound => "card_bound",
        }
    }
}

fn bind_refused(code: &'static str, message: &'static str) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, code, message)
}

/// Signs in with (or binds) a validated card; returns the new session's
/// cookie. Any earlier session of this browser ends: the new one has a new
/// value, so a planted cookie never becomes a signed-in one.
pub async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    card: &VerifiedCard,
    intent: Intent,
) -> Result<(HeaderValue, Outcome), ApiError> {
    if let Err(wait) = state.account_limiter().check(&card.key) {
        return Err(super::limit::too_many_error(
            wait,
            super::limit::SIGN_IN_LIMITED,
        ));
    }
    let db = state.db();
    let now = state.now();
    let card_amr = SignInMethod::SmartCard.amr();
    let (citizen_id, amr, outcome) = match intent {
        Intent::Bind => {
            let current = state.sessions().current(headers).await;
            let Some(current) = current.filter(|a| a.amr.iter().any(|m| m == "hwk")) else {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "passkey_sign_in_required",
                    "sign in with your passkey first, then link your card",
                ));
            };
            match db
                .bind_card(&current.citizen_id, &card.key, now)
                .await
                .map_err(ApiError::unavailable)?
            {
                CardBinding::Bound | CardBinding::AlreadyBound => {}
                CardBinding::CardInUse => {
                    return Err(bind_refused(
                        "card_in_use",
                        "this card is already linked to another account",
                    ));
                }
                CardBinding::AccountHasCard => {
                    return Err(bind_refused(
                        "account_has_card",
                        "this account is already linked to another card",
                    ));
                }
            }
            let mut amr = current.amr.clone();
            amr.extend(
                card_amr
                    .iter()
                    .filter(|m| !current.amr.contains(m))
                    .cloned(),
            );
            (current.citizen_id, amr, Outcome::Bound)
        }
        Intent::SignIn => match db
            .card_owner(&card.key)
            .await
            .map_err(ApiError::unavailable)?
        {
            Some(owner) => (owner, card_amr, Outcome::SignedIn),
            None => {
                let citizen_id = uuid::Uuid::new_v4().to_string();
                db.create_citizen_with_card(&citizen_id, &card.key, now)
                    .await
                    .map_err(ApiError::unavailable)?;
                (citizen_id, card_amr, Outcome::NewAccount)
            }
        },
    };
    crate::audit::record(
        state,
        "signin",
        Some(&citizen_id),
        None,
        serde_json::json!({
            "method": "card",
            "acr": SignInMethod::SmartCard.acr(),
            "outcome": outcome.status(),
        }),
    )
    .await?;
    record_verified_name(state, &citizen_id, card).await;
    state.sessions().end(headers).await;
    let cookie = start_session(state, &citizen_id, SignInMethod::SmartCard.acr(), &amr).await?;
    tracing::info!(outcome = outcome.status(), "card sign-in");
    Ok((cookie, outcome))
}

/// Puts the name on the card into the citizen's e-ME profile as a
/// verified English name (when profiles are configured and the name is
/// one). A failure is logged and does not stop the sign-in.
async fn record_verified_name(state: &AppState, citizen_id: &str, card: &VerifiedCard) {
    let (Some(profiles), Some(name)) = (state.profiles(), card.identity.common_name.as_deref())
    else {
        return;
    };
    let Some(spec) = eid_core::profile::field("name_en") else {
        return;
    };
    let today = crate::pages::hong_kong_today(state.now());
    let Ok(value) = spec.parse(eid_core::profile::Input::Text(name), today) else {
        tracing::info!("the card's name is not an English name; not recorded");
        return;
    };
    match profiles
        .set(
            state.db(),
            citizen_id,
            spec,
            &value,
            Some("card"),
            state.now(),
        )
        .await
    {
        Ok(_) => {
            let detail = serde_json::json!({ "set": [spec.id], "source": "card" });
            if let Err(error) =
                crate::audit::record(state, "profile.change", Some(citizen_id), None, detail).await
            {
                tracing::warn!(code = error.code, "verified name not audited");
            }
        }
        Err(error) => tracing::warn!(%error, "verified name not recorded"),
    }
}

/// Body of `POST /signin/card/challenge`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    /// Sign in (default) or bind the card to the signed-in account.
    #[serde(default)]
    pub intent: Intent,
}

/// `POST /signin/card/challenge`.
pub async fn challenge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    verifier(&state)?;
    let request: ChallengeRequest = if body.is_empty() {
        ChallengeRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(ApiError::malformed_json)?
    };
    let tls = state.config().tls.is_some();
    let binding = crate::signin::random_handle()
        .ok_or_else(|| ApiError::unavailable("random generator failure"))?;
    let lifetime = state.config().signin.ceremony_lifetime_secs;
    let challenge = card::begin_challenge(
        state.db(),
        state.config().issuer().as_str(),
        &binding,
        request.intent,
        time::Duration::seconds(i64::try_from(lifetime).unwrap_or(300)),
        state.now(),
    )
    .await
    .map_err(refused)?;
    let cookie = format!(
        "{}={binding}; Path=/; HttpOnly; SameSite=Strict; Max-Age={lifetime}{}",
        binding_cookie(tls),
        if tls { "; Secure" } else { "" },
    );
    let mut response = Json(json!({
        "ceremony": challenge.ceremony,
        "to_be_signed": challenge.to_be_signed,
        "origin": challenge.origin,
        "algorithms": ["RS256", "PS256", "ES256", "ES384"],
    }))
    .into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::unavailable)?,
    );
    Ok(response)
}

/// `POST /signin/card/finish`.
pub async fn finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    same_origin(&state, &headers)?;
    let verifier = verifier(&state)?;
    let answer: ChallengeAnswer = serde_json::from_slice(&body).map_err(|_| failed())?;
    let tls = state.config().tls.is_some();
    let (card, intent) = card::finish_challenge(
        state.db(),
        verifier,
        state.config().issuer().as_str(),
        cookie(&headers, binding_cookie(tls)),
        &answer,
        state.now(),
    )
    .await
    .map_err(refused)?;
    let (session, outcome) = complete(&state, &headers, &card, intent).await?;
    let mut response = Json(json!({
        "status": outcome.status(),
        "acr": SignInMethod::SmartCard.acr(),
    }))
    .into_response();
    response.headers_mut().append(SET_COOKIE, session);
    let clear = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        binding_cookie(tls),
        if tls { "; Secure" } else { "" },
    );
    if let Ok(clear) = HeaderValue::from_str(&clear) {
        response.headers_mut().append(SET_COOKIE, clear);
    }
    Ok(response)
}

/// Query of `GET /signin/card/tls`.
#[derive(Debug, Default, Deserialize)]
pub struct TlsQuery {
    /// The waiting authorization request, if the sign-in is for one.
    pub flow: Option<String>,
    /// Page language for the way back.
    pub lang: Option<String>,
    /// `bind` to link the card to the signed-in account.
    pub intent: Option<String>,
    /// The session's CSRF token (required to bind).
    pub csrf: Option<String>,
}

/// `GET /signin/card/tls` (card listener only).
pub async fn tls(
    State(state): State<AppState>,
    headers: HeaderMap,
    certificates: Option<axum::Extension<PeerCertificates>>,
    Query(query): Query<TlsQuery>,
) -> Response {
    let issuer = state.config().issuer();
    let base = issuer.as_str().trim_end_matches('/');
    let flow = query
        .flow
        .filter(|f| crate::signin::is_handle(f))
        .unwrap_or_default();
    let lang = crate::pages::language(query.lang.as_deref(), &headers);
    let bind = query.intent.as_deref() == Some("bind");
    let back = |result: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if !flow.is_empty() {
            q.append_pair("flow", &flow);
        }
        q.append_pair("lang", lang.tag());
        q.append_pair("card", result);
        let page = if bind { "/account/passkeys" } else { "/signin" };
        format!("{base}{page}?{}", q.finish())
    };
    let tls_on = state.config().tls.is_some();
    let outcome = async {
        let verifier = verifier(&state).map_err(|_| "unavailable")?;
        if bind
            && !query
                .csrf
                .as_deref()
                .is_some_and(|t| csrf_ok(&headers, tls_on, t))
        {
            return Err("failed");
        }
        let Some(axum::Extension(PeerCertificates(chain))) = certificates else {
            return Err("no_certificate");
        };
        let card = verifier.verify(&chain, state.now()).await.map_err(|e| {
            tracing::info!(reason = e.code(), "card sign-in refused");
            "failed"
        })?;
        let intent = if bind { Intent::Bind } else { Intent::SignIn };
        complete(&state, &headers, &card, intent)
            .await
            .map_err(|e| e.code)
    }
    .await;
    let (location, cookie) = match outcome {
        Ok((cookie, outcome)) => {
            let location = if !flow.is_empty() {
                format!("{base}/signin/continue?flow={flow}")
            } else if bind {
                back(outcome.status())
            } else {
                format!("{base}/account/passkeys?lang={}&card=signed_in", lang.tag())
            };
            (location, Some(cookie))
        }
        Err(code) => (back(code), None),
    };
    let mut response = (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}
