//! The x509-limbo vectors as a test: every case runs or is skipped by a
//! written rule; only unexpected outcomes (and stale divergences) fail.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::Path;

use conformance_tests::limbo;
use time::macros::datetime;

#[test]
fn x509_limbo_has_no_unexpected_outcome() {
    let exceptions = limbo::load_exceptions(Path::new(limbo::EXCEPTIONS)).unwrap();
    for rule in &exceptions.skip {
        assert!(
            !rule.reason.trim().is_empty(),
            "every skip rule has a reason"
        );
    }
    for divergence in &exceptions.divergence {
        assert!(
            !divergence.reason.trim().is_empty(),
            "{} needs a reason",
            divergence.id
        );
    }
    // Cases without a validation time use this session-independent instant.
    let report = limbo::run(
        Path::new(limbo::VECTORS),
        &exceptions,
        datetime!(2026-11-28 00:00 UTC),
    )
    .unwrap();
    let text = report.to_text();
    println!("{text}");
    assert_eq!(report.total, 208);
    assert_eq!(
        report.ran + report.skipped.values().sum::<usize>(),
        report.total,
        "every case runs or is skipped by a rule"
    );
    assert!(report.success(), "{text}");
    assert!(report.known_divergences.len() < 60, "{text}");
    // Divergences never excuse expired anchors, anchors' basicConstraints or
    // CRLs signed without cRLSign.
    for case in &report.known_divergences {
        for forbidden in ["expired", "basic-constraints", "crl"] {
            assert!(!case.id.contains(forbidden), "{} may not diverge", case.id);
        }
    }
}

#[test]
fn a_missing_vectors_file_is_a_clear_error() {
    let err = limbo::run(
        Path::new("/nonexistent/limbo.json"),
        &limbo::Exceptions::default(),
        datetime!(2026-11-28 00:00 UTC),
    )
    .unwrap_err();
    assert!(err.to_string().contains("/nonexistent/limbo.json"));
}
