//! The command line: `gateway serve | demo | migrate | cert | client | keys | qr | audit | profile`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The eID and e-payment gateway.
#[derive(Debug, Parser)]
#[command(name = "gateway", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway with the given configuration.
    Serve(ServeArgs),
    /// Run a demo on an embedded SQLite database under ./data, with seeded data.
    Demo(DemoArgs),
    /// Apply pending database migrations, then exit.
    Migrate(ConfigArg),
    /// Work with smart-ID-card certificates.
    Cert(crate::cert_cmd::CertArgs),
    /// Register, list and disable departments (OIDC clients).
    Client(crate::oidc_cmd::ClientArgs),
    /// Rotate and list the OIDC signing keys.
    Keys(crate::oidc_cmd::KeysArgs),
    /// Encode and decode FPS payment QR codes.
    Qr(crate::qr_cmd::QrArgs),
    /// Verify the audit trail's hash chain; export a department's entries.
    Audit(crate::audit::AuditArgs),
    /// Reseal e-ME profile values under the newest profile key.
    Profile(ProfileArgs),
    /// Compare a provider's settlement file with the ledger.
    Reconcile(crate::reconcile_cmd::ReconcileArgs),
}

/// `--config FILE`, shared by every subcommand.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// TOML config file; `gateway.example.toml` documents every setting.
    #[arg(long, value_name = "FILE", env = "GATEWAY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080, or http.listen from the config].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
}

/// Options of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub serve: ServeArgs,
    /// Directory for the demo's SQLite database and files.
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// Delete the demo's database first and seed afresh.
    #[arg(long)]
    pub reset: bool,
}

/// `gateway profile ...`
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ProfileCommand,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: ConfigArg,
}

/// Profile subcommands.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Reseal every value under the first key of profile.encryption_keys
    /// (after a rotation), so that older keys can then be dropped.
    Reseal,
}
