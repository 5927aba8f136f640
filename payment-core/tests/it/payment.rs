//! The payment state machine: examples, and properties over arbitrary
//! sequences of events, including duplicated and reordered notifications.

use payment_core::Money;
use payment_core::payment::{
    AttemptEvent, AttemptState, BillPayments, BillState, Outcome, TransitionError,
};
use proptest::prelude::*;

pub(crate) fn money(text: &str) -> Money {
    Money::parse(text).unwrap()
}

fn started(reference: &str) -> AttemptEvent {
    AttemptEvent::Started {
        provider_reference: reference.into(),
    }
}

fn success(id: &str, amount: &str) -> AttemptEvent {
    AttemptEvent::ProviderSucceeded {
        notification_id: id.into(),
        amount: money(amount),
        raw_status: "SUCCESS".into(),
    }
}

#[test]
fn a_bill_is_paid_once_and_refunded_within_what_was_paid() {
    let mut bill = BillPayments::new(money("100.00"));
    let fps = bill.new_attempt("fps").unwrap();
    assert_eq!(bill.apply(fps, started("FPS-1")).unwrap(), Outcome::Applied);
    assert_eq!(
        bill.apply(fps, success("n-1", "100.00")).unwrap(),
        Outcome::Applied
    );
    assert_eq!(bill.state, BillState::Paid { attempt: fps });
    assert_eq!(
        bill.apply(fps, success("n-1", "100.00")).unwrap(),
        Outcome::Duplicate
    );
    assert_eq!(
        bill.apply(fps, success("n-2", "100.00")).unwrap(),
        Outcome::Duplicate
    );
    let refund = |id: &str, a: &str| AttemptEvent::Refunded {
        refund_id: id.into(),
        amount: money(a),
    };
    assert_eq!(
        bill.apply(fps, refund("r-1", "40.00")).unwrap(),
        Outcome::Applied
    );
    assert_eq!(
        bill.apply(fps, refund("r-1", "40.00")).unwrap(),
        Outcome::Duplicate
    );
    assert!(matches!(
        bill.apply(fps, refund("r-2", "60.01")),
        Err(TransitionError::RefundTooLarge { .. })
    ));
    assert_eq!(
        bill.apply(fps, refund("r-3", "60.00")).unwrap(),
        Outcome::Applied
    );
    assert_eq!(bill.attempts[fps].refunded, money("100.00"));
    assert_eq!(
        bill.attempts[fps].history.len(),
        4,
        "every transition recorded with its event"
    );
    assert_eq!(bill.collected(), money("100.00"));
}

#[test]
fn a_second_success_is_flagged_for_refund() {
    let mut bill = BillPayments::new(money("50.00"));
    let fps = bill.new_attempt("fps").unwrap();
    let card = bill.new_attempt("card").unwrap();
    bill.apply(fps, started("F")).unwrap();
    bill.apply(card, started("C")).unwrap();
    bill.apply(card, success("c-1", "50.00")).unwrap();
    assert_eq!(
        bill.apply(fps, success("f-1", "50.00")).unwrap(),
        Outcome::NeedsRefund
    );
    assert_eq!(bill.state, BillState::Paid { attempt: card });
    assert!(bill.attempts[fps].flagged_for_refund);
    assert!(!bill.attempts[card].flagged_for_refund);
    assert!(
        bill.new_attempt("pps").is_err(),
        "no new attempt on a paid bill"
    );
}

#[test]
fn late_success_after_cancellation_or_expiry_is_recorded_and_flagged() {
    for close in [
        BillPayments::cancel as fn(&mut BillPayments) -> Result<(), TransitionError>,
        BillPayments::expire,
    ] {
        let mut bill = BillPayments::new(money("20.00"));
        let fps = bill.new_attempt("fps").unwrap();
        bill.apply(fps, started("F")).unwrap();
        close(&mut bill).unwrap();
        assert!(matches!(
            bill.attempts[fps].state,
            AttemptState::Cancelled | AttemptState::Expired
        ));
        assert_eq!(
            bill.apply(fps, success("n", "20.00")).unwrap(),
            Outcome::NeedsRefund
        );
        assert_eq!(bill.attempts[fps].state, AttemptState::Succeeded);
        assert!(bill.attempts[fps].flagged_for_refund);
        assert_eq!(bill.collected(), Money::ZERO);
    }
}

#[test]
fn illegal_transitions_are_errors() {
    let mut bill = BillPayments::new(money("10.00"));
    let a = bill.new_attempt("pps").unwrap();
    assert!(matches!(
        bill.apply(a, success("n", "10.00")),
        Err(TransitionError::NotAllowed { .. })
    ));
    bill.apply(a, started("P")).unwrap();
    assert!(matches!(
        bill.apply(a, started("P")),
        Err(TransitionError::NotAllowed { .. })
    ));
    assert!(matches!(
        bill.apply(
            a,
            AttemptEvent::Refunded {
                refund_id: "r".into(),
                amount: money("1.00")
            }
        ),
        Err(TransitionError::NotAllowed { .. })
    ));
    assert!(matches!(
        bill.apply(a, success("n", "9.99")),
        Err(TransitionError::AmountMismatch { .. })
    ));
    assert!(matches!(
        bill.apply(9, AttemptEvent::Expired),
        Err(TransitionError::UnknownAttempt(9))
    ));
    bill.apply(a, success("n", "10.00")).unwrap();
    assert!(bill.cancel().is_err(), "a paid bill cannot be cancelled");
    assert_eq!(
        bill.apply(
            a,
            AttemptEvent::ProviderFailed {
                notification_id: "late".into(),
                raw_status: "FAILED".into()
            }
        )
        .unwrap(),
        Outcome::Duplicate,
        "a failure after the success changes nothing"
    );
}

#[derive(Debug, Clone)]
pub(crate) enum Step {
    NewAttempt,
    Event(usize, u8, u8),
    Cancel,
    Expire,
}

pub(crate) fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::NewAttempt),
        8 => (0usize..4, 0u8..6, 0u8..3).prop_map(|(a, e, n)| Step::Event(a, e, n)),
        1 => Just(Step::Cancel),
        1 => Just(Step::Expire),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_sequence_pays_a_bill_twice_or_refunds_more_than_paid(steps in proptest::collection::vec(step(), 0..40)) {
        let amount = money("88.80");
        let mut bill = BillPayments::new(amount);
        for step in steps {
            let _ = match step {
                Step::NewAttempt => bill.new_attempt("fps").map(|_| Outcome::Applied),
                Step::Cancel => bill.cancel().map(|_| Outcome::Applied),
                Step::Expire => bill.expire().map(|_| Outcome::Applied),
                Step::Event(index, kind, n) => {
                    // Few notification ids: duplicates and reorderings are common.
                    let event = match kind {
                        0 => started("ref"),
                        1 | 2 => success(&format!("n-{n}"), "88.80"),
                        3 => AttemptEvent::ProviderFailed { notification_id: format!("n-{n}"), raw_status: "FAILED".into() },
                        4 => AttemptEvent::Refunded { refund_id: format!("r-{n}"), amount: money("30.00") },
                        _ => AttemptEvent::Expired,
                    };
                    bill.apply(index, event)
                }
            };
            // Invariants after every step.
            let succeeded: Vec<usize> = bill.attempts.iter().enumerate()
                .filter(|(_, a)| a.state == AttemptState::Succeeded)
                .map(|(i, _)| i)
                .collect();
            let unflagged: Vec<usize> = succeeded.iter().copied()
                .filter(|i| !bill.attempts[*i].flagged_for_refund)
                .collect();
            prop_assert!(unflagged.len() <= 1, "two attempts count as payment: {:?}", bill);
            match bill.state {
                BillState::Paid { attempt } => {
                    prop_assert_eq!(unflagged, vec![attempt]);
                    prop_assert_eq!(bill.collected(), amount);
                }
                _ => prop_assert!(unflagged.is_empty()),
            }
            for attempt in &bill.attempts {
                prop_assert!(attempt.refunded <= attempt.paid);
                prop_assert!(attempt.paid == Money::ZERO || attempt.paid == amount);
            }
        }
    }
}
