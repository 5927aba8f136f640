//! Rate limiting of sign-in requests per client address (governor's GCRA,
//! in memory, per process): a client that sends more than
//! `signin.attempts_per_minute` gets `429 too_many_requests` with
//! `Retry-After`, and the request goes no further.
//!
//! The address is the TCP peer; behind a reverse proxy every citizen shares
//! the proxy's address, so the limit must then be set for the proxy (or
//! enforced there).

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

/// A limiter of requests per client address.
#[derive(Debug, Clone)]
pub struct AddressLimiter {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AddressLimiter {
    /// `per_minute` requests per address per minute (at least 1).
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(RateLimiter::dashmap(Quota::per_minute(n))),
        }
    }

    /// `Ok` if `address` may go on, else the seconds to wait.
    pub fn check(&self, address: IpAddr) -> Result<(), u64> {
        if self.limiter.len() > MAX_TRACKED {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&address).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                .max(1)
        })
    }
}

/// Middleware: refuses sign-in requests over the address's limit.
pub async fn limit_signin(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    match state.signin_limiter().check(address) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let mut response = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many sign-in attempts; wait and try again",
            )
            .into_response();
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}
