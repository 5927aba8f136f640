//! Rate limiting of sign-in requests per client address and per account
//! (governor's GCRA, in memory, per process): a client that sends more than
//! `signin.attempts_per_minute`, or an account that sees more than
//! `signin.account_attempts_per_hour` sign-in attempts, gets
//! `429 too_many_requests` with `Retry-After`, and the request goes no
//! further.
//!
//! The address is the TCP peer; behind a reverse proxy every citizen shares
//! the proxy's address, so the limit must then be set for the proxy (or
//! enforced there).

use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::ApiError;
use crate::state::AppState;

/// Distinct addresses kept before old, idle ones are dropped.
const MAX_TRACKED: usize = 100_000;

/// A limiter of requests per key (a client address, an account).
#[derive(Debug, Clone)]
pub struct Limiter<K: Hash + Eq + Clone> {
    limiter: Arc<DefaultKeyedRateLimiter<K>>,
}

/// A limiter of requests per client address.
pub type AddressLimiter = Limiter<IpAddr>;

/// A limiter of sign-in attempts per account (citizen id or card key), so
/// that guessing from many addresses still meets a limit.
pub type AccountLimiter = Limiter<String>;

impl<K: Hash + Eq + Clone> Limiter<K> {
    /// `per_minute` requests per key per minute (at least 1).
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::dashmap(Quota::per_minute(n))),
        }
    }

    /// `per_hour` requests per key per hour (at least 1), all of them
    /// available at once.
    pub fn per_hour(per_hour: u32) -> Self {
        let n = NonZeroU32::new(per_hour).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(std::time::Duration::from_secs(3600) / n.get())
            .map_or_else(|| Quota::per_hour(n), |q| q.allow_burst(n));
        Self {
            limiter: Arc::new(RateLimiter::dashmap(quota)),
        }
    }

    /// `Ok` if `key` may go on, else the seconds to wait.
    pub fn check(&self, key: &K) -> Result<(), u64> {
        if self.limiter.len() > MAX_TRACKED {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(key).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        })
    }
}

/// A `429 too_many_requests` with `message` and `Retry-After: wait`.
pub fn too_many_error(wait: u64, message: &'static str) -> ApiError {
    let error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message);
    match HeaderValue::from_str(&wait.to_string()) {
        Ok(value) => error.with_header(header::RETRY_AFTER, value),
        Err(_) => error,
    }
}

/// The `429` answer to sign-in attempts, with `Retry-After: wait`.
pub fn too_many(wait: u64) -> Response {
    too_many_error(wait, SIGN_IN_LIMITED).into_response()
}

/// What a limited sign-in attempt is told.
pub const SIGN_IN_LIMITED: &str = "too many sign-in attempts; wait and try again";

/// Middleware: refuses sign-in requests over the address's limit.
pub async fn limit_signin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    match state.signin_limiter().check(&address) {
        Ok(()) => next.run(request).await,
        Err(wait) => too_many(wait),
    }
}

/// Middleware: refuses `/v1` requests over their department's limit. The
/// department is the one the API key or access token belongs to; a
/// request without a recognisable credential goes on (its handler answers
/// `401`).
pub async fn limit_department(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let credential = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, c)| c.trim().to_owned());
    let department = match credential {
        Some(c) if crate::api_keys::is_api_key(&c) => {
            match state
                .api_keys()
                .authenticate(state.db(), &c, state.now())
                .await
            {
                Ok(department) => {
                    let client_id = department.client_id.clone();
                    // The handler reads it from here: one lookup per request.
                    request.extensions_mut().insert(department);
                    Some(client_id)
                }
                Err(_) => None,
            }
        }
        Some(c) => {
            use eid_core::oidc::grant::{GrantStore, handle_hash};
            state
                .db()
                .get_access_token(&handle_hash(&c), state.now())
                .await
                .ok()
                .flatten()
                .map(|g| g.client_id)
        }
        None => None,
    };
    if let Some(client_id) = department
        && let Err(wait) = state.api_limiter().check(&client_id)
    {
        return too_many_error(
            wait,
            "too many requests from this department; wait and try again",
        )
        .into_response();
    }
    next.run(request).await
}
