//! Stripe webhooks: the first line is the `Stripe-Signature` header, the
//! rest the body. Header parsing and verification must never panic; a body
//! that parses as an event must name a `pi_`/`evt_` id of plain characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payment_core::adapters::card::parse_event;
use payment_core::adapters::signature;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    if let Ok(header) = std::str::from_utf8(header) {
        let _ = signature::verify_hmac(header, body, &[b"whsec_fuzz"], 1_795_860_000, 300);
        let _ = signature::verify_ed25519(header, body, &[&[7u8; 32]], 1_795_860_000, 300);
    }
    if let Ok(n) = parse_event(body) {
        assert!(n.id.starts_with("evt_"));
        assert!(n.provider_reference.len() <= 255);
    }
});
