//! Untrusted bytes: garbage, truncation, corruption, oversized and deeply
//! nested input, and work bounds. Every case must end in an error, quickly,
//! and never in a panic.

use std::time::{Duration as StdDuration, Instant};

use eid_core::cert::{Budget, CertError, Certificate, Crl, MAX_CERT_SIZE, MAX_CRL_SIZE, Options};

use crate::der;
use crate::pki::*;

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn assert_fast(started: Instant, what: &str) {
    assert!(
        started.elapsed() < StdDuration::from_secs(5),
        "{what} took {:?}",
        started.elapsed()
    );
}

#[test]
fn garbage_is_malformed() {
    let inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x30],
        vec![0x30, 0x00],
        vec![0x30, 0x80],
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        vec![0xff; 100],
        b"-----BEGIN CERTIFICATE-----".to_vec(),
        noise(1, 64),
        noise(2, 1500),
        [&[0x30, 0x82, 0x05, 0xdc][..], &noise(3, 1500)].concat(),
    ];
    for input in &inputs {
        let err = Certificate::from_der(input).unwrap_err();
        assert!(
            matches!(
                err,
                CertError::Malformed {
                    what: "certificate",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.code(), "malformed");
        let err = Crl::from_der(input).unwrap_err();
        assert!(
            matches!(err, CertError::Malformed { what: "CRL", .. }),
            "{err:?}"
        );
    }
}

#[test]
fn pem_garbage_never_panics() {
    let inputs = [
        "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n".to_owned(),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_owned(),
        "-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n".to_owned(),
        "-----BEGIN X509 CRL-----\n\n-----END X509 CRL-----\n".to_owned(),
        der::pem("CERTIFICATE", &noise(4, 300)),
        der::pem("X509 CRL", &noise(5, 300)),
    ];
    for input in &inputs {
        assert!(
            Certificate::from_pem(input.as_bytes()).map_or(true, |certs| certs.is_empty()),
            "{input}"
        );
        assert!(
            Crl::from_pem(input.as_bytes()).map_or(true, |crls| crls.is_empty()),
            "{input}"
        );
    }
    // A text with no PEM block is an empty list.
    assert!(
        Certificate::from_pem(b"no certificates here")
            .unwrap()
            .is_empty()
    );
    // A certificate block whose content is garbage is an error.
    let err =
        Certificate::from_pem(der::pem("CERTIFICATE", &noise(6, 300)).as_bytes()).unwrap_err();
    assert!(matches!(err, CertError::Malformed { .. }), "{err:?}");
}

#[test]
fn every_truncation_of_real_certificates_is_malformed() {
    let pki = EcertPki::new();
    for der_cert in [
        pki.default_citizen(),
        pki.ca_der.clone(),
        pki.root_der.clone(),
    ] {
        for len in 0..der_cert.len() {
            let err = Certificate::from_der(&der_cert[..len]).unwrap_err();
            assert!(
                matches!(err, CertError::Malformed { .. }),
                "prefix {len}: {err:?}"
            );
        }
        Certificate::from_der(&der_cert).unwrap();
    }
}

#[test]
fn every_truncation_of_a_real_crl_is_malformed() {
    let pki = EcertPki::new();
    let der_crl = pki.crl1(|c| {
        for i in 0..20u32 {
            *c = c.clone().revoke(
                &(0x7000 + i).to_be_bytes(),
                Some(RevocationReason::CertificateHold),
            );
        }
    });
    for len in 0..der_crl.len() {
        let err = Crl::from_der(&der_crl[..len]).unwrap_err();
        assert!(
            matches!(err, CertError::Malformed { .. }),
            "prefix {len}: {err:?}"
        );
    }
    Crl::from_der(&der_crl).unwrap();
}

#[test]
fn trailing_bytes_are_malformed() {
    let pki = EcertPki::new();
    let leaf = [pki.default_citizen(), vec![0x00]].concat();
    let err = Certificate::from_der(&leaf).unwrap_err();
    assert!(
        matches!(&err, CertError::Malformed { detail, .. } if detail.contains("trailing")),
        "{err:?}"
    );
    let crl_bytes = [pki.crl1(|_| {}), vec![0x05, 0x00]].concat();
    assert!(matches!(
        Crl::from_der(&crl_bytes),
        Err(CertError::Malformed { .. })
    ));
}

/// (start, end) of the to-be-signed part inside a signed object.
fn tbs_range(signed: &[u8]) -> (usize, usize) {
    let (_, outer_header, _) = der::header(signed);
    let (tbs, _, _) = der::split_signed(signed);
    (outer_header, outer_header + tbs.len())
}

/// Single-byte corruptions (three patterns per byte) of `der_cert` at the
/// given positions that still parse *and* validate.
fn surviving_corruptions(
    pki: &EcertPki,
    der_cert: &[u8],
    positions: impl Iterator<Item = usize>,
) -> Vec<(usize, u8)> {
    let mut survivors = Vec::new();
    for i in positions {
        for pattern in [0x01u8, 0x80, 0xff] {
            let corrupted = flip_bits(der_cert, i, pattern);
            if let Ok(parsed) = Certificate::from_der(&corrupted)
                && pki
                    .store()
                    .validate(&parsed, &pki.pool(), &[], &no_revocation())
                    .is_ok()
            {
                survivors.push((i, pattern));
            }
        }
    }
    survivors
}

fn flip_bits(der_bytes: &[u8], index: usize, pattern: u8) -> Vec<u8> {
    let mut out = der_bytes.to_vec();
    out[index] ^= pattern;
    out
}

#[test]
fn every_corruption_of_the_signed_part_is_rejected() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    let (start, end) = tbs_range(&leaf);
    let survivors = surviving_corruptions(&pki, &leaf, start..end);
    assert!(
        survivors.is_empty(),
        "corruptions that validated: {survivors:?}"
    );
}

/// The bytes outside the to-be-signed part (outer SEQUENCE header,
/// signatureAlgorithm, signature BIT STRING header) are not covered by the
/// signature; a validator must still insist on their exact DER, or one
/// certificate has many encodings (and DER-based identities such as
/// fingerprints stop being unique).
#[test]
fn every_corruption_of_the_unsigned_envelope_is_rejected() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    let (start, end) = tbs_range(&leaf);
    let survivors = surviving_corruptions(&pki, &leaf, (0..start).chain(end..leaf.len()));
    assert!(
        survivors.is_empty(),
        "(byte, xor pattern) corruptions of the envelope that validated: {survivors:?}"
    );
}

#[test]
fn every_corruption_of_a_crl_is_rejected_or_unusable() {
    let pki = EcertPki::new();
    let der_crl = pki.crl1(|c| {
        *c = c
            .clone()
            .revoke(&[0x42], Some(RevocationReason::KeyCompromise))
    });
    let leaf = cert(&pki.default_citizen());
    let arl = crl(&pki.arl(|_| {}));
    let (start, end) = tbs_range(&der_crl);
    for i in start..end {
        for pattern in [0x01u8, 0x80, 0xff] {
            if let Ok(parsed) = Crl::from_der(&flip_bits(&der_crl, i, pattern)) {
                let result = pki.store().validate(
                    &leaf,
                    &pki.pool(),
                    &[arl.clone(), parsed],
                    &Options::new(NOW),
                );
                assert!(
                    result.is_err(),
                    "CRL corrupted at {i} (^{pattern:#x}) still vouched for the citizen"
                );
            }
        }
    }
}

#[test]
fn oversized_input_is_too_large() {
    let err = Certificate::from_der(&vec![0x30; MAX_CERT_SIZE + 1]).unwrap_err();
    assert_eq!(
        err,
        CertError::TooLarge {
            what: "certificate",
            size: MAX_CERT_SIZE + 1,
            limit: MAX_CERT_SIZE
        }
    );
    assert_eq!(err.code(), "too_large");
    let err = Crl::from_der(&vec![0x30; MAX_CRL_SIZE + 1]).unwrap_err();
    assert!(
        matches!(err, CertError::TooLarge { what: "CRL", .. }),
        "{err:?}"
    );
}

#[test]
fn well_formed_but_oversized_certificate_is_too_large() {
    let pki = EcertPki::new();
    let padding = der::tlv(0x04, &vec![0x41; MAX_CERT_SIZE]);
    let leaf = pki.citizen(|c| {
        c.extensions
            .push(extension("1.3.6.1.4.1.16030.99.4", false, padding))
    });
    assert!(leaf.len() > MAX_CERT_SIZE);
    let err = Certificate::from_der(&leaf).unwrap_err();
    assert!(matches!(err, CertError::TooLarge { .. }), "{err:?}");
}

#[test]
fn deeply_nested_der_is_rejected_quickly() {
    let nested = der::nested_sequences(10_000, &[]);
    assert!(nested.len() < MAX_CERT_SIZE);
    let started = Instant::now();
    assert!(matches!(
        Certificate::from_der(&nested),
        Err(CertError::Malformed { .. })
    ));
    assert!(matches!(
        Crl::from_der(&nested),
        Err(CertError::Malformed { .. })
    ));
    // The same depth with BER indefinite lengths (forbidden in DER).
    let indefinite = [[0x30, 0x80].repeat(10_000), [0x00, 0x00].repeat(10_000)].concat();
    assert!(matches!(
        Certificate::from_der(&indefinite),
        Err(CertError::Malformed { .. })
    ));
    assert!(matches!(
        Crl::from_der(&indefinite),
        Err(CertError::Malformed { .. })
    ));
    assert_fast(started, "nested DER");
}

#[test]
fn deep_nesting_inside_extensions_is_harmless() {
    let pki = EcertPki::new();
    let nested = der::nested_sequences(10_000, &[]);
    let started = Instant::now();
    // Inside an unknown non-critical extension: ignored.
    let leaf = pki.citizen(|c| {
        c.extensions
            .push(extension("1.3.6.1.4.1.16030.99.5", false, nested.clone()))
    });
    pki.check(&leaf).unwrap();
    // As a policy qualifier, which x509-parser keeps as an opaque value.
    let qualifier = der::seq(&[der::oid("1.3.6.1.5.5.7.2.1"), nested.clone()]);
    let info = der::seq(&[der::oid(PERSONAL_POLICY), der::seq(&[qualifier])]);
    let leaf = pki.citizen(|c| {
        c.policies.clear();
        c.extensions
            .push(extension("2.5.29.32", false, der::seq(&[info])));
    });
    let path = pki.check(&leaf).unwrap();
    assert_eq!(path.policies, vec![PERSONAL_POLICY.to_owned()]);
    // As the value of an otherName in subjectAltName.
    let other_name = der::tlv(
        0xa0,
        &[der::oid("1.3.6.1.4.1.311.20.2.3"), der::tlv(0xa0, &nested)].concat(),
    );
    let leaf = pki.citizen(|c| {
        c.emails.clear();
        c.extensions
            .push(extension("2.5.29.17", false, der::seq(&[other_name])));
    });
    pki.check(&leaf).unwrap();
    assert_fast(started, "nested extensions");
}

#[test]
fn name_constraint_work_is_bounded() {
    // 2000 permitted subtrees and a citizen with 130 addresses: 262,000
    // comparisons, over the default budget of 250,000.
    let mut permitted = vec![Subtree::Email(".hk".into())];
    permitted.extend((1..2000).map(|i| Subtree::Email(format!(".d{i}.hk"))));
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.name_constraints = Some(NameConstraints {
                permitted,
                excluded: vec![],
            })
        },
    );
    assert!(pki.ca_der.len() < MAX_CERT_SIZE);
    let many =
        pki.citizen(|c| c.emails = (0..130).map(|i| format!("c{i}@example.com.hk")).collect());
    let started = Instant::now();
    let err = pki.check(&many).unwrap_err();
    assert_fast(started, "name constraints");
    assert_eq!(
        err,
        CertError::BudgetExceeded {
            what: "name constraint comparisons"
        }
    );
    // A citizen with a few addresses is well within the budget.
    pki.check(&pki.default_citizen()).unwrap();
    // ...unless the budget is tiny.
    let mut options = Options::new(NOW);
    options.budget = Budget {
        name_checks: 100,
        ..Budget::default()
    };
    let err = pki
        .validate(&pki.default_citizen(), &pki.crls(), &options)
        .unwrap_err();
    assert!(matches!(err, CertError::BudgetExceeded { .. }), "{err:?}");
}

#[test]
fn crl_signature_checks_count_against_the_budget() {
    let pki = EcertPki::new();
    let mut options = Options::new(NOW);
    // Two certificate signatures (citizen, issuing CA) and two CRL
    // signatures (ARL, partition 1) are needed.
    options.budget.signatures = 4;
    pki.validate(&pki.default_citizen(), &pki.crls(), &options)
        .unwrap();
    options.budget.signatures = 3;
    let err = pki
        .validate(&pki.default_citizen(), &pki.crls(), &options)
        .unwrap_err();
    assert_eq!(
        err,
        CertError::BudgetExceeded {
            what: "signature verifications"
        }
    );
}

#[test]
fn large_pool_of_unrelated_certificates_is_cheap() {
    let pki = EcertPki::new();
    let stranger = Signer::new(hk_post_name("Unrelated CA"), KeyKind::P256);
    let mut pool: Vec<Certificate> = (0..300u64)
        .map(|i| {
            let ca = Signer::new(
                hk_post_name(&format!("Unrelated Sub CA {i}")),
                KeyKind::P256,
            );
            cert(&stranger.certify_ca(&CertSpec::sub_ca(ca.dn.clone(), i + 1), &ca))
        })
        .collect();
    pool.push(cert(&pki.ca_der));
    let mut options = Options::new(NOW);
    // Name matching filters the pool before any signature or step is spent.
    options.budget.steps = 2;
    let started = Instant::now();
    pki.store()
        .validate(&cert(&pki.default_citizen()), &pool, &pki.crls(), &options)
        .unwrap();
    assert_fast(started, "large pool");
}
