//! Provider settlement files: reading any bytes never panics and stops at
//! the first bad line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payment_core::reconcile::SettlementReader;

fuzz_target!(|data: &[u8]| {
    if let Ok(reader) = SettlementReader::new(data) {
        for line in reader {
            if line.is_err() {
                break;
            }
        }
    }
});
