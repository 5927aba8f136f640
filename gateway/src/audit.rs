//! The audit trail: recording events from handlers, and `gateway audit`
//! (`verify` checks the whole chain and names the first broken entry;
//! `export` prints one department's entries as JSON lines for auditors).

use clap::{Args, Subcommand};
use eid_core::audit::{Broken, Entry, Verifier};
use eid_core::oidc::{KeyEncryptionKey, KeyStore, jws, keys};
use serde_json::{Value, json};

use crate::config::Config;
use crate::http::error::ApiError;
use crate::run::Failure;
use crate::state::AppState;
use crate::store::Db;
use crate::store::audit::Checkpoint;

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
    /// Sign a checkpoint of the newest entry now (the service also does
    /// every 15 minutes).
    Checkpoint,
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

/// What `verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The hash chain is broken.
    #[error(transparent)]
    Chain(#[from] Broken),
    /// A signed checkpoint does not match the trail.
    #[error("checkpoint at entry {seq}: {reason}")]
    Checkpoint {
        /// The entry it anchors.
        seq: i64,
        /// Why.
        reason: String,
    },
}

/// What an intact trail holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intact {
    /// Entries.
    pub entries: u64,
    /// The last entry's hash.
    pub last_hash: String,
    /// Signed checkpoints that matched.
    pub checkpoints: usize,
}

/// Checks a checkpoint's signature with the gateway's keys and that it
/// signs `seq` and `hash`.
async fn checkpoint_signed(db: &Db, checkpoint: &Checkpoint) -> Result<(), String> {
    let parsed = jws::parse(&checkpoint.jws).map_err(|e| format!("unreadable: {e}"))?;
    let kid = parsed
        .header_str("kid")
        .ok_or_else(|| "no key id".to_owned())?
        .to_owned();
    let keys = db.list_keys().await.map_err(|e| e.to_string())?;
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| format!("signed by unknown key {kid}"))?;
    let claims = parsed
        .verify(&key.public_jwk)
        .map_err(|_| "the signature does not verify".to_owned())?;
    if claims.get("seq").and_then(Value::as_i64) != Some(checkpoint.seq)
        || claims.get("hash").and_then(Value::as_str) != Some(checkpoint.hash.as_str())
    {
        return Err("the signed statement is for another entry".to_owned());
    }
    Ok(())
}

/// Walks the whole trail in pages, verifies the chain and every signed
/// checkpoint.
pub async fn verify_db(db: &Db) -> Result<Result<Intact, Problem>, Failure> {
    let runtime = |e: eid_core::StoreError| Failure::Runtime(e.to_string());
    let checkpoints = db.checkpoints().await.map_err(runtime)?;
    for checkpoint in &checkpoints {
        if let Err(reason) = checkpoint_signed(db, checkpoint).await {
            return Ok(Err(Problem::Checkpoint {
                seq: checkpoint.seq,
                reason,
            }));
        }
    }
    let mut verifier = Verifier::new();
    loop {
        let page = db
            .audit_page(verifier.last_seq(), None)
            .await
            .map_err(runtime)?;
        if page.is_empty() {
            break;
        }
        for entry in &page {
            if let Err(broken) = verifier.push(entry) {
                return Ok(Err(broken.into()));
            }
            if let Some(checkpoint) = checkpoints.iter().find(|c| c.seq == entry.seq)
                && checkpoint.hash != entry.hash
            {
                return Ok(Err(Problem::Checkpoint {
                    seq: entry.seq,
                    reason: "the entry differs from what was signed (the trail was rewritten)"
                        .to_owned(),
                }));
            }
        }
    }
    let last = verifier.last_seq();
    if let Some(beyond) = checkpoints.iter().find(|c| c.seq > last) {
        return Ok(Err(Problem::Checkpoint {
            seq: beyond.seq,
            reason: format!("the trail ends at entry {last}: entries were cut off"),
        }));
    }
    let (entries, last_hash) = verifier.finish();
    Ok(Ok(Intact {
        entries,
        last_hash,
        checkpoints: checkpoints.len(),
    }))
}

/// Signs a checkpoint of the newest entry, unless there is none or it
/// has one. Needs `keys.encryption_key` (the signing key is sealed).
pub async fn checkpoint(
    db: &Db,
    config: &Config,
    now: time::OffsetDateTime,
) -> Result<Option<Checkpoint>, String> {
    let Some((seq, hash)) = db.audit_head().await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if db
        .checkpoints()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .any(|c| c.seq == seq)
    {
        return Ok(None);
    }
    let kek = config
        .keys
        .encryption_key
        .as_ref()
        .and_then(|k| KeyEncryptionKey::from_base64(k).ok())
        .ok_or_else(|| "keys.encryption_key is not set".to_owned())?;
    let all = db.list_keys().await.map_err(|e| e.to_string())?;
    let current = keys::current(&all, now).ok_or_else(|| "no signing key".to_owned())?;
    let signing = keys::unseal(current, &kek).map_err(|e| e.to_string())?;
    let header = json!({"typ": "audit-checkpoint+jwt", "alg": "ES256", "kid": signing.kid});
    let at = now.unix_timestamp();
    let statement = json!({"iss": config.issuer(), "seq": seq, "hash": hash, "iat": at});
    let signed = jws::sign_with_header(&signing, &header, &statement).map_err(|e| e.to_string())?;
    let checkpoint = Checkpoint {
        seq,
        hash,
        at,
        jws: signed,
    };
    db.insert_checkpoint(&checkpoint)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(checkpoint))
}

/// Runs `gateway audit`.
pub async fn run(config: Config, command: AuditCommand) -> Result<(), Failure> {
    let db = crate::run::open_db(&config).await?;
    let result = match command {
        AuditCommand::Verify => match verify_db(&db).await? {
            Ok(intact) => {
                println!(
                    "audit trail intact: {} entries, last hash {}, {} signed checkpoints match",
                    intact.entries, intact.last_hash, intact.checkpoints
                );
                Ok(())
            }
            Err(broken) => {
                println!("audit trail BROKEN: {broken}");
                Err(Failure::Negative(broken.to_string()))
            }
        },
        AuditCommand::Checkpoint => {
            match checkpoint(&db, &config, time::OffsetDateTime::now_utc())
                .await
                .map_err(Failure::Runtime)?
            {
                Some(c) => println!("checkpoint signed at entry {} ({})", c.seq, c.hash),
                None => println!("nothing to sign: no new entry since the last checkpoint"),
            }
            Ok(())
        }
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
