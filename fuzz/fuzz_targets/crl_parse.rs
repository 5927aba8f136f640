//! CRL parsing: DER and PEM.
#![no_main]

use eid_core::cert::{Crl, reason_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(crl) = Crl::from_der(data) {
        assert_eq!(crl.der, data);
        for entry in crl.revoked.values() {
            let _ = reason_name(entry.reason);
        }
        let _ = format!("{crl:?}");
    }
    let _ = Crl::from_pem(data);
});
