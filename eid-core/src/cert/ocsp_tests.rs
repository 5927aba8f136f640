//! OCSP tests with responses built here: a small DER writer, an rcgen CA,
//! and ECDSA P-256 signatures from ring.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{
    CertError, Certificate, OcspResponse, Options, Revocation, RevocationScope, TrustStore,
};

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

// --- a tiny DER writer -------------------------------------------------

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn oid(dotted: &str) -> Vec<u8> {
    let nums: Vec<u64> = dotted.split('.').map(|n| n.parse().unwrap()).collect();
    let mut body = vec![(nums[0] * 40 + nums[1]) as u8];
    for n in &nums[2..] {
        let mut chunk = vec![(n & 0x7f) as u8];
        let mut v = n >> 7;
        while v > 0 {
            chunk.push(((v & 0x7f) as u8) | 0x80);
            v >>= 7;
        }
        chunk.reverse();
        body.extend(chunk);
    }
    tlv(0x06, &body)
}

fn gentime(t: OffsetDateTime) -> Vec<u8> {
    let text = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    tlv(0x18, text.as_bytes())
}

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

#[derive(Clone)]
struct Spec {
    status: Vec<u8>,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    nonce: Option<Vec<u8>>,
    serial: Vec<u8>,
}

impl Spec {
    fn good() -> Self {
        Self {
            status: tlv(0x80, &[]),
            this_update: NOW - Duration::hours(1),
            next_update: Some(NOW + Duration::days(1)),
            nonce: None,
            serial: vec![0x01, 0x23, 0x45],
        }
    }
}

/// Builds and signs an OCSPResponse about `pki.leaf`, signed by `signer`
/// (its key and certificate); `include` embeds the signer's certificate.
fn response(
    pki: &Pki,
    spec: &Spec,
    signer_key: &KeyPair,
    signer: &Certificate,
    include: bool,
) -> Vec<u8> {
    let sha1 = |b: &[u8]| {
        digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b)
            .as_ref()
            .to_vec()
    };
    let cert_id = seq(&[
        seq(&[oid("1.3.14.3.2.26"), tlv(0x05, &[])]),
        tlv(0x04, &sha1(&pki.ca.subject.der)),
        tlv(0x04, &sha1(&pki.ca.public_key.key)),
        tlv(0x02, &spec.serial),
    ]);
    let mut single = vec![cert_id, spec.status.clone(), gentime(spec.this_update)];
    if let Some(next) = spec.next_update {
        single.push(tlv(0xa0, &gentime(next)));
    }
    let mut data = vec![
        tlv(0xa2, &tlv(0x04, &sha1(&signer.public_key.key))),
        gentime(NOW - Duration::minutes(5)),
        seq(&[seq(&single)]),
    ];
    if let Some(nonce) = &spec.nonce {
        data.push(tlv(
            0xa1,
            &seq(&[seq(&[
                oid("1.3.6.1.5.5.7.48.1.2"),
                tlv(0x04, &tlv(0x04, nonce)),
            ])]),
        ));
    }
    let tbs = seq(&data);
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_ASN1_SIGNING,
        &signer_key.serialize_der(),
        &rng,
    )
    .unwrap();
    let signature = key.sign(&rng, &tbs).unwrap();
    let mut bit_string = vec![0u8];
    bit_string.extend_from_slice(signature.as_ref());
    let mut basic = vec![
        tbs,
        seq(&[oid("1.2.840.10045.4.3.2")]),
        tlv(0x03, &bit_string),
    ];
    if include {
        basic.push(tlv(0xa0, &seq(std::slice::from_ref(&signer.der))));
    }
    let basic = seq(&basic);
    seq(&[
        tlv(0x0a, &[0]),
        tlv(
            0xa0,
            &seq(&[oid("1.3.6.1.5.5.7.48.1.1"), tlv(0x04, &basic)]),
        ),
    ])
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
    let r = response(&pki, &Spec::good(), &pki.ca_key, &pki.ca, false);
    validate(&pki, vec![r], None).unwrap();
}

#[test]
fn delegated_responder_needs_ocsp_signing() {
    let pki = pki();
    let r = response(
        &pki,
        &Spec::good(),
        &pki.responder_key,
        &pki.responder,
        true,
    );
    validate(&pki, vec![r], None).unwrap();

    let rogue = response(
        &pki,
        &Spec::good(),
        &pki.rogue_key,
        &pki.rogue_responder,
        true,
    );
    let err = validate(&pki, vec![rogue], None).unwrap_err();
    assert!(
        matches!(err, CertError::RevocationUnavailable { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("OCSPSigning"), "{err}");

    // A responder certificate that is not included cannot be checked.
    let hidden = response(
        &pki,
        &Spec::good(),
        &pki.responder_key,
        &pki.responder,
        false,
    );
    assert!(validate(&pki, vec![hidden], None).is_err());
}

#[test]
fn revoked_and_held_certificates_are_rejected() {
    let pki = pki();
    let mut spec = Spec::good();
    let mut revoked = gentime(NOW - Duration::days(2));
    revoked.extend(tlv(0xa0, &tlv(0x0a, &[6])));
    spec.status = tlv(0xa1, &revoked);
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
    let mut spec = Spec::good();
    spec.status = tlv(0x82, &[]);
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
    let mut stale = Spec::good();
    stale.this_update = NOW - Duration::days(3);
    stale.next_update = Some(NOW - Duration::days(1));
    let mut future = Spec::good();
    future.this_update = NOW + Duration::hours(1);
    let mut old_without_next = Spec::good();
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
    let mut spec = Spec::good();
    spec.serial = vec![0x09];
    let r = response(&pki, &spec, &pki.ca_key, &pki.ca, false);
    assert!(matches!(
        validate(&pki, vec![r], None).unwrap_err(),
        CertError::RevocationUnavailable { .. }
    ));
}

#[test]
fn nonce_must_match_when_requested() {
    let pki = pki();
    let mut spec = Spec::good();
    spec.nonce = Some(b"0123456789abcdef".to_vec());
    let r = response(&pki, &spec, &pki.ca_key, &pki.ca, false);
    validate(&pki, vec![r.clone()], Some(b"0123456789abcdef".to_vec())).unwrap();
    assert!(validate(&pki, vec![r], Some(b"another nonce...".to_vec())).is_err());
    let without = response(&pki, &Spec::good(), &pki.ca_key, &pki.ca, false);
    assert!(validate(&pki, vec![without], Some(b"0123456789abcdef".to_vec())).is_err());
}

#[test]
fn tampered_signature_is_rejected() {
    let pki = pki();
    let mut r = response(&pki, &Spec::good(), &pki.ca_key, &pki.ca, false);
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
    let try_later = seq(&[tlv(0x0a, &[3])]);
    let err = OcspResponse::from_der(&try_later).unwrap_err();
    assert!(err.to_string().contains("tryLater"), "{err}");
    let pki = pki();
    let good = response(&pki, &Spec::good(), &pki.ca_key, &pki.ca, false);
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
