//! The hand-off between the authorization endpoint and citizen sign-in.
//!
//! Sign-in pages and sessions (passkeys, smart ID card) arrive with their
//! own capability; until then the gateway knows no signed-in citizen, and
//! tests put one in place through [`SessionSource`].

use axum::http::HeaderMap;
use eid_core::oidc::grant::Authentication;

/// Tells the authorization endpoint who is signed in on this request.
pub trait SessionSource: Send + Sync + std::fmt::Debug {
    /// The citizen signed in on the browser that made the request, if any.
    fn current(&self, headers: &HeaderMap) -> Option<Authentication>;

    /// Ends the sign-in session of the browser that made the request
    /// (RP-initiated logout); nothing when there is none.
    fn end(&self, _headers: &HeaderMap) {}
}

/// No sign-in yet: nobody is ever signed in.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSignIn;

impl SessionSource for NoSignIn {
    fn current(&self, _headers: &HeaderMap) -> Option<Authentication> {
        None
    }
}
