//! The FPS collecting bank's credit notification body (after its signature
//! verified): never a panic; what parses names a plain reference and HKD.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payment_core::adapters::fps::parse_notification;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = parse_notification(data) {
        assert!(!n.provider_reference.is_empty() && n.provider_reference.len() <= 64);
        assert!(n.provider_reference.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }
});
