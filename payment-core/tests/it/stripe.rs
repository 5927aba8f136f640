//! Card and e-wallet adapters against the `localstripe` emulator: success,
//! decline, 3-D Secure passed and failed, timeout, unreachable, webhooks
//! (genuine, duplicated, forged), queries and refunds.

use std::time::Duration;

use payment_core::Money;
use payment_core::adapters::card::{CardProvider, StripeClient, StripeConfig};
use payment_core::adapters::ewallet::EwalletProvider;
use payment_core::adapters::{
    NextStep, Notification, NotificationError, NotificationKind, PaymentProvider, ProviderError,
    ProviderStatus, RefundRequest, StartRequest, Wallet,
};
use payment_core::bill::Bilingual;
use payment_core::payment::{BillPayments, BillState, Outcome};
use time::OffsetDateTime;

use crate::localstripe::{LocalStripe, Received, black_hole, free_port};

const SECRET: &str = "whsec_gateway_test";

fn config(base: &str, timeout_ms: u64) -> StripeConfig {
    StripeConfig {
        provider_id: "stripe-card".into(),
        api_base: base.into(),
        secret_key: "sk_test_gateway".into(),
        webhook_secrets: vec![SECRET.into()],
        timeout: Duration::from_millis(timeout_ms),
        tolerance_secs: 300,
    }
}

fn card(base: &str) -> CardProvider {
    CardProvider::new(StripeClient::new(config(base, 5_000)).unwrap())
}

fn request(attempt: &str, payment_method: Option<String>) -> StartRequest {
    let now = OffsetDateTime::now_utc();
    StartRequest {
        attempt_id: attempt.into(),
        department: "wsd".into(),
        bill_reference: "WSD-2026-000123".into(),
        amount: Money::parse("123.45").unwrap(),
        description: Bilingual {
            en: "Water".into(),
            zh: "水費".into(),
        },
        return_url: "https://gw.example/pay/return".into(),
        requested_at: now,
        expires_at: now + time::Duration::minutes(15),
        payment_method,
        wallet: None,
    }
}

/// The next webhook about a payment; the emulator's other events
/// (`balance.available`, ...) must verify and be ignored on the way.
async fn next_webhook(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<Received>,
    provider: &impl PaymentProvider,
) -> Received {
    loop {
        let (headers, body) = tokio::time::timeout(Duration::from_secs(15), rx.recv())
            .await
            .expect("no webhook within 15 s")
            .unwrap();
        let notification = provider
            .notification(&headers, &body, OffsetDateTime::now_utc())
            .expect("every webhook from the emulator verifies");
        if notification.kind != NotificationKind::Ignored {
            return (headers, body);
        }
    }
}

#[tokio::test]
async fn card_success_is_confirmed_by_a_signed_webhook_and_refunds() {
    let Some(stripe) = LocalStripe::start("card_success").await else {
        return;
    };
    let mut hooks = stripe.webhooks(SECRET).await;
    let provider = card(&stripe.base);
    let pm = stripe.payment_method("4242424242424242").await;

    let started = provider
        .start(&request("att-success-0001", Some(pm)))
        .await
        .unwrap();
    assert!(started.provider_reference.starts_with("pi_"));
    assert_eq!(started.next, NextStep::None);
    let amount = Money::parse("123.45").unwrap();
    assert_eq!(started.report.status, ProviderStatus::Succeeded { amount });

    let (headers, body) = next_webhook(&mut hooks, &provider).await;
    let now = OffsetDateTime::now_utc();
    let notification = provider.notification(&headers, &body, now).unwrap();
    assert_eq!(notification.provider_reference, started.provider_reference);
    assert_eq!(notification.kind, NotificationKind::Succeeded { amount });

    // The state machine: the webhook pays the bill; the same webhook again
    // (Stripe redelivers) is a duplicate.
    let mut bill = BillPayments::new(amount);
    let attempt = bill.new_attempt(provider.id()).unwrap();
    bill.apply(
        attempt,
        payment_core::payment::AttemptEvent::Started {
            provider_reference: started.provider_reference.clone(),
        },
    )
    .unwrap();
    assert_eq!(
        bill.apply(attempt, notification.event().unwrap()).unwrap(),
        Outcome::Applied
    );
    let again = provider.notification(&headers, &body, now).unwrap();
    assert_eq!(
        bill.apply(attempt, again.event().unwrap()).unwrap(),
        Outcome::Duplicate
    );
    assert_eq!(bill.state, BillState::Paid { attempt });

    let status = provider.query(&started.provider_reference).await.unwrap();
    assert_eq!(status.status, ProviderStatus::Succeeded { amount });

    let refund = RefundRequest {
        refund_id: "ref-0001".into(),
        provider_reference: started.provider_reference.clone(),
        amount: Money::parse("23.45").unwrap(),
    };
    let outcome = provider.refund(&refund).await.unwrap();
    assert!(outcome.succeeded && outcome.provider_refund_id.starts_with("re_"));
}

#[tokio::test]
async fn declines_three_d_secure_and_forged_webhooks() {
    let Some(stripe) = LocalStripe::start("card_declines").await else {
        return;
    };
    let mut hooks = stripe.webhooks(SECRET).await;
    let provider = card(&stripe.base);

    // A card the issuer declines: 402, not technical, no failover.
    let declined = stripe.payment_method("4000000000000341").await;
    let error = provider
        .start(&request("att-decline-0001", Some(declined)))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Declined {
            provider: "stripe-card".into(),
            code: "card_declined".into()
        }
    );
    assert!(!error.failover_allowed());
    // The failure webhook arrives too.
    let (headers, body) = next_webhook(&mut hooks, &provider).await;
    let failed = provider
        .notification(&headers, &body, OffsetDateTime::now_utc())
        .unwrap();
    assert_eq!(failed.kind, NotificationKind::Failed);

    // 3-D Secure: requires_action, completed by Stripe.js on our page.
    let three_ds = stripe.payment_method("4000002760003184").await;
    let started = provider
        .start(&request("att-3ds-00000001", Some(three_ds.clone())))
        .await
        .unwrap();
    let NextStep::AcquirerAction { client_secret } = &started.next else {
        panic!("expected a 3-D Secure step, got {:?}", started.next)
    };
    assert_eq!(started.report.status, ProviderStatus::Pending);
    assert_eq!(started.report.raw_status, "requires_action");
    stripe
        .authenticate(&started.provider_reference, client_secret, true)
        .await;
    let (headers, body) = next_webhook(&mut hooks, &provider).await;
    let paid = provider
        .notification(&headers, &body, OffsetDateTime::now_utc())
        .unwrap();
    assert_eq!(paid.provider_reference, started.provider_reference);
    assert!(matches!(paid.kind, NotificationKind::Succeeded { .. }));

    // A failed challenge: the intent goes back to requiring a payment
    // method, with the authentication failure as reason.
    let started = provider
        .start(&request("att-3ds-00000002", Some(three_ds)))
        .await
        .unwrap();
    let NextStep::AcquirerAction { client_secret } = &started.next else {
        panic!()
    };
    stripe
        .authenticate(&started.provider_reference, client_secret, false)
        .await;
    let status = provider.query(&started.provider_reference).await.unwrap();
    assert_eq!(
        status.status,
        ProviderStatus::Failed {
            reason: "payment_intent_authentication_failure".into()
        }
    );

    // Forged webhooks change nothing: wrong secret, altered body, replayed
    // much later, no header at all.
    let forged: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            let v = if n == "stripe-signature" {
                payment_core::webhook::sign(
                    &[b"whsec_attacker"],
                    OffsetDateTime::now_utc().unix_timestamp(),
                    &body,
                )
            } else {
                v.clone()
            };
            (n.clone(), v)
        })
        .collect();
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        provider.notification(&forged, &body, now),
        Err(NotificationError::BadSignature)
    );
    let mut altered = body.clone();
    let text = String::from_utf8(body.clone())
        .unwrap()
        .replacen("12345", "12346", 1);
    altered.clear();
    altered.extend_from_slice(text.as_bytes());
    assert_eq!(
        provider.notification(&headers, &altered, now),
        Err(NotificationError::BadSignature)
    );
    assert!(matches!(
        provider.notification(&headers, &body, now + time::Duration::hours(1)),
        Err(NotificationError::Stale { .. })
    ));
    assert_eq!(
        provider.notification(&[], &body, now),
        Err(NotificationError::MissingSignature)
    );
}

#[tokio::test]
async fn timeouts_are_ambiguous_and_unreachable_providers_fail_over() {
    let hole = black_hole().await;
    let slow = CardProvider::new(StripeClient::new(config(&hole, 300)).unwrap());
    let error = slow
        .start(&request("att-timeout-0001", Some("pm_x1".into())))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ProviderError::Timeout {
            provider: "stripe-card".into()
        }
    );
    assert!(error.may_have_moved_money() && !error.failover_allowed());

    let closed = card(&format!("http://127.0.0.1:{}", free_port()));
    let error = closed
        .start(&request("att-unreach-0001", Some("pm_x1".into())))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ProviderError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(error.failover_allowed());

    // Bad input never reaches the network.
    let error = closed
        .start(&request("att-nopm-000001", None))
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Invalid { .. }));
    let error = closed.query("pi_../../v1/customers").await.unwrap_err();
    assert!(matches!(error, ProviderError::Invalid { .. }));
}

#[tokio::test]
async fn wallets_pay_as_tokenised_cards() {
    let Some(stripe) = LocalStripe::start("wallets").await else {
        return;
    };
    let client = StripeClient::new(StripeConfig {
        provider_id: "stripe-ewallet".into(),
        ..config(&stripe.base, 5_000)
    })
    .unwrap();
    let provider = EwalletProvider::new(client);
    for (i, wallet) in [Wallet::ApplePay, Wallet::GooglePay]
        .into_iter()
        .enumerate()
    {
        let pm = stripe.payment_method("4242424242424242").await;
        let mut r = request(&format!("att-wallet-000{i}"), Some(pm));
        r.wallet = Some(wallet);
        let started = provider.start(&r).await.unwrap();
        assert!(
            matches!(started.report.status, ProviderStatus::Succeeded { .. }),
            "{wallet:?}"
        );
        let refund = RefundRequest {
            refund_id: format!("ref-wallet-{i}"),
            provider_reference: started.provider_reference,
            amount: Money::parse("123.45").unwrap(),
        };
        assert!(provider.refund(&refund).await.unwrap().succeeded);
    }
    // AlipayHK and WeChat Pay are Stripe types the emulator does not have:
    // it refuses them as invalid (their request shape is unit-tested).
    let mut r = request("att-alipay-00001", None);
    r.wallet = Some(Wallet::AlipayHk);
    assert!(matches!(
        provider.start(&r).await,
        Err(ProviderError::Invalid { .. })
    ));
}

/// Parsing is independent of the emulator: a notification must be signed
/// before it is read (body checked by the fuzz target too).
#[test]
fn unsigned_events_are_never_parsed() {
    let provider = card("http://127.0.0.1:9");
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","status":"succeeded","amount":100,"currency":"hkd"}}}"#;
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        provider.notification(&[], body, now),
        Err(NotificationError::MissingSignature)
    );
    let header = payment_core::webhook::sign(&[SECRET.as_bytes()], now.unix_timestamp(), body);
    let headers = vec![("stripe-signature".to_string(), header)];
    let n: Notification = provider.notification(&headers, body, now).unwrap();
    assert_eq!(
        n.kind,
        NotificationKind::Succeeded {
            amount: Money::parse("1.00").unwrap()
        }
    );
    let big = vec![b' '; 70_000];
    assert_eq!(
        provider.notification(&headers, &big, now),
        Err(NotificationError::TooLarge)
    );
}
