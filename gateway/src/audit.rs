//! The audit trail: recording events from handlers, and `gateway audit`
//! (`verify` checks the whole chain and names the first broken entry;
//! `export` prints one department's entries as JSON lines for auditors).

use clap::{Args, Subcommand};
use eid_core::audit::{Broken, Entry, Verifier};
use serde_json::{Value, json};

use crate::config::Config;
use crate::http::error::ApiError;
use crate::run::Failure;
use crate::state::AppState;
use crate::store::Db;

/// Appends an event to the trail. Identifiers only: `detail` names
/// methods, levels and field ids, never values. A trail that cannot be
/// written fails the operation (503): nothing happens unrecorded.
pub async fn record(
    state: &AppState,
    kind: &str,
    citizen_id: Option<&str>,
    client_id: Option<&str>,
    detail: Value,
) -> Result<(), ApiError> {
    state
        .db()
        .append_audit(
            kind,
            citizen_id,
            client_id,
            &detail.to_string(),
            state.now(),
        )
        .await
        .map(|_| ())
        .map_err(ApiError::unavailable)
}

/// `gateway audit ...`
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AuditCommand,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub config: crate::cli::ConfigArg,
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain from the first entry to the last; name the
    /// first broken entry. Exit code 0 when intact, 1 when broken.
    Verify,
    /// Print one department's entries as JSON lines (with their hashes,
    /// so that they can be matched against a verified chain).
    Export {
        /// The department's client id.
        #[arg(long, value_name = "CLIENT_ID")]
        client: String,
    },
}

fn as_json(entry: &Entry) -> Value {
    json!({
        "seq": entry.seq,
        "at": entry.at,
        "kind": entry.kind,
        "citizen_id": entry.citizen_id,
        "client_id": entry.client_id,
        "detail": serde_json::from_str::<Value>(&entry.detail).unwrap_or(Value::Null),
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    })
}

/// Walks the whole trail in pages and verifies it.
pub async fn verify_db(db: &Db) -> Result<Result<(u64, String), Broken>, Failure> {
    let mut verifier = Verifier::new();
    loop {
        let page = db
            .audit_page(verifier.last_seq(), None)
            .await
            .map_err(|e| Failure::Runtime(e.to_string()))?;
        if page.is_empty() {
            break;
        }
        for entry in &page {
            if let Err(broken) = verifier.push(entry) {
                return Ok(Err(broken));
            }
        }
    }
    Ok(Ok(verifier.finish()))
}

/// Runs `gateway audit`.
pub async fn run(config: Config, command: AuditCommand) -> Result<(), Failure> {
    let db = crate::run::open_db(&config).await?;
    let result = match command {
        AuditCommand::Verify => match verify_db(&db).await? {
            Ok((count, hash)) => {
                println!("audit trail intact: {count} entries, last hash {hash}");
                Ok(())
            }
            Err(broken) => {
                println!("audit trail BROKEN: {broken}");
                Err(Failure::Negative(broken.to_string()))
            }
        },
        AuditCommand::Export { client } => {
            let mut after = 0;
            loop {
                let page = db
                    .audit_page(after, Some(&client))
                    .await
                    .map_err(|e| Failure::Runtime(e.to_string()))?;
                let Some(end) = page.last() else {
                    break;
                };
                after = end.seq;
                for entry in &page {
                    println!("{}", as_json(entry));
                }
            }
            Ok(())
        }
    };
    db.close().await;
    result
}
