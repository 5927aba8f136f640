//! Registering departments: ids and secrets are made here, checked by
//! `eid_core::oidc::client`, stored through [`ClientStore`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_core::oidc::client::check_registration;
use eid_core::oidc::jwk::parse_client_jwks;
use eid_core::oidc::{Client, ClientAuth, ClientError, ClientStore, JwkError};
use eid_core::{Secret, StoreError};
use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

/// How the new client will authenticate.
#[derive(Debug, Clone)]
pub enum AuthChoice {
    /// `private_key_jwt` with this key set (JSON).
    Jwks(Vec<u8>),
    /// `private_key_jwt` with keys at this URL.
    JwksUri(String),
    /// `client_secret_basic` with a generated secret.
    Secret,
}

/// What a registration asks for.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Department name.
    pub name: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed scopes (`openid` is always allowed).
    pub scopes: Vec<String>,
    /// Authentication.
    pub auth: AuthChoice,
    /// Whether tokens are DPoP-bound (FAPI 2.0: yes).
    pub dpop_bound: bool,
}

/// The registered client, and its secret when one was generated (shown
/// once, never stored).
#[derive(Debug)]
pub struct Registered {
    /// The stored client.
    pub client: Client,
    /// The generated secret, for `client_secret_basic` clients only.
    pub secret: Option<Secret<String>>,
}

/// Why a registration failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The request is not acceptable.
    #[error(transparent)]
    Invalid(#[from] ClientError),
    /// The key set is not acceptable.
    #[error("--jwks: {0}")]
    Jwks(#[from] JwkError),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The random generator failed.
    #[error("random generator failure")]
    Random,
}

fn random_token(bytes: usize) -> Result<String, RegistrationError> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| RegistrationError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// SHA-256 of a client secret, as stored.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// Checks and stores a new client.
pub async fn register<S: ClientStore>(
    store: &S,
    registration: Registration,
    now: OffsetDateTime,
) -> Result<Registered, RegistrationError> {
    let mut secret = None;
    let auth = match registration.auth {
        AuthChoice::Jwks(json) => ClientAuth::PrivateKeyJwt {
            jwks: parse_client_jwks(&json)?,
        },
        AuthChoice::JwksUri(jwks_uri) => ClientAuth::PrivateKeyJwtUri { jwks_uri },
        AuthChoice::Secret => {
            let value = random_token(32)?;
            let auth = ClientAuth::ClientSecretBasic {
                secret_sha256: hash_secret(&value),
            };
            secret = Some(Secret::new(value));
            auth
        }
    };
    let mut scopes = registration.scopes;
    if !scopes.iter().any(|s| s == "openid") {
        scopes.insert(0, "openid".to_owned());
    }
    check_registration(
        &registration.name,
        &registration.redirect_uris,
        &registration.post_logout_redirect_uris,
        &scopes,
        &auth,
    )?;
    let client = Client {
        client_id: random_token(16)?,
        name: registration.name,
        redirect_uris: registration.redirect_uris,
        post_logout_redirect_uris: registration.post_logout_redirect_uris,
        scopes,
        auth,
        dpop_bound: registration.dpop_bound,
        enabled: true,
        created_at: now,
    };
    store.insert_client(&client).await?;
    Ok(Registered { client, secret })
}
