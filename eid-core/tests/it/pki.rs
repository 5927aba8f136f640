//! A Hongkong Post e-Cert style test PKI, built with rcgen.
//!
//! The shape follows the real hierarchy that signs smart-ID-card
//! certificates: a root ("Hongkong Post Root CA 2" style, RSA-2048), an
//! issuing CA ("Hongkong Post e-Cert CA 2 - 17" style, P-384, pathLen 0)
//! whose CRLs are partitioned by distribution point, and citizen
//! certificates (P-256) naming the holder in the subject commonName, the
//! subscriber reference in the subject serialNumber attribute and an email
//! address in subjectAltName. The root publishes an authority revocation
//! list (ARL) for the CAs below it.
//!
//! Everything is a parameter so that a test can build exactly one broken
//! variant: [`CertSpec`] describes a certificate (every field public), a
//! [`Signer`] is a name and a key that can certify a [`CertSpec`] or sign a
//! [`CrlSpec`], and [`EcertPki`] wires the usual three levels together with
//! closures to tweak the root's and the issuing CA's specs.
//!
//! What rcgen cannot write (policy extensions, correctly tagged
//! directoryName constraints, edited and re-signed DER) comes from
//! [`crate::der`] and [`crate::forge`].
//!
//! Validity dates are fixed and the validation time is [`NOW`], so results
//! never depend on the clock. Keys are fresh per run (ECDSA, Ed25519),
//! except the one RSA key below: ring, rcgen's backend here, cannot
//! generate RSA keys.

use eid_core::cert::{CertError, Certificate, Crl, Options, TrustStore, ValidatedPath};
use rcgen::{
    CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CrlIssuingDistributionPoint, CustomExtension, DistinguishedName, DnValue, KeyIdMethod, KeyPair,
    PublicKeyData, RevokedCertParams, SanType, SerialNumber,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::der;
pub use crate::forge::{NameConstraints, Subtree, push_extension, rsassa_pss_sha256};

pub use rcgen::{
    BasicConstraints, CrlScope, DnType, ExtendedKeyUsagePurpose as Eku, IsCa,
    KeyUsagePurpose as Ku, RevocationReason,
};

/// The validation time of every test: 15 June 2025, noon in Hong Kong.
pub const NOW: OffsetDateTime = datetime!(2025-06-15 04:00:00 UTC);

/// Partition 1 of the issuing CA's CRL.
pub const CRL1_URL: &str = "http://crl1.hongkongpost.gov.hk/crl/eCertCA2-17CRL1.crl";
/// Partition 2 of the issuing CA's CRL.
pub const CRL2_URL: &str = "http://crl1.hongkongpost.gov.hk/crl/eCertCA2-17CRL2.crl";
/// The root's authority revocation list, covering the CAs it certifies.
pub const ARL_URL: &str = "http://crl1.hongkongpost.gov.hk/crl/RootCA2ARL.crl";

/// Certificate policy of personal e-Certs (illustrative OID under
/// Hongkong Post's enterprise arc).
pub const PERSONAL_POLICY: &str = "1.3.6.1.4.1.16030.1.1.40";
/// Another policy of the same CA (organisational e-Certs).
pub const ORGANISATIONAL_POLICY: &str = "1.3.6.1.4.1.16030.1.1.41";
/// anyPolicy.
pub const ANY_POLICY: &str = "2.5.29.32.0";

/// OID of the subject serialNumber attribute (the subscriber reference).
pub const SERIAL_NUMBER_ATTR: &str = "2.5.4.5";
/// OID of the PKCS #9 emailAddress attribute.
pub const EMAIL_ATTR: &str = "1.2.840.113549.1.9.1";

/// The one RSA key of the PKI, used by the root. ring cannot generate RSA
/// keys, so it was generated once with
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`
/// (OpenSSL 3.0, PKCS #8 output) and pasted here. Test material only.
pub const RSA_2048_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDkWKqWxP2cdW2M
basKfG6qhNid/zwl92lWG9J+EtYI0BB/HskoTkG3EO+t3XN/tkqXVR2BcT6FLkCW
C3Ea6H9g5DlSK5QC0ksz9I5QFf8LxAKcYeJPcHX4FqNZkXLs//902G4iQMt38bYe
2BlqhVvAcZXDw0XHIRiWlkkdu8l5nz+o52A0F+QGJcmfngGIwb3wj2vzso4YwvIJ
giyHSop78OwmFrfmxKOaLjK5uBxuVhmrvfMw/a3x8dNpVTAHJIbYP02EPJTuk5mr
DK3hUPbqSwIV0TMTLYRVC5F/xU3B7+BnoeFW6/jtIsOXZleE200yuxM3EOwBALij
qBXyfOc1AgMBAAECggEAKgyr6VTAUSIMuNnvL+CnLm6FR18bj/BGLQ21jvLgCEJs
b0RXjb0Pe+s5/93yaXfDt6d8ZfxZI4RXb2oO+4IKBukwJxIQUQ6xu5ES7euHCn8f
bfXWi4NtrfBZR2Kx87PWsokyiss8zMstmvN3hralJUSlbCXXASr2kLB/KWMN4H/a
WKS0BubJW/8L+Ovecc8ZAFE1pyqcHLrJv5p0Ty7ivSvGitlD74QFLlM8nPxgtaDA
sU3LmixcZ1GQBzBp1B20HGL54WcEf1UzjXLLAqYJ42+4rPxzb22FW/8/EsKoF/0N
urNxiN+lSdv922fVnRor/rAdddEakW6/JRXWV+1YoQKBgQDx1nTjPoOczcUwEcJA
v2vs8EtfQVnq6XX6gCXLQvo5RUtntXvxoUwF9RDTqR5vI1u0+gFy6Ug0/PxQjl8F
hGy+sjvYfb0YmnWxAa3xs8xNcRhjNihZvsrMKtir2u6/iJiC9Xjgfx9RoxptFFLQ
0kNme34Y4MRxjkTA/k83FnsypQKBgQDxt/O7EQglAm0NVM0Dbnt2KVFRiHUDdb+m
wzvywjxxaZZjc8I5JqPdB8u8wS6NCh9ZUA3fjjrSV2qYbD7ZdT9YMDb52+qkNfWb
pbmOYb3hmgAJoWjXuFayUgs1GtZC/d6ey6PvEiv055oPvVIvzZG8rRNAEC4oaLcj
0u7B/pmNUQKBgBZq1bz234ZagKvbCZGs7Nky0RnMWgRvjbMhy98Sn1VNuhar+QhF
9mEa/WtRYvPUaDzXa+j1/O6EgPMKr344b0giB3Ai/7NXJg+5YyFjlE2dbTBNJeJj
0DKqyhjsG3N/uvtwu7q7rfCIWPvBhYe75emLCv5NX4hTMsZdDITDvbnNAoGAEerq
3EEE84lcgBJ7J/f2mumxJ3QQCHOgA0KRnQsc4+NJzJF2IjplBytexN0lEDth24L9
pEaswY7NTgMoHYJ9cZIRYTAWEpoVXLZKLO29341E13HpjaQSeSFvxz34B/s9l1PN
ERmtvHe2idgk0XpRhUTnGmaYpVIt0S//ls3CoCECgYEAzJOnWwyJrGEoFWJQo8Iy
w/flEQR7LZUPTLh2OJrhzOtnttw1Idp0qjH2HLyypTnMF6yZzJZpStxkH/Y+Go9s
QSQjy7bFJ5zfyPSL1Y7MGbhVuxhqvw5WcTYNqQg4k363BL554QI3jmTfEQfRJ4EN
oHOmziC7vYmf9/vlAGehsYY=
-----END PRIVATE KEY-----
";

/// Which kind of key a [`Signer`] or subject gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// The fixed RSA-2048 key ([`RSA_2048_PKCS8`]), signing with SHA-256.
    Rsa2048,
    /// A fresh ECDSA P-256 key, signing with SHA-256.
    P256,
    /// A fresh ECDSA P-384 key, signing with SHA-384.
    P384,
    /// A fresh Ed25519 key.
    Ed25519,
}

/// A key of the given kind.
pub fn new_key(kind: KeyKind) -> KeyPair {
    match kind {
        KeyKind::Rsa2048 => {
            KeyPair::from_pkcs8_pem_and_sign_algo(RSA_2048_PKCS8, &rcgen::PKCS_RSA_SHA256)
                .expect("embedded RSA key")
        }
        KeyKind::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256"),
        KeyKind::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384"),
        KeyKind::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519"),
    }
}

/// The RFC 7093 method 1 key identifier of a key (what rcgen writes as
/// subjectKeyIdentifier and authorityKeyIdentifier).
pub fn key_id(key: &KeyPair) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, &key.public_key_der()).as_ref()[..20].to_vec()
}

/// A distinguished name from (type, value) pairs, in order. countryName and
/// serialNumber are PrintableString, emailAddress IA5String, the rest UTF-8.
pub fn dn(parts: &[(DnType, &str)]) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    for (ty, value) in parts {
        let value = match ty {
            DnType::CountryName => {
                DnValue::PrintableString((*value).try_into().expect("printable"))
            }
            DnType::CustomDnType(arcs) if arcs == &der::arcs(SERIAL_NUMBER_ATTR) => {
                DnValue::PrintableString((*value).try_into().expect("printable"))
            }
            DnType::CustomDnType(arcs) if arcs == &der::arcs(EMAIL_ATTR) => {
                DnValue::Ia5String((*value).try_into().expect("IA5"))
            }
            _ => DnValue::Utf8String((*value).to_owned()),
        };
        name.push(ty.clone(), value);
    }
    name
}

/// The subject serialNumber attribute type.
pub fn serial_number_attr() -> DnType {
    DnType::CustomDnType(der::arcs(SERIAL_NUMBER_ATTR))
}

/// The emailAddress attribute type.
pub fn email_attr() -> DnType {
    DnType::CustomDnType(der::arcs(EMAIL_ATTR))
}

/// Name of the "Hongkong Post Root CA 2" style root.
pub fn root_name() -> DistinguishedName {
    hk_post_name("Hongkong Post Root CA 2")
}

/// Name of the "Hongkong Post e-Cert CA 2 - 17" style issuing CA.
pub fn issuing_ca_name() -> DistinguishedName {
    hk_post_name("Hongkong Post e-Cert CA 2 - 17")
}

/// C=HK, ST=Hong Kong, L=Hong Kong, O=Hongkong Post, CN=`cn`: the form of
/// Hongkong Post's CA names.
pub fn hk_post_name(cn: &str) -> DistinguishedName {
    dn(&[
        (DnType::CountryName, "HK"),
        (DnType::StateOrProvinceName, "Hong Kong"),
        (DnType::LocalityName, "Hong Kong"),
        (DnType::OrganizationName, "Hongkong Post"),
        (DnType::CommonName, cn),
    ])
}

/// A citizen's name: C=HK, O=Hongkong Post e-Cert (Personal), CN=`name`,
/// serialNumber=`reference`.
pub fn citizen_name(name: &str, reference: &str) -> DistinguishedName {
    dn(&[
        (DnType::CountryName, "HK"),
        (DnType::OrganizationName, "Hongkong Post e-Cert (Personal)"),
        (DnType::CommonName, name),
        (serial_number_attr(), reference),
    ])
}

/// Everything about one certificate except its key and its issuer.
#[derive(Debug, Clone)]
pub struct CertSpec {
    /// Subject name.
    pub subject: DistinguishedName,
    /// Serial number bytes (written as a positive INTEGER).
    pub serial: Vec<u8>,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// basicConstraints: `Ca(..)`, `ExplicitNoCa` (cA FALSE) or `NoCa`
    /// (absent). rcgen writes a subjectKeyIdentifier with the first two only.
    pub is_ca: IsCa,
    /// keyUsage bits (absent when empty); rcgen marks it critical.
    pub key_usages: Vec<Ku>,
    /// extKeyUsage (absent when empty).
    pub ekus: Vec<Eku>,
    /// rfc822Name entries of subjectAltName.
    pub emails: Vec<String>,
    /// One CRL distribution point with these URIs (absent when empty).
    pub crl_urls: Vec<String>,
    /// certificatePolicies OIDs, dotted (absent when empty).
    pub policies: Vec<String>,
    /// policyConstraints (requireExplicitPolicy, inhibitPolicyMapping).
    pub policy_constraints: Option<(Option<u32>, Option<u32>)>,
    /// policyMappings (issuerDomainPolicy, subjectDomainPolicy).
    pub policy_mappings: Vec<(String, String)>,
    /// inhibitAnyPolicy skipCerts.
    pub inhibit_any_policy: Option<u32>,
    /// nameConstraints (written by [`NameConstraints::to_der`]: rcgen
    /// 0.13 tags directoryName subtrees IMPLICIT, which RFC 5280 does not
    /// allow for a CHOICE, and x509-parser cannot read).
    pub name_constraints: Option<NameConstraints>,
    /// Whether to write authorityKeyIdentifier.
    pub authority_key_id: bool,
    /// A preset subjectKeyIdentifier instead of the key's hash.
    pub subject_key_id: Option<Vec<u8>>,
    /// Further extensions, written last and in order (duplicates allowed).
    pub extensions: Vec<CustomExtension>,
}

impl CertSpec {
    /// A root like Hongkong Post Root CA 2: a CA without path length
    /// limit, keyCertSign and cRLSign, no authorityKeyIdentifier.
    pub fn root(subject: DistinguishedName) -> Self {
        Self {
            subject,
            serial: vec![0x67, 0x6a, 0x8e, 0x10, 0x3d],
            not_before: datetime!(2015-09-05 04:00:00 UTC),
            not_after: datetime!(2040-09-05 04:00:00 UTC),
            is_ca: IsCa::Ca(BasicConstraints::Unconstrained),
            key_usages: vec![Ku::KeyCertSign, Ku::CrlSign],
            ekus: Vec::new(),
            emails: Vec::new(),
            crl_urls: Vec::new(),
            policies: Vec::new(),
            policy_constraints: None,
            policy_mappings: Vec::new(),
            inhibit_any_policy: None,
            name_constraints: None,
            authority_key_id: false,
            subject_key_id: None,
            extensions: Vec::new(),
        }
    }

    /// An issuing CA like Hongkong Post e-Cert CA 2 - 17: pathLen 0,
    /// keyCertSign and cRLSign, the personal e-Cert policy, the root's ARL
    /// as distribution point.
    pub fn issuing_ca(subject: DistinguishedName) -> Self {
        Self {
            serial: vec![0x1f, 0x58, 0x2c, 0x7e, 0x01, 0x17],
            not_before: datetime!(2017-05-24 04:00:00 UTC),
            not_after: datetime!(2032-05-24 04:00:00 UTC),
            is_ca: IsCa::Ca(BasicConstraints::Constrained(0)),
            crl_urls: vec![ARL_URL.to_owned()],
            policies: vec![PERSONAL_POLICY.to_owned()],
            authority_key_id: true,
            ..Self::root(subject)
        }
    }

    /// An intermediate CA without path length limit (for longer paths and
    /// cross-certificates).
    pub fn sub_ca(subject: DistinguishedName, serial: u64) -> Self {
        Self {
            serial: serial.to_be_bytes().to_vec(),
            is_ca: IsCa::Ca(BasicConstraints::Unconstrained),
            policies: Vec::new(),
            ..Self::issuing_ca(subject)
        }
    }

    /// A personal e-Cert: digitalSignature and keyEncipherment, clientAuth
    /// and emailProtection, an email address, the personal policy, CRL
    /// partition 1.
    pub fn citizen(name: &str, reference: &str, email: &str) -> Self {
        Self {
            subject: citizen_name(name, reference),
            serial: vec![0x4c, 0x9e, 0x0f, 0x61, 0x2a, 0x3b, 0x71, 0x05, 0xd2],
            not_before: datetime!(2024-03-01 04:00:00 UTC),
            not_after: datetime!(2027-03-01 03:59:59 UTC),
            is_ca: IsCa::NoCa,
            key_usages: vec![Ku::DigitalSignature, Ku::KeyEncipherment],
            ekus: vec![Eku::ClientAuth, Eku::EmailProtection],
            emails: vec![email.to_owned()],
            crl_urls: vec![CRL1_URL.to_owned()],
            policies: vec![PERSONAL_POLICY.to_owned()],
            policy_constraints: None,
            policy_mappings: Vec::new(),
            inhibit_any_policy: None,
            name_constraints: None,
            authority_key_id: true,
            subject_key_id: None,
            extensions: Vec::new(),
        }
    }

    /// The default citizen, CHAN Tai Man.
    pub fn default_citizen() -> Self {
        Self::citizen("CHAN Tai Man", "E1234567890", "chan.taiman@example.com.hk")
    }

    /// Sets the validity window.
    pub fn valid(mut self, from: OffsetDateTime, to: OffsetDateTime) -> Self {
        self.not_before = from;
        self.not_after = to;
        self
    }

    /// Sets the serial number.
    pub fn serial(mut self, serial: &[u8]) -> Self {
        self.serial = serial.to_vec();
        self
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = self.subject.clone();
        params.serial_number = Some(SerialNumber::from_slice(&self.serial));
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params.is_ca = self.is_ca.clone();
        params.key_usages = self.key_usages.clone();
        params.extended_key_usages = self.ekus.clone();
        params.subject_alt_names = self
            .emails
            .iter()
            .map(|e| SanType::Rfc822Name(e.as_str().try_into().expect("IA5 email")))
            .collect();
        if !self.crl_urls.is_empty() {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: self.crl_urls.clone(),
            }];
        }
        if let Some(nc) = &self.name_constraints {
            params
                .custom_extensions
                .push(extension("2.5.29.30", true, nc.to_der()));
        }
        params.use_authority_key_identifier_extension = self.authority_key_id;
        if let Some(ski) = &self.subject_key_id {
            params.key_identifier_method = KeyIdMethod::PreSpecified(ski.clone());
        }
        if !self.policies.is_empty() {
            let infos: Vec<Vec<u8>> = self
                .policies
                .iter()
                .map(|p| der::seq(&[der::oid(p)]))
                .collect();
            params
                .custom_extensions
                .push(extension("2.5.29.32", false, der::seq(&infos)));
        }
        if !self.policy_mappings.is_empty() {
            let maps: Vec<Vec<u8>> = self
                .policy_mappings
                .iter()
                .map(|(from, to)| der::seq(&[der::oid(from), der::oid(to)]))
                .collect();
            params
                .custom_extensions
                .push(extension("2.5.29.33", true, der::seq(&maps)));
        }
        if let Some((require, inhibit)) = self.policy_constraints {
            let mut fields = Vec::new();
            if let Some(r) = require {
                fields.push(der::tlv(0x80, &der::uint_content(r)));
            }
            if let Some(m) = inhibit {
                fields.push(der::tlv(0x81, &der::uint_content(m)));
            }
            params
                .custom_extensions
                .push(extension("2.5.29.36", true, der::seq(&fields)));
        }
        if let Some(skip) = self.inhibit_any_policy {
            params
                .custom_extensions
                .push(extension("2.5.29.54", true, der::uint(skip)));
        }
        params
            .custom_extensions
            .extend(self.extensions.iter().cloned());
        params
    }
}

/// An extension with a dotted OID, criticality and DER content.
pub fn extension(oid: &str, critical: bool, content: Vec<u8>) -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(&der::arcs(oid), content);
    ext.set_criticality(critical);
    ext
}

/// One revoked entry of a [`CrlSpec`].
#[derive(Debug, Clone)]
pub struct RevokedSpec {
    /// Serial number of the revoked certificate.
    pub serial: Vec<u8>,
    /// Revocation date.
    pub at: OffsetDateTime,
    /// CRLReason, when given.
    pub reason: Option<RevocationReason>,
}

/// Everything about one CRL except its signer.
#[derive(Debug, Clone)]
pub struct CrlSpec {
    /// cRLNumber.
    pub number: u64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate (rcgen insists that it is after thisUpdate).
    pub next_update: OffsetDateTime,
    /// The partition's URI, written as issuingDistributionPoint fullName.
    pub partition: Option<String>,
    /// onlyContainsUserCerts or onlyContainsCACerts.
    pub scope: Option<CrlScope>,
    /// Revoked entries.
    pub revoked: Vec<RevokedSpec>,
}

impl CrlSpec {
    /// A fresh, empty CRL: issued a day before [`NOW`], next update six
    /// days after (Hongkong Post publishes daily, valid for a week).
    pub fn fresh() -> Self {
        Self {
            number: 4711,
            this_update: NOW - Duration::days(1),
            next_update: NOW + Duration::days(6),
            partition: None,
            scope: None,
            revoked: Vec::new(),
        }
    }

    /// A fresh CRL for one partition of user certificates.
    pub fn partition(url: &str) -> Self {
        Self {
            partition: Some(url.to_owned()),
            scope: Some(CrlScope::UserCertsOnly),
            ..Self::fresh()
        }
    }

    /// Adds a revoked entry, revoked a month before [`NOW`].
    pub fn revoke(mut self, serial: &[u8], reason: Option<RevocationReason>) -> Self {
        self.revoked.push(RevokedSpec {
            serial: serial.to_vec(),
            at: NOW - Duration::days(30),
            reason,
        });
        self
    }

    fn params(&self) -> CertificateRevocationListParams {
        CertificateRevocationListParams {
            this_update: self.this_update,
            next_update: self.next_update,
            crl_number: SerialNumber::from(self.number),
            issuing_distribution_point: self.partition.as_ref().map(|url| {
                CrlIssuingDistributionPoint {
                    distribution_point: CrlDistributionPoint {
                        uris: vec![url.clone()],
                    },
                    scope: self.scope,
                }
            }),
            revoked_certs: self
                .revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: r.at,
                    reason_code: r.reason,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
    }
}

/// A name and a key that sign certificates and CRLs. Which certificates
/// *describe* this signer is up to the test: one signer can have several
/// (a self-signed root and cross-certificates, say).
pub struct Signer {
    /// The signer's name, written as issuer.
    pub dn: DistinguishedName,
    /// The signing key.
    pub key: KeyPair,
    /// rcgen wants an issuer certificate to sign with; this self-signed
    /// stand-in carries only the name and the key identifier method (no key
    /// usage, so rcgen signs CRLs even when the signer's real certificate
    /// lacks cRLSign).
    handle: rcgen::Certificate,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("dn", &self.dn)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer with a new key of `kind`.
    pub fn new(dn: DistinguishedName, kind: KeyKind) -> Self {
        Self::with_key(dn, new_key(kind))
    }

    /// A signer with a given key.
    pub fn with_key(dn: DistinguishedName, key: KeyPair) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn.clone();
        let handle = params.self_signed(&key).expect("stand-in certificate");
        Self { dn, key, handle }
    }

    /// The key identifier certificates issued by this signer carry as
    /// authorityKeyIdentifier.
    pub fn key_id(&self) -> Vec<u8> {
        key_id(&self.key)
    }

    /// Issues a certificate for `spec` and `subject_key`, returning its DER.
    pub fn certify(&self, spec: &CertSpec, subject_key: &impl PublicKeyData) -> Vec<u8> {
        spec.params()
            .signed_by(subject_key, &self.handle, &self.key)
            .expect("rcgen signs the certificate")
            .der()
            .to_vec()
    }

    /// A certificate for `subject` (a CA) issued by this signer, with the
    /// subject's own name filled in.
    pub fn certify_ca(&self, spec: &CertSpec, subject: &Signer) -> Vec<u8> {
        let mut spec = spec.clone();
        spec.subject = subject.dn.clone();
        self.certify(&spec, &subject.key)
    }

    /// A self-signed certificate for this signer.
    pub fn self_certify(&self, spec: &CertSpec) -> Vec<u8> {
        self.certify_ca(spec, self)
    }

    /// Signs a CRL, returning its DER.
    pub fn crl(&self, spec: &CrlSpec) -> Vec<u8> {
        spec.params()
            .signed_by(&self.handle, &self.key)
            .expect("rcgen signs the CRL")
            .der()
            .to_vec()
    }
}

/// Parses a certificate the test expects to be well formed.
pub fn cert(der: &[u8]) -> Certificate {
    Certificate::from_der(der).unwrap_or_else(|e| panic!("test certificate rejected: {e}"))
}

/// Parses a CRL the test expects to be well formed.
pub fn crl(der: &[u8]) -> Crl {
    Crl::from_der(der).unwrap_or_else(|e| panic!("test CRL rejected: {e}"))
}

/// Parses several certificates the test expects to be well formed.
pub fn certs(ders: &[&Vec<u8>]) -> Vec<Certificate> {
    ders.iter().map(|d| cert(d)).collect()
}

/// The subject named by an error that names one.
pub fn subject_of(err: &CertError) -> String {
    match err {
        CertError::Expired { subject, .. }
        | CertError::NotYetValid { subject, .. }
        | CertError::NotCa { subject }
        | CertError::KeyCertSignMissing { subject }
        | CertError::PathLenExceeded { subject }
        | CertError::WrongPurpose { subject, .. }
        | CertError::KeyUsageNotAllowed { subject, .. }
        | CertError::BadSignature { subject }
        | CertError::UnknownIssuer { subject, .. } => subject.clone(),
        other => panic!("no subject in {other:?}"),
    }
}

/// `der` with the byte at `index` inverted.
pub fn flip(der: &[u8], index: usize) -> Vec<u8> {
    let mut out = der.to_vec();
    out[index] ^= 0xff;
    out
}

/// Options at [`NOW`] with no revocation checking, for tests about
/// something else.
pub fn no_revocation() -> Options {
    let mut options = Options::new(NOW);
    options.revocation = eid_core::cert::RevocationScope::Off;
    options
}

/// Root, issuing CA, and helpers to issue citizens and CRLs under them.
#[derive(Debug)]
pub struct EcertPki {
    /// The root signer (RSA-2048).
    pub root: Signer,
    /// The root's self-signed certificate.
    pub root_der: Vec<u8>,
    /// The issuing CA signer (P-384).
    pub ca: Signer,
    /// The issuing CA's certificate, issued by the root.
    pub ca_der: Vec<u8>,
}

impl Default for EcertPki {
    fn default() -> Self {
        Self::new()
    }
}

impl EcertPki {
    /// The well-formed hierarchy.
    pub fn new() -> Self {
        Self::with(|_| {}, |_| {})
    }

    /// The hierarchy with the root's and the issuing CA's specs tweaked.
    pub fn with(root: impl FnOnce(&mut CertSpec), ca: impl FnOnce(&mut CertSpec)) -> Self {
        let root_signer = Signer::new(root_name(), KeyKind::Rsa2048);
        let mut root_spec = CertSpec::root(root_name());
        root(&mut root_spec);
        let root_der = root_signer.self_certify(&root_spec);

        let ca_signer = Signer::new(issuing_ca_name(), KeyKind::P384);
        let mut ca_spec = CertSpec::issuing_ca(issuing_ca_name());
        ca(&mut ca_spec);
        let ca_der = root_signer.certify_ca(&ca_spec, &ca_signer);
        Self {
            root: root_signer,
            root_der,
            ca: ca_signer,
            ca_der,
        }
    }

    /// A citizen certificate from the issuing CA: the default citizen with
    /// `tweak` applied, for a new P-256 key.
    pub fn citizen(&self, tweak: impl FnOnce(&mut CertSpec)) -> Vec<u8> {
        let mut spec = CertSpec::default_citizen();
        tweak(&mut spec);
        self.ca.certify(&spec, &new_key(KeyKind::P256))
    }

    /// The default citizen certificate.
    pub fn default_citizen(&self) -> Vec<u8> {
        self.citizen(|_| {})
    }

    /// The root's ARL (CA certificates only, partition [`ARL_URL`]).
    pub fn arl(&self, tweak: impl FnOnce(&mut CrlSpec)) -> Vec<u8> {
        let mut spec = CrlSpec {
            partition: Some(ARL_URL.to_owned()),
            scope: Some(CrlScope::CaCertsOnly),
            number: 17,
            ..CrlSpec::fresh()
        };
        tweak(&mut spec);
        self.root.crl(&spec)
    }

    /// Partition 1 of the issuing CA's CRL.
    pub fn crl1(&self, tweak: impl FnOnce(&mut CrlSpec)) -> Vec<u8> {
        let mut spec = CrlSpec::partition(CRL1_URL);
        tweak(&mut spec);
        self.ca.crl(&spec)
    }

    /// Partition 2 of the issuing CA's CRL.
    pub fn crl2(&self, tweak: impl FnOnce(&mut CrlSpec)) -> Vec<u8> {
        let mut spec = CrlSpec::partition(CRL2_URL);
        tweak(&mut spec);
        self.ca.crl(&spec)
    }

    /// Fresh, empty ARL and both CRL partitions, parsed.
    pub fn crls(&self) -> Vec<Crl> {
        [self.arl(|_| {}), self.crl1(|_| {}), self.crl2(|_| {})]
            .iter()
            .map(|d| crl(d))
            .collect()
    }

    /// A trust store holding the root.
    pub fn store(&self) -> TrustStore {
        TrustStore::new(vec![cert(&self.root_der)])
    }

    /// The intermediate pool: the issuing CA.
    pub fn pool(&self) -> Vec<Certificate> {
        vec![cert(&self.ca_der)]
    }

    /// Validates `leaf` against this PKI's root and pool.
    pub fn validate(
        &self,
        leaf: &[u8],
        crls: &[Crl],
        options: &Options,
    ) -> Result<ValidatedPath, CertError> {
        self.store()
            .validate(&cert(leaf), &self.pool(), crls, options)
    }

    /// Validates `leaf` with [`Options::new`] at [`NOW`] and fresh, empty CRLs.
    pub fn check(&self, leaf: &[u8]) -> Result<ValidatedPath, CertError> {
        self.validate(leaf, &self.crls(), &Options::new(NOW))
    }
}
