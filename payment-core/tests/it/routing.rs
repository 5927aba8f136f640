//! Routing rules, failover only while no money can have moved, and the
//! circuit breaker, with scripted providers standing in for real ones (the
//! real adapters are tested against their sandboxes elsewhere).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use payment_core::Money;
use payment_core::adapters::{
    BoxFuture, NextStep, Notification, NotificationError, PaymentProvider, ProviderError,
    ProviderStatus, RefundOutcome, RefundRequest, StartRequest, Started, StatusReport,
};
use payment_core::bill::{Bilingual, Method};
use payment_core::routing::{BreakerConfig, BreakerState, Route, Router, RoutingError};
use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

/// A provider that answers from a script (then succeeds).
#[derive(Debug)]
struct Scripted {
    id: String,
    script: Mutex<Vec<Result<(), ProviderError>>>,
    calls: AtomicUsize,
    last: Mutex<Option<Result<(), ProviderError>>>,
}

impl Scripted {
    fn new(id: &str, script: Vec<Result<(), ProviderError>>) -> Scripted {
        Scripted {
            id: id.into(),
            script: Mutex::new(script),
            calls: AtomicUsize::new(0),
            last: Mutex::new(None),
        }
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl PaymentProvider for Scripted {
    fn id(&self) -> &str {
        &self.id
    }
    fn method(&self) -> Method {
        Method::Card
    }
    fn start<'a>(
        &'a self,
        _request: &'a StartRequest,
    ) -> BoxFuture<'a, Result<Started, ProviderError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut script = self.script.lock().unwrap();
        let next = if script.is_empty() {
            Ok(())
        } else {
            script.remove(0)
        };
        *self.last.lock().unwrap() = Some(next.clone());
        let id = self.id.clone();
        Box::pin(async move {
            next.map(|()| Started {
                provider_reference: format!("{id}-ref"),
                next: NextStep::None,
                report: StatusReport {
                    status: ProviderStatus::Pending,
                    raw_status: "ok".into(),
                },
            })
        })
    }
    fn notification(
        &self,
        _: &[(String, String)],
        _: &[u8],
        _: OffsetDateTime,
    ) -> Result<Notification, NotificationError> {
        Err(NotificationError::MissingSignature)
    }
    fn query<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<StatusReport, ProviderError>> {
        Box::pin(async {
            Err(ProviderError::Unsupported {
                provider: "s".into(),
                operation: "query",
            })
        })
    }
    fn refund<'a>(
        &'a self,
        _: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>> {
        Box::pin(async {
            Err(ProviderError::Unsupported {
                provider: "s".into(),
                operation: "refund",
            })
        })
    }
}

fn unreachable(p: &str) -> ProviderError {
    ProviderError::Unreachable {
        provider: p.into(),
        detail: "connection refused".into(),
    }
}

fn request(amount: &str, department: &str) -> StartRequest {
    StartRequest {
        attempt_id: "att-route-0000001".into(),
        department: department.into(),
        bill_reference: "B-1".into(),
        amount: Money::parse(amount).unwrap(),
        description: Bilingual {
            en: "x".into(),
            zh: "x".into(),
        },
        return_url: "https://gw.example/r".into(),
        requested_at: NOW,
        expires_at: NOW,
        payment_method: None,
        wallet: None,
    }
}

fn router(routes: Vec<Route>) -> Router {
    Router::new(
        BTreeMap::from([(Method::Card, routes)]),
        BreakerConfig {
            failure_threshold: 3,
            open_secs: 30,
        },
    )
}

#[test]
fn rules_pick_eligible_providers_in_order() {
    let small = Route {
        max_amount: Some(Money::parse("1000").unwrap()),
        ..Route::to("small")
    };
    let large = Route {
        min_amount: Some(Money::parse("500").unwrap()),
        ..Route::to("large")
    };
    let only_ird = Route {
        departments: Some(vec!["ird".into()]),
        ..Route::to("ird-only")
    };
    let off = Route {
        enabled: false,
        ..Route::to("off")
    };
    let r = router(vec![small, large, only_ird, off]);
    let m = |s: &str| Money::parse(s).unwrap();
    assert_eq!(r.eligible(Method::Card, m("100"), "wsd"), ["small"]);
    assert_eq!(
        r.eligible(Method::Card, m("700"), "wsd"),
        ["small", "large"]
    );
    assert_eq!(
        r.eligible(Method::Card, m("5000"), "ird"),
        ["large", "ird-only"]
    );
    assert!(r.eligible(Method::Fps, m("1"), "wsd").is_empty());
}

#[tokio::test]
async fn failover_happens_only_before_money_can_move() {
    let r = router(vec![Route::to("a"), Route::to("b")]);
    let a = Scripted::new("a", vec![Err(unreachable("a"))]);
    let b = Scripted::new("b", vec![]);
    let (took, _) = r
        .start(Method::Card, &request("10", "wsd"), &[&a, &b], NOW)
        .await
        .unwrap();
    assert_eq!(took, "b");

    for stop in [
        ProviderError::Timeout {
            provider: "a".into(),
        },
        ProviderError::Ambiguous {
            provider: "a".into(),
            detail: "HTTP 500".into(),
        },
        ProviderError::Declined {
            provider: "a".into(),
            code: "card_declined".into(),
        },
    ] {
        let r = router(vec![Route::to("a"), Route::to("b")]);
        let a = Scripted::new("a", vec![Err(stop.clone())]);
        let b = Scripted::new("b", vec![]);
        let error = r
            .start(Method::Card, &request("10", "wsd"), &[&a, &b], NOW)
            .await
            .unwrap_err();
        assert_eq!(error, RoutingError::Provider(stop));
        assert_eq!(
            b.calls(),
            0,
            "no second provider after a possible charge or a decline"
        );
    }

    let a = Scripted::new("a", vec![Err(unreachable("a"))]);
    let b = Scripted::new(
        "b",
        vec![Err(ProviderError::Unavailable {
            provider: "b".into(),
            status: 429,
        })],
    );
    assert!(matches!(
        r.start(Method::Card, &request("10", "wsd"), &[&a, &b], NOW).await,
        Err(RoutingError::AllFailed { errors, .. }) if errors.len() == 2
    ));
    assert!(matches!(
        r.start(Method::Fps, &request("10", "wsd"), &[&a, &b], NOW)
            .await,
        Err(RoutingError::NoRoute {
            method: Method::Fps,
            ..
        })
    ));
}

#[tokio::test]
async fn the_breaker_opens_probes_and_closes() {
    let r = router(vec![Route::to("a"), Route::to("b")]);
    let a = Scripted::new("a", vec![Err(unreachable("a")); 3]);
    let b = Scripted::new("b", vec![]);
    let providers: [&dyn PaymentProvider; 2] = [&a, &b];
    for _ in 0..3 {
        r.start(Method::Card, &request("10", "wsd"), &providers, NOW)
            .await
            .unwrap();
    }
    assert_eq!(a.calls(), 3);
    assert!(matches!(r.breaker("a"), BreakerState::Open { .. }));
    // Open: "a" is not even called.
    r.start(
        Method::Card,
        &request("10", "wsd"),
        &providers,
        NOW + time::Duration::seconds(29),
    )
    .await
    .unwrap();
    assert_eq!(a.calls(), 3);
    // Time is up: one probe; it fails, so the breaker opens again.
    let later = NOW + time::Duration::seconds(30);
    assert!(r.admit("a", later));
    assert!(!r.admit("a", later), "one probe at a time");
    r.record("a", Err(&unreachable("a")), later);
    assert!(matches!(r.breaker("a"), BreakerState::Open { .. }));
    // Next probe succeeds: closed.
    let (took, _) = r
        .start(
            Method::Card,
            &request("10", "wsd"),
            &providers,
            later + time::Duration::seconds(30),
        )
        .await
        .unwrap();
    assert_eq!((took.as_str(), a.calls()), ("a", 4));
    assert_eq!(r.breaker("a"), BreakerState::Closed { failures: 0 });

    // Declines are the provider working: they never open the breaker.
    for _ in 0..10 {
        r.record(
            "b",
            Err(&ProviderError::Declined {
                provider: "b".into(),
                code: "x".into(),
            }),
            NOW,
        );
    }
    assert_eq!(r.breaker("b"), BreakerState::Closed { failures: 0 });

    // Every breaker open: a clear "try again shortly".
    let lone = router(vec![Route::to("a")]);
    for _ in 0..3 {
        lone.record("a", Err(&unreachable("a")), NOW);
    }
    assert!(matches!(
        lone.start(Method::Card, &request("10", "wsd"), &providers, NOW)
            .await,
        Err(RoutingError::AllUnavailable { .. })
    ));
}

fn outcome() -> impl Strategy<Value = Result<(), ProviderError>> {
    prop_oneof![
        Just(Ok(())),
        Just(Err(unreachable("p"))),
        Just(Err(ProviderError::Unavailable {
            provider: "p".into(),
            status: 503
        })),
        Just(Err(ProviderError::Timeout {
            provider: "p".into()
        })),
        Just(Err(ProviderError::Ambiguous {
            provider: "p".into(),
            detail: String::new()
        })),
        Just(Err(ProviderError::Declined {
            provider: "p".into(),
            code: "x".into()
        })),
    ]
}

proptest! {
    /// Whatever the providers answer, at most one takes the payment, and no
    /// provider is called after one that may have taken the money.
    #[test]
    fn never_two_charges(scripts in proptest::collection::vec(proptest::collection::vec(outcome(), 0..4), 1..4), rounds in 1usize..6) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let providers: Vec<Scripted> = scripts
            .iter()
            .enumerate()
            .map(|(i, s)| Scripted::new(&format!("p{i}"), s.clone()))
            .collect();
        let refs: Vec<&dyn PaymentProvider> = providers.iter().map(|p| p as &dyn PaymentProvider).collect();
        let r = router(providers.iter().map(|p| Route::to(&p.id)).collect());
        for round in 0..rounds {
            let before: Vec<usize> = providers.iter().map(Scripted::calls).collect();
            let now = NOW + time::Duration::seconds(round as i64 * 10);
            let result = runtime.block_on(r.start(Method::Card, &request("10", "wsd"), &refs, now));
            let called: Vec<usize> = (0..providers.len()).filter(|&i| providers[i].calls() > before[i]).collect();
            prop_assert!(called.iter().all(|&i| providers[i].calls() == before[i] + 1), "one call per provider per round");
            // Every provider called before the last one failed safely.
            if let Some((_, earlier)) = called.split_last() {
                for &i in earlier {
                    let last = providers[i].last.lock().unwrap().clone();
                    prop_assert!(
                        matches!(&last, Some(Err(e)) if e.failover_allowed()),
                        "provider {} answered {:?} and yet another was tried", i, last
                    );
                }
            }
            if let Err(RoutingError::Provider(e)) = &result {
                prop_assert!(!e.failover_allowed());
            }
            if let Ok((took, _)) = &result {
                prop_assert_eq!(Some(took.as_str()), called.last().map(|&i| providers[i].id.as_str()));
            }
        }
    }
}
