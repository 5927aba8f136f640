//! CRL checking: partitions, freshness, signatures, reasons, and the
//! revocation policy (scope, fail closed or open).

use eid_core::cert::{
    CertError, Certificate, Crl, Options, RevocationScope, UnknownStatus, reason_name,
};
use time::Duration;

use crate::der;
use crate::pki::*;

const CITIZEN_SERIAL: &[u8] = &[0x4c, 0x9e, 0x0f, 0x61, 0x2a, 0x3b, 0x71, 0x05, 0xd2];

fn revoked_reason(err: &CertError) -> (&str, &str) {
    match err {
        CertError::Revoked {
            subject, reason, ..
        } => (subject, reason),
        other => panic!("expected Revoked, got {other:?}"),
    }
}

fn unavailable_subject(err: &CertError) -> &str {
    match err {
        CertError::RevocationUnavailable { subject, .. } => subject,
        other => panic!("expected RevocationUnavailable, got {other:?}"),
    }
}

fn options(scope: RevocationScope, unknown: UnknownStatus) -> Options {
    let mut options = Options::new(NOW);
    options.revocation = scope;
    options.unknown_status = unknown;
    options
}

/// ARL and partition 1, with `crl1` tweaked.
fn crls_with(pki: &EcertPki, crl1: impl FnOnce(&mut CrlSpec)) -> Vec<Crl> {
    vec![crl(&pki.arl(|_| {})), crl(&pki.crl1(crl1))]
}

#[test]
fn defaults_are_fail_closed_for_every_certificate() {
    let options = Options::new(NOW);
    assert_eq!(options.revocation, RevocationScope::All);
    assert_eq!(options.unknown_status, UnknownStatus::Reject);
    assert_eq!(options.purpose, eid_core::cert::Purpose::ClientAuth);
}

#[test]
fn good_status_from_fresh_crls() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    pki.validate(&leaf, &crls_with(&pki, |_| {}), &Options::new(NOW))
        .unwrap();
    // Unrelated CRLs alongside change nothing.
    let other = Signer::new(hk_post_name("Some Other CA"), KeyKind::P256);
    let mut crls = crls_with(&pki, |_| {});
    crls.push(crl(
        &other.crl(&CrlSpec::fresh().revoke(CITIZEN_SERIAL, None))
    ));
    pki.validate(&leaf, &crls, &Options::new(NOW)).unwrap();
}

#[test]
fn revoked_citizen_key_compromise() {
    let pki = EcertPki::new();
    let crls = crls_with(&pki, |c| {
        *c = c
            .clone()
            .revoke(&[0x11], None)
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::KeyCompromise))
    });
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    let (subject, reason) = revoked_reason(&err);
    assert!(subject.contains("CHAN Tai Man"));
    assert_eq!(reason, "keyCompromise");
    assert!(matches!(&err, CertError::Revoked { serial, .. } if serial == "4c9e0f612a3b7105d2"));
    assert_eq!(err.code(), "revoked");
}

#[test]
fn certificate_hold_counts_as_revoked() {
    let pki = EcertPki::new();
    let crls = crls_with(&pki, |c| {
        *c = c
            .clone()
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::CertificateHold))
    });
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert_eq!(revoked_reason(&err).1, "certificateHold");
}

#[test]
fn entry_without_reason_is_unspecified() {
    let pki = EcertPki::new();
    let crls = crls_with(&pki, |c| *c = c.clone().revoke(CITIZEN_SERIAL, None));
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert_eq!(revoked_reason(&err).1, "unspecified");
    assert_eq!(reason_name(Some(6)), "certificateHold");
    assert_eq!(reason_name(Some(1)), "keyCompromise");
}

#[test]
fn remove_from_crl_entry_in_a_full_crl_is_malformed() {
    let pki = EcertPki::new();
    // removeFromCRL only has a meaning in delta CRLs, which are not supported.
    let der_crl = pki.crl1(|c| {
        *c = c
            .clone()
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::RemoveFromCrl))
    });
    let err = Crl::from_der(&der_crl).unwrap_err();
    assert!(
        matches!(err, CertError::Malformed { what: "CRL", .. }),
        "{err:?}"
    );
}

#[test]
fn serial_listed_twice_is_malformed() {
    let pki = EcertPki::new();
    let der_crl = pki.crl1(|c| {
        *c = c
            .clone()
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::CertificateHold))
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::KeyCompromise))
    });
    assert!(matches!(
        Crl::from_der(&der_crl),
        Err(CertError::Malformed { .. })
    ));
    // Also when the two entries differ only by a leading zero.
    let der_crl = pki.crl1(|c| {
        *c = c
            .clone()
            .revoke(&[0x01, 0x02], None)
            .revoke(&[0x00, 0x01, 0x02], Some(RevocationReason::KeyCompromise))
    });
    assert!(matches!(
        Crl::from_der(&der_crl),
        Err(CertError::Malformed { .. })
    ));
}

#[test]
fn crl_freshness_bounds_at_whole_seconds() {
    let pki = EcertPki::new();
    let next = NOW + Duration::days(6);
    let at = |t| {
        let mut options = Options::new(t);
        options.revocation = RevocationScope::EndEntity;
        pki.validate(&pki.default_citizen(), &[crl(&pki.crl1(|_| {}))], &options)
    };
    at(next).unwrap();
    at(next + Duration::milliseconds(999)).unwrap();
    let err = at(next + Duration::seconds(1)).unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
    // thisUpdate is a day before NOW.
    at(NOW - Duration::days(1)).unwrap();
    let err = at(NOW - Duration::days(1) - Duration::seconds(1)).unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
}

#[test]
fn serial_with_high_bit_matches_its_crl_entry() {
    let pki = EcertPki::new();
    // DER adds a leading zero to a serial whose first bit is set; the CRL
    // entry and the certificate must still match.
    let serial = [0x9a, 0x00, 0x13, 0x37];
    let leaf = pki.citizen(|c| c.serial = serial.to_vec());
    assert_eq!(cert(&leaf).serial_hex(), "009a001337");
    let crls = crls_with(&pki, |c| {
        *c = c
            .clone()
            .revoke(&serial, Some(RevocationReason::Superseded))
    });
    let err = pki.validate(&leaf, &crls, &Options::new(NOW)).unwrap_err();
    assert_eq!(revoked_reason(&err).1, "superseded");
}

#[test]
fn revoked_issuing_ca_on_the_root_arl() {
    let pki = EcertPki::new();
    let crls = vec![
        crl(&pki.arl(|a| {
            *a = a.clone().revoke(
                &[0x1f, 0x58, 0x2c, 0x7e, 0x01, 0x17],
                Some(RevocationReason::CaCompromise),
            )
        })),
        crl(&pki.crl1(|_| {})),
    ];
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    let (subject, reason) = revoked_reason(&err);
    assert!(subject.ends_with("e-Cert CA 2 - 17"), "{subject}");
    assert_eq!(reason, "cACompromise");
    // A known revocation rejects even when only the end entity's status is required.
    let err = pki
        .validate(
            &pki.default_citizen(),
            &crls,
            &options(RevocationScope::EndEntity, UnknownStatus::Reject),
        )
        .unwrap_err();
    revoked_reason(&err);
}

#[test]
fn fail_closed_without_any_crl() {
    let pki = EcertPki::new();
    let err = pki
        .validate(&pki.default_citizen(), &[], &Options::new(NOW))
        .unwrap_err();
    // The walk goes from the anchor down: the issuing CA is the first
    // certificate without a status.
    assert!(
        unavailable_subject(&err).ends_with("e-Cert CA 2 - 17"),
        "{err}"
    );
    assert_eq!(err.code(), "revocation_unavailable");
}

#[test]
fn fail_closed_without_the_citizen_partition() {
    let pki = EcertPki::new();
    let crls = vec![crl(&pki.arl(|_| {}))];
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
}

#[test]
fn fail_closed_without_the_root_arl() {
    let pki = EcertPki::new();
    let crls = vec![crl(&pki.crl1(|_| {}))];
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(
        unavailable_subject(&err).ends_with("e-Cert CA 2 - 17"),
        "{err}"
    );
}

#[test]
fn unknown_status_allow_accepts_missing_crls_but_not_revocations() {
    let pki = EcertPki::new();
    let allow = options(RevocationScope::All, UnknownStatus::Allow);
    pki.validate(&pki.default_citizen(), &[], &allow).unwrap();
    let crls = crls_with(&pki, |c| {
        *c = c
            .clone()
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::KeyCompromise))
    });
    let err = pki
        .validate(&pki.default_citizen(), &crls, &allow)
        .unwrap_err();
    revoked_reason(&err);
}

#[test]
fn end_entity_scope_needs_only_the_citizen_partition() {
    let pki = EcertPki::new();
    let end_entity = options(RevocationScope::EndEntity, UnknownStatus::Reject);
    let leaf = pki.default_citizen();
    pki.validate(&leaf, &[crl(&pki.crl1(|_| {}))], &end_entity)
        .unwrap();
    let err = pki.validate(&leaf, &[], &end_entity).unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
    let err = pki
        .validate(&leaf, &[crl(&pki.arl(|_| {}))], &end_entity)
        .unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
}

#[test]
fn revocation_off_ignores_crls() {
    let pki = EcertPki::new();
    let crls = crls_with(&pki, |c| {
        *c = c
            .clone()
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::KeyCompromise))
    });
    let off = options(RevocationScope::Off, UnknownStatus::Reject);
    pki.validate(&pki.default_citizen(), &crls, &off).unwrap();
    pki.validate(&pki.default_citizen(), &[], &off).unwrap();
}

#[test]
fn citizen_in_partition_two() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.crl_urls = vec![CRL2_URL.to_owned()]);
    pki.check(&leaf).unwrap();
    let crls = vec![
        crl(&pki.arl(|_| {})),
        crl(&pki.crl1(|_| {})),
        crl(&pki.crl2(|c| {
            *c = c
                .clone()
                .revoke(CITIZEN_SERIAL, Some(RevocationReason::AffiliationChanged))
        })),
    ];
    assert_eq!(
        revoked_reason(&pki.validate(&leaf, &crls, &Options::new(NOW)).unwrap_err()).1,
        "affiliationChanged"
    );
}

#[test]
fn crl_of_another_partition_does_not_cover_the_citizen() {
    let pki = EcertPki::new();
    // Partition 2 even lists the citizen's serial: it is out of scope, so
    // it neither revokes nor vouches for the certificate.
    let crl2 = crl(&pki.crl2(|c| {
        *c = c
            .clone()
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::KeyCompromise))
    }));
    let crls = vec![crl(&pki.arl(|_| {})), crl2];
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
    pki.validate(
        &pki.default_citizen(),
        &crls,
        &options(RevocationScope::All, UnknownStatus::Allow),
    )
    .unwrap();
}

#[test]
fn user_only_crl_does_not_cover_the_issuing_ca() {
    let pki = EcertPki::new();
    let arl_for_users = pki.arl(|a| a.scope = Some(CrlScope::UserCertsOnly));
    let crls = vec![crl(&arl_for_users), crl(&pki.crl1(|_| {}))];
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(
        unavailable_subject(&err).ends_with("e-Cert CA 2 - 17"),
        "{err}"
    );
}

#[test]
fn full_crl_without_partition_covers_everyone() {
    let pki = EcertPki::new();
    let full = pki.ca.crl(&CrlSpec::fresh());
    pki.validate(
        &pki.default_citizen(),
        &[crl(&pki.arl(|_| {})), crl(&full)],
        &Options::new(NOW),
    )
    .unwrap();
}

#[test]
fn stale_crl_is_unusable() {
    let pki = EcertPki::new();
    let crls = crls_with(&pki, |c| {
        c.this_update = NOW - Duration::days(10);
        c.next_update = NOW - Duration::days(3);
    });
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    // The stale CRL is still good enough when unknown status is allowed.
    pki.validate(
        &pki.default_citizen(),
        &crls,
        &options(RevocationScope::All, UnknownStatus::Allow),
    )
    .unwrap();
}

#[test]
fn crl_not_yet_valid_is_unusable() {
    let pki = EcertPki::new();
    let crls = crls_with(&pki, |c| {
        c.this_update = NOW + Duration::hours(1);
        c.next_update = NOW + Duration::days(7);
    });
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
    assert!(err.to_string().contains("not valid before"), "{err}");
}

#[test]
fn stale_crl_next_to_a_fresh_one_is_harmless() {
    let pki = EcertPki::new();
    let mut crls = crls_with(&pki, |_| {});
    crls.push(crl(&pki.crl1(|c| {
        c.number = 4000;
        c.this_update = NOW - Duration::days(20);
        c.next_update = NOW - Duration::days(13);
    })));
    pki.validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap();
}

#[test]
fn crl_signed_by_issuer_without_crl_sign() {
    let pki = EcertPki::with(|_| {}, |ca| ca.key_usages = vec![Ku::KeyCertSign]);
    let crls = crls_with(&pki, |_| {});
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(
        matches!(err, CertError::BadRevocationData { .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "bad_revocation_data");
    assert!(err.to_string().contains("cRLSign"), "{err}");
}

#[test]
fn crl_with_bad_signature() {
    let pki = EcertPki::new();
    let good = pki.crl1(|_| {});
    let tampered = flip(&good, good.len() - 1);
    let crls = vec![crl(&pki.arl(|_| {})), crl(&tampered)];
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(
        matches!(err, CertError::BadRevocationData { .. }),
        "{err:?}"
    );
}

#[test]
fn crl_signed_by_an_impostor_with_the_issuer_name() {
    let pki = EcertPki::new();
    // Same name, different key: the key identifier gives it away before
    // any signature is checked.
    let impostor = Signer::new(issuing_ca_name(), KeyKind::P384);
    let crls = vec![
        crl(&pki.arl(|_| {})),
        crl(&impostor.crl(&CrlSpec::partition(CRL1_URL))),
    ];
    let err = pki
        .validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap_err();
    assert!(unavailable_subject(&err).contains("CHAN Tai Man"), "{err}");
}

#[test]
fn crl_with_many_entries() {
    let pki = EcertPki::new();
    let mut spec = CrlSpec::partition(CRL1_URL);
    for i in 0..1000u32 {
        spec = spec.revoke(
            &(0x0100_0000 + i).to_be_bytes(),
            Some(RevocationReason::Superseded),
        );
    }
    let big = crl(&pki.ca.crl(&spec));
    assert_eq!(big.revoked.len(), 1000);
    let crls = vec![crl(&pki.arl(|_| {})), big.clone()];
    pki.validate(&pki.default_citizen(), &crls, &Options::new(NOW))
        .unwrap();
    let listed = pki.citizen(|c| c.serial = 0x0100_0200u32.to_be_bytes().to_vec());
    let err = pki
        .validate(&listed, &crls, &Options::new(NOW))
        .unwrap_err();
    assert_eq!(revoked_reason(&err).1, "superseded");
}

#[test]
fn crl_from_pem_and_parsed_fields() {
    let pki = EcertPki::new();
    let der_crl = pki.crl1(|c| {
        *c = c
            .clone()
            .revoke(CITIZEN_SERIAL, Some(RevocationReason::CertificateHold))
    });
    let parsed = Crl::from_pem(der::pem("X509 CRL", &der_crl).as_bytes())
        .unwrap()
        .remove(0);
    assert_eq!(parsed.number.as_deref(), Some(&[0x12, 0x67][..]));
    assert_eq!(parsed.this_update, NOW - Duration::days(1));
    assert_eq!(parsed.next_update, Some(NOW + Duration::days(6)));
    assert_eq!(parsed.authority_key_id, Some(pki.ca.key_id()));
    let idp = parsed.issuing_distribution_point.as_ref().unwrap();
    assert!(idp.only_user && !idp.only_ca);
    assert_eq!(
        idp.full_names,
        vec![eid_core::cert::GeneralName::Uri(CRL1_URL.to_owned())]
    );
    let entry = parsed.revoked.values().next().unwrap();
    assert_eq!(entry.reason, Some(6));
    // The citizen certificate's distribution point names the same partition.
    let leaf: Certificate = cert(&pki.default_citizen());
    assert_eq!(
        leaf.crl_distribution_points[0].full_names,
        vec![eid_core::cert::GeneralName::Uri(CRL1_URL.to_owned())]
    );
}

/// The to-be-signed CRL fields with one more extension, re-signed by the CA.
fn crl_with_extension(pki: &EcertPki, extension: Vec<u8>) -> Vec<u8> {
    pki.ca.resign(&pki.crl1(|_| {}), |fields| {
        push_extension(fields, extension)
    })
}

#[test]
fn crl_with_unknown_critical_extension() {
    let pki = EcertPki::new();
    let der_crl = crl_with_extension(
        &pki,
        der::extension("1.3.6.1.4.1.16030.99.3", true, &[0x05, 0x00]),
    );
    let err = Crl::from_der(&der_crl).unwrap_err();
    assert!(
        matches!(err, CertError::UnknownCriticalExtension { .. }),
        "{err:?}"
    );
    // Non-critical, it is ignored.
    let der_crl = crl_with_extension(
        &pki,
        der::extension("1.3.6.1.4.1.16030.99.3", false, &[0x05, 0x00]),
    );
    Crl::from_der(&der_crl).unwrap();
}

#[test]
fn delta_crl_is_rejected() {
    let pki = EcertPki::new();
    // deltaCRLIndicator (critical) with base CRL number 4700.
    let der_crl = crl_with_extension(&pki, der::extension("2.5.29.27", true, &der::uint(4700)));
    let err = Crl::from_der(&der_crl).unwrap_err();
    assert!(
        matches!(err, CertError::UnknownCriticalExtension { .. }),
        "{err:?}"
    );
}

#[test]
fn crl_with_duplicate_extension() {
    let pki = EcertPki::new();
    let der_crl = crl_with_extension(&pki, der::extension("2.5.29.20", false, &der::uint(4712)));
    let err = Crl::from_der(&der_crl).unwrap_err();
    assert_eq!(
        err,
        CertError::DuplicateExtension {
            oid: "2.5.29.20".to_owned()
        }
    );
}

#[test]
fn crl_without_crl_number_is_malformed() {
    let pki = EcertPki::new();
    let der_crl = pki.ca.resign(&pki.crl1(|_| {}), |fields| {
        // Keep only the authorityKeyIdentifier (the first extension rcgen writes).
        let wrapper = fields.last_mut().unwrap();
        let extensions = der::fields(der::children(wrapper)[0]);
        *wrapper = der::tlv(0xa0, &der::seq(&extensions[..1]));
    });
    let err = Crl::from_der(&der_crl).unwrap_err();
    assert!(
        matches!(err, CertError::Malformed { what: "CRL", .. }),
        "{err:?}"
    );
}

/// Partition 2 re-signed with an issuingDistributionPoint whose
/// distribution point name does not parse (a directoryName tagged the way
/// rcgen 0.13 tags it) followed by onlyContainsUserCerts.
fn partition_with_unparseable_idp(pki: &EcertPki) -> Vec<u8> {
    let bad_name = match Subtree::rcgen_style_directory(&hk_post_name("CRL2")) {
        Subtree::Raw(raw) => raw,
        other => panic!("{other:?}"),
    };
    let idp = der::seq(&[
        der::tlv(0xa0, &der::tlv(0xa0, &bad_name)),
        vec![0x81, 0x01, 0xff],
    ]);
    pki.ca.resign(&pki.crl2(|_| {}), |fields| {
        let wrapper = fields.last_mut().unwrap();
        let mut extensions = der::fields(der::children(wrapper)[0]);
        let last = extensions.len() - 1;
        assert!(
            extensions[last].windows(3).any(|w| w == [0x55, 0x1d, 0x1c]),
            "IDP is last"
        );
        extensions[last] = der::extension("2.5.29.28", true, &idp);
        *wrapper = der::tlv(0xa0, &der::seq(&extensions));
    })
}

/// x509-parser reads issuingDistributionPoint field by field with
/// `opt(..)`: a distribution point name that does not parse disappears,
/// and the partition then looks like a complete CRL for every certificate.
#[test]
fn unparseable_partition_name_does_not_make_a_complete_crl() {
    let pki = EcertPki::new();
    let der_crl = partition_with_unparseable_idp(&pki);
    match Crl::from_der(&der_crl) {
        Err(err) => assert!(
            matches!(
                err,
                CertError::InvalidExtension { .. } | CertError::Malformed { .. }
            ),
            "{err:?}"
        ),
        Ok(parsed) => {
            let crls = vec![crl(&pki.arl(|_| {})), parsed];
            let result = pki.validate(&pki.default_citizen(), &crls, &Options::new(NOW));
            assert!(
                result.is_err(),
                "partition 2, with its name unreadable, vouched for a partition 1 citizen"
            );
        }
    }
}
