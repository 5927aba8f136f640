//! The per-certificate path checks: validity, basic constraints and
//! path length, keyCertSign, extended key usage and key usage for each
//! purpose, signatures.

use eid_core::cert::{CertError, Options, Purpose};
use time::Duration;

use crate::pki::*;

#[test]
fn path_length_constraint_of_issuing_ca_is_enforced() {
    let pki = EcertPki::new();
    // The issuing CA has pathLen 0, yet certifies another CA.
    let extra = Signer::new(
        hk_post_name("Hongkong Post e-Cert CA 2 - 17 Sub"),
        KeyKind::P256,
    );
    let extra_der = pki
        .ca
        .certify_ca(&CertSpec::sub_ca(extra.dn.clone(), 77), &extra);
    let leaf = extra.certify(&CertSpec::default_citizen(), &new_key(KeyKind::P256));
    let err = pki
        .store()
        .validate(
            &cert(&leaf),
            &certs(&[&extra_der, &pki.ca_der]),
            &[],
            &no_revocation(),
        )
        .unwrap_err();
    assert!(matches!(err, CertError::PathLenExceeded { .. }), "{err:?}");
    assert!(subject_of(&err).ends_with("CA 2 - 17 Sub"), "{err}");
}

#[test]
fn path_length_constraint_of_the_anchor_is_enforced() {
    let pki = EcertPki::with(
        |root| root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0)),
        |_| {},
    );
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    assert!(matches!(err, CertError::PathLenExceeded { .. }), "{err:?}");
    assert!(subject_of(&err).ends_with("e-Cert CA 2 - 17"), "{err}");
    // pathLen 1 leaves room for the issuing CA.
    let pki = EcertPki::with(
        |root| root.is_ca = IsCa::Ca(BasicConstraints::Constrained(1)),
        |_| {},
    );
    pki.check(&pki.default_citizen()).unwrap();
}

#[test]
fn anchor_without_key_cert_sign() {
    let pki = EcertPki::with(
        |root| root.key_usages = vec![Ku::CrlSign, Ku::DigitalSignature],
        |_| {},
    );
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    assert!(
        matches!(err, CertError::KeyCertSignMissing { .. }),
        "{err:?}"
    );
    assert!(subject_of(&err).ends_with("Root CA 2"), "{err}");
}

#[test]
fn anchor_that_is_not_a_ca() {
    let pki = EcertPki::with(
        |root| {
            root.is_ca = IsCa::ExplicitNoCa;
            root.key_usages = vec![Ku::DigitalSignature];
        },
        |_| {},
    );
    let err = pki
        .validate(&pki.default_citizen(), &[], &no_revocation())
        .unwrap_err();
    assert!(matches!(err, CertError::NotCa { .. }), "{err:?}");
    assert!(subject_of(&err).ends_with("Root CA 2"), "{err}");
}

#[test]
fn expired_citizen_certificate() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.not_before = NOW - Duration::days(1100);
        c.not_after = NOW - Duration::days(5);
    });
    let err = pki.check(&leaf).unwrap_err();
    assert!(
        matches!(err, CertError::Expired { at, .. } if at == NOW),
        "{err:?}"
    );
    assert_eq!(err.code(), "expired");
    assert!(subject_of(&err).contains("CHAN Tai Man"));
}

#[test]
fn not_yet_valid_citizen_certificate() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.not_before = NOW + Duration::days(2));
    let err = pki.check(&leaf).unwrap_err();
    assert!(
        matches!(err, CertError::NotYetValid { not_before, .. } if not_before == NOW + Duration::days(2)),
        "{err:?}"
    );
}

#[test]
fn validity_bounds_are_inclusive() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.not_before = NOW - Duration::days(1);
        c.not_after = NOW + Duration::days(1);
    });
    let at = |t| {
        let mut o = no_revocation();
        o.time = t;
        pki.validate(&leaf, &[], &o)
    };
    at(NOW - Duration::days(1)).unwrap();
    at(NOW + Duration::days(1)).unwrap();
    // Sub-second precision does not push the last second out.
    at(NOW + Duration::days(1) + Duration::milliseconds(500)).unwrap();
    let err = at(NOW + Duration::days(1) + Duration::seconds(1)).unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err:?}");
    let err = at(NOW - Duration::days(1) - Duration::seconds(1)).unwrap_err();
    assert!(matches!(err, CertError::NotYetValid { .. }), "{err:?}");
}

#[test]
fn expired_issuing_ca() {
    let pki = EcertPki::with(|_| {}, |ca| ca.not_after = NOW - Duration::days(1));
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err:?}");
    assert!(subject_of(&err).ends_with("e-Cert CA 2 - 17"), "{err}");
}

#[test]
fn expired_root() {
    let pki = EcertPki::with(|root| root.not_after = NOW - Duration::days(1), |_| {});
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err:?}");
    assert!(subject_of(&err).ends_with("Root CA 2"), "{err}");
}

#[test]
fn not_yet_valid_root() {
    let pki = EcertPki::with(|root| root.not_before = NOW + Duration::days(1), |_| {});
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    assert!(matches!(err, CertError::NotYetValid { .. }), "{err:?}");
}

#[test]
fn intermediate_with_ca_false_is_not_a_ca() {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.is_ca = IsCa::ExplicitNoCa;
            ca.key_usages = vec![Ku::DigitalSignature];
        },
    );
    // The root's ARL covers CA certificates only, so revocation checking
    // would stop first (RFC 5280 checks revocation before basic constraints).
    let err = pki
        .validate(&pki.default_citizen(), &[], &no_revocation())
        .unwrap_err();
    assert!(matches!(err, CertError::NotCa { .. }), "{err:?}");
    assert_eq!(err.code(), "not_ca");
    assert!(subject_of(&err).ends_with("e-Cert CA 2 - 17"), "{err}");
}

#[test]
fn intermediate_without_basic_constraints_is_not_a_ca() {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.is_ca = IsCa::NoCa;
            ca.key_usages = Vec::new();
        },
    );
    // The root's ARL covers CA certificates only, so revocation checking
    // would stop first (RFC 5280 checks revocation before basic constraints).
    let err = pki
        .validate(&pki.default_citizen(), &[], &no_revocation())
        .unwrap_err();
    assert!(matches!(err, CertError::NotCa { .. }), "{err:?}");
}

#[test]
fn key_cert_sign_without_ca_bit_is_rejected_when_parsed() {
    let pki = EcertPki::with(|_| {}, |ca| ca.is_ca = IsCa::ExplicitNoCa);
    let err = eid_core::cert::Certificate::from_der(&pki.ca_der).unwrap_err();
    assert!(
        matches!(&err, CertError::InvalidExtension { oid, .. } if oid == "2.5.29.15"),
        "{err:?}"
    );
}

#[test]
fn intermediate_without_key_cert_sign() {
    let pki = EcertPki::with(
        |_| {},
        |ca| ca.key_usages = vec![Ku::CrlSign, Ku::DigitalSignature],
    );
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    assert!(
        matches!(err, CertError::KeyCertSignMissing { .. }),
        "{err:?}"
    );
    assert!(subject_of(&err).ends_with("e-Cert CA 2 - 17"), "{err}");
}

#[test]
fn server_auth_only_certificate_is_wrong_purpose_for_sign_in() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.ekus = vec![Eku::ServerAuth]);
    let err = pki.check(&leaf).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::WrongPurpose {
                purpose: "client-auth",
                ..
            }
        ),
        "{err:?}"
    );
    let mut options = Options::new(NOW);
    options.purpose = Purpose::ServerAuth;
    pki.validate(&leaf, &pki.crls(), &options).unwrap();
}

#[test]
fn key_usage_without_digital_signature_cannot_sign_in() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.key_usages = vec![Ku::KeyEncipherment]);
    let err = pki.check(&leaf).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::KeyUsageNotAllowed {
                purpose: "client-auth",
                ..
            }
        ),
        "{err:?}"
    );
    // keyEncipherment is fine for S/MIME.
    let mut options = Options::new(NOW);
    options.purpose = Purpose::EmailProtection;
    pki.validate(&leaf, &pki.crls(), &options).unwrap();
    // ...but not for signing documents.
    options.purpose = Purpose::DocumentSigning;
    let err = pki.validate(&leaf, &pki.crls(), &options).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::KeyUsageNotAllowed {
                purpose: "signing",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn ecert_is_good_for_every_citizen_purpose() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    for purpose in [
        Purpose::ClientAuth,
        Purpose::EmailProtection,
        Purpose::DocumentSigning,
        Purpose::Any,
    ] {
        let mut options = Options::new(NOW);
        options.purpose = purpose;
        pki.validate(&leaf, &pki.crls(), &options)
            .unwrap_or_else(|e| panic!("{purpose:?}: {e}"));
    }
    let mut options = Options::new(NOW);
    options.purpose = Purpose::ServerAuth;
    let err = pki.validate(&leaf, &pki.crls(), &options).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::WrongPurpose {
                purpose: "server-auth",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn absent_eku_and_any_eku_allow_sign_in() {
    let pki = EcertPki::new();
    pki.check(&pki.citizen(|c| c.ekus.clear())).unwrap();
    pki.check(&pki.citizen(|c| c.ekus = vec![Eku::Any]))
        .unwrap();
}

#[test]
fn tampered_citizen_certificate_has_a_bad_signature() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    let tampered = flip(&leaf, leaf.len() - 1);
    let err = pki.check(&tampered).unwrap_err();
    assert!(matches!(err, CertError::BadSignature { .. }), "{err:?}");
    assert!(subject_of(&err).contains("CHAN Tai Man"));
}
