//! OCSP response parsing (RFC 6960), the bounded DER reader behind it, and
//! the certificates a response may carry.
#![no_main]

use eid_core::cert::OcspResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = OcspResponse::from_der(data) {
        assert_eq!(response.der, data);
        for single in &response.responses {
            if let Some(next) = single.next_update {
                let _ = next - single.this_update;
            }
        }
        let _ = format!("{response:?}");
    }
});
