//! The ledger under arbitrary event sequences, and reconciliation of
//! settlement files (good, inconsistent and hostile).

use payment_core::Money;
use payment_core::ledger::{Account, Balance, Kind, Ledger, Transaction};
use payment_core::payment::{AttemptEvent, BillPayments, Outcome};
use payment_core::reconcile::{SettlementError, SettlementReader, reconcile};
use proptest::prelude::*;

use crate::payment::{Step, money, step};

fn net_credit(b: Option<&Balance>) -> Money {
    b.map(|b| b.credit.checked_sub(b.debit).unwrap())
        .unwrap_or(Money::ZERO)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Whatever the order, duplication or lateness of notifications, the
    /// books balance, the department is owed exactly what the paying
    /// attempt kept, and every other success sits in suspense.
    #[test]
    fn no_sequence_unbalances_the_ledger(steps in proptest::collection::vec(step(), 0..40)) {
        let amount = money("88.80");
        let mut bill = BillPayments::new(amount);
        let mut ledger = Ledger::default();
        for step in steps {
            match step {
                Step::NewAttempt => { let _ = bill.new_attempt("fps"); }
                Step::Cancel => { let _ = bill.cancel(); }
                Step::Expire => { let _ = bill.expire(); }
                Step::Event(index, kind, n) => {
                    let event = match kind {
                        0 => AttemptEvent::Started { provider_reference: format!("ref-{index}") },
                        1 | 2 => AttemptEvent::ProviderSucceeded { notification_id: format!("n-{n}"), amount, raw_status: "CREDITED".into() },
                        3 => AttemptEvent::ProviderFailed { notification_id: format!("n-{n}"), raw_status: "REJECTED".into() },
                        4 => AttemptEvent::Refunded { refund_id: format!("r-{n}"), amount: money("30.00") },
                        _ => AttemptEvent::Expired,
                    };
                    let outcome = bill.apply(index, event.clone());
                    let flagged = bill.attempts.get(index).is_some_and(|a| a.flagged_for_refund);
                    let posting = match (&event, outcome) {
                        (AttemptEvent::ProviderSucceeded { amount, .. }, Ok(Outcome::Applied)) =>
                            Some(Transaction::payment("wsd", "fps", &format!("ref-{index}"), *amount, false)),
                        (AttemptEvent::ProviderSucceeded { amount, .. }, Ok(Outcome::NeedsRefund)) =>
                            Some(Transaction::payment("wsd", "fps", &format!("ref-{index}"), *amount, true)),
                        (AttemptEvent::Refunded { refund_id, amount }, Ok(Outcome::Applied)) =>
                            Some(Transaction::refund("wsd", "fps", &format!("{refund_id}-{index}"), *amount, flagged)),
                        _ => None,
                    };
                    if let Some(t) = posting {
                        prop_assert!(ledger.post(t.unwrap()), "each posting is new");
                    }
                }
            }
            prop_assert!(ledger.is_balanced());
            let balances = ledger.balances().unwrap();
            let paying = match bill.state {
                payment_core::payment::BillState::Paid { attempt } => {
                    let a = &bill.attempts[attempt];
                    a.paid.checked_sub(a.refunded).unwrap()
                }
                _ => Money::ZERO,
            };
            prop_assert_eq!(net_credit(balances.get(&Account::DepartmentPayable("wsd".into()))), paying);
            let suspense = bill.attempts.iter().filter(|a| a.flagged_for_refund)
                .try_fold(Money::ZERO, |s, a| s.checked_add(a.paid.checked_sub(a.refunded)?)).unwrap();
            prop_assert_eq!(net_credit(balances.get(&Account::Suspense("wsd".into()))), suspense);
        }
    }
}

fn books() -> Ledger {
    let m = |s: &str| Money::parse(s).unwrap();
    let mut ledger = Ledger::default();
    for t in [
        Transaction::payment("wsd", "stripe", "pi_1", m("100.00"), false),
        Transaction::fee("wsd", "stripe", "pi_1", m("2.90")),
        Transaction::payment("wsd", "stripe", "pi_2", m("50.00"), false),
        Transaction::payment("wsd", "stripe", "pi_3", m("75.00"), false),
        Transaction::refund("wsd", "stripe", "re_1", m("40.00"), false),
        Transaction::payment("wsd", "fps", "F1", m("9.99"), false),
    ] {
        ledger.post(t.unwrap());
    }
    ledger
}

const HEADER: &str = "provider_reference,kind,amount,settlement_date\n";

#[test]
fn reconciliation_reports_every_kind_of_difference() {
    let file = format!(
        "{HEADER}pi_1,payment,100.00,2026-11-28\npi_1,fee,2.90,2026-11-28\npi_2,payment,49.00,2026-11-28\n\
         re_1,refund,40.00,2026-11-28\npi_9,payment,12.00,2026-11-28\npi_1,payment,100.00,2026-11-28\n"
    );
    let reader = SettlementReader::new(file.as_bytes()).unwrap();
    let report = reconcile("stripe", books().transactions(), reader).unwrap();
    let refs = |items: &[payment_core::reconcile::Item]| -> Vec<(Kind, String)> {
        items
            .iter()
            .map(|i| (i.kind, i.provider_reference.clone()))
            .collect()
    };
    assert_eq!(
        refs(&report.matched),
        [
            (Kind::Payment, "pi_1".into()),
            (Kind::Fee, "pi_1".into()),
            (Kind::Refund, "re_1".into())
        ]
    );
    assert_eq!(report.mismatched.len(), 1);
    assert_eq!(report.mismatched[0].provider_reference, "pi_2");
    assert_eq!(
        (report.mismatched[0].ledger, report.mismatched[0].file),
        (money("50.00"), money("49.00"))
    );
    assert_eq!(refs(&report.unexpected), [(Kind::Payment, "pi_9".into())]);
    assert_eq!(
        refs(&report.missing),
        [(Kind::Payment, "pi_3".into())],
        "FPS items are another provider's"
    );
    assert_eq!(refs(&report.duplicated), [(Kind::Payment, "pi_1".into())]);
    assert!(!report.is_clean());

    let clean = format!("{HEADER}F1,payment,9.99,2026-11-28\n");
    let report = reconcile(
        "fps",
        books().transactions(),
        SettlementReader::new(clean.as_bytes()).unwrap(),
    )
    .unwrap();
    assert!(report.is_clean() && report.matched.len() == 1);
}

#[test]
fn malformed_files_stop_at_the_bad_line() {
    assert_eq!(
        SettlementReader::new("ref,kind,amount,date\n".as_bytes()).unwrap_err(),
        SettlementError::BadHeader
    );
    assert_eq!(
        SettlementReader::new(&b""[..]).unwrap_err(),
        SettlementError::BadHeader
    );
    for (body, line) in [
        ("pi_1,payment,100.001,2026-11-28\n", 2),
        ("pi_1,payment,-1.00,2026-11-28\n", 2),
        ("pi_1,payment,0,2026-11-28\n", 2),
        ("pi_1,chargeback,1.00,2026-11-28\n", 2),
        ("pi_1,payment,1.00,28/11/2026\n", 2),
        ("pi_1,payment,1.00\n", 2),
        ("pi_1,payment,1.00,2026-11-28,extra\n", 2),
        (",payment,1.00,2026-11-28\n", 2),
        (
            "pi_1,payment,1.00,2026-11-28\npi 2,payment,1.00,2026-11-28\n",
            3,
        ),
        ("pi_1,payment,1e3,2026-11-28\n", 2),
    ] {
        let file = format!("{HEADER}{body}");
        let result = reconcile(
            "stripe",
            books().transactions(),
            SettlementReader::new(file.as_bytes()).unwrap(),
        );
        assert!(
            matches!(result, Err(SettlementError::BadLine { line: l, .. }) if l == line),
            "{body:?}: {result:?}"
        );
    }
    let long = format!("{HEADER}{},payment,1.00,2026-11-28\n", "x".repeat(300));
    assert!(
        SettlementReader::new(long.as_bytes())
            .unwrap()
            .next()
            .unwrap()
            .is_err()
    );
    let binary = [HEADER.as_bytes(), &[0xff, 0xfe, b',', b'\n']].concat();
    assert!(
        SettlementReader::new(&binary[..])
            .unwrap()
            .next()
            .unwrap()
            .is_err()
    );
}
