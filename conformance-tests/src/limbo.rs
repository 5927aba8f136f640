//! The x509-limbo vectors against `eid-core`'s certificate validator.
//!
//! Every case is executed, or skipped by a rule from the exceptions file
//! (each with a written reason). Cases whose outcome differs from the
//! expected one are failures unless listed as known divergences, again with
//! a reason. A divergence that no longer diverges is reported too, so the
//! list only shrinks.

use std::collections::BTreeMap;
use std::path::Path;

use eid_core::cert::{
    Budget, CertError, Certificate, Crl, GeneralName, Options, Purpose, RevocationScope,
    TrustStore, UnknownStatus,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The vectors shipped with this crate.
pub const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/limbo.json");
/// The exceptions file shipped with this crate.
pub const EXCEPTIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/vectors/limbo-exceptions.toml");

#[derive(Debug, Deserialize)]
struct Suite {
    testcases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct PeerName {
    kind: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    #[serde(default)]
    features: Vec<String>,
    validation_kind: String,
    trusted_certs: Vec<String>,
    untrusted_intermediates: Vec<String>,
    peer_certificate: String,
    validation_time: Option<String>,
    #[serde(default)]
    extended_key_usage: Vec<String>,
    expected_result: String,
    expected_peer_name: Option<PeerName>,
    max_chain_depth: Option<usize>,
    #[serde(default)]
    crls: Vec<String>,
}

/// The exceptions file.
#[derive(Debug, Default, Deserialize)]
pub struct Exceptions {
    /// Rules that skip whole classes of cases.
    #[serde(default)]
    pub skip: Vec<SkipRule>,
    /// Cases whose outcome is known to differ, one by one.
    #[serde(default)]
    pub divergence: Vec<Divergence>,
}

/// Skips every case with the feature, or whose id starts with the prefix.
#[derive(Debug, Deserialize)]
pub struct SkipRule {
    /// A limbo feature name.
    pub feature: Option<String>,
    /// A case id prefix such as `online::`.
    pub id_prefix: Option<String>,
    /// Why such cases are out of scope.
    pub reason: String,
}

/// One case known to give the other outcome.
#[derive(Debug, Deserialize)]
pub struct Divergence {
    /// The case id.
    pub id: String,
    /// Why the validator's outcome is right for this project, or why it
    /// differs.
    pub reason: String,
}

/// What happened to one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// `SUCCESS` or `FAILURE`, as the vector expects.
    pub expected: String,
    /// What the validator said: `SUCCESS` or the error code.
    pub got: String,
    /// The validator's message when it failed.
    pub message: String,
}

/// The outcome of a run.
#[derive(Debug, Default, Serialize)]
pub struct LimboReport {
    /// Cases in the file.
    pub total: usize,
    /// Cases executed.
    pub ran: usize,
    /// Executed cases with the expected outcome.
    pub passed: usize,
    /// Cases skipped by a rule, by rule reason.
    pub skipped: BTreeMap<String, usize>,
    /// Executed cases with the other outcome that are listed as divergences.
    pub known_divergences: Vec<CaseResult>,
    /// Executed cases with the other outcome that are not listed: failures.
    pub unexpected: Vec<CaseResult>,
    /// Listed divergences that now give the expected outcome.
    pub stale_divergences: Vec<String>,
}

impl LimboReport {
    /// No unexpected outcome and no stale divergence.
    pub fn success(&self) -> bool {
        self.unexpected.is_empty() && self.stale_divergences.is_empty()
    }

    /// A summary ending with the `N passed, N failed, N skipped` line.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "x509-limbo: {} cases, {} ran, {} passed, {} known divergences, {} unexpected\n",
            self.total,
            self.ran,
            self.passed,
            self.known_divergences.len(),
            self.unexpected.len()
        );
        for (reason, count) in &self.skipped {
            out.push_str(&format!("  skipped {count:>3}: {reason}\n"));
        }
        for case in &self.unexpected {
            out.push_str(&format!(
                "UNEXPECTED {} expected {} got {} ({})\n",
                case.id, case.expected, case.got, case.message
            ));
        }
        for id in &self.stale_divergences {
            out.push_str(&format!(
                "STALE divergence {id}: it now gives the expected outcome\n"
            ));
        }
        out.push_str(&format!(
            "x509-limbo: {} passed, {} failed, {} skipped\n",
            self.passed + self.known_divergences.len(),
            self.unexpected.len() + self.stale_divergences.len(),
            self.skipped.values().sum::<usize>()
        ));
        out
    }
}

/// The vectors or exceptions could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LimboError {
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file does not parse.
    #[error("cannot parse {path}: {reason}")]
    Parse {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

fn read(path: &Path) -> Result<String, LimboError> {
    std::fs::read_to_string(path).map_err(|e| LimboError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Loads an exceptions file.
pub fn load_exceptions(path: &Path) -> Result<Exceptions, LimboError> {
    toml::from_str(&read(path)?).map_err(|e| LimboError::Parse {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Runs every case of `vectors` with `exceptions`; `now` stands in for
/// cases without a validation time.
pub fn run(
    vectors: &Path,
    exceptions: &Exceptions,
    now: OffsetDateTime,
) -> Result<LimboReport, LimboError> {
    let suite: Suite = serde_json::from_str(&read(vectors)?).map_err(|e| LimboError::Parse {
        path: vectors.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut report = LimboReport {
        total: suite.testcases.len(),
        ..LimboReport::default()
    };
    for case in &suite.testcases {
        if let Some(rule) = exceptions.skip.iter().find(|rule| {
            rule.feature
                .as_ref()
                .is_some_and(|f| case.features.contains(f))
                || rule
                    .id_prefix
                    .as_ref()
                    .is_some_and(|p| case.id.starts_with(p.as_str()))
        }) {
            *report.skipped.entry(rule.reason.clone()).or_default() += 1;
            continue;
        }
        report.ran += 1;
        let outcome = evaluate(case, now);
        let (got, message) = match &outcome {
            Ok(()) => ("SUCCESS".to_owned(), String::new()),
            Err(e) => (e.code().to_owned(), e.to_string()),
        };
        let as_expected = (case.expected_result == "SUCCESS") == outcome.is_ok();
        let listed = exceptions.divergence.iter().any(|d| d.id == case.id);
        if as_expected {
            report.passed += 1;
            if listed {
                report.stale_divergences.push(case.id.clone());
            }
            continue;
        }
        let result = CaseResult {
            id: case.id.clone(),
            expected: case.expected_result.clone(),
            got,
            message,
        };
        if listed {
            report.known_divergences.push(result);
        } else {
            report.unexpected.push(result);
        }
    }
    Ok(report)
}

fn parse_usable(pems: &[String]) -> Vec<Certificate> {
    pems.iter()
        .filter_map(|pem| Certificate::from_pem(pem.as_bytes()).ok())
        .flatten()
        .collect()
}

/// Runs one case: validation, then (for server cases) the peer name check
/// a TLS client would add.
fn evaluate(case: &Case, now: OffsetDateTime) -> Result<(), CertError> {
    // A trust anchor or intermediate that does not parse cannot be part of
    // a path; it does not make the others unusable.
    let anchors = parse_usable(&case.trusted_certs);
    let intermediates = parse_usable(&case.untrusted_intermediates);
    let leaf = Certificate::from_pem(case.peer_certificate.as_bytes())?
        .into_iter()
        .next()
        .ok_or_else(|| CertError::Malformed {
            what: "PEM",
            detail: "no certificate".to_owned(),
        })?;
    let mut crls = Vec::new();
    for pem in &case.crls {
        crls.extend(Crl::from_pem(pem.as_bytes())?);
    }
    let time = match &case.validation_time {
        Some(t) => OffsetDateTime::parse(t, &Rfc3339).map_err(|e| CertError::Malformed {
            what: "validation time",
            detail: e.to_string(),
        })?,
        None => now,
    };
    let purpose = match case.extended_key_usage.first().map(String::as_str) {
        Some("clientAuth") => Purpose::ClientAuth,
        Some("serverAuth") => Purpose::ServerAuth,
        _ if case.validation_kind == "CLIENT" => Purpose::ClientAuth,
        _ => Purpose::ServerAuth,
    };
    let mut budget = Budget::default();
    if let Some(depth) = case.max_chain_depth {
        budget.max_path_len = depth.saturating_add(2).min(64);
    }
    let options = Options {
        time,
        purpose,
        revocation: if crls.is_empty() {
            RevocationScope::Off
        } else {
            RevocationScope::All
        },
        unknown_status: UnknownStatus::Allow,
        budget,
    };
    let path = TrustStore::new(anchors).validate(&leaf, &intermediates, &crls, &options)?;
    if let Some(peer) = &case.expected_peer_name {
        check_peer_name(&path.chain[0], peer)?;
    }
    Ok(())
}

/// RFC 6125 style: the name must be in subjectAltName (the subject's CN is
/// not consulted); a wildcard stands for exactly one leftmost label.
fn check_peer_name(leaf: &Certificate, peer: &PeerName) -> Result<(), CertError> {
    let names = leaf.subject_alt_names.as_deref().unwrap_or_default();
    let found = match peer.kind.as_str() {
        "DNS" => names.iter().any(|n| match n {
            GeneralName::Dns(pattern) => dns_matches(pattern, &peer.value),
            _ => false,
        }),
        "IP" => match peer.value.parse::<std::net::IpAddr>() {
            Ok(ip) => {
                let bytes = match ip {
                    std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                    std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
                };
                names
                    .iter()
                    .any(|n| matches!(n, GeneralName::Ip(b) if *b == bytes))
            }
            Err(_) => false,
        },
        _ => true,
    };
    if found {
        Ok(())
    } else {
        Err(CertError::NameConstraintViolation {
            subject: leaf.subject.to_string(),
            name: format!("expected peer name {} not in subjectAltName", peer.value),
        })
    }
}

fn dns_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest && rest.contains('.')),
        None => pattern == name,
    }
}
