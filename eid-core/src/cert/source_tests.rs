//! [`gather_path`] against in-memory sources that log every fetch: OCSP
//! first, CRLs when no responder answers, the fetch cap, no URL twice.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Mutex;

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256, SerialNumber,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::der::write::seq;
use super::model_tests::{AD_OCSP, AIA, uri};
use super::testing::{TestOcspStatus, ocsp_response};
use super::{
    CertError, Certificate, Crl, CrlSource, OcspResponse, OcspSource, Options, RevocationScope,
    TrustStore, gather_path, ocsp_request,
};

const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

const LEAF_OCSP: &str = "http://ocsp1.hongkongpost.gov.hk";
const LEAF_OCSP_2: &str = "http://ocsp2.hongkongpost.gov.hk";
const LEAF_OCSP_3: &str = "http://ocsp3.hongkongpost.gov.hk";
const LEAF_CRL: &str = "http://crl1.hongkongpost.gov.hk/crl/eCertCA2-17CRL1.crl";
const LEAF_CRL_2: &str = "http://crl1.hongkongpost.gov.hk/crl/eCertCA2-17CRL2.crl";
const CA_OCSP: &str = "http://ocsp.hongkongpost.gov.hk/root";
const CA_CRL: &str = "http://crl1.hongkongpost.gov.hk/crl/RootCA2ARL.crl";

/// Where each certificate says its revocation data is.
#[derive(Default)]
struct Urls<'a> {
    leaf_ocsp: &'a [&'a str],
    leaf_crls: &'a [&'a str],
    ca_ocsp: &'a [&'a str],
    ca_crls: &'a [&'a str],
}

struct Pki {
    root: Certificate,
    root_rc: rcgen::Certificate,
    root_key: KeyPair,
    ca: Certificate,
    ca_rc: rcgen::Certificate,
    ca_key: KeyPair,
    leaf: Certificate,
}

impl Pki {
    /// End-entity first, trust anchor last.
    fn path(&self) -> Vec<Certificate> {
        vec![self.leaf.clone(), self.ca.clone(), self.root.clone()]
    }

    /// A good OCSP response about the leaf, signed by the CA.
    fn leaf_good(&self) -> Vec<u8> {
        self.leaf_status(TestOcspStatus::Good)
    }

    fn leaf_status(&self, status: TestOcspStatus) -> Vec<u8> {
        ocsp_response(
            &self.leaf,
            &self.ca,
            &self.ca_key.serialize_der(),
            status,
            NOW - Duration::hours(1),
            Some(NOW + Duration::days(1)),
        )
    }

    /// A good OCSP response about the CA, signed by the root.
    fn ca_good(&self) -> Vec<u8> {
        ocsp_response(
            &self.ca,
            &self.root,
            &self.root_key.serialize_der(),
            TestOcspStatus::Good,
            NOW - Duration::hours(1),
            Some(NOW + Duration::days(1)),
        )
    }

    /// An empty CRL signed by the CA (about the leaf).
    fn leaf_crl(&self) -> Vec<u8> {
        crl(&self.ca_rc, &self.ca_key)
    }

    /// An empty CRL signed by the root (about the CA).
    fn ca_crl(&self) -> Vec<u8> {
        crl(&self.root_rc, &self.root_key)
    }
}

fn crl(issuer: &rcgen::Certificate, key: &KeyPair) -> Vec<u8> {
    CertificateRevocationListParams {
        this_update: NOW - Duration::hours(1),
        next_update: NOW + Duration::days(1),
        crl_number: SerialNumber::from(1u64),
        issuing_distribution_point: None,
        revoked_certs: Vec::new(),
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(issuer, key)
    .unwrap()
    .der()
    .to_vec()
}

fn params(cn: &str, ca: bool, ocsp: &[&str], crls: &[&str]) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = datetime!(2025-01-01 00:00 UTC);
    p.not_after = datetime!(2030-01-01 00:00 UTC);
    p.key_identifier_method = KeyIdMethod::Sha256;
    p.use_authority_key_identifier_extension = true;
    if ca {
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    } else {
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    if !ocsp.is_empty() {
        let descriptions: Vec<Vec<u8>> = ocsp.iter().map(|u| uri(AD_OCSP, u)).collect();
        p.custom_extensions
            .push(CustomExtension::from_oid_content(AIA, seq(&descriptions)));
    }
    if !crls.is_empty() {
        p.crl_distribution_points = vec![CrlDistributionPoint {
            uris: crls.iter().map(|u| (*u).to_owned()).collect(),
        }];
    }
    p
}

fn pki(urls: &Urls<'_>) -> Pki {
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut root_params = params("Hongkong Post Root CA 2 (test)", true, &[], &[]);
    root_params.use_authority_key_identifier_extension = false;
    let root_rc = root_params.self_signed(&root_key).unwrap();
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let ca_rc = params(
        "Hongkong Post e-Cert CA 2 - 17 (test)",
        true,
        urls.ca_ocsp,
        urls.ca_crls,
    )
    .signed_by(&ca_key, &root_rc, &root_key)
    .unwrap();
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let leaf = params("CHAN Tai Man", false, urls.leaf_ocsp, urls.leaf_crls)
        .signed_by(&leaf_key, &ca_rc, &ca_key)
        .unwrap();
    let parse = |c: &rcgen::Certificate| Certificate::from_der(c.der()).unwrap();
    Pki {
        root: parse(&root_rc),
        ca: parse(&ca_rc),
        leaf: parse(&leaf),
        root_rc,
        root_key,
        ca_rc,
        ca_key,
    }
}

/// Both sources in one: each URL answers with its DER, or fails when it has
/// none; every fetch is logged in order.
#[derive(Default)]
struct Fake {
    ocsp: HashMap<&'static str, Vec<u8>>,
    crls: HashMap<&'static str, Vec<u8>>,
    log: Mutex<Vec<Fetch>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fetch {
    Ocsp(String, Vec<u8>),
    Crl(String),
}

impl Fake {
    fn log(&self) -> Vec<Fetch> {
        self.log.lock().unwrap().clone()
    }

    fn urls(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .map(|f| match f {
                Fetch::Ocsp(url, _) | Fetch::Crl(url) => url,
            })
            .collect()
    }
}

fn refused(url: &str) -> CertError {
    CertError::RevocationFetch {
        url: url.to_owned(),
        detail: "connection refused".into(),
    }
}

impl OcspSource for Fake {
    async fn fetch(&self, url: &str, request: &[u8]) -> Result<OcspResponse, CertError> {
        self.log
            .lock()
            .unwrap()
            .push(Fetch::Ocsp(url.to_owned(), request.to_vec()));
        let der = self.ocsp.get(url).ok_or_else(|| refused(url))?;
        OcspResponse::from_der(der)
    }
}

impl CrlSource for Fake {
    async fn fetch(&self, url: &str) -> Result<Crl, CertError> {
        self.log.lock().unwrap().push(Fetch::Crl(url.to_owned()));
        let der = self.crls.get(url).ok_or_else(|| refused(url))?;
        Crl::from_der(der)
    }
}

fn failed_urls(failures: &[(String, CertError)]) -> Vec<&str> {
    failures.iter().map(|(url, _)| url.as_str()).collect()
}

fn validate_all(pki: &Pki, revocation: &super::Revocation) -> Result<(), CertError> {
    let options = Options {
        revocation: RevocationScope::All,
        ..Options::new(NOW)
    };
    TrustStore::new(vec![pki.root.clone()])
        .validate_with(
            &pki.leaf,
            std::slice::from_ref(&pki.ca),
            revocation,
            &options,
        )
        .map(|_| ())
}

#[tokio::test]
async fn ocsp_is_asked_first_and_crls_are_then_not_needed() {
    let pki = pki(&Urls {
        leaf_ocsp: &[LEAF_OCSP],
        leaf_crls: &[LEAF_CRL],
        ca_ocsp: &[CA_OCSP],
        ca_crls: &[CA_CRL],
    });
    let fake = Fake {
        ocsp: HashMap::from([(LEAF_OCSP, pki.leaf_good()), (CA_OCSP, pki.ca_good())]),
        crls: HashMap::from([(LEAF_CRL, pki.leaf_crl()), (CA_CRL, pki.ca_crl())]),
        ..Fake::default()
    };
    let gathered = gather_path(&fake, &fake, &pki.path(), 10).await;
    assert_eq!(
        fake.log(),
        [
            Fetch::Ocsp(LEAF_OCSP.to_owned(), ocsp_request(&pki.leaf, &pki.ca, None)),
            Fetch::Ocsp(CA_OCSP.to_owned(), ocsp_request(&pki.ca, &pki.root, None)),
        ]
    );
    assert_eq!(gathered.revocation.ocsp.len(), 2);
    assert!(gathered.revocation.crls.is_empty());
    assert!(gathered.failures.is_empty());
    assert!(gathered.revocation.ocsp_nonce.is_none());
    // What was gathered decides the whole path.
    validate_all(&pki, &gathered.revocation).unwrap();
}

#[tokio::test]
async fn crls_are_fetched_for_a_certificate_no_responder_answers_for() {
    let pki = pki(&Urls {
        leaf_ocsp: &[LEAF_OCSP, LEAF_OCSP_2, LEAF_OCSP_3],
        leaf_crls: &[LEAF_CRL],
        ca_ocsp: &[CA_OCSP],
        ca_crls: &[CA_CRL],
    });
    let fake = Fake {
        // LEAF_OCSP refuses; LEAF_OCSP_2 answers about another certificate;
        // LEAF_OCSP_3 does not know the leaf.
        ocsp: HashMap::from([
            (LEAF_OCSP_2, pki.ca_good()),
            (LEAF_OCSP_3, pki.leaf_status(TestOcspStatus::Unknown)),
            (CA_OCSP, pki.ca_good()),
        ]),
        crls: HashMap::from([(LEAF_CRL, pki.leaf_crl()), (CA_CRL, pki.ca_crl())]),
        ..Fake::default()
    };
    let gathered = gather_path(&fake, &fake, &pki.path(), 10).await;
    assert_eq!(
        fake.urls(),
        [LEAF_OCSP, LEAF_OCSP_2, LEAF_OCSP_3, LEAF_CRL, CA_OCSP],
        "the CA's responder answered: its CRL is not fetched"
    );
    assert_eq!(
        failed_urls(&gathered.failures),
        [LEAF_OCSP, LEAF_OCSP_2, LEAF_OCSP_3]
    );
    assert!(matches!(
        gathered.failures[0].1,
        CertError::RevocationFetch { .. }
    ));
    assert!(
        gathered.failures[1].1.to_string().contains("no status"),
        "{}",
        gathered.failures[1].1
    );
    assert!(
        gathered.failures[2].1.to_string().contains("does not know"),
        "{}",
        gathered.failures[2].1
    );
    assert_eq!(gathered.revocation.crls.len(), 1);
    assert_eq!(gathered.revocation.ocsp.len(), 1);
    validate_all(&pki, &gathered.revocation).unwrap();

    // The first answer wins: later responders are not asked.
    let fake = Fake {
        ocsp: HashMap::from([
            (LEAF_OCSP, pki.leaf_good()),
            (LEAF_OCSP_2, pki.leaf_good()),
            (CA_OCSP, pki.ca_good()),
        ]),
        ..Fake::default()
    };
    let gathered = gather_path(&fake, &fake, &pki.path(), 10).await;
    assert_eq!(fake.urls(), [LEAF_OCSP, CA_OCSP]);
    assert_eq!(gathered.revocation.ocsp.len(), 2);
}

#[tokio::test]
async fn crl_failures_are_reported_and_a_revoked_answer_stops_the_search() {
    let pki = pki(&Urls {
        leaf_ocsp: &[LEAF_OCSP, LEAF_OCSP_2],
        leaf_crls: &[LEAF_CRL],
        ca_ocsp: &[],
        ca_crls: &[CA_CRL],
    });
    let fake = Fake {
        ocsp: HashMap::from([(
            LEAF_OCSP,
            pki.leaf_status(TestOcspStatus::Revoked {
                at: NOW - Duration::days(1),
                reason: Some(1),
            }),
        )]),
        ..Fake::default()
    };
    let gathered = gather_path(&fake, &fake, &pki.path(), 10).await;
    // The revoked answer is an answer; the CA has no responder and its CRL
    // fails.
    assert_eq!(fake.urls(), [LEAF_OCSP, CA_CRL]);
    assert_eq!(failed_urls(&gathered.failures), [CA_CRL]);
    // The whole path fails closed on the CA; the end-entity alone is revoked.
    let err = validate_all(&pki, &gathered.revocation).unwrap_err();
    assert!(
        matches!(&err, CertError::RevocationUnavailable { subject, .. } if subject.contains("CA 2 - 17")),
        "{err}"
    );
    let options = Options {
        revocation: RevocationScope::EndEntity,
        ..Options::new(NOW)
    };
    let err = TrustStore::new(vec![pki.root.clone()])
        .validate_with(
            &pki.leaf,
            std::slice::from_ref(&pki.ca),
            &gathered.revocation,
            &options,
        )
        .unwrap_err();
    assert!(
        matches!(&err, CertError::Revoked { reason, .. } if reason == "keyCompromise"),
        "{err}"
    );
}

#[tokio::test]
async fn never_more_fetches_than_the_cap() {
    let pki = pki(&Urls {
        leaf_ocsp: &[LEAF_OCSP, LEAF_OCSP_2],
        leaf_crls: &[LEAF_CRL, LEAF_CRL_2],
        ca_ocsp: &[CA_OCSP],
        ca_crls: &[CA_CRL],
    });
    // Every fetch fails, so every URL would be tried, in this order.
    let all = [
        LEAF_OCSP,
        LEAF_OCSP_2,
        LEAF_CRL,
        LEAF_CRL_2,
        CA_OCSP,
        CA_CRL,
    ];
    for cap in 0..=all.len() + 2 {
        let fake = Fake::default();
        let gathered = gather_path(&fake, &fake, &pki.path(), cap).await;
        let expected = &all[..cap.min(all.len())];
        assert_eq!(fake.urls(), expected, "cap {cap}");
        assert_eq!(failed_urls(&gathered.failures), expected, "cap {cap}");
    }
    // Successful fetches count too.
    let fake = Fake {
        ocsp: HashMap::from([(LEAF_OCSP, pki.leaf_good()), (CA_OCSP, pki.ca_good())]),
        ..Fake::default()
    };
    let gathered = gather_path(&fake, &fake, &pki.path(), 1).await;
    assert_eq!(fake.urls(), [LEAF_OCSP]);
    assert_eq!(gathered.revocation.ocsp.len(), 1);
}

#[tokio::test]
async fn no_url_is_fetched_twice_and_only_http_urls_are_fetched() {
    // The leaf names its responder twice and an LDAP one; leaf and CA share
    // a CRL URL, which answers once for both.
    let pki = pki(&Urls {
        leaf_ocsp: &[LEAF_OCSP, "ldap://ocsp.example/", LEAF_OCSP],
        leaf_crls: &[LEAF_CRL, "ldap://crl.example/cn=CA"],
        ca_ocsp: &[LEAF_OCSP],
        ca_crls: &[LEAF_CRL, CA_CRL],
    });
    let fake = Fake {
        crls: HashMap::from([(LEAF_CRL, pki.leaf_crl())]),
        ..Fake::default()
    };
    let gathered = gather_path(&fake, &fake, &pki.path(), 10).await;
    assert_eq!(
        fake.log(),
        [
            Fetch::Ocsp(LEAF_OCSP.to_owned(), ocsp_request(&pki.leaf, &pki.ca, None)),
            Fetch::Crl(LEAF_CRL.to_owned()),
            // The same responder, asked about another certificate.
            Fetch::Ocsp(LEAF_OCSP.to_owned(), ocsp_request(&pki.ca, &pki.root, None)),
            Fetch::Crl(CA_CRL.to_owned()),
        ]
    );
    assert_eq!(gathered.revocation.crls.len(), 1);
    assert_eq!(
        failed_urls(&gathered.failures),
        [LEAF_OCSP, LEAF_OCSP, CA_CRL]
    );
}

#[tokio::test]
async fn a_path_of_the_anchor_alone_needs_nothing() {
    let pki = pki(&Urls {
        leaf_ocsp: &[LEAF_OCSP],
        ..Urls::default()
    });
    let fake = Fake::default();
    for path in [&[][..], std::slice::from_ref(&pki.root)] {
        let gathered = gather_path(&fake, &fake, path, 10).await;
        assert!(gathered.failures.is_empty());
    }
    assert!(fake.log().is_empty());
}

#[test]
fn gathering_can_move_between_threads() {
    fn send<T: Send>(_: T) {}
    let fake = Fake::default();
    send(gather_path(&fake, &fake, &[], 1));
}
