//! `gateway qr encode` and `gateway qr decode`: FPS payment codes from the
//! command line.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use payment_core::Money;
use payment_core::fps::{FpsCode, Initiation, Proxy};
use payment_core::fps_render;

use crate::run::Failure;

/// `gateway qr ...`
#[derive(Debug, Args)]
pub struct QrArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: QrCommand,
}

/// QR subcommands.
#[derive(Debug, Subcommand)]
pub enum QrCommand {
    /// Print an FPS payload (and optionally write it as SVG or PNG).
    Encode(Box<EncodeArgs>),
    /// Print a payload's fields as JSON; exit 1 when it is not a valid FPS code.
    Decode {
        /// The payload text.
        payload: String,
    },
}

/// Options of `qr encode`. Exactly one of --fps-id, --mobile, --email.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("payee").required(true).args(["fps_id", "mobile", "email"])))]
pub struct EncodeArgs {
    /// The payee's FPS identifier (7 to 9 digits).
    #[arg(long)]
    pub fps_id: Option<String>,
    /// The payee's mobile number, +852-XXXXXXXX.
    #[arg(long)]
    pub mobile: Option<String>,
    /// The payee's email address.
    #[arg(long)]
    pub email: Option<String>,
    /// The amount, e.g. 1234.50 (a dynamic code when given).
    #[arg(long)]
    pub amount: Option<String>,
    /// Merchant name (at most 25 characters).
    #[arg(long)]
    pub name: String,
    /// Merchant city (at most 15 characters).
    #[arg(long, default_value = "HONG KONG")]
    pub city: String,
    /// Bill number (at most 25 characters).
    #[arg(long)]
    pub bill: Option<String>,
    /// Reference label (at most 25 characters).
    #[arg(long)]
    pub reference: Option<String>,
    /// Expiry, YYMMDDhhmmss.
    #[arg(long)]
    pub expiry: Option<String>,
    /// The bank's clearing code.
    #[arg(long)]
    pub clearing_code: Option<String>,
    /// Merchant category code.
    #[arg(long, default_value = "0000")]
    pub mcc: String,
    /// Write an SVG image here.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Write a PNG image here.
    #[arg(long, value_name = "FILE")]
    pub png: Option<PathBuf>,
}

/// Runs `gateway qr ...`.
pub fn run(command: &QrCommand) -> Result<(), Failure> {
    match command {
        QrCommand::Decode { payload } => match FpsCode::decode(payload.trim()) {
            Ok(code) => {
                let json = serde_json::to_string_pretty(&code)
                    .map_err(|e| Failure::Runtime(e.to_string()))?;
                println!("{json}");
                Ok(())
            }
            Err(e) => {
                println!(
                    "{}",
                    serde_json::json!({ "valid": false, "error": e.to_string() })
                );
                Err(Failure::Negative(format!("not a valid FPS payload: {e}")))
            }
        },
        QrCommand::Encode(args) => {
            let proxy = match (&args.fps_id, &args.mobile, &args.email) {
                (Some(id), None, None) => Proxy::FpsId(id.clone()),
                (None, Some(m), None) => Proxy::Mobile(m.clone()),
                (None, None, Some(e)) => Proxy::Email(e.clone()),
                _ => {
                    return Err(Failure::Input(
                        "give exactly one of --fps-id, --mobile, --email".into(),
                    ));
                }
            };
            let amount = args
                .amount
                .as_deref()
                .map(Money::parse_positive_default)
                .transpose()
                .map_err(|e| Failure::Input(format!("--amount: {e}")))?;
            let code = FpsCode {
                initiation: if amount.is_some() {
                    Initiation::Dynamic
                } else {
                    Initiation::Static
                },
                clearing_code: args.clearing_code.clone(),
                proxy,
                expiry: args.expiry.clone(),
                merchant_category: args.mcc.clone(),
                amount,
                merchant_name: args.name.clone(),
                merchant_city: args.city.clone(),
                bill_number: args.bill.clone(),
                reference: args.reference.clone(),
            };
            let payload = code.encode().map_err(|e| Failure::Input(e.to_string()))?;
            if let Some(path) = &args.svg {
                let image =
                    fps_render::svg(&payload, 256).map_err(|e| Failure::Input(e.to_string()))?;
                std::fs::write(path, image).map_err(|e| {
                    Failure::Runtime(format!("cannot write {}: {e}", path.display()))
                })?;
            }
            if let Some(path) = &args.png {
                let image =
                    fps_render::png(&payload, 8).map_err(|e| Failure::Input(e.to_string()))?;
                std::fs::write(path, image).map_err(|e| {
                    Failure::Runtime(format!("cannot write {}: {e}", path.display()))
                })?;
            }
            println!("{payload}");
            Ok(())
        }
    }
}
