//! The identity a validated citizen certificate asserts.

use eid_core::cert::{Certificate, CertifiedIdentity};

use crate::pki::*;

fn identity_of(pki: &EcertPki, leaf: &[u8]) -> CertifiedIdentity {
    pki.check(leaf).unwrap().identity()
}

#[test]
fn ecert_identity_fields() {
    let pki = EcertPki::new();
    let id = identity_of(&pki, &pki.default_citizen());
    assert_eq!(id.common_name.as_deref(), Some("CHAN Tai Man"));
    assert_eq!(id.subscriber_reference.as_deref(), Some("E1234567890"));
    assert_eq!(id.emails, vec!["chan.taiman@example.com.hk".to_owned()]);
    assert_eq!(id.serial, "4c9e0f612a3b7105d2");
    assert_eq!(
        id.issuer,
        "C=HK, ST=Hong Kong, L=Hong Kong, O=Hongkong Post, CN=Hongkong Post e-Cert CA 2 - 17"
    );
    assert_eq!(
        id.subject,
        "C=HK, O=Hongkong Post e-Cert (Personal), CN=CHAN Tai Man, serialNumber=E1234567890"
    );
    assert_eq!(id.certificate_policies, vec![PERSONAL_POLICY.to_owned()]);
    assert_eq!(id.path_policies, vec![PERSONAL_POLICY.to_owned()]);
    assert_eq!(id.not_after, "2027-03-01T03:59:59Z");
}

#[test]
fn identity_matches_the_path_and_the_parsed_certificate() {
    let pki = EcertPki::new();
    let leaf = pki.default_citizen();
    let path = pki.check(&leaf).unwrap();
    assert_eq!(
        path.identity(),
        CertifiedIdentity::from_certificate(&path.chain[0], &path.policies)
    );
    let parsed = Certificate::from_der(&leaf).unwrap();
    assert_eq!(path.identity().serial, parsed.serial_hex());
    assert_eq!(path.identity().subject, parsed.subject.to_string());
}

#[test]
fn several_email_addresses_in_order() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.emails = vec![
            "chan@example.com.hk".into(),
            "Chan.TaiMan@Mail.example.hk".into(),
        ]
    });
    let id = identity_of(&pki, &leaf);
    // Addresses keep their case: the local part is case-sensitive.
    assert_eq!(
        id.emails,
        vec![
            "chan@example.com.hk".to_owned(),
            "Chan.TaiMan@Mail.example.hk".to_owned()
        ]
    );
}

#[test]
fn email_from_the_subject_when_there_is_no_san() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.emails.clear();
        c.subject = dn(&[
            (DnType::CountryName, "HK"),
            (DnType::OrganizationName, "Hongkong Post e-Cert (Personal)"),
            (DnType::CommonName, "CHAN Tai Man"),
            (serial_number_attr(), "E1234567890"),
            (email_attr(), "chan@example.com.hk"),
        ]);
    });
    let id = identity_of(&pki, &leaf);
    assert_eq!(id.emails, vec!["chan@example.com.hk".to_owned()]);
}

#[test]
fn certificate_without_email_or_reference() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.emails.clear();
        c.subject = dn(&[
            (DnType::CountryName, "HK"),
            (DnType::CommonName, "WONG Siu Ming"),
        ]);
    });
    let id = identity_of(&pki, &leaf);
    assert!(id.emails.is_empty());
    assert_eq!(id.subscriber_reference, None);
    assert_eq!(id.common_name.as_deref(), Some("WONG Siu Ming"));
}

#[test]
fn chinese_name_is_kept_as_written() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.subject = citizen_name("陳大文", "E7654321098"));
    let id = identity_of(&pki, &leaf);
    assert_eq!(id.common_name.as_deref(), Some("陳大文"));
    assert_eq!(id.subscriber_reference.as_deref(), Some("E7654321098"));
}

#[test]
fn name_case_is_kept() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.subject = citizen_name("McDONALD Ronald", "e1111111111"));
    let id = identity_of(&pki, &leaf);
    assert_eq!(id.common_name.as_deref(), Some("McDONALD Ronald"));
    assert_eq!(id.subscriber_reference.as_deref(), Some("e1111111111"));
}

#[test]
fn subject_email_keeps_its_case() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.emails.clear();
        c.subject = dn(&[
            (DnType::CountryName, "HK"),
            (DnType::CommonName, "CHAN Tai Man"),
            (email_attr(), "Chan.TaiMan@example.com.hk"),
        ]);
    });
    let id = identity_of(&pki, &leaf);
    assert_eq!(id.emails, vec!["Chan.TaiMan@example.com.hk".to_owned()]);
}

/// The identity is read back from the display string
/// `C=.., O=.., CN=..`, which x509-parser joins with ", " without escaping:
/// a comma in a value splits it.
#[test]
fn common_name_with_a_comma_is_not_truncated() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| c.subject = citizen_name("CHAN, Tai Man", "E1234567890"));
    let id = identity_of(&pki, &leaf);
    assert_eq!(id.common_name.as_deref(), Some("CHAN, Tai Man"));
}

/// An attribute value that looks like ", CN=..." must not be taken for
/// the holder's name or reference: another attribute's value is not the
/// commonName.
#[test]
fn attribute_values_cannot_spoof_name_or_reference() {
    let pki = EcertPki::new();
    let leaf = pki.citizen(|c| {
        c.subject = dn(&[
            (DnType::CountryName, "HK"),
            (DnType::OrganizationName, "Hongkong Post e-Cert (Personal)"),
            (
                DnType::OrganizationalUnitName,
                "Lands Department, CN=LEE Siu Ming, serialNumber=E9999999999",
            ),
            (DnType::CommonName, "CHAN Tai Man"),
            (serial_number_attr(), "E1234567890"),
        ])
    });
    let id = identity_of(&pki, &leaf);
    assert_eq!(id.common_name.as_deref(), Some("CHAN Tai Man"));
    assert_eq!(id.subscriber_reference.as_deref(), Some("E1234567890"));
}
