//! Hand-made DER on top of rcgen, for what rcgen 0.13 cannot write or
//! writes wrongly: distinguished names and name constraints with
//! correctly tagged directoryName subtrees, and certificates or CRLs whose
//! to-be-signed part a test edits and re-signs.

use rcgen::{DistinguishedName, DnType, DnValue};

use crate::der;
use crate::pki::Signer;

/// The DER of the id-RSASSA-PSS OID (1.2.840.113549.1.1.10).
const RSASSA_PSS: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a,
];

/// An RSASSA-PSS AlgorithmIdentifier with SHA-256, MGF1 with SHA-256 and
/// the given salt length.
pub fn rsassa_pss_sha256(salt: u32) -> Vec<u8> {
    let sha256 = der::seq(&[der::oid("2.16.840.1.101.3.4.2.1"), vec![0x05, 0x00]]);
    der::seq(&[
        der::oid("1.2.840.113549.1.1.10"),
        der::seq(&[
            der::tlv(0xa0, &sha256),
            der::tlv(
                0xa1,
                &der::seq(&[der::oid("1.2.840.113549.1.1.8"), sha256.clone()]),
            ),
            der::tlv(0xa2, &der::uint(salt)),
        ]),
    ])
}

/// The DER of a distinguished name, as rcgen writes it.
pub fn name_der(name: &DistinguishedName) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = name
        .iter()
        .map(|(ty, value)| {
            let oid = match ty {
                DnType::CountryName => "2.5.4.6".to_owned(),
                DnType::LocalityName => "2.5.4.7".to_owned(),
                DnType::StateOrProvinceName => "2.5.4.8".to_owned(),
                DnType::OrganizationName => "2.5.4.10".to_owned(),
                DnType::OrganizationalUnitName => "2.5.4.11".to_owned(),
                DnType::CommonName => "2.5.4.3".to_owned(),
                DnType::CustomDnType(arcs) => arcs
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join("."),
                other => panic!("no OID for {other:?}"),
            };
            let value = match value {
                DnValue::PrintableString(s) => der::tlv(0x13, s.as_str().as_bytes()),
                DnValue::Ia5String(s) => der::tlv(0x16, s.as_str().as_bytes()),
                DnValue::Utf8String(s) => der::tlv(0x0c, s.as_bytes()),
                other => panic!("no encoding for {other:?}"),
            };
            der::tlv(0x31, &der::seq(&[der::oid(&oid), value]))
        })
        .collect();
    der::seq(&rdns)
}

/// One subtree of a name constraint.
#[derive(Debug, Clone)]
pub enum Subtree {
    /// directoryName ([4], explicitly tagged as RFC 5280 requires).
    Directory(DistinguishedName),
    /// rfc822Name: a mailbox, a host, or ".domain".
    Email(String),
    /// dNSName.
    Dns(String),
    /// A GeneralName given as raw DER, for malformed constraints.
    Raw(Vec<u8>),
}

impl Subtree {
    fn general_name(&self) -> Vec<u8> {
        match self {
            Subtree::Directory(name) => der::tlv(0xa4, &name_der(name)),
            Subtree::Email(email) => der::tlv(0x81, email.as_bytes()),
            Subtree::Dns(dns) => der::tlv(0x82, dns.as_bytes()),
            Subtree::Raw(raw) => raw.clone(),
        }
    }

    /// A directoryName subtree tagged the way rcgen 0.13 does it ([4]
    /// IMPLICIT, so the Name's SEQUENCE tag is lost): not a valid encoding.
    pub fn rcgen_style_directory(name: &DistinguishedName) -> Self {
        let name = name_der(name);
        let (_, header, _) = der::header(&name);
        Subtree::Raw(der::tlv(0xa4, &name[header..]))
    }
}

/// nameConstraints: permitted and excluded subtrees (each list written
/// only when not empty).
#[derive(Debug, Clone, Default)]
pub struct NameConstraints {
    /// permittedSubtrees.
    pub permitted: Vec<Subtree>,
    /// excludedSubtrees.
    pub excluded: Vec<Subtree>,
}

impl NameConstraints {
    /// The extension value.
    pub fn to_der(&self) -> Vec<u8> {
        let subtrees = |tag: u8, trees: &[Subtree]| {
            let items: Vec<Vec<u8>> = trees
                .iter()
                .map(|t| der::seq(&[t.general_name()]))
                .collect();
            der::tlv(tag, &items.concat())
        };
        let mut fields = Vec::new();
        if !self.permitted.is_empty() {
            fields.push(subtrees(0xa0, &self.permitted));
        }
        if !self.excluded.is_empty() {
            fields.push(subtrees(0xa1, &self.excluded));
        }
        der::seq(&fields)
    }
}

impl Signer {
    /// Signs a hand-edited to-be-signed part with this signer's key and
    /// assembles the signed object with the outer `algorithm` given (use
    /// the one from [`der::split_signed`] to keep it consistent).
    pub fn sign_tbs(&self, tbs: &[u8], algorithm: &[u8]) -> Vec<u8> {
        use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = self.key.serialized_der();
        let alg = self.key.algorithm();
        let signature: Vec<u8> =
            if alg == &rcgen::PKCS_ECDSA_P256_SHA256 || alg == &rcgen::PKCS_ECDSA_P384_SHA384 {
                let ring_alg = if alg == &rcgen::PKCS_ECDSA_P256_SHA256 {
                    &sig::ECDSA_P256_SHA256_ASN1_SIGNING
                } else {
                    &sig::ECDSA_P384_SHA384_ASN1_SIGNING
                };
                let kp = EcdsaKeyPair::from_pkcs8(ring_alg, pkcs8, &rng).expect("EC key");
                kp.sign(&rng, tbs)
                    .expect("ECDSA signature")
                    .as_ref()
                    .to_vec()
            } else if alg == &rcgen::PKCS_ED25519 {
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8).expect("Ed25519 key");
                kp.sign(tbs).as_ref().to_vec()
            } else {
                let kp = RsaKeyPair::from_pkcs8(pkcs8).expect("RSA key");
                // RSASSA-PSS (SHA-256, salt 32) when the algorithm says so.
                let padding: &dyn sig::RsaEncoding =
                    if algorithm.windows(RSASSA_PSS.len()).any(|w| w == RSASSA_PSS) {
                        &sig::RSA_PSS_SHA256
                    } else {
                        &sig::RSA_PKCS1_SHA256
                    };
                let mut out = vec![0; kp.public().modulus_len()];
                kp.sign(padding, &rng, tbs, &mut out)
                    .expect("RSA signature");
                out
            };
        let bit_string = der::tlv(0x03, &[&[0u8][..], &signature].concat());
        der::seq(&[tbs.to_vec(), algorithm.to_vec(), bit_string])
    }

    /// Re-signs `signed` (a certificate or CRL issued by this signer) after
    /// `edit` has changed the fields of its to-be-signed part.
    pub fn resign(&self, signed: &[u8], edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
        let (tbs, algorithm, _) = der::split_signed(signed);
        let mut fields = der::fields(&tbs);
        edit(&mut fields);
        self.sign_tbs(&der::seq(&fields), &algorithm)
    }
}

/// Appends `extension` (from [`der::extension`]) to the extensions of a
/// to-be-signed part whose last field is the `[0]` (CRL) or `[3]`
/// (certificate) extensions wrapper.
pub fn push_extension(fields: &mut [Vec<u8>], extension: Vec<u8>) {
    let wrapper = fields.last_mut().expect("extensions");
    let tag = wrapper[0];
    assert!(
        tag == 0xa0 || tag == 0xa3,
        "last field is not the extensions"
    );
    let mut extensions = der::fields(der::children(wrapper)[0]);
    extensions.push(extension);
    *wrapper = der::tlv(tag, &der::seq(&extensions));
}
