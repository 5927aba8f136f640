//! Criterion benchmarks of payment-core's hot paths:
//! `cargo bench -p payment-core --bench payments`.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use payment_core::Money;
use payment_core::adapters::PaymentProvider;
use payment_core::adapters::card::{CardProvider, StripeClient, StripeConfig};
use payment_core::adapters::fps::sandbox::SandboxBank;
use payment_core::adapters::fps::transformers::Collection;
use payment_core::adapters::fps::{FpsConfig, FpsProvider};
use payment_core::bill::Method;
use payment_core::fps::{FpsCode, Initiation, Proxy};
use payment_core::payment::{AttemptEvent, BillPayments};
use payment_core::routing::{BreakerConfig, Route, Router};
use time::OffsetDateTime;

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
    let m = |s: &str| Money::parse(s).unwrap();
    let router = Router::new(
        [(
            Method::Card,
            vec![
                Route {
                    departments: Some(vec!["ird".into(), "td".into()]),
                    ..Route::to("acquirer-ird")
                },
                Route {
                    max_amount: Some(m("100")),
                    ..Route::to("acquirer-small")
                },
                Route {
                    min_amount: Some(m("50")),
                    max_amount: Some(m("50000")),
                    ..Route::to("acquirer-a")
                },
                Route::to("acquirer-b"),
            ],
        )]
        .into(),
        BreakerConfig::default(),
    );
    let now = OffsetDateTime::now_utc();
    c.bench_function("routing_decision", |b| {
        b.iter(|| {
            let eligible = router.eligible(Method::Card, black_box(m("1234.50")), black_box("wsd"));
            let chosen = eligible.into_iter().find(|p| router.admit(p, now));
            black_box(chosen.map(str::len))
        })
    });

    let stripe = CardProvider::new(
        StripeClient::new(StripeConfig {
            provider_id: "stripe-card".into(),
            api_base: "http://127.0.0.1:9".into(),
            secret_key: "sk_test".into(),
            webhook_secrets: vec!["whsec_bench".into()],
            timeout: Duration::from_secs(1),
            tolerance_secs: 300,
        })
        .unwrap(),
    );
    let event = br#"{"id":"evt_1Qx","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1Qx","object":"payment_intent","status":"succeeded","amount":123450,"amount_received":123450,"currency":"hkd","client_secret":"pi_1Qx_secret_abc","metadata":{"attempt_id":"0b7c9e5e-1d2f-4a8b-9c3d-5e6f7a8b9c0d","department":"wsd","bill_reference":"WSD-2026-000123"}}}}"#;
    let header = vec![(
        "stripe-signature".to_string(),
        payment_core::webhook::sign(&[b"whsec_bench"], now.unix_timestamp(), event),
    )];
    c.bench_function("stripe_webhook_verify_and_parse", |b| {
        b.iter(|| {
            stripe
                .notification(black_box(&header), black_box(event), now)
                .unwrap()
        })
    });

    let bank = SandboxBank::from_seed(&[9; 32]).unwrap();
    let fps = FpsProvider::new(
        FpsConfig {
            provider_id: "fps".into(),
            collection: Collection {
                clearing_code: None,
                proxy: Proxy::FpsId("1234567".into()),
                merchant_name: "WSD".into(),
                merchant_city: "HK".into(),
                merchant_category: "9399".into(),
            },
            bank_public_keys: vec![bank.public_key()],
            tolerance_secs: 300,
        },
        SandboxBank::from_seed(&[1; 32]).unwrap(),
    );
    let credit = br#"{"notification_id":"BN-00000001","reference":"F0B7C9E5E1D2F4A8B9C3D5E6F","amount":"1234.50","currency":"HKD","status":"CREDITED","payer_bank":"004"}"#;
    let signed = bank.sign_body(credit, now);
    c.bench_function("fps_credit_verify_and_parse", |b| {
        b.iter(|| {
            fps.notification(black_box(&signed.headers), black_box(&signed.body), now)
                .unwrap()
        })
    });
    c.final_summary();
}
