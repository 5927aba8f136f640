//! OCSP (RFC 6960): requests ([`ocsp_request`]), and responses: parsing of
//! the basic response, certificate ID matching, signature by the CA or by a
//! delegated responder carrying id-kp-OCSPSigning, thisUpdate/nextUpdate
//! against the validation time, and the nonce when one was requested.

use ring::digest;
use time::{Duration, OffsetDateTime};

use super::CertError;
use super::der::{self, write};
use super::model::{Algorithm, Certificate, oid};
use super::signature;

/// Largest OCSP response accepted, in bytes.
pub const MAX_OCSP_SIZE: usize = 256 * 1024;

/// How long a response without nextUpdate is taken as current.
pub const MAX_AGE_WITHOUT_NEXT_UPDATE: Duration = Duration::days(7);

const BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
const NONCE: &str = "1.3.6.1.5.5.7.48.1.2";
/// [`BASIC`] as arcs, for the writer.
#[cfg(any(test, feature = "testing"))]
pub(crate) const BASIC_ARCS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 1];
/// [`NONCE`] as arcs, for the writer.
pub(crate) const NONCE_ARCS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 2];
/// id-sha1 (the CertID hash RFC 5019 prescribes) as arcs.
const SHA1_ARCS: &[u64] = &[1, 3, 14, 3, 2, 26];

/// A DER `OCSPRequest` (RFC 6960 4.1.1) for the status of `cert`, issued by
/// `issuer`: one Request, unsigned, its CertID hashed with SHA-1 as RFC 5019
/// prescribes (issuerNameHash over the issuer's subject Name DER,
/// issuerKeyHash over the issuer's subjectPublicKey bits, serialNumber as
/// encoded in `cert`). With a `nonce`, the request carries the
/// id-pkix-ocsp-nonce extension (RFC 8954: 1 to 32 octets; the bytes are
/// encoded as given), which the response must then echo: pass the same
/// nonce as [`Revocation::ocsp_nonce`](super::Revocation::ocsp_nonce).
pub fn ocsp_request(cert: &Certificate, issuer: &Certificate, nonce: Option<&[u8]>) -> Vec<u8> {
    let request = write::seq(&[cert_id(&cert.serial, issuer)]);
    let mut tbs = vec![write::seq(&[request])];
    if let Some(nonce) = nonce {
        let extension = write::seq(&[
            write::oid(NONCE_ARCS),
            write::octet_string(&write::octet_string(nonce)),
        ]);
        tbs.push(write::tlv(0xa2, &write::seq(&[extension])));
    }
    write::seq(&[write::seq(&tbs)])
}

/// The SHA-1 CertID of the certificate with serial number `serial` (INTEGER
/// content octets) issued by `issuer`, as in requests and in the responses
/// [`SingleResponse::matches`] recognises.
pub(crate) fn cert_id(serial: &[u8], issuer: &Certificate) -> Vec<u8> {
    let (name_hash, key_hash) = issuer_hashes(&digest::SHA1_FOR_LEGACY_USE_ONLY, issuer);
    write::seq(&[
        write::seq(&[write::oid(SHA1_ARCS), write::null()]),
        write::octet_string(name_hash.as_ref()),
        write::octet_string(key_hash.as_ref()),
        write::tlv(0x02, serial),
    ])
}

/// issuerNameHash and issuerKeyHash of a CertID: the hash of the issuer's
/// subject Name DER, and of its subjectPublicKey BIT STRING's value without
/// the unused-bits octet.
fn issuer_hashes(
    alg: &'static digest::Algorithm,
    issuer: &Certificate,
) -> (digest::Digest, digest::Digest) {
    (
        digest::digest(alg, &issuer.subject.der),
        digest::digest(alg, &issuer.public_key.key),
    )
}

/// Checks a signature (algorithm, signer, signed bytes, signature), counting
/// it against the validation budget.
pub(crate) type SignerVerifier<'a> =
    dyn FnMut(&Algorithm, &Certificate, &[u8], &[u8]) -> Result<(), CertError> + 'a;

/// A certificate's status in one SingleResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcspStatus {
    /// Not revoked.
    Good,
    /// Revoked, with the CRLReason code when given.
    Revoked {
        /// When.
        at: OffsetDateTime,
        /// CRLReason code.
        reason: Option<u8>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// One SingleResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleResponse {
    hash_algorithm: String,
    issuer_name_hash: Vec<u8>,
    issuer_key_hash: Vec<u8>,
    serial: Vec<u8>,
    /// The status.
    pub status: OcspStatus,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate, when present.
    pub next_update: Option<OffsetDateTime>,
}

/// The responder, as the response names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ResponderId {
    /// DER of the responder's Name.
    ByName(Vec<u8>),
    /// SHA-1 of the responder's public key bits.
    ByKey(Vec<u8>),
}

/// A parsed, successful basic OCSP response.
#[derive(Debug, Clone)]
pub struct OcspResponse {
    /// The response's DER.
    pub der: Vec<u8>,
    tbs: Vec<u8>,
    signature_algorithm: Algorithm,
    signature: Vec<u8>,
    responder: ResponderId,
    /// producedAt.
    pub produced_at: OffsetDateTime,
    /// The SingleResponses.
    pub responses: Vec<SingleResponse>,
    /// The nonce extension's value, when present.
    pub nonce: Option<Vec<u8>>,
    /// Certificates included to help verify the signature.
    pub certs: Vec<Certificate>,
}

fn malformed(detail: &str) -> CertError {
    CertError::Malformed {
        what: "OCSP response",
        detail: detail.to_owned(),
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

impl OcspResponse {
    /// Parses a DER OCSPResponse. Only `successful` responses of type
    /// id-pkix-ocsp-basic are accepted; the others are errors naming their
    /// status.
    pub fn from_der(input: &[u8]) -> Result<Self, CertError> {
        Self::parse(input).map_err(|e| match e {
            CertError::Malformed {
                what: "DER",
                detail,
            } => CertError::Malformed {
                what: "OCSP response",
                detail,
            },
            other => other,
        })
    }

    fn parse(input: &[u8]) -> Result<Self, CertError> {
        if input.len() > MAX_OCSP_SIZE {
            return Err(CertError::TooLarge {
                what: "OCSP response",
                size: input.len(),
                limit: MAX_OCSP_SIZE,
            });
        }
        let (outer, rest) = der::expect(input, 0x30, "OCSPResponse")?;
        if !rest.is_empty() {
            return Err(malformed("trailing bytes"));
        }
        let (status, rest) = der::expect(outer.content, 0x0a, "responseStatus")?;
        match status.content {
            [0] => {}
            [code] => {
                let name = match code {
                    1 => "malformedRequest",
                    2 => "internalError",
                    3 => "tryLater",
                    5 => "sigRequired",
                    6 => "unauthorized",
                    _ => "unknown",
                };
                return Err(CertError::BadRevocationData {
                    detail: format!("OCSP responder answered {name}"),
                });
            }
            _ => return Err(malformed("bad responseStatus")),
        }
        let (bytes, _) = der::expect(rest, 0xa0, "responseBytes")?;
        let (bytes, _) = der::expect(bytes.content, 0x30, "ResponseBytes")?;
        let (kind, rest) = der::expect(bytes.content, 0x06, "responseType")?;
        if der::oid(kind.content)? != BASIC {
            return Err(malformed("not a basic OCSP response"));
        }
        let (basic_octets, _) = der::expect(rest, 0x04, "response")?;
        let (basic, trailing) = der::expect(basic_octets.content, 0x30, "BasicOCSPResponse")?;
        if !trailing.is_empty() {
            return Err(malformed("trailing bytes in BasicOCSPResponse"));
        }
        let (tbs, rest) = der::expect(basic.content, 0x30, "ResponseData")?;
        let (alg, rest) = der::expect(rest, 0x30, "signatureAlgorithm")?;
        let (sig, rest) = der::expect(rest, 0x03, "signature")?;
        let signature = match sig.content {
            [0, bits @ ..] => bits.to_vec(),
            _ => return Err(malformed("signature has unused bits")),
        };
        let mut certs = Vec::new();
        if !rest.is_empty() {
            let (wrapper, _) = der::expect(rest, 0xa0, "certs")?;
            let (list, _) = der::expect(wrapper.content, 0x30, "certs sequence")?;
            for tlv in der::all(list.content)? {
                certs.push(Certificate::from_der(tlv.raw)?);
            }
        }
        let signature_algorithm = algorithm(alg.raw)?;

        // ResponseData
        let mut fields = der::all(tbs.content)?.into_iter().peekable();
        if fields.peek().is_some_and(|f| f.tag == 0xa0) {
            let version = fields.next().map(|f| f.content).unwrap_or_default();
            if version != [0x02, 0x01, 0x00] {
                return Err(malformed("unsupported ResponseData version"));
            }
        }
        let responder = match fields.next() {
            Some(f) if f.tag == 0xa1 => ResponderId::ByName(f.content.to_vec()),
            Some(f) if f.tag == 0xa2 => {
                let (hash, _) = der::expect(f.content, 0x04, "KeyHash")?;
                ResponderId::ByKey(hash.content.to_vec())
            }
            _ => return Err(malformed("bad responderID")),
        };
        let produced_at = match fields.next() {
            Some(f) if f.tag == 0x18 => der::generalized_time(f.content)?,
            _ => return Err(malformed("bad producedAt")),
        };
        let responses = match fields.next() {
            Some(f) if f.tag == 0x30 => der::all(f.content)?
                .into_iter()
                .map(|r| single_response(r.content))
                .collect::<Result<Vec<_>, _>>()?,
            _ => return Err(malformed("bad responses")),
        };
        let mut nonce = None;
        if let Some(f) = fields.next() {
            if f.tag != 0xa1 {
                return Err(malformed("unexpected field in ResponseData"));
            }
            nonce = extensions(f.content)?;
        }
        if fields.next().is_some() {
            return Err(malformed("trailing fields in ResponseData"));
        }
        Ok(Self {
            der: input.to_vec(),
            tbs: tbs.raw.to_vec(),
            signature_algorithm,
            signature,
            responder,
            produced_at,
            responses,
            nonce,
            certs,
        })
    }

    /// What this response says about `cert`, issued by `issuer`, at `at`.
    /// Returns `None` when the response has no SingleResponse for it; errors
    /// when the response is for it but unusable.
    pub(crate) fn status_of(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        at: OffsetDateTime,
        nonce: Option<&[u8]>,
        verify: &mut SignerVerifier<'_>,
    ) -> Result<Option<OcspStatus>, CertError> {
        let Some(single) = self.responses.iter().find(|r| r.matches(cert, issuer)) else {
            return Ok(None);
        };
        let bad = |detail: String| CertError::BadRevocationData { detail };
        if let Some(expected) = nonce
            && self.nonce.as_deref() != Some(expected)
        {
            return Err(bad("OCSP response nonce does not match the request".into()));
        }
        self.check_signer(issuer, at, verify)?;
        if single.this_update > at {
            return Err(bad(format!(
                "OCSP response not valid before {}",
                single.this_update
            )));
        }
        match single.next_update {
            Some(next) if next < at => {
                return Err(bad(format!("OCSP response expired at {next}")));
            }
            None if at - single.this_update > MAX_AGE_WITHOUT_NEXT_UPDATE => {
                return Err(bad(
                    "OCSP response without nextUpdate is older than 7 days".into()
                ));
            }
            _ => {}
        }
        Ok(Some(single.status.clone()))
    }

    /// The response must be signed by the issuer itself, or by a responder
    /// certificate the issuer signed for OCSP signing.
    fn check_signer(
        &self,
        issuer: &Certificate,
        at: OffsetDateTime,
        verify: &mut SignerVerifier<'_>,
    ) -> Result<(), CertError> {
        if self.names(issuer) {
            return verify(
                &self.signature_algorithm,
                issuer,
                &self.tbs,
                &self.signature,
            );
        }
        let Some(responder) = self.certs.iter().find(|c| self.names(c)) else {
            return Err(CertError::BadRevocationData {
                detail: "OCSP response signed by an unknown responder".into(),
            });
        };
        let bad = |detail: &str| CertError::BadRevocationData {
            detail: format!("OCSP responder {}: {detail}", responder.subject),
        };
        if !responder.issuer.matches(&issuer.subject) {
            return Err(bad("not issued by the certificate's issuer"));
        }
        if !responder
            .extended_key_usage
            .as_ref()
            .is_some_and(|ekus| ekus.iter().any(|e| e == oid::EKU_OCSP_SIGNING))
        {
            return Err(bad("lacks id-kp-OCSPSigning"));
        }
        if at < responder.not_before || at > responder.not_after {
            return Err(bad("not valid at the validation time"));
        }
        if responder.signature_algorithm != responder.tbs_signature_algorithm {
            return Err(bad("signature algorithm mismatch"));
        }
        verify(
            &responder.signature_algorithm,
            issuer,
            &responder.tbs,
            &responder.signature,
        )
        .map_err(|e| bad(&e.to_string()))?;
        verify(
            &self.signature_algorithm,
            responder,
            &self.tbs,
            &self.signature,
        )
    }

    /// Whether the responderID names `cert`.
    fn names(&self, cert: &Certificate) -> bool {
        match &self.responder {
            ResponderId::ByName(name) => *name == cert.subject.der,
            ResponderId::ByKey(hash) => {
                digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.public_key.key).as_ref()
                    == hash.as_slice()
            }
        }
    }
}

impl SingleResponse {
    /// Whether this is the status of `cert`, issued by `issuer`: same serial
    /// and same issuer name and key hashes (SHA-1 or SHA-2).
    pub(crate) fn matches(&self, cert: &Certificate, issuer: &Certificate) -> bool {
        let alg = match self.hash_algorithm.as_str() {
            "1.3.14.3.2.26" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            "2.16.840.1.101.3.4.2.1" => &digest::SHA256,
            "2.16.840.1.101.3.4.2.2" => &digest::SHA384,
            "2.16.840.1.101.3.4.2.3" => &digest::SHA512,
            _ => return false,
        };
        let (name_hash, key_hash) = issuer_hashes(alg, issuer);
        strip_zeros(&self.serial) == strip_zeros(&cert.serial)
            && name_hash.as_ref() == self.issuer_name_hash.as_slice()
            && key_hash.as_ref() == self.issuer_key_hash.as_slice()
    }
}

fn algorithm(raw: &[u8]) -> Result<Algorithm, CertError> {
    use x509_parser::prelude::FromDer;
    let (_, alg) = x509_parser::x509::AlgorithmIdentifier::from_der(raw)
        .map_err(|_| malformed("bad AlgorithmIdentifier"))?;
    Ok(Algorithm::from_x509(&alg))
}

fn single_response(input: &[u8]) -> Result<SingleResponse, CertError> {
    let (cert_id, rest) = der::expect(input, 0x30, "CertID")?;
    let (hash_alg, id_rest) = der::expect(cert_id.content, 0x30, "hashAlgorithm")?;
    let (hash_oid, _) = der::expect(hash_alg.content, 0x06, "hash OID")?;
    let (name_hash, id_rest) = der::expect(id_rest, 0x04, "issuerNameHash")?;
    let (key_hash, id_rest) = der::expect(id_rest, 0x04, "issuerKeyHash")?;
    let (serial, _) = der::expect(id_rest, 0x02, "serialNumber")?;
    let (status_tlv, rest) = der::read(rest)?;
    let status = match status_tlv.tag {
        0x80 => OcspStatus::Good,
        0xa1 => {
            let (time_tlv, reason_rest) = der::expect(status_tlv.content, 0x18, "revocationTime")?;
            let reason = if reason_rest.is_empty() {
                None
            } else {
                let (wrapper, _) = der::expect(reason_rest, 0xa0, "revocationReason")?;
                let (code, _) = der::expect(wrapper.content, 0x0a, "CRLReason")?;
                code.content.first().copied()
            };
            OcspStatus::Revoked {
                at: der::generalized_time(time_tlv.content)?,
                reason,
            }
        }
        0x82 => OcspStatus::Unknown,
        _ => return Err(malformed("bad certStatus")),
    };
    let (this_update, rest) = der::expect(rest, 0x18, "thisUpdate")?;
    let mut next_update = None;
    for field in der::all(rest)? {
        match field.tag {
            0xa0 => {
                let (t, _) = der::expect(field.content, 0x18, "nextUpdate")?;
                next_update = Some(der::generalized_time(t.content)?);
            }
            0xa1 => {
                extensions(field.content)?;
            }
            _ => return Err(malformed("unexpected field in SingleResponse")),
        }
    }
    Ok(SingleResponse {
        hash_algorithm: der::oid(hash_oid.content)?,
        issuer_name_hash: name_hash.content.to_vec(),
        issuer_key_hash: key_hash.content.to_vec(),
        serial: serial.content.to_vec(),
        status,
        this_update: der::generalized_time(this_update.content)?,
        next_update,
    })
}

/// Reads an Extensions wrapper's content; returns the nonce when present.
/// Unknown critical extensions make the response unusable.
pub(crate) fn extensions(input: &[u8]) -> Result<Option<Vec<u8>>, CertError> {
    let (list, _) = der::expect(input, 0x30, "Extensions")?;
    let mut nonce = None;
    for ext in der::all(list.content)? {
        let (id, rest) = der::expect(ext.content, 0x06, "extnID")?;
        let id = der::oid(id.content)?;
        let (next, rest2) = der::read(rest)?;
        let (critical, value) = if next.tag == 0x01 {
            let (value, _) = der::expect(rest2, 0x04, "extnValue")?;
            (next.content == [0xff], value)
        } else if next.tag == 0x04 {
            (false, next)
        } else {
            return Err(malformed("bad Extension"));
        };
        if id == NONCE {
            // The value is an OCTET STRING holding the nonce (RFC 8954);
            // some responders put the bytes directly.
            nonce = Some(match der::read(value.content) {
                Ok((inner, [])) if inner.tag == 0x04 => inner.content.to_vec(),
                _ => value.content.to_vec(),
            });
        } else if critical {
            return Err(CertError::UnknownCriticalExtension { oid: id });
        }
    }
    Ok(nonce)
}

/// Verifies `signature` over `tbs` with `signer`'s key; shared by the
/// validator's budgeted verifier.
pub(crate) fn verify_with(
    alg: &Algorithm,
    signer: &Certificate,
    tbs: &[u8],
    sig: &[u8],
) -> Result<(), CertError> {
    signature::verify(alg, &signer.public_key, tbs, sig, &signer.subject)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_oids_are_the_ones_read() {
        for (arcs, dotted) in [
            (BASIC_ARCS, BASIC),
            (NONCE_ARCS, NONCE),
            (SHA1_ARCS, "1.3.14.3.2.26"),
        ] {
            let encoded = write::oid(arcs);
            let (tlv, rest) = der::expect(&encoded, 0x06, "OID").expect("own encoding");
            assert!(rest.is_empty());
            assert_eq!(der::oid(tlv.content).expect("own OID"), dotted);
        }
    }
}
