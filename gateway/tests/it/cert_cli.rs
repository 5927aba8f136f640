//! `gateway cert verify` on files made with rcgen: verdicts, exit codes,
//! bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use time::macros::datetime;

const BIN: &str = env!("CARGO_BIN_EXE_gateway");

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.not_before = datetime!(2025-01-01 00:00 UTC);
    p.not_after = datetime!(2030-01-01 00:00 UTC);
    p.key_identifier_method = KeyIdMethod::Sha256;
    p.use_authority_key_identifier_extension = true;
    p
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = params(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

/// Root, issuing CA, a citizen certificate (serial 0x2a), and CRLs from the
/// root (empty) and the CA (empty, and one revoking the citizen), as PEM.
fn pki() -> Files {
    let dir = tempfile::tempdir().unwrap();
    let files = Files { dir };
    let root_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut root_params = ca_params("Test Root CA 2");
    root_params.use_authority_key_identifier_extension = false;
    let root = root_params.self_signed(&root_key).unwrap();
    let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let ca = ca_params("Test e-Cert CA 2 - 17")
        .signed_by(&ca_key, &root, &root_key)
        .unwrap();
    let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut leaf_params = params("CHAN Tai Man");
    leaf_params
        .distinguished_name
        .push(DnType::CustomDnType(vec![2, 5, 4, 5]), "SRN-0042");
    leaf_params.serial_number = Some(SerialNumber::from_slice(&[0x2a]));
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &ca, &ca_key).unwrap();
    let crl = |issuer: &rcgen::Certificate, key: &KeyPair, revoked: Vec<RevokedCertParams>| {
        CertificateRevocationListParams {
            this_update: datetime!(2026-11-01 00:00 UTC),
            next_update: datetime!(2026-12-31 00:00 UTC),
            crl_number: SerialNumber::from(7u64),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(issuer, key)
        .unwrap()
        .pem()
        .unwrap()
    };
    std::fs::write(files.path("root.pem"), root.pem()).unwrap();
    std::fs::write(files.path("ca.pem"), ca.pem()).unwrap();
    std::fs::write(files.path("leaf.pem"), leaf.pem()).unwrap();
    std::fs::write(files.path("leaf.der"), leaf.der().as_ref()).unwrap();
    std::fs::write(files.path("root.crl"), crl(&root, &root_key, vec![])).unwrap();
    std::fs::write(files.path("ca.crl"), crl(&ca, &ca_key, vec![])).unwrap();
    let revoked = RevokedCertParams {
        serial_number: SerialNumber::from_slice(&[0x2a]),
        revocation_time: datetime!(2026-11-10 00:00 UTC),
        reason_code: Some(RevocationReason::CertificateHold),
        invalidity_date: None,
    };
    std::fs::write(
        files.path("ca-revoked.crl"),
        crl(&ca, &ca_key, vec![revoked]),
    )
    .unwrap();
    std::fs::write(
        files.path("garbage.pem"),
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    files
}

fn verify(dir: &Path, args: &[&str]) -> (Output, serde_json::Value) {
    let output = Command::new(BIN)
        .current_dir(dir)
        .args(["cert", "verify"])
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null);
    (output, json)
}

const AT: &str = "2026-11-28T08:00:00Z";

#[test]
fn a_valid_chain_with_crls_prints_the_path_and_identity() {
    let pki = pki();
    let dir = pki.dir.path();
    let (output, json) = verify(
        dir,
        &[
            "--anchors",
            "root.pem",
            "--intermediates",
            "ca.pem",
            "--crl",
            "root.crl",
            "--crl",
            "ca.crl",
            "--at",
            AT,
            "leaf.pem",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(json["valid"], true);
    assert_eq!(json["error"], serde_json::Value::Null);
    assert_eq!(json["path"].as_array().unwrap().len(), 3);
    assert_eq!(json["identity"]["common_name"], "CHAN Tai Man");
    assert_eq!(json["identity"]["subscriber_reference"], "SRN-0042");
    assert_eq!(json["identity"]["serial"], "2a");
    // DER input works too.
    let (output, _) = verify(
        dir,
        &[
            "--anchors",
            "root.pem",
            "--intermediates",
            "ca.pem",
            "--revocation",
            "off",
            "--at",
            AT,
            "leaf.der",
        ],
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn invalid_verdicts_exit_1_with_a_code() {
    let pki = pki();
    let dir = pki.dir.path();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--anchors",
                "root.pem",
                "--intermediates",
                "ca.pem",
                "--at",
                AT,
                "leaf.pem",
            ],
            "revocation_unavailable",
        ),
        (
            &[
                "--anchors",
                "root.pem",
                "--intermediates",
                "ca.pem",
                "--crl",
                "root.crl",
                "--crl",
                "ca-revoked.crl",
                "--at",
                AT,
                "leaf.pem",
            ],
            "revoked",
        ),
        (
            &[
                "--anchors",
                "root.pem",
                "--intermediates",
                "ca.pem",
                "--revocation",
                "off",
                "--at",
                "2031-01-01T00:00:00Z",
                "leaf.pem",
            ],
            "expired",
        ),
        (
            &[
                "--anchors",
                "root.pem",
                "--revocation",
                "off",
                "--at",
                AT,
                "leaf.pem",
            ],
            "unknown_issuer",
        ),
        (
            &[
                "--anchors",
                "root.pem",
                "--intermediates",
                "ca.pem",
                "--revocation",
                "off",
                "--purpose",
                "signing",
                "--at",
                AT,
                "leaf.pem",
            ],
            "wrong_purpose",
        ),
    ];
    for (args, code) in cases {
        let (output, json) = verify(dir, args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {output:?}");
        assert_eq!(json["valid"], false);
        assert_eq!(json["error"], *code, "{args:?}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (_, json) = verify(
        dir,
        &[
            "--anchors",
            "root.pem",
            "--intermediates",
            "ca.pem",
            "--crl",
            "root.crl",
            "--crl",
            "ca-revoked.crl",
            "--at",
            AT,
            "leaf.pem",
        ],
    );
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("certificateHold")
    );
}

#[test]
fn bad_input_exits_2() {
    let pki = pki();
    let dir = pki.dir.path();
    let cases: &[(&[&str], &str)] = &[
        (&["--anchors", "missing.pem", "leaf.pem"], "missing.pem"),
        (&["--anchors", "root.pem", "missing.pem"], "missing.pem"),
        (&["--anchors", "garbage.pem", "leaf.pem"], "garbage.pem"),
        (&["--anchors", "root.pem", "garbage.pem"], "garbage.pem"),
        (
            &["--anchors", "root.pem", "--crl", "leaf.pem", "leaf.pem"],
            "no CRL found",
        ),
        (
            &["--anchors", "root.pem", "--crl", "leaf.der", "leaf.pem"],
            "malformed CRL",
        ),
        (
            &["--anchors", "root.pem", "--ocsp", "leaf.der", "leaf.pem"],
            "OCSP",
        ),
        (
            &["--anchors", "root.pem", "--at", "yesterday", "leaf.pem"],
            "RFC 3339",
        ),
        (
            &[
                "--anchors",
                "root.pem",
                "--purpose",
                "everything",
                "leaf.pem",
            ],
            "everything",
        ),
        (&["leaf.pem"], "--anchors"),
    ];
    for (args, needle) in cases {
        let (output, json) = verify(dir, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{needle:?} in {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(json, serde_json::Value::Null, "no verdict on bad input");
    }
}
