//! Owned, pre-digested certificates: everything validation needs, parsed
//! once with `x509-parser`, with the structural checks that make a
//! certificate unusable whatever the path (duplicate extensions, unknown
//! critical extensions, malformed known extensions).

use std::collections::HashSet;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::der_parser::asn1_rs::ToDer;
use x509_parser::extensions::{
    DistributionPointName, GeneralName as XGeneralName, ParsedExtension,
};
use x509_parser::prelude::FromDer;
use x509_parser::x509::{AlgorithmIdentifier, X509Name};

use super::CertError;

/// Largest certificate accepted, in bytes.
pub const MAX_CERT_SIZE: usize = 64 * 1024;

/// Well-known object identifiers, dotted.
pub(crate) mod oid {
    pub const ANY_POLICY: &str = "2.5.29.32.0";
    pub const EKU_ANY: &str = "2.5.29.37.0";
    pub const EKU_SERVER_AUTH: &str = "1.3.6.1.5.5.7.3.1";
    pub const EKU_CLIENT_AUTH: &str = "1.3.6.1.5.5.7.3.2";
    pub const EKU_EMAIL_PROTECTION: &str = "1.3.6.1.5.5.7.3.4";
    pub const EKU_OCSP_SIGNING: &str = "1.3.6.1.5.5.7.3.9";
    /// id-kp-documentSigning (RFC 9336).
    pub const EKU_DOCUMENT_SIGNING: &str = "1.3.6.1.5.5.7.3.36";
    pub const EMAIL_ADDRESS: &str = "1.2.840.113549.1.9.1";
    pub const COMMON_NAME: &str = "2.5.4.3";
    pub const SERIAL_NUMBER: &str = "2.5.4.5";
    /// id-ad-ocsp, an AIA access method.
    pub const AD_OCSP: &str = "1.3.6.1.5.5.7.48.1";
    /// id-ad-caIssuers, an AIA access method.
    pub const AD_CA_ISSUERS: &str = "1.3.6.1.5.5.7.48.2";
}

/// id-pe-authorityInfoAccess (1.3.6.1.5.5.7.1.1), as its encoded OID bytes.
const AUTHORITY_INFO_ACCESS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];

/// A distinguished name: its DER, for display and exact comparison, and a
/// normalised form for the comparison RFC 5280 asks for.
#[derive(Clone)]
pub struct Name {
    /// The DER encoding of the Name.
    pub der: Vec<u8>,
    /// The attributes, decoded on first use: most names are compared by
    /// their bytes and never need decoding.
    decoded: OnceLock<Decoded>,
}

/// A name's attributes, decoded.
#[derive(Debug, Clone, Default)]
struct Decoded {
    /// RDNs in order; each a sorted list of (type OID, normalised value).
    normalised: Vec<Vec<(String, String)>>,
    /// Every attribute in order: (type OID, value as encoded).
    values: Vec<(String, String)>,
    /// Human-readable form, for messages.
    display: String,
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Name {}

impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.der.hash(state);
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display())
    }
}

impl Name {
    pub(crate) fn from_x509(name: &X509Name<'_>) -> Self {
        Self::from_der(name.as_raw())
    }

    fn from_der(der: &[u8]) -> Self {
        Self {
            der: der.to_vec(),
            decoded: OnceLock::new(),
        }
    }

    fn decoded(&self) -> &Decoded {
        self.decoded.get_or_init(|| {
            let Ok((_, name)) = X509Name::from_der(&self.der) else {
                // The bytes parsed as part of a certificate; this is unreachable
                // in practice, and an undecodable name matches nothing.
                return Decoded {
                    display: format!("(undecodable name #{})", hex(&self.der)),
                    ..Decoded::default()
                };
            };
            let mut values = Vec::new();
            let normalised = name
                .iter_rdn()
                .map(|rdn| {
                    let mut attrs: Vec<(String, String)> = rdn
                        .iter()
                        .map(|atv| {
                            let oid = atv.attr_type().to_id_string();
                            let (original, value) = match atv.as_str() {
                                Ok(s) => (s.to_owned(), normalise(s)),
                                Err(_) => {
                                    let raw = format!("#{}", hex(atv.as_slice()));
                                    (raw.clone(), raw)
                                }
                            };
                            values.push((oid.clone(), original));
                            (oid, value)
                        })
                        .collect();
                    attrs.sort();
                    attrs
                })
                .collect();
            let display = name.to_string();
            Decoded {
                normalised,
                values,
                display: if display.is_empty() {
                    "(empty name)".to_owned()
                } else {
                    display
                },
            }
        })
    }

    /// Human-readable form, for messages (decoded on first use).
    pub fn display(&self) -> &str {
        &self.decoded().display
    }

    /// RDNs in order, each a sorted list of (type OID, normalised value).
    pub fn rdns(&self) -> &[Vec<(String, String)>] {
        &self.decoded().normalised
    }

    /// RFC 5280 7.1 name matching: byte-equal, or equal after case folding
    /// and whitespace compression of string attributes.
    pub fn matches(&self, other: &Name) -> bool {
        self.der == other.der || self.rdns() == other.rdns()
    }

    /// Whether the name has no RDNs (an empty SEQUENCE).
    pub fn is_empty(&self) -> bool {
        self.der.len() <= 2
    }

    /// Whether `self` lies within the subtree rooted at `base`.
    pub fn within(&self, base: &Name) -> bool {
        let (mine, theirs) = (self.rdns(), base.rdns());
        theirs.len() <= mine.len() && mine[..theirs.len()] == theirs[..]
    }

    /// Values of the attributes with type `oid`, in order, as encoded (not
    /// case-folded).
    pub fn attribute_values(&self, oid: &str) -> Vec<&str> {
        self.decoded()
            .values
            .iter()
            .filter(|(t, _)| t == oid)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Case-folds and compresses internal whitespace (RFC 4518, simplified).
fn normalise(value: &str) -> String {
    value
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A general name (RFC 5280 4.2.1.6), owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneralName {
    /// rfc822Name: an email address (or, in constraints, a host or domain).
    Email(String),
    /// dNSName.
    Dns(String),
    /// uniformResourceIdentifier.
    Uri(String),
    /// iPAddress: 4 or 16 bytes, or 8 or 32 in constraints (address + mask).
    Ip(Vec<u8>),
    /// directoryName.
    Directory(Name),
    /// Any other form, by name.
    Other(&'static str),
}

impl fmt::Display for GeneralName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GeneralName::Email(s) => write!(f, "email:{s}"),
            GeneralName::Dns(s) => write!(f, "dns:{s}"),
            GeneralName::Uri(s) => write!(f, "uri:{s}"),
            GeneralName::Ip(b) => write!(f, "ip:{}", hex(b)),
            GeneralName::Directory(n) => write!(f, "dirname:{n}"),
            GeneralName::Other(kind) => write!(f, "{kind}"),
        }
    }
}

impl GeneralName {
    pub(crate) fn from_x509(name: &XGeneralName<'_>) -> Self {
        match name {
            XGeneralName::RFC822Name(s) => GeneralName::Email((*s).to_owned()),
            XGeneralName::DNSName(s) => GeneralName::Dns((*s).to_owned()),
            XGeneralName::URI(s) => GeneralName::Uri((*s).to_owned()),
            XGeneralName::IPAddress(b) => GeneralName::Ip(b.to_vec()),
            XGeneralName::DirectoryName(n) => GeneralName::Directory(Name::from_x509(n)),
            XGeneralName::OtherName(..) => GeneralName::Other("otherName"),
            XGeneralName::X400Address(_) => GeneralName::Other("x400Address"),
            XGeneralName::EDIPartyName(_) => GeneralName::Other("ediPartyName"),
            XGeneralName::RegisteredID(_) => GeneralName::Other("registeredID"),
        }
    }
}

/// An algorithm identifier: OID and the DER of its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Algorithm {
    /// Dotted OID.
    pub oid: String,
    /// DER of the parameters (including tag and length), if present.
    pub params: Option<Vec<u8>>,
    /// For RSASSA-PSS: (hash OID, MGF1 hash OID, salt length, trailer field),
    /// or `None` when the parameters do not parse.
    pub pss: Option<(String, String, u32, u32)>,
}

impl Algorithm {
    pub(crate) fn from_x509(alg: &AlgorithmIdentifier<'_>) -> Self {
        let oid = alg.algorithm.to_id_string();
        let pss = if oid == "1.2.840.113549.1.1.10" {
            match x509_parser::signature_algorithm::SignatureAlgorithm::try_from(alg) {
                Ok(x509_parser::signature_algorithm::SignatureAlgorithm::RSASSA_PSS(params)) => {
                    params.mask_gen_algorithm().ok().map(|mgf| {
                        (
                            params.hash_algorithm_oid().to_id_string(),
                            mgf.hash.to_id_string(),
                            params.salt_length(),
                            params.trailer_field(),
                        )
                    })
                }
                _ => None,
            }
        } else {
            None
        };
        Self {
            oid,
            params: alg.parameters.as_ref().and_then(|p| p.to_der_vec().ok()),
            pss,
        }
    }

    /// Parameters that are absent or an explicit NULL.
    pub fn params_absent_or_null(&self) -> bool {
        matches!(self.params.as_deref(), None | Some([0x05, 0x00]))
    }
}

/// basicConstraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicConstraints {
    /// cA.
    pub ca: bool,
    /// pathLenConstraint.
    pub path_len: Option<u32>,
}

/// keyUsage bits (RFC 5280 4.2.1.3), as x509-parser numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    /// digitalSignature.
    pub fn digital_signature(self) -> bool {
        self.0 & 1 != 0
    }
    /// nonRepudiation (contentCommitment).
    pub fn non_repudiation(self) -> bool {
        self.0 & (1 << 1) != 0
    }
    /// keyEncipherment.
    pub fn key_encipherment(self) -> bool {
        self.0 & (1 << 2) != 0
    }
    /// keyAgreement.
    pub fn key_agreement(self) -> bool {
        self.0 & (1 << 4) != 0
    }
    /// keyCertSign.
    pub fn key_cert_sign(self) -> bool {
        self.0 & (1 << 5) != 0
    }
    /// cRLSign.
    pub fn crl_sign(self) -> bool {
        self.0 & (1 << 6) != 0
    }
}

/// nameConstraints.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameConstraints {
    /// permittedSubtrees, if present.
    pub permitted: Option<Vec<GeneralName>>,
    /// excludedSubtrees, if present.
    pub excluded: Option<Vec<GeneralName>>,
}

/// One CRL distribution point of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributionPoint {
    /// fullName entries (URIs, directory names, ...).
    pub full_names: Vec<GeneralName>,
    /// cRLIssuer, when the CRL is signed by someone other than the issuer.
    pub crl_issuer: Option<Vec<GeneralName>>,
    /// Reasons covered, when limited.
    pub reasons: Option<u16>,
}

/// The subject public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key's algorithm (with curve parameters for EC keys).
    pub algorithm: Algorithm,
    /// The subjectPublicKey bit string's bytes.
    pub key: Vec<u8>,
    /// The whole SubjectPublicKeyInfo DER.
    pub spki: Vec<u8>,
    /// Key size in bits where known (RSA modulus, EC field).
    pub bits: usize,
}

/// A parsed certificate. Cheap to clone (the parsed data is shared) and
/// compared by its DER.
#[derive(Clone)]
pub struct Certificate(Arc<CertificateData>);

impl Deref for Certificate {
    type Target = CertificateData;

    fn deref(&self) -> &CertificateData {
        &self.0
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Eq for Certificate {}

/// What a parsed certificate holds; reached through [`Certificate`].
#[derive(Clone)]
pub struct CertificateData {
    /// The certificate's DER.
    pub der: Vec<u8>,
    pub(crate) tbs: Vec<u8>,
    pub(crate) signature_algorithm: Algorithm,
    pub(crate) tbs_signature_algorithm: Algorithm,
    pub(crate) signature: Vec<u8>,
    /// 1, 2 or 3.
    pub version: u32,
    /// Serial number bytes, big-endian, as encoded.
    pub serial: Vec<u8>,
    /// Issuer name.
    pub issuer: Name,
    /// Subject name.
    pub subject: Name,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// Subject public key.
    pub public_key: PublicKey,
    /// basicConstraints, if present.
    pub basic_constraints: Option<BasicConstraints>,
    /// keyUsage, if present.
    pub key_usage: Option<KeyUsage>,
    /// extKeyUsage OIDs, if present.
    pub extended_key_usage: Option<Vec<String>>,
    /// subjectKeyIdentifier.
    pub subject_key_id: Option<Vec<u8>>,
    /// authorityKeyIdentifier's keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// subjectAltName entries, if the extension is present.
    pub subject_alt_names: Option<Vec<GeneralName>>,
    /// nameConstraints.
    pub name_constraints: Option<NameConstraints>,
    /// certificatePolicies OIDs, if present.
    pub policies: Option<Vec<String>>,
    /// policyMappings (issuerDomainPolicy, subjectDomainPolicy).
    pub policy_mappings: Option<Vec<(String, String)>>,
    /// policyConstraints: (requireExplicitPolicy, inhibitPolicyMapping).
    pub policy_constraints: Option<(Option<u32>, Option<u32>)>,
    /// inhibitAnyPolicy skipCerts.
    pub inhibit_any_policy: Option<u32>,
    /// cRLDistributionPoints.
    pub crl_distribution_points: Vec<DistributionPoint>,
    /// The OCSP responders of the certificate's issuer, from
    /// authorityInfoAccess: the uniformResourceIdentifier locations with
    /// access method id-ad-ocsp, in order (empty when none).
    pub ocsp_responders: Vec<String>,
    /// Where the issuer's certificate can be downloaded, from
    /// authorityInfoAccess: the uniformResourceIdentifier locations with
    /// access method id-ad-caIssuers, in order (empty when none).
    pub ca_issuers: Vec<String>,
    /// The SubjectPublicKeyInfo whose key verified this certificate's
    /// signature, once one has.
    pub(crate) verified_by: OnceLock<Vec<u8>>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for CertificateData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject.display())
            .field("issuer", &self.issuer.display())
            .field("serial", &hex(&self.serial))
            .finish_non_exhaustive()
    }
}

/// Extensions that are processed here; any other critical extension makes
/// the certificate unusable (authorityInfoAccess, [`AUTHORITY_INFO_ACCESS`],
/// is processed too, and refused when critical, as RFC 5280 wants it
/// non-critical).
/// As the last arc of their id-ce OID (2.5.29.n): subjectKeyIdentifier,
/// authorityKeyIdentifier, keyUsage, extKeyUsage, basicConstraints,
/// subjectAltName, nameConstraints, certificatePolicies, policyMappings,
/// policyConstraints, inhibitAnyPolicy, cRLDistributionPoints.
const UNDERSTOOD: &[u8] = &[14, 35, 15, 37, 19, 17, 30, 32, 33, 36, 54, 31];

/// An OID whose dotted text is made only when an error needs it.
struct LazyOid<'a>(&'a x509_parser::der_parser::oid::Oid<'a>);

impl LazyOid<'_> {
    fn text(&self) -> String {
        self.0.to_id_string()
    }
}

fn ext_error(oid: &str, detail: impl fmt::Display) -> CertError {
    CertError::InvalidExtension {
        oid: oid.to_owned(),
        detail: detail.to_string(),
    }
}

impl Certificate {
    /// Parses one DER certificate. Trailing bytes, duplicate extensions,
    /// malformed known extensions and unknown critical extensions are errors.
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        super::der::check_signed(
            der,
            "certificate",
            MAX_CERT_SIZE,
            super::der::tbs_certificate_algorithm,
        )?;
        let (rest, x509) = X509Certificate::from_der(der).map_err(|e| CertError::Malformed {
            what: "certificate",
            detail: e.to_string(),
        })?;
        if !rest.is_empty() {
            return Err(CertError::Malformed {
                what: "certificate",
                detail: format!("{} trailing bytes", rest.len()),
            });
        }
        Self::from_parsed(der, &x509)
    }

    /// Parses every certificate in a PEM text (other blocks are ignored).
    pub fn from_pem(pem: &[u8]) -> Result<Vec<Self>, CertError> {
        super::der::from_pem_blocks(pem, "CERTIFICATE", Self::from_der)
    }

    fn from_parsed(der: &[u8], x509: &X509Certificate<'_>) -> Result<Self, CertError> {
        let tbs = &x509.tbs_certificate;
        let subject = Name::from_x509(&tbs.subject);
        let version = tbs.version.0 + 1;

        let mut seen: Vec<&[u8]> = Vec::new();
        let mut cert = CertificateData {
            der: der.to_vec(),
            tbs: tbs.as_ref().to_vec(),
            signature_algorithm: Algorithm::from_x509(&x509.signature_algorithm),
            tbs_signature_algorithm: Algorithm::from_x509(&tbs.signature),
            signature: x509.signature_value.data.to_vec(),
            version,
            serial: tbs.raw_serial().to_vec(),
            issuer: Name::from_x509(&tbs.issuer),
            subject,
            not_before: tbs.validity.not_before.to_datetime(),
            not_after: tbs.validity.not_after.to_datetime(),
            public_key: PublicKey {
                algorithm: Algorithm::from_x509(&tbs.subject_pki.algorithm),
                key: tbs.subject_pki.subject_public_key.data.to_vec(),
                spki: tbs.subject_pki.raw.to_vec(),
                bits: key_bits(&tbs.subject_pki),
            },
            basic_constraints: None,
            key_usage: None,
            extended_key_usage: None,
            subject_key_id: None,
            authority_key_id: None,
            subject_alt_names: None,
            name_constraints: None,
            policies: None,
            policy_mappings: None,
            policy_constraints: None,
            inhibit_any_policy: None,
            crl_distribution_points: Vec::new(),
            ocsp_responders: Vec::new(),
            ca_issuers: Vec::new(),
            verified_by: OnceLock::new(),
        };
        if !tbs.extensions().is_empty() && version != 3 {
            return Err(CertError::BadVersion {
                subject: cert.subject.display().to_owned(),
                version,
            });
        }
        let mut san_critical = false;
        for ext in tbs.extensions() {
            // Extensions are told apart by their OID's encoded bytes; the
            // dotted text is built only for error messages.
            let raw_oid = ext.oid.as_bytes();
            let oid = LazyOid(&ext.oid);
            if seen.contains(&raw_oid) {
                return Err(CertError::DuplicateExtension { oid: oid.text() });
            }
            seen.push(raw_oid);
            let id_ce = match raw_oid {
                [0x55, 0x1d, n] => Some(*n),
                _ => None,
            };
            let understood =
                id_ce.is_some_and(|n| UNDERSTOOD.contains(&n)) || raw_oid == AUTHORITY_INFO_ACCESS;
            if ext.critical && !understood {
                return Err(CertError::UnknownCriticalExtension { oid: oid.text() });
            }
            // RFC 5280 4.2.2.1: conforming CAs mark authorityInfoAccess
            // non-critical (x509-limbo rfc5280::ee-critical-aia-invalid).
            if ext.critical && raw_oid == AUTHORITY_INFO_ACCESS {
                return Err(ext_error(&oid.text(), "must not be critical"));
            }
            // RFC 5280 4.2.1: extensions whose criticality is fixed.
            let must_be = match id_ce {
                Some(35 | 14) => Some(false),     // AKI, SKI
                Some(30 | 36 | 54) => Some(true), // NC, PC, inhibitAnyPolicy
                _ => None,
            };
            if let Some(critical) = must_be
                && critical != ext.critical
            {
                return Err(ext_error(
                    &oid.text(),
                    if critical {
                        "must be critical"
                    } else {
                        "must not be critical"
                    },
                ));
            }
            if id_ce == Some(17) {
                san_critical = ext.critical;
            }
            match ext.parsed_extension() {
                ParsedExtension::ParseError { error } => {
                    return Err(ext_error(&oid.text(), error));
                }
                ParsedExtension::BasicConstraints(bc) => {
                    if bc.ca && !ext.critical {
                        return Err(ext_error(
                            &oid.text(),
                            "must be critical in a CA certificate",
                        ));
                    }
                    cert.basic_constraints = Some(BasicConstraints {
                        ca: bc.ca,
                        path_len: bc.path_len_constraint,
                    });
                }
                ParsedExtension::KeyUsage(ku) => cert.key_usage = Some(KeyUsage(ku.flags)),
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    let mut oids = Vec::new();
                    for (present, id) in [
                        (eku.any, oid::EKU_ANY),
                        (eku.server_auth, oid::EKU_SERVER_AUTH),
                        (eku.client_auth, oid::EKU_CLIENT_AUTH),
                        (eku.code_signing, "1.3.6.1.5.5.7.3.3"),
                        (eku.email_protection, oid::EKU_EMAIL_PROTECTION),
                        (eku.time_stamping, "1.3.6.1.5.5.7.3.8"),
                        (eku.ocsp_signing, oid::EKU_OCSP_SIGNING),
                    ] {
                        if present {
                            oids.push(id.to_owned());
                        }
                    }
                    oids.extend(eku.other.iter().map(|o| o.to_id_string()));
                    if oids.is_empty() {
                        return Err(ext_error(&oid.text(), "empty extKeyUsage"));
                    }
                    cert.extended_key_usage = Some(oids);
                }
                ParsedExtension::SubjectKeyIdentifier(id) => {
                    cert.subject_key_id = Some(id.0.to_vec());
                }
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    cert.authority_key_id = aki.key_identifier.as_ref().map(|k| k.0.to_vec());
                }
                ParsedExtension::SubjectAlternativeName(san) => {
                    if san.general_names.is_empty() {
                        return Err(ext_error(&oid.text(), "empty subjectAltName"));
                    }
                    let names: Vec<GeneralName> = san
                        .general_names
                        .iter()
                        .map(GeneralName::from_x509)
                        .collect();
                    for name in &names {
                        check_name_syntax(name).map_err(|detail| ext_error(&oid.text(), detail))?;
                    }
                    cert.subject_alt_names = Some(names);
                }
                ParsedExtension::NameConstraints(nc) => {
                    let convert =
                        |trees: &Option<Vec<x509_parser::extensions::GeneralSubtree<'_>>>| {
                            trees.as_ref().map(|t| {
                                t.iter()
                                    .map(|s| GeneralName::from_x509(&s.base))
                                    .collect::<Vec<_>>()
                            })
                        };
                    let constraints = NameConstraints {
                        permitted: convert(&nc.permitted_subtrees),
                        excluded: convert(&nc.excluded_subtrees),
                    };
                    if constraints.permitted.is_none() && constraints.excluded.is_none() {
                        return Err(ext_error(&oid.text(), "empty nameConstraints"));
                    }
                    // x509-parser skips what it cannot read; every subtree
                    // must have been read, or a constraint would fail open.
                    let fields = super::der::count_fields(ext.value, 0x30)
                        .map_err(|e| ext_error(&oid.text(), e))?;
                    let expected = [&constraints.permitted, &constraints.excluded];
                    let present: Vec<&Vec<GeneralName>> =
                        expected.iter().filter_map(|t| t.as_ref()).collect();
                    if fields.len() != present.len()
                        || fields.iter().zip(&present).any(|(field, trees)| {
                            super::der::all(field.content).map_or(true, |t| t.len() != trees.len())
                        })
                        || fields.first().is_some_and(|f| {
                            f.tag
                                != if constraints.permitted.is_some() {
                                    0xa0
                                } else {
                                    0xa1
                                }
                        })
                    {
                        return Err(ext_error(&oid.text(), "unreadable subtrees"));
                    }
                    cert.name_constraints = Some(constraints);
                }
                ParsedExtension::CertificatePolicies(policies) => {
                    let oids: Vec<String> = policies
                        .iter()
                        .map(|p| p.policy_id.to_id_string())
                        .collect();
                    let unique: HashSet<&String> = oids.iter().collect();
                    if unique.len() != oids.len() {
                        return Err(ext_error(&oid.text(), "a policy appears twice"));
                    }
                    cert.policies = Some(oids);
                }
                ParsedExtension::PolicyMappings(mappings) => {
                    cert.policy_mappings = Some(
                        mappings
                            .mappings
                            .iter()
                            .map(|m| {
                                (
                                    m.issuer_domain_policy.to_id_string(),
                                    m.subject_domain_policy.to_id_string(),
                                )
                            })
                            .collect(),
                    );
                }
                ParsedExtension::PolicyConstraints(pc) => {
                    if pc.require_explicit_policy.is_none() && pc.inhibit_policy_mapping.is_none() {
                        return Err(ext_error(&oid.text(), "empty policyConstraints"));
                    }
                    cert.policy_constraints =
                        Some((pc.require_explicit_policy, pc.inhibit_policy_mapping));
                }
                ParsedExtension::InhibitAnyPolicy(iap) => {
                    cert.inhibit_any_policy = Some(iap.skip_certs);
                }
                ParsedExtension::CRLDistributionPoints(points) => {
                    for point in points.iter() {
                        let full_names = match &point.distribution_point {
                            Some(DistributionPointName::FullName(names)) => {
                                names.iter().map(GeneralName::from_x509).collect()
                            }
                            _ => Vec::new(),
                        };
                        cert.crl_distribution_points.push(DistributionPoint {
                            full_names,
                            crl_issuer: point
                                .crl_issuer
                                .as_ref()
                                .map(|names| names.iter().map(GeneralName::from_x509).collect()),
                            reasons: point.reasons.as_ref().map(|r| r.flags),
                        });
                    }
                }
                ParsedExtension::AuthorityInfoAccess(aia) => {
                    // x509-parser ignores fields after an access location
                    // and does not check the access method's tag; the shape
                    // is checked here so that what is read is all there is.
                    let descriptions = super::der::count_fields(ext.value, 0x30)
                        .map_err(|e| ext_error(&oid.text(), e))?;
                    if descriptions.is_empty() {
                        return Err(ext_error(&oid.text(), "empty authorityInfoAccess"));
                    }
                    if descriptions.len() != aia.accessdescs.len()
                        || descriptions.iter().any(|d| {
                            d.tag != 0x30
                                || !super::der::all(d.content).is_ok_and(|fields| {
                                    matches!(fields.as_slice(), [method, _] if method.tag == 0x06)
                                })
                        })
                    {
                        return Err(ext_error(&oid.text(), "unreadable access descriptions"));
                    }
                    for description in aia.iter() {
                        let XGeneralName::URI(uri) = description.access_location else {
                            continue;
                        };
                        let method = description.access_method.to_id_string();
                        if method == oid::AD_OCSP {
                            cert.ocsp_responders.push(uri.to_owned());
                        } else if method == oid::AD_CA_ISSUERS {
                            cert.ca_issuers.push(uri.to_owned());
                        }
                    }
                }
                _ => {}
            }
        }
        if cert.subject.is_empty() {
            if cert.is_ca() {
                return Err(CertError::InvalidName {
                    subject: cert.subject.display().to_owned(),
                    detail: "a CA certificate must have a subject".into(),
                });
            }
            if cert.subject_alt_names.is_none() || !san_critical {
                return Err(CertError::InvalidName {
                    subject: cert.subject.display().to_owned(),
                    detail: "an empty subject needs a critical subjectAltName".into(),
                });
            }
        }
        if cert.key_usage.is_some_and(|ku| ku.key_cert_sign()) && !cert.is_ca() {
            return Err(ext_error(
                "2.5.29.15",
                "keyCertSign without basicConstraints cA",
            ));
        }
        if cert.name_constraints.is_some() && !cert.is_ca() {
            return Err(ext_error(
                "2.5.29.30",
                "name constraints in an end-entity certificate",
            ));
        }
        Ok(Certificate(Arc::new(cert)))
    }
}

/// The key size in bits; for RSA the exact bit length of the modulus.
fn key_bits(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> usize {
    match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            let modulus = rsa.modulus;
            match modulus.iter().position(|b| *b != 0) {
                Some(first) => {
                    (modulus.len() - first) * 8 - modulus[first].leading_zeros() as usize
                }
                None => 0,
            }
        }
        Ok(other) => other.key_size(),
        Err(_) => 0,
    }
}

/// Checks the syntax of a dNSName or rfc822Name in subjectAltName.
fn check_name_syntax(name: &GeneralName) -> Result<(), String> {
    match name {
        GeneralName::Dns(dns) => {
            let host = dns.strip_prefix("*.").unwrap_or(dns);
            if is_hostname(host) {
                Ok(())
            } else {
                Err(format!("invalid dNSName {dns:?}"))
            }
        }
        GeneralName::Email(email) => match email.rsplit_once('@') {
            Some((local, host))
                if !local.is_empty() && !local.contains('@') && is_hostname(host) =>
            {
                Ok(())
            }
            _ => Err(format!("invalid rfc822Name {email:?}")),
        },
        _ => Ok(()),
    }
}

/// LDH labels of 1 to 63 characters, not starting or ending with '-', 253 in all.
pub(crate) fn is_hostname(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl CertificateData {
    /// Whether subject and issuer are the same name (RFC 5280 "self-issued").
    pub fn is_self_issued(&self) -> bool {
        self.subject.matches(&self.issuer)
    }

    /// Whether basicConstraints says this is a CA.
    pub fn is_ca(&self) -> bool {
        self.basic_constraints.is_some_and(|bc| bc.ca)
    }

    /// The serial number as lowercase hex.
    pub fn serial_hex(&self) -> String {
        hex(&self.serial)
    }
}
