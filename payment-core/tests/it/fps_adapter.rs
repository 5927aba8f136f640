//! The FPS adapter against the sandbox bank: success, rejection, enquiry
//! timeouts, duplicated, reordered and delayed notifications, forged ones.

use payment_core::Money;
use payment_core::adapters::fps::sandbox::{Behaviour, Enquiries, SandboxBank, SandboxError};
use payment_core::adapters::fps::transformers::Collection;
use payment_core::adapters::fps::{FpsConfig, FpsProvider};
use payment_core::adapters::{
    NextStep, NotificationError, NotificationKind, PaymentProvider, ProviderError, ProviderStatus,
    RefundRequest, StartRequest,
};
use payment_core::bill::Bilingual;
use payment_core::fps::{FpsCode, Proxy};
use payment_core::payment::{AttemptEvent, BillPayments, BillState, Outcome};
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

fn provider(bank: SandboxBank) -> FpsProvider<SandboxBank> {
    let config = FpsConfig {
        provider_id: "fps-sandbox".into(),
        collection: Collection {
            clearing_code: Some("024".into()),
            proxy: Proxy::FpsId("1234567".into()),
            merchant_name: "HKSAR Water Supplies".into(),
            merchant_city: "Hong Kong".into(),
            merchant_category: "9399".into(),
        },
        bank_public_keys: vec![bank.public_key()],
        tolerance_secs: 300,
    };
    FpsProvider::new(config, bank)
}

fn bank(seed: u8) -> SandboxBank {
    SandboxBank::from_seed(&[seed; 32]).unwrap()
}

fn request(attempt: &str) -> StartRequest {
    StartRequest {
        attempt_id: attempt.into(),
        department: "wsd".into(),
        bill_reference: "WSD-2026-000123".into(),
        amount: Money::parse("456.70").unwrap(),
        description: Bilingual {
            en: "Water".into(),
            zh: "水費".into(),
        },
        return_url: "https://gw.example/pay/return".into(),
        requested_at: NOW,
        expires_at: NOW + time::Duration::minutes(15),
        payment_method: None,
        wallet: None,
    }
}

/// Starts an attempt on a fresh bill; returns the bill, the attempt index,
/// the QR payload and the provider reference.
async fn started(
    fps: &FpsProvider<SandboxBank>,
    attempt: &str,
) -> (BillPayments, usize, String, String) {
    let started = fps.start(&request(attempt)).await.unwrap();
    let NextStep::ShowQr { payload } = started.next else {
        panic!("FPS shows a QR code")
    };
    let mut bill = BillPayments::new(Money::parse("456.70").unwrap());
    let index = bill.new_attempt(fps.id()).unwrap();
    bill.apply(
        index,
        AttemptEvent::Started {
            provider_reference: started.provider_reference.clone(),
        },
    )
    .unwrap();
    (bill, index, payload, started.provider_reference)
}

#[tokio::test]
async fn a_paid_code_is_confirmed_by_the_signed_credit() {
    let fps = provider(bank(1));
    let (mut bill, i, payload, reference) =
        started(&fps, "0b7c9e5e-1d2f-4a8b-9c3d-5e6f7a8b9c0d").await;
    let code = FpsCode::decode(&payload).unwrap();
    assert_eq!(code.amount, Some(Money::parse("456.70").unwrap()));
    assert_eq!(code.reference.as_deref(), Some(reference.as_str()));
    assert_eq!(code.bill_number.as_deref(), Some("WSD-2026-000123"));
    assert_eq!(code.expiry.as_deref(), Some("261128161500"));
    assert_eq!(
        fps.query(&reference).await.unwrap().status,
        ProviderStatus::Pending
    );

    fps.bank()
        .pay(&payload, NOW + time::Duration::minutes(1))
        .unwrap();
    let deliveries = fps.bank().deliveries(NOW + time::Duration::minutes(1));
    assert_eq!(deliveries.len(), 1);
    let n = fps
        .notification(
            &deliveries[0].headers,
            &deliveries[0].body,
            NOW + time::Duration::minutes(2),
        )
        .unwrap();
    assert_eq!(n.provider_reference, reference);
    assert_eq!(bill.apply(i, n.event().unwrap()).unwrap(), Outcome::Applied);
    assert_eq!(bill.state, BillState::Paid { attempt: i });
    assert!(matches!(
        fps.query(&reference).await.unwrap().status,
        ProviderStatus::Succeeded { .. }
    ));

    // Refunds: partial, the same refund again (idempotent), too much.
    let refund = |id: &str, amount: &str| RefundRequest {
        refund_id: id.into(),
        provider_reference: reference.clone(),
        amount: Money::parse(amount).unwrap(),
    };
    let first = fps.refund(&refund("r1", "100.00")).await.unwrap();
    assert_eq!(fps.refund(&refund("r1", "100.00")).await.unwrap(), first);
    assert!(matches!(
        fps.refund(&refund("r2", "356.71")).await,
        Err(ProviderError::Invalid { .. })
    ));
    assert!(fps.refund(&refund("r3", "356.70")).await.unwrap().succeeded);
}

#[tokio::test]
async fn rejected_credits_fail_the_attempt() {
    let fps = provider(bank(2));
    let (mut bill, i, payload, _) = started(&fps, "att-reject-000000001").await;
    fps.bank().set_behaviour(Behaviour {
        reject: true,
        ..Behaviour::default()
    });
    fps.bank().pay(&payload, NOW).unwrap();
    let d = fps.bank().deliveries(NOW);
    let n = fps.notification(&d[0].headers, &d[0].body, NOW).unwrap();
    assert_eq!(n.kind, NotificationKind::Failed);
    assert_eq!(bill.apply(i, n.event().unwrap()).unwrap(), Outcome::Applied);
    assert_eq!(bill.state, BillState::Open);
}

#[tokio::test]
async fn duplicated_and_reordered_notifications_pay_once() {
    let fps = provider(bank(3));
    let (mut bill, i, payload, _) = started(&fps, "att-dup-0000000001").await;
    fps.bank().set_behaviour(Behaviour {
        duplicate: true,
        reorder: true,
        ..Behaviour::default()
    });
    // The citizen pays the same code twice, from two apps.
    fps.bank().pay(&payload, NOW).unwrap();
    fps.bank().pay(&payload, NOW).unwrap();
    let deliveries = fps.bank().deliveries(NOW);
    assert_eq!(deliveries.len(), 4);
    let outcomes: Vec<Outcome> = deliveries
        .iter()
        .map(|d| {
            let n = fps.notification(&d.headers, &d.body, NOW).unwrap();
            bill.apply(i, n.event().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Applied).count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(bill.state, BillState::Paid { attempt: i });
    assert_eq!(bill.collected(), Money::parse("456.70").unwrap());
}

#[tokio::test]
async fn a_credit_held_past_expiry_is_recorded_and_flagged() {
    let fps = provider(bank(4));
    let (mut bill, i, payload, _) = started(&fps, "att-late-00000000001").await;
    fps.bank().set_behaviour(Behaviour {
        hold: true,
        ..Behaviour::default()
    });
    fps.bank()
        .pay(&payload, NOW + time::Duration::minutes(14))
        .unwrap();
    assert!(
        fps.bank()
            .deliveries(NOW + time::Duration::minutes(15))
            .is_empty()
    );
    bill.expire().unwrap();
    let later = NOW + time::Duration::hours(2);
    let held = fps.bank().release(later);
    let n = fps
        .notification(&held[0].headers, &held[0].body, later)
        .unwrap();
    assert_eq!(
        bill.apply(i, n.event().unwrap()).unwrap(),
        Outcome::NeedsRefund
    );
    assert!(bill.attempts[i].flagged_for_refund);

    // And an expired code cannot be paid at all.
    assert_eq!(
        fps.bank().pay(&payload, NOW + time::Duration::minutes(16)),
        Err(SandboxError::Expired)
    );
}

#[tokio::test]
async fn enquiry_failures_say_whether_money_may_have_moved() {
    let fps = provider(bank(5));
    fps.bank().set_behaviour(Behaviour {
        enquiries: Enquiries::TimedOut,
        ..Behaviour::default()
    });
    let error = fps.query("FABC").await.unwrap_err();
    assert!(matches!(error, ProviderError::Timeout { .. }) && error.may_have_moved_money());
    fps.bank().set_behaviour(Behaviour {
        enquiries: Enquiries::Unavailable,
        ..Behaviour::default()
    });
    let error = fps.query("FABC").await.unwrap_err();
    assert!(error.failover_allowed());
    // Starting never talks to the bank, so it cannot time out.
    assert!(fps.start(&request("att-start-000000001")).await.is_ok());
    assert!(matches!(
        fps.start(&request("short")).await,
        Err(ProviderError::Invalid { .. })
    ));
}

#[tokio::test]
async fn forged_altered_stale_and_hostile_notifications_change_nothing() {
    let fps = provider(bank(6));
    let (mut bill, i, payload, _) = started(&fps, "att-forged-00000001").await;
    fps.bank().pay(&payload, NOW).unwrap();
    let genuine = fps.bank().deliveries(NOW).remove(0);

    let other_bank = bank(7);
    let forged = other_bank.sign_body(&genuine.body, NOW);
    assert_eq!(
        fps.notification(&forged.headers, &forged.body, NOW),
        Err(NotificationError::BadSignature)
    );

    let altered_body = String::from_utf8(genuine.body.clone())
        .unwrap()
        .replace("456.70", "4.70");
    assert_eq!(
        fps.notification(&genuine.headers, altered_body.as_bytes(), NOW),
        Err(NotificationError::BadSignature)
    );
    assert!(matches!(
        fps.notification(
            &genuine.headers,
            &genuine.body,
            NOW + time::Duration::minutes(6)
        ),
        Err(NotificationError::Stale { .. })
    ));
    assert_eq!(
        fps.notification(&[], &genuine.body, NOW),
        Err(NotificationError::MissingSignature)
    );
    let mut doubled = genuine.headers.clone();
    doubled.push(forged.headers[1].clone());
    assert_eq!(
        fps.notification(&doubled, &genuine.body, NOW),
        Err(NotificationError::MissingSignature)
    );
    let huge = vec![b'{'; 70_000];
    assert_eq!(
        fps.notification(&genuine.headers, &huge, NOW),
        Err(NotificationError::TooLarge)
    );

    // Signed by the bank but not a credit notification (a bank bug):
    // refused, not guessed at.
    for body in [
        &b"[]"[..],
        br#"{"notification_id":"N1","reference":"F1","amount":"1.00","currency":"USD","status":"CREDITED","payer_bank":"004"}"#,
        br#"{"notification_id":"N 1","reference":"F1","amount":"1.00","currency":"HKD","status":"CREDITED","payer_bank":"004"}"#,
    ] {
        let signed = fps.bank().sign_body(body, NOW);
        assert!(matches!(
            fps.notification(&signed.headers, &signed.body, NOW),
            Err(NotificationError::Malformed(_))
        ));
    }
    assert_eq!(bill.state, BillState::Open);
    let n = fps
        .notification(&genuine.headers, &genuine.body, NOW)
        .unwrap();
    assert_eq!(bill.apply(i, n.event().unwrap()).unwrap(), Outcome::Applied);
}
