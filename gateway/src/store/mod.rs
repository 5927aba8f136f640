//! Storage: the sqlx pool behind an enum of the two supported backends, the
//! migrations, and the implementations of the core crates' storage traits.
//!
//! SQLite is the embedded default (one file, WAL journal); PostgreSQL is for
//! operators who run several gateway processes. Queries are written once in
//! the SQL both dialects share (`$1` placeholders, `ON CONFLICT`, `RETURNING`)
//! and run on either pool through [`with_pool!`]. Timestamps are stored as
//! Unix seconds in 64-bit integers so that both backends compare them alike.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use eid_core::StoreError;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use time::OffsetDateTime;

use crate::config::DatabaseConfig;

pub mod api_keys;
pub mod audit;
pub mod bill_batch;
pub mod card;
pub mod clients;
pub mod consent;
pub mod grants;
pub mod idempotency;
pub mod keys;
pub mod meta;
pub mod par;
pub mod payments;
pub mod profile;
pub mod replay;
pub mod signin;

/// A PostgreSQL connection idle this long is pinged before it is used.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(10);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// Runs the same code on whichever pool a [`Db`] holds: the body is
/// compiled once per backend, so it may use backend-specific types only
/// through what both share.
macro_rules! with_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// The database, as a connection pool of one of the supported backends.
/// Cheap to clone: clones share the pool.
#[derive(Debug, Clone)]
pub enum Db {
    /// Embedded SQLite.
    Sqlite(SqlitePool),
    /// PostgreSQL.
    Postgres(PgPool),
}

/// Which backend a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// The database could not be opened, migrated or reached.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The URL does not parse or names an unsupported backend.
    #[error("invalid database url: {reason}")]
    BadUrl {
        /// Why it was rejected (never the URL itself: it may hold a password).
        reason: String,
    },
    /// The directory for the SQLite file could not be created.
    #[error("cannot create database directory {path}: {reason}")]
    Directory {
        /// The directory.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The database did not accept a connection.
    #[error("cannot connect to the {backend:?} database: {reason}")]
    Connect {
        /// Which backend.
        backend: Backend,
        /// The driver's reason.
        reason: String,
    },
    /// A migration failed; the schema is as the last successful one left it.
    #[error("database migration failed: {reason}")]
    Migrate {
        /// The driver's reason.
        reason: String,
    },
    /// A query failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Db {
    /// Opens a pool for the configured URL. SQLite files (and their
    /// directory) are created when missing and use the WAL journal.
    /// PostgreSQL must be reachable now: a gateway that cannot reach its
    /// database fails at start with a clear message instead of serving errors.
    pub async fn connect(config: &DatabaseConfig) -> Result<Self, DbError> {
        let acquire = Duration::from_secs(config.acquire_timeout_secs);
        if config.url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(&config.url)
                .map_err(|e| DbError::BadUrl {
                    reason: e.to_string(),
                })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            let in_memory = options.get_filename() == Path::new(":memory:")
                || config.url.contains(":memory:")
                || config.url.contains("mode=memory");
            if let Some(dir) = options.get_filename().parent()
                && !in_memory
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| DbError::Directory {
                    path: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
            }
            // Every connection to ":memory:" is a database of its own: keep
            // exactly one, forever.
            let pool_options = if in_memory {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new().max_connections(config.max_connections)
            };
            // A file's connection does not break: no check before use
            // (each would be a hop to the connection's thread).
            let pool = pool_options
                .test_before_acquire(false)
                .acquire_timeout(acquire)
                .connect_with(options)
                .await
                .map_err(|e| DbError::Connect {
                    backend: Backend::Sqlite,
                    reason: e.to_string(),
                })?;
            Ok(Db::Sqlite(pool))
        } else if config.url.starts_with("postgres://") || config.url.starts_with("postgresql://") {
            let options = sqlx::postgres::PgConnectOptions::from_str(&config.url).map_err(|e| {
                DbError::BadUrl {
                    reason: redact(&e.to_string(), &config.url),
                }
            })?;
            // A pooled connection is checked (pinged) before use only if it
            // sat idle for a while: under load every query would otherwise
            // pay a round trip for the check. One that broke while busy
            // fails its query and is dropped from the pool.
            let pool = PgPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(acquire)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for < CHECK_IF_IDLE_FOR {
                            return Ok(true);
                        }
                        Ok(sqlx::Connection::ping(conn).await.is_ok())
                    })
                })
                .connect_with(options)
                .await
                .map_err(|e| DbError::Connect {
                    backend: Backend::Postgres,
                    reason: redact(&e.to_string(), &config.url),
                })?;
            Ok(Db::Postgres(pool))
        } else {
            Err(DbError::BadUrl {
                reason: "must start with sqlite: or postgres://".to_owned(),
            })
        }
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the pending migrations of this backend. On PostgreSQL several
    /// processes may start at once: sqlx holds an advisory lock while it
    /// migrates. SQLite has no such lock; one process per SQLite file is the
    /// supported setup, and `gateway migrate` can run before it starts.
    pub async fn migrate(&self) -> Result<(), DbError> {
        let result = match self {
            Db::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|e| DbError::Migrate {
            reason: e.to_string(),
        })
    }

    /// Asks the database a trivial question; used by `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
            .map_err(store_error)
    }

    /// Closes every connection; later queries fail with
    /// [`StoreError::Unavailable`].
    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}

/// Maps a driver error to the core crates' storage error.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable {
            detail: error.to_string(),
        },
        other => StoreError::Backend {
            detail: other.to_string(),
        },
    }
}

/// Converts a time to the stored form (Unix seconds).
pub(crate) fn to_unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

/// Converts a stored Unix time back.
pub(crate) fn from_unix(field: &'static str, secs: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| StoreError::InvalidValue {
        field,
        detail: e.to_string(),
    })
}

/// Driver messages can quote the URL, and with it a password.
fn redact(message: &str, url: &str) -> String {
    if url.is_empty() {
        message.to_owned()
    } else {
        message.replace(url, "<database url>")
    }
}
