//! The RFC 5280 profile checks that make a certificate unusable wherever
//! it sits: extension criticality and duplicates, required key
//! identifiers, serial numbers, versions, keys and signature algorithms.

use eid_core::cert::{CertError, Certificate, Options, TrustStore};

use crate::der;
use crate::pki::*;

/// A Hongkong Post private extension OID that nobody processes.
const PRIVATE_OID: &str = "1.3.6.1.4.1.16030.99.1";

fn invalid_extension(err: &CertError) -> &str {
    match err {
        CertError::InvalidExtension { oid, .. } => oid,
        other => panic!("expected InvalidExtension, got {other:?}"),
    }
}

#[test]
fn unknown_critical_extension_in_citizen_certificate() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.extensions
            .push(extension(PRIVATE_OID, true, vec![0x05, 0x00]))
    });
    let err = Certificate::from_der(&leaf).unwrap_err();
    assert_eq!(
        err,
        CertError::UnknownCriticalExtension {
            oid: PRIVATE_OID.to_owned()
        }
    );
    assert_eq!(err.code(), "unknown_critical_extension");
}

#[test]
fn unknown_critical_extension_in_issuing_ca() {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.extensions
                .push(extension(PRIVATE_OID, true, vec![0x05, 0x00]))
        },
    );
    let err = Certificate::from_der(&pki.ca_der).unwrap_err();
    assert!(
        matches!(err, CertError::UnknownCriticalExtension { .. }),
        "{err:?}"
    );
}

#[test]
fn unknown_non_critical_extension_is_ignored() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.extensions
            .push(extension(PRIVATE_OID, false, vec![0x05, 0x00]))
    });
    pki.check(&leaf).unwrap();
}

#[test]
fn duplicate_subject_alt_name() {
    let pki = EcertPki::new();
    // rcgen writes the SAN from `emails`; a second one comes as a custom extension.
    let second_san = der::seq(&[der::tlv(0x81, b"other@example.com.hk")]);
    let leaf = pki.citizen(|c| c.extensions.push(extension("2.5.29.17", false, second_san)));
    let err = Certificate::from_der(&leaf).unwrap_err();
    assert_eq!(
        err,
        CertError::DuplicateExtension {
            oid: "2.5.29.17".to_owned()
        }
    );
    assert_eq!(err.code(), "duplicate_extension");
}

#[test]
fn duplicate_key_usage_in_issuing_ca() {
    // A second keyUsage granting only digitalSignature: whichever copy a
    // validator reads, the certificate is ambiguous.
    let ku = der::tlv(0x03, &[0x07, 0x80]);
    let pki = EcertPki::with(
        |_| {},
        |ca| ca.extensions.push(extension("2.5.29.15", true, ku)),
    );
    let err = Certificate::from_der(&pki.ca_der).unwrap_err();
    assert_eq!(
        err,
        CertError::DuplicateExtension {
            oid: "2.5.29.15".to_owned()
        }
    );
}

#[test]
fn malformed_known_extension() {
    let pki = EcertPki::new();
    // basicConstraints whose value is an OCTET STRING, not a SEQUENCE.
    let leaf = pki.citizen(|c| {
        c.extensions
            .push(extension("2.5.29.19", false, vec![0x04, 0x00]))
    });
    let err = Certificate::from_der(&leaf).unwrap_err();
    assert_eq!(invalid_extension(&err), "2.5.29.19");
    assert_eq!(err.code(), "invalid_extension");
}

#[test]
fn key_identifier_extensions_must_not_be_critical() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.extensions
            .push(extension("2.5.29.14", true, der::tlv(0x04, &[1; 20])))
    });
    assert_eq!(
        invalid_extension(&Certificate::from_der(&leaf).unwrap_err()),
        "2.5.29.14"
    );
}

#[test]
fn ca_basic_constraints_must_be_critical() {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.is_ca = IsCa::NoCa;
            ca.extensions.push(extension(
                "2.5.29.19",
                false,
                der::seq(&[vec![0x01, 0x01, 0xff]]),
            ));
        },
    );
    assert_eq!(
        invalid_extension(&Certificate::from_der(&pki.ca_der).unwrap_err()),
        "2.5.29.19"
    );
}

#[test]
fn name_constraints_must_be_critical() {
    let nc = NameConstraints {
        permitted: vec![Subtree::Email(".hk".into())],
        excluded: vec![],
    };
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.extensions
                .push(extension("2.5.29.30", false, nc.to_der()))
        },
    );
    assert_eq!(
        invalid_extension(&Certificate::from_der(&pki.ca_der).unwrap_err()),
        "2.5.29.30"
    );
}

#[test]
fn name_constraints_in_an_end_entity_are_invalid() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.name_constraints = Some(NameConstraints {
            permitted: vec![Subtree::Email(".hk".into())],
            excluded: vec![],
        })
    });
    assert_eq!(
        invalid_extension(&Certificate::from_der(&leaf).unwrap_err()),
        "2.5.29.30"
    );
}

#[test]
fn empty_or_malformed_subject_alt_name() {
    let pki = EcertPki::new();
    let empty = pki.citizen(|c| {
        c.emails.clear();
        c.extensions
            .push(extension("2.5.29.17", false, der::seq(&[])));
    });
    assert_eq!(
        invalid_extension(&Certificate::from_der(&empty).unwrap_err()),
        "2.5.29.17"
    );
    let bad_email = pki.citizen(|c| c.emails = vec!["not-an-address".into()]);
    assert_eq!(
        invalid_extension(&Certificate::from_der(&bad_email).unwrap_err()),
        "2.5.29.17"
    );
}

#[test]
fn citizen_without_authority_key_identifier() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.authority_key_id = false);
    let err = pki.check(&leaf).unwrap_err();
    assert!(
        matches!(
            err,
            CertError::MissingExtension {
                extension: "authorityKeyIdentifier",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "missing_extension");
}

#[test]
fn issuing_ca_without_subject_key_identifier() {
    // rcgen writes a subjectKeyIdentifier whenever it writes basicConstraints,
    // so basicConstraints comes as a custom extension here.
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.is_ca = IsCa::NoCa;
            ca.extensions.push(extension(
                "2.5.29.19",
                true,
                der::seq(&[vec![0x01, 0x01, 0xff]]),
            ));
        },
    );
    let err = pki
        .validate(&pki.default_citizen(), &[], &no_revocation())
        .unwrap_err();
    assert!(
        matches!(
            err,
            CertError::MissingExtension {
                extension: "subjectKeyIdentifier",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn serial_number_zero() {
    let pki = EcertPki::new();
    let err = pki.check(&pki.citizen(|c| c.serial = vec![0])).unwrap_err();
    assert!(matches!(err, CertError::BadSerial { .. }), "{err:?}");
    assert_eq!(err.code(), "bad_serial");
}

#[test]
fn serial_number_of_twenty_octets_is_fine() {
    let pki = EcertPki::new();
    // 20 octets with the high bit set: encoded in 21 with a leading zero.
    pki.check(&pki.citizen(|c| c.serial = vec![0xff; 20]))
        .unwrap();
    pki.check(&pki.citizen(|c| c.serial = vec![0x7f; 20]))
        .unwrap();
}

#[test]
fn serial_number_longer_than_twenty_octets() {
    let pki = EcertPki::new();
    let err = pki
        .check(&pki.citizen(|c| c.serial = vec![0x01; 21]))
        .unwrap_err();
    assert!(matches!(err, CertError::BadSerial { .. }), "{err:?}");
    let err = pki
        .check(&pki.citizen(|c| c.serial = vec![0x01; 22]))
        .unwrap_err();
    assert!(matches!(err, CertError::BadSerial { .. }), "{err:?}");
}

/// An RSA public key of 1024 bits (a made-up modulus: only its size matters).
struct Rsa1024(Vec<u8>);

impl Rsa1024 {
    fn new() -> Self {
        let mut modulus = vec![0x00, 0xc3];
        modulus.extend(std::iter::repeat_n(0x5a, 126));
        modulus.push(0x01);
        Self(der::seq(&[der::tlv(0x02, &modulus), der::uint(65537)]))
    }
}

impl rcgen::PublicKeyData for Rsa1024 {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &rcgen::SignatureAlgorithm {
        &rcgen::PKCS_RSA_SHA256
    }
}

#[test]
fn rsa_1024_citizen_key_is_unsupported() {
    let pki = EcertPki::new();
    let leaf = pki
        .ca
        .certify(&CertSpec::default_citizen(), &Rsa1024::new());
    let parsed = cert(&leaf);
    assert_eq!(parsed.public_key.bits, 1024);
    let err = pki.check(&leaf).unwrap_err();
    assert!(matches!(err, CertError::UnsupportedKey { .. }), "{err:?}");
    assert_eq!(err.code(), "unsupported_key");
}

/// The citizen certificate with its AlgorithmIdentifiers replaced: in the
/// to-be-signed part, in the outer structure, or both. The signature is
/// left as it was.
fn with_algorithm(leaf: &[u8], tbs_alg: Option<&[u8]>, outer_alg: Option<&[u8]>) -> Vec<u8> {
    let (tbs, algorithm, signature) = der::split_signed(leaf);
    let mut fields = der::fields(&tbs);
    // version [0], serialNumber, signature AlgorithmIdentifier, ...
    if let Some(alg) = tbs_alg {
        fields[2] = alg.to_vec();
    }
    der::seq(&[
        der::seq(&fields),
        outer_alg.unwrap_or(&algorithm).to_vec(),
        signature,
    ])
}

#[test]
fn signature_algorithm_mismatch_between_tbs_and_outer() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    // The issuing CA signs with ecdsa-with-SHA384; claim SHA-256 inside.
    let sha256 = der::seq(&[der::oid("1.2.840.10045.4.3.2")]);
    let tampered = with_algorithm(&leaf, Some(&sha256), None);
    // Caught when parsing: the outer and inner algorithms must be the same bytes.
    let err = Certificate::from_der(&tampered).unwrap_err();
    assert_eq!(err, CertError::SignatureAlgorithmMismatch);
}

#[test]
fn weak_and_unsupported_signature_algorithms() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    let check = |alg: Vec<u8>| {
        pki.check(&with_algorithm(&leaf, Some(&alg), Some(&alg)))
            .unwrap_err()
    };
    let err = check(der::seq(&[der::oid("1.2.840.10045.4.1")]));
    assert!(
        matches!(err, CertError::WeakSignatureAlgorithm { .. }),
        "{err:?}"
    );
    let err = check(der::seq(&[
        der::oid("1.2.840.113549.1.1.4"),
        vec![0x05, 0x00],
    ]));
    assert!(
        matches!(err, CertError::WeakSignatureAlgorithm { .. }),
        "{err:?}"
    );
    // RSA with an EC issuer key, and an algorithm nobody knows.
    let err = check(der::seq(&[
        der::oid("1.2.840.113549.1.1.11"),
        vec![0x05, 0x00],
    ]));
    assert!(
        matches!(err, CertError::UnsupportedSignatureAlgorithm { .. }),
        "{err:?}"
    );
    let err = check(der::seq(&[der::oid("1.3.6.1.4.1.16030.99.2")]));
    assert!(
        matches!(err, CertError::UnsupportedSignatureAlgorithm { .. }),
        "{err:?}"
    );
}

#[test]
fn version_1_certificate_with_extensions_is_rejected() {
    let pki = EcertPki::new();
    // Drop the [0] version field: the certificate becomes v1 yet keeps its
    // extensions.
    let v1_ca = pki.root.resign(&pki.ca_der, |fields| {
        fields.remove(0);
    });
    let err = Certificate::from_der(&v1_ca).unwrap_err();
    assert!(
        matches!(err, CertError::BadVersion { version: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn version_1_root_is_accepted_as_anchor_only() {
    let pki = EcertPki::new();
    // A v1 root: no version field, no extensions (like old roots still in
    // trust stores).
    let v1_root = pki.root.resign(&pki.root_der, |fields| {
        fields.remove(0);
        fields.pop();
    });
    let anchor = cert(&v1_root);
    assert_eq!(anchor.version, 1);
    let store = TrustStore::new(vec![anchor.clone()]);
    store
        .validate(
            &cert(&pki.default_citizen()),
            &pki.pool(),
            &pki.crls(),
            &Options::new(NOW),
        )
        .unwrap();

    // As an intermediate under another anchor, a v1 certificate cannot carry
    // the authorityKeyIdentifier every non-anchor needs.
    let top = Signer::new(hk_post_name("Top Root"), KeyKind::P256);
    let top_der = top.self_certify(&CertSpec::root(top.dn.clone()));
    let root_by_top = top.resign(
        &top.certify_ca(&CertSpec::sub_ca(pki.root.dn.clone(), 8), &pki.root),
        |fields| {
            fields.remove(0);
            fields.pop();
        },
    );
    let err = TrustStore::new(vec![cert(&top_der)])
        .validate(
            &cert(&pki.default_citizen()),
            &[cert(&root_by_top), cert(&pki.ca_der)],
            &[],
            &no_revocation(),
        )
        .unwrap_err();
    assert!(
        matches!(err, CertError::MissingExtension { extension: "authorityKeyIdentifier", ref subject } if subject.ends_with("Root CA 2")),
        "{err:?}"
    );
}

#[test]
fn resigned_certificate_is_still_valid() {
    // The re-signing helper itself: an unchanged re-signed citizen
    // certificate validates, so the failures above come from the edits.
    let pki = EcertPki::new();
    let leaf = pki.ca.resign(&pki.default_citizen(), |_| {});
    pki.check(&leaf).unwrap();
}

/// The issuing CA's certificate re-signed by the RSA root with
/// RSASSA-PSS (rcgen cannot sign with PSS on ring).
fn ca_signed_with_pss(pki: &EcertPki, salt: u32) -> Vec<u8> {
    let pss = rsassa_pss_sha256(salt);
    let (tbs, _, _) = der::split_signed(&pki.ca_der);
    let mut fields = der::fields(&tbs);
    fields[2] = pss.clone();
    pki.root.sign_tbs(&der::seq(&fields), &pss)
}

#[test]
fn rsassa_pss_signature_validates() {
    let pki = EcertPki::new();
    let ca = ca_signed_with_pss(&pki, 32);
    let path = pki
        .store()
        .validate(
            &cert(&pki.default_citizen()),
            &[cert(&ca)],
            &pki.crls(),
            &Options::new(NOW),
        )
        .unwrap();
    assert_eq!(path.chain[1].der, ca);
}

#[test]
fn rsassa_pss_with_unusual_salt_is_unsupported() {
    let pki = EcertPki::new();
    let ca = ca_signed_with_pss(&pki, 20);
    let err = pki
        .store()
        .validate(
            &cert(&pki.default_citizen()),
            &[cert(&ca)],
            &pki.crls(),
            &Options::new(NOW),
        )
        .unwrap_err();
    assert!(
        matches!(err, CertError::UnsupportedSignatureAlgorithm { .. }),
        "{err:?}"
    );
}

#[test]
fn negative_serial_number() {
    let pki = EcertPki::new();
    // rcgen only writes positive serials: edit the INTEGER and re-sign.
    let leaf = pki.ca.resign(&pki.default_citizen(), |fields| {
        fields[1] = der::tlv(0x02, &[0xff, 0x01]);
    });
    assert_eq!(cert(&leaf).serial_hex(), "ff01");
    let err = pki.check(&leaf).unwrap_err();
    assert!(matches!(err, CertError::BadSerial { .. }), "{err:?}");
}
