//! Certificate parsing: DER and PEM, then what is derived from a parsed
//! certificate without a path (identity extraction, display).
#![no_main]

use eid_core::cert::{Certificate, CertifiedIdentity};
use libfuzzer_sys::fuzz_target;

fn exercise(cert: &Certificate) {
    let _ = CertifiedIdentity::from_certificate(cert, &[]);
    let _ = cert.serial_hex();
    let _ = cert.is_self_issued();
    let _ = format!("{cert:?} {}", cert.subject);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = Certificate::from_der(data) {
        // Parsing owns a copy of exactly the input.
        assert_eq!(cert.der, data);
        exercise(&cert);
    }
    if let Ok(certs) = Certificate::from_pem(data) {
        for cert in &certs {
            exercise(cert);
        }
    }
});
