//! DPoP proofs (RFC 9449): the proof's own checks. The caller records the
//! returned `jti` in the replay store, and compares the key thumbprint with
//! the one a code or token is bound to.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::jws::{self, JwsError};

/// How old a proof may be (its `iat`).
pub const MAX_PROOF_AGE: Duration = Duration::seconds(60);
/// How far in the future a proof's `iat` may be (clock skew).
pub const MAX_PROOF_SKEW: Duration = Duration::seconds(5);

/// The request a proof must match.
#[derive(Debug, Clone, Copy)]
pub struct ProofContext<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The request URL without query and fragment.
    pub url: &'a str,
    /// The access token presented with the proof (resource requests): the
    /// proof's `ath` must be its hash.
    pub access_token: Option<&'a str>,
    /// The nonce the server currently requires, if any.
    pub nonce: Option<&'a str>,
}

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The JWK SHA-256 thumbprint of the proof's key (`jkt`).
    pub jkt: String,
    /// The proof's `jti`: record it until `replay_until`.
    pub jti: String,
    /// Until when the `jti` must be remembered.
    pub replay_until: OffsetDateTime,
    /// The proof's `nonce` claim, for servers that check nonces themselves.
    pub nonce: Option<String>,
}

/// Why a proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// The JWS itself is refused.
    #[error("DPoP proof: {0}")]
    Jws(#[from] JwsError),
    /// A header or claim is missing or wrong.
    #[error("DPoP proof: {0}")]
    Invalid(&'static str),
    /// The server requires a (fresh) nonce: answer `use_dpop_nonce`.
    #[error("DPoP proof: a fresh server nonce is required")]
    NonceRequired,
}

impl DpopError {
    /// The OAuth error code (RFC 9449 section 12.2).
    pub fn oauth_error(&self) -> &'static str {
        match self {
            DpopError::NonceRequired => "use_dpop_nonce",
            _ => "invalid_dpop_proof",
        }
    }
}

/// `ath`: base64url SHA-256 of an access token.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        token.as_bytes(),
    ))
}

/// Compares the proof's `htu` with the request URL, ignoring query and
/// fragment, and the case of scheme and host (RFC 9449 4.3, item 9).
fn same_url(htu: &str, url: &str) -> bool {
    fn normalise(u: &str) -> Option<(String, String)> {
        let u = u.split(['?', '#']).next()?;
        let (scheme, rest) = u.split_once("://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        Some((
            format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                authority.to_ascii_lowercase()
            ),
            path.to_owned(),
        ))
    }
    matches!((normalise(htu), normalise(url)), (Some(a), Some(b)) if a == b)
}

/// Verifies a `DPoP` header value against the request.
pub fn verify_proof(
    proof: &str,
    context: &ProofContext<'_>,
    now: OffsetDateTime,
) -> Result<VerifiedProof, DpopError> {
    let token = jws::parse(proof)?;
    if token.header_str("typ") != Some("dpop+jwt") {
        return Err(DpopError::Invalid("typ must be dpop+jwt"));
    }
    let jwk = token.header_jwk()?;
    let claims = token.verify(&jwk)?;
    let text = |name| claims.get(name).and_then(Value::as_str);
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= crate::replay::MAX_ID_LEN)
        .ok_or(DpopError::Invalid("jti is required"))?;
    if text("htm") != Some(context.method) {
        return Err(DpopError::Invalid("htm does not match the request method"));
    }
    if !text("htu").is_some_and(|htu| same_url(htu, context.url)) {
        return Err(DpopError::Invalid("htu does not match the request URL"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .ok_or(DpopError::Invalid("iat is required"))?;
    if iat < now - MAX_PROOF_AGE || iat > now + MAX_PROOF_SKEW {
        return Err(DpopError::Invalid("iat is outside the acceptance window"));
    }
    match context.access_token {
        Some(token) if text("ath") != Some(access_token_hash(token).as_str()) => {
            return Err(DpopError::Invalid("ath does not match the access token"));
        }
        None if claims.contains_key("ath") => {
            return Err(DpopError::Invalid("ath without an access token"));
        }
        _ => {}
    }
    if let Some(nonce) = context.nonce
        && text("nonce") != Some(nonce)
    {
        return Err(DpopError::NonceRequired);
    }
    Ok(VerifiedProof {
        jkt: jwk.thumbprint(),
        jti: jti.to_owned(),
        replay_until: iat + MAX_PROOF_AGE + MAX_PROOF_SKEW,
        nonce: text("nonce").map(str::to_owned),
    })
}

/// Stateless server nonces (RFC 9449 section 8): a time bucket and its
/// HMAC. A nonce is accepted during its bucket and the next, so every
/// gateway process sharing the key accepts every other's nonces.
#[derive(Debug)]
pub struct NonceIssuer {
    key: ring::hmac::Key,
    bucket_secs: i64,
}

impl NonceIssuer {
    /// Nonces keyed with `secret`, changing every `bucket_secs` seconds.
    pub fn new(secret: &[u8], bucket_secs: i64) -> Self {
        Self {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
            bucket_secs: bucket_secs.max(1),
        }
    }

    fn for_bucket(&self, bucket: i64) -> String {
        let tag = ring::hmac::sign(&self.key, &bucket.to_be_bytes());
        format!("{bucket}.{}", URL_SAFE_NO_PAD.encode(&tag.as_ref()[..16]))
    }

    /// The nonce to hand out at `now`.
    pub fn current(&self, now: OffsetDateTime) -> String {
        self.for_bucket(now.unix_timestamp().div_euclid(self.bucket_secs))
    }

    /// Whether `nonce` was issued in this bucket or the previous one.
    pub fn accepts(&self, nonce: &str, now: OffsetDateTime) -> bool {
        let bucket = now.unix_timestamp().div_euclid(self.bucket_secs);
        [bucket, bucket - 1].iter().any(|b| {
            crate::secret::constant_time_eq(self.for_bucket(*b).as_bytes(), nonce.as_bytes())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_live_two_buckets_and_need_the_key() {
        let issuer = NonceIssuer::new(b"secret", 60);
        let t = OffsetDateTime::from_unix_timestamp(6_000).expect("time");
        let nonce = issuer.current(t);
        assert!(issuer.accepts(&nonce, t));
        assert!(issuer.accepts(&nonce, t + Duration::seconds(119)));
        assert!(!issuer.accepts(&nonce, t + Duration::seconds(120)));
        assert!(!issuer.accepts(&nonce, t - Duration::seconds(1)));
        assert!(!NonceIssuer::new(b"other", 60).accepts(&nonce, t));
        assert!(!issuer.accepts("100.AAAA", t));
        assert!(!issuer.accepts("", t));
    }

    #[test]
    fn urls_compare_without_query_and_case_of_host() {
        assert!(same_url(
            "https://EID.example/token",
            "https://eid.example/token?x=1"
        ));
        assert!(same_url(
            "HTTPS://eid.example/token#f",
            "https://eid.example/token"
        ));
        assert!(!same_url(
            "https://eid.example/Token",
            "https://eid.example/token"
        ));
        assert!(!same_url(
            "https://eid.example/token",
            "https://eid.example/par"
        ));
        assert!(!same_url(
            "https://evil.example/token",
            "https://eid.example/token"
        ));
        assert!(!same_url("not a url", "https://eid.example/token"));
        assert!(same_url("https://eid.example", "https://eid.example/"));
    }
}
