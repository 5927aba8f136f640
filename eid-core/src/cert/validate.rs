//! Path building and RFC 5280 path validation.
//!
//! Building searches depth-first from the end-entity certificate through an
//! unordered pool of intermediates to a trust anchor, linking certificates
//! by name (and key identifiers when both are present) and by signature.
//! Every complete candidate path is then validated; when it fails the search
//! goes on with the next alternative, and when all fail the most specific
//! error is reported. Work is bounded by a [`Budget`].
//!
//! Trust anchors are certificates, and this validator checks them like the
//! rest of the path (documented choice, stricter than RFC 5280 section 6
//! requires): an anchor must be valid at the validation time, must be a CA
//! when it is a v3 certificate, must allow keyCertSign when it has a key
//! usage, and its pathLenConstraint and name constraints apply to the path.
//! Its self-signature is not checked: an anchor is trusted by configuration.

use std::collections::HashMap;

use time::OffsetDateTime;

use super::CertError;
use super::crl::{self, Crl, Status};
use super::identity::CertifiedIdentity;
use super::model::{Certificate, oid};
use super::names::ConstraintState;
use super::ocsp::{OcspResponse, OcspStatus};
use super::policy::PolicyState;
use super::signature;

/// What the end-entity certificate is to be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// TLS client authentication (signing in with the card).
    ClientAuth,
    /// TLS server authentication (used by the x509-limbo suite).
    ServerAuth,
    /// S/MIME.
    EmailProtection,
    /// Signing documents (id-kp-documentSigning, RFC 9336, or
    /// emailProtection as e-Cert signing certificates carry).
    DocumentSigning,
    /// Any use: no extended key usage or key usage requirement.
    Any,
}

impl Purpose {
    /// The purpose's name in messages and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::ClientAuth => "client-auth",
            Purpose::ServerAuth => "server-auth",
            Purpose::EmailProtection => "email-protection",
            Purpose::DocumentSigning => "signing",
            Purpose::Any => "any",
        }
    }

    fn eku_accepts(self, ekus: &[String]) -> bool {
        let has = |o: &str| ekus.iter().any(|e| e == o);
        match self {
            Purpose::Any => true,
            Purpose::ClientAuth => has(oid::EKU_CLIENT_AUTH) || has(oid::EKU_ANY),
            Purpose::ServerAuth => has(oid::EKU_SERVER_AUTH) || has(oid::EKU_ANY),
            Purpose::EmailProtection => has(oid::EKU_EMAIL_PROTECTION) || has(oid::EKU_ANY),
            Purpose::DocumentSigning => {
                has(oid::EKU_DOCUMENT_SIGNING)
                    || has(oid::EKU_EMAIL_PROTECTION)
                    || has(oid::EKU_ANY)
            }
        }
    }

    fn key_usage_accepts(self, ku: super::model::KeyUsage) -> bool {
        match self {
            Purpose::Any => true,
            Purpose::ClientAuth => ku.digital_signature() || ku.key_agreement(),
            // TLS server certificates are judged by extended key usage alone,
            // as rustls-webpki and the x509-limbo suite do.
            Purpose::ServerAuth => true,
            Purpose::EmailProtection => {
                ku.digital_signature() || ku.non_repudiation() || ku.key_encipherment()
            }
            Purpose::DocumentSigning => ku.digital_signature() || ku.non_repudiation(),
        }
    }
}

/// Which certificates of a path must have a known revocation status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationScope {
    /// No revocation checking.
    Off,
    /// The end-entity certificate only (its issuing CA's CRL).
    EndEntity,
    /// Every certificate below the trust anchor.
    All,
}

/// What to do when no CRL or OCSP response decides a certificate's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownStatus {
    /// Fail closed: the default.
    Reject,
    /// Accept; revocations that are known still reject.
    Allow,
}

/// Limits on the work one validation may do on untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Signature verifications (certificates and CRLs).
    pub signatures: usize,
    /// Candidate issuers considered while building.
    pub steps: usize,
    /// Most certificates in a path, end entity and anchor included;
    /// self-issued intermediates (key rollover) are not counted.
    pub max_path_len: usize,
    /// Comparisons of names against name constraints, over the whole search.
    pub name_checks: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Self {
            signatures: 100,
            steps: 1000,
            max_path_len: 8,
            name_checks: 250_000,
        }
    }
}

/// How to validate.
#[derive(Debug, Clone)]
pub struct Options {
    /// The time at which the path must be valid.
    pub time: OffsetDateTime,
    /// The use the end-entity certificate must allow.
    pub purpose: Purpose,
    /// Which certificates need a revocation status.
    pub revocation: RevocationScope,
    /// Fail closed or open when no status is available.
    pub unknown_status: UnknownStatus,
    /// Work limits.
    pub budget: Budget,
}

impl Options {
    /// Defaults for a citizen certificate at `time`: client authentication,
    /// every certificate's revocation status required, fail closed.
    pub fn new(time: OffsetDateTime) -> Self {
        Self {
            time,
            purpose: Purpose::ClientAuth,
            revocation: RevocationScope::All,
            unknown_status: UnknownStatus::Reject,
            budget: Budget::default(),
        }
    }
}

/// A validated path.
#[derive(Debug, Clone)]
pub struct ValidatedPath {
    /// The end-entity certificate first, the trust anchor last.
    pub chain: Vec<Certificate>,
    /// The valid certificate policies of the path (empty when none).
    pub policies: Vec<String>,
}

impl ValidatedPath {
    /// Who the end-entity certificate identifies (extracted on request:
    /// callers that only need a verdict do not pay for it).
    pub fn identity(&self) -> CertifiedIdentity {
        CertifiedIdentity::from_certificate(&self.chain[0], &self.policies)
    }
}

/// Revocation information supplied with a validation request.
#[derive(Debug, Clone, Default)]
pub struct Revocation {
    /// CRLs, in any order; those that do not apply are ignored.
    pub crls: Vec<Crl>,
    /// OCSP responses, in any order.
    pub ocsp: Vec<OcspResponse>,
    /// The nonce sent in the OCSP request, which responses must echo.
    pub ocsp_nonce: Option<Vec<u8>>,
}

/// A set of trust anchors.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
}

impl TrustStore {
    /// A store with these anchors.
    pub fn new(anchors: Vec<Certificate>) -> Self {
        Self { anchors }
    }

    /// The anchors.
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// Finds and validates a path from `leaf` through `intermediates` to
    /// one of the anchors.
    pub fn validate(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        crls: &[Crl],
        options: &Options,
    ) -> Result<ValidatedPath, CertError> {
        self.search(leaf, intermediates, crls, &[], None, options)
    }

    /// Like [`TrustStore::validate`], with CRLs and OCSP responses.
    pub fn validate_with(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        revocation: &Revocation,
        options: &Options,
    ) -> Result<ValidatedPath, CertError> {
        self.search(
            leaf,
            intermediates,
            &revocation.crls,
            &revocation.ocsp,
            revocation.ocsp_nonce.as_deref(),
            options,
        )
    }

    fn search(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        crls: &[Crl],
        ocsp: &[OcspResponse],
        ocsp_nonce: Option<&[u8]>,
        options: &Options,
    ) -> Result<ValidatedPath, CertError> {
        let mut search = Search {
            anchors: &self.anchors,
            intermediates,
            crls,
            ocsp,
            ocsp_nonce,
            options,
            signatures: 0,
            steps: 0,
            name_checks: 0,
            best: None,
            verified: HashMap::new(),
        };
        let mut path = vec![leaf];
        match search.extend(&mut path)? {
            Some(found) => Ok(found),
            None => Err(search.best.unwrap_or_else(|| CertError::UnknownIssuer {
                subject: leaf.subject.display().to_owned(),
                issuer: leaf.issuer.display().to_owned(),
            })),
        }
    }
}

/// A signer's SubjectPublicKeyInfo and whether its key verified a signature.
type KeyResult = (Vec<u8>, Result<(), CertError>);

struct Search<'a> {
    anchors: &'a [Certificate],
    intermediates: &'a [Certificate],
    crls: &'a [Crl],
    ocsp: &'a [OcspResponse],
    ocsp_nonce: Option<&'a [u8]>,
    options: &'a Options,
    signatures: usize,
    steps: usize,
    name_checks: usize,
    best: Option<CertError>,
    /// Signature results by signed certificate (its DER's address) and the
    /// signer's SubjectPublicKeyInfo: a key is tried once per certificate,
    /// however many certificates carry it.
    verified: HashMap<usize, Vec<KeyResult>>,
}

/// Whether `issuer` may have issued `child`, by name and key identifier.
fn names_issuer(child: &Certificate, issuer: &Certificate) -> bool {
    if !child.issuer.matches(&issuer.subject) {
        return false;
    }
    match (&child.authority_key_id, &issuer.subject_key_id) {
        (Some(aki), Some(ski)) => aki == ski,
        _ => true,
    }
}

impl<'a> Search<'a> {
    fn record(&mut self, error: CertError) {
        if self.best.as_ref().is_none_or(|b| error.rank() > b.rank()) {
            self.best = Some(error);
        }
    }

    fn step(&mut self) -> Result<(), CertError> {
        self.steps += 1;
        if self.steps > self.options.budget.steps {
            return Err(CertError::BudgetExceeded {
                what: "path-building steps",
            });
        }
        Ok(())
    }

    fn spend_signature(&mut self) -> Result<(), CertError> {
        self.signatures += 1;
        if self.signatures > self.options.budget.signatures {
            return Err(CertError::BudgetExceeded {
                what: "signature verifications",
            });
        }
        Ok(())
    }

    /// Checks `child`'s signature with `issuer`'s key, once per pair.
    fn signed_by(
        &mut self,
        child: &Certificate,
        issuer: &Certificate,
    ) -> Result<Result<(), CertError>, CertError> {
        // A certificate loaded once (an intermediate of the trust store's
        // configuration) remembers the key that verified it: the same bytes
        // under the same key verify the same way every time.
        if child.verified_by.get() == Some(&issuer.public_key.spki) {
            return Ok(Ok(()));
        }
        let key = child.der.as_ptr() as usize;
        if let Some((_, result)) = self.verified.get(&key).and_then(|seen| {
            seen.iter()
                .find(|(spki, _)| *spki == issuer.public_key.spki)
        }) {
            return Ok(result.clone());
        }
        let result = if child.signature_algorithm != child.tbs_signature_algorithm {
            Err(CertError::SignatureAlgorithmMismatch)
        } else {
            self.spend_signature()?;
            signature::verify(
                &child.signature_algorithm,
                &issuer.public_key,
                &child.tbs,
                &child.signature,
                &child.subject,
            )
        };
        if result.is_ok() {
            let _ = child.verified_by.set(issuer.public_key.spki.clone());
        }
        self.verified
            .entry(key)
            .or_default()
            .push((issuer.public_key.spki.clone(), result.clone()));
        Ok(result)
    }

    fn extend(
        &mut self,
        path: &mut Vec<&'a Certificate>,
    ) -> Result<Option<ValidatedPath>, CertError> {
        let Some(&current) = path.last() else {
            return Ok(None);
        };
        let mut candidates = 0;
        for anchor in self.anchors {
            if anchor.der == path[0].der || !names_issuer(current, anchor) {
                continue;
            }
            candidates += 1;
            self.step()?;
            if let Err(e) = self.signed_by(current, anchor)? {
                self.record(e);
                continue;
            }
            let mut chain: Vec<&Certificate> = path.clone();
            chain.push(anchor);
            match self.check_path(&chain) {
                Ok(found) => return Ok(Some(found)),
                Err(e @ CertError::BudgetExceeded { .. }) => return Err(e),
                Err(e) => self.record(e),
            }
        }
        for intermediate in self.intermediates {
            if !names_issuer(current, intermediate) {
                continue;
            }
            // A certificate (or its key under the same name) already on the
            // path would close a cycle.
            if path.iter().any(|c| {
                c.der == intermediate.der
                    || (c.subject.matches(&intermediate.subject)
                        && c.public_key.spki == intermediate.public_key.spki)
            }) {
                continue;
            }
            candidates += 1;
            // End entity, the counted intermediates, this one, and an anchor.
            let counted = 1
                + path[1..].iter().filter(|c| !c.is_self_issued()).count()
                + usize::from(!intermediate.is_self_issued())
                + 1;
            if counted > self.options.budget.max_path_len {
                self.record(CertError::PathTooLong {
                    limit: self.options.budget.max_path_len,
                });
                continue;
            }
            self.step()?;
            if let Err(e) = self.signed_by(current, intermediate)? {
                self.record(e);
                continue;
            }
            path.push(intermediate);
            let found = self.extend(path);
            path.pop();
            if let Some(found) = found? {
                return Ok(Some(found));
            }
        }
        if candidates == 0 {
            self.record(CertError::UnknownIssuer {
                subject: current.subject.display().to_owned(),
                issuer: current.issuer.display().to_owned(),
            });
        }
        Ok(None)
    }

    /// RFC 5280 6.1 on a complete candidate `chain` (end entity first,
    /// anchor last), signatures already verified.
    fn check_path(&mut self, chain: &[&Certificate]) -> Result<ValidatedPath, CertError> {
        let at = whole_seconds(self.options.time);
        let n = chain.len() - 1;
        let anchor = chain[n];
        check_validity(anchor, at)?;
        check_issuer_cert(anchor, true)?;
        signature::check_key(&anchor.public_key)?;
        // The anchor's pathLenConstraint counts the CAs below it, exactly as
        // if it were the first certificate of the path (6.1.4 m).
        let mut max_path_length = match anchor.basic_constraints.and_then(|bc| bc.path_len) {
            Some(len) => len as usize,
            None => n,
        };
        let mut names = ConstraintState::default();
        if let Some(nc) = &anchor.name_constraints {
            names.add(nc)?;
        }
        let mut policy = PolicyState::new(n);

        for i in 1..=n {
            let cert = chain[n - i];
            let issuer = chain[n - i + 1];
            let is_leaf = i == n;
            check_validity(cert, at)?;
            // A positive integer of at most 20 octets (RFC 5280 4.1.2.2);
            // anchors are exempt, some long-lived roots have serial 0.
            // DER adds a leading zero byte when the top bit is set, so 21
            // bytes are acceptable only with that zero.
            if cert.serial.iter().all(|b| *b == 0)
                || cert.serial.len() > 21
                || (cert.serial.len() == 21 && cert.serial[0] != 0)
                || cert.serial[0] & 0x80 != 0
            {
                return Err(CertError::BadSerial {
                    subject: cert.subject.display().to_owned(),
                });
            }
            signature::check_key(&cert.public_key)?;
            if cert.authority_key_id.is_none() {
                return Err(CertError::MissingExtension {
                    subject: cert.subject.display().to_owned(),
                    extension: "authorityKeyIdentifier",
                });
            }
            self.check_revocation(cert, issuer, is_leaf)?;
            if is_leaf || !cert.is_self_issued() {
                names.check(cert, &mut self.name_checks, self.options.budget.name_checks)?;
            }
            policy.process(cert, i, n)?;
            if !is_leaf {
                check_issuer_cert(cert, false)?;
                if !cert.is_self_issued() {
                    if max_path_length == 0 {
                        return Err(CertError::PathLenExceeded {
                            subject: cert.subject.display().to_owned(),
                        });
                    }
                    max_path_length -= 1;
                }
                if let Some(len) = cert.basic_constraints.and_then(|bc| bc.path_len) {
                    max_path_length = max_path_length.min(len as usize);
                }
                if let Some(nc) = &cert.name_constraints {
                    names.add(nc)?;
                }
                policy.prepare_next(cert)?;
            }
        }

        let leaf = chain[0];
        let purpose = self.options.purpose;
        if purpose != Purpose::Any {
            if let Some(ekus) = &leaf.extended_key_usage
                && !purpose.eku_accepts(ekus)
            {
                return Err(CertError::WrongPurpose {
                    subject: leaf.subject.display().to_owned(),
                    purpose: purpose.name(),
                });
            }
            if let Some(ku) = leaf.key_usage
                && !purpose.key_usage_accepts(ku)
            {
                return Err(CertError::KeyUsageNotAllowed {
                    subject: leaf.subject.display().to_owned(),
                    purpose: purpose.name(),
                });
            }
        }
        let policies = policy.finish(leaf)?;
        Ok(ValidatedPath {
            chain: chain.iter().map(|c| (*c).clone()).collect(),
            policies,
        })
    }

    fn check_revocation(
        &mut self,
        cert: &Certificate,
        issuer: &Certificate,
        is_leaf: bool,
    ) -> Result<(), CertError> {
        let required = match self.options.revocation {
            RevocationScope::Off => return Ok(()),
            RevocationScope::EndEntity => is_leaf,
            RevocationScope::All => true,
        };
        let at = whole_seconds(self.options.time);
        let limit = self.options.budget.signatures;
        let signatures = &mut self.signatures;
        let mut spend = move || {
            *signatures += 1;
            if *signatures > limit {
                Err(CertError::BudgetExceeded {
                    what: "signature verifications",
                })
            } else {
                Ok(())
            }
        };
        let revoked = |reason: &str| CertError::Revoked {
            subject: cert.subject.display().to_owned(),
            serial: cert.serial_hex(),
            reason: reason.to_owned(),
        };

        let crl_status = {
            let mut verify = |alg: &super::model::Algorithm, tbs: &[u8], sig: &[u8]| {
                spend()?;
                signature::verify(alg, &issuer.public_key, tbs, sig, &issuer.subject)
            };
            crl::status(cert, issuer, self.crls, at, &mut verify)?
        };
        let mut good = false;
        let mut unknown = Vec::new();
        match crl_status {
            Status::Revoked(reason) => return Err(revoked(reason)),
            Status::Good => good = true,
            Status::Unknown(why) => unknown.push(why),
        }
        for response in self.ocsp {
            let mut verify =
                |alg: &super::model::Algorithm, signer: &Certificate, tbs: &[u8], sig: &[u8]| {
                    spend()?;
                    super::ocsp::verify_with(alg, signer, tbs, sig)
                };
            match response.status_of(cert, issuer, at, self.ocsp_nonce, &mut verify) {
                Ok(None) => {}
                Ok(Some(OcspStatus::Revoked { reason, .. })) => {
                    return Err(revoked(crl::reason_name(reason)));
                }
                Ok(Some(OcspStatus::Good)) => good = true,
                Ok(Some(OcspStatus::Unknown)) => unknown.push("OCSP responder: unknown".into()),
                Err(e @ CertError::BudgetExceeded { .. }) => return Err(e),
                Err(e) => unknown.push(e.to_string()),
            }
        }
        if good || !required || self.options.unknown_status == UnknownStatus::Allow {
            return Ok(());
        }
        Err(CertError::RevocationUnavailable {
            subject: cert.subject.display().to_owned(),
            detail: unknown.join("; "),
        })
    }
}

/// Validity, CRL and OCSP times are encoded in whole seconds: compare at
/// that granularity.
fn whole_seconds(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

fn check_validity(cert: &Certificate, at: OffsetDateTime) -> Result<(), CertError> {
    if at < cert.not_before {
        return Err(CertError::NotYetValid {
            subject: cert.subject.display().to_owned(),
            not_before: cert.not_before,
            at,
        });
    }
    if at > cert.not_after {
        return Err(CertError::Expired {
            subject: cert.subject.display().to_owned(),
            not_after: cert.not_after,
            at,
        });
    }
    Ok(())
}

/// A certificate that issues others: v3 with cA set (a v1 certificate
/// without extensions is accepted only as a trust anchor), keyCertSign when
/// keyUsage is present.
fn check_issuer_cert(cert: &Certificate, is_anchor: bool) -> Result<(), CertError> {
    if cert.version < 3 {
        if !is_anchor {
            return Err(CertError::BadVersion {
                subject: cert.subject.display().to_owned(),
                version: cert.version,
            });
        }
        return Ok(());
    }
    if !cert.is_ca() {
        return Err(CertError::NotCa {
            subject: cert.subject.display().to_owned(),
        });
    }
    if cert.subject_key_id.is_none() {
        return Err(CertError::MissingExtension {
            subject: cert.subject.display().to_owned(),
            extension: "subjectKeyIdentifier",
        });
    }
    if let Some(ku) = cert.key_usage
        && !ku.key_cert_sign()
    {
        return Err(CertError::KeyCertSignMissing {
            subject: cert.subject.display().to_owned(),
        });
    }
    Ok(())
}
