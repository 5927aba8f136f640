//! Test fixtures for code that checks certificates with this crate: DER
//! OCSP responses about a certificate, signed with a test key, that
//! [`OcspResponse::from_der`](super::OcspResponse::from_der) parses and
//! [`TrustStore::validate_with`](super::TrustStore::validate_with) uses.
//!
//! Compiled for this crate's own tests and with the `testing` feature (for
//! other crates' tests); never for production. The functions panic on bad
//! test input (a key that is not an ECDSA P-256 PKCS#8 document).
//!
//! ```
//! # fn demo(leaf: &eid_core::cert::Certificate, ca: &eid_core::cert::Certificate,
//! #         ca_key_pkcs8: &[u8], now: time::OffsetDateTime) {
//! use eid_core::cert::testing::{TestOcspStatus, ocsp_response};
//! let der = ocsp_response(leaf, ca, ca_key_pkcs8, TestOcspStatus::Good,
//!     now - time::Duration::hours(1), Some(now + time::Duration::days(1)));
//! # let _ = der; }
//! ```

use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
use time::OffsetDateTime;

use super::Certificate;
use super::der::write;
use super::ocsp;

/// ecdsa-with-SHA256 as arcs.
const ECDSA_WITH_SHA256: &[u64] = &[1, 2, 840, 10045, 4, 3, 2];

/// The status a test response gives (RFC 6960 CertStatus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOcspStatus {
    /// good.
    Good,
    /// revoked.
    Revoked {
        /// revocationTime.
        at: OffsetDateTime,
        /// revocationReason, a CRLReason code (1 keyCompromise, 6
        /// certificateHold, ...), when given.
        reason: Option<u8>,
    },
    /// unknown.
    Unknown,
}

/// Everything a test response says besides whom it is about and who signs
/// it. [`OcspResponseSpec::new`] fills in the usual values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspResponseSpec {
    /// The certificate's status.
    pub status: TestOcspStatus,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate, if any.
    pub next_update: Option<OffsetDateTime>,
    /// producedAt.
    pub produced_at: OffsetDateTime,
    /// The nonce extension's value, if any (encoded as RFC 8954 says: an
    /// OCTET STRING inside extnValue).
    pub nonce: Option<Vec<u8>>,
    /// The CertID's serialNumber (INTEGER content octets) when it should not
    /// be the certificate's own, to make a response about another
    /// certificate.
    pub serial: Option<Vec<u8>>,
    /// Whether to include the signer's certificate in the response (as a
    /// delegated responder must).
    pub include_signer: bool,
}

impl OcspResponseSpec {
    /// A response giving `status`, produced at `this_update`, with no nonce,
    /// about the certificate's own serial, without certificates.
    pub fn new(
        status: TestOcspStatus,
        this_update: OffsetDateTime,
        next_update: Option<OffsetDateTime>,
    ) -> Self {
        Self {
            status,
            this_update,
            next_update,
            produced_at: this_update,
            nonce: None,
            serial: None,
            include_signer: false,
        }
    }
}

/// A DER OCSPResponse (successful, id-pkix-ocsp-basic) about `cert` issued
/// by `issuer`, signed ecdsa-with-SHA256 by the issuer itself with
/// `issuer_key_pkcs8` (an ECDSA P-256 PKCS#8 DER document, as rcgen's
/// `KeyPair::serialize_der` gives), its responderID byKey, its CertID SHA-1
/// (as [`ocsp_request`](super::ocsp_request) asks), producedAt equal to
/// `this_update`.
///
/// # Panics
///
/// When `issuer_key_pkcs8` is not an ECDSA P-256 PKCS#8 document.
pub fn ocsp_response(
    cert: &Certificate,
    issuer: &Certificate,
    issuer_key_pkcs8: &[u8],
    status: TestOcspStatus,
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
) -> Vec<u8> {
    ocsp_response_with(
        cert,
        issuer,
        &OcspResponseSpec::new(status, this_update, next_update),
        issuer,
        issuer_key_pkcs8,
    )
}

/// Like [`ocsp_response`], with every field of `spec`, signed by `signer`
/// (the issuer, a delegated responder, or anyone else) with
/// `signer_key_pkcs8` (ECDSA P-256, PKCS#8 DER). The responderID is the
/// SHA-1 of `signer`'s public key.
///
/// # Panics
///
/// When `signer_key_pkcs8` is not an ECDSA P-256 PKCS#8 document.
pub fn ocsp_response_with(
    cert: &Certificate,
    issuer: &Certificate,
    spec: &OcspResponseSpec,
    signer: &Certificate,
    signer_key_pkcs8: &[u8],
) -> Vec<u8> {
    let cert_id = ocsp::cert_id(spec.serial.as_deref().unwrap_or(&cert.serial), issuer);
    let status = match spec.status {
        TestOcspStatus::Good => write::tlv(0x80, &[]),
        TestOcspStatus::Revoked { at, reason } => {
            let mut info = write::generalized_time(at);
            if let Some(code) = reason {
                info.extend(write::tlv(0xa0, &write::tlv(0x0a, &[code])));
            }
            write::tlv(0xa1, &info)
        }
        TestOcspStatus::Unknown => write::tlv(0x82, &[]),
    };
    let mut single = vec![cert_id, status, write::generalized_time(spec.this_update)];
    if let Some(next) = spec.next_update {
        single.push(write::tlv(0xa0, &write::generalized_time(next)));
    }
    let key_hash = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &signer.public_key.key);
    let mut data = vec![
        write::tlv(0xa2, &write::octet_string(key_hash.as_ref())),
        write::generalized_time(spec.produced_at),
        write::seq(&[write::seq(&single)]),
    ];
    if let Some(nonce) = &spec.nonce {
        let extension = write::seq(&[
            write::oid(ocsp::NONCE_ARCS),
            write::octet_string(&write::octet_string(nonce)),
        ]);
        data.push(write::tlv(0xa1, &write::seq(&[extension])));
    }
    let tbs = write::seq(&data);
    let mut bit_string = vec![0u8];
    bit_string.extend(sign_p256(signer_key_pkcs8, &tbs));
    let mut basic = vec![
        tbs,
        write::seq(&[write::oid(ECDSA_WITH_SHA256)]),
        write::tlv(0x03, &bit_string),
    ];
    if spec.include_signer {
        basic.push(write::tlv(
            0xa0,
            &write::seq(std::slice::from_ref(&signer.der)),
        ));
    }
    write::seq(&[
        write::tlv(0x0a, &[0]),
        write::tlv(
            0xa0,
            &write::seq(&[
                write::oid(ocsp::BASIC_ARCS),
                write::octet_string(&write::seq(&basic)),
            ]),
        ),
    ])
}

/// An unsuccessful OCSPResponse: only its responseStatus, `code` (1
/// malformedRequest, 2 internalError, 3 tryLater, 5 sigRequired, 6
/// unauthorized).
pub fn ocsp_error_response(code: u8) -> Vec<u8> {
    write::seq(&[write::tlv(0x0a, &[code])])
}

/// An ASN.1 ECDSA P-256 SHA-256 signature of `message`.
#[allow(clippy::expect_used)] // test fixtures: bad test input is a panic
fn sign_p256(key_pkcs8: &[u8], message: &[u8]) -> Vec<u8> {
    let rng = SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key_pkcs8, &rng)
        .expect("the test signing key must be an ECDSA P-256 PKCS#8 document");
    key.sign(&rng, message)
        .expect("ECDSA signing with a valid key")
        .as_ref()
        .to_vec()
}
