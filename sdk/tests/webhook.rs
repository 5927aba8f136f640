//! The SDK's webhook verification against the gateway's signer.

#![allow(clippy::unwrap_used, missing_docs)]

use payment_core::webhook::sign;
use sdk::webhook::{DEFAULT_TOLERANCE_SECS, WebhookError, verify};

const NOW: i64 = 1_795_854_600;
const BODY: &[u8] = br#"{"type":"payment.succeeded","bill":"b-1"}"#;

#[test]
fn genuine_webhooks_verify_also_during_rotation() {
    let header = sign(&[b"secret-1"], NOW, BODY);
    assert_eq!(
        verify(
            &header,
            BODY,
            &[b"secret-1"],
            NOW + 10,
            DEFAULT_TOLERANCE_SECS
        ),
        Ok(())
    );
    // The gateway rotates to secret-2 and signs with both for a while.
    let header = sign(&[b"secret-2", b"secret-1"], NOW, BODY);
    assert_eq!(
        verify(&header, BODY, &[b"secret-1"], NOW, DEFAULT_TOLERANCE_SECS),
        Ok(())
    );
    assert_eq!(
        verify(&header, BODY, &[b"secret-2"], NOW, DEFAULT_TOLERANCE_SECS),
        Ok(())
    );
}

#[test]
fn tampered_stale_and_malformed_webhooks_are_refused() {
    let header = sign(&[b"secret-1"], NOW, BODY);
    assert_eq!(
        verify(
            &header,
            br#"{"type":"payment.succeeded","bill":"b-2"}"#,
            &[b"secret-1"],
            NOW,
            300
        ),
        Err(WebhookError::BadSignature)
    );
    assert_eq!(
        verify(&header, BODY, &[b"another"], NOW, 300),
        Err(WebhookError::BadSignature)
    );
    assert!(matches!(
        verify(&header, BODY, &[b"secret-1"], NOW + 301, 300),
        Err(WebhookError::Stale { .. })
    ));
    assert!(matches!(
        verify(&header, BODY, &[b"secret-1"], NOW - 301, 300),
        Err(WebhookError::Stale { .. })
    ));
    // The timestamp is signed: moving it breaks the signature.
    let moved = header.replacen(&format!("t={NOW}"), &format!("t={}", NOW + 100), 1);
    assert_eq!(
        verify(&moved, BODY, &[b"secret-1"], NOW + 100, 300),
        Err(WebhookError::BadSignature)
    );
    let v1 = header.split(',').nth(1).unwrap();
    for bad in [
        "",
        "t=abc,v1=00",
        v1,
        &format!("t={NOW}"),
        &format!("t={NOW},v1=zz"),
        &format!("t={NOW},t={NOW},{v1}"),
        &format!("t={NOW},v1={}", "0".repeat(63)),
        &"x".repeat(5000),
    ] {
        assert_eq!(
            verify(bad, BODY, &[b"secret-1"], NOW, 300),
            Err(WebhookError::Malformed),
            "{bad:.40}"
        );
    }
    // Unknown schemes are ignored, a known one still has to match.
    let with_v2 = format!("{header},v2=anything");
    assert_eq!(verify(&with_v2, BODY, &[b"secret-1"], NOW, 300), Ok(()));
}
