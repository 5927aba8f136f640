//! Certificate revocation lists (RFC 5280 5 and 6.3): parsing, scope
//! (issuer, partition by distribution point, user/CA-only), freshness,
//! signature, and lookup. certificateHold counts as revoked.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use time::OffsetDateTime;
use x509_parser::extensions::{DistributionPointName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::CertError;
use super::model::{Algorithm, Certificate, GeneralName, Name, hex};

/// Largest CRL accepted, in bytes.
pub const MAX_CRL_SIZE: usize = 16 * 1024 * 1024;

/// issuingDistributionPoint of a CRL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IssuingDistributionPoint {
    /// The partition's names (fullName).
    pub full_names: Vec<GeneralName>,
    /// onlyContainsUserCerts.
    pub only_user: bool,
    /// onlyContainsCACerts.
    pub only_ca: bool,
    /// onlySomeReasons, when present.
    pub only_some_reasons: Option<u16>,
    /// indirectCRL.
    pub indirect: bool,
    /// onlyContainsAttributeCerts.
    pub only_attribute: bool,
}

/// A revoked entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedEntry {
    /// Revocation time.
    pub revoked_at: OffsetDateTime,
    /// CRLReason code, when given.
    pub reason: Option<u8>,
}

/// A parsed CRL. Compared by its DER.
#[derive(Debug, Clone)]
pub struct Crl {
    /// The CRL's DER.
    pub der: Vec<u8>,
    tbs: Vec<u8>,
    signature_algorithm: Algorithm,
    signature: Vec<u8>,
    /// The CRL issuer's name.
    pub issuer: Name,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate, when present.
    pub next_update: Option<OffsetDateTime>,
    /// cRLNumber bytes, when present.
    pub number: Option<Vec<u8>>,
    /// authorityKeyIdentifier's key id.
    pub authority_key_id: Option<Vec<u8>>,
    /// issuingDistributionPoint, when present.
    pub issuing_distribution_point: Option<IssuingDistributionPoint>,
    /// Revoked serials (leading zero bytes stripped) and their entries.
    pub revoked: HashMap<Vec<u8>, RevokedEntry>,
    /// The SubjectPublicKeyInfo that verified the signature, once it has:
    /// a CRL is checked against many certificates, its signature once.
    verified_by: OnceLock<Vec<u8>>,
}

impl PartialEq for Crl {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Crl {}

fn strip_zeros(serial: &[u8]) -> Vec<u8> {
    let first = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    serial[first..].to_vec()
}

/// The name of a CRLReason code.
pub fn reason_name(code: Option<u8>) -> &'static str {
    match code {
        None | Some(0) => "unspecified",
        Some(1) => "keyCompromise",
        Some(2) => "cACompromise",
        Some(3) => "affiliationChanged",
        Some(4) => "superseded",
        Some(5) => "cessationOfOperation",
        Some(6) => "certificateHold",
        Some(8) => "removeFromCRL",
        Some(9) => "privilegeWithdrawn",
        Some(10) => "aACompromise",
        Some(_) => "unknown",
    }
}

fn malformed(detail: impl ToString) -> CertError {
    CertError::Malformed {
        what: "CRL",
        detail: detail.to_string(),
    }
}

impl Crl {
    /// Parses a DER CRL. Delta CRLs, indirect entries (certificateIssuer)
    /// and unknown critical extensions are rejected.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        super::der::check_signed(
            der,
            "CRL",
            MAX_CRL_SIZE,
            super::der::tbs_cert_list_algorithm,
        )?;
        let (rest, crl) = CertificateRevocationList::from_der(der).map_err(malformed)?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes", rest.len())));
        }
        let tbs = &crl.tbs_cert_list;
        if Algorithm::from_x509(&tbs.signature) != Algorithm::from_x509(&crl.signature_algorithm) {
            return Err(CertError::SignatureAlgorithmMismatch);
        }
        let mut out = Crl {
            der: der.to_vec(),
            tbs: tbs.as_ref().to_vec(),
            signature_algorithm: Algorithm::from_x509(&crl.signature_algorithm),
            signature: crl.signature_value.data.to_vec(),
            issuer: Name::from_x509(&tbs.issuer),
            this_update: tbs.this_update.to_datetime(),
            next_update: tbs.next_update.map(|t| t.to_datetime()),
            number: None,
            authority_key_id: None,
            issuing_distribution_point: None,
            revoked: HashMap::new(),
            verified_by: OnceLock::new(),
        };
        let mut seen = HashSet::new();
        for ext in tbs.extensions() {
            let oid = ext.oid.to_id_string();
            if !seen.insert(oid.clone()) {
                return Err(CertError::DuplicateExtension { oid });
            }
            match ext.parsed_extension() {
                ParsedExtension::CRLNumber(n) => {
                    if ext.critical {
                        return Err(CertError::InvalidExtension {
                            oid,
                            detail: "cRLNumber must not be critical".to_owned(),
                        });
                    }
                    out.number = Some(n.to_bytes_be());
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    out.authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                ParsedExtension::IssuingDistributionPoint(idp) => {
                    let full_names = match &idp.distribution_point {
                        Some(DistributionPointName::FullName(names)) => {
                            names.iter().map(GeneralName::from_x509).collect()
                        }
                        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => {
                            return Err(CertError::UnknownCriticalExtension {
                                oid: "2.5.29.28 (nameRelativeToCRLIssuer)".to_owned(),
                            });
                        }
                        None => Vec::new(),
                    };
                    let point = IssuingDistributionPoint {
                        full_names,
                        only_user: idp.only_contains_user_certs,
                        only_ca: idp.only_contains_ca_certs,
                        only_some_reasons: idp.only_some_reasons.as_ref().map(|r| r.flags),
                        indirect: idp.indirect_crl,
                        only_attribute: idp.only_contains_attribute_certs,
                    };
                    check_idp_fields(ext.value, &point, idp.distribution_point.is_some()).map_err(
                        |detail| CertError::InvalidExtension {
                            oid: oid.clone(),
                            detail: detail.to_owned(),
                        },
                    )?;
                    out.issuing_distribution_point = Some(point);
                }
                ParsedExtension::ParseError { error } => {
                    return Err(CertError::InvalidExtension {
                        oid,
                        detail: error.to_string(),
                    });
                }
                _ if ext.critical => return Err(CertError::UnknownCriticalExtension { oid }),
                _ => {}
            }
        }
        if out.number.is_none() {
            return Err(malformed("no cRLNumber extension (RFC 5280 5.2.3)"));
        }
        for entry in tbs.revoked_certificates.iter() {
            let mut reason = None;
            for ext in entry.extensions() {
                match ext.parsed_extension() {
                    ParsedExtension::ReasonCode(code) => reason = Some(code.0),
                    ParsedExtension::ParseError { error } if ext.critical => {
                        return Err(malformed(error));
                    }
                    _ if ext.critical => {
                        return Err(CertError::UnknownCriticalExtension {
                            oid: ext.oid.to_id_string(),
                        });
                    }
                    _ => {}
                }
            }
            if reason == Some(8) {
                // removeFromCRL belongs in delta CRLs, which are not supported.
                return Err(malformed("removeFromCRL entry in a full CRL"));
            }
            let previous = out.revoked.insert(
                strip_zeros(entry.raw_serial()),
                RevokedEntry {
                    revoked_at: entry.revocation_date.to_datetime(),
                    reason,
                },
            );
            if previous.is_some() {
                return Err(malformed("a serial number is listed twice"));
            }
        }
        Ok(out)
    }

    /// Parses every CRL in a PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Vec<Self>, CertError> {
        super::der::from_pem_blocks(pem, "X509 CRL", Self::from_der)
    }
}

/// x509-parser skips the parts of an issuingDistributionPoint it cannot
/// read; a lost partition name would make a partition look like a complete
/// CRL. Every field (and every name of the partition) must have been read,
/// and default values must not be encoded (DER).
fn check_idp_fields(
    raw: &[u8],
    point: &IssuingDistributionPoint,
    has_name: bool,
) -> Result<(), &'static str> {
    let fields = super::der::count_fields(raw, 0x30).map_err(|_| "unreadable")?;
    let expected = usize::from(has_name)
        + usize::from(point.only_user)
        + usize::from(point.only_ca)
        + usize::from(point.only_some_reasons.is_some())
        + usize::from(point.indirect)
        + usize::from(point.only_attribute);
    if fields.len() != expected {
        return Err("unreadable or default-valued fields");
    }
    if !point.full_names.is_empty() {
        let name = fields.first().ok_or("missing distribution point")?;
        let choice = super::der::all(name.content).map_err(|_| "unreadable name")?;
        let [full_name] = choice.as_slice() else {
            return Err("unreadable distribution point name");
        };
        let names = super::der::all(full_name.content).map_err(|_| "unreadable names")?;
        if full_name.tag != 0xa0 || names.len() != point.full_names.len() {
            return Err("unreadable partition names");
        }
    }
    Ok(())
}

/// What the CRLs say about one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Status {
    /// A complete, fresh, correctly signed CRL does not list it.
    Good,
    /// Listed, with this reason name.
    Revoked(&'static str),
    /// No CRL could decide; why each was unusable.
    Unknown(String),
}

/// Checks a CRL signature (algorithm, signed bytes, signature) with the
/// issuer's key, counting it against the validation budget.
pub(crate) type CrlVerifier<'a> = dyn FnMut(&Algorithm, &[u8], &[u8]) -> Result<(), CertError> + 'a;

/// Looks up `cert` (issued by `issuer`) in the given CRLs at time `at`.
/// `verify` checks a CRL signature with the issuer's key and counts it
/// against the budget.
pub(crate) fn status(
    cert: &Certificate,
    issuer: &Certificate,
    crls: &[Crl],
    at: OffsetDateTime,
    verify: &mut CrlVerifier<'_>,
) -> Result<Status, CertError> {
    let mut why: Vec<String> = Vec::new();
    let mut good = false;
    let serial = strip_zeros(&cert.serial);
    for crl in crls {
        if !crl.issuer.matches(&cert.issuer) {
            continue;
        }
        if let (Some(crl_key), Some(issuer_key)) = (&crl.authority_key_id, &issuer.subject_key_id)
            && crl_key != issuer_key
        {
            why.push("CRL signed by another key of the issuer".into());
            continue;
        }
        let mut partial = false;
        if let Some(idp) = &crl.issuing_distribution_point {
            if idp.indirect || idp.only_attribute {
                why.push("indirect or attribute CRL (not supported)".into());
                continue;
            }
            if (idp.only_user && cert.is_ca()) || (idp.only_ca && !cert.is_ca()) {
                continue;
            }
            if !idp.full_names.is_empty() {
                let in_partition = cert.crl_distribution_points.iter().any(|dp| {
                    dp.full_names
                        .iter()
                        .any(|name| idp.full_names.contains(name))
                });
                if !in_partition {
                    continue;
                }
            }
            partial = idp.only_some_reasons.is_some();
        }
        if let Some(ku) = issuer.key_usage
            && !ku.crl_sign()
        {
            return Err(CertError::BadRevocationData {
                detail: format!(
                    "{} may not sign CRLs (keyUsage lacks cRLSign)",
                    issuer.subject
                ),
            });
        }
        let spki = &issuer.public_key.spki;
        if crl.verified_by.get() != Some(spki) {
            if let Err(e) = verify(&crl.signature_algorithm, &crl.tbs, &crl.signature) {
                if matches!(e, CertError::BudgetExceeded { .. }) {
                    return Err(e);
                }
                return Err(CertError::BadRevocationData {
                    detail: format!("CRL of {}: {e}", crl.issuer),
                });
            }
            let _ = crl.verified_by.set(spki.clone());
        }
        if crl.this_update > at {
            why.push(format!(
                "CRL of {} not valid before {}",
                crl.issuer, crl.this_update
            ));
            continue;
        }
        if let Some(next) = crl.next_update
            && next < at
        {
            why.push(format!("CRL of {} expired at {next}", crl.issuer));
            continue;
        }
        if let Some(entry) = crl.revoked.get(&serial) {
            return Ok(Status::Revoked(reason_name(entry.reason)));
        }
        if !partial {
            good = true;
        }
    }
    if good {
        return Ok(Status::Good);
    }
    if why.is_empty() {
        why.push(format!(
            "no CRL from {} covers serial {}",
            cert.issuer,
            hex(&cert.serial)
        ));
    }
    Ok(Status::Unknown(why.join("; ")))
}
