//! `gateway cert verify`: validate a certificate chain from files and print
//! a JSON verdict.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use eid_core::cert::{
    CertError, Certificate, Crl, OcspResponse, Options, Purpose, Revocation, RevocationScope,
    TrustStore, ValidatedPath, gather,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::revocation::HttpCrlSource;
use crate::run::Failure;
use crate::state::SystemClock;

/// Most distribution points fetched for one validation.
const MAX_FETCHED_CRLS: usize = 16;

/// `gateway cert ...`
#[derive(Debug, Args)]
pub struct CertArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: CertCommand,
}

/// Certificate subcommands.
#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Validate LEAF against trust anchors; print {"valid", "error", "path", "identity"}.
    /// Exit code 0 when valid, 1 when not, 2 on bad input.
    Verify(VerifyArgs),
}

/// Options of `cert verify`. Files may be PEM (several certificates or CRLs
/// in one file) or DER (OCSP responses: DER). Repeat a flag for more files.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Trust anchor certificates.
    #[arg(long, value_name = "FILE", required = true)]
    pub anchors: Vec<PathBuf>,
    /// Intermediate certificates, in any order.
    #[arg(long, value_name = "FILE")]
    pub intermediates: Vec<PathBuf>,
    /// CRLs.
    #[arg(long, value_name = "FILE")]
    pub crl: Vec<PathBuf>,
    /// OCSP responses (DER).
    #[arg(long, value_name = "FILE")]
    pub ocsp: Vec<PathBuf>,
    /// Validation time, RFC 3339 [default: now].
    #[arg(long, value_name = "RFC3339")]
    pub at: Option<String>,
    /// What the certificate is to be used for.
    #[arg(long, value_enum, default_value = "client-auth")]
    pub purpose: PurposeArg,
    /// Which certificates need a revocation status (fail closed without one).
    #[arg(long, value_enum, default_value = "all")]
    pub revocation: RevocationArg,
    /// Also fetch the CRLs named in the certificates' distribution points
    /// over HTTP (10 s per request).
    #[arg(long)]
    pub fetch_crls: bool,
    /// The end-entity certificate.
    #[arg(value_name = "LEAF")]
    pub leaf: PathBuf,
}

/// `--purpose`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PurposeArg {
    /// TLS client authentication (card sign-in).
    ClientAuth,
    /// Document signing.
    Signing,
    /// S/MIME.
    Email,
    /// TLS server authentication.
    ServerAuth,
    /// No usage requirement.
    Any,
}

/// `--revocation`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RevocationArg {
    /// Every certificate below the anchor.
    All,
    /// Only the end-entity certificate.
    EndEntity,
    /// No revocation checking.
    Off,
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Reads PEM (any number of items) or DER (one item) with the given
/// decoders; an unreadable file, a parse error or no item is bad input.
fn load<T>(
    path: &Path,
    what: &str,
    from_pem: impl Fn(&[u8]) -> Result<Vec<T>, CertError>,
    from_der: impl Fn(&[u8]) -> Result<T, CertError>,
) -> Result<Vec<T>, Failure> {
    let bytes = read(path)?;
    let parsed = if is_pem(&bytes) {
        from_pem(&bytes)
    } else {
        from_der(&bytes).map(|item| vec![item])
    };
    match parsed {
        Ok(items) if !items.is_empty() => Ok(items),
        Ok(_) => Err(Failure::Input(format!(
            "{}: no {what} found",
            path.display()
        ))),
        Err(e) => Err(Failure::Input(format!("{}: {e}", path.display()))),
    }
}

fn certificates(path: &Path) -> Result<Vec<Certificate>, Failure> {
    load(
        path,
        "certificate",
        Certificate::from_pem,
        Certificate::from_der,
    )
}

fn crls(path: &Path) -> Result<Vec<Crl>, Failure> {
    load(path, "CRL", Crl::from_pem, Crl::from_der)
}

/// Runs `cert verify`; prints the verdict and returns whether it is valid.
pub async fn verify(args: &VerifyArgs) -> Result<bool, Failure> {
    let at = match &args.at {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .map_err(|e| Failure::Input(format!("--at {text:?} is not RFC 3339: {e}")))?,
        None => OffsetDateTime::now_utc(),
    };
    let mut anchors = Vec::new();
    for path in &args.anchors {
        anchors.extend(certificates(path)?);
    }
    let mut intermediates = Vec::new();
    for path in &args.intermediates {
        intermediates.extend(certificates(path)?);
    }
    let mut revocation = Revocation::default();
    for path in &args.crl {
        revocation.crls.extend(crls(path)?);
    }
    for path in &args.ocsp {
        let bytes = read(path)?;
        revocation.ocsp.push(
            OcspResponse::from_der(&bytes)
                .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))?,
        );
    }
    let leaf = certificates(&args.leaf)?
        .into_iter()
        .next()
        .ok_or_else(|| Failure::Input(format!("{}: no certificate found", args.leaf.display())))?;
    if args.fetch_crls {
        let source = HttpCrlSource::new(
            std::time::Duration::from_secs(10),
            std::sync::Arc::new(SystemClock),
        )
        .map_err(|e| Failure::Runtime(e.to_string()))?;
        let gathered = gather(&source, &leaf, &intermediates, MAX_FETCHED_CRLS).await;
        for (url, error) in &gathered.failures {
            eprintln!("warning: {url}: {error}");
        }
        revocation.crls.extend(gathered.revocation.crls);
    }
    let options = Options {
        purpose: match args.purpose {
            PurposeArg::ClientAuth => Purpose::ClientAuth,
            PurposeArg::Signing => Purpose::DocumentSigning,
            PurposeArg::Email => Purpose::EmailProtection,
            PurposeArg::ServerAuth => Purpose::ServerAuth,
            PurposeArg::Any => Purpose::Any,
        },
        revocation: match args.revocation {
            RevocationArg::All => RevocationScope::All,
            RevocationArg::EndEntity => RevocationScope::EndEntity,
            RevocationArg::Off => RevocationScope::Off,
        },
        ..Options::new(at)
    };
    let result =
        TrustStore::new(anchors).validate_with(&leaf, &intermediates, &revocation, &options);
    let valid = result.is_ok();
    println!("{}", verdict(&result));
    Ok(valid)
}

/// The JSON verdict printed by `cert verify`.
pub fn verdict(result: &Result<ValidatedPath, CertError>) -> Value {
    match result {
        Ok(path) => {
            let id = path.identity();
            json!({
                "valid": true,
                "error": null,
                "message": null,
                "path": path.chain.iter().map(|c| c.subject.to_string()).collect::<Vec<_>>(),
                "identity": {
                    "subject": id.subject,
                    "common_name": id.common_name,
                    "subscriber_reference": id.subscriber_reference,
                    "emails": id.emails,
                    "serial": id.serial,
                    "issuer": id.issuer,
                    "certificate_policies": id.certificate_policies,
                    "path_policies": id.path_policies,
                    "not_after": id.not_after,
                },
            })
        }
        Err(e) => json!({
            "valid": false,
            "error": e.code(),
            "message": e.to_string(),
            "path": [],
            "identity": null,
        }),
    }
}
