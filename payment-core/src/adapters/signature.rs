//! Timestamped signature headers: `t=<unix>,<scheme>=<hex>[,<scheme>=<hex>]`.
//!
//! Stripe signs webhooks this way with HMAC-SHA256 (`Stripe-Signature`,
//! scheme `v1`), as the gateway signs its own webhooks; the FPS collecting
//! bank signs its credit notifications with Ed25519 (`Bank-Signature`,
//! scheme `ed25519`), so that the gateway holds only the bank's public key.
//! The signed message is `"{t}.{body}"` in both. Comparisons of secrets are
//! constant time; a header with the timestamp twice is refused.

use ring::{hmac, signature};
use subtle::ConstantTimeEq;

use super::NotificationError;

/// Longest header read.
const MAX_HEADER_LEN: usize = 4096;

/// Most signatures read from one header (several during key rotation).
const MAX_SIGNATURES: usize = 8;

/// A parsed header: the timestamp and every signature of `scheme`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamped {
    /// Unix seconds.
    pub timestamp: i64,
    /// The signatures, decoded from hex.
    pub signatures: Vec<Vec<u8>>,
}

/// Parses `header`, keeping the signatures of `scheme`, each `len` bytes.
pub fn parse(header: &str, scheme: &str, len: usize) -> Result<Timestamped, NotificationError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(NotificationError::MissingSignature);
    }
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or(NotificationError::MissingSignature)?;
        if name == "t" {
            if timestamp.is_some() || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(NotificationError::MissingSignature);
            }
            timestamp = Some(
                value
                    .parse::<i64>()
                    .map_err(|_| NotificationError::MissingSignature)?,
            );
        } else if name == scheme {
            let bytes = decode_hex(value, len).ok_or(NotificationError::MissingSignature)?;
            if signatures.len() == MAX_SIGNATURES {
                return Err(NotificationError::MissingSignature);
            }
            signatures.push(bytes);
        }
        // Other schemes (Stripe's `v0` test signatures): ignored.
    }
    match timestamp {
        Some(timestamp) if !signatures.is_empty() => Ok(Timestamped {
            timestamp,
            signatures,
        }),
        _ => Err(NotificationError::MissingSignature),
    }
}

fn decode_hex(text: &str, len: usize) -> Option<Vec<u8>> {
    if text.len() != 2 * len {
        return None;
    }
    (0..len)
        .map(|i| u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn check_age(timestamp: i64, now: i64, tolerance: i64) -> Result<(), NotificationError> {
    let age = now.saturating_sub(timestamp).saturating_abs();
    if age > tolerance {
        return Err(NotificationError::Stale { age, tolerance });
    }
    Ok(())
}

fn message(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    message
}

/// Verifies an HMAC-SHA256 header (`v1`) against any of `secrets`.
pub fn verify_hmac(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: i64,
    tolerance: i64,
) -> Result<(), NotificationError> {
    let parsed = parse(header, "v1", 32)?;
    check_age(parsed.timestamp, now, tolerance)?;
    let message = message(parsed.timestamp, body);
    for secret in secrets {
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), &message);
        if parsed
            .signatures
            .iter()
            .any(|s| bool::from(s.as_slice().ct_eq(expected.as_ref())))
        {
            return Ok(());
        }
    }
    Err(NotificationError::BadSignature)
}

/// Verifies an Ed25519 header (`ed25519`) against any of `public_keys`
/// (32 bytes each).
pub fn verify_ed25519(
    header: &str,
    body: &[u8],
    public_keys: &[&[u8]],
    now: i64,
    tolerance: i64,
) -> Result<(), NotificationError> {
    let parsed = parse(header, "ed25519", 64)?;
    check_age(parsed.timestamp, now, tolerance)?;
    let message = message(parsed.timestamp, body);
    let verified = public_keys.iter().any(|key| {
        let key = signature::UnparsedPublicKey::new(&signature::ED25519, key);
        parsed
            .signatures
            .iter()
            .any(|s| key.verify(&message, s).is_ok())
    });
    if verified {
        Ok(())
    } else {
        Err(NotificationError::BadSignature)
    }
}

/// Signs `body` at `timestamp` with Ed25519 (the sandbox bank's side).
pub fn sign_ed25519(key: &signature::Ed25519KeyPair, timestamp: i64, body: &[u8]) -> String {
    let tag = key.sign(&message(timestamp, body));
    format!("t={timestamp},ed25519={}", crate::to_hex(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook;

    const NOW: i64 = 1_795_860_000;

    #[test]
    fn hmac_headers_verify_with_any_active_secret_and_nothing_else() {
        let header = webhook::sign(&[b"new", b"old"], NOW, b"{}");
        assert_eq!(
            verify_hmac(&header, b"{}", &[b"old"], NOW + 10, 300),
            Ok(())
        );
        assert_eq!(
            verify_hmac(&header, b"{ }", &[b"old"], NOW, 300),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            verify_hmac(&header, b"{}", &[b"other"], NOW, 300),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            verify_hmac(&header, b"{}", &[b"old"], NOW + 301, 300),
            Err(NotificationError::Stale {
                age: 301,
                tolerance: 300
            })
        );
    }

    #[test]
    fn hostile_headers_are_refused_before_any_crypto() {
        let good = webhook::sign(&[b"k"], NOW, b"x");
        let v1 = good
            .split_once(",v1=")
            .map(|(_, v)| v.to_string())
            .unwrap_or_default();
        for header in [
            String::new(),
            "t=1".into(),
            format!("v1={v1}"),
            format!("t=,v1={v1}"),
            format!("t=-5,v1={v1}"),
            format!("t=+5,v1={v1}"),
            format!("t={NOW},t={NOW},v1={v1}"),
            format!("t={NOW},v1={}", &v1[..62]),
            format!("t={NOW},v1={}zz", &v1[..62]),
            format!("t=99999999999999999999,v1={v1}"),
            format!("t={NOW},{}", vec![format!("v1={v1}"); 9].join(",")),
            format!("t={NOW},v1={v1},{}", "x".repeat(5000)),
            "garbage".into(),
        ] {
            assert_eq!(
                verify_hmac(&header, b"x", &[b"k"], NOW, 300),
                Err(NotificationError::MissingSignature),
                "{header:.80}"
            );
        }
        // A far-past timestamp does not overflow the age computation.
        assert!(matches!(
            verify_hmac(&format!("t=0,v1={v1}"), b"x", &[b"k"], i64::MAX, 300),
            Err(NotificationError::Stale { .. })
        ));
    }

    #[test]
    fn ed25519_headers_verify_with_the_public_key_only() {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        use ring::signature::KeyPair;
        let public = key.public_key().as_ref().to_vec();
        let header = sign_ed25519(&key, NOW, b"credit");
        assert_eq!(
            verify_ed25519(&header, b"credit", &[&public], NOW, 300),
            Ok(())
        );
        assert_eq!(
            verify_ed25519(&header, b"credit!", &[&public], NOW, 300),
            Err(NotificationError::BadSignature)
        );
        assert_eq!(
            verify_ed25519(&header, b"credit", &[&[7u8; 32]], NOW, 300),
            Err(NotificationError::BadSignature)
        );
    }
}
