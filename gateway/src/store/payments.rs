//! Storage of bills, payment attempts, refunds, the ledger and the webhook
//! outbox (migration 0011).
//!
//! Reads go through [`Db`]. Changes go through a [`Tx`]: a write
//! transaction (`BEGIN IMMEDIATE` on SQLite, so that it holds the write
//! lock from its first statement; an ordinary transaction on PostgreSQL,
//! where [`Tx::lock_bill`] takes the bill's row lock). Whatever one change
//! does (the bill's state, its attempts, ledger lines, outgoing webhooks)
//! commits together or not at all.

use eid_core::StoreError;
use sqlx::{FromRow, Postgres, Sqlite};

use super::{Db, store_error, with_pool};

/// A stored bill: the department's bill and its payment state, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct BillRow {
    /// `bill_…`: unguessable, it is in the citizen's pay URL.
    pub id: String,
    /// The department (client id).
    pub department: String,
    /// `test` or `live` (the mode of the key that made it).
    pub mode: String,
    /// The department's reference.
    pub reference: String,
    /// The amount in cents.
    pub amount_cents: i64,
    /// `open`, `paid`, `cancelled` or `expired`.
    pub status: String,
    /// `payment_core::bill::Bill` as JSON.
    pub bill: String,
    /// `payment_core::payment::BillPayments` as JSON.
    pub payments: String,
    /// Bumped by every change.
    pub version: i64,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// A stored payment attempt.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AttemptRow {
    /// `pay_…`: the payment id of the API.
    pub id: String,
    /// Its bill.
    pub bill_id: String,
    /// The bill's department.
    pub department: String,
    /// Its index among the bill's attempts.
    pub idx: i64,
    /// `fps`, `pps`, `card` or `ewallet`.
    pub method: String,
    /// The provider's id.
    pub provider: String,
    /// The provider's reference, once started.
    pub provider_reference: Option<String>,
    /// The attempt's state (`payment_core::payment::AttemptState`, snake case).
    pub state: String,
    /// What the citizen does next (`payment_core::adapters::NextStep` JSON).
    pub next_step: Option<String>,
    /// 1 when its success arrived after it had expired.
    pub late: i64,
    /// When it was made.
    pub created_at: i64,
    /// When it stops being payable.
    pub expires_at: i64,
    /// When it last changed.
    pub updated_at: i64,
    /// The citizen who started it, when signed in (their payment history).
    pub citizen_id: Option<String>,
}

/// A stored refund.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RefundRow {
    /// `re_…`.
    pub id: String,
    /// The payment refunded.
    pub payment_id: String,
    /// Its department.
    pub department: String,
    /// How much, in cents.
    pub amount_cents: i64,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The department's reason, as given.
    pub reason: Option<String>,
    /// The provider's id for it.
    pub provider_refund_id: Option<String>,
    /// Why it failed.
    pub failure: Option<String>,
    /// When it was asked for.
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

/// One ledger line.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LedgerRow {
    /// The transaction (`payment:PROVIDER:REF`, `refund:…`, `fee:…`).
    pub transaction_id: String,
    /// The line's number in it.
    pub line: i64,
    /// `payment`, `refund` or `fee`.
    pub kind: String,
    /// The department.
    pub department: String,
    /// The bill.
    pub bill_id: String,
    /// The payment.
    pub payment_id: String,
    /// The provider.
    pub provider: String,
    /// The method.
    pub method: String,
    /// The account (`department_payable:…`, ...).
    pub account: String,
    /// `debit` or `credit`.
    pub side: String,
    /// The amount in cents.
    pub amount_cents: i64,
    /// When it was posted.
    pub posted_at: i64,
    /// The Hong Kong date it was posted (`YYYY-MM-DD`), for daily reports.
    pub posted_date: String,
}

/// One webhook in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EventRow {
    /// `evt_…`.
    pub id: String,
    /// The department it goes to.
    pub department: String,
    /// `payment.succeeded`, ...
    pub event_type: String,
    /// The JSON body, exactly as signed and sent.
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When the next attempt is due.
    pub next_attempt_at: i64,
    /// A deliverer holds it until then.
    pub lease_until: i64,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When it was made.
    pub created_at: i64,
    /// When the department acknowledged it.
    pub delivered_at: Option<i64>,
}

/// A department's webhook endpoint (secrets in the clear in memory, sealed
/// in the database; `Debug` does not show them).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// The department.
    pub client_id: String,
    /// Where webhooks are POSTed.
    pub url: String,
    /// Signing secrets, newest first.
    pub secrets: Vec<String>,
}

/// What a webhook secret is sealed for: its department (so that a sealed
/// secret copied to another department's row does not open).
fn secret_context(client_id: &str) -> String {
    format!("webhook:{client_id}")
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("client_id", &self.client_id)
            .field("url", &self.url)
            .field(
                "secrets",
                &format_args!("[{} redacted]", self.secrets.len()),
            )
            .finish()
    }
}

/// Filters of a bill listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BillFilter {
    /// Only this reference.
    pub reference: Option<String>,
    /// Only this status.
    pub status: Option<String>,
    /// Made at or after (Unix seconds).
    pub from: Option<i64>,
    /// Made before (Unix seconds).
    pub to: Option<i64>,
    /// Older than this `(created_at, id)` (the cursor).
    pub before: Option<(i64, String)>,
}

/// An insert that hit a uniqueness rule.
#[derive(Debug, thiserror::Error)]
pub enum InsertError {
    /// The row exists already (same id or same unique key).
    #[error("already exists")]
    Conflict,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub(crate) fn insert_error(error: sqlx::Error) -> InsertError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => InsertError::Conflict,
        _ => InsertError::Store(store_error(error)),
    }
}

pub(crate) const BILL_COLUMNS: &str = "id, department, mode, reference, amount_cents, status, bill, payments, \
     version, created_at, updated_at";
const ATTEMPT_COLUMNS: &str = "id, bill_id, department, idx, method, provider, provider_reference, \
     state, next_step, late, created_at, expires_at, updated_at, citizen_id";
const REFUND_COLUMNS: &str = "id, payment_id, department, amount_cents, status, reason, \
     provider_refund_id, failure, created_at, updated_at";
const EVENT_COLUMNS: &str = "id, department, event_type, body, status, attempts, next_attempt_at, \
     lease_until, last_error, created_at, delivered_at";

/// Binds a bill's columns, in `BILL_COLUMNS` order, to a query.
macro_rules! bind_bill {
    ($query:expr, $bill:expr) => {
        $query
            .bind(&$bill.id)
            .bind(&$bill.department)
            .bind(&$bill.mode)
            .bind(&$bill.reference)
            .bind($bill.amount_cents)
            .bind(&$bill.status)
            .bind(&$bill.bill)
            .bind(&$bill.payments)
            .bind($bill.version)
            .bind($bill.created_at)
            .bind($bill.updated_at)
    };
}
pub(crate) use bind_bill;

/// A write transaction on either backend.
#[derive(Debug)]
pub enum Tx {
    /// SQLite, begun with `BEGIN IMMEDIATE`.
    Sqlite(sqlx::Transaction<'static, Sqlite>),
    /// PostgreSQL.
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// Runs the same code on whichever connection a [`Tx`] holds.
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            Tx::Sqlite(t) => {
                let $conn = &mut **t;
                $body
            }
            Tx::Postgres(t) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}
pub(crate) use on_tx;

impl Db {
    /// Starts a write transaction.
    pub async fn begin_write(&self) -> Result<Tx, StoreError> {
        match self {
            Db::Sqlite(pool) => pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map(Tx::Sqlite)
                .map_err(store_error),
            Db::Postgres(pool) => pool.begin().await.map(Tx::Postgres).map_err(store_error),
        }
    }

    /// Stores a new bill (with version 0); `Conflict` when the department
    /// already has a bill with its reference in that mode.
    pub async fn insert_bill(&self, bill: &BillRow) -> Result<(), InsertError> {
        with_pool!(self, pool => bind_bill!(sqlx::query(&format!(
            "INSERT INTO bills ({BILL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )), bill)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(insert_error)
    }

    /// Stores a new bill and, in the same transaction, claims its
    /// idempotency key with the finished answer (`status`, `body`): one
    /// commit per bill. `Ok(false)` (nothing stored) when the key was
    /// used before: the caller then answers as the key's record says.
    /// `Conflict` (nothing stored, the key left free) for a duplicate
    /// reference.
    pub async fn insert_bill_once(
        &self,
        key: &payment_core::idempotency::IdempotencyKey,
        request_hash: &[u8],
        bill: &BillRow,
        status: u16,
        body: &[u8],
    ) -> Result<bool, InsertError> {
        if let Db::Postgres(pool) = self {
            // One statement, so one round trip and one commit: the bill is
            // inserted only if the key was claimed, and a duplicate
            // reference undoes the claim with it.
            let sql = format!(
                "WITH claimed AS (INSERT INTO idempotency_keys (department, operation, key, \
                 request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (department, operation, key) DO NOTHING RETURNING 1) \
                 INSERT INTO bills ({BILL_COLUMNS}) SELECT $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17, $18 WHERE EXISTS (SELECT 1 FROM claimed)"
            );
            let query = sqlx::query(&sql)
                .bind(&key.department)
                .bind(&key.operation)
                .bind(&key.key)
                .bind(request_hash)
                .bind(i32::from(status))
                .bind(body)
                .bind(bill.created_at);
            let inserted = bind_bill!(query, bill)
                .execute(pool)
                .await
                .map_err(insert_error)?;
            return Ok(inserted.rows_affected() == 1);
        }
        let mut tx = self.begin_write().await?;
        let claimed = tx
            .claim_key(key, request_hash, status, body, bill.created_at)
            .await?;
        if !claimed {
            return Ok(false);
        }
        on_tx!(&mut tx, conn => bind_bill!(sqlx::query(&format!(
            "INSERT INTO bills ({BILL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )), bill)
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(insert_error)?;
        tx.commit().await?;
        Ok(true)
    }

    /// A bill by id.
    pub async fn bill(&self, id: &str) -> Result<Option<BillRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, BillRow>(&format!(
            "SELECT {BILL_COLUMNS} FROM bills WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)
        .map_err(store_error)
    }

    /// A department's bills, newest first, at most `limit`.
    pub async fn list_bills(
        &self,
        department: &str,
        filter: &BillFilter,
        limit: i64,
    ) -> Result<Vec<BillRow>, StoreError> {
        // Every filter is always bound; a NULL one matches everything.
        let (before_at, before_id) = filter
            .before
            .clone()
            .map_or((None, None), |(at, id)| (Some(at), Some(id)));
        with_pool!(self, pool => sqlx::query_as::<_, BillRow>(&format!(
            "SELECT {BILL_COLUMNS} FROM bills WHERE department = $1 \
             AND ($2 IS NULL OR reference = $2) \
             AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR created_at >= $4) \
             AND ($5 IS NULL OR created_at < $5) \
             AND ($6 IS NULL OR created_at < $6 OR (created_at = $6 AND id < $7)) \
             ORDER BY created_at DESC, id DESC LIMIT $8"
        ))
        .bind(department)
        .bind(filter.reference.as_deref())
        .bind(filter.status.as_deref())
        .bind(filter.from)
        .bind(filter.to)
        .bind(before_at)
        .bind(before_id)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// A payment attempt by id.
    pub async fn attempt(&self, id: &str) -> Result<Option<AttemptRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)
        .map_err(store_error)
    }

    /// The attempt a provider knows by `reference`.
    pub async fn attempt_by_reference(
        &self,
        provider: &str,
        reference: &str,
    ) -> Result<Option<AttemptRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts \
             WHERE provider = $1 AND provider_reference = $2"
        ))
        .bind(provider)
        .bind(reference)
        .fetch_optional(pool)
        .await)
        .map_err(store_error)
    }

    /// A bill's attempts, in order.
    pub async fn attempts_of(&self, bill_id: &str) -> Result<Vec<AttemptRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE bill_id = $1 ORDER BY idx"
        ))
        .bind(bill_id)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// A citizen's payments (attempts they started while signed in),
    /// newest first.
    pub async fn attempts_of_citizen(
        &self,
        citizen_id: &str,
        limit: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts WHERE citizen_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2"
        ))
        .bind(citizen_id)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// Attempts still open (created or pending) whose time ran out by `now`.
    pub async fn overdue_attempts(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, AttemptRow>(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM payment_attempts \
             WHERE state IN ('created', 'pending') AND expires_at <= $1 \
             ORDER BY expires_at LIMIT $2"
        ))
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// A refund by id.
    pub async fn refund(&self, id: &str) -> Result<Option<RefundRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)
        .map_err(store_error)
    }

    /// Refunds still pending that last changed at or before `cutoff`.
    pub async fn pending_refunds(
        &self,
        cutoff: i64,
        limit: i64,
    ) -> Result<Vec<RefundRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE status = 'pending' AND updated_at <= $1 \
             ORDER BY updated_at LIMIT $2"
        ))
        .bind(cutoff)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// A payment's refunds, oldest first.
    pub async fn refunds_of(&self, payment_id: &str) -> Result<Vec<RefundRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, RefundRow>(&format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id"
        ))
        .bind(payment_id)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// A department's ledger lines posted on `date` (Hong Kong, `YYYY-MM-DD`).
    pub async fn ledger_of_day(
        &self,
        department: &str,
        date: &str,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, LedgerRow>(
            "SELECT transaction_id, line, kind, department, bill_id, payment_id, provider, method, \
             account, side, amount_cents, posted_at, posted_date FROM ledger_lines \
             WHERE department = $1 AND posted_date = $2 ORDER BY posted_at, transaction_id, line",
        )
        .bind(department)
        .bind(date)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// A provider's ledger lines, optionally of posting dates `from` to
    /// `to` (inclusive, `YYYY-MM-DD`).
    pub async fn ledger_of_provider(
        &self,
        provider: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<LedgerRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, LedgerRow>(
            "SELECT transaction_id, line, kind, department, bill_id, payment_id, provider, method, \
             account, side, amount_cents, posted_at, posted_date FROM ledger_lines \
             WHERE provider = $1 AND ($2 IS NULL OR posted_date >= $2) \
             AND ($3 IS NULL OR posted_date <= $3) ORDER BY transaction_id, line",
        )
        .bind(provider)
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// Every ledger line of a payment.
    pub async fn ledger_of_payment(&self, payment_id: &str) -> Result<Vec<LedgerRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, LedgerRow>(
            "SELECT transaction_id, line, kind, department, bill_id, payment_id, provider, method, \
             account, side, amount_cents, posted_at, posted_date FROM ledger_lines \
             WHERE payment_id = $1 ORDER BY posted_at, transaction_id, line",
        )
        .bind(payment_id)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// A webhook event by id.
    pub async fn webhook_event(&self, id: &str) -> Result<Option<EventRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, EventRow>(&format!(
            "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(pool)
        .await)
        .map_err(store_error)
    }

    /// A department's webhook events, newest first, optionally of one status.
    pub async fn webhook_events_of(
        &self,
        department: &str,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        with_pool!(self, pool => sqlx::query_as::<_, EventRow>(&format!(
            "SELECT {EVENT_COLUMNS} FROM webhook_events WHERE department = $1 \
             AND ($2 IS NULL OR status = $2) ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(department)
        .bind(status)
        .bind(limit)
        .fetch_all(pool)
        .await)
        .map_err(store_error)
    }

    /// Claims up to `limit` due webhook events for delivery until
    /// `lease_until`, counting the attempt. Several processes may call this
    /// at once: PostgreSQL skips rows another transaction holds (`FOR
    /// UPDATE SKIP LOCKED`); SQLite has one writer at a time. A claimed
    /// event is not claimed again before its lease ends.
    pub async fn claim_webhook_events(
        &self,
        now: i64,
        lease_until: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let returning = format!("RETURNING {EVENT_COLUMNS}");
        match self {
            Db::Postgres(pool) => sqlx::query_as::<_, EventRow>(&format!(
                "UPDATE webhook_events SET lease_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM webhook_events \
                   WHERE status = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1 \
                   ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) {returning}"
            ))
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(store_error),
            Db::Sqlite(pool) => sqlx::query_as::<_, EventRow>(&format!(
                "UPDATE webhook_events SET lease_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM webhook_events \
                   WHERE status = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1 \
                   ORDER BY next_attempt_at LIMIT $3) {returning}"
            ))
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(store_error),
        }
    }

    /// Records a delivered event.
    pub async fn webhook_delivered(&self, id: &str, now: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE webhook_events SET status = 'delivered', delivered_at = $2, lease_until = 0, \
             last_error = NULL WHERE id = $1",
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Records a failed delivery: retried at `next_attempt_at`, or, with
    /// `give_up`, marked failed for good.
    pub async fn webhook_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: i64,
        give_up: bool,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE webhook_events SET status = $2, last_error = $3, next_attempt_at = $4, \
             lease_until = 0 WHERE id = $1 AND status = 'pending'",
        )
        .bind(id)
        .bind(if give_up { "failed" } else { "pending" })
        .bind(error)
        .bind(next_attempt_at)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Queues an event of `department` again (redelivery on request),
    /// whatever its status; `false` when it is not theirs.
    pub async fn redeliver_webhook(
        &self,
        department: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool => sqlx::query(
            "UPDATE webhook_events SET status = 'pending', next_attempt_at = $3, lease_until = 0 \
             WHERE id = $1 AND department = $2",
        )
        .bind(id)
        .bind(department)
        .bind(now)
        .execute(pool)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }

    /// A department's webhook endpoint, its secrets opened with `kek`.
    pub async fn webhook_endpoint(
        &self,
        client_id: &str,
        kek: &eid_core::oidc::KeyEncryptionKey,
    ) -> Result<Option<WebhookEndpoint>, StoreError> {
        use base64::Engine;
        let row: Option<(String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT url, secrets FROM webhook_endpoints WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(pool)
        .await)
        .map_err(store_error)?;
        let bad = |detail: String| StoreError::Backend {
            detail: format!("webhook_endpoints.secrets: {detail}"),
        };
        row.map(|(url, sealed)| {
            let sealed: Vec<String> =
                serde_json::from_str(&sealed).map_err(|e| bad(e.to_string()))?;
            let secrets = sealed
                .iter()
                .map(|s| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(s)
                        .map_err(|e| bad(e.to_string()))?;
                    let opened = kek
                        .open(&secret_context(client_id), &bytes)
                        .map_err(|_| bad("does not open with keys.encryption_key".into()))?;
                    String::from_utf8(opened.expose().clone()).map_err(|e| bad(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(WebhookEndpoint {
                client_id: client_id.to_owned(),
                url,
                secrets,
            })
        })
        .transpose()
    }

    /// Sets a department's webhook endpoint; its secrets are stored sealed
    /// with `kek` (AES-256-GCM, bound to the department).
    pub async fn set_webhook_endpoint(
        &self,
        endpoint: &WebhookEndpoint,
        kek: &eid_core::oidc::KeyEncryptionKey,
        now: i64,
    ) -> Result<(), StoreError> {
        use base64::Engine;
        let sealed = endpoint
            .secrets
            .iter()
            .map(|s| {
                kek.seal(&secret_context(&endpoint.client_id), s.as_bytes())
                    .map(|b| base64::engine::general_purpose::STANDARD.encode(b))
                    .map_err(|e| StoreError::Backend {
                        detail: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secrets = serde_json::to_string(&sealed).map_err(|e| StoreError::Backend {
            detail: e.to_string(),
        })?;
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO webhook_endpoints (client_id, url, secrets, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO UPDATE \
             SET url = excluded.url, secrets = excluded.secrets, updated_at = excluded.updated_at",
        )
        .bind(&endpoint.client_id)
        .bind(&endpoint.url)
        .bind(secrets)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }
}

impl Tx {
    /// Claims an idempotency key with its finished answer (`status`,
    /// `body`); `false` when the key was claimed before.
    pub(crate) async fn claim_key(
        &mut self,
        key: &payment_core::idempotency::IdempotencyKey,
        request_hash: &[u8],
        status: u16,
        body: &[u8],
        created_at: i64,
    ) -> Result<bool, InsertError> {
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO idempotency_keys (department, operation, key, request_hash, status, body, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (department, operation, key) DO NOTHING",
        )
        .bind(&key.department)
        .bind(&key.operation)
        .bind(&key.key)
        .bind(request_hash)
        .bind(i32::from(status))
        .bind(body)
        .bind(created_at)
        .execute(conn)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(insert_error)
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
        .map_err(store_error)
    }

    /// Locks a bill for this transaction and reads it (`None`: no such
    /// bill). The version bump is the lock: other writers of the bill wait.
    pub async fn lock_bill(&mut self, id: &str) -> Result<Option<BillRow>, StoreError> {
        let locked = on_tx!(self, conn => sqlx::query(
            "UPDATE bills SET version = version + 1 WHERE id = $1",
        )
        .bind(id)
        .execute(conn)
        .await
        .map(|done| done.rows_affected()))
        .map_err(store_error)?;
        if locked == 0 {
            return Ok(None);
        }
        on_tx!(self, conn => sqlx::query_as::<_, BillRow>(&format!(
            "SELECT {BILL_COLUMNS} FROM bills WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(conn)
        .await)
        .map_err(store_error)
    }

    /// Saves a locked bill's status and payment state.
    pub async fn save_bill(
        &mut self,
        id: &str,
        status: &str,
        payments: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            "UPDATE bills SET status = $2, payments = $3, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(payments)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Records a provider notification; `false` when it was recorded
    /// before (a duplicate: nothing more is to be done). On PostgreSQL a
    /// concurrent duplicate waits here until the first commits or rolls back.
    pub async fn claim_notification(
        &mut self,
        provider: &str,
        notification_id: &str,
        payment_id: &str,
        outcome: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_tx!(self, conn => sqlx::query(
            "INSERT INTO provider_notifications (provider, notification_id, payment_id, outcome, \
             received_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (provider, notification_id) DO NOTHING",
        )
        .bind(provider)
        .bind(notification_id)
        .bind(payment_id)
        .bind(outcome)
        .bind(now)
        .execute(conn)
        .await
        .map(|done| done.rows_affected() == 1))
        .map_err(store_error)
    }

    /// Stores a new attempt.
    pub async fn insert_attempt(&mut self, a: &AttemptRow) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(&format!(
            "INSERT INTO payment_attempts ({ATTEMPT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        ))
        .bind(&a.id)
        .bind(&a.bill_id)
        .bind(&a.department)
        .bind(a.idx)
        .bind(&a.method)
        .bind(&a.provider)
        .bind(a.provider_reference.as_deref())
        .bind(&a.state)
        .bind(a.next_step.as_deref())
        .bind(a.late)
        .bind(a.created_at)
        .bind(a.expires_at)
        .bind(a.updated_at)
        .bind(a.citizen_id.as_deref())
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Updates an attempt's state (and, when given, its provider reference,
    /// next step and lateness).
    pub async fn update_attempt(
        &mut self,
        id: &str,
        state: &str,
        provider_reference: Option<&str>,
        next_step: Option<&str>,
        late: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            "UPDATE payment_attempts SET state = $2, \
             provider_reference = COALESCE($3, provider_reference), \
             next_step = COALESCE($4, next_step), late = CASE WHEN $5 = 1 THEN 1 ELSE late END, \
             updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(provider_reference)
        .bind(next_step)
        .bind(i64::from(late))
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Sets the state of a bill's attempt number `idx` (the bill's payment
    /// state is the truth; the row mirrors it for queries).
    pub async fn set_attempt_state(
        &mut self,
        bill_id: &str,
        idx: i64,
        state: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            "UPDATE payment_attempts SET state = $3, updated_at = $4 \
             WHERE bill_id = $1 AND idx = $2 AND state <> $3",
        )
        .bind(bill_id)
        .bind(idx)
        .bind(state)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Sets the provider that took an attempt (after a failover).
    pub async fn set_attempt_provider(
        &mut self,
        id: &str,
        provider: &str,
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query("UPDATE payment_attempts SET provider = $2 WHERE id = $1")
            .bind(id)
            .bind(provider)
            .execute(conn)
            .await
            .map(|_| ()))
        .map_err(store_error)
    }

    /// The refunds of a payment, inside the transaction.
    pub async fn refunds_of(&mut self, payment_id: &str) -> Result<Vec<RefundRow>, StoreError> {
        on_tx!(self, conn => sqlx::query_as::<_, RefundRow>(&format!(
            "SELECT {REFUND_COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id"
        ))
        .bind(payment_id)
        .fetch_all(conn)
        .await)
        .map_err(store_error)
    }

    /// Stores a new refund.
    pub async fn insert_refund(&mut self, r: &RefundRow) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(&format!(
            "INSERT INTO refunds ({REFUND_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&r.id)
        .bind(&r.payment_id)
        .bind(&r.department)
        .bind(r.amount_cents)
        .bind(&r.status)
        .bind(r.reason.as_deref())
        .bind(r.provider_refund_id.as_deref())
        .bind(r.failure.as_deref())
        .bind(r.created_at)
        .bind(r.updated_at)
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Settles a pending refund.
    pub async fn finish_refund(
        &mut self,
        id: &str,
        status: &str,
        provider_refund_id: Option<&str>,
        failure: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(
            "UPDATE refunds SET status = $2, provider_refund_id = COALESCE($3, provider_refund_id), \
             failure = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(provider_refund_id)
        .bind(failure)
        .bind(now)
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }

    /// Posts ledger lines; `false` (and nothing posted) when their
    /// transaction was posted before.
    pub async fn post_ledger(&mut self, lines: &[LedgerRow]) -> Result<bool, StoreError> {
        for line in lines {
            let inserted = on_tx!(self, conn => sqlx::query(
                "INSERT INTO ledger_lines (transaction_id, line, kind, department, bill_id, \
                 payment_id, provider, method, account, side, amount_cents, posted_at, posted_date) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (transaction_id, line) DO NOTHING",
            )
            .bind(&line.transaction_id)
            .bind(line.line)
            .bind(&line.kind)
            .bind(&line.department)
            .bind(&line.bill_id)
            .bind(&line.payment_id)
            .bind(&line.provider)
            .bind(&line.method)
            .bind(&line.account)
            .bind(&line.side)
            .bind(line.amount_cents)
            .bind(line.posted_at)
            .bind(&line.posted_date)
            .execute(conn)
            .await
            .map(|done| done.rows_affected()))
            .map_err(store_error)?;
            if inserted == 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Puts a webhook in the outbox.
    pub async fn enqueue_event(&mut self, e: &EventRow) -> Result<(), StoreError> {
        on_tx!(self, conn => sqlx::query(&format!(
            "INSERT INTO webhook_events ({EVENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&e.id)
        .bind(&e.department)
        .bind(&e.event_type)
        .bind(&e.body)
        .bind(&e.status)
        .bind(e.attempts)
        .bind(e.next_attempt_at)
        .bind(e.lease_until)
        .bind(e.last_error.as_deref())
        .bind(e.created_at)
        .bind(e.delivered_at)
        .execute(conn)
        .await
        .map(|_| ()))
        .map_err(store_error)
    }
}
