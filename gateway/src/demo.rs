//! The demo: an embedded SQLite database under a data directory, seeded
//! once, reused on the next run, wiped by `--reset`.

use std::path::Path;

use eid_core::StoreError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::store::Db;

/// The demo database's file name inside the data directory.
pub const DATABASE_FILE: &str = "gateway.db";

/// Files `--reset` deletes: the database and SQLite's WAL companions. Later
/// capabilities that write demo files add them here.
pub const DEMO_FILES: &[&str] = &["gateway.db", "gateway.db-wal", "gateway.db-shm"];

/// The meta key recording when the demo was seeded.
pub const SEEDED_AT_KEY: &str = "demo.seeded_at";

/// The SQLite URL of the demo database in `data_dir`.
pub fn database_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join(DATABASE_FILE).display())
}

/// Deletes the demo's files; missing files are fine.
pub fn reset(data_dir: &Path) -> std::io::Result<()> {
    for name in DEMO_FILES {
        match std::fs::remove_file(data_dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether this run seeded the demo or found it seeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeding {
    /// Seeded now.
    Fresh {
        /// When.
        at: String,
    },
    /// Seeded by an earlier run; its data is reused.
    Reused {
        /// When it was seeded.
        at: String,
    },
}

/// Seeds the demo data unless an earlier run did.
pub async fn seed(db: &Db, now: OffsetDateTime) -> Result<Seeding, StoreError> {
    let at = now.format(&Rfc3339).map_err(|e| StoreError::InvalidValue {
        field: SEEDED_AT_KEY,
        detail: e.to_string(),
    })?;
    if db.meta_insert_new(SEEDED_AT_KEY, &at, now).await? {
        tracing::info!("demo data seeded");
        return Ok(Seeding::Fresh { at });
    }
    let existing = db
        .meta_get(SEEDED_AT_KEY)
        .await?
        .map_or_else(|| "unknown".to_owned(), |entry| entry.value);
    Ok(Seeding::Reused { at: existing })
}

/// The text the demo prints once it listens.
pub fn banner(base: &str, data_dir: &Path, seeding: &Seeding) -> String {
    let data = match seeding {
        Seeding::Fresh { at } => format!("seeded now ({at})"),
        Seeding::Reused { at } => format!("reusing data seeded {at}"),
    };
    format!(
        "\nDemo of the eID and e-payment gateway\n\
         \x20 database   {db} (SQLite, WAL): {data}\n\
         \x20 health     {base}/healthz\n\
         \x20 readiness  {base}/readyz\n\
         \x20 metrics    {base}/metrics\n\
         Stop with Ctrl-C. Run again with --reset to start afresh.",
        db = data_dir.join(DATABASE_FILE).display(),
    )
}
