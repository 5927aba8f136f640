//! Who a validated end-entity certificate identifies.
//!
//! Hongkong Post e-Cert style personal certificates name the holder in the
//! subject's commonName and carry a subscriber reference number; where a
//! certificate carries it, the subject's serialNumber attribute is taken as
//! that reference. The HKID number itself is never in an e-Cert (only a
//! hash of it, in a CA-specific form), so no HKID field is derived here.

use super::model::{Certificate, GeneralName, oid};

/// The identity a validated certificate asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedIdentity {
    /// The subject distinguished name, as text.
    pub subject: String,
    /// The subject's commonName (the holder's name on e-Certs).
    pub common_name: Option<String>,
    /// The subscriber reference number (subject serialNumber attribute).
    pub subscriber_reference: Option<String>,
    /// Email addresses from subjectAltName or the subject.
    pub emails: Vec<String>,
    /// The certificate's serial number, lowercase hex.
    pub serial: String,
    /// The issuer distinguished name, as text.
    pub issuer: String,
    /// Policy OIDs the certificate asserts.
    pub certificate_policies: Vec<String>,
    /// Valid policies of the whole path.
    pub path_policies: Vec<String>,
    /// End of the certificate's validity, RFC 3339.
    pub not_after: String,
}

impl CertifiedIdentity {
    /// Extracts the identity from a validated end-entity certificate.
    pub fn from_certificate(cert: &Certificate, path_policies: &[String]) -> Self {
        // Attribute values as encoded, never parsed back out of the display
        // string: a comma in a name must not truncate or forge it.
        let first = |oid: &str| {
            cert.subject
                .attribute_values(oid)
                .first()
                .map(|v| (*v).to_owned())
        };
        let mut emails: Vec<String> = cert
            .subject_alt_names
            .iter()
            .flatten()
            .filter_map(|n| match n {
                GeneralName::Email(e) => Some(e.clone()),
                _ => None,
            })
            .collect();
        if emails.is_empty() {
            emails = cert
                .subject
                .attribute_values(oid::EMAIL_ADDRESS)
                .into_iter()
                .map(str::to_owned)
                .collect();
        }
        Self {
            subject: cert.subject.display().to_owned(),
            common_name: first(oid::COMMON_NAME),
            subscriber_reference: first(oid::SERIAL_NUMBER),
            emails,
            serial: cert.serial_hex(),
            issuer: cert.issuer.display().to_owned(),
            certificate_policies: cert.policies.clone().unwrap_or_default(),
            path_policies: path_policies.to_vec(),
            not_after: cert
                .not_after
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}
