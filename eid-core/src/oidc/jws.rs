//! Compact JWS (RFC 7515) for the two algorithms FAPI 2.0 lets this
//! provider use, ES256 and EdDSA, on `ring`.
//!
//! Why not a JOSE crate: the maintained ones offer aws-lc-rs or RustCrypto
//! backends, not ring; a second cryptography stack for two algorithms would
//! weigh more than this module. What it refuses is the point: `alg: none`,
//! HMAC and RSA algorithms, unknown critical headers, anything oversized or
//! not strictly base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED, ED25519, UnparsedPublicKey};
use serde::Serialize;
use serde_json::{Map, Value};

use super::jwk::{Alg, Jwk, parse_public_jwk};
use super::keys::{KeyError, SigningKey};

/// Longest compact JWS accepted, in bytes.
pub const MAX_JWS_LEN: usize = 8 * 1024;

/// Why a JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts of JSON objects, or too large.
    #[error("malformed JWS: {0}")]
    Malformed(&'static str),
    /// `alg` is missing or not ES256/EdDSA (`none`, `HS256`, `RS256`, ...).
    #[error("unsupported JWS algorithm {0:?}")]
    UnsupportedAlg(String),
    /// A `crit` header names an extension this implementation does not know.
    #[error("unsupported critical header")]
    UnsupportedCrit,
    /// The `jwk` header is not an acceptable public key.
    #[error("the jwk header is not an acceptable public key")]
    BadJwk,
    /// The key's type does not match the algorithm.
    #[error("the key does not match the algorithm")]
    KeyMismatch,
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

/// A parsed, not yet verified compact JWS.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The header.
    pub header: Map<String, Value>,
    /// The algorithm from the header (already allow-listed).
    pub alg: Alg,
    signing_input: String,
    signature: Vec<u8>,
    payload: Vec<u8>,
}

fn b64(part: &str) -> Result<Vec<u8>, JwsError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwsError::Malformed("not base64url"))
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, JwsError> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(JwsError::Malformed("not a JSON object")),
    }
}

/// Parses a compact JWS, allow-listing its algorithm.
pub fn parse(token: &str) -> Result<Unverified, JwsError> {
    if token.len() > MAX_JWS_LEN {
        return Err(JwsError::Malformed("too long"));
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed("not three parts"));
    };
    let header = object(&b64(h)?)?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let alg =
        Alg::from_name(alg_name).ok_or_else(|| JwsError::UnsupportedAlg(alg_name.to_owned()))?;
    if header.contains_key("crit") {
        return Err(JwsError::UnsupportedCrit);
    }
    let signature = b64(s)?;
    if signature.len() != 64 {
        return Err(JwsError::Malformed("signature length"));
    }
    Ok(Unverified {
        header,
        alg,
        signing_input: format!("{h}.{p}"),
        signature,
        payload: b64(p)?,
    })
}

impl Unverified {
    /// A string header member.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// The payload, NOT verified: only to find which key to verify with
    /// (for example the client named by a client assertion's `sub`).
    pub fn unverified_claims(&self) -> Option<Map<String, Value>> {
        object(&self.payload).ok()
    }

    /// The public key in the `jwk` header (DPoP proofs carry their key).
    pub fn header_jwk(&self) -> Result<Jwk, JwsError> {
        let value = self.header.get("jwk").ok_or(JwsError::BadJwk)?;
        parse_public_jwk(value).map_err(|_| JwsError::BadJwk)
    }

    /// Verifies the signature with `key` and returns the payload as a JSON
    /// object.
    pub fn verify(&self, key: &Jwk) -> Result<Map<String, Value>, JwsError> {
        if key.alg() != Some(self.alg) {
            return Err(JwsError::KeyMismatch);
        }
        let public = key.public_key_bytes().ok_or(JwsError::KeyMismatch)?;
        let algorithm: &dyn ring::signature::VerificationAlgorithm = match self.alg {
            Alg::Es256 => &ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &ED25519,
        };
        UnparsedPublicKey::new(algorithm, public)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)?;
        object(&self.payload)
    }
}

/// Signs `claims` as a compact JWS with header `{alg, kid, typ}`.
pub fn sign(key: &SigningKey, typ: &str, claims: &impl Serialize) -> Result<String, JwsError> {
    let header = serde_json::json!({ "alg": key.alg.name(), "kid": key.kid, "typ": typ });
    sign_with_header(key, &header, claims)
}

/// Signs `claims` with a given header (which must name the key's `alg`);
/// clients use it for DPoP proofs, whose header carries the `jwk`.
pub fn sign_with_header(
    key: &SigningKey,
    header: &Value,
    claims: &impl Serialize,
) -> Result<String, JwsError> {
    if header.get("alg").and_then(Value::as_str) != Some(key.alg.name()) {
        return Err(JwsError::Signing);
    }
    let header = serde_json::to_vec(header).map_err(|_| JwsError::Signing)?;
    let payload = serde_json::to_vec(claims).map_err(|_| JwsError::Signing)?;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = key
        .sign(input.as_bytes())
        .map_err(|_: KeyError| JwsError::Signing)?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::keys::{KeyEncryptionKey, generate, unseal};
    use time::macros::datetime;

    fn key(alg: Alg) -> (SigningKey, Jwk) {
        let kek = KeyEncryptionKey::from_bytes(&[1u8; 32]).expect("kek");
        let t = datetime!(2026-11-28 00:00 UTC);
        let stored = generate(alg, &kek, t, t).expect("key");
        (unseal(&stored, &kek).expect("unseal"), stored.public_jwk)
    }

    #[test]
    fn signs_and_verifies_both_algorithms() {
        for alg in [Alg::Es256, Alg::EdDsa] {
            let (signing, public) = key(alg);
            let token = sign(&signing, "JWT", &serde_json::json!({"sub": "x"})).expect("sign");
            let parsed = parse(&token).expect("parse");
            assert_eq!(parsed.header_str("kid"), Some(signing.kid.as_str()));
            assert_eq!(parsed.verify(&public).expect("verify")["sub"], "x");
            let (_, other) = key(alg);
            assert_eq!(parsed.verify(&other), Err(JwsError::BadSignature));
        }
        let (es, _) = key(Alg::Es256);
        let (_, ed_public) = key(Alg::EdDsa);
        let token = sign(&es, "JWT", &serde_json::json!({})).expect("sign");
        assert_eq!(
            parse(&token).expect("parse").verify(&ed_public),
            Err(JwsError::KeyMismatch)
        );
    }

    fn forge(header: &str, payload: &str, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    #[test]
    fn refuses_none_hmac_rsa_crit_and_garbage() {
        for alg in ["none", "HS256", "RS256", "ES384", "PS256", ""] {
            let token = forge(&format!(r#"{{"alg":"{alg}"}}"#), "{}", &[0; 64]);
            assert!(
                matches!(parse(&token), Err(JwsError::UnsupportedAlg(_))),
                "{alg}"
            );
        }
        assert_eq!(
            parse(&forge(r#"{"alg":"ES256","crit":["b64"]}"#, "{}", &[0; 64])).unwrap_err(),
            JwsError::UnsupportedCrit
        );
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert!(parse(&unsigned).is_err());
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "!!!.e30.AA",
            &"a".repeat(MAX_JWS_LEN + 1),
        ] {
            assert!(parse(bad).is_err(), "{bad:.20}");
        }
        assert!(
            parse(&forge("[1]", "{}", &[0; 64])).is_err(),
            "header must be an object"
        );
        assert!(
            parse(&forge(r#"{"alg":"ES256"}"#, "{}", &[0; 10])).is_err(),
            "signature length"
        );
        // A valid signature over a payload that is not an object is refused on verify.
        let (signing, public) = key(Alg::EdDsa);
        let token = sign(&signing, "JWT", &serde_json::json!([1, 2])).expect("sign");
        assert!(parse(&token).expect("parse").verify(&public).is_err());
    }
}
