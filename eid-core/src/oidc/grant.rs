//! What the authorization code flow hands from step to step: PKCE
//! verification, pairwise subject identifiers, authorization codes and the
//! tokens issued for them, and the storage trait that keeps codes and
//! tokens so that several gateway processes behave as one.

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::authz::AuthorizationRequest;
use crate::secret::constant_time_eq;
use crate::{Secret, StoreError};

/// How long an authorization code lives (FAPI 2.0: at most 60 s).
pub const CODE_LIFETIME_SECS: i64 = 60;

/// Checks a PKCE `code_verifier` against an S256 `code_challenge` (RFC 7636):
/// 43 to 128 unreserved characters whose SHA-256, base64url, is the challenge.
pub fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

/// The `sub` a department sees for a citizen: HMAC-SHA256 of the citizen's
/// internal id under a per-department sector (the client id), keyed by a
/// secret of the installation. Departments cannot link their subjects.
pub fn pairwise_subject(secret: &Secret<Vec<u8>>, sector: &str, citizen_id: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose());
    let mut message = Vec::with_capacity(sector.len() + citizen_id.len() + 1);
    message.extend_from_slice(sector.as_bytes());
    message.push(0);
    message.extend_from_slice(citizen_id.as_bytes());
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, &message))
}

/// SHA-256 of a code or token, base64url: what is stored, never the value.
pub fn handle_hash(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, value.as_bytes()))
}

/// The authenticated citizen an authorization is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    /// The citizen's internal account id (never sent to departments).
    pub citizen_id: String,
    /// When the citizen last authenticated.
    pub auth_time: OffsetDateTime,
    /// Level of assurance reached, an `acr` value.
    pub acr: String,
    /// Methods used (`hwk` for a passkey, `sc` for a smart card, ...).
    pub amr: Vec<String>,
    /// The sign-in session id (`sid`).
    pub session_id: String,
}

/// An issued authorization code, as stored (under the hash of the code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeGrant {
    /// The request it answers (client, redirect URI, PKCE, nonce, DPoP key...).
    pub request: AuthorizationRequest,
    /// Who signed in.
    pub authentication: Authentication,
    /// When the code stops being redeemable.
    pub expires_at: OffsetDateTime,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// First use: the grant.
    Granted(Box<CodeGrant>),
    /// The code was already used: the tokens issued for it must be revoked
    /// (RFC 6749 4.1.2, RFC 9700 4.5).
    Reused {
        /// The token family issued on first use.
        family: String,
    },
    /// No such code, or it expired.
    Unknown,
}

/// An access token (or a refresh token), as stored under the token's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessGrant {
    /// The tokens issued together (revoked together).
    pub family: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The pairwise subject.
    pub subject: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// The DPoP key it is bound to (`cnf.jkt`); `None` for Bearer tokens.
    pub jkt: Option<String>,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// The citizen (internal id), for releasing profile fields at
    /// userinfo.
    #[serde(default)]
    pub citizen_id: Option<String>,
    /// The consent grant whose fields userinfo releases, if any.
    #[serde(default)]
    pub consent_grant: Option<String>,
}

/// A refresh token, as stored: the same facts as an access token, with the
/// refresh token's own expiry.
pub type RefreshGrant = AccessGrant;

/// What using a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshUse {
    /// First use: the grant (the token is now spent; a new one replaces it).
    Fresh(Box<RefreshGrant>),
    /// Already used: the family must be revoked (a stolen token was replayed,
    /// or the client replayed it).
    Reused {
        /// The family.
        family: String,
    },
    /// Unknown, expired or revoked.
    Unknown,
}

/// Storage of codes and of the tokens issued for them.
pub trait GrantStore: Send + Sync {
    /// Stores a new code under `code_hash`.
    fn insert_code(
        &self,
        code_hash: &str,
        grant: &CodeGrant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Reads a code without using it (to check the request before anything
    /// changes): the grant and, when already used, the family issued for it.
    fn get_code(
        &self,
        code_hash: &str,
    ) -> impl Future<Output = Result<Option<(CodeGrant, Option<String>)>, StoreError>> + Send;

    /// Marks the code used by `client_id` and records `family` as issued
    /// for it, in one atomic step; a second redemption finds `Reused`.
    fn redeem_code(
        &self,
        code_hash: &str,
        client_id: &str,
        family: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Redemption, StoreError>> + Send;

    /// Stores an access token under `token_hash`.
    fn insert_access_token(
        &self,
        token_hash: &str,
        grant: &AccessGrant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The live (unexpired, unrevoked) access token with this hash.
    fn get_access_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Option<AccessGrant>, StoreError>> + Send;

    /// Revokes every access and refresh token of a family; returns how many.
    fn revoke_family(&self, family: &str) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Stores a refresh token under `token_hash`.
    fn insert_refresh_token(
        &self,
        token_hash: &str,
        grant: &RefreshGrant,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Spends a refresh token atomically: the first use gets the grant.
    fn use_refresh_token(
        &self,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<RefreshUse, StoreError>> + Send;

    /// The family and client of a live or spent token (access or refresh),
    /// for revocation requests.
    fn token_family(
        &self,
        token_hash: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_s256_matches(verifier, challenge));
        assert!(!pkce_s256_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
        assert!(!pkce_s256_matches(challenge, challenge), "plain is refused");
        assert!(!pkce_s256_matches("short", challenge));
        assert!(!pkce_s256_matches(&"a".repeat(129), challenge));
        assert!(!pkce_s256_matches(&format!("{verifier} "), challenge));
    }

    #[test]
    fn pairwise_subjects_differ_per_department_and_are_stable() {
        let secret = Secret::new(vec![9u8; 32]);
        let a = pairwise_subject(&secret, "dept-a", "citizen-1");
        assert_eq!(a, pairwise_subject(&secret, "dept-a", "citizen-1"));
        assert_ne!(a, pairwise_subject(&secret, "dept-b", "citizen-1"));
        assert_ne!(a, pairwise_subject(&secret, "dept-a", "citizen-2"));
        // The separator keeps "ab"+"c" apart from "a"+"bc".
        assert_ne!(
            pairwise_subject(&secret, "ab", "c"),
            pairwise_subject(&secret, "a", "bc")
        );
        assert_ne!(
            a,
            pairwise_subject(&Secret::new(vec![8u8; 32]), "dept-a", "citizen-1")
        );
        assert_eq!(a.len(), 43);
    }
}
