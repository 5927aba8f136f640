//! `conformance`: run the suite against a gateway URL.
//!
//! Exit codes: 0 when no check failed, 1 when one did, 2 when the suite
//! could not run (bad arguments, unreachable gateway).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use conformance_tests::Format;

/// Conformance suite for the eID and e-payment gateway.
#[derive(Debug, Parser)]
#[command(name = "conformance", version, about)]
struct Args {
    /// The gateway's base URL, for example https://eid.example.gov.hk
    #[arg(long, value_name = "URL")]
    base_url: String,
    /// Report format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let report = match conformance_tests::run(&args.base_url).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = match args.format {
        Format::Text => report.to_text(),
        Format::Json => report.to_json(),
        Format::Junit => report.to_junit(),
    };
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
        None => print!("{text}"),
    }
    if report.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
