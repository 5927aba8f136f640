//! Signing webhooks to departments: `Gateway-Signature: t=<unix>,v1=<hex>`
//! where `v1` is HMAC-SHA256 of `"{t}.{body}"` under the department's
//! webhook secret. During a secret rotation the header carries one `v1` per
//! active secret; receivers accept a message whose timestamp is within 300 s
//! (the `sdk` crate verifies).

use ring::hmac;

/// The header's name.
pub const HEADER: &str = "Gateway-Signature";

/// The header value for `body` sent at `timestamp` (Unix seconds), signed
/// with every secret in `secrets` (the new one first during a rotation).
pub fn sign(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut message = format!("{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), &message);
        header.push_str(",v1=");
        header.push_str(&crate::to_hex(tag.as_ref()));
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_v1_per_secret() {
        let header = sign(&[b"new", b"old"], 1_795_854_600, b"{}");
        let parts: Vec<&str> = header.split(',').collect();
        assert_eq!(parts[0], "t=1795854600");
        assert_eq!(parts.len(), 3);
        assert!(
            parts[1..]
                .iter()
                .all(|p| p.starts_with("v1=") && p.len() == 3 + 64)
        );
        assert_ne!(parts[1], parts[2]);
        // HMAC-SHA256 test vector (RFC 4231 case 2): key "Jefe".
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"Jefe"),
            b"what do ya want for nothing?",
        );
        assert_eq!(
            tag.as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
