//! Public JSON Web Keys (RFC 7517) for the algorithms this provider speaks:
//! ES256 (EC P-256) and EdDSA (OKP Ed25519). Parsing is strict: a client's
//! registered key set must hold public keys only, of those types, with
//! unique ids.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use serde::{Deserialize, Serialize};

/// Largest key set accepted at registration, in bytes of JSON.
pub const MAX_JWKS_BYTES: usize = 16 * 1024;
/// Most keys in one key set.
pub const MAX_KEYS: usize = 10;

/// A signature algorithm of this provider (FAPI 2.0 allows these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Alg {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// Parses a JOSE name; anything else (`none`, `RS256`, `HS256`, ...) is `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Alg::Es256),
            "EdDSA" => Some(Alg::EdDsa),
            _ => None,
        }
    }
}

/// A public key as a JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// `EC` or `OKP`.
    pub kty: String,
    /// `P-256` or `Ed25519`.
    pub crv: String,
    /// The x coordinate (EC) or the public key (OKP), base64url.
    pub x: String,
    /// The y coordinate (EC only), base64url.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Intended algorithm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Intended use (`sig`).
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
}

/// A JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Jwks {
    /// The keys.
    pub keys: Vec<Jwk>,
}

/// Why a key or key set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// Not JSON, or not a JWK Set.
    #[error("not a JWK Set: {0}")]
    Malformed(String),
    /// Over [`MAX_JWKS_BYTES`] or [`MAX_KEYS`].
    #[error("the key set is too large ({0})")]
    TooLarge(String),
    /// A key carries private key material.
    #[error("key {index} contains private key material ({member})")]
    PrivateKey {
        /// Position in the set.
        index: usize,
        /// The offending member.
        member: &'static str,
    },
    /// A key type, curve, use or algorithm this provider does not accept.
    #[error("key {index} is not acceptable: {reason}")]
    Unsupported {
        /// Position in the set.
        index: usize,
        /// Why.
        reason: String,
    },
    /// Two keys share an id.
    #[error("duplicate key id {0:?}")]
    DuplicateKid(String),
    /// The set has no key.
    #[error("the key set is empty")]
    Empty,
}

/// Members that only private keys have.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn decode(value: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(value).ok()
}

impl Jwk {
    /// The algorithm this key signs with.
    pub fn alg(&self) -> Option<Alg> {
        match (self.kty.as_str(), self.crv.as_str()) {
            ("EC", "P-256") => Some(Alg::Es256),
            ("OKP", "Ed25519") => Some(Alg::EdDsa),
            _ => None,
        }
    }

    /// The key as ring wants it: the uncompressed point (EC) or the raw
    /// 32 bytes (Ed25519).
    pub fn public_key_bytes(&self) -> Option<Vec<u8>> {
        match self.alg()? {
            Alg::Es256 => {
                let x = decode(&self.x)?;
                let y = decode(self.y.as_deref()?)?;
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let mut point = vec![0x04];
                point.extend(x);
                point.extend(y);
                Some(point)
            }
            Alg::EdDsa => decode(&self.x).filter(|k| k.len() == 32),
        }
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url): the key's identity
    /// for DPoP `jkt` and, by default, its `kid`.
    pub fn thumbprint(&self) -> String {
        let canonical = match &self.y {
            Some(y) => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#,
                self.crv, self.kty, self.x, y
            ),
            None => format!(
                r#"{{"crv":"{}","kty":"{}","x":"{}"}}"#,
                self.crv, self.kty, self.x
            ),
        };
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()))
    }

    /// A JWK for an ES256 public key given as an uncompressed point.
    pub fn es256(point: &[u8]) -> Option<Self> {
        let [0x04, coordinates @ ..] = point else {
            return None;
        };
        if coordinates.len() != 64 {
            return None;
        }
        let mut jwk = Jwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: URL_SAFE_NO_PAD.encode(&coordinates[..32]),
            y: Some(URL_SAFE_NO_PAD.encode(&coordinates[32..])),
            kid: None,
            alg: Some("ES256".into()),
            use_: Some("sig".into()),
        };
        jwk.kid = Some(jwk.thumbprint());
        Some(jwk)
    }

    /// A JWK for an Ed25519 public key.
    pub fn ed25519(public: &[u8]) -> Option<Self> {
        if public.len() != 32 {
            return None;
        }
        let mut jwk = Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: URL_SAFE_NO_PAD.encode(public),
            y: None,
            kid: None,
            alg: Some("EdDSA".into()),
            use_: Some("sig".into()),
        };
        jwk.kid = Some(jwk.thumbprint());
        Some(jwk)
    }
}

/// Parses and checks one JWK given as JSON (for example a DPoP proof's
/// `jwk` header): public, ES256 or EdDSA.
pub fn parse_public_jwk(value: &serde_json::Value) -> Result<Jwk, JwkError> {
    check_key(0, value)
}

fn check_key(index: usize, value: &serde_json::Value) -> Result<Jwk, JwkError> {
    let object = value
        .as_object()
        .ok_or_else(|| JwkError::Malformed(format!("key {index} is not an object")))?;
    for member in PRIVATE_MEMBERS {
        if object.contains_key(*member) {
            return Err(JwkError::PrivateKey { index, member });
        }
    }
    let jwk: Jwk = serde_json::from_value(value.clone())
        .map_err(|e| JwkError::Malformed(format!("key {index}: {e}")))?;
    let unsupported = |reason: &str| JwkError::Unsupported {
        index,
        reason: reason.to_owned(),
    };
    let alg = jwk
        .alg()
        .ok_or_else(|| unsupported("only EC P-256 (ES256) and OKP Ed25519 (EdDSA) keys"))?;
    if alg == Alg::EdDsa && jwk.y.is_some() {
        return Err(unsupported("an Ed25519 key has no y"));
    }
    if jwk.public_key_bytes().is_none() {
        return Err(unsupported("bad key coordinates"));
    }
    if let Some(declared) = &jwk.alg
        && Alg::from_name(declared) != Some(alg)
    {
        return Err(unsupported("alg does not match the key type"));
    }
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(unsupported("use must be sig"));
    }
    Ok(jwk)
}

/// Parses and checks a client's key set: 1 to [`MAX_KEYS`] public ES256 or
/// EdDSA keys with unique ids (a missing `kid` gets the thumbprint).
pub fn parse_client_jwks(json: &[u8]) -> Result<Jwks, JwkError> {
    if json.len() > MAX_JWKS_BYTES {
        return Err(JwkError::TooLarge(format!("{} bytes", json.len())));
    }
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| JwkError::Malformed(e.to_string()))?;
    let keys = value
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or_else(|| JwkError::Malformed("no \"keys\" array".into()))?;
    if keys.is_empty() {
        return Err(JwkError::Empty);
    }
    if keys.len() > MAX_KEYS {
        return Err(JwkError::TooLarge(format!("{} keys", keys.len())));
    }
    let mut out = Vec::new();
    for (index, value) in keys.iter().enumerate() {
        let mut jwk = check_key(index, value)?;
        if jwk.kid.is_none() {
            jwk.kid = Some(jwk.thumbprint());
        }
        if out.iter().any(|k: &Jwk| k.kid == jwk.kid) {
            return Err(JwkError::DuplicateKid(jwk.kid.unwrap_or_default()));
        }
        out.push(jwk);
    }
    Ok(Jwks { keys: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7638 section 3.1's example is RSA; this is RFC 8037's Ed25519
    // example key and its thumbprint from appendix A.3.
    const ED25519_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const ED25519_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    fn ed25519() -> serde_json::Value {
        serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED25519_X})
    }

    #[test]
    fn thumbprint_matches_rfc_8037() {
        let jwk = parse_public_jwk(&ed25519()).expect("valid");
        assert_eq!(jwk.thumbprint(), ED25519_THUMBPRINT);
    }

    #[test]
    fn private_material_is_refused() {
        let mut key = ed25519();
        key["d"] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A".into();
        let set = serde_json::json!({ "keys": [key] }).to_string();
        assert_eq!(
            parse_client_jwks(set.as_bytes()),
            Err(JwkError::PrivateKey {
                index: 0,
                member: "d"
            })
        );
    }

    #[test]
    fn only_es256_and_eddsa_keys() {
        for key in [
            serde_json::json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            serde_json::json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}),
            serde_json::json!({"kty": "oct", "crv": "x", "x": "AA"}),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED25519_X, "alg": "ES256"}),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": ED25519_X, "use": "enc"}),
        ] {
            let set = serde_json::json!({ "keys": [key] }).to_string();
            assert!(parse_client_jwks(set.as_bytes()).is_err(), "{set}");
        }
    }

    #[test]
    fn sets_are_bounded_and_unique() {
        assert_eq!(parse_client_jwks(br#"{"keys":[]}"#), Err(JwkError::Empty));
        assert!(matches!(
            parse_client_jwks(b"[1,2]"),
            Err(JwkError::Malformed(_))
        ));
        assert!(matches!(
            parse_client_jwks(b"{not json"),
            Err(JwkError::Malformed(_))
        ));
        let big = vec![b' '; MAX_JWKS_BYTES + 1];
        assert!(matches!(
            parse_client_jwks(&big),
            Err(JwkError::TooLarge(_))
        ));
        let twice = serde_json::json!({ "keys": [ed25519(), ed25519()] }).to_string();
        assert!(matches!(
            parse_client_jwks(twice.as_bytes()),
            Err(JwkError::DuplicateKid(_))
        ));
        let one = serde_json::json!({ "keys": [ed25519()] }).to_string();
        let jwks = parse_client_jwks(one.as_bytes()).expect("valid");
        assert_eq!(jwks.keys[0].kid.as_deref(), Some(ED25519_THUMBPRINT));
    }

    #[test]
    fn es256_keys_round_trip() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .expect("generate");
        let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
            &rng,
        )
        .expect("load");
        use ring::signature::KeyPair;
        let jwk = Jwk::es256(pair.public_key().as_ref()).expect("jwk");
        assert_eq!(
            jwk.public_key_bytes().as_deref(),
            Some(pair.public_key().as_ref())
        );
        let value = serde_json::to_value(&jwk).expect("json");
        assert_eq!(parse_public_jwk(&value).expect("parses"), jwk);
    }
}
