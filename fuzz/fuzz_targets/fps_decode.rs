//! FPS QR payload decoding; decoded codes must survive an encode/decode
//! round trip unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payment_core::fps::FpsCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = FpsCode::decode(text) {
        let again = code.encode().expect("a decoded code encodes");
        assert_eq!(FpsCode::decode(&again).expect("and decodes"), code);
    }
});
