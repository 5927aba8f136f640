//! The department registry: relying parties, how they authenticate, where
//! they may be redirected, and the storage trait that keeps them.

use std::future::Future;

use time::OffsetDateTime;

use super::jwk::Jwks;
use crate::StoreError;

/// Longest client name.
pub const MAX_NAME_LEN: usize = 200;
/// Most redirect URIs per client.
pub const MAX_REDIRECT_URIS: usize = 20;
/// Longest redirect URI.
pub const MAX_URI_LEN: usize = 2000;

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// `private_key_jwt` with keys registered inline (the default).
    PrivateKeyJwt {
        /// The client's public keys.
        jwks: Jwks,
    },
    /// `private_key_jwt` with keys fetched from the client's URL.
    PrivateKeyJwtUri {
        /// The `jwks_uri` (https).
        jwks_uri: String,
    },
    /// `client_secret_basic`, only for clients registered with a secret.
    ClientSecretBasic {
        /// SHA-256 of the secret (the secret is 256 random bits, so a fast
        /// hash is enough; it is shown once and never stored).
        secret_sha256: Vec<u8>,
    },
}

impl ClientAuth {
    /// The `token_endpoint_auth_method` name.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::PrivateKeyJwt { .. } | ClientAuth::PrivateKeyJwtUri { .. } => {
                "private_key_jwt"
            }
            ClientAuth::ClientSecretBasic { .. } => "client_secret_basic",
        }
    }
}

/// A registered department (relying party).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client id (random, URL-safe).
    pub client_id: String,
    /// Human name, shown to citizens on consent pages.
    pub name: String,
    /// Redirect URIs; matched exactly.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to; matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may ask for.
    pub scopes: Vec<String>,
    /// Token endpoint authentication.
    pub auth: ClientAuth,
    /// Whether tokens must be DPoP-bound (the default; Bearer only when false).
    pub dpop_bound: bool,
    /// Disabled clients are refused everywhere.
    pub enabled: bool,
    /// When it was registered.
    pub created_at: OffsetDateTime,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The name is empty, too long or has control characters.
    #[error("client name must be 1 to {MAX_NAME_LEN} printable characters")]
    BadName,
    /// No redirect URI, or too many.
    #[error("a client needs 1 to {MAX_REDIRECT_URIS} redirect URIs")]
    RedirectUriCount,
    /// A redirect URI is not acceptable.
    #[error("redirect URI {uri:?} is not acceptable: {reason}")]
    BadRedirectUri {
        /// The URI.
        uri: String,
        /// Why.
        reason: &'static str,
    },
    /// A scope name is not acceptable.
    #[error("scope {0:?} is not acceptable")]
    BadScope(String),
    /// The `jwks_uri` is not an https URL.
    #[error("jwks_uri must be an https URL")]
    BadJwksUri,
}

/// Checks a redirect URI (FAPI 2.0 / RFC 9700): absolute, https (http only
/// for loopback, for development), no fragment, no wildcard, no user info.
pub fn check_redirect_uri(uri: &str) -> Result<(), ClientError> {
    let bad = |reason| ClientError::BadRedirectUri {
        uri: uri.to_owned(),
        reason,
    };
    if uri.is_empty() || uri.len() > MAX_URI_LEN {
        return Err(bad("empty or too long"));
    }
    if uri.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("contains whitespace or control characters"));
    }
    if uri.contains('#') {
        return Err(bad("must not have a fragment"));
    }
    if uri.contains('*') {
        return Err(bad("wildcards are not allowed; URIs match exactly"));
    }
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| bad("must be absolute"))?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("must not carry user information"));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1");
    match scheme {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(bad("must use https (http only on loopback)")),
        _ => Err(bad("must use https")),
    }
}

/// Checks a whole registration before it is stored.
pub fn check_registration(
    name: &str,
    redirect_uris: &[String],
    post_logout_redirect_uris: &[String],
    scopes: &[String],
    auth: &ClientAuth,
) -> Result<(), ClientError> {
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME_LEN
        || name.chars().any(char::is_control)
    {
        return Err(ClientError::BadName);
    }
    if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(ClientError::RedirectUriCount);
    }
    if post_logout_redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(ClientError::RedirectUriCount);
    }
    for uri in redirect_uris.iter().chain(post_logout_redirect_uris) {
        check_redirect_uri(uri)?;
    }
    for scope in scopes {
        let ok = !scope.is_empty()
            && scope.len() <= 64
            && scope
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'));
        if !ok {
            return Err(ClientError::BadScope(scope.clone()));
        }
    }
    if let ClientAuth::PrivateKeyJwtUri { jwks_uri } = auth
        && !(jwks_uri.starts_with("https://") && jwks_uri.len() <= MAX_URI_LEN)
    {
        return Err(ClientError::BadJwksUri);
    }
    Ok(())
}

/// Storage of registered clients.
pub trait ClientStore: Send + Sync {
    /// Stores a new client.
    fn insert_client(&self, client: &Client)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The client with this id, enabled or not.
    fn get_client(
        &self,
        client_id: &str,
    ) -> impl Future<Output = Result<Option<Client>, StoreError>> + Send;

    /// Every client, oldest first.
    fn list_clients(&self) -> impl Future<Output = Result<Vec<Client>, StoreError>> + Send;

    /// Enables or disables a client; `false` when there is no such client.
    fn set_client_enabled(
        &self,
        client_id: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_strict() {
        for ok in [
            "https://dept.gov.hk/callback",
            "https://dept.gov.hk:8443/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/relative",
            "http://dept.gov.hk/cb",
            "https://dept.gov.hk/cb#frag",
            "https://*.gov.hk/cb",
            "https://user:pw@dept.gov.hk/cb",
            "javascript://dept.gov.hk/%0aalert(1)",
            "https:///nohost",
            "https://dept.gov.hk/c b",
            "http://localhost.evil.example/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        assert!(check_redirect_uri(&format!("https://a.hk/{}", "x".repeat(MAX_URI_LEN))).is_err());
    }

    #[test]
    fn registrations_are_checked_whole() {
        let uris = vec!["https://dept.gov.hk/cb".to_owned()];
        let auth = ClientAuth::ClientSecretBasic {
            secret_sha256: vec![0; 32],
        };
        assert_eq!(
            check_registration("Lands Department", &uris, &[], &["openid".into()], &auth),
            Ok(())
        );
        assert_eq!(
            check_registration(" ", &uris, &[], &[], &auth),
            Err(ClientError::BadName)
        );
        assert_eq!(
            check_registration("x\u{0}", &uris, &[], &[], &auth),
            Err(ClientError::BadName)
        );
        assert_eq!(
            check_registration("x", &[], &[], &[], &auth),
            Err(ClientError::RedirectUriCount)
        );
        assert!(
            check_registration("x", &uris, &["http://evil.example/".into()], &[], &auth).is_err()
        );
        assert!(check_registration("x", &uris, &[], &["bad scope".into()], &auth).is_err());
        let by_uri = ClientAuth::PrivateKeyJwtUri {
            jwks_uri: "http://dept.gov.hk/jwks".into(),
        };
        assert_eq!(
            check_registration("x", &uris, &[], &[], &by_uri),
            Err(ClientError::BadJwksUri)
        );
    }
}
