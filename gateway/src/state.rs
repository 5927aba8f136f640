//! The application state every handler receives: the database, the
//! settings, the metrics registry and the clock. No global statics: tests
//! build as many independent states as they like.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::Config;
use crate::http::limit::{AccountLimiter, AddressLimiter};
use crate::metrics::Metrics;
use crate::oidc::jwks_fetch::JwksFetcher;
use crate::payments::Payments;
use crate::profile::Profiles;
use crate::signin::card::CardVerifier;
use crate::signin::passkeys::Passkeys;
use crate::signin::{DbSessions, SessionSource};
use crate::store::Db;

/// Where the current time comes from. Tests pin it; the service reads the
/// system clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that always says the same time, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// Shared state of one gateway process. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    config: Config,
    metrics: Metrics,
    clock: Arc<dyn Clock>,
    sessions: Arc<dyn SessionSource>,
    passkeys: Option<Passkeys>,
    signin_limiter: AddressLimiter,
    account_limiter: AccountLimiter,
    api_limiter: AccountLimiter,
    cards: Option<CardVerifier>,
    profiles: Option<Profiles>,
    payments: Option<Payments>,
    jwks_fetcher: JwksFetcher,
    api_keys: crate::api_keys::KeyCache,
    bill_writer: std::sync::OnceLock<crate::store::bill_batch::BillWriter>,
}

fn secs(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl AppState {
    /// Builds the state from an open database and validated settings, with
    /// the system clock and a fresh metrics registry.
    pub fn new(db: Db, config: Config) -> Self {
        Self::with_clock(db, config, Arc::new(SystemClock))
    }

    /// Like [`AppState::new`] with a chosen clock; sessions are the
    /// database's.
    pub fn with_clock(db: Db, config: Config, clock: Arc<dyn Clock>) -> Self {
        let policy = eid_core::session::SessionPolicy {
            idle: time::Duration::seconds(secs(config.signin.session_idle_secs)),
            absolute: time::Duration::seconds(secs(config.signin.session_absolute_secs)),
        };
        let sessions = DbSessions::new(db.clone(), policy, clock.clone(), config.tls.is_some());
        Self::with_parts(db, config, clock, Arc::new(sessions))
    }

    /// The state with every part chosen (tests pin the clock and put a
    /// signed-in citizen in place).
    pub fn with_parts(
        db: Db,
        config: Config,
        clock: Arc<dyn Clock>,
        sessions: Arc<dyn SessionSource>,
    ) -> Self {
        let passkeys = Passkeys::new(
            &config.issuer(),
            time::Duration::seconds(secs(config.signin.ceremony_lifetime_secs)),
        )
        .map_err(|e| tracing::error!(error = %e, "passkeys unavailable"))
        .ok();
        let signin_limiter = AddressLimiter::per_minute(config.signin.attempts_per_minute);
        let account_limiter = AccountLimiter::per_hour(config.signin.account_attempts_per_hour);
        let api_limiter = AccountLimiter::per_minute(config.api.requests_per_minute);
        let api_keys = crate::api_keys::KeyCache::new(std::time::Duration::from_secs(
            config.api.key_cache_secs,
        ));
        // `run` checks the card settings before it starts serving; here a
        // bad setting only switches card sign-in off.
        let cards = config.signin.card.as_ref().and_then(|card| {
            CardVerifier::from_config(card, clock.clone())
                .map_err(|e| tracing::error!(error = %e, "smart-ID-card sign-in unavailable"))
                .ok()
        });
        let profiles = match config.profile.load() {
            Some(Ok(keys)) => Some(Profiles::new(keys)),
            Some(Err(e)) => {
                tracing::error!(error = %e, "e-ME profiles unavailable");
                None
            }
            None => None,
        };
        // `run` checks the payment settings before it starts serving.
        let payments = Payments::from_config(&config)
            .map_err(|e| tracing::error!(error = %e, "payments unavailable"))
            .ok();
        Self {
            inner: Arc::new(Inner {
                db,
                config,
                metrics: Metrics::new(),
                clock,
                passkeys,
                signin_limiter,
                account_limiter,
                api_limiter,
                cards,
                profiles,
                payments,
                sessions,
                jwks_fetcher: JwksFetcher::new(std::time::Duration::from_secs(5)),
                api_keys,
                bill_writer: std::sync::OnceLock::new(),
            }),
        }
    }

    /// Fetches clients' key sets published at a `jwks_uri`.
    pub fn jwks_fetcher(&self) -> &JwksFetcher {
        &self.inner.jwks_fetcher
    }

    /// Who is signed in.
    pub fn sessions(&self) -> &dyn SessionSource {
        self.inner.sessions.as_ref()
    }

    /// The passkey relying party (absent when the issuer URL cannot be
    /// one; the error was logged at start).
    pub fn passkeys(&self) -> Option<&Passkeys> {
        self.inner.passkeys.as_ref()
    }

    /// The per-address limiter of sign-in requests.
    pub fn signin_limiter(&self) -> &AddressLimiter {
        &self.inner.signin_limiter
    }

    /// The per-account limiter of sign-in attempts.
    pub fn account_limiter(&self) -> &AccountLimiter {
        &self.inner.account_limiter
    }

    /// Departments' API keys, remembered for `api.key_cache_secs`.
    pub fn api_keys(&self) -> &crate::api_keys::KeyCache {
        &self.inner.api_keys
    }

    /// The group-commit writer of new bills, started on the current Tokio
    /// runtime at first use.
    pub fn bill_writer(&self) -> &crate::store::bill_batch::BillWriter {
        self.inner.bill_writer.get_or_init(|| {
            crate::store::bill_batch::BillWriter::spawn(
                self.inner.db.clone(),
                self.inner.metrics.bill_batch(),
            )
        })
    }

    /// The per-department limiter of `/v1` requests.
    pub fn api_limiter(&self) -> &AccountLimiter {
        &self.inner.api_limiter
    }

    /// The smart-ID-card validator (absent when card sign-in is not
    /// configured).
    pub fn cards(&self) -> Option<&CardVerifier> {
        self.inner.cards.as_ref()
    }

    /// The e-ME profiles (absent without `profile.encryption_keys`).
    pub fn profiles(&self) -> Option<&Profiles> {
        self.inner.profiles.as_ref()
    }

    /// Payments (`None` when the `[payments]` settings are wrong).
    pub fn payments(&self) -> Option<&Payments> {
        self.inner.payments.as_ref()
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The current time, from the state's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.inner.clock.now()
    }
}
