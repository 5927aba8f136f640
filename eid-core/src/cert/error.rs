//! Why a certificate, CRL or path was rejected.

use time::OffsetDateTime;

/// A certificate validation failure. Each variant is one reason, with the
/// facts an operator needs to see why; [`CertError::code`] gives a stable
/// `snake_case` code for APIs and logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    /// The bytes are not a DER certificate (or CRL) this parser accepts.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed (`certificate`, `CRL`, `PEM`).
        what: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// The input is larger than the validator accepts.
    #[error("{what} of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// An extension appears twice in one certificate or CRL.
    #[error("duplicate extension {oid}")]
    DuplicateExtension {
        /// The extension's OID.
        oid: String,
    },
    /// A critical extension this validator does not process.
    #[error("unsupported critical extension {oid}")]
    UnknownCriticalExtension {
        /// The extension's OID.
        oid: String,
    },
    /// A known extension whose content cannot be parsed.
    #[error("invalid extension {oid}: {detail}")]
    InvalidExtension {
        /// The extension's OID.
        oid: String,
        /// Why.
        detail: String,
    },
    /// The certificate's validity starts after the validation time.
    #[error("certificate {subject} is not valid before {not_before} (checked at {at})")]
    NotYetValid {
        /// The certificate's subject.
        subject: String,
        /// Start of its validity.
        not_before: OffsetDateTime,
        /// The validation time.
        at: OffsetDateTime,
    },
    /// The certificate's validity ended before the validation time.
    #[error("certificate {subject} expired at {not_after} (checked at {at})")]
    Expired {
        /// The certificate's subject.
        subject: String,
        /// End of its validity.
        not_after: OffsetDateTime,
        /// The validation time.
        at: OffsetDateTime,
    },
    /// The signature algorithm is known to be weak (MD2, MD5, SHA-1).
    #[error("weak signature algorithm {algorithm}")]
    WeakSignatureAlgorithm {
        /// The algorithm's name or OID.
        algorithm: String,
    },
    /// The signature algorithm (or its parameters) is not supported.
    #[error("unsupported signature algorithm {algorithm}")]
    UnsupportedSignatureAlgorithm {
        /// The algorithm's name or OID.
        algorithm: String,
    },
    /// The public key type or size is not supported (for example RSA under
    /// 2048 bits, or a curve other than P-256/P-384).
    #[error("unsupported public key: {detail}")]
    UnsupportedKey {
        /// What the key is.
        detail: String,
    },
    /// The signature algorithm inside the signed data differs from the outer one.
    #[error("signature algorithm mismatch between the signed part and the signature")]
    SignatureAlgorithmMismatch,
    /// The signature does not verify with the issuer's key.
    #[error("bad signature on {subject}")]
    BadSignature {
        /// The subject of the signed certificate (or the CRL issuer).
        subject: String,
    },
    /// No path from the certificate to a trust anchor was found.
    #[error("no issuer found for {subject} (issuer {issuer})")]
    UnknownIssuer {
        /// The certificate whose issuer is missing.
        subject: String,
        /// The issuer name it names.
        issuer: String,
    },
    /// A certificate used as an issuer is not a CA.
    #[error("{subject} issues certificates but is not a CA")]
    NotCa {
        /// The offending issuer.
        subject: String,
    },
    /// An issuer's key usage lacks keyCertSign.
    #[error("{subject} may not sign certificates (keyUsage lacks keyCertSign)")]
    KeyCertSignMissing {
        /// The offending issuer.
        subject: String,
    },
    /// The path is longer than an issuer's pathLenConstraint allows.
    #[error("path length constraint of {subject} exceeded")]
    PathLenExceeded {
        /// The CA whose constraint was exceeded.
        subject: String,
    },
    /// The path is longer than the validator's depth limit.
    #[error("path longer than {limit} certificates")]
    PathTooLong {
        /// The limit.
        limit: usize,
    },
    /// The work budget (signature checks or path-building steps) ran out.
    #[error("validation budget exhausted: {what}")]
    BudgetExceeded {
        /// Which budget.
        what: &'static str,
    },
    /// A name in a certificate is outside its issuers' name constraints.
    #[error("name {name} of {subject} violates a name constraint")]
    NameConstraintViolation {
        /// The certificate carrying the name.
        subject: String,
        /// The offending name.
        name: String,
    },
    /// Name constraints of a form this validator cannot check apply.
    #[error("unsupported name constraint: {detail}")]
    UnsupportedNameConstraint {
        /// Which form.
        detail: String,
    },
    /// No acceptable certificate policy on the path while one is required.
    #[error("no valid certificate policy on the path")]
    PolicyRequired,
    /// A policy mapping is malformed (maps to or from anyPolicy).
    #[error("invalid policy mapping in {subject}")]
    InvalidPolicyMapping {
        /// The certificate with the mapping.
        subject: String,
    },
    /// The end-entity certificate may not be used for the requested purpose
    /// (extended key usage).
    #[error("{subject} is not valid for {purpose} (extended key usage)")]
    WrongPurpose {
        /// The end-entity certificate.
        subject: String,
        /// The requested purpose.
        purpose: &'static str,
    },
    /// The end-entity certificate's key usage does not allow the purpose.
    #[error("{subject} key usage does not allow {purpose}")]
    KeyUsageNotAllowed {
        /// The end-entity certificate.
        subject: String,
        /// The requested purpose.
        purpose: &'static str,
    },
    /// A name is missing or malformed where RFC 5280 requires one.
    #[error("invalid name in {subject}: {detail}")]
    InvalidName {
        /// The certificate.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// A required extension is missing (authorityKeyIdentifier on a
    /// certificate below the anchor, subjectKeyIdentifier on a CA).
    #[error("{subject} lacks the required {extension} extension")]
    MissingExtension {
        /// The certificate.
        subject: String,
        /// The missing extension's name.
        extension: &'static str,
    },
    /// The certificate is revoked (certificateHold counts as revoked).
    #[error("certificate {subject} (serial {serial}) is revoked: {reason}")]
    Revoked {
        /// The certificate's subject.
        subject: String,
        /// Its serial number, hex.
        serial: String,
        /// The CRL or OCSP reason (`unspecified`, `keyCompromise`, `certificateHold`, ...).
        reason: String,
    },
    /// No usable CRL or OCSP response covers the certificate, and the policy
    /// is to fail closed.
    #[error("revocation status of {subject} is unavailable: {detail}")]
    RevocationUnavailable {
        /// The certificate's subject.
        subject: String,
        /// Why each source was unusable.
        detail: String,
    },
    /// Revocation data could not be fetched.
    #[error("cannot fetch {url}: {detail}")]
    RevocationFetch {
        /// Where from.
        url: String,
        /// Why not (timeout, HTTP status, size).
        detail: String,
    },
    /// A CRL or OCSP response is unusable (bad signature, stale, wrong issuer).
    #[error("unusable revocation data: {detail}")]
    BadRevocationData {
        /// Why.
        detail: String,
    },
    /// The certificate's version is not acceptable in its position (a v1 or
    /// v2 certificate used as an intermediate, or extensions in a v1/v2 certificate).
    #[error("certificate {subject} has unacceptable version {version}")]
    BadVersion {
        /// The certificate's subject.
        subject: String,
        /// The version number (1, 2 or 3).
        version: u32,
    },
    /// The serial number is not a positive integer of at most 20 octets.
    #[error("invalid serial number in {subject}")]
    BadSerial {
        /// The certificate's subject.
        subject: String,
    },
}

impl CertError {
    /// A stable, machine-readable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            CertError::Malformed { .. } => "malformed",
            CertError::TooLarge { .. } => "too_large",
            CertError::DuplicateExtension { .. } => "duplicate_extension",
            CertError::UnknownCriticalExtension { .. } => "unknown_critical_extension",
            CertError::InvalidExtension { .. } => "invalid_extension",
            CertError::NotYetValid { .. } => "not_yet_valid",
            CertError::Expired { .. } => "expired",
            CertError::WeakSignatureAlgorithm { .. } => "weak_signature_algorithm",
            CertError::UnsupportedSignatureAlgorithm { .. } => "unsupported_signature_algorithm",
            CertError::UnsupportedKey { .. } => "unsupported_key",
            CertError::SignatureAlgorithmMismatch => "signature_algorithm_mismatch",
            CertError::BadSignature { .. } => "bad_signature",
            CertError::UnknownIssuer { .. } => "unknown_issuer",
            CertError::NotCa { .. } => "not_ca",
            CertError::KeyCertSignMissing { .. } => "key_cert_sign_missing",
            CertError::PathLenExceeded { .. } => "path_len_exceeded",
            CertError::PathTooLong { .. } => "path_too_long",
            CertError::BudgetExceeded { .. } => "budget_exceeded",
            CertError::NameConstraintViolation { .. } => "name_constraint_violation",
            CertError::UnsupportedNameConstraint { .. } => "unsupported_name_constraint",
            CertError::PolicyRequired => "policy_required",
            CertError::InvalidPolicyMapping { .. } => "invalid_policy_mapping",
            CertError::WrongPurpose { .. } => "wrong_purpose",
            CertError::KeyUsageNotAllowed { .. } => "key_usage_not_allowed",
            CertError::InvalidName { .. } => "invalid_name",
            CertError::MissingExtension { .. } => "missing_extension",
            CertError::Revoked { .. } => "revoked",
            CertError::RevocationUnavailable { .. } => "revocation_unavailable",
            CertError::BadRevocationData { .. } => "bad_revocation_data",
            CertError::RevocationFetch { .. } => "revocation_fetch_failed",
            CertError::BadVersion { .. } => "bad_version",
            CertError::BadSerial { .. } => "bad_serial",
        }
    }

    /// How specific the error is, for choosing which error to report when
    /// every candidate path failed: a path that got far enough to be revoked
    /// or expired says more than one whose issuer was never found.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            CertError::BudgetExceeded { .. } => 255,
            CertError::Revoked { .. } => 200,
            CertError::RevocationUnavailable { .. } | CertError::BadRevocationData { .. } => 150,
            CertError::WrongPurpose { .. } | CertError::KeyUsageNotAllowed { .. } => 120,
            CertError::MissingExtension { .. } => 105,
            CertError::NameConstraintViolation { .. }
            | CertError::UnsupportedNameConstraint { .. }
            | CertError::PolicyRequired
            | CertError::InvalidPolicyMapping { .. }
            | CertError::PathLenExceeded { .. }
            | CertError::NotCa { .. }
            | CertError::KeyCertSignMissing { .. }
            | CertError::BadVersion { .. } => 110,
            CertError::Expired { .. } | CertError::NotYetValid { .. } => 100,
            CertError::BadSignature { .. }
            | CertError::WeakSignatureAlgorithm { .. }
            | CertError::UnsupportedSignatureAlgorithm { .. }
            | CertError::UnsupportedKey { .. }
            | CertError::SignatureAlgorithmMismatch => 60,
            CertError::PathTooLong { .. } => 40,
            CertError::UnknownIssuer { .. } => 10,
            _ => 50,
        }
    }
}
