//! OCSP tests: requests read back with der-parser, and responses built by
//! [`testing`](super::testing) about an rcgen PKI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use ring::digest;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use x509_parser::der_parser::ber::{BerObject, BerObjectContent, Class};
use x509_parser::der_parser::parse_der;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::der::write::tlv;
use super::testing::{
    OcspResponseSpec, TestOcspStatus, ocsp_error_response, ocsp_response, ocsp_response_with,
};
use super::{
    CertError, Certificate, OcspResponse, Options, Revocation, RevocationScope, TrustStore,
    ocsp_request,
};

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

// --- fixtures ------------------------------------------------------------

struct Pki {
    root: Certificate,
    ca: Certificate,
    ca_key: KeyPair,
    leaf: Certificate,
    responder: Certificate,
    responder_key: KeyPair,
    rogue_responder: Certificate,
    rogue_key: KeyPair,
}

fn params(cn: &str, ca: bool) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = datetime!(2025-01-01 00:00 UTC);
    p.not_after = datetime!(2030-01-01 00:00 UTC);
    p.key_identifier_method = KeyIdMethod::Sha256;
    p.use_authority_key_identifier_extension = true;
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    }
    p
}

fn pki() -> Pki {
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut root_params = params("Hongkong Post Root CA 2 (test)", true);
    root_params.use_authority_key_identifier_extension = false;
    let root = root_params.self_signed(&root_key).unwrap();
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let ca = params("Hongkong Post e-Cert CA 2 - 17 (test)", true)
        .signed_by(&ca_key, &root, &root_key)
        .unwrap();
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf_params = params("CHAN Tai Man", false);
    leaf_params.serial_number = Some(vec![0x01, 0x23, 0x45].into());
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let responder_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut responder_params = params("e-Cert OCSP responder (test)", false);
    responder_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::OcspSigning];
    let responder = responder_params
        .signed_by(&responder_key, &ca, &ca_key)
        .unwrap();
    let rogue_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut rogue_params = params("rogue responder (test)", false);
    rogue_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let rogue_responder = rogue_params.signed_by(&rogue_key, &ca, &ca_key).unwrap();
    let parse = |c: &rcgen::Certificate| Certificate::from_der(c.der()).unwrap();
    Pki {
        root: parse(&root),
        ca: parse(&ca),
        ca_key,
        leaf: parse(&leaf),
        responder: parse(&responder),
        responder_key,
        rogue_responder: parse(&rogue_responder),
        rogue_key,
    }
}

/// A good response, current at [`NOW`].
fn good() -> OcspResponseSpec {
    OcspResponseSpec {
        produced_at: NOW - Duration::minutes(5),
        ..OcspResponseSpec::new(
            TestOcspStatus::Good,
            NOW - Duration::hours(1),
            Some(NOW + Duration::days(1)),
        )
    }
}

/// An OCSPResponse about `pki.leaf` as `spec` says, signed by `signer`
/// (its key and certificate); `include` embeds the signer's certificate.
fn response(
    pki: &Pki,
    spec: &OcspResponseSpec,
    signer_key: &KeyPair,
    signer: &Certificate,
    include: bool,
) -> Vec<u8> {
    let spec = OcspResponseSpec {
        include_signer: include,
        ..spec.clone()
    };
    ocsp_response_with(
        &pki.leaf,
        &pki.ca,
        &spec,
        signer,
        &signer_key.serialize_der(),
    )
}

fn validate(pki: &Pki, responses: Vec<Vec<u8>>, nonce: Option<Vec<u8>>) -> Result<(), CertError> {
    let revocation = Revocation {
        crls: Vec::new(),
        ocsp: responses
            .iter()
            .map(|r| OcspResponse::from_der(r))
            .collect::<Result<_, _>>()?,
        ocsp_nonce: nonce,
    };
    let options = Options {
        revocation: RevocationScope::EndEntity,
        ..Options::new(NOW)
    };
    TrustStore::new(vec![pki.root.clone()])
        .validate_with(
            &pki.leaf,
            std::slice::from_ref(&pki.ca),
            &revocation,
            &options,
        )
        .map(|_| ())
}

// --- tests ---------------------------------------------------------------

#[test]
fn good_response_signed_by_the_ca_is_accepted() {
    let pki = pki();
    let r = response(&pki, &good(), &pki.ca_key, &pki.ca, false);
    validate(&pki, vec![r], None).unwrap();
}

#[test]
fn delegated_responder_needs_ocsp_signing() {
    let pki = pki();
    let r = response(&pki, &good(), &pki.responder_key, &pki.responder, true);
    validate(&pki, vec![r], None).unwrap();

    let rogue = response(&pki, &good(), &pki.rogue_key, &pki.rogue_responder, true);
    let err = validate(&pki, vec![rogue], None).unwrap_err();
    assert!(
        matches!(err, CertError::RevocationUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("OCSPSigning"), "{err}");

    // A responder certificate that is not included cannot be checked.
    let hidden = response(&pki, &good(), &pki.responder_key, &pki.responder, false);
    assert!(validate(&pki, vec![hidden], None).is_err());
}

#[test]
fn revoked_and_held_certificates_are_rejected() {
    let pki = pki();
    let mut spec = good();
    spec.status = TestOcspStatus::Revoked {
        at: NOW - Duration::days(2),
        reason: Some(6),
    };
    let r = response(&pki, &spec, &pki.ca_key, &pki.ca, false);
    let err = validate(&pki, vec![r], None).unwrap_err();
    match err {
        CertError::Revoked { reason, .. } => assert_eq!(reason, "certificateHold"),
        other => panic!("{other}"),
    }
}

#[test]
fn unknown_status_fails_closed() {
    let pki = pki();
    let mut spec = good();
    spec.status = TestOcspStatus::Unknown;
    let r = response(&pki, &spec, &pki.ca_key, &pki.ca, false);
    let err = validate(&pki, vec![r], None).unwrap_err();
    assert!(
        matches!(err, CertError::RevocationUnavailable { .. }),
        "{err}"
    );
    // And with no response at all.
    assert!(matches!(
        validate(&pki, vec![], None).unwrap_err(),
        CertError::RevocationUnavailable { .. }
    ));
}

#[test]
fn stale_and_future_responses_are_unusable() {
    let pki = pki();
    let mut stale = good();
    stale.this_update = NOW - Duration::days(3);
    stale.next_update = Some(NOW - Duration::days(1));
    let mut future = good();
    future.this_update = NOW + Duration::hours(1);
    let mut old_without_next = good();
    old_without_next.this_update = NOW - Duration::days(8);
    old_without_next.next_update = None;
    for spec in [stale, future, old_without_next] {
        let r = response(&pki, &spec, &pki.ca_key, &pki.ca, false);
        let err = validate(&pki, vec![r], None).unwrap_err();
        assert!(
            matches!(err, CertError::RevocationUnavailable { .. }),
            "{err}"
        );
    }
}

#[test]
fn response_for_another_serial_does_not_count() {
    let pki = pki();
    let mut spec = good();
    spec.serial = Some(vec![0x09]);
    let r = response(&pki, &spec, &pki.ca_key, &pki.ca, false);
    assert!(matches!(
        validate(&pki, vec![r], None).unwrap_err(),
        CertError::RevocationUnavailable { .. }
    ));
}

#[test]
fn nonce_must_match_when_requested() {
    let pki = pki();
    let mut spec = good();
    spec.nonce = Some(b"0123456789abcdef".to_vec());
    let r = response(&pki, &spec, &pki.ca_key, &pki.ca, false);
    validate(&pki, vec![r.clone()], Some(b"0123456789abcdef".to_vec())).unwrap();
    assert!(validate(&pki, vec![r], Some(b"another nonce...".to_vec())).is_err());
    let without = response(&pki, &good(), &pki.ca_key, &pki.ca, false);
    assert!(validate(&pki, vec![without], Some(b"0123456789abcdef".to_vec())).is_err());
}

#[test]
fn tampered_signature_is_rejected() {
    let pki = pki();
    let mut r = response(&pki, &good(), &pki.ca_key, &pki.ca, false);
    let last = r.len() - 1;
    r[last] ^= 0x01;
    let err = validate(&pki, vec![r], None).unwrap_err();
    assert!(
        matches!(err, CertError::RevocationUnavailable { .. }),
        "{err}"
    );
}

#[test]
fn error_statuses_and_malformed_input_are_errors() {
    let try_later = ocsp_error_response(3);
    let err = OcspResponse::from_der(&try_later).unwrap_err();
    assert!(err.to_string().contains("tryLater"), "{err}");
    let pki = pki();
    let good = response(&pki, &good(), &pki.ca_key, &pki.ca, false);
    for cut in 0..good.len() {
        assert!(
            OcspResponse::from_der(&good[..cut]).is_err(),
            "prefix of {cut} bytes"
        );
    }
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(OcspResponse::from_der(&trailing).is_err());
    let huge = vec![0x30; super::MAX_OCSP_SIZE + 1];
    assert!(matches!(
        OcspResponse::from_der(&huge),
        Err(CertError::TooLarge { .. })
    ));
    // Deep nesting of constructed tags is read without recursion.
    let mut nested = vec![0x05, 0x00];
    for _ in 0..2000 {
        nested = tlv(0x30, &nested);
    }
    assert!(OcspResponse::from_der(&nested).is_err());
}

// --- requests ------------------------------------------------------------

fn sha1(bytes: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, bytes)
        .as_ref()
        .to_vec()
}

/// A CertID's fields, read with der-parser (not this crate's reader).
#[derive(Debug, PartialEq, Eq)]
struct CertId {
    hash_algorithm: String,
    hash_params_null: bool,
    issuer_name_hash: Vec<u8>,
    issuer_key_hash: Vec<u8>,
    serial: Vec<u8>,
}

fn read_cert_id(object: &BerObject<'_>) -> CertId {
    let fields = object.as_sequence().unwrap();
    assert_eq!(fields.len(), 4);
    let algorithm = fields[0].as_sequence().unwrap();
    assert_eq!(algorithm.len(), 2);
    CertId {
        hash_algorithm: algorithm[0].as_oid().unwrap().to_id_string(),
        hash_params_null: matches!(algorithm[1].content, BerObjectContent::Null),
        issuer_name_hash: fields[1].as_slice().unwrap().to_vec(),
        issuer_key_hash: fields[2].as_slice().unwrap().to_vec(),
        serial: fields[3].as_slice().unwrap().to_vec(),
    }
}

/// Parses the whole of `der` as one DER value.
fn parse_whole(der: &[u8]) -> BerObject<'_> {
    let (rest, object) = parse_der(der).unwrap();
    assert!(rest.is_empty(), "trailing bytes");
    object
}

/// An OCSPRequest's single CertID and its requestExtensions' content.
fn read_request(der: &[u8]) -> (CertId, Option<Vec<u8>>) {
    let request = parse_whole(der);
    let request = request.as_sequence().unwrap();
    assert_eq!(request.len(), 1, "tbsRequest only, unsigned");
    let tbs = request[0].as_sequence().unwrap();
    assert!(tbs.len() <= 2);
    // No version (v1 is the DEFAULT) and no requestorName: the request list
    // comes first.
    let list = tbs[0].as_sequence().unwrap();
    assert_eq!(list.len(), 1, "one Request");
    let single = list[0].as_sequence().unwrap();
    assert_eq!(single.len(), 1, "no singleRequestExtensions");
    let extensions = tbs.get(1).map(|e| {
        assert_eq!((e.class(), e.tag().0), (Class::ContextSpecific, 2));
        e.as_slice().unwrap().to_vec()
    });
    (read_cert_id(&single[0]), extensions)
}

/// The CertID of an OCSPResponse's first SingleResponse.
fn read_response_cert_id(der: &[u8]) -> CertId {
    let response = parse_whole(der);
    let bytes = response.as_sequence().unwrap()[1].as_slice().unwrap();
    let bytes = parse_whole(bytes);
    let basic = bytes.as_sequence().unwrap()[1].as_slice().unwrap();
    let basic = parse_whole(basic);
    let data = basic.as_sequence().unwrap()[0].as_sequence().unwrap();
    // responderID, producedAt, responses
    let responses = data[2].as_sequence().unwrap();
    read_cert_id(&responses[0].as_sequence().unwrap()[0])
}

#[test]
fn request_names_the_certificate_by_sha1_cert_id() {
    let pki = pki();
    let (request, extensions) = read_request(&ocsp_request(&pki.leaf, &pki.ca, None));
    // Expected values straight from x509-parser, not from `Certificate`.
    let (_, ca) = X509Certificate::from_der(&pki.ca.der).unwrap();
    assert_eq!(request.hash_algorithm, "1.3.14.3.2.26");
    assert!(request.hash_params_null, "NULL parameters");
    assert_eq!(request.issuer_name_hash, sha1(ca.subject().as_raw()));
    assert_eq!(
        request.issuer_key_hash,
        sha1(&ca.public_key().subject_public_key.data)
    );
    assert_eq!(request.serial, [0x01, 0x23, 0x45]);
    assert!(extensions.is_none());

    // A serial with the high bit set keeps its leading zero: it stays a
    // positive INTEGER, as encoded in the certificate.
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut high = params("LEE Siu Ming", false);
    high.serial_number = Some(vec![0x80, 0x01].into());
    let high = high
        .signed_by(
            &key,
            &params("Hongkong Post e-Cert CA 2 - 17 (test)", true)
                .self_signed(&pki.ca_key)
                .unwrap(),
            &pki.ca_key,
        )
        .unwrap();
    let high = Certificate::from_der(high.der()).unwrap();
    assert_eq!(high.serial, [0x00, 0x80, 0x01]);
    let (request, _) = read_request(&ocsp_request(&high, &pki.ca, None));
    assert_eq!(request.serial, [0x00, 0x80, 0x01]);
}

#[test]
fn request_nonce_is_an_octet_string_in_an_octet_string() {
    let pki = pki();
    let nonce = b"0123456789abcdef0123456789abcdef";
    let (cert_id, extensions) = read_request(&ocsp_request(&pki.leaf, &pki.ca, Some(nonce)));
    let extensions = extensions.expect("requestExtensions");
    let (rest, list) = parse_der(&extensions).unwrap();
    assert!(rest.is_empty());
    let list = list.as_sequence().unwrap();
    assert_eq!(list.len(), 1);
    let extension = list[0].as_sequence().unwrap();
    assert_eq!(extension.len(), 2, "extnID and extnValue: not critical");
    assert_eq!(
        extension[0].as_oid().unwrap().to_id_string(),
        "1.3.6.1.5.5.7.48.1.2"
    );
    let (rest, inner) = parse_der(extension[1].as_slice().unwrap()).unwrap();
    assert!(rest.is_empty());
    assert_eq!(inner.tag().0, 4, "an OCTET STRING");
    assert_eq!(inner.as_slice().unwrap(), nonce);
    // And the response reader takes the same encoding for the same nonce.
    assert_eq!(
        super::ocsp::extensions(&extensions).unwrap().as_deref(),
        Some(&nonce[..])
    );
    // The CertID does not depend on the nonce.
    assert_eq!(
        cert_id,
        read_request(&ocsp_request(&pki.leaf, &pki.ca, None)).0
    );
}

#[test]
fn response_built_for_the_request_matches_it() {
    let pki = pki();
    let (request, _) = read_request(&ocsp_request(&pki.leaf, &pki.ca, None));
    let der = ocsp_response(
        &pki.leaf,
        &pki.ca,
        &pki.ca_key.serialize_der(),
        TestOcspStatus::Good,
        NOW - Duration::hours(1),
        Some(NOW + Duration::days(1)),
    );
    // The response carries the request's CertID ...
    assert_eq!(read_response_cert_id(&der), request);
    // ... which the parser matches to the certificate and no other ...
    let parsed = OcspResponse::from_der(&der).unwrap();
    assert_eq!(parsed.responses.len(), 1);
    assert!(parsed.responses[0].matches(&pki.leaf, &pki.ca));
    assert!(!parsed.responses[0].matches(&pki.responder, &pki.ca));
    assert!(!parsed.responses[0].matches(&pki.leaf, &pki.root));
    // ... and validation uses.
    validate(&pki, vec![der], None).unwrap();
    let revoked = ocsp_response(
        &pki.leaf,
        &pki.ca,
        &pki.ca_key.serialize_der(),
        TestOcspStatus::Revoked {
            at: NOW - Duration::days(1),
            reason: None,
        },
        NOW - Duration::hours(1),
        None,
    );
    assert!(matches!(
        validate(&pki, vec![revoked], None).unwrap_err(),
        CertError::Revoked { .. }
    ));
}
