//! Group commit of new bills: concurrent `POST /v1/bills` requests are
//! written together, in one statement and one commit on PostgreSQL and in
//! one transaction on SQLite, instead of one commit each.
//!
//! A request hands its bill to the [`BillWriter`] and waits for its own
//! outcome. The writer task takes whatever bills are waiting (at most
//! [`MAX_BATCH`]) and writes them; under light load a batch holds one
//! bill and nothing waits for company. The outcome of each bill is the
//! one [`Db::insert_bill_once`] would give it alone:
//!
//! - every bill whose key is new and whose reference is free is stored
//!   with its key in the batch's commit, and answered `Ok(true)` only once
//!   that commit is durable;
//! - every other bill (a key used before, a reference taken, a second bill
//!   with the same key or reference in the same batch, or a batch that
//!   failed as a whole) is then written on its own with
//!   [`Db::insert_bill_once`], which says which it was.
//!
//! So a batch never changes what a request is told; it only changes how
//! many commits the database makes.

use std::collections::HashSet;

use payment_core::idempotency::IdempotencyKey;
use tokio::sync::{mpsc, oneshot};

use super::payments::{BILL_COLUMNS, BillRow, InsertError, Tx, bind_bill, insert_error, on_tx};
use super::{Db, store_error};

/// The most bills written in one batch.
pub const MAX_BATCH: usize = 128;

/// Bills waiting for a writer before new requests wait for room.
const QUEUE: usize = 4 * MAX_BATCH;

/// The statement that writes a batch on PostgreSQL: the bills' and keys'
/// columns as 17 arrays, the ids of the bills stored as rows. Public so
/// that a test can check its plan.
///
/// One statement, so one commit: a key is claimed only for a
/// bill whose reference is free, and a bill is inserted only
/// with its claimed key. A reference taken by a concurrent
/// writer makes the whole statement fail (and undo). The
/// reference is looked up per bill through the unique index
/// (LATERAL ... LIMIT 1): a NOT EXISTS here became, in the
/// cached plan of a young table, a hash anti-join that read
/// every bill on every batch.
pub const BATCH_SQL: &str = "WITH input AS (SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], \
                     $4::bytea[], $5::int4[], $6::bytea[], $7::text[], $8::text[], $9::text[], \
                     $10::text[], $11::int8[], $12::text[], $13::text[], $14::text[], \
                     $15::int8[], $16::int8[], $17::int8[]) AS t(k_department, k_operation, \
                     k_key, request_hash, status_code, body, id, department, mode, reference, \
                     amount_cents, status, bill, payments, version, created_at, updated_at)), \
                     claimed AS (INSERT INTO idempotency_keys (department, operation, key, \
                     request_hash, status, body, created_at) SELECT k_department, k_operation, \
                     k_key, request_hash, status_code, body, created_at FROM input i \
                     LEFT JOIN LATERAL (SELECT 1 AS taken FROM bills b \
                     WHERE b.department = i.department AND b.mode = i.mode \
                     AND b.reference = i.reference LIMIT 1) t ON true WHERE t.taken IS NULL \
                     ON CONFLICT (department, operation, key) DO NOTHING \
                     RETURNING department, operation, key) \
                     INSERT INTO bills (id, department, mode, reference, amount_cents, status, \
                     bill, payments, version, created_at, updated_at) SELECT i.id, \
                     i.department, i.mode, i.reference, i.amount_cents, i.status, i.bill, \
                     i.payments, i.version, i.created_at, i.updated_at FROM input i \
                     JOIN claimed c ON c.department = i.k_department \
                     AND c.operation = i.k_operation AND c.key = i.k_key RETURNING id";

/// A new bill with the idempotency key that claims it and the answer to
/// store under that key.
#[derive(Debug, Clone)]
pub struct NewBill {
    /// The department's key for this request.
    pub key: IdempotencyKey,
    /// The hash of the request, to tell a retry from a reuse.
    pub request_hash: Vec<u8>,
    /// The bill.
    pub bill: BillRow,
    /// The answer's HTTP status.
    pub status: u16,
    /// The answer's body.
    pub body: Vec<u8>,
}

type Outcome = Result<bool, InsertError>;

struct Job {
    bill: NewBill,
    reply: oneshot::Sender<Outcome>,
}

/// Writes new bills in batches (see the module documentation). Cheap to
/// clone; the writer task stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct BillWriter {
    sender: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("bill", &self.bill.bill.id)
            .finish()
    }
}

impl BillWriter {
    /// Starts the writer task on the current Tokio runtime. One writer is
    /// enough, and more would only make batches smaller: while it commits
    /// a batch, the next one gathers. Each batch's size is observed in
    /// `sizes`.
    pub fn spawn(db: Db, sizes: prometheus::Histogram) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Job>(QUEUE);
        tokio::spawn(async move {
            while let Some(jobs) = next_batch(&mut receiver).await {
                sizes.observe(jobs.len() as f64);
                write_batch(&db, jobs).await;
            }
        });
        Self { sender }
    }

    /// Stores `bill` and claims its key, as [`Db::insert_bill_once`] does,
    /// together with whatever other bills are being created now.
    pub async fn insert_bill_once(&self, bill: NewBill) -> Outcome {
        let (reply, outcome) = oneshot::channel();
        self.sender
            .send(Job { bill, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

fn stopped() -> InsertError {
    InsertError::Store(eid_core::StoreError::Unavailable {
        detail: "the bill writer has stopped".into(),
    })
}

/// The next batch: waits for one job, then takes those already waiting.
async fn next_batch(receiver: &mut mpsc::Receiver<Job>) -> Option<Vec<Job>> {
    let first = receiver.recv().await?;
    let mut jobs = vec![first];
    while jobs.len() < MAX_BATCH {
        match receiver.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    Some(jobs)
}

async fn write_batch(db: &Db, jobs: Vec<Job>) {
    let (jobs, bills): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.reply, j.bill)).unzip();
    let outcomes = db.insert_bills_once(&bills).await;
    for (reply, outcome) in jobs.into_iter().zip(outcomes) {
        // The request may have gone; its bill is stored all the same, and
        // a retry with its key is answered from the key's record.
        let _ = reply.send(outcome);
    }
}

impl Db {
    /// [`Db::insert_bill_once`] for many bills, with as few commits as
    /// possible: one outcome per bill, in order.
    pub async fn insert_bills_once(&self, bills: &[NewBill]) -> Vec<Outcome> {
        if let [one] = bills {
            return vec![self.insert_bill_once_of(one).await];
        }
        // At most one bill per key and per reference goes in the batch;
        // the others are written alone afterwards.
        let mut keys = HashSet::new();
        let mut references = HashSet::new();
        let together: Vec<bool> = bills
            .iter()
            .map(|b| {
                let key = (&b.key.department, &b.key.operation, &b.key.key);
                let reference = (&b.bill.department, &b.bill.mode, &b.bill.reference);
                // Both sets must see every bill, so no short-circuit.
                let fresh_key = keys.insert(key);
                let fresh_reference = references.insert(reference);
                fresh_key && fresh_reference
            })
            .collect();
        let batch: Vec<&NewBill> = bills
            .iter()
            .zip(&together)
            .filter_map(|(b, t)| t.then_some(b))
            .collect();
        let stored: HashSet<String> = match self.insert_batch(&batch).await {
            Ok(stored) => stored,
            Err(error) => {
                // A reference taken meanwhile by another writer, or the
                // database failing: each bill then finds out on its own.
                tracing::debug!(error = %error, bills = batch.len(), "bill batch not written");
                HashSet::new()
            }
        };
        let mut outcomes = Vec::with_capacity(bills.len());
        for bill in bills {
            if stored.contains(&bill.bill.id) {
                outcomes.push(Ok(true));
            } else {
                outcomes.push(self.insert_bill_once_of(bill).await);
            }
        }
        outcomes
    }

    async fn insert_bill_once_of(&self, bill: &NewBill) -> Outcome {
        self.insert_bill_once(
            &bill.key,
            &bill.request_hash,
            &bill.bill,
            bill.status,
            &bill.body,
        )
        .await
    }

    /// Writes the bills whose key is unclaimed and whose reference is free,
    /// with their keys, in one commit; the ids of those stored. Fails as a
    /// whole (nothing stored) on any error.
    async fn insert_batch(&self, batch: &[&NewBill]) -> Result<HashSet<String>, InsertError> {
        match self {
            Db::Postgres(pool) => {
                // The columns as arrays, borrowed from the bills.
                let text =
                    |f: fn(&NewBill) -> &str| -> Vec<&str> { batch.iter().map(|b| f(b)).collect() };
                let int =
                    |f: fn(&NewBill) -> i64| -> Vec<i64> { batch.iter().map(|b| f(b)).collect() };
                let request_hash: Vec<&[u8]> =
                    batch.iter().map(|b| b.request_hash.as_slice()).collect();
                let status: Vec<i32> = batch.iter().map(|b| i32::from(b.status)).collect();
                let body: Vec<&[u8]> = batch.iter().map(|b| b.body.as_slice()).collect();
                let rows: Vec<(String,)> = sqlx::query_as(BATCH_SQL)
                    .bind(text(|b| &b.key.department))
                    .bind(text(|b| &b.key.operation))
                    .bind(text(|b| &b.key.key))
                    .bind(request_hash)
                    .bind(status)
                    .bind(body)
                    .bind(text(|b| &b.bill.id))
                    .bind(text(|b| &b.bill.department))
                    .bind(text(|b| &b.bill.mode))
                    .bind(text(|b| &b.bill.reference))
                    .bind(int(|b| b.bill.amount_cents))
                    .bind(text(|b| &b.bill.status))
                    .bind(text(|b| &b.bill.bill))
                    .bind(text(|b| &b.bill.payments))
                    .bind(int(|b| b.bill.version))
                    .bind(int(|b| b.bill.created_at))
                    .bind(int(|b| b.bill.updated_at))
                    .fetch_all(pool)
                    .await
                    .map_err(insert_error)?;
                Ok(rows.into_iter().map(|(id,)| id).collect())
            }
            Db::Sqlite(_) => {
                // One transaction: each bill goes in unless its reference
                // is taken, then claims its key, and is taken out again if
                // the key was claimed before. Statements are cheap here;
                // the commit is what costs.
                let mut tx = self.begin_write().await?;
                let mut stored = HashSet::new();
                for b in batch {
                    let inserted = on_tx!(&mut tx, conn => bind_bill!(sqlx::query(&format!(
                        "INSERT INTO bills ({BILL_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                         ON CONFLICT DO NOTHING"
                    )), b.bill)
                    .execute(conn)
                    .await
                    .map(|done| done.rows_affected() == 1))
                    .map_err(insert_error)?;
                    if !inserted {
                        continue;
                    }
                    let claimed = tx
                        .claim_key(
                            &b.key,
                            &b.request_hash,
                            b.status,
                            &b.body,
                            b.bill.created_at,
                        )
                        .await?;
                    if claimed {
                        stored.insert(b.bill.id.clone());
                    } else {
                        on_tx!(&mut tx, conn => sqlx::query("DELETE FROM bills WHERE id = $1")
                            .bind(&b.bill.id)
                            .execute(conn)
                            .await
                            .map(|_| ()))
                        .map_err(|e| InsertError::Store(store_error(e)))?;
                    }
                }
                tx.commit().await?;
                Ok(stored)
            }
        }
    }
}
