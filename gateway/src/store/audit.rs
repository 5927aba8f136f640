//! The audit trail in the database. On PostgreSQL appends are serialised
//! by a transaction-scoped advisory lock, so that any number of gateway
//! processes append one chain. On SQLite (one process, one writer at a
//! time) the primary key on the sequence number settles the rare race
//! between pooled connections: the loser reads again and retries.

use eid_core::StoreError;
use eid_core::audit::Entry;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Db, store_error, to_unix, with_pool};

/// Entries read per query when walking the trail.
pub const PAGE: i64 = 1000;

fn entry(row: &impl RowLike) -> Result<Entry, sqlx::Error> {
    row.entry()
}

/// A row of `audit_log` on either backend.
trait RowLike {
    fn entry(&self) -> Result<Entry, sqlx::Error>;
}

macro_rules! row_like {
    ($row:ty) => {
        impl RowLike for $row {
            fn entry(&self) -> Result<Entry, sqlx::Error> {
                Ok(Entry {
                    seq: self.try_get(0)?,
                    at: self.try_get(1)?,
                    kind: self.try_get(2)?,
                    citizen_id: self.try_get(3)?,
                    client_id: self.try_get(4)?,
                    detail: self.try_get(5)?,
                    prev_hash: self.try_get(6)?,
                    hash: self.try_get(7)?,
                })
            }
        }
    };
}
row_like!(sqlx::sqlite::SqliteRow);
row_like!(sqlx::postgres::PgRow);

/// The advisory lock key of the audit trail ("AUDIT" in ASCII).
const AUDIT_LOCK: i64 = 0x0041_5544_4954;

async fn append_postgres(
    pool: &sqlx::PgPool,
    kind: &str,
    citizen_id: Option<&str>,
    client_id: Option<&str>,
    detail: &str,
    now: OffsetDateTime,
) -> Result<Entry, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(AUDIT_LOCK)
        .execute(&mut *tx)
        .await?;
    let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?
        .map(|row| Ok::<_, sqlx::Error>((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?)))
        .transpose()?;
    let entry = Entry::next(
        last.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
        to_unix(now),
        kind,
        citizen_id,
        client_id,
        detail,
    );
    insert(&entry).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(entry)
}

/// SQLite: `BEGIN IMMEDIATE` takes the database's write lock before the
/// last entry is read, so appends from pooled connections queue (up to
/// the busy timeout) instead of racing.
async fn append_sqlite(
    pool: &sqlx::SqlitePool,
    kind: &str,
    citizen_id: Option<&str>,
    client_id: Option<&str>,
    detail: &str,
    now: OffsetDateTime,
) -> Result<Entry, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
    let result = async {
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| {
                Ok::<_, sqlx::Error>((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?))
            })
            .transpose()?;
        let entry = Entry::next(
            last.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
            to_unix(now),
            kind,
            citizen_id,
            client_id,
            detail,
        );
        insert(&entry).execute(&mut *conn).await?;
        Ok(entry)
    }
    .await;
    match result {
        Ok(entry) => {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            Ok(entry)
        }
        Err(e) => {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            Err(e)
        }
    }
}

/// The INSERT of `entry`.
fn insert<DB: sqlx::Database>(
    entry: &Entry,
) -> sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments<'static>>
where
    i64: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'static, DB> + sqlx::Type<DB>,
{
    sqlx::query(INSERT)
        .bind(entry.seq)
        .bind(entry.at)
        .bind(entry.kind.clone())
        .bind(entry.citizen_id.clone())
        .bind(entry.client_id.clone())
        .bind(entry.detail.clone())
        .bind(entry.prev_hash.clone())
        .bind(entry.hash.clone())
}

const INSERT: &str = "INSERT INTO audit_log (seq, at, kind, citizen_id, client_id, detail, prev_hash, hash) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

const COLUMNS: &str = "seq, at, kind, citizen_id, client_id, detail, prev_hash, hash";

impl Db {
    /// Appends an entry after the current last one; returns it.
    pub async fn append_audit(
        &self,
        kind: &str,
        citizen_id: Option<&str>,
        client_id: Option<&str>,
        detail: &str,
        now: OffsetDateTime,
    ) -> Result<Entry, StoreError> {
        if let Db::Postgres(pool) = self {
            return append_postgres(pool, kind, citizen_id, client_id, detail, now)
                .await
                .map_err(store_error);
        }
        let Db::Sqlite(pool) = self else {
            unreachable!("PostgreSQL returned above");
        };
        append_sqlite(pool, kind, citizen_id, client_id, detail, now)
            .await
            .map_err(store_error)
    }

    /// Up to [`PAGE`] entries after `after_seq`, in order; with
    /// `client_id`, only that department's.
    pub async fn audit_page(
        &self,
        after_seq: i64,
        client_id: Option<&str>,
    ) -> Result<Vec<Entry>, StoreError> {
        let sql = match client_id {
            None => {
                format!("SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT {PAGE}")
            }
            Some(_) => format!(
                "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 AND client_id = $2 ORDER BY seq LIMIT {PAGE}"
            ),
        };
        with_pool!(self, pool => {
            let mut query = sqlx::query(&sql).bind(after_seq);
            if let Some(client) = client_id {
                query = query.bind(client);
            }
            query
                .fetch_all(pool)
                .await
                .and_then(|rows| rows.iter().map(entry).collect::<Result<Vec<_>, _>>())
        })
        .map_err(store_error)
    }
}

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The entry it anchors.
    pub seq: i64,
    /// That entry's hash.
    pub hash: String,
    /// When it was made (Unix seconds).
    pub at: i64,
    /// The signed statement (compact JWS).
    pub jws: String,
}

impl Db {
    /// The newest entry's sequence number and hash.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(pool)
        .await
        .and_then(|row| {
            row.map(|row| Ok::<_, sqlx::Error>((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?)))
                .transpose()
        }))
        .map_err(store_error)
    }

    /// Stores a checkpoint (once per entry).
    pub async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO audit_checkpoints (seq, hash, at, jws) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (seq) DO NOTHING",
        )
        .bind(checkpoint.seq)
        .bind(&checkpoint.hash)
        .bind(checkpoint.at)
        .bind(&checkpoint.jws)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Every checkpoint, oldest first.
    pub async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "SELECT seq, hash, at, jws FROM audit_checkpoints ORDER BY seq",
        )
        .fetch_all(pool)
        .await
        .and_then(|rows| {
            rows.iter()
                .map(|row| {
                    Ok(Checkpoint {
                        seq: row.try_get(0)?,
                        hash: row.try_get(1)?,
                        at: row.try_get(2)?,
                        jws: row.try_get(3)?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        }))
        .map_err(store_error)
    }
}
