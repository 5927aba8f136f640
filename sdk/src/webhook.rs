//! Verifying the gateway's webhooks: `Gateway-Signature: t=<unix>,v1=<hex>`,
//! HMAC-SHA256 of `"{t}.{body}"` under your webhook secret. During a secret
//! rotation the gateway sends one `v1` per secret; any may match. A message
//! older or newer than the tolerance is refused, so a captured webhook
//! cannot be replayed later.

use ring::hmac;
use subtle::ConstantTimeEq;

/// The tolerance the gateway documents: 300 seconds.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Longest header accepted.
const MAX_HEADER_LEN: usize = 2048;

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The header is missing parts, too long, or not `t=..,v1=..`.
    #[error("malformed Gateway-Signature header")]
    Malformed,
    /// The timestamp is outside the tolerance.
    #[error("the webhook is {age} s away from now; at most {tolerance} s is accepted")]
    Stale {
        /// How far from now (seconds, absolute).
        age: i64,
        /// The tolerance.
        tolerance: i64,
    },
    /// No signature matches any of your secrets.
    #[error("no signature matches")]
    BadSignature,
}

/// Verifies a webhook's `Gateway-Signature` header against its raw body,
/// with your current secret(s), at `now` (Unix seconds).
pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[&[u8]],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    if header.len() > MAX_HEADER_LEN {
        return Err(WebhookError::Malformed);
    }
    let mut timestamp: Option<i64> = None;
    let mut signatures: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or(WebhookError::Malformed)?;
        match name {
            "t" if timestamp.is_none() => {
                timestamp = Some(value.parse().map_err(|_| WebhookError::Malformed)?);
            }
            "v1" => signatures.push(decode_hex(value).ok_or(WebhookError::Malformed)?),
            "t" => return Err(WebhookError::Malformed),
            _ => {} // other schemes: ignored, for forward compatibility
        }
    }
    let timestamp = timestamp.ok_or(WebhookError::Malformed)?;
    if signatures.is_empty() {
        return Err(WebhookError::Malformed);
    }
    let age = (now - timestamp).abs();
    if age > tolerance_secs {
        return Err(WebhookError::Stale {
            age,
            tolerance: tolerance_secs,
        });
    }
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    for secret in secrets {
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), &message);
        if signatures
            .iter()
            .any(|s| bool::from(s.as_slice().ct_eq(expected.as_ref())))
        {
            return Ok(());
        }
    }
    Err(WebhookError::BadSignature)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
