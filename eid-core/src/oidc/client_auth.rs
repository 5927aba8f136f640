//! Client authentication at the token and PAR endpoints: `private_key_jwt`
//! (RFC 7523 client assertions, the FAPI 2.0 default) and
//! `client_secret_basic` for clients registered with a secret. Every failure
//! is the OAuth error `invalid_client`; the variants say why, for the log.

use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::client::{Client, ClientAuth};
use super::jws::{self, JwsError};
use crate::secret::constant_time_eq;

/// The `client_assertion_type` of a JWT client assertion.
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Longest an assertion may be valid for: `exp` at most this far ahead.
pub const MAX_ASSERTION_LIFETIME: Duration = Duration::minutes(5);
/// Clock skew tolerated on `iat` and `nbf`.
pub const CLOCK_SKEW: Duration = Duration::seconds(30);

/// Why a client failed to authenticate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientAuthError {
    /// The client is disabled.
    #[error("client is disabled")]
    Disabled,
    /// The client used a method it is not registered for.
    #[error("client is registered for {registered}, not {used}")]
    WrongMethod {
        /// Its registered method.
        registered: &'static str,
        /// The method it tried.
        used: &'static str,
    },
    /// The assertion's JWS is refused.
    #[error("client assertion: {0}")]
    Jws(#[from] JwsError),
    /// No registered key matches the assertion.
    #[error("client assertion: no registered key matches")]
    UnknownKey,
    /// A claim is missing or wrong.
    #[error("client assertion: {0}")]
    Claim(&'static str),
    /// Keys at a jwks_uri are not fetched yet.
    #[error("client keys at a jwks_uri are not supported yet")]
    JwksUriUnsupported,
    /// The secret does not match.
    #[error("client secret does not match")]
    BadSecret,
}

impl ClientAuthError {
    /// The OAuth 2.0 error code (RFC 6749 5.2).
    pub fn oauth_error(&self) -> &'static str {
        "invalid_client"
    }
}

/// A verified assertion: its `jti` must now be recorded as used until
/// `expires_at` (a replay is `invalid_client` too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    /// The assertion's `jti`.
    pub jti: String,
    /// Its `exp`.
    pub expires_at: OffsetDateTime,
}

fn time_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<OffsetDateTime>, ClientAuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .map(Some)
            .ok_or(ClientAuthError::Claim(
                "a time claim is not a number of seconds",
            )),
    }
}

/// Verifies a `private_key_jwt` assertion from `client`. `issuer` and
/// `token_endpoint` are the audiences accepted.
pub fn verify_assertion(
    assertion: &str,
    client: &Client,
    issuer: &str,
    token_endpoint: &str,
    now: OffsetDateTime,
) -> Result<VerifiedAssertion, ClientAuthError> {
    if !client.enabled {
        return Err(ClientAuthError::Disabled);
    }
    let jwks = match &client.auth {
        ClientAuth::PrivateKeyJwt { jwks } => jwks,
        ClientAuth::PrivateKeyJwtUri { .. } => return Err(ClientAuthError::JwksUriUnsupported),
        ClientAuth::ClientSecretBasic { .. } => {
            return Err(ClientAuthError::WrongMethod {
                registered: "client_secret_basic",
                used: "private_key_jwt",
            });
        }
    };
    let token = jws::parse(assertion)?;
    let candidates: Vec<_> = match token.header_str("kid") {
        Some(kid) => jwks
            .keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid))
            .collect(),
        None => jwks
            .keys
            .iter()
            .filter(|k| k.alg() == Some(token.alg))
            .collect(),
    };
    let [key] = candidates.as_slice() else {
        return Err(ClientAuthError::UnknownKey);
    };
    let claims = token.verify(key)?;
    let text = |name| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client.client_id.as_str()) {
        return Err(ClientAuthError::Claim("iss must be the client_id"));
    }
    if text("sub") != Some(client.client_id.as_str()) {
        return Err(ClientAuthError::Claim("sub must be the client_id"));
    }
    let audience_ok = |aud: &str| aud == issuer || aud == token_endpoint;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audience_ok(aud),
        Some(Value::Array(auds)) => {
            !auds.is_empty()
                && auds.iter().all(|a| a.as_str().is_some())
                && auds.iter().any(|a| a.as_str().is_some_and(audience_ok))
        }
        _ => false,
    };
    if !aud_ok {
        return Err(ClientAuthError::Claim(
            "aud must be the issuer or the token endpoint",
        ));
    }
    let exp = time_claim(&claims, "exp")?.ok_or(ClientAuthError::Claim("exp is required"))?;
    if exp <= now {
        return Err(ClientAuthError::Claim("the assertion has expired"));
    }
    if exp > now + MAX_ASSERTION_LIFETIME {
        return Err(ClientAuthError::Claim("exp is too far in the future"));
    }
    for name in ["iat", "nbf"] {
        if time_claim(&claims, name)?.is_some_and(|t| t > now + CLOCK_SKEW) {
            return Err(ClientAuthError::Claim("iat or nbf is in the future"));
        }
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty() && j.len() <= crate::replay::MAX_ID_LEN)
        .ok_or(ClientAuthError::Claim("jti is required"))?;
    Ok(VerifiedAssertion {
        jti: jti.to_owned(),
        expires_at: exp,
    })
}

/// Verifies `client_secret_basic` in constant time.
pub fn verify_secret(client: &Client, secret: &str) -> Result<(), ClientAuthError> {
    if !client.enabled {
        return Err(ClientAuthError::Disabled);
    }
    let ClientAuth::ClientSecretBasic { secret_sha256 } = &client.auth else {
        return Err(ClientAuthError::WrongMethod {
            registered: "private_key_jwt",
            used: "client_secret_basic",
        });
    };
    let presented = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    if constant_time_eq(presented.as_ref(), secret_sha256) {
        Ok(())
    } else {
        Err(ClientAuthError::BadSecret)
    }
}
