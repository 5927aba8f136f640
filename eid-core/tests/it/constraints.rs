//! Name constraints (directoryName, rfc822Name) and certificate policies
//! (requireExplicitPolicy, anyPolicy, inhibitAnyPolicy, policy mappings).

use eid_core::cert::{CertError, Certificate, Options};

use crate::pki::*;

/// The issuing CA with these name constraints.
fn constrained(permitted: Vec<Subtree>, excluded: Vec<Subtree>) -> EcertPki {
    EcertPki::with(
        |_| {},
        |ca| {
            ca.name_constraints = Some(NameConstraints {
                permitted,
                excluded,
            })
        },
    )
}

fn personal_name() -> rcgen::DistinguishedName {
    dn(&[
        (DnType::CountryName, "HK"),
        (DnType::OrganizationName, "Hongkong Post e-Cert (Personal)"),
    ])
}

fn personal_subtree() -> Subtree {
    Subtree::Directory(personal_name())
}

fn violation(err: &CertError) -> (&str, &str) {
    match err {
        CertError::NameConstraintViolation { subject, name } => (subject, name),
        other => panic!("expected a name constraint violation, got {other:?}"),
    }
}

#[test]
fn directory_name_permitted_subtree_satisfied() {
    let pki = constrained(vec![personal_subtree()], vec![]);
    pki.check(&pki.default_citizen()).unwrap();
}

#[test]
fn directory_name_permitted_subtree_violated() {
    let pki = constrained(vec![personal_subtree()], vec![]);
    let leaf = pki.citizen(|c| {
        c.subject = dn(&[
            (DnType::CountryName, "HK"),
            (
                DnType::OrganizationName,
                "Hongkong Post e-Cert (Organisational)",
            ),
            (DnType::CommonName, "CHAN Tai Man"),
        ])
    });
    let err = pki.check(&leaf).unwrap_err();
    let (_, name) = violation(&err);
    assert!(name.starts_with("dirname:"), "{name}");
    assert_eq!(err.code(), "name_constraint_violation");
}

#[test]
fn directory_name_comparison_ignores_case_and_spaces() {
    let pki = constrained(
        vec![Subtree::Directory(dn(&[
            (DnType::CountryName, "hk"),
            (DnType::OrganizationName, "HONGKONG POST  e-Cert (Personal)"),
        ]))],
        vec![],
    );
    pki.check(&pki.default_citizen()).unwrap();
}

#[test]
fn directory_name_excluded_subtree_violated() {
    let test_accounts = dn(&[
        (DnType::CountryName, "HK"),
        (DnType::OrganizationName, "Hongkong Post e-Cert (Personal)"),
        (DnType::CommonName, "TEST ACCOUNT"),
    ]);
    let pki = constrained(
        vec![personal_subtree()],
        vec![Subtree::Directory(test_accounts)],
    );
    pki.check(&pki.default_citizen()).unwrap();
    let leaf = pki.citizen(|c| c.subject = citizen_name("TEST ACCOUNT", "T0000000001"));
    let err = pki.check(&leaf).unwrap_err();
    let (subject, _) = violation(&err);
    assert!(subject.contains("TEST ACCOUNT"));
}

#[test]
fn root_directory_name_constraint_applies_to_the_issuing_ca() {
    // The root only permits O=Hongkong Post: the issuing CA is inside, the
    // citizen (O=Hongkong Post e-Cert (Personal)) is not.
    let pki = EcertPki::with(
        |root| {
            root.name_constraints = Some(NameConstraints {
                permitted: vec![Subtree::Directory(dn(&[
                    (DnType::CountryName, "HK"),
                    (DnType::StateOrProvinceName, "Hong Kong"),
                    (DnType::LocalityName, "Hong Kong"),
                    (DnType::OrganizationName, "Hongkong Post"),
                ]))],
                excluded: vec![],
            })
        },
        |_| {},
    );
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    let (subject, _) = violation(&err);
    assert!(subject.contains("CHAN Tai Man"), "{subject}");
}

#[test]
fn rfc822_permitted_domain_satisfied() {
    let pki = constrained(vec![Subtree::Email(".hk".into())], vec![]);
    pki.check(&pki.default_citizen()).unwrap();
    // A directoryName-only subject is unaffected by an rfc822Name constraint.
    pki.check(&pki.citizen(|c| c.emails = vec!["wong@gov.hk".into()]))
        .unwrap();
}

#[test]
fn rfc822_permitted_domain_violated() {
    let pki = constrained(vec![Subtree::Email(".hk".into())], vec![]);
    let leaf = pki.citizen(|c| c.emails = vec!["chan.taiman@example.com".into()]);
    let err = pki.check(&leaf).unwrap_err();
    let (_, name) = violation(&err);
    assert_eq!(name, "email:chan.taiman@example.com");
}

#[test]
fn rfc822_exact_mailbox_and_host_forms() {
    let pki = constrained(
        vec![
            Subtree::Email("chan.taiman@example.com.hk".into()),
            Subtree::Email("gov.hk".into()),
        ],
        vec![],
    );
    pki.check(&pki.default_citizen()).unwrap();
    pki.check(&pki.citizen(|c| c.emails = vec!["anyone@gov.hk".into()]))
        .unwrap();
    // "gov.hk" is that host only, not its subdomains.
    let err = pki
        .check(&pki.citizen(|c| c.emails = vec!["anyone@dept.gov.hk".into()]))
        .unwrap_err();
    violation(&err);
    let err = pki
        .check(&pki.citizen(|c| c.emails = vec!["other@example.com.hk".into()]))
        .unwrap_err();
    violation(&err);
}

#[test]
fn rfc822_excluded_domain_violated() {
    let pki = constrained(vec![], vec![Subtree::Email("mailinator.com".into())]);
    pki.check(&pki.default_citizen()).unwrap();
    let leaf = pki.citizen(|c| {
        c.emails = vec![
            "chan@example.com.hk".into(),
            "throwaway@mailinator.com".into(),
        ]
    });
    let err = pki.check(&leaf).unwrap_err();
    let (_, name) = violation(&err);
    assert_eq!(name, "email:throwaway@mailinator.com");
}

#[test]
fn rfc822_constraint_applies_to_subject_email_without_san() {
    let pki = constrained(vec![Subtree::Email(".hk".into())], vec![]);
    let with_subject_email = |email: &str| {
        pki.citizen(|c| {
            c.emails.clear();
            c.subject = dn(&[
                (DnType::CountryName, "HK"),
                (DnType::OrganizationName, "Hongkong Post e-Cert (Personal)"),
                (DnType::CommonName, "CHAN Tai Man"),
                (email_attr(), email),
            ]);
        })
    };
    pki.check(&with_subject_email("chan@example.com.hk"))
        .unwrap();
    let err = pki
        .check(&with_subject_email("chan@example.com"))
        .unwrap_err();
    let (_, name) = violation(&err);
    assert!(name.starts_with("email:"), "{name}");
}

#[test]
fn excluded_subtrees_cannot_be_evaded_by_case_spacing_or_string_type() {
    let pki = constrained(
        vec![],
        vec![
            Subtree::Directory(test_account_name()),
            Subtree::Email("mailinator.com".into()),
        ],
    );
    let spaced = pki.citizen(|c| c.subject = citizen_name("test   account", "T0000000001"));
    violation(&pki.check(&spaced).unwrap_err());
    // The same name with a PrintableString commonName instead of UTF8String.
    let mut printable = rcgen::DistinguishedName::new();
    for (ty, value) in test_account_name().iter() {
        let value = match (ty, value) {
            (DnType::CommonName, rcgen::DnValue::Utf8String(s)) => {
                rcgen::DnValue::PrintableString(s.as_str().try_into().unwrap())
            }
            _ => value.clone(),
        };
        printable.push(ty.clone(), value);
    }
    let retyped = pki.citizen(|c| c.subject = printable);
    violation(&pki.check(&retyped).unwrap_err());
    let shouting = pki.citizen(|c| c.emails = vec!["THROWAWAY@MAILINATOR.COM".into()]);
    violation(&pki.check(&shouting).unwrap_err());
}

#[test]
fn constraints_on_other_name_forms_do_not_apply() {
    // A dNSName constraint says nothing about a citizen with no DNS names.
    let pki = constrained(vec![Subtree::Dns("hongkongpost.gov.hk".into())], vec![]);
    pki.check(&pki.default_citizen()).unwrap();
}

fn test_account_name() -> rcgen::DistinguishedName {
    citizen_name("TEST ACCOUNT", "T0000000001")
}

#[test]
fn malformed_permitted_subtree_is_rejected() {
    let pki = constrained(
        vec![Subtree::rcgen_style_directory(&personal_name())],
        vec![],
    );
    let err = Certificate::from_der(&pki.ca_der).unwrap_err();
    assert!(
        matches!(&err, CertError::InvalidExtension { oid, .. } if oid == "2.5.29.30"),
        "{err:?}"
    );
}

/// x509-parser parses nameConstraints field by field with `opt(..)` and
/// ignores what is left of the SEQUENCE, so an excludedSubtrees that does
/// not parse vanishes while the permittedSubtrees before it survive.
#[test]
fn unparseable_excluded_subtree_is_not_silently_dropped() {
    let pki = constrained(
        vec![Subtree::Email(".hk".into())],
        vec![Subtree::rcgen_style_directory(&test_account_name())],
    );
    match Certificate::from_der(&pki.ca_der) {
        Err(err) => assert!(
            matches!(&err, CertError::InvalidExtension { oid, .. } if oid == "2.5.29.30"),
            "{err:?}"
        ),
        Ok(ca) => {
            let leaf = pki.citizen(|c| c.subject = test_account_name());
            let result = pki
                .store()
                .validate(&cert(&leaf), &[ca], &pki.crls(), &Options::new(NOW));
            assert!(
                result.is_err(),
                "a certificate inside the excluded subtree validated: the constraint was dropped"
            );
        }
    }
}

/// The issuing CA requires an explicit policy for everything below it.
fn explicit_policy_pki() -> EcertPki {
    EcertPki::with(|_| {}, |ca| ca.policy_constraints = Some((Some(0), None)))
}

#[test]
fn require_explicit_policy_with_matching_policy() {
    let pki = explicit_policy_pki();
    let path = pki.check(&pki.default_citizen()).unwrap();
    assert_eq!(path.policies, vec![PERSONAL_POLICY.to_owned()]);
}

#[test]
fn require_explicit_policy_without_any_policy_in_the_leaf() {
    let pki = explicit_policy_pki();
    let err = pki.check(&pki.citizen(|c| c.policies.clear())).unwrap_err();
    assert_eq!(err, CertError::PolicyRequired);
    assert_eq!(err.code(), "policy_required");
}

#[test]
fn require_explicit_policy_with_a_policy_the_ca_does_not_allow() {
    let pki = explicit_policy_pki();
    let leaf = pki.citizen(|c| c.policies = vec![ORGANISATIONAL_POLICY.to_owned()]);
    assert_eq!(pki.check(&leaf).unwrap_err(), CertError::PolicyRequired);
}

#[test]
fn policies_are_optional_without_require_explicit_policy() {
    let pki = EcertPki::new();
    let path = pki.check(&pki.citizen(|c| c.policies.clear())).unwrap();
    assert!(path.policies.is_empty());
    let leaf = pki.citizen(|c| c.policies = vec![ORGANISATIONAL_POLICY.to_owned()]);
    let path = pki.check(&leaf).unwrap();
    assert!(path.policies.is_empty(), "{:?}", path.policies);
    assert_eq!(
        path.identity().certificate_policies,
        vec![ORGANISATIONAL_POLICY.to_owned()]
    );
}

#[test]
fn require_explicit_policy_in_the_leaf_itself() {
    let pki = EcertPki::new();
    pki.check(&pki.citizen(|c| c.policy_constraints = Some((Some(0), None))))
        .unwrap();
    let leaf = pki.citizen(|c| {
        c.policies.clear();
        c.policy_constraints = Some((Some(0), None));
    });
    assert_eq!(pki.check(&leaf).unwrap_err(), CertError::PolicyRequired);
}

#[test]
fn any_policy_in_the_ca_admits_the_leaf_policy() {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.policies = vec![ANY_POLICY.to_owned()];
            ca.policy_constraints = Some((Some(0), None));
        },
    );
    let leaf = pki.citizen(|c| c.policies = vec![ORGANISATIONAL_POLICY.to_owned()]);
    let path = pki.check(&leaf).unwrap();
    assert_eq!(path.policies, vec![ORGANISATIONAL_POLICY.to_owned()]);
}

#[test]
fn inhibit_any_policy_stops_any_policy_in_the_leaf() {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.policy_constraints = Some((Some(0), None));
            ca.inhibit_any_policy = Some(0);
        },
    );
    let leaf = pki.citizen(|c| c.policies = vec![ANY_POLICY.to_owned()]);
    assert_eq!(pki.check(&leaf).unwrap_err(), CertError::PolicyRequired);
    // Without inhibitAnyPolicy the leaf's anyPolicy matches the CA's policy.
    let pki = explicit_policy_pki();
    let path = pki
        .check(&pki.citizen(|c| c.policies = vec![ANY_POLICY.to_owned()]))
        .unwrap();
    assert_eq!(path.policies, vec![PERSONAL_POLICY.to_owned()]);
}

#[test]
fn policy_mapping_translates_the_issuer_policy() {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.policy_constraints = Some((Some(0), None));
            ca.policy_mappings =
                vec![(PERSONAL_POLICY.to_owned(), ORGANISATIONAL_POLICY.to_owned())];
        },
    );
    let leaf = pki.citizen(|c| c.policies = vec![ORGANISATIONAL_POLICY.to_owned()]);
    let path = pki.check(&leaf).unwrap();
    assert_eq!(path.policies, vec![ORGANISATIONAL_POLICY.to_owned()]);
    // The unmapped policy no longer matches.
    assert_eq!(
        pki.check(&pki.default_citizen()).unwrap_err(),
        CertError::PolicyRequired
    );
}

#[test]
fn policy_mapping_with_any_policy_is_invalid() {
    let pki = EcertPki::with(
        |_| {},
        |ca| ca.policy_mappings = vec![(ANY_POLICY.to_owned(), PERSONAL_POLICY.to_owned())],
    );
    let err = pki.check(&pki.default_citizen()).unwrap_err();
    assert!(
        matches!(err, CertError::InvalidPolicyMapping { .. }),
        "{err:?}"
    );
}

/// root -> issuing CA (no path length limit, requireExplicitPolicy 0,
/// inhibitPolicyMapping as given) -> sub-CA mapping personal to
/// organisational -> citizen with the organisational policy.
fn mapping_below(inhibit_mapping: Option<u32>) -> Result<Vec<String>, CertError> {
    let pki = EcertPki::with(
        |_| {},
        |ca| {
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            ca.policy_constraints = Some((Some(0), inhibit_mapping));
        },
    );
    let sub = Signer::new(hk_post_name("Hongkong Post e-Cert Sub CA"), KeyKind::P256);
    let mut sub_spec = CertSpec::sub_ca(sub.dn.clone(), 5);
    sub_spec.policies = vec![PERSONAL_POLICY.to_owned()];
    sub_spec.policy_mappings = vec![(PERSONAL_POLICY.to_owned(), ORGANISATIONAL_POLICY.to_owned())];
    let sub_der = pki.ca.certify_ca(&sub_spec, &sub);
    let mut leaf_spec = CertSpec::default_citizen();
    leaf_spec.policies = vec![ORGANISATIONAL_POLICY.to_owned()];
    let leaf = sub.certify(&leaf_spec, &new_key(KeyKind::P256));
    pki.store()
        .validate(
            &cert(&leaf),
            &[cert(&sub_der), cert(&pki.ca_der)],
            &[],
            &no_revocation(),
        )
        .map(|path| path.policies)
}

#[test]
fn inhibit_policy_mapping_drops_mapped_policies() {
    assert_eq!(
        mapping_below(None).unwrap(),
        vec![ORGANISATIONAL_POLICY.to_owned()]
    );
    assert_eq!(
        mapping_below(Some(0)).unwrap_err(),
        CertError::PolicyRequired
    );
    // inhibitPolicyMapping 1 still allows the next CA's mappings.
    assert_eq!(
        mapping_below(Some(1)).unwrap(),
        vec![ORGANISATIONAL_POLICY.to_owned()]
    );
}
