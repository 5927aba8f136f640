//! The PPS adapter against the PPS sandbox: approval, decline,
//! cancellation, replayed and forged results, cut-off settlement.

use payment_core::Money;
use payment_core::adapters::pps::sandbox::{PpsOutcome, PpsSandbox, PpsSandboxError};
use payment_core::adapters::pps::{PpsConfig, PpsProvider};
use payment_core::adapters::{
    NextStep, NotificationError, NotificationKind, PaymentProvider, ProviderError, RefundRequest,
    StartRequest,
};
use payment_core::bill::Bilingual;
use payment_core::payment::{AttemptEvent, BillPayments, BillState, Outcome};
use time::OffsetDateTime;
use time::macros::{date, datetime};

const KEY: &[u8] = b"pps-merchant-key-for-tests";
// Friday 2026-11-27, 18:50 in Hong Kong.
const NOW: OffsetDateTime = datetime!(2026-11-27 10:50 UTC);

fn setup() -> (PpsProvider, PpsSandbox) {
    let provider = PpsProvider::new(PpsConfig {
        provider_id: "pps-sandbox".into(),
        pay_url: "https://pps.sandbox.invalid/pay".into(),
        merchant_code: "9876".into(),
        key: KEY.to_vec(),
        tolerance_secs: 600,
    });
    (
        provider,
        PpsSandbox::new("9876", KEY, vec![date!(2026 - 12 - 25)]),
    )
}

fn request(attempt: &str) -> StartRequest {
    StartRequest {
        attempt_id: attempt.into(),
        department: "ird".into(),
        bill_reference: "IRD-0012345678".into(),
        amount: Money::parse("2500.00").unwrap(),
        description: Bilingual {
            en: "Tax".into(),
            zh: "稅款".into(),
        },
        return_url: "https://gw.example/pay/pps/return".into(),
        requested_at: NOW,
        expires_at: NOW + time::Duration::minutes(30),
        payment_method: None,
        wallet: None,
    }
}

async fn redirect(provider: &PpsProvider, attempt: &str) -> (String, String) {
    let started = provider.start(&request(attempt)).await.unwrap();
    let NextStep::Redirect { url } = started.next else {
        panic!("PPS redirects")
    };
    (url, started.provider_reference)
}

#[tokio::test]
async fn approval_decline_and_cancel() {
    let (provider, pps) = setup();
    let (url, reference) = redirect(&provider, "att-pps-0000000001").await;
    let opened = pps.open(&url, NOW).unwrap();
    assert_eq!(opened.bill_account, "IRD-0012345678");
    assert_eq!(opened.merchant_code, "9876");

    // Paid at 18:55 on a Friday: settles the same day.
    let paid_at = NOW + time::Duration::minutes(5);
    let (back_to, form) = pps.finish(&url, PpsOutcome::Approve, paid_at).unwrap();
    assert_eq!(back_to, "https://gw.example/pay/pps/return");
    assert!(form.contains("settle=20261127"), "{form}");
    let n = provider
        .notification(&[], form.as_bytes(), paid_at)
        .unwrap();
    assert_eq!(n.provider_reference, reference);
    assert_eq!(
        n.kind,
        NotificationKind::Succeeded {
            amount: Money::parse("2500.00").unwrap()
        }
    );

    let mut bill = BillPayments::new(Money::parse("2500.00").unwrap());
    let i = bill.new_attempt("pps-sandbox").unwrap();
    bill.apply(
        i,
        AttemptEvent::Started {
            provider_reference: reference,
        },
    )
    .unwrap();
    assert_eq!(bill.apply(i, n.event().unwrap()).unwrap(), Outcome::Applied);
    // The citizen reloads the result page: the same result again.
    let again = provider
        .notification(&[], form.as_bytes(), paid_at)
        .unwrap();
    assert_eq!(
        bill.apply(i, again.event().unwrap()).unwrap(),
        Outcome::Duplicate
    );
    assert_eq!(bill.state, BillState::Paid { attempt: i });

    // Paid at 19:05: settles on Monday.
    let (url, _) = redirect(&provider, "att-pps-0000000002").await;
    let late = NOW + time::Duration::minutes(15);
    let (_, form) = pps.finish(&url, PpsOutcome::Approve, late).unwrap();
    assert!(form.contains("settle=20261130"), "{form}");

    for (outcome, code) in [(PpsOutcome::Decline, "51"), (PpsOutcome::Cancel, "99")] {
        let (url, _) = redirect(&provider, "att-pps-0000000003").await;
        let (_, form) = pps.finish(&url, outcome, NOW).unwrap();
        let n = provider.notification(&[], form.as_bytes(), NOW).unwrap();
        assert_eq!(
            (n.kind, n.raw_status.as_str()),
            (NotificationKind::Failed, code)
        );
    }
}

#[tokio::test]
async fn forged_replayed_and_hostile_results_are_refused() {
    let (provider, pps) = setup();
    let (url, _) = redirect(&provider, "att-pps-0000000004").await;
    let (_, form) = pps.finish(&url, PpsOutcome::Approve, NOW).unwrap();

    let cheaper = form.replace("amount=2500.00", "amount=25.00");
    assert_eq!(
        provider.notification(&[], cheaper.as_bytes(), NOW),
        Err(NotificationError::BadSignature)
    );
    let declined_to_approved = pps
        .finish(&url, PpsOutcome::Decline, NOW)
        .unwrap()
        .1
        .replace("code=51", "code=00");
    assert_eq!(
        provider.notification(&[], declined_to_approved.as_bytes(), NOW),
        Err(NotificationError::BadSignature)
    );
    // Replayed an hour later from the browser history.
    assert!(matches!(
        provider.notification(&[], form.as_bytes(), NOW + time::Duration::hours(1)),
        Err(NotificationError::Stale { .. })
    ));
    for hostile in [
        "",
        "ref=1",
        &format!("{form}&code=00"),
        &"a=b&".repeat(20_000),
    ] {
        assert!(
            provider.notification(&[], hostile.as_bytes(), NOW).is_err(),
            "{hostile:.40}"
        );
    }

    // PPS refuses a redirect the gateway did not sign, or an old one.
    let tampered = url.replace("amount=2500.00", "amount=1.00");
    assert_eq!(
        pps.open(&tampered, NOW).unwrap_err(),
        PpsSandboxError::BadRequest
    );
    assert_eq!(
        pps.open(&url, NOW + time::Duration::minutes(20))
            .unwrap_err(),
        PpsSandboxError::Expired
    );
    let other = PpsSandbox::new("1111", KEY, vec![]);
    assert_eq!(
        other.open(&url, NOW).unwrap_err(),
        PpsSandboxError::WrongMerchant
    );
}

#[tokio::test]
async fn pps_has_no_enquiry_or_refund_call() {
    let (provider, _) = setup();
    assert!(matches!(
        provider.query("P1").await,
        Err(ProviderError::Unsupported {
            operation: "query",
            ..
        })
    ));
    let refund = RefundRequest {
        refund_id: "r".into(),
        provider_reference: "P1".into(),
        amount: Money::parse("1").unwrap(),
    };
    let error = provider.refund(&refund).await.unwrap_err();
    assert!(!error.failover_allowed() && !error.may_have_moved_money());
}

/// PPS has no enquiry: a citizen who never comes back leaves the attempt to
/// expire; a result that turns up later (within the tolerance) is still
/// recorded, since the money was taken, and flagged for refund.
#[tokio::test]
async fn no_result_means_expiry_and_a_late_result_is_flagged() {
    let (provider, pps) = setup();
    let (url, reference) = redirect(&provider, "att-pps-0000000005").await;
    let mut bill = BillPayments::new(Money::parse("2500.00").unwrap());
    let i = bill.new_attempt("pps-sandbox").unwrap();
    bill.apply(
        i,
        AttemptEvent::Started {
            provider_reference: reference,
        },
    )
    .unwrap();
    bill.expire().unwrap();
    let (_, form) = pps
        .finish(&url, PpsOutcome::Approve, NOW + time::Duration::minutes(10))
        .unwrap();
    let n = provider
        .notification(&[], form.as_bytes(), NOW + time::Duration::minutes(11))
        .unwrap();
    assert_eq!(
        bill.apply(i, n.event().unwrap()).unwrap(),
        Outcome::NeedsRefund
    );
    assert!(bill.attempts[i].flagged_for_refund);
    assert_eq!(bill.state, BillState::Expired);
}
