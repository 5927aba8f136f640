//! `conformance`: the auditors' suite.
//!
//! - `conformance gateway --base-url URL`: checks a running gateway over HTTP.
//! - `conformance x509-limbo`: runs the x509-limbo certificate vectors
//!   against `eid-core`'s validator.
//!
//! Exit codes: 0 when nothing failed, 1 when a check failed, 2 when the
//! suite could not run (bad arguments, unreachable gateway, unreadable files).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use conformance_tests::{Format, limbo};

/// Conformance suite for the eID and e-payment gateway.
#[derive(Debug, Parser)]
#[command(name = "conformance", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a running gateway over HTTP.
    Gateway {
        /// The gateway's base URL, for example https://eid.example.gov.hk
        #[arg(long, value_name = "URL")]
        base_url: String,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Write the report to FILE instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Run the x509-limbo vectors against the certificate validator.
    X509Limbo {
        /// The vectors (default: the copy shipped with this crate).
        #[arg(long, value_name = "FILE")]
        vectors: Option<PathBuf>,
        /// The exceptions file (default: the one shipped with this crate).
        #[arg(long, value_name = "FILE")]
        exceptions: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn write(text: &str, output: Option<&PathBuf>) -> Result<(), ExitCode> {
    match output {
        Some(path) => std::fs::write(path, text).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            ExitCode::from(2)
        }),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match Args::parse().command {
        Command::Gateway {
            base_url,
            format,
            output,
        } => {
            let report = match conformance_tests::run(&base_url).await {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let text = match format {
                Format::Text => report.to_text(),
                Format::Json => report.to_json(),
                Format::Junit => report.to_junit(),
            };
            if let Err(code) = write(&text, output.as_ref()) {
                return code;
            }
            if report.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Command::X509Limbo {
            vectors,
            exceptions,
            json,
        } => {
            let vectors = vectors.unwrap_or_else(|| limbo::VECTORS.into());
            let exceptions = exceptions.unwrap_or_else(|| limbo::EXCEPTIONS.into());
            let result = limbo::load_exceptions(&exceptions)
                .and_then(|ex| limbo::run(&vectors, &ex, time::OffsetDateTime::now_utc()));
            let report = match result {
                Ok(report) => report,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let text = if json {
                serde_json::to_string_pretty(&report).unwrap_or_default()
            } else {
                report.to_text()
            };
            print!("{text}");
            if report.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
