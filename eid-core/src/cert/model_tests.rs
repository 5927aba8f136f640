//! Parsing of authorityInfoAccess (RFC 5280 4.2.2.1) on certificates made
//! with rcgen, the extension's DER written by hand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rcgen::{CertificateParams, CustomExtension, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

use super::der::write::{oid, seq, tlv};
use super::{CertError, Certificate};

pub(super) const AIA: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 1, 1];
const AIA_DOTTED: &str = "1.3.6.1.5.5.7.1.1";
pub(super) const AD_OCSP: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1];
const AD_CA_ISSUERS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 2];
const AD_CA_REPOSITORY: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 5];

const OCSP_1: &str = "http://ocsp1.hongkongpost.gov.hk";
const OCSP_2: &str = "https://ocsp2.hongkongpost.gov.hk/ocsp";
const CA_CERT: &str = "http://www1.hongkongpost.gov.hk/root/ecert-ca-2-17.crt";

/// An AccessDescription with a URI location.
pub(super) fn uri(method: &[u64], location: &str) -> Vec<u8> {
    seq(&[oid(method), tlv(0x86, location.as_bytes())])
}

/// A self-signed end-entity certificate with these extensions, as
/// `(OID arcs, critical, extnValue content)`.
fn cert_with(extensions: &[(&[u64], bool, Vec<u8>)]) -> Result<Certificate, CertError> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "CHAN Tai Man");
    for (arcs, critical, content) in extensions {
        let mut ext = CustomExtension::from_oid_content(arcs, content.clone());
        ext.set_criticality(*critical);
        params.custom_extensions.push(ext);
    }
    let cert = params.self_signed(&key).unwrap();
    Certificate::from_der(cert.der())
}

fn aia_cert(content: Vec<u8>) -> Result<Certificate, CertError> {
    cert_with(&[(AIA, false, content)])
}

#[test]
fn aia_uris_are_sorted_by_access_method() {
    let content = seq(&[
        uri(AD_OCSP, OCSP_1),
        uri(AD_CA_ISSUERS, CA_CERT),
        // Not a URI: ignored.
        seq(&[oid(AD_OCSP), tlv(0x82, b"ocsp.example")]),
        // Another access method: ignored.
        uri(AD_CA_REPOSITORY, "http://repository.example/"),
        uri(AD_OCSP, OCSP_2),
    ]);
    let cert = aia_cert(content).unwrap();
    assert_eq!(cert.ocsp_responders, [OCSP_1, OCSP_2]);
    assert_eq!(cert.ca_issuers, [CA_CERT]);
}

#[test]
fn without_aia_there_are_no_locations() {
    let cert = cert_with(&[]).unwrap();
    assert!(cert.ocsp_responders.is_empty());
    assert!(cert.ca_issuers.is_empty());
    // Only non-URI names: present but empty lists.
    let cert = aia_cert(seq(&[seq(&[oid(AD_OCSP), tlv(0x82, b"ocsp.example")])])).unwrap();
    assert!(cert.ocsp_responders.is_empty());
}

#[test]
fn critical_aia_is_refused_and_other_critical_pkix_extensions_are_unknown() {
    // RFC 5280 4.2.2.1: authorityInfoAccess must not be critical.
    let err = cert_with(&[(AIA, true, seq(&[uri(AD_OCSP, OCSP_1)]))]).unwrap_err();
    assert!(
        matches!(&err, CertError::InvalidExtension { oid, .. } if oid == "1.3.6.1.5.5.7.1.1"),
        "{err}"
    );
    // subjectInfoAccess (id-pe 11) is not processed: critical, it is unknown.
    let err = cert_with(&[(
        &[1, 3, 6, 1, 5, 5, 7, 1, 11],
        true,
        seq(&[uri(AD_CA_REPOSITORY, "http://repository.example/")]),
    )])
    .unwrap_err();
    assert!(
        matches!(&err, CertError::UnknownCriticalExtension { oid } if oid == "1.3.6.1.5.5.7.1.11"),
        "{err}"
    );
}

#[test]
fn malformed_aia_is_an_invalid_extension() {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("not a SEQUENCE", tlv(0x04, &uri(AD_OCSP, OCSP_1))),
        ("empty", seq(&[])),
        (
            "description not a SEQUENCE",
            seq(&[tlv(0x31, &uri(AD_OCSP, OCSP_1)[2..])]),
        ),
        (
            "extra field in a description",
            seq(&[seq(&[
                oid(AD_OCSP),
                tlv(0x86, OCSP_1.as_bytes()),
                tlv(0x86, OCSP_2.as_bytes()),
            ])]),
        ),
        ("location missing", seq(&[seq(&[oid(AD_OCSP)])])),
        (
            "method not an OID",
            seq(&[seq(&[tlv(0x02, &[1]), tlv(0x86, OCSP_1.as_bytes())])]),
        ),
        (
            "bad GeneralName tag",
            seq(&[seq(&[oid(AD_OCSP), tlv(0x89, OCSP_1.as_bytes())])]),
        ),
        ("trailing bytes", {
            let mut v = seq(&[uri(AD_OCSP, OCSP_1)]);
            v.extend([0x05, 0x00]);
            v
        }),
        ("truncated", {
            let v = seq(&[uri(AD_OCSP, OCSP_1)]);
            v[..v.len() - 1].to_vec()
        }),
    ];
    for (what, content) in cases {
        match aia_cert(content) {
            Err(CertError::InvalidExtension { oid, .. }) => assert_eq!(oid, AIA_DOTTED, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn duplicate_aia_is_rejected() {
    let content = seq(&[uri(AD_OCSP, OCSP_1)]);
    let err = cert_with(&[(AIA, false, content.clone()), (AIA, false, content)]).unwrap_err();
    assert!(
        matches!(&err, CertError::DuplicateExtension { oid } if oid == AIA_DOTTED),
        "{err}"
    );
}
