//! Path building (unordered pools, alternatives, cycles, budgets, depth)
//! and the basic per-certificate checks (validity, CA bit, keyCertSign,
//! path length, purpose).

use std::time::{Duration as StdDuration, Instant};

use eid_core::cert::{Budget, CertError, Certificate, Crl, Options, TrustStore};
use time::Duration;

use crate::der;
use crate::pki::*;

#[test]
fn valid_ecert_path_passes() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    let path = pki.check(&leaf).unwrap();
    assert_eq!(path.chain.len(), 3);
    assert_eq!(path.chain[0].der, leaf);
    assert_eq!(path.chain[1].der, pki.ca_der);
    assert_eq!(path.chain[2].der, pki.root_der);
    assert_eq!(path.policies, vec![PERSONAL_POLICY.to_owned()]);
}

#[test]
fn valid_path_from_pem_inputs() {
    let pki = EcertPki::new();
    let anchors = Certificate::from_pem(der::pem("CERTIFICATE", &pki.root_der).as_bytes()).unwrap();
    // A bundle as an operator would paste it: CA and a CRL in one file.
    let bundle = format!(
        "{}{}",
        der::pem("CERTIFICATE", &pki.ca_der),
        der::pem("X509 CRL", &pki.crl1(|_| {}))
    );
    let pool = Certificate::from_pem(bundle.as_bytes()).unwrap();
    assert_eq!(pool.len(), 1, "CRL blocks are skipped");
    let mut crls = Crl::from_pem(bundle.as_bytes()).unwrap();
    crls.extend(Crl::from_pem(der::pem("X509 CRL", &pki.arl(|_| {})).as_bytes()).unwrap());
    assert_eq!(crls.len(), 2);
    let leaf = Certificate::from_pem(der::pem("CERTIFICATE", &pki.default_citizen()).as_bytes())
        .unwrap()
        .remove(0);
    let path = TrustStore::new(anchors)
        .validate(&leaf, &pool, &crls, &Options::new(NOW))
        .unwrap();
    assert_eq!(path.chain.len(), 3);
}

#[test]
fn issuing_ca_may_itself_be_the_anchor() {
    let pki = EcertPki::new();
    let store = TrustStore::new(vec![cert(&pki.ca_der)]);
    let crls = [crl(&pki.crl1(|_| {}))];
    let path = store
        .validate(
            &cert(&pki.default_citizen()),
            &[],
            &crls,
            &Options::new(NOW),
        )
        .unwrap();
    assert_eq!(path.chain.len(), 2);
}

#[test]
fn other_key_algorithms_validate() {
    for kind in [KeyKind::Ed25519, KeyKind::P256, KeyKind::Rsa2048] {
        let pki = EcertPki::new();
        let ca = Signer::new(issuing_ca_name(), kind);
        let ca_der = pki
            .root
            .certify_ca(&CertSpec::issuing_ca(issuing_ca_name()), &ca);
        let leaf = ca.certify(&CertSpec::default_citizen(), &new_key(kind));
        let crls = [
            crl(&pki.arl(|_| {})),
            crl(&ca.crl(&CrlSpec::partition(CRL1_URL))),
        ];
        pki.store()
            .validate(&cert(&leaf), &[cert(&ca_der)], &crls, &Options::new(NOW))
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
    }
}

#[test]
fn builds_through_an_unordered_pool_with_decoys() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    // Decoys: an unrelated CA, a CA with the issuing CA's name but another
    // key (its key identifier differs), and that decoy's own subordinate.
    let unrelated = Signer::new(
        hk_post_name("Hongkong Post e-Cert CA 1 - 15"),
        KeyKind::P256,
    );
    let unrelated_der = pki
        .root
        .certify_ca(&CertSpec::issuing_ca(unrelated.dn.clone()), &unrelated);
    let impostor = Signer::new(issuing_ca_name(), KeyKind::P256);
    let impostor_der = pki
        .root
        .certify_ca(&CertSpec::issuing_ca(impostor.dn.clone()), &impostor);
    let sub = Signer::new(hk_post_name("Decoy Sub CA"), KeyKind::P256);
    let sub_der = impostor.certify_ca(&CertSpec::sub_ca(sub.dn.clone(), 9), &sub);

    let mut pool = certs(&[
        &pki.root_der,
        &unrelated_der,
        &impostor_der,
        &sub_der,
        &pki.ca_der,
    ]);
    for _ in 0..2 {
        let path = pki
            .store()
            .validate(&cert(&leaf), &pool, &pki.crls(), &Options::new(NOW))
            .unwrap();
        assert_eq!(path.chain[1].der, pki.ca_der);
        assert_eq!(path.chain[2].der, pki.root_der);
        pool.reverse();
    }
}

#[test]
fn issuer_with_same_name_and_key_id_but_wrong_key_is_skipped() {
    let pki = EcertPki::new();
    // Same name, same subjectKeyIdentifier, different key: only the
    // signature tells them apart.
    let forger = Signer::new(issuing_ca_name(), KeyKind::P384);
    let mut spec = CertSpec::issuing_ca(issuing_ca_name());
    spec.subject_key_id = Some(pki.ca.key_id());
    let forged_ca = pki.root.certify_ca(&spec, &forger);
    let pool = certs(&[&forged_ca, &pki.ca_der]);
    let path = pki
        .store()
        .validate(
            &cert(&pki.default_citizen()),
            &pool,
            &pki.crls(),
            &Options::new(NOW),
        )
        .unwrap();
    assert_eq!(path.chain[1].der, pki.ca_der);

    // Alone, the forged CA gives a signature error.
    let err = pki
        .store()
        .validate(
            &cert(&pki.default_citizen()),
            &certs(&[&forged_ca]),
            &pki.crls(),
            &Options::new(NOW),
        )
        .unwrap_err();
    assert!(matches!(err, CertError::BadSignature { .. }), "{err:?}");
}

#[test]
fn renewed_issuing_ca_is_found_next_to_its_expired_predecessor() {
    let pki = EcertPki::new();
    let old = pki.root.certify_ca(
        &CertSpec::issuing_ca(issuing_ca_name())
            .valid(NOW - Duration::days(3650), NOW - Duration::days(1))
            .serial(&[0x0e, 0x01]),
        &pki.ca,
    );
    let leaf = cert(&pki.default_citizen());
    for pool in [certs(&[&old, &pki.ca_der]), certs(&[&pki.ca_der, &old])] {
        let path = pki
            .store()
            .validate(&leaf, &pool, &pki.crls(), &Options::new(NOW))
            .unwrap();
        assert_eq!(path.chain[1].der, pki.ca_der);
    }
    let err = pki
        .store()
        .validate(&leaf, &certs(&[&old]), &pki.crls(), &Options::new(NOW))
        .unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err:?}");
}

/// Root CA 2 (trusted) cross-certifies a newer Root CA 3, once with an
/// expired certificate and once with a valid one; the issuing CA hangs
/// below Root CA 3.
#[test]
fn alternative_path_through_valid_cross_certificate() {
    let pki = EcertPki::new();
    let root3 = Signer::new(hk_post_name("Hongkong Post Root CA 3"), KeyKind::P384);
    let cross_expired = pki.root.certify_ca(
        &CertSpec::sub_ca(root3.dn.clone(), 0x30)
            .valid(NOW - Duration::days(2000), NOW - Duration::days(30)),
        &root3,
    );
    let cross_valid = pki
        .root
        .certify_ca(&CertSpec::sub_ca(root3.dn.clone(), 0x31), &root3);
    let ca_by_root3 = root3.certify_ca(&CertSpec::issuing_ca(issuing_ca_name()), &pki.ca);
    let leaf = cert(&pki.default_citizen());
    let crls = [
        crl(&pki.arl(|_| {})),
        crl(&root3.crl(&CrlSpec {
            scope: Some(CrlScope::CaCertsOnly),
            ..CrlSpec::fresh()
        })),
        crl(&pki.crl1(|_| {})),
    ];
    let orders = [
        certs(&[&cross_expired, &cross_valid, &ca_by_root3]),
        certs(&[&ca_by_root3, &cross_valid, &cross_expired]),
        certs(&[&cross_valid, &ca_by_root3, &cross_expired]),
    ];
    for pool in orders {
        let path = pki
            .store()
            .validate(&leaf, &pool, &crls, &Options::new(NOW))
            .unwrap();
        assert_eq!(path.chain.len(), 4);
        assert_eq!(path.chain[1].der, ca_by_root3);
        assert_eq!(path.chain[2].der, cross_valid);
        assert_eq!(path.chain[3].der, pki.root_der);
    }
    // Only the expired cross-certificate: the error says which one.
    let err = pki
        .store()
        .validate(
            &leaf,
            &certs(&[&ca_by_root3, &cross_expired]),
            &crls,
            &Options::new(NOW),
        )
        .unwrap_err();
    assert!(matches!(err, CertError::Expired { .. }), "{err:?}");
    assert!(subject_of(&err).contains("Root CA 3"), "{err}");
}

/// Two CAs that certify each other, neither reachable from the anchor.
fn cross_signed_cycle(pki: &EcertPki) -> (Signer, Vec<Vec<u8>>) {
    let a = Signer::new(hk_post_name("Cross CA A"), KeyKind::P256);
    let b = Signer::new(hk_post_name("Cross CA B"), KeyKind::P256);
    let pool = vec![
        b.certify_ca(&CertSpec::sub_ca(a.dn.clone(), 1), &a),
        a.certify_ca(&CertSpec::sub_ca(b.dn.clone(), 2), &b),
        a.self_certify(&CertSpec::root(a.dn.clone())),
        b.self_certify(&CertSpec::root(b.dn.clone())),
        a.certify_ca(&CertSpec::issuing_ca(issuing_ca_name()), &pki.ca),
    ];
    (b, pool)
}

#[test]
fn cycle_of_cross_signed_cas_terminates() {
    let pki = EcertPki::new();
    let (_, pool) = cross_signed_cycle(&pki);
    let pool: Vec<Certificate> = pool.iter().map(|d| cert(d)).collect();
    let started = Instant::now();
    let err = pki
        .store()
        .validate(&cert(&pki.default_citizen()), &pool, &[], &no_revocation())
        .unwrap_err();
    assert!(started.elapsed() < StdDuration::from_secs(5));
    assert!(matches!(err, CertError::UnknownIssuer { .. }), "{err:?}");
}

#[test]
fn cycle_with_an_exit_to_the_anchor_validates() {
    let pki = EcertPki::new();
    let (b, mut pool) = cross_signed_cycle(&pki);
    pool.push(pki.root.certify_ca(&CertSpec::sub_ca(b.dn.clone(), 3), &b));
    let pool: Vec<Certificate> = pool.iter().map(|d| cert(d)).collect();
    let path = pki
        .store()
        .validate(&cert(&pki.default_citizen()), &pool, &[], &no_revocation())
        .unwrap();
    // leaf, issuing CA, A (by B), B (by the root), root.
    assert_eq!(path.chain.len(), 5);
    assert!(path.chain[3].subject.display().contains("Cross CA B"));
}

#[test]
fn many_same_named_issuers_exhaust_the_signature_budget() {
    let pki = EcertPki::new();
    let mut pool = Vec::new();
    for i in 0..30u64 {
        let forger = Signer::new(issuing_ca_name(), KeyKind::P256);
        let mut spec = CertSpec::issuing_ca(issuing_ca_name()).serial(&(0x100 + i).to_be_bytes());
        spec.subject_key_id = Some(pki.ca.key_id());
        pool.push(cert(&pki.root.certify_ca(&spec, &forger)));
    }
    pool.push(cert(&pki.ca_der));
    let leaf = cert(&pki.default_citizen());

    let mut options = Options::new(NOW);
    options.budget = Budget {
        signatures: 10,
        ..Budget::default()
    };
    let err = pki
        .store()
        .validate(&leaf, &pool, &pki.crls(), &options)
        .unwrap_err();
    assert_eq!(
        err,
        CertError::BudgetExceeded {
            what: "signature verifications"
        }
    );
    assert_eq!(err.code(), "budget_exceeded");

    // The default budget is enough for 30 decoys.
    pki.store()
        .validate(&leaf, &pool, &pki.crls(), &Options::new(NOW))
        .unwrap();
}

/// `depth` levels of `width` CAs each, every CA of a level certified by
/// every CA of the level above, the top level certified by no one: every
/// path is a dead end, and there are width^depth of them.
fn mesh(width: usize, depth: usize) -> (Vec<u8>, Vec<Certificate>) {
    let levels: Vec<Vec<Signer>> = (0..depth)
        .map(|level| {
            (0..width)
                .map(|_| Signer::new(hk_post_name(&format!("Mesh CA {level}")), KeyKind::P256))
                .collect()
        })
        .collect();
    let mut pool = Vec::new();
    let mut serial = 1u64;
    for pair in levels.windows(2) {
        for issuer in &pair[0] {
            for subject in &pair[1] {
                serial += 1;
                let spec = CertSpec::sub_ca(subject.dn.clone(), serial);
                pool.push(cert(&issuer.certify_ca(&spec, subject)));
            }
        }
    }
    let leaf = levels[depth - 1][0].certify(&CertSpec::default_citizen(), &new_key(KeyKind::P256));
    (leaf, pool)
}

#[test]
fn mesh_of_dead_ends_exhausts_the_step_budget() {
    let pki = EcertPki::new();
    let (leaf, pool) = mesh(4, 5);
    let mut options = Options::new(NOW);
    options.budget = Budget {
        signatures: 1_000_000,
        steps: 50,
        ..Budget::default()
    };
    let err = pki
        .store()
        .validate(&cert(&leaf), &pool, &[], &options)
        .unwrap_err();
    assert_eq!(
        err,
        CertError::BudgetExceeded {
            what: "path-building steps"
        }
    );

    // With the default budget the search also stops, quickly. The pool is
    // parsed afresh, as an attacker's request would be. A signature is
    // checked once per certificate and key, and here the four certificates
    // of each CA share its key, so the search now fits in the signature
    // budget and ends with the truthful answer: every path is a dead end.
    let fresh: Vec<Certificate> = pool.iter().map(|c| cert(&c.der)).collect();
    let started = Instant::now();
    let err = pki
        .store()
        .validate(&cert(&leaf), &fresh, &[], &Options::new(NOW))
        .unwrap_err();
    assert!(started.elapsed() < StdDuration::from_secs(5));
    assert!(matches!(err, CertError::UnknownIssuer { .. }), "{err:?}");
}

/// root -> sub 1 -> ... -> sub `subs` -> issuing CA -> citizen.
fn long_chain(pki: &EcertPki, subs: usize) -> (Vec<u8>, Vec<Certificate>) {
    let mut pool = Vec::new();
    let mut issuer: &Signer = &pki.root;
    let signers: Vec<Signer> = (1..=subs)
        .map(|i| {
            Signer::new(
                hk_post_name(&format!("Hongkong Post Sub CA {i}")),
                KeyKind::P256,
            )
        })
        .collect();
    for (i, signer) in signers.iter().enumerate() {
        pool.push(cert(&issuer.certify_ca(
            &CertSpec::sub_ca(signer.dn.clone(), i as u64 + 2),
            signer,
        )));
        issuer = signer;
    }
    pool.push(cert(
        &issuer.certify_ca(&CertSpec::issuing_ca(issuing_ca_name()), &pki.ca),
    ));
    pool.reverse();
    (pki.default_citizen(), pool)
}

#[test]
fn path_longer_than_the_depth_limit_is_rejected() {
    let pki = EcertPki::new();
    // Six certificates: citizen, issuing CA, three subs, root.
    let (leaf, pool) = long_chain(&pki, 3);
    let leaf = cert(&leaf);
    let mut options = no_revocation();
    options.budget.max_path_len = 6;
    assert_eq!(
        pki.store()
            .validate(&leaf, &pool, &[], &options)
            .unwrap()
            .chain
            .len(),
        6
    );
    options.budget.max_path_len = 5;
    let err = pki
        .store()
        .validate(&leaf, &pool, &[], &options)
        .unwrap_err();
    assert_eq!(err, CertError::PathTooLong { limit: 5 });
    assert_eq!(err.code(), "path_too_long");

    // Nine certificates exceed the default limit of eight.
    let (leaf, pool) = long_chain(&pki, 6);
    let err = pki
        .store()
        .validate(&cert(&leaf), &pool, &[], &no_revocation())
        .unwrap_err();
    assert_eq!(err, CertError::PathTooLong { limit: 8 });
}

/// Root key rollover: the root's new key is certified by its old key in a
/// self-issued certificate ("new with old"), and the issuing CA is
/// certified by the new key. Self-issued certificates do not count towards
/// path length limits.
#[test]
fn key_rollover_through_a_self_issued_certificate() {
    let pki = EcertPki::with(
        |root| root.is_ca = IsCa::Ca(BasicConstraints::Constrained(1)),
        |_| {},
    );
    let new_root = Signer::new(root_name(), KeyKind::P384);
    let new_with_old = pki
        .root
        .certify_ca(&CertSpec::sub_ca(root_name(), 0x2025), &new_root);
    let ca_by_new = new_root.certify_ca(&CertSpec::issuing_ca(issuing_ca_name()), &pki.ca);
    let crls = [
        crl(&pki.arl(|_| {})),
        crl(&new_root.crl(&CrlSpec {
            partition: Some(ARL_URL.to_owned()),
            scope: Some(CrlScope::CaCertsOnly),
            ..CrlSpec::fresh()
        })),
        crl(&pki.crl1(|_| {})),
    ];
    let mut options = Options::new(NOW);
    // Citizen, issuing CA and anchor: the self-issued certificate is free.
    options.budget.max_path_len = 3;
    let path = pki
        .store()
        .validate(
            &cert(&pki.default_citizen()),
            &certs(&[&ca_by_new, &new_with_old]),
            &crls,
            &options,
        )
        .unwrap();
    assert_eq!(path.chain.len(), 4);
    assert!(path.chain[2].is_self_issued());
}

#[test]
fn unknown_issuer() {
    let pki = EcertPki::new();
    let stranger = Signer::new(hk_post_name("Some Other CA"), KeyKind::P256);
    let leaf = stranger.certify(&CertSpec::default_citizen(), &new_key(KeyKind::P256));
    let err = pki.check(&leaf).unwrap_err();
    assert!(
        matches!(&err, CertError::UnknownIssuer { issuer, .. } if issuer.ends_with("Some Other CA")),
        "{err:?}"
    );
    assert_eq!(err.code(), "unknown_issuer");
    // An empty trust store knows no issuer at all.
    let err = TrustStore::default()
        .validate(
            &cert(&pki.default_citizen()),
            &pki.pool(),
            &[],
            &no_revocation(),
        )
        .unwrap_err();
    assert!(matches!(err, CertError::UnknownIssuer { .. }), "{err:?}");
}

#[test]
fn intermediates_loaded_once_are_verified_once() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    let intermediates = vec![cert(&pki.ca_der)];
    let mut options = Options::new(NOW);
    options.revocation = eid_core::cert::RevocationScope::Off;
    // Leaf and CA: two signatures the first time.
    options.budget.signatures = 2;
    pki.store()
        .validate(&cert(&leaf), &intermediates, &[], &options)
        .unwrap();
    // The same CA object again: only the new leaf's signature is checked.
    options.budget.signatures = 1;
    pki.store()
        .validate(&cert(&leaf), &intermediates, &[], &options)
        .unwrap();
    // A CA parsed afresh is checked again.
    let err = pki
        .store()
        .validate(&cert(&leaf), &[cert(&pki.ca_der)], &[], &options)
        .unwrap_err();
    assert!(matches!(err, CertError::BudgetExceeded { .. }), "{err:?}");
}
