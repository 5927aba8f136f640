//! Citizen sign-in: who is signed in on a request, sessions in the
//! database, and (in [`passkeys`]) the passkey ceremonies.
//!
//! A session is a random 256-bit value in a cookie (`__Host-eid_session`
//! over TLS, `eid_session` on plain HTTP, which browsers allow on
//! `localhost` only for development), HttpOnly, SameSite=Lax, Secure over
//! TLS. The database holds only its SHA-256. Sessions end after the idle
//! or the absolute timeout ([`eid_core::session::SessionPolicy`]).

pub mod card;
pub mod passkeys;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use eid_core::oidc::grant::{Authentication, handle_hash};
use eid_core::session::{SessionPolicy, SessionTimes};

use crate::state::Clock;
use crate::store::Db;

/// A boxed future (so that session sources can sit behind `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The session cookie's name over TLS.
pub const SECURE_COOKIE: &str = "__Host-eid_session";
/// The session cookie's name on plain HTTP (development only).
pub const PLAIN_COOKIE: &str = "eid_session";

/// Tells the authorization endpoint who is signed in on this request.
pub trait SessionSource: Send + Sync + std::fmt::Debug {
    /// The citizen signed in on the browser that made the request, if any.
    fn current<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Option<Authentication>>;

    /// Ends the sign-in session of the browser that made the request
    /// (RP-initiated logout); nothing when there is none.
    fn end<'a>(&'a self, _headers: &'a HeaderMap) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
}

/// Nobody is ever signed in (for tests of what happens without a session).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSignIn;

impl SessionSource for NoSignIn {
    fn current<'a>(&'a self, _headers: &'a HeaderMap) -> BoxFuture<'a, Option<Authentication>> {
        Box::pin(async { None })
    }
}

/// The session cookie's name: `__Host-` prefixed over TLS.
pub fn cookie_name(tls: bool) -> &'static str {
    if tls { SECURE_COOKIE } else { PLAIN_COOKIE }
}

/// A fresh random handle (session cookie, ceremony, flow): 32 bytes from
/// the system's generator, base64url. `None` if the generator fails.
pub fn random_handle() -> Option<String> {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `value` has the shape of a [`random_handle`] (43 base64url
/// characters): anything else is not ours and is neither looked up nor
/// echoed.
pub fn is_handle(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The value of cookie `name` in `headers`, if present exactly once.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, v)| v);
    let first = found.next()?;
    // Two cookies of one name: one may have been planted by a sibling
    // domain; trust neither.
    found.next().is_none().then_some(first)
}

/// The CSRF token of the session on this request: derived from the session
/// cookie (which no other site can read), so that a form posted from
/// elsewhere cannot carry it. `None` without a session cookie.
pub fn csrf_token(headers: &HeaderMap, tls: bool) -> Option<String> {
    let value = cookie(headers, cookie_name(tls))?;
    Some(handle_hash(&format!("csrf:{value}")))
}

/// Whether `given` is this session's CSRF token (constant-time).
pub fn csrf_ok(headers: &HeaderMap, tls: bool, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    csrf_token(headers, tls)
        .is_some_and(|token| bool::from(token.as_bytes().ct_eq(given.as_bytes())))
}

/// The `sid` claim for a session: derived from, but not equal to, what
/// the database holds, and unrelated to the cookie.
pub fn session_sid(id_hash: &str) -> String {
    handle_hash(&format!("sid:{id_hash}"))
}

/// Sessions in the database.
#[derive(Debug, Clone)]
pub struct DbSessions {
    db: Db,
    policy: SessionPolicy,
    clock: Arc<dyn Clock>,
    cookie_name: &'static str,
}

impl DbSessions {
    /// Sessions in `db` under `policy`; `tls` chooses the cookie name.
    pub fn new(db: Db, policy: SessionPolicy, clock: Arc<dyn Clock>, tls: bool) -> Self {
        Self {
            db,
            policy,
            clock,
            cookie_name: cookie_name(tls),
        }
    }

    fn id_hash(&self, headers: &HeaderMap) -> Option<String> {
        let value = cookie(headers, self.cookie_name)?;
        // 32 random bytes, base64url: anything else is not ours.
        (value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| handle_hash(value))
    }
}

impl SessionSource for DbSessions {
    fn current<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Option<Authentication>> {
        Box::pin(async move {
            let id_hash = self.id_hash(headers)?;
            let row = match self.db.session(&id_hash).await {
                Ok(row) => row?,
                Err(e) => {
                    tracing::warn!(error = %e, "session lookup failed");
                    return None;
                }
            };
            let now = self.clock.now();
            let times = SessionTimes {
                auth_time: row.auth_time,
                last_seen: row.last_seen,
            };
            if !self.policy.is_live(times, now) {
                let _ = self.db.delete_session(&id_hash).await;
                return None;
            }
            if let Err(e) = self.db.touch_session(&id_hash, now).await {
                tracing::warn!(error = %e, "session touch failed");
            }
            Some(Authentication {
                citizen_id: row.citizen_id,
                auth_time: row.auth_time,
                acr: row.acr,
                amr: row.amr,
                session_id: session_sid(&id_hash),
            })
        })
    }

    fn end<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if let Some(id_hash) = self.id_hash(headers)
                && let Err(e) = self.db.delete_session(&id_hash).await
            {
                tracing::warn!(error = %e, "session end failed");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_read_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; eid_session=abc; b=2"),
        );
        assert_eq!(cookie(&headers, "eid_session"), Some("abc"));
        assert_eq!(cookie(&headers, "eid"), None);
        headers.append(COOKIE, HeaderValue::from_static("eid_session=evil"));
        assert_eq!(
            cookie(&headers, "eid_session"),
            None,
            "a second cookie of the name"
        );
    }
}
