//! PPS result forms: reading never panics, a form that reads re-encodes to
//! one that reads the same, and a form without the right MAC is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use payment_core::adapters::pps::parse_result;
use payment_core::adapters::pps::transformers::PaymentResult;

const KEY: &[u8] = b"fuzz-key";

fuzz_target!(|data: &[u8]| {
    if let Some((result, _mac)) = PaymentResult::from_form(data) {
        let form = result.to_form(KEY);
        let (again, mac) = PaymentResult::from_form(form.as_bytes()).expect("re-encoded form reads");
        assert_eq!(again, result);
        assert!(again.verify(KEY, &mac));
    }
    let _ = parse_result(data, KEY, 1_795_860_000, 600);
});
