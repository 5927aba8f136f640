//! FPS QR payloads: golden files written independently, corruption, field
//! order, and round trips.

use payment_core::Money;
use payment_core::fps::{FpsCode, FpsError, Initiation, Proxy, crc16};
use proptest::prelude::*;

fn golden(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/golden/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .trim()
    .to_owned()
}

fn water_bill() -> FpsCode {
    FpsCode {
        initiation: Initiation::Dynamic,
        clearing_code: None,
        proxy: Proxy::FpsId("1234567".into()),
        expiry: None,
        merchant_category: "0000".into(),
        amount: Some(Money::parse("1234.50").unwrap()),
        merchant_name: "WATER SUPPLIES DEPT".into(),
        merchant_city: "HONG KONG".into(),
        bill_number: Some("BILL-2026-000123".into()),
        reference: Some("REF123456".into()),
    }
}

fn lands_static() -> FpsCode {
    FpsCode {
        initiation: Initiation::Static,
        clearing_code: Some("004".into()),
        proxy: Proxy::Mobile("+852-91234567".into()),
        expiry: Some("261231235959".into()),
        merchant_category: "9399".into(),
        amount: None,
        merchant_name: "LANDS DEPARTMENT".into(),
        merchant_city: "HONG KONG".into(),
        bill_number: None,
        reference: None,
    }
}

#[test]
fn crc_is_ccitt_false() {
    assert_eq!(crc16(b"123456789"), 0x29B1);
    assert_eq!(crc16(b""), 0xFFFF);
}

#[test]
fn golden_payloads_decode_and_encode_byte_for_byte() {
    for (file, code) in [
        ("dynamic-fps-id.txt", water_bill()),
        ("static-mobile-expiry.txt", lands_static()),
    ] {
        let payload = golden(file);
        assert_eq!(FpsCode::decode(&payload).unwrap(), code, "{file}");
        assert_eq!(code.encode().unwrap(), payload, "{file}");
    }
}

/// Rebuilds a payload from its fields in another order, with a fresh CRC.
fn reordered(payload: &str, order: &[&str]) -> String {
    let body = &payload[..payload.len() - 8];
    let mut fields = Vec::new();
    let mut i = 0;
    while i < body.len() {
        let len: usize = body[i + 2..i + 4].parse().unwrap();
        fields.push(body[i..i + 4 + len].to_owned());
        i += 4 + len;
    }
    fields.sort_by_key(|f| {
        order
            .iter()
            .position(|o| f.starts_with(o))
            .unwrap_or(usize::MAX)
    });
    let mut out = fields.concat();
    out += "6304";
    format!("{out}{:04X}", crc16(out.as_bytes()))
}

#[test]
fn fields_may_come_in_any_order_after_00() {
    let payload = golden("dynamic-fps-id.txt");
    let shuffled = reordered(
        &payload,
        &["00", "59", "62", "60", "54", "01", "58", "53", "52", "26"],
    );
    assert_ne!(shuffled, payload);
    assert_eq!(FpsCode::decode(&shuffled).unwrap(), water_bill());
    let misplaced = reordered(&payload, &["01", "00"]);
    assert_eq!(
        FpsCode::decode(&misplaced),
        Err(FpsError::BadFormatIndicator)
    );
}

fn with_crc(body: &str) -> String {
    let body = format!("{body}6304");
    format!("{body}{:04X}", crc16(body.as_bytes()))
}

#[test]
fn corrupted_payloads_are_refused() {
    let payload = golden("dynamic-fps-id.txt");
    // Any single changed character breaks the CRC (or the structure).
    for i in 0..payload.len() - 4 {
        let mut bytes = payload.clone().into_bytes();
        bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
        let corrupted = String::from_utf8(bytes).unwrap();
        assert!(FpsCode::decode(&corrupted).is_err(), "position {i}");
    }
    let lower = format!(
        "{}{}",
        &payload[..payload.len() - 4],
        payload[payload.len() - 4..].to_lowercase()
    );
    assert!(matches!(
        FpsCode::decode(&lower),
        Err(FpsError::BadCrc { .. })
    ));
    // Truncation at every length.
    for cut in 0..payload.len() {
        assert!(FpsCode::decode(&payload[..cut]).is_err(), "prefix {cut}");
    }
    assert_eq!(FpsCode::decode(&"0".repeat(513)), Err(FpsError::TooLong));
    assert!(FpsCode::decode("000201é").is_err());
}

/// A payload from `(id, value)` fields, with correct lengths and CRC.
fn build(fields: &[(&str, &str)]) -> String {
    let body: String = fields
        .iter()
        .map(|(id, value)| format!("{id}{:02}{value}", value.len()))
        .collect();
    with_crc(&body)
}

const TEMPLATE: &str = "0012hk.com.hkicl02071234567";

fn valid_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("00", "01"),
        ("01", "12"),
        ("26", TEMPLATE),
        ("52", "0000"),
        ("53", "344"),
        ("58", "HK"),
        ("59", "A DEPARTMENT"),
        ("60", "HONG KONG"),
    ]
}

fn replaced(id: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
    valid_fields()
        .into_iter()
        .map(|(i, v)| if i == id { (i, value) } else { (i, v) })
        .collect()
}

#[test]
fn structural_errors_name_the_field() {
    assert!(FpsCode::decode(&build(&valid_fields())).is_ok());
    let without_name: Vec<_> = valid_fields()
        .into_iter()
        .filter(|(i, _)| *i != "59")
        .collect();
    let mut twice = valid_fields();
    twice.push(("59", "ANOTHER"));
    let mut amount = valid_fields();
    amount.push(("54", "1.005"));
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (without_name, "59"),
        (twice, "59"),
        (replaced("53", "840"), "53"),
        (replaced("58", "CN"), "58"),
        (replaced("26", "0012hk.com.other02071234567"), "26"),
        (
            replaced("26", "0012hk.com.hkicl020712345670313+852-91234567"),
            "26",
        ),
        (replaced("26", "0012hk.com.hkicl0308+8521234"), "26"),
        (replaced("01", "13"), "01"),
        (replaced("52", "12a4"), "52"),
        (amount, "54"),
    ];
    for (fields, id) in cases {
        let payload = build(&fields);
        let err = FpsCode::decode(&payload).unwrap_err();
        assert!(
            format!("{err:?}").contains(&format!("\"{id}\"")),
            "{payload}: {err:?}"
        );
    }
    // A length running past the end of the payload.
    assert!(matches!(
        FpsCode::decode("000201010212269912"),
        Err(FpsError::BadField { .. })
    ));
}

#[test]
fn encoder_refuses_what_the_decoder_would_refuse() {
    let mut code = water_bill();
    code.merchant_name = "A NAME THAT IS FAR TOO LONG FOR FPS".into();
    assert!(code.encode().is_err());
    let mut code = water_bill();
    code.proxy = Proxy::Mobile("91234567".into());
    assert!(code.encode().is_err());
    let mut code = water_bill();
    code.proxy = Proxy::FpsId("12AB567".into());
    assert!(code.encode().is_err());
    let mut code = water_bill();
    code.reference = Some("香港".into());
    assert!(code.encode().is_err());
    let mut code = water_bill();
    code.expiry = Some("2612".into());
    assert!(code.encode().is_err());
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Z0-9 .-]{{1,{max}}}")).unwrap()
}

proptest! {
    #[test]
    fn every_valid_code_round_trips(
        dynamic in any::<bool>(),
        id in "[0-9]{7,9}",
        cents in proptest::option::of(1u64..=999_999_999),
        name in text(25),
        city in text(15),
        bill in proptest::option::of(text(25)),
        reference in proptest::option::of(text(25)),
    ) {
        let code = FpsCode {
            initiation: if dynamic { Initiation::Dynamic } else { Initiation::Static },
            clearing_code: None,
            proxy: Proxy::FpsId(id),
            expiry: None,
            merchant_category: "0000".into(),
            amount: cents.map(|c| Money::from_cents(c).unwrap()),
            merchant_name: name,
            merchant_city: city,
            bill_number: bill,
            reference,
        };
        let payload = code.encode().unwrap();
        prop_assert!(payload.len() <= 512);
        prop_assert_eq!(FpsCode::decode(&payload).unwrap(), code);
    }

    #[test]
    fn the_decoder_never_panics(input in "\\PC{0,200}") {
        let _ = FpsCode::decode(&input);
    }
}

#[test]
fn payloads_from_other_encoders_decode() {
    let odoo = FpsCode::decode(&golden("real-odoo-l10n-hk.txt")).unwrap();
    assert_eq!(odoo.initiation, Initiation::Dynamic);
    assert_eq!(odoo.proxy, Proxy::Mobile("+852-67891234".into()));
    assert_eq!(odoo.amount, Some(Money::parse("100").unwrap()));
    assert_eq!(odoo.merchant_name, "company_1_data");
    assert_eq!(odoo.reference.as_deref(), Some("INV/TEST/0001"));
    let js = FpsCode::decode(&golden("real-fps-generator-js.txt")).unwrap();
    assert_eq!(js.amount, Some(Money::parse("100.50").unwrap()));
    assert_eq!(js.proxy, Proxy::Mobile("+852-91234567".into()));
    assert_eq!(js.merchant_name, "TestMerchant");
    // One flipped digit anywhere breaks the CRC.
    let mut corrupted = golden("real-odoo-l10n-hk.txt").into_bytes();
    corrupted[40] = if corrupted[40] == b'1' { b'2' } else { b'1' };
    assert!(FpsCode::decode(std::str::from_utf8(&corrupted).unwrap()).is_err());
}
