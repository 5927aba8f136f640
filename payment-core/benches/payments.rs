//! Criterion benchmarks of payment-core's hot paths:
//! `cargo bench -p payment-core --bench payments`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use payment_core::Money;
use payment_core::fps::{FpsCode, Initiation, Proxy};
use payment_core::payment::{AttemptEvent, BillPayments};

fn code() -> FpsCode {
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

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let payload = code().encode().unwrap();
    c.bench_function("fps_encode", |b| {
        b.iter(|| black_box(code()).encode().unwrap())
    });
    c.bench_function("fps_decode", |b| {
        b.iter(|| FpsCode::decode(black_box(&payload)).unwrap())
    });
    c.bench_function("money_parse", |b| {
        b.iter(|| Money::parse(black_box("1234567.89")).unwrap())
    });
    c.bench_function("payment_start_and_succeed", |b| {
        b.iter(|| {
            let mut bill = BillPayments::new(Money::parse("1234.50").unwrap());
            let a = bill.new_attempt("fps").unwrap();
            bill.apply(
                a,
                AttemptEvent::Started {
                    provider_reference: "F".into(),
                },
            )
            .unwrap();
            bill.apply(
                a,
                AttemptEvent::ProviderSucceeded {
                    notification_id: "n".into(),
                    amount: Money::parse("1234.50").unwrap(),
                    raw_status: "OK".into(),
                },
            )
            .unwrap();
            black_box(bill)
        })
    });
    c.final_summary();
}
