//! Payments in the gateway: bills, attempts with the configured providers,
//! provider notifications, refunds, expiry, and the webhook outbox.
//!
//! The rules (what a bill is, which transitions are legal, what the ledger
//! posts) are `payment-core`'s; this module runs them against the database.
//! Every change to a bill happens in one write transaction that locks the
//! bill first ([`crate::store::payments::Tx::lock_bill`]), so a payment's
//! success, its ledger lines and its outgoing webhook are recorded
//! together, exactly once, however many duplicate notifications arrive at
//! the same moment.

pub mod webhooks;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use payment_core::Money;
use payment_core::adapters::fps::sandbox::SandboxBank;
use payment_core::adapters::fps::transformers::Collection;
use payment_core::adapters::fps::{FpsConfig, FpsProvider};
use payment_core::adapters::pps::sandbox::PpsSandbox;
use payment_core::adapters::pps::{PpsConfig, PpsProvider};
use payment_core::adapters::{
    Notification, NotificationError, NotificationKind, PaymentProvider, ProviderError,
    RefundRequest, StartRequest,
};
use payment_core::bill::{Bill, BillError, BillRequest, Method};
use payment_core::ledger::{Kind, Side, Transaction};
use payment_core::payment::{
    AttemptEvent, AttemptState, BillPayments, BillState, Outcome, TransitionError,
};
use payment_core::routing::{BreakerConfig, Route, Router, RoutingError};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::config::{Config, FeeSettings, PaymentsConfig};
use crate::store::Db;
use crate::store::payments::{
    AttemptRow, BillRow, EventRow, InsertError, LedgerRow, RefundRow, Tx,
};

/// Why a payment operation was refused or failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayError {
    /// The bill breaks a rule.
    #[error(transparent)]
    Bill(#[from] BillError),
    /// No such bill, payment or refund (or not the caller's).
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The department already has a bill with this reference.
    #[error("a bill with this reference exists already")]
    DuplicateReference,
    /// The bill cannot take this operation in its state.
    #[error("{0}")]
    State(String),
    /// The method is not allowed on the bill, or no provider offers it.
    #[error("{0} is not available for this bill")]
    MethodUnavailable(Method),
    /// A refund beyond what is left to refund, or of nothing.
    #[error("{0}")]
    Refund(String),
    /// A provider notification that does not verify or parse.
    #[error(transparent)]
    Notification(#[from] NotificationError),
    /// Every provider failed or is unavailable.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// A provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The notification contradicts the bill (another amount, say): left
    /// for an operator.
    #[error("the notification contradicts the bill: {0}")]
    Contradiction(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(String),
}

impl From<eid_core::StoreError> for PayError {
    fn from(error: eid_core::StoreError) -> Self {
        PayError::Store(error.to_string())
    }
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> PayError {
    PayError::Store(format!("stored {what} does not read: {error}"))
}

/// A fresh id: `prefix` and `bytes` random bytes in lowercase hex.
pub fn new_id(prefix: &str, bytes: usize) -> Result<String, PayError> {
    let mut buffer = vec![0u8; bytes];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut buffer)
        .map_err(|_| PayError::Store("the random generator failed".into()))?;
    let hex: String = buffer.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{prefix}{hex}"))
}

/// Whether `id` looks like an id made by [`new_id`] with `prefix`: ids of
/// any other shape are refused before any lookup.
pub fn is_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        (16..=64).contains(&hex.len())
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn state_name(state: AttemptState) -> &'static str {
    match state {
        AttemptState::Created => "created",
        AttemptState::Pending => "pending",
        AttemptState::Succeeded => "succeeded",
        AttemptState::Failed => "failed",
        AttemptState::Expired => "expired",
        AttemptState::Cancelled => "cancelled",
    }
}

fn bill_status(state: BillState) -> &'static str {
    match state {
        BillState::Open => "open",
        BillState::Paid { .. } => "paid",
        BillState::Cancelled => "cancelled",
        BillState::Expired => "expired",
    }
}

fn cents(money: Money) -> i64 {
    i64::try_from(money.cents()).unwrap_or(i64::MAX)
}

fn money(cents: i64) -> Money {
    u64::try_from(cents)
        .ok()
        .and_then(|c| Money::from_cents(c).ok())
        .unwrap_or(Money::ZERO)
}

fn rfc3339(unix: i64) -> Value {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

/// A bill read from its row.
#[derive(Debug, Clone)]
pub struct StoredBill {
    /// The row.
    pub row: BillRow,
    /// The department's bill.
    pub bill: Bill,
    /// Its payment state.
    pub payments: BillPayments,
}

impl StoredBill {
    /// Reads a row.
    pub fn read(row: BillRow) -> Result<Self, PayError> {
        let bill = serde_json::from_str(&row.bill).map_err(|e| corrupt("bill", e))?;
        let payments = serde_json::from_str(&row.payments).map_err(|e| corrupt("payments", e))?;
        Ok(Self {
            row,
            bill,
            payments,
        })
    }
}

/// The choices of [`Payments::start`].
#[derive(Debug, Clone, Default)]
pub struct StartOptions<'a> {
    /// The acquirer's token for the citizen's card or wallet.
    pub payment_method: Option<String>,
    /// The signed-in citizen, whose payment history the attempt joins.
    pub citizen: Option<&'a str>,
    /// The pay pages' language (`en`, `zh-HK`), for the provider's way back.
    pub lang: Option<&'static str>,
    /// E-wallet payments: which wallet.
    pub wallet: Option<payment_core::adapters::Wallet>,
}

/// What a notification did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// It changed the payment (and, for a success, posted the ledger and
    /// queued the webhook).
    Applied,
    /// Money taken that the bill did not need: recorded, flagged for refund.
    NeedsRefund,
    /// Seen before, or nothing new: nothing changed.
    Duplicate,
    /// Nothing the gateway acts on.
    Ignored,
}

/// The gateway's payment providers and the rules around them.
#[derive(Debug)]
pub struct Payments {
    providers: Vec<Arc<dyn PaymentProvider>>,
    fees: HashMap<String, FeeSettings>,
    router: Router,
    fps_bank: Option<Arc<SandboxBank>>,
    pps_sandbox: Option<Arc<PpsSandbox>>,
    settings: PaymentsConfig,
    base_url: String,
    /// Providers that are one acquirer account (card and e-wallet on one
    /// Stripe account): its webhooks, sent to either's callback, may settle
    /// the other's payments.
    accounts: HashMap<String, String>,
}

/// A problem in the `[payments]` settings.
#[derive(Debug, thiserror::Error)]
#[error("payments.{key}: {reason}")]
pub struct SettingsError {
    /// The setting.
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn base64_bytes(
    key: &'static str,
    text: &str,
    len: Option<usize>,
) -> Result<Vec<u8>, SettingsError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| SettingsError {
            key,
            reason: format!("not base64: {e}"),
        })?;
    match len {
        Some(n) if bytes.len() != n => Err(SettingsError {
            key,
            reason: format!("must be {n} bytes, is {}", bytes.len()),
        }),
        None if bytes.len() < 32 => Err(SettingsError {
            key,
            reason: "must be at least 32 bytes".into(),
        }),
        _ => Ok(bytes),
    }
}

impl Payments {
    /// Builds the providers configured in `config`.
    pub fn from_config(config: &Config) -> Result<Self, SettingsError> {
        let settings = config.payments.clone();
        let base_url = config.public_url();
        let mut providers: Vec<Arc<dyn PaymentProvider>> = Vec::new();
        let mut fees = HashMap::new();
        let mut routes: BTreeMap<Method, Vec<Route>> = BTreeMap::new();
        let mut fps_bank = None;
        let mut pps_sandbox = None;
        let mut accounts = HashMap::new();
        if let Some(fps) = &settings.fps {
            let mut keys = fps
                .bank_public_keys
                .iter()
                .map(|k| base64_bytes("fps.bank_public_keys", k, Some(32)))
                .collect::<Result<Vec<_>, _>>()?;
            let bank = match &fps.sandbox_seed {
                Some(seed) => {
                    let seed = base64_bytes("fps.sandbox_seed", seed.expose(), Some(32))?;
                    let mut array = [0u8; 32];
                    array.copy_from_slice(&seed);
                    let bank = SandboxBank::from_seed(&array).ok_or(SettingsError {
                        key: "fps.sandbox_seed",
                        reason: "not an Ed25519 seed".into(),
                    })?;
                    keys.push(bank.public_key());
                    Arc::new(bank)
                }
                None => {
                    return Err(SettingsError {
                        key: "fps",
                        reason: "only the sandbox bank is built in: set sandbox_seed".into(),
                    });
                }
            };
            let provider = FpsProvider::new(
                FpsConfig {
                    provider_id: fps.provider_id.clone(),
                    collection: Collection {
                        clearing_code: fps.clearing_code.clone(),
                        proxy: fps.proxy.clone(),
                        merchant_name: fps.merchant_name.clone(),
                        merchant_city: fps.merchant_city.clone(),
                        merchant_category: fps.merchant_category.clone(),
                    },
                    bank_public_keys: keys,
                    tolerance_secs: fps.tolerance_secs,
                },
                bank.clone(),
            );
            fps_bank = Some(bank);
            fees.insert(fps.provider_id.clone(), fps.fee.clone());
            routes
                .entry(Method::Fps)
                .or_default()
                .push(Route::to(&fps.provider_id));
            providers.push(Arc::new(provider));
        }
        if let Some(pps) = &settings.pps {
            let key = base64_bytes("pps.key", pps.key.expose(), None)?;
            let pay_url = match (&pps.pay_url, pps.sandbox) {
                (Some(url), _) => url.clone(),
                (None, true) => format!("{base_url}/sandbox/pps"),
                (None, false) => {
                    return Err(SettingsError {
                        key: "pps.pay_url",
                        reason: "required unless sandbox = true".into(),
                    });
                }
            };
            if pps.sandbox {
                pps_sandbox = Some(Arc::new(PpsSandbox::new(
                    &pps.merchant_code,
                    &key,
                    Vec::new(),
                )));
            }
            providers.push(Arc::new(PpsProvider::new(PpsConfig {
                provider_id: pps.provider_id.clone(),
                pay_url,
                merchant_code: pps.merchant_code.clone(),
                key,
                tolerance_secs: pps.tolerance_secs,
            })));
            fees.insert(pps.provider_id.clone(), pps.fee.clone());
            routes
                .entry(Method::Pps)
                .or_default()
                .push(Route::to(&pps.provider_id));
        }
        for (method, stripe) in [
            (Method::Card, &settings.card),
            (Method::Ewallet, &settings.ewallet),
        ] {
            let Some(stripe) = stripe else { continue };
            let client = payment_core::adapters::card::StripeClient::new(
                payment_core::adapters::card::StripeConfig {
                    provider_id: stripe.provider_id.clone(),
                    api_base: stripe.api_base.trim_end_matches('/').to_owned(),
                    secret_key: stripe.secret_key.expose().clone(),
                    webhook_secrets: stripe
                        .webhook_secrets
                        .iter()
                        .map(|s| s.expose().clone())
                        .collect(),
                    timeout: std::time::Duration::from_secs(stripe.timeout_secs),
                    tolerance_secs: 300,
                },
            )
            .map_err(|e| SettingsError {
                key: "card",
                reason: e.to_string(),
            })?;
            let provider: Arc<dyn PaymentProvider> = match method {
                Method::Card => Arc::new(payment_core::adapters::card::CardProvider::new(client)),
                _ => Arc::new(payment_core::adapters::ewallet::EwalletProvider::new(
                    client,
                )),
            };
            fees.insert(stripe.provider_id.clone(), stripe.fee.clone());
            accounts.insert(
                stripe.provider_id.clone(),
                // A digest: the key itself must not sit in a Debug-able map.
                eid_core::oidc::grant::handle_hash(&format!(
                    "stripe:{}:{}",
                    stripe.api_base,
                    stripe.secret_key.expose()
                )),
            );
            routes
                .entry(method)
                .or_default()
                .push(Route::to(&stripe.provider_id));
            providers.push(provider);
        }
        let mut ids: Vec<&str> = providers.iter().map(|p| p.id()).collect();
        ids.sort_unstable();
        if ids.windows(2).any(|w| w[0] == w[1]) {
            return Err(SettingsError {
                key: "provider_id",
                reason: "two providers share an id".into(),
            });
        }
        Ok(Self {
            providers,
            fees,
            router: Router::new(routes, BreakerConfig::default()),
            fps_bank,
            pps_sandbox,
            settings,
            base_url,
            accounts,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &PaymentsConfig {
        &self.settings
    }

    /// The built-in sandbox bank, when configured.
    pub fn fps_bank(&self) -> Option<&Arc<SandboxBank>> {
        self.fps_bank.as_ref()
    }

    /// The built-in PPS sandbox, when configured.
    pub fn pps_sandbox(&self) -> Option<&Arc<PpsSandbox>> {
        self.pps_sandbox.as_ref()
    }

    /// A provider by id.
    pub fn provider(&self, id: &str) -> Option<&dyn PaymentProvider> {
        self.providers
            .iter()
            .find(|p| p.id() == id)
            .map(|p| p.as_ref())
    }

    /// Whether some provider takes `method`.
    pub fn offers(&self, method: Method) -> bool {
        self.providers.iter().any(|p| p.method() == method)
    }

    /// The citizen's pay page of a bill.
    pub fn pay_url(&self, bill_id: &str) -> String {
        format!("{}/pay/{bill_id}", self.base_url)
    }

    /// Checks a department's new bill and makes its row (not stored).
    pub fn new_bill(
        &self,
        department: &str,
        mode: &str,
        request: BillRequest,
        now: OffsetDateTime,
    ) -> Result<StoredBill, PayError> {
        let bill = Bill::new(department, request, now)?;
        if let Some(method) = bill.methods.iter().find(|m| !self.offers(**m)) {
            return Err(PayError::MethodUnavailable(*method));
        }
        let payments = BillPayments::new(bill.amount);
        let unix = now.unix_timestamp();
        let row = BillRow {
            id: new_id("bill_", 16)?,
            department: department.to_owned(),
            mode: mode.to_owned(),
            reference: bill.reference.clone(),
            amount_cents: cents(bill.amount),
            status: "open".into(),
            bill: serde_json::to_string(&bill).map_err(|e| corrupt("bill", e))?,
            payments: serde_json::to_string(&payments).map_err(|e| corrupt("payments", e))?,
            version: 0,
            created_at: unix,
            updated_at: unix,
        };
        Ok(StoredBill {
            row,
            bill,
            payments,
        })
    }

    /// Checks and stores a department's new bill.
    pub async fn create_bill(
        &self,
        db: &Db,
        department: &str,
        mode: &str,
        request: BillRequest,
        now: OffsetDateTime,
    ) -> Result<StoredBill, PayError> {
        let stored = self.new_bill(department, mode, request, now)?;
        match db.insert_bill(&stored.row).await {
            Ok(()) => Ok(stored),
            Err(InsertError::Conflict) => Err(PayError::DuplicateReference),
            Err(InsertError::Store(e)) => Err(e.into()),
        }
    }

    /// A bill by id; with `department`, only that department's.
    pub async fn bill(
        &self,
        db: &Db,
        id: &str,
        department: Option<&str>,
    ) -> Result<StoredBill, PayError> {
        if !is_id(id, "bill_") {
            return Err(PayError::NotFound("bill"));
        }
        let row = db
            .bill(id)
            .await?
            .filter(|row| department.is_none_or(|d| d == row.department))
            .ok_or(PayError::NotFound("bill"))?;
        StoredBill::read(row)
    }

    /// Cancels an unpaid bill (a cancelled one stays cancelled).
    pub async fn cancel_bill(
        &self,
        db: &Db,
        department: &str,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<StoredBill, PayError> {
        self.bill(db, id, Some(department)).await?;
        self.close_bill(db, id, now, false).await
    }

    /// Expires an open bill whose due date has passed; `Ok` unchanged
    /// otherwise.
    pub async fn expire_if_overdue(
        &self,
        db: &Db,
        stored: StoredBill,
        now: OffsetDateTime,
    ) -> Result<StoredBill, PayError> {
        if stored.payments.state == BillState::Open && stored.bill.is_overdue(now) {
            return self.close_bill(db, &stored.row.id, now, true).await;
        }
        Ok(stored)
    }

    async fn close_bill(
        &self,
        db: &Db,
        id: &str,
        now: OffsetDateTime,
        expire: bool,
    ) -> Result<StoredBill, PayError> {
        let mut tx = db.begin_write().await?;
        let row = tx.lock_bill(id).await?.ok_or(PayError::NotFound("bill"))?;
        let mut stored = StoredBill::read(row)?;
        let before = stored.payments.state;
        let result = if expire {
            stored.payments.expire()
        } else {
            stored.payments.cancel()
        };
        result.map_err(|_| {
            PayError::State(format!(
                "the bill is {} and cannot be {}",
                bill_status(before),
                if expire { "expired" } else { "cancelled" }
            ))
        })?;
        if before != stored.payments.state {
            let event = if expire {
                "bill.expired"
            } else {
                "bill.cancelled"
            };
            self.save(&mut tx, &mut stored, now).await?;
            let body = json!({ "bill": self.bill_view(&stored, &[]) });
            enqueue(&mut tx, &stored.row.department, event, body, now).await?;
        }
        tx.commit().await?;
        Ok(stored)
    }

    /// Writes a locked bill's payment state and its attempts' states.
    async fn save(
        &self,
        tx: &mut Tx,
        stored: &mut StoredBill,
        now: OffsetDateTime,
    ) -> Result<(), PayError> {
        let unix = now.unix_timestamp();
        stored.row.status = bill_status(stored.payments.state).to_owned();
        stored.row.payments =
            serde_json::to_string(&stored.payments).map_err(|e| corrupt("payments", e))?;
        stored.row.updated_at = unix;
        tx.save_bill(
            &stored.row.id,
            &stored.row.status,
            &stored.row.payments,
            unix,
        )
        .await?;
        for (idx, attempt) in stored.payments.attempts.iter().enumerate() {
            tx.set_attempt_state(&stored.row.id, idx as i64, state_name(attempt.state), unix)
                .await?;
        }
        Ok(())
    }

    /// Starts paying `bill_id` by `method` (an open attempt of the same
    /// method that has not expired is reused).
    pub async fn start(
        &self,
        db: &Db,
        bill_id: &str,
        method: Method,
        options: StartOptions<'_>,
        now: OffsetDateTime,
    ) -> Result<AttemptRow, PayError> {
        let StartOptions {
            payment_method,
            citizen,
            lang,
            wallet,
        } = options;
        let stored = self.bill(db, bill_id, None).await?;
        let stored = self.expire_if_overdue(db, stored, now).await?;
        if stored.payments.state != BillState::Open {
            return Err(PayError::State(format!(
                "the bill is {}",
                bill_status(stored.payments.state)
            )));
        }
        if !stored.bill.allows(method) || !self.offers(method) {
            return Err(PayError::MethodUnavailable(method));
        }
        let unix = now.unix_timestamp();
        if payment_method.is_none()
            && let Some(open) = db.attempts_of(bill_id).await?.into_iter().rev().find(|a| {
                a.method == method.as_str() && a.state == "pending" && a.expires_at > unix + 60
            })
        {
            return Ok(open);
        }
        let attempt_id = new_id("pay_", 12)?;
        let lifetime = time::Duration::seconds(
            i64::try_from(self.settings.attempt_lifetime_secs).unwrap_or(900),
        );
        let request = StartRequest {
            attempt_id: attempt_id.clone(),
            department: stored.bill.department.clone(),
            bill_reference: stored.bill.reference.clone(),
            amount: stored.bill.amount,
            description: stored.bill.description.clone(),
            return_url: match lang {
                Some(lang) => format!("{}/pay/return/{attempt_id}?lang={lang}", self.base_url),
                None => format!("{}/pay/return/{attempt_id}", self.base_url),
            },
            requested_at: now,
            expires_at: now + lifetime,
            payment_method,
            wallet,
        };
        // 1. The attempt is recorded before any provider is asked, so that
        //    whatever the provider does (take the money, time out) has a
        //    row its notification finds or the operator sees.
        let first_choice = self
            .router
            .eligible(method, stored.bill.amount, &stored.bill.department)
            .first()
            .map(|p| (*p).to_owned())
            .ok_or(PayError::MethodUnavailable(method))?;
        let mut tx = db.begin_write().await?;
        let row = tx
            .lock_bill(bill_id)
            .await?
            .ok_or(PayError::NotFound("bill"))?;
        let mut stored = StoredBill::read(row)?;
        let idx = stored
            .payments
            .new_attempt(&first_choice)
            .map_err(|_| PayError::State("the bill is no longer open".into()))?;
        let mut attempt = AttemptRow {
            id: attempt_id,
            bill_id: bill_id.to_owned(),
            department: stored.row.department.clone(),
            idx: idx as i64,
            method: method.as_str().to_owned(),
            provider: first_choice,
            provider_reference: None,
            state: state_name(AttemptState::Created).to_owned(),
            next_step: None,
            late: 0,
            created_at: unix,
            expires_at: request.expires_at.unix_timestamp(),
            updated_at: unix,
            citizen_id: citizen.map(str::to_owned),
        };
        tx.insert_attempt(&attempt).await?;
        self.save(&mut tx, &mut stored, now).await?;
        tx.commit().await?;

        // 2. The provider (failing over while no money can have moved).
        let providers: Vec<&dyn PaymentProvider> =
            self.providers.iter().map(|p| p.as_ref()).collect();
        let result = self.router.start(method, &request, &providers, now).await;

        // 3. What it said.
        let mut tx = db.begin_write().await?;
        let row = tx
            .lock_bill(bill_id)
            .await?
            .ok_or(PayError::NotFound("bill"))?;
        let mut stored = StoredBill::read(row)?;
        let outcome = match result {
            Ok((provider, started)) => {
                let next =
                    serde_json::to_string(&started.next).map_err(|e| corrupt("next step", e))?;
                let entry = &mut stored.payments.attempts[idx];
                entry.provider = provider.clone();
                // Even if the bill was paid or cancelled in the meantime
                // (then `Started` is refused), the reference is kept: the
                // provider's notification must find this attempt, and money
                // it took is then recorded and flagged for refund.
                entry.provider_reference = Some(started.provider_reference.clone());
                let applied = stored.payments.apply(
                    idx,
                    AttemptEvent::Started {
                        provider_reference: started.provider_reference.clone(),
                    },
                );
                tx.set_attempt_provider(&attempt.id, &provider).await?;
                tx.update_attempt(
                    &attempt.id,
                    state_name(stored.payments.attempts[idx].state),
                    Some(&started.provider_reference),
                    Some(&next),
                    false,
                    unix,
                )
                .await?;
                attempt.provider = provider;
                attempt.provider_reference = Some(started.provider_reference);
                attempt.next_step = Some(next);
                applied
                    .map(|_| ())
                    .map_err(|_| PayError::State("the bill is no longer open".into()))
            }
            Err(error) => {
                let moved = matches!(&error, RoutingError::Provider(e) if e.may_have_moved_money());
                if moved {
                    // The outcome is unknown: the attempt stays `created`
                    // for the provider's notification, or expires.
                    tracing::warn!(payment = %attempt.id, %error, "the provider's answer to a start is unknown");
                } else {
                    let _ = stored.payments.apply(
                        idx,
                        AttemptEvent::ProviderFailed {
                            notification_id: format!("start:{}", attempt.id),
                            raw_status: error.to_string().chars().take(200).collect(),
                        },
                    );
                }
                Err(PayError::Routing(error))
            }
        };
        self.save(&mut tx, &mut stored, now).await?;
        tx.commit().await?;
        attempt.state = state_name(stored.payments.attempts[idx].state).to_owned();
        outcome.map(|()| attempt)
    }

    /// Verifies and records a notification from provider `provider_id`.
    pub async fn notify(
        &self,
        db: &Db,
        provider_id: &str,
        headers: &[(String, String)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(Recorded, Option<AttemptRow>), PayError> {
        let provider = self
            .provider(provider_id)
            .ok_or(PayError::NotFound("provider"))?;
        // Nothing of the body is read before its signature verifies.
        let notification = provider.notification(headers, body, now)?;
        self.record(db, provider_id, &notification, now).await
    }

    /// Records a verified notification.
    pub async fn record(
        &self,
        db: &Db,
        provider_id: &str,
        notification: &Notification,
        now: OffsetDateTime,
    ) -> Result<(Recorded, Option<AttemptRow>), PayError> {
        let Some(event) = notification.event() else {
            return Ok((Recorded::Ignored, None));
        };
        if matches!(notification.kind, NotificationKind::Refunded { .. }) {
            // Refunds are recorded when the gateway makes them.
            return Ok((Recorded::Ignored, None));
        }
        let attempt = match db
            .attempt_by_reference(provider_id, &notification.provider_reference)
            .await?
        {
            Some(attempt) => attempt,
            None => match self
                .attempt_of_same_account(db, provider_id, notification)
                .await
            {
                Ok(attempt) => attempt,
                Err(PayError::NotFound(_)) => {
                    self.attempt_without_reference(db, provider_id, notification)
                        .await?
                }
                Err(e) => return Err(e),
            },
        };
        // What the notification settles is the attempt's provider's.
        let provider_id = attempt.provider.clone();
        let provider_id = provider_id.as_str();
        let outcome = match &notification.kind {
            NotificationKind::Succeeded { .. } => "succeeded",
            _ => "failed",
        };
        let unix = now.unix_timestamp();
        let mut tx = db.begin_write().await?;
        if !tx
            .claim_notification(provider_id, &notification.id, &attempt.id, outcome, unix)
            .await?
        {
            return Ok((Recorded::Duplicate, Some(attempt)));
        }
        let row = tx
            .lock_bill(&attempt.bill_id)
            .await?
            .ok_or(PayError::NotFound("bill"))?;
        let mut stored = StoredBill::read(row)?;
        let idx = usize::try_from(attempt.idx).map_err(|e| corrupt("attempt index", e))?;
        if attempt.provider_reference.is_none() {
            // Found by its echoed id: the start's answer never came, so the
            // reference is learnt now.
            if let Some(entry) = stored.payments.attempts.get_mut(idx) {
                entry.provider_reference = Some(notification.provider_reference.clone());
            }
            let _ = stored.payments.apply(
                idx,
                AttemptEvent::Started {
                    provider_reference: notification.provider_reference.clone(),
                },
            );
            tx.update_attempt(
                &attempt.id,
                &attempt.state,
                Some(&notification.provider_reference),
                None,
                false,
                unix,
            )
            .await?;
        }
        let before = stored
            .payments
            .attempts
            .get(idx)
            .map(|a| a.state)
            .ok_or_else(|| corrupt("attempt", "missing from its bill"))?;
        let outcome = match stored.payments.apply(idx, event) {
            Ok(outcome) => outcome,
            Err(TransitionError::AmountMismatch { expected, reported }) => {
                tracing::error!(payment = %attempt.id, %expected, %reported, "a provider reported another amount than the bill's: left for an operator");
                return Err(PayError::Contradiction(format!(
                    "the provider reported {reported}, the bill is {expected}"
                )));
            }
            Err(e) => {
                // Not applicable in this state (a failure after a success):
                // keep the notification as seen and change nothing else.
                tracing::warn!(payment = %attempt.id, error = %e, "notification not applicable");
                tx.commit().await?;
                return Ok((Recorded::Duplicate, Some(attempt)));
            }
        };
        if outcome == Outcome::Duplicate {
            tx.commit().await?;
            return Ok((Recorded::Duplicate, Some(attempt)));
        }
        let late = before == AttemptState::Expired;
        let after = stored.payments.attempts[idx].clone();
        self.save(&mut tx, &mut stored, now).await?;
        tx.update_attempt(&attempt.id, state_name(after.state), None, None, late, unix)
            .await?;
        let mut attempt = attempt;
        attempt.state = state_name(after.state).to_owned();
        attempt.late |= i64::from(late);
        let event_type = if after.state == AttemptState::Succeeded {
            let needs_refund = outcome == Outcome::NeedsRefund;
            let transaction = Transaction::payment(
                &stored.row.department,
                provider_id,
                &notification.provider_reference,
                after.paid,
                needs_refund,
            )
            .map_err(|e| PayError::Store(e.to_string()))?;
            self.post(&mut tx, &transaction, &stored, &attempt, now)
                .await?;
            if let Some(fee) = self.fee(provider_id, after.paid)
                && !needs_refund
            {
                let transaction = Transaction::fee(
                    &stored.row.department,
                    provider_id,
                    &notification.provider_reference,
                    fee,
                )
                .map_err(|e| PayError::Store(e.to_string()))?;
                self.post(&mut tx, &transaction, &stored, &attempt, now)
                    .await?;
            }
            "payment.succeeded"
        } else {
            "payment.failed"
        };
        let body = json!({
            "bill": self.bill_view(&stored, std::slice::from_ref(&attempt)),
            "payment": self.payment_view(&stored, &attempt),
        });
        enqueue(&mut tx, &stored.row.department, event_type, body, now).await?;
        tx.commit().await?;
        Ok((
            if outcome == Outcome::NeedsRefund {
                Recorded::NeedsRefund
            } else {
                Recorded::Applied
            },
            Some(attempt),
        ))
    }

    /// The attempt another provider of the same acquirer account knows by
    /// the notification's reference.
    async fn attempt_of_same_account(
        &self,
        db: &Db,
        provider_id: &str,
        notification: &Notification,
    ) -> Result<AttemptRow, PayError> {
        let Some(account) = self.accounts.get(provider_id) else {
            return Err(PayError::NotFound("payment"));
        };
        for (other, other_account) in &self.accounts {
            if other != provider_id
                && other_account == account
                && let Some(attempt) = db
                    .attempt_by_reference(other, &notification.provider_reference)
                    .await?
            {
                return Ok(attempt);
            }
        }
        Err(PayError::NotFound("payment"))
    }

    /// The attempt a notification names by our attempt id (echoed by the
    /// provider) when its start had no answer: no reference yet, and of
    /// this provider or one of its account.
    async fn attempt_without_reference(
        &self,
        db: &Db,
        provider_id: &str,
        notification: &Notification,
    ) -> Result<AttemptRow, PayError> {
        let same_account = |other: &str| {
            other == provider_id
                || self
                    .accounts
                    .get(provider_id)
                    .is_some_and(|a| self.accounts.get(other) == Some(a))
        };
        let Some(hint) = notification
            .attempt_id
            .as_deref()
            .filter(|h| is_id(h, "pay_"))
        else {
            return Err(PayError::NotFound("payment"));
        };
        match db.attempt(hint).await? {
            Some(attempt)
                if attempt.provider_reference.is_none() && same_account(&attempt.provider) =>
            {
                Ok(attempt)
            }
            _ => Err(PayError::NotFound("payment")),
        }
    }

    fn fee(&self, provider: &str, amount: Money) -> Option<Money> {
        let fee = self.fees.get(provider)?;
        let share = amount.cents().saturating_mul(u64::from(fee.basis_points)) / 10_000;
        let total = fee.fixed_cents.saturating_add(share).min(amount.cents());
        (total > 0).then(|| Money::from_cents(total).ok()).flatten()
    }

    async fn post(
        &self,
        tx: &mut Tx,
        transaction: &Transaction,
        stored: &StoredBill,
        attempt: &AttemptRow,
        now: OffsetDateTime,
    ) -> Result<(), PayError> {
        let kind = match transaction.kind {
            Kind::Payment => "payment",
            Kind::Refund => "refund",
            Kind::Fee => "fee",
        };
        let date = payment_core::hong_kong_date(now).to_string();
        let lines: Vec<LedgerRow> = transaction
            .lines()
            .iter()
            .enumerate()
            .map(|(i, line)| LedgerRow {
                transaction_id: transaction.id.clone(),
                line: i as i64,
                kind: kind.to_owned(),
                department: stored.row.department.clone(),
                bill_id: stored.row.id.clone(),
                payment_id: attempt.id.clone(),
                provider: transaction.provider.clone(),
                method: attempt.method.clone(),
                account: line.account.to_string(),
                side: match line.side {
                    Side::Debit => "debit",
                    Side::Credit => "credit",
                }
                .to_owned(),
                amount_cents: cents(line.amount),
                posted_at: now.unix_timestamp(),
                posted_date: date.clone(),
            })
            .collect();
        if !tx.post_ledger(&lines).await? {
            // The state machine lets each success and refund through once;
            // a second posting would be a bug, so the whole change stops.
            return Err(PayError::Store(format!(
                "ledger transaction {} was posted before",
                transaction.id
            )));
        }
        Ok(())
    }

    /// Expires attempts whose time ran out (a batch); returns how many.
    pub async fn expire_overdue(&self, db: &Db, now: OffsetDateTime) -> Result<usize, PayError> {
        let overdue = db.overdue_attempts(now.unix_timestamp(), 100).await?;
        let mut expired = 0;
        for attempt in overdue {
            let mut tx = db.begin_write().await?;
            let Some(row) = tx.lock_bill(&attempt.bill_id).await? else {
                continue;
            };
            let mut stored = StoredBill::read(row)?;
            let idx = usize::try_from(attempt.idx).map_err(|e| corrupt("attempt index", e))?;
            if stored.payments.apply(idx, AttemptEvent::Expired).is_ok() {
                self.save(&mut tx, &mut stored, now).await?;
                tx.commit().await?;
                expired += 1;
            } else {
                // Settled in between; make the row agree with the bill.
                self.save(&mut tx, &mut stored, now).await?;
                tx.commit().await?;
            }
        }
        Ok(expired)
    }

    /// A payment (attempt) by id, only `department`'s.
    pub async fn payment(
        &self,
        db: &Db,
        department: &str,
        id: &str,
    ) -> Result<(StoredBill, AttemptRow), PayError> {
        if !is_id(id, "pay_") {
            return Err(PayError::NotFound("payment"));
        }
        let attempt = db
            .attempt(id)
            .await?
            .filter(|a| a.department == department)
            .ok_or(PayError::NotFound("payment"))?;
        let stored = self.bill(db, &attempt.bill_id, Some(department)).await?;
        Ok((stored, attempt))
    }

    /// Refunds `amount` (all that is left when `None`) of a payment.
    /// `refund_id` is made by the caller (idempotent retries reuse it).
    #[allow(clippy::too_many_arguments)]
    pub async fn refund(
        &self,
        db: &Db,
        department: &str,
        payment_id: &str,
        amount: Option<Money>,
        reason: Option<String>,
        now: OffsetDateTime,
    ) -> Result<RefundRow, PayError> {
        let (_, attempt) = self.payment(db, department, payment_id).await?;
        let provider = self.provider(&attempt.provider).ok_or_else(|| {
            PayError::Refund("the payment's provider is no longer configured".into())
        })?;
        let unix = now.unix_timestamp();
        let refund_id = new_id("re_", 12)?;
        // 1. Reserve the amount.
        let mut tx = db.begin_write().await?;
        let row = tx
            .lock_bill(&attempt.bill_id)
            .await?
            .ok_or(PayError::NotFound("bill"))?;
        let stored = StoredBill::read(row)?;
        let idx = usize::try_from(attempt.idx).map_err(|e| corrupt("attempt index", e))?;
        let paid = &stored.payments.attempts[idx];
        if paid.state != AttemptState::Succeeded {
            return Err(PayError::State(
                "only a succeeded payment can be refunded".into(),
            ));
        }
        let pending: i64 = tx
            .refunds_of(payment_id)
            .await?
            .iter()
            .filter(|r| r.status == "pending")
            .map(|r| r.amount_cents)
            .sum();
        let left = cents(paid.paid) - cents(paid.refunded) - pending;
        let amount = match amount {
            Some(a) => cents(a),
            None => left,
        };
        if amount <= 0 {
            return Err(PayError::Refund("nothing is left to refund".into()));
        }
        if amount > left {
            return Err(PayError::Refund(format!(
                "at most {} is left to refund",
                money(left.max(0))
            )));
        }
        let refund = RefundRow {
            id: refund_id.clone(),
            payment_id: payment_id.to_owned(),
            department: department.to_owned(),
            amount_cents: amount,
            status: "pending".into(),
            reason,
            provider_refund_id: None,
            failure: None,
            created_at: unix,
            updated_at: unix,
        };
        tx.insert_refund(&refund).await?;
        tx.commit().await?;
        // 2. Ask the provider (outside any transaction).
        let request = RefundRequest {
            refund_id: refund_id.clone(),
            provider_reference: attempt.provider_reference.clone().unwrap_or_default(),
            amount: money(amount),
        };
        let result = provider.refund(&request).await;
        // 3. Record the answer.
        self.record_refund(db, &attempt, refund, result, now).await
    }

    /// Records a provider's answer to a refund (once: a refund no longer
    /// pending is left as it is).
    async fn record_refund(
        &self,
        db: &Db,
        attempt: &AttemptRow,
        mut refund: RefundRow,
        result: Result<payment_core::adapters::RefundOutcome, ProviderError>,
        now: OffsetDateTime,
    ) -> Result<RefundRow, PayError> {
        let unix = now.unix_timestamp();
        let idx = usize::try_from(attempt.idx).map_err(|e| corrupt("attempt index", e))?;
        let amount = refund.amount_cents;
        let refund_id = refund.id.clone();
        let department = attempt.department.clone();
        let mut tx = db.begin_write().await?;
        let row = tx
            .lock_bill(&attempt.bill_id)
            .await?
            .ok_or(PayError::NotFound("bill"))?;
        let mut stored = StoredBill::read(row)?;
        let current = tx
            .refunds_of(&attempt.id)
            .await?
            .into_iter()
            .find(|r| r.id == refund_id)
            .ok_or(PayError::NotFound("refund"))?;
        if current.status != "pending" {
            // Settled by another process in the meantime.
            return Ok(current);
        }
        let event_type = match result {
            Ok(outcome) if outcome.succeeded => {
                let from_suspense = stored
                    .payments
                    .attempts
                    .get(idx)
                    .is_some_and(|a| a.flagged_for_refund);
                stored
                    .payments
                    .apply(
                        idx,
                        AttemptEvent::Refunded {
                            refund_id: refund_id.clone(),
                            amount: money(amount),
                        },
                    )
                    .map_err(|e| PayError::Refund(e.to_string()))?;
                self.save(&mut tx, &mut stored, now).await?;
                let transaction = Transaction::refund(
                    &department,
                    &attempt.provider,
                    &refund_id,
                    money(amount),
                    from_suspense,
                )
                .map_err(|e| PayError::Store(e.to_string()))?;
                self.post(&mut tx, &transaction, &stored, attempt, now)
                    .await?;
                refund.status = "succeeded".into();
                refund.failure = None;
                refund.provider_refund_id = Some(outcome.provider_refund_id);
                Some("refund.succeeded")
            }
            Ok(outcome) => {
                refund.provider_refund_id = Some(outcome.provider_refund_id);
                None
            }
            Err(error) if error.may_have_moved_money() => {
                tracing::warn!(refund = %refund_id, error = %error, "refund outcome unknown; left pending, asked again later");
                refund.failure = Some(error.to_string());
                None
            }
            Err(error) => {
                refund.status = "failed".into();
                refund.failure = Some(error.to_string());
                Some("refund.failed")
            }
        };
        refund.updated_at = unix;
        tx.finish_refund(
            &refund.id,
            &refund.status,
            refund.provider_refund_id.as_deref(),
            refund.failure.as_deref(),
            unix,
        )
        .await?;
        if let Some(event_type) = event_type {
            let body = json!({
                "refund": refund_view(&refund),
                "payment": self.payment_view(&stored, attempt),
            });
            enqueue(&mut tx, &department, event_type, body, now).await?;
        }
        tx.commit().await?;
        Ok(refund)
    }

    /// Asks the providers again about refunds left pending (no answer, or
    /// not final) for a minute or more; the refund id is the provider's
    /// idempotency key, so asking again never refunds twice. Returns how
    /// many were settled.
    pub async fn settle_pending_refunds(
        &self,
        db: &Db,
        now: OffsetDateTime,
    ) -> Result<usize, PayError> {
        let cutoff = now.unix_timestamp() - 60;
        let mut settled = 0;
        for refund in db.pending_refunds(cutoff, 20).await? {
            let Some(attempt) = db.attempt(&refund.payment_id).await? else {
                continue;
            };
            let Some(provider) = self.provider(&attempt.provider) else {
                continue;
            };
            let request = RefundRequest {
                refund_id: refund.id.clone(),
                provider_reference: attempt.provider_reference.clone().unwrap_or_default(),
                amount: money(refund.amount_cents),
            };
            let result = provider.refund(&request).await;
            let after = self
                .record_refund(db, &attempt, refund, result, now)
                .await?;
            if after.status != "pending" {
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// A bill as the API shows it, with `attempts` (the bill's payments).
    pub fn bill_view(&self, stored: &StoredBill, attempts: &[AttemptRow]) -> Value {
        let bill = &stored.bill;
        json!({
            "object": "bill",
            "id": stored.row.id,
            "reference": bill.reference,
            "amount": bill.amount,
            "currency": "HKD",
            "description": { "en": bill.description.en, "zh": bill.description.zh },
            "due_date": bill.due_date.to_string(),
            "methods": bill.methods.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            "return_url": bill.return_url,
            "metadata": bill.metadata,
            "status": stored.row.status,
            "mode": stored.row.mode,
            "amount_paid": stored.payments.collected(),
            "pay_url": self.pay_url(&stored.row.id),
            "created_at": rfc3339(stored.row.created_at),
            "payments": attempts.iter().map(|a| self.payment_view(stored, a)).collect::<Vec<_>>(),
        })
    }

    /// A payment as the API shows it.
    pub fn payment_view(&self, stored: &StoredBill, attempt: &AttemptRow) -> Value {
        let state = usize::try_from(attempt.idx)
            .ok()
            .and_then(|i| stored.payments.attempts.get(i));
        json!({
            "object": "payment",
            "id": attempt.id,
            "bill_id": attempt.bill_id,
            "bill_reference": stored.bill.reference,
            "method": attempt.method,
            "provider": attempt.provider,
            "status": state.map_or(attempt.state.as_str(), |s| state_name(s.state)),
            "amount": stored.bill.amount,
            "amount_paid": state.map(|s| s.paid),
            "amount_refunded": state.map(|s| s.refunded),
            "flagged_for_refund": state.is_some_and(|s| s.flagged_for_refund),
            "late": attempt.late != 0,
            "created_at": rfc3339(attempt.created_at),
            "expires_at": rfc3339(attempt.expires_at),
        })
    }
}

/// A refund as the API shows it.
pub fn refund_view(refund: &RefundRow) -> Value {
    json!({
        "object": "refund",
        "id": refund.id,
        "payment_id": refund.payment_id,
        "amount": money(refund.amount_cents),
        "status": refund.status,
        "reason": refund.reason,
        "failure": refund.failure,
        "created_at": rfc3339(refund.created_at),
    })
}

/// Puts a webhook event in the outbox of `tx`.
async fn enqueue(
    tx: &mut Tx,
    department: &str,
    event_type: &str,
    data: Value,
    now: OffsetDateTime,
) -> Result<(), PayError> {
    let id = new_id("evt_", 12)?;
    let unix = now.unix_timestamp();
    let body = json!({
        "id": id,
        "type": event_type,
        "created": unix,
        "data": data,
    });
    tx.enqueue_event(&EventRow {
        id,
        department: department.to_owned(),
        event_type: event_type.to_owned(),
        body: body.to_string(),
        status: "pending".into(),
        attempts: 0,
        next_attempt_at: unix,
        lease_until: 0,
        last_error: None,
        created_at: unix,
        delivered_at: None,
    })
    .await?;
    Ok(())
}

/// Cents as an amount with two decimals (negative allowed, for reports).
pub fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// One pass of the payments background work: delivers due webhooks,
/// expires overdue attempts and, with the built-in sandbox bank, takes the
/// bank's pending credit notifications through the same verification as
/// a real bank's callback. Returns what the deliverer did.
pub async fn work_once(
    state: &crate::state::AppState,
    deliverer: &webhooks::Deliverer,
) -> webhooks::Round {
    let now = state.now();
    let db = state.db();
    let Some(payments) = state.payments() else {
        return webhooks::Round::default();
    };
    if let Some(bank) = payments.fps_bank()
        && let Some(fps) = &payments.settings.fps
    {
        for delivery in bank.deliveries(now) {
            if let Err(error) = payments
                .notify(db, &fps.provider_id, &delivery.headers, &delivery.body, now)
                .await
            {
                tracing::warn!(%error, "sandbox bank notification refused");
            }
        }
    }
    if let Err(error) = payments.expire_overdue(db, now).await {
        tracing::warn!(%error, "expiring attempts failed");
    }
    if let Err(error) = payments.settle_pending_refunds(db, now).await {
        tracing::warn!(%error, "settling pending refunds failed");
    }
    match deliverer.round(db, now).await {
        Ok(round) => round,
        Err(error) => {
            tracing::warn!(%error, "webhook delivery failed");
            webhooks::Round::default()
        }
    }
}

/// The payments background worker of a serving process (see
/// [`work_once`]), every `payments.worker_interval_ms`.
pub async fn worker(state: crate::state::AppState) {
    let deliverer = webhooks::Deliverer::from_config(state.config());
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(
        state.config().payments.worker_interval_ms.max(50),
    ));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        work_once(&state, &deliverer).await;
    }
}
