//! Passkey ceremonies with `webauthn-rs`: registration (which creates the
//! citizen's account, or adds a passkey to a signed-in account) and
//! discoverable sign-in (no user name: the passkey says whose it is).
//! User verification is required. Challenge state waits in the database
//! under the hash of a handle the browser holds, and is taken once: a
//! replayed or late finish finds nothing.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_core::StoreError;
use eid_core::oidc::grant::handle_hash;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
};

use crate::store::Db;

const REGISTER: &str = "passkey_register";
const LOGIN: &str = "passkey_login";

/// Longest passkey name.
pub const MAX_NAME_CHARS: usize = 60;

/// Why a ceremony failed. The citizen sees one generic message for all of
/// them; the variants are for logs and tests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The issuer URL cannot be a WebAuthn relying party.
    #[error("passkeys are not configured: {0}")]
    Config(String),
    /// No live ceremony for the handle (unknown, expired or already used).
    #[error("the ceremony is unknown, expired or already finished")]
    NoCeremony,
    /// The authenticator's answer does not verify.
    #[error("the passkey answer was refused: {0}")]
    Refused(String),
    /// The passkey is not registered here.
    #[error("unknown passkey")]
    UnknownPasskey,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Serialize, Deserialize)]
struct RegistrationState {
    citizen_id: String,
    new_account: bool,
    state: PasskeyRegistration,
}

/// The passkey relying party of this gateway.
#[derive(Debug, Clone)]
pub struct Passkeys {
    webauthn: Arc<Webauthn>,
    lifetime: Duration,
}

fn random_handle() -> Result<String, PasskeyError> {
    super::random_handle().ok_or_else(|| PasskeyError::Config("random generator failure".into()))
}

fn json<T: Serialize>(value: &T) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| PasskeyError::Refused(e.to_string()))
}

fn credential_id(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(passkey.cred_id().as_ref() as &[u8])
}

impl Passkeys {
    /// The relying party for `issuer` (its host is the RP id, the issuer
    /// itself the only accepted origin); ceremonies live `lifetime`.
    pub fn new(issuer: &str, lifetime: Duration) -> Result<Self, PasskeyError> {
        let origin = Url::parse(issuer).map_err(|e| PasskeyError::Config(e.to_string()))?;
        let rp_id = origin
            .host_str()
            .ok_or_else(|| PasskeyError::Config("the issuer has no host".into()))?
            .to_owned();
        let webauthn = WebauthnBuilder::new(&rp_id, &origin)
            .and_then(|b| b.rp_name("eID Gateway").build())
            .map_err(|e| PasskeyError::Config(e.to_string()))?;
        Ok(Self {
            webauthn: Arc::new(webauthn),
            lifetime,
        })
    }

    /// Starts a registration: for a new account (`citizen` absent) or an
    /// extra passkey on a signed-in citizen's account. Returns the handle
    /// and the options for `navigator.credentials.create`.
    pub async fn begin_registration(
        &self,
        db: &Db,
        citizen: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(String, serde_json::Value), PasskeyError> {
        let (citizen_id, new_account) = match citizen {
            Some(id) => (id.to_owned(), false),
            None => (Uuid::new_v4().to_string(), true),
        };
        let user =
            Uuid::parse_str(&citizen_id).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        // Adding to an account: the authenticators it already has are
        // excluded, so the browser says so instead of making a duplicate.
        let mut exclude = Vec::new();
        if !new_account {
            for summary in db.passkeys_of(&citizen_id).await? {
                if let Some((_, credential)) = db.passkey(&summary.credential_id).await? {
                    let passkey: Passkey = serde_json::from_str(&credential)
                        .map_err(|e| PasskeyError::Refused(e.to_string()))?;
                    exclude.push(passkey.cred_id().clone());
                }
            }
        }
        let (options, state) = self
            .webauthn
            .start_passkey_registration(user, "citizen", "Citizen", Some(exclude))
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        // Accounts have no user name: sign-in finds the passkey by itself,
        // so the credential must be discoverable (resident). webauthn-rs
        // does not re-export the option's type; the JSON is the contract.
        let mut options =
            serde_json::to_value(&options).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
        let handle = random_handle()?;
        let state = json(&RegistrationState {
            citizen_id,
            new_account,
            state,
        })?;
        db.put_ceremony(&handle_hash(&handle), REGISTER, &state, now + self.lifetime)
            .await?;
        Ok((handle, options))
    }

    /// Finishes a registration; returns the citizen's id.
    pub async fn finish_registration(
        &self,
        db: &Db,
        handle: &str,
        answer: &RegisterPublicKeyCredential,
        name: &str,
        now: OffsetDateTime,
    ) -> Result<String, PasskeyError> {
        let stored = db
            .take_ceremony(&handle_hash(handle), REGISTER, now)
            .await?
            .ok_or(PasskeyError::NoCeremony)?;
        let state: RegistrationState =
            serde_json::from_str(&stored).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(answer, &state.state)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let name: String = name
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_NAME_CHARS)
            .collect();
        let name = if name.trim().is_empty() {
            "Passkey".to_owned()
        } else {
            name
        };
        let id = credential_id(&passkey);
        if db.passkey(&id).await?.is_some() {
            return Err(PasskeyError::Refused(
                "this passkey is already registered".into(),
            ));
        }
        let credential = json(&passkey)?;
        if state.new_account {
            db.create_citizen_with_passkey(&state.citizen_id, &id, &name, &credential, now)
                .await?;
        } else {
            db.add_passkey(&state.citizen_id, &id, &name, &credential, now)
                .await?;
        }
        Ok(state.citizen_id)
    }

    /// Starts a discoverable sign-in; returns the handle and the options
    /// for `navigator.credentials.get` (conditional UI where offered).
    pub async fn begin_sign_in(
        &self,
        db: &Db,
        now: OffsetDateTime,
    ) -> Result<(String, RequestChallengeResponse), PasskeyError> {
        let (options, state) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let handle = random_handle()?;
        db.put_ceremony(
            &handle_hash(&handle),
            LOGIN,
            &json(&state)?,
            now + self.lifetime,
        )
        .await?;
        Ok((handle, options))
    }

    /// Finishes a sign-in; returns the citizen's id. The passkey's counter
    /// and backup state are stored.
    pub async fn finish_sign_in(
        &self,
        db: &Db,
        handle: &str,
        answer: &PublicKeyCredential,
        now: OffsetDateTime,
    ) -> Result<String, PasskeyError> {
        let stored = db
            .take_ceremony(&handle_hash(handle), LOGIN, now)
            .await?
            .ok_or(PasskeyError::NoCeremony)?;
        let state: DiscoverableAuthentication =
            serde_json::from_str(&stored).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let (user, raw_id) = self
            .webauthn
            .identify_discoverable_authentication(answer)
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let id = URL_SAFE_NO_PAD.encode(raw_id);
        let (citizen_id, credential) =
            db.passkey(&id).await?.ok_or(PasskeyError::UnknownPasskey)?;
        if Uuid::parse_str(&citizen_id).ok() != Some(user) {
            return Err(PasskeyError::UnknownPasskey);
        }
        let mut passkey: Passkey =
            serde_json::from_str(&credential).map_err(|e| PasskeyError::Refused(e.to_string()))?;
        let result = self
            .webauthn
            .finish_discoverable_authentication(answer, state, &[DiscoverableKey::from(&passkey)])
            .map_err(|e| PasskeyError::Refused(e.to_string()))?;
        passkey.update_credential(&result);
        db.passkey_used(&id, &json(&passkey)?, now).await?;
        Ok(citizen_id)
    }
}
