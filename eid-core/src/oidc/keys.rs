//! The provider's signing keys: generation with `ring`, sealing of the
//! private half with AES-256-GCM under a key-encryption key from the
//! configuration, and the rotation schedule (publish first, sign after a
//! grace period, keep publishing until the tokens signed with a key expire).

use std::future::Future;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use time::{Duration, OffsetDateTime};

use super::jwk::{Alg, Jwk};
use crate::{Secret, StoreError};

/// Version byte of the sealed format: 1 = AES-256-GCM, 12-byte nonce.
const SEALED_V1: u8 = 1;

/// Why a key operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key-encryption key is not 32 bytes of base64.
    #[error("the key-encryption key must be 32 bytes, base64-encoded")]
    BadKek,
    /// A sealed key does not open with this key-encryption key (wrong key,
    /// or the stored bytes were altered).
    #[error("signing key {kid} cannot be unsealed with the configured key-encryption key")]
    Unseal {
        /// The key's id.
        kid: String,
    },
    /// The random generator or the key generation failed.
    #[error("key generation failed")]
    Generation,
}

/// The key-encryption key: seals signing keys at rest.
pub struct KeyEncryptionKey {
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

impl KeyEncryptionKey {
    /// From 32 raw bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| KeyError::BadKek)?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// From base64 (standard alphabet) of 32 bytes, as in the configuration.
    pub fn from_base64(text: &Secret<String>) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text.expose().trim())
            .map_err(|_| KeyError::BadKek)?;
        if bytes.len() != 32 {
            return Err(KeyError::BadKek);
        }
        Self::from_bytes(&bytes)
    }

    /// A new random key-encryption key, base64-encoded (for `demo`).
    pub fn generate_base64() -> Result<Secret<String>, KeyError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| KeyError::Generation)?;
        Ok(Secret::new(STANDARD.encode(bytes)))
    }

    /// Seals `plaintext`, binding it to `kid` (as associated data, so a
    /// sealed key cannot be moved to another row).
    pub fn seal(&self, kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| KeyError::Generation)?;
        let mut in_out = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(kid.as_bytes()),
                &mut in_out,
            )
            .map_err(|_| KeyError::Generation)?;
        let mut sealed = vec![SEALED_V1];
        sealed.extend_from_slice(&nonce);
        sealed.extend(in_out);
        Ok(sealed)
    }

    /// Opens what [`seal`](Self::seal) made for `kid`.
    pub fn open(&self, kid: &str, sealed: &[u8]) -> Result<Secret<Vec<u8>>, KeyError> {
        let fail = || KeyError::Unseal {
            kid: kid.to_owned(),
        };
        let [SEALED_V1, rest @ ..] = sealed else {
            return Err(fail());
        };
        if rest.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut in_out = ciphertext.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut in_out)
            .map_err(|_| fail())?;
        Ok(Secret::new(plain.to_vec()))
    }
}

/// A signing key as stored: public half in the clear, private half sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Key id (the JWK thumbprint).
    pub kid: String,
    /// Algorithm.
    pub alg: Alg,
    /// The public key, as published.
    pub public_jwk: Jwk,
    /// The PKCS#8 private key, sealed with the key-encryption key.
    pub sealed_private: Vec<u8>,
    /// When it was made; it is published from then on.
    pub created_at: OffsetDateTime,
    /// When it starts signing (after relying parties had time to fetch it).
    pub sign_from: OffsetDateTime,
    /// When a newer key took over; `None` while it is the newest.
    pub signing_until: Option<OffsetDateTime>,
}

/// A usable signing key (private half unsealed).
pub struct SigningKey {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: Alg,
    pair: KeyPairKind,
}

enum KeyPairKind {
    Es256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Signs `message`: a JWS signature (ES256 as the 64-byte R||S form).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.pair {
            KeyPairKind::Es256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Generation),
            KeyPairKind::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

/// Makes a new key pair for `alg` and seals it. It is published from `now`
/// and signs from `sign_from`.
pub fn generate(
    alg: Alg,
    kek: &KeyEncryptionKey,
    now: OffsetDateTime,
    sign_from: OffsetDateTime,
) -> Result<StoredKey, KeyError> {
    let rng = SystemRandom::new();
    let (pkcs8, jwk) = match alg {
        Alg::Es256 => {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|_| KeyError::Generation)?;
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
                    .map_err(|_| KeyError::Generation)?;
            let jwk = Jwk::es256(pair.public_key().as_ref()).ok_or(KeyError::Generation)?;
            (pkcs8, jwk)
        }
        Alg::EdDsa => {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Generation)?;
            let pair =
                Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Generation)?;
            let jwk = Jwk::ed25519(pair.public_key().as_ref()).ok_or(KeyError::Generation)?;
            (pkcs8, jwk)
        }
    };
    let kid = jwk.kid.clone().unwrap_or_else(|| jwk.thumbprint());
    Ok(StoredKey {
        sealed_private: kek.seal(&kid, pkcs8.as_ref())?,
        kid,
        alg,
        public_jwk: jwk,
        created_at: now,
        sign_from,
        signing_until: None,
    })
}

/// Unseals a stored key for signing.
pub fn unseal(stored: &StoredKey, kek: &KeyEncryptionKey) -> Result<SigningKey, KeyError> {
    let pkcs8 = kek.open(&stored.kid, &stored.sealed_private)?;
    let fail = || KeyError::Unseal {
        kid: stored.kid.clone(),
    };
    let pair = match stored.alg {
        Alg::Es256 => KeyPairKind::Es256(
            EcdsaKeyPair::from_pkcs8(
                &ECDSA_P256_SHA256_FIXED_SIGNING,
                pkcs8.expose(),
                &SystemRandom::new(),
            )
            .map_err(|_| fail())?,
        ),
        Alg::EdDsa => {
            KeyPairKind::Ed25519(Ed25519KeyPair::from_pkcs8(pkcs8.expose()).map_err(|_| fail())?)
        }
    };
    Ok(SigningKey {
        kid: stored.kid.clone(),
        alg: stored.alg,
        pair,
    })
}

/// A new ES256 key pair for a client (the demo department, tests): the
/// public JWK, and the private JWK with `d`, as client libraries load it.
pub fn generate_client_es256() -> Result<(Jwk, serde_json::Value), KeyError> {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| KeyError::Generation)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| KeyError::Generation)?;
    let public = Jwk::es256(pair.public_key().as_ref()).ok_or(KeyError::Generation)?;
    let d = es256_private_scalar(pkcs8.as_ref()).ok_or(KeyError::Generation)?;
    let mut private = serde_json::to_value(&public).map_err(|_| KeyError::Generation)?;
    private["d"] =
        serde_json::Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d));
    Ok((public, private))
}

impl SigningKey {
    /// A department's ES256 signing key from the private JWK that
    /// [`generate_client_es256`] made (`kty` EC, `crv` P-256, `x`, `y`, `d`),
    /// for signing client assertions. The key id is the JWK's `kid`, else
    /// its thumbprint. `None` when the JWK is not such a key or its halves
    /// do not match.
    pub fn from_private_jwk(jwk: &serde_json::Value) -> Option<SigningKey> {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let field = |name: &str| {
            jwk[name]
                .as_str()
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
            return None;
        }
        let (x, y, d) = (field("x")?, field("y")?, field("d")?);
        if x.len() != 32 || y.len() != 32 || d.len() != 32 {
            return None;
        }
        let public = [&[0x04u8][..], &x, &y].concat();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &d,
            &public,
            &SystemRandom::new(),
        )
        .ok()?;
        let kid = match jwk["kid"].as_str() {
            Some(kid) => kid.to_owned(),
            None => Jwk::es256(&public)?.thumbprint(),
        };
        Some(SigningKey {
            kid,
            alg: Alg::Es256,
            pair: KeyPairKind::Es256(pair),
        })
    }
}

/// The 32-byte private scalar inside a P-256 PKCS#8 document (RFC 5915
/// ECPrivateKey inside RFC 5208 PrivateKeyInfo).
fn es256_private_scalar(pkcs8: &[u8]) -> Option<Vec<u8>> {
    use crate::cert::der;
    let (info, _) = der::expect(pkcs8, 0x30, "PrivateKeyInfo").ok()?;
    let (_, rest) = der::expect(info.content, 0x02, "version").ok()?;
    let (_, rest) = der::expect(rest, 0x30, "algorithm").ok()?;
    let (octets, _) = der::expect(rest, 0x04, "privateKey").ok()?;
    let (ec, _) = der::expect(octets.content, 0x30, "ECPrivateKey").ok()?;
    let (_, rest) = der::expect(ec.content, 0x02, "version").ok()?;
    let (scalar, _) = der::expect(rest, 0x04, "privateKey").ok()?;
    (scalar.content.len() == 32).then(|| scalar.content.to_vec())
}

/// The key that signs at `now`: the newest whose `sign_from` has come and
/// that no newer key has taken over from.
pub fn current(keys: &[StoredKey], now: OffsetDateTime) -> Option<&StoredKey> {
    keys.iter()
        .filter(|k| k.sign_from <= now && k.signing_until.is_none_or(|until| now < until))
        .max_by_key(|k| k.sign_from)
}

/// The keys to publish at `now`: every key made by now that signed within
/// the last `token_lifetime` or will sign (tokens it signed may still be
/// presented).
pub fn published(
    keys: &[StoredKey],
    now: OffsetDateTime,
    token_lifetime: Duration,
) -> Vec<&StoredKey> {
    keys.iter()
        .filter(|k| {
            k.created_at <= now
                && k.signing_until
                    .is_none_or(|until| until + token_lifetime > now)
        })
        .collect()
}

/// Storage of signing keys.
pub trait KeyStore: Send + Sync {
    /// Every key, oldest first.
    fn list_keys(&self) -> impl Future<Output = Result<Vec<StoredKey>, StoreError>> + Send;

    /// Adds `key` and, in the same transaction, ends the signing period of
    /// every key still open at `key.sign_from`.
    fn insert_rotated_key(
        &self,
        key: &StoredKey,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

    fn kek() -> KeyEncryptionKey {
        KeyEncryptionKey::from_bytes(&[7u8; 32]).expect("kek")
    }

    #[test]
    fn sealing_round_trips_and_detects_tampering() {
        let kek = kek();
        let sealed = kek.seal("kid-1", b"private").expect("seal");
        assert_eq!(
            kek.open("kid-1", &sealed).expect("open").expose(),
            b"private"
        );
        assert!(kek.open("kid-2", &sealed).is_err(), "bound to its kid");
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(kek.open("kid-1", &altered).is_err());
        let other = KeyEncryptionKey::from_bytes(&[8u8; 32]).expect("kek");
        assert!(
            other.open("kid-1", &sealed).is_err(),
            "another KEK cannot open it"
        );
        assert!(kek.open("kid-1", &[]).is_err());
        assert!(kek.open("kid-1", &[1, 2, 3]).is_err());
    }

    #[test]
    fn kek_configuration_is_checked() {
        assert!(KeyEncryptionKey::from_base64(&Secret::new("not base64!".into())).is_err());
        assert!(KeyEncryptionKey::from_base64(&Secret::new(STANDARD.encode([1u8; 16]))).is_err());
        let generated = KeyEncryptionKey::generate_base64().expect("generate");
        assert!(KeyEncryptionKey::from_base64(&generated).is_ok());
        assert_eq!(format!("{:?}", kek()), "KeyEncryptionKey([redacted])");
    }

    #[test]
    fn generated_keys_sign_verifiably() {
        for alg in [Alg::Es256, Alg::EdDsa] {
            let stored = generate(alg, &kek(), T0, T0).expect("generate");
            assert_eq!(stored.public_jwk.kid.as_deref(), Some(stored.kid.as_str()));
            let key = unseal(&stored, &kek()).expect("unseal");
            let signature = key.sign(b"header.payload").expect("sign");
            let public = stored.public_jwk.public_key_bytes().expect("public");
            let verifier: &dyn ring::signature::VerificationAlgorithm = match alg {
                Alg::Es256 => &ring::signature::ECDSA_P256_SHA256_FIXED,
                Alg::EdDsa => &ring::signature::ED25519,
            };
            ring::signature::UnparsedPublicKey::new(verifier, &public)
                .verify(b"header.payload", &signature)
                .expect("verifies");
            assert!(!format!("{key:?}").contains("pair"));
        }
    }

    #[test]
    fn client_keys_carry_a_usable_private_scalar() {
        let (public, private) = generate_client_es256().expect("generate");
        assert_eq!(private["x"], serde_json::json!(public.x));
        let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(private["d"].as_str().expect("d"))
            .expect("base64");
        assert_eq!(d.len(), 32);
        // ring checks that the scalar and the point belong together.
        EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &d,
            &public.public_key_bytes().expect("point"),
            &SystemRandom::new(),
        )
        .expect("d matches the public key");
        // The public JWK refuses to parse with d in it: client key sets are public only.
        assert!(super::super::jwk::parse_public_jwk(&private).is_err());
        assert!(
            super::super::jwk::parse_public_jwk(&serde_json::to_value(&public).expect("json"))
                .is_ok()
        );
    }

    #[test]
    fn a_private_jwk_signs_what_its_public_half_verifies() {
        let (public, mut private) = generate_client_es256().expect("generate");
        let key = SigningKey::from_private_jwk(&private).expect("loads");
        assert_eq!(
            key.kid,
            public.kid.clone().unwrap_or_else(|| public.thumbprint())
        );
        let token =
            super::super::jws::sign(&key, "JWT", &serde_json::json!({"a": 1})).expect("sign");
        let parsed = super::super::jws::parse(&token).expect("parse");
        assert_eq!(parsed.verify(&public).expect("verifies")["a"], 1);
        // Halves that do not belong together, or no private half: refused.
        let (_, other) = generate_client_es256().expect("generate");
        private["d"] = other["d"].clone();
        assert!(SigningKey::from_private_jwk(&private).is_none());
        private.as_object_mut().expect("object").remove("d");
        assert!(SigningKey::from_private_jwk(&private).is_none());
        assert!(SigningKey::from_private_jwk(&serde_json::json!({"kty": "RSA"})).is_none());
    }

    #[test]
    fn rotation_publishes_first_and_retires_late() {
        let lifetime = Duration::minutes(10);
        let mut old = generate(Alg::Es256, &kek(), T0, T0).expect("old");
        let new_from = T0 + Duration::hours(1);
        let new = generate(Alg::Es256, &kek(), T0 + Duration::minutes(1), new_from).expect("new");
        old.signing_until = Some(new_from);
        let keys = vec![old.clone(), new.clone()];

        let at = |t| current(&keys, t).map(|k| k.kid.clone());
        assert_eq!(
            at(T0 + Duration::minutes(30)),
            Some(old.kid.clone()),
            "grace period"
        );
        assert_eq!(at(new_from), Some(new.kid.clone()));
        let kids = |t| {
            published(&keys, t, lifetime)
                .iter()
                .map(|k| k.kid.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(T0), vec![old.kid.clone()]);
        assert_eq!(
            kids(T0 + Duration::minutes(2)),
            vec![old.kid.clone(), new.kid.clone()]
        );
        assert_eq!(
            kids(new_from + Duration::minutes(5)),
            vec![old.kid.clone(), new.kid.clone()],
            "old tokens may still be presented"
        );
        assert_eq!(kids(new_from + lifetime), vec![new.kid.clone()]);
        assert_eq!(current(&[], T0), None);
    }
}
