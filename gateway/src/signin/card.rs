//! Smart-ID-card sign-in: validating the card's certificate chain with
//! `eid-core::cert` (path, validity, key usage for client authentication,
//! revocation by OCSP or CRL fetched from the addresses the certificates
//! name, failing closed when no status can be had), and the signed
//! challenge that card-reader helpers answer.
//!
//! Two ways reach the same verification:
//!
//! - the TLS client certificate presented on the dedicated card listener
//!   (rustls proves possession of the card's key in the handshake; the
//!   chain is then validated here, not by rustls);
//! - a signed challenge: the sign-in page asks for a challenge, a helper
//!   on the citizen's machine signs [`Challenge::to_be_signed`] with the
//!   card's key and the page posts the signature with the chain. The
//!   challenge is bound to the browser that asked for it (a cookie) and is
//!   taken once.
//!
//! A card identity is known by a key derived from the issuer and the
//! subscriber reference (or, without one, the subject): the name on the
//! card never reaches the database.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eid_core::StoreError;
use eid_core::cert::{
    CertError, Certificate, CertifiedIdentity, MAX_CERT_SIZE, Options, Purpose, RevocationScope,
    TrustStore, gather_path,
};
use eid_core::oidc::grant::handle_hash;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::config::{CardConfig, RevocationSetting};
use crate::revocation::{HttpCrlSource, HttpOcspSource};
use crate::state::Clock;
use crate::store::Db;

/// Most certificates a citizen may present (end entity and intermediates).
pub const MAX_CHAIN: usize = 6;
/// Most revocation fetches for one sign-in.
const MAX_FETCHES: usize = 8;
/// Ceremony kind of a signed challenge.
const CHALLENGE: &str = "card_challenge";
/// What a helper signs starts with this line, so that a signature made for
/// a card sign-in cannot be mistaken for anything else the card signs.
pub const SIGNING_CONTEXT: &str = "eid-gateway card sign-in v1";

/// Why a card sign-in failed. The citizen sees a generic message; the
/// variant and its code are for logs and tests.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// No certificate, too many, or one too large to parse.
    #[error("certificate chain refused: {0}")]
    Chain(String),
    /// The chain does not validate (untrusted, expired, revoked, status
    /// unavailable, wrong key usage, ...).
    #[error("certificate refused: {0}")]
    Invalid(#[from] CertError),
    /// No live challenge for the handle from this browser (unknown,
    /// expired, already answered or asked for by another browser).
    #[error("the challenge is unknown, expired, already answered or not this browser's")]
    NoChallenge,
    /// The signature over the challenge does not verify with the
    /// certificate's key.
    #[error("the challenge signature does not verify: {0}")]
    BadSignature(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The random generator failed.
    #[error("random generator failure")]
    Random,
}

impl CardError {
    /// A short machine-readable reason, for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CardError::Chain(_) => "chain",
            CardError::Invalid(e) => e.code(),
            CardError::NoChallenge => "no_challenge",
            CardError::BadSignature(_) => "bad_signature",
            CardError::Store(_) => "store",
            CardError::Random => "random",
        }
    }
}

/// A card whose certificate validated now.
#[derive(Debug, Clone)]
pub struct VerifiedCard {
    /// The stable key of the card identity (see the module docs).
    pub key: String,
    /// Who the certificate names.
    pub identity: CertifiedIdentity,
    /// The end-entity certificate.
    pub leaf: Certificate,
}

/// Validates card certificate chains against the configured card CAs.
#[derive(Debug, Clone)]
pub struct CardVerifier {
    store: TrustStore,
    intermediates: Vec<Certificate>,
    scope: RevocationScope,
    crls: HttpCrlSource,
    ocsp: HttpOcspSource,
}

/// The card settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("signin.card: {0}")]
pub struct CardSetupError(pub String);

fn read_pem_certs(path: &std::path::Path) -> Result<Vec<Certificate>, CardSetupError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CardSetupError(format!("cannot read {}: {e}", path.display())))?;
    let certs = Certificate::from_pem(&bytes)
        .map_err(|e| CardSetupError(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(CardSetupError(format!(
            "{}: no certificate found",
            path.display()
        )));
    }
    Ok(certs)
}

impl CardVerifier {
    /// A verifier from the settings' PEM files.
    pub fn from_config(config: &CardConfig, clock: Arc<dyn Clock>) -> Result<Self, CardSetupError> {
        let mut anchors = Vec::new();
        for path in &config.trust_anchors {
            anchors.extend(read_pem_certs(path)?);
        }
        if anchors.is_empty() {
            return Err(CardSetupError("trust_anchors names no file".to_owned()));
        }
        let mut intermediates = Vec::new();
        for path in &config.intermediates {
            intermediates.extend(read_pem_certs(path)?);
        }
        let scope = match config.revocation {
            RevocationSetting::All => RevocationScope::All,
            RevocationSetting::EndEntity => RevocationScope::EndEntity,
        };
        Self::new(
            anchors,
            intermediates,
            scope,
            Duration::from_secs(config.fetch_timeout_secs),
            clock,
        )
    }

    /// A verifier trusting `anchors`, completing chains with
    /// `intermediates`, and fetching revocation data with `timeout` per
    /// request.
    pub fn new(
        anchors: Vec<Certificate>,
        intermediates: Vec<Certificate>,
        scope: RevocationScope,
        timeout: Duration,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, CardSetupError> {
        let crls = HttpCrlSource::new(timeout, clock.clone())
            .map_err(|e| CardSetupError(e.to_string()))?;
        let ocsp = HttpOcspSource::new(timeout).map_err(|e| CardSetupError(e.to_string()))?;
        Ok(Self {
            store: TrustStore::new(anchors),
            intermediates,
            scope,
            crls,
            ocsp,
        })
    }

    /// The subjects of the trust anchors (DER), which the card listener
    /// names to browsers so that they offer only fitting certificates.
    pub fn anchor_subjects(&self) -> Vec<Vec<u8>> {
        self.store
            .anchors()
            .iter()
            .map(|a| a.subject.der.clone())
            .collect()
    }

    /// Validates a chain (end entity first, DER) at `now`, revocation
    /// included.
    pub async fn verify(
        &self,
        chain: &[Vec<u8>],
        now: OffsetDateTime,
    ) -> Result<VerifiedCard, CardError> {
        let (leaf_der, rest) = chain
            .split_first()
            .ok_or_else(|| CardError::Chain("no certificate".to_owned()))?;
        if chain.len() > MAX_CHAIN {
            return Err(CardError::Chain(format!(
                "{} certificates; at most {MAX_CHAIN}",
                chain.len()
            )));
        }
        if let Some(big) = chain.iter().find(|c| c.len() > MAX_CERT_SIZE) {
            return Err(CardError::Chain(format!(
                "a certificate of {} bytes; at most {MAX_CERT_SIZE}",
                big.len()
            )));
        }
        let leaf = Certificate::from_der(leaf_der)?;
        let mut intermediates = self.intermediates.clone();
        for der in rest {
            intermediates.push(Certificate::from_der(der)?);
        }
        let options = Options {
            purpose: Purpose::ClientAuth,
            revocation: RevocationScope::Off,
            ..Options::new(now)
        };
        // First the path, without revocation: nothing is fetched for a
        // chain that cannot be valid anyway.
        let path =
            self.store
                .validate_with(&leaf, &intermediates, &Default::default(), &options)?;
        let gathered = gather_path(&self.crls, &self.ocsp, &path.chain, MAX_FETCHES).await;
        for (url, error) in &gathered.failures {
            tracing::warn!(%url, %error, "card revocation data unavailable");
        }
        let options = Options {
            revocation: self.scope,
            ..options
        };
        let path =
            self.store
                .validate_with(&leaf, &intermediates, &gathered.revocation, &options)?;
        let identity = path.identity();
        Ok(VerifiedCard {
            key: card_key(&identity),
            identity,
            leaf,
        })
    }
}

/// The stable key of a card identity: the issuer and the subscriber
/// reference (the subject when there is none), hashed.
pub fn card_key(identity: &CertifiedIdentity) -> String {
    let holder = identity.subscriber_reference.as_deref().map_or_else(
        || format!("subject:{}", identity.subject),
        |r| format!("ref:{r}"),
    );
    handle_hash(&format!("card:v1\n{}\n{holder}", identity.issuer))
}

/// What the citizen wants from a card sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Sign in (creating an account on a card's first use).
    #[default]
    SignIn,
    /// Bind the card to the account signed in with a passkey.
    Bind,
}

#[derive(Serialize, Deserialize)]
struct ChallengeState {
    binding_hash: String,
    nonce: String,
    intent: Intent,
}

/// A challenge handed to the page for the card-reader helper.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    /// The handle the page posts back with the answer.
    pub ceremony: String,
    /// The bytes the helper signs, base64url.
    pub to_be_signed: String,
    /// The gateway origin named in those bytes (for the helper to show).
    pub origin: String,
}

/// The exact bytes a helper signs for `nonce` at `origin`.
pub fn to_be_signed(origin: &str, nonce: &str) -> Vec<u8> {
    format!("{SIGNING_CONTEXT}\norigin={origin}\nchallenge={nonce}\n").into_bytes()
}

/// Starts a signed challenge for the browser holding `binding` (a random
/// value in a cookie only this browser has).
pub async fn begin_challenge(
    db: &Db,
    origin: &str,
    binding: &str,
    intent: Intent,
    lifetime: time::Duration,
    now: OffsetDateTime,
) -> Result<Challenge, CardError> {
    let ceremony = super::random_handle().ok_or(CardError::Random)?;
    let nonce = super::random_handle().ok_or(CardError::Random)?;
    let state = ChallengeState {
        binding_hash: handle_hash(binding),
        nonce: nonce.clone(),
        intent,
    };
    let state = serde_json::to_string(&state).map_err(|e| CardError::Chain(e.to_string()))?;
    db.put_ceremony(&handle_hash(&ceremony), CHALLENGE, &state, now + lifetime)
        .await?;
    Ok(Challenge {
        ceremony,
        to_be_signed: URL_SAFE_NO_PAD.encode(to_be_signed(origin, &nonce)),
        origin: origin.to_owned(),
    })
}

/// The page's answer to a challenge.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeAnswer {
    /// The handle from [`begin_challenge`].
    pub ceremony: String,
    /// JOSE name of the signature algorithm: `RS256`, `PS256`, `ES256` or
    /// `ES384`.
    pub algorithm: String,
    /// The signature, base64url (ECDSA signatures ASN.1 DER as cards make
    /// them, or the 64/96-byte fixed form).
    pub signature: String,
    /// The card's chain, end entity first, each DER in base64 (standard or
    /// URL-safe).
    pub certificates: Vec<String>,
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    let trimmed = text.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .or_else(|| STANDARD.decode(text).ok())
        .or_else(|| URL_SAFE.decode(text).ok())
}

/// Verifies `signature` over `message` with the certificate's key.
pub fn verify_signature(
    leaf: &Certificate,
    algorithm: &str,
    message: &[u8],
    signature_bytes: &[u8],
) -> Result<(), CardError> {
    const RSA_KEY: &str = "1.2.840.113549.1.1.1";
    const EC_KEY: &str = "1.2.840.10045.2.1";
    let key = &leaf.public_key;
    let key_type = key.algorithm.oid.as_str();
    let wrong_key = || CardError::BadSignature(format!("{algorithm} does not fit the card's key"));
    let fixed_len = |bytes: usize| signature_bytes.len() == bytes;
    let chosen: &'static dyn VerificationAlgorithm = match algorithm {
        "RS256" if key_type == RSA_KEY => &signature::RSA_PKCS1_2048_8192_SHA256,
        "PS256" if key_type == RSA_KEY => &signature::RSA_PSS_2048_8192_SHA256,
        "ES256" if key_type == EC_KEY && key.bits == 256 => {
            if fixed_len(64) {
                &signature::ECDSA_P256_SHA256_FIXED
            } else {
                &signature::ECDSA_P256_SHA256_ASN1
            }
        }
        "ES384" if key_type == EC_KEY && key.bits == 384 => {
            if fixed_len(96) {
                &signature::ECDSA_P384_SHA384_FIXED
            } else {
                &signature::ECDSA_P384_SHA384_ASN1
            }
        }
        "RS256" | "PS256" | "ES256" | "ES384" => return Err(wrong_key()),
        other => {
            return Err(CardError::BadSignature(format!(
                "unsupported algorithm {:?}",
                other.chars().take(16).collect::<String>()
            )));
        }
    };
    UnparsedPublicKey::new(chosen, &key.key)
        .verify(message, signature_bytes)
        .map_err(|_| CardError::BadSignature("signature mismatch".to_owned()))
}

/// Checks an answer: the challenge must be live, this browser's (the
/// `binding` cookie) and unanswered; the chain must validate; the
/// signature must verify with the card's key. The challenge is used up
/// whatever the outcome.
pub async fn finish_challenge(
    db: &Db,
    verifier: &CardVerifier,
    origin: &str,
    binding: Option<&str>,
    answer: &ChallengeAnswer,
    now: OffsetDateTime,
) -> Result<(VerifiedCard, Intent), CardError> {
    if !super::is_handle(&answer.ceremony) {
        return Err(CardError::NoChallenge);
    }
    let state = db
        .take_ceremony(&handle_hash(&answer.ceremony), CHALLENGE, now)
        .await?
        .ok_or(CardError::NoChallenge)?;
    let state: ChallengeState = serde_json::from_str(&state).map_err(|_| CardError::NoChallenge)?;
    let Some(binding) = binding.filter(|b| super::is_handle(b)) else {
        return Err(CardError::NoChallenge);
    };
    if !bool::from(
        handle_hash(binding)
            .as_bytes()
            .ct_eq(state.binding_hash.as_bytes()),
    ) {
        return Err(CardError::NoChallenge);
    }
    let chain = answer
        .certificates
        .iter()
        .take(MAX_CHAIN + 1)
        .map(|c| {
            if c.len() > MAX_CERT_SIZE * 2 {
                return None;
            }
            decode_b64(c)
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| CardError::Chain("a certificate is not base64".to_owned()))?;
    let signature_bytes = decode_b64(&answer.signature)
        .filter(|s| s.len() <= 1024)
        .ok_or_else(|| CardError::BadSignature("the signature is not base64".to_owned()))?;
    // The signature first: it costs no network fetch.
    let leaf = chain
        .first()
        .ok_or_else(|| CardError::Chain("no certificate".to_owned()))?;
    if leaf.len() > MAX_CERT_SIZE {
        return Err(CardError::Chain("the certificate is too large".to_owned()));
    }
    verify_signature(
        &Certificate::from_der(leaf)?,
        &answer.algorithm,
        &to_be_signed(origin, &state.nonce),
        &signature_bytes,
    )?;
    let card = verifier.verify(&chain, now).await?;
    Ok((card, state.intent))
}
