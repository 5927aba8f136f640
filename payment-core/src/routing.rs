//! Which provider takes a payment: per method, an ordered list of eligible
//! providers with rules (amount limits, department allow-lists, switched
//! on or off), a circuit breaker per provider, and failover to the next
//! provider on technical errors only, never once the provider may have
//! taken the money ([`ProviderError::failover_allowed`]).
//!
//! Circuit breakers live in memory: each gateway process learns on its own
//! that a provider is failing, which is what a breaker is for (shedding
//! load quickly); nothing that must survive a restart is kept here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::adapters::{PaymentProvider, ProviderError, StartRequest, Started};
use crate::bill::Method;
use crate::money::Money;

/// One provider's place in a method's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// The provider id.
    pub provider: String,
    /// Smallest amount it takes.
    #[serde(default)]
    pub min_amount: Option<Money>,
    /// Largest amount it takes.
    #[serde(default)]
    pub max_amount: Option<Money>,
    /// Only these departments (all when absent).
    #[serde(default)]
    pub departments: Option<Vec<String>>,
    /// Switched on (operators switch a provider off for maintenance).
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

impl Route {
    /// A route to `provider` with no rules.
    pub fn to(provider: &str) -> Route {
        Route {
            provider: provider.to_owned(),
            min_amount: None,
            max_amount: None,
            departments: None,
            enabled: true,
        }
    }

    fn eligible(&self, amount: Money, department: &str) -> bool {
        self.enabled
            && self.min_amount.is_none_or(|min| amount >= min)
            && self.max_amount.is_none_or(|max| amount <= max)
            && self
                .departments
                .as_ref()
                .is_none_or(|list| list.iter().any(|d| d == department))
    }
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakerConfig {
    /// Consecutive technical failures that open the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker refuses calls before letting one probe
    /// through.
    pub open_secs: i64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_secs: 30,
        }
    }
}

/// A provider's breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through; `failures` in a row so far.
    Closed {
        /// Consecutive technical failures.
        failures: u32,
    },
    /// Calls are refused until `until`.
    Open {
        /// When one probe may go through.
        until: OffsetDateTime,
    },
    /// One probe is in flight; others are refused until it reports.
    HalfOpen,
}

/// Why no provider took the payment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// No provider is configured and eligible for this method, amount and
    /// department.
    #[error("no provider takes {method} payments of {amount} for this department")]
    NoRoute {
        /// The method.
        method: Method,
        /// The amount.
        amount: Money,
    },
    /// Eligible providers exist, but every breaker is open.
    #[error("every {method} provider is unavailable; try again shortly")]
    AllUnavailable {
        /// The method.
        method: Method,
    },
    /// A provider failed in a way that ends the attempt (a decline, or an
    /// error after which money may have moved).
    #[error(transparent)]
    Provider(ProviderError),
    /// Every eligible provider failed before taking any money.
    #[error("every {method} provider failed: {errors:?}")]
    AllFailed {
        /// The method.
        method: Method,
        /// Each provider's error, in order.
        errors: Vec<ProviderError>,
    },
}

/// Routes, breakers, and the failover loop.
#[derive(Debug)]
pub struct Router {
    routes: BTreeMap<Method, Vec<Route>>,
    breaker: BreakerConfig,
    breakers: Mutex<HashMap<String, BreakerState>>,
}

impl Router {
    /// A router over `routes` (per method, in order of preference).
    pub fn new(routes: BTreeMap<Method, Vec<Route>>, breaker: BreakerConfig) -> Self {
        Self {
            routes,
            breaker,
            breakers: Mutex::new(HashMap::new()),
        }
    }

    fn breakers(&self) -> MutexGuard<'_, HashMap<String, BreakerState>> {
        self.breakers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A provider's breaker state.
    pub fn breaker(&self, provider: &str) -> BreakerState {
        self.breakers()
            .get(provider)
            .copied()
            .unwrap_or(BreakerState::Closed { failures: 0 })
    }

    /// The eligible providers for a payment, in order, without looking at
    /// breakers.
    pub fn eligible(&self, method: Method, amount: Money, department: &str) -> Vec<&str> {
        self.routes
            .get(&method)
            .map(|routes| {
                routes
                    .iter()
                    .filter(|r| r.eligible(amount, department))
                    .map(|r| r.provider.as_str())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a call to `provider` may go now; an open breaker whose time
    /// is up lets exactly one probe through.
    pub fn admit(&self, provider: &str, now: OffsetDateTime) -> bool {
        let mut breakers = self.breakers();
        let state = breakers
            .entry(provider.to_owned())
            .or_insert(BreakerState::Closed { failures: 0 });
        match *state {
            BreakerState::Closed { .. } => true,
            BreakerState::Open { until } if now >= until => {
                *state = BreakerState::HalfOpen;
                true
            }
            BreakerState::Open { .. } | BreakerState::HalfOpen => false,
        }
    }

    /// Records the outcome of an admitted call. Only technical errors count
    /// against a provider; a decline is the provider working.
    pub fn record(&self, provider: &str, result: Result<(), &ProviderError>, now: OffsetDateTime) {
        let mut breakers = self.breakers();
        let state = breakers
            .entry(provider.to_owned())
            .or_insert(BreakerState::Closed { failures: 0 });
        let failed = result.is_err_and(ProviderError::is_technical);
        *state = match (*state, failed) {
            (_, false) => BreakerState::Closed { failures: 0 },
            (BreakerState::HalfOpen, true) | (BreakerState::Open { .. }, true) => {
                BreakerState::Open {
                    until: now + Duration::seconds(self.breaker.open_secs),
                }
            }
            (BreakerState::Closed { failures }, true) => {
                let failures = failures.saturating_add(1);
                if failures >= self.breaker.failure_threshold {
                    BreakerState::Open {
                        until: now + Duration::seconds(self.breaker.open_secs),
                    }
                } else {
                    BreakerState::Closed { failures }
                }
            }
        };
    }

    /// Starts `request` by `method` with the first eligible, admitted
    /// provider, failing over while that is safe. Returns the provider id
    /// that took it, with its answer. `providers` looks a provider up by id.
    pub async fn start(
        &self,
        method: Method,
        request: &StartRequest,
        providers: &[&dyn PaymentProvider],
        now: OffsetDateTime,
    ) -> Result<(String, Started), RoutingError> {
        let eligible = self.eligible(method, request.amount, &request.department);
        let eligible: Vec<&dyn PaymentProvider> = eligible
            .iter()
            .filter_map(|id| providers.iter().find(|p| p.id() == *id).copied())
            .collect();
        if eligible.is_empty() {
            return Err(RoutingError::NoRoute {
                method,
                amount: request.amount,
            });
        }
        let mut errors = Vec::new();
        for provider in eligible {
            if !self.admit(provider.id(), now) {
                continue;
            }
            match provider.start(request).await {
                Ok(started) => {
                    self.record(provider.id(), Ok(()), now);
                    return Ok((provider.id().to_owned(), started));
                }
                Err(error) => {
                    self.record(provider.id(), Err(&error), now);
                    if !error.failover_allowed() {
                        return Err(RoutingError::Provider(error));
                    }
                    errors.push(error);
                }
            }
        }
        if errors.is_empty() {
            Err(RoutingError::AllUnavailable { method })
        } else {
            Err(RoutingError::AllFailed { method, errors })
        }
    }
}
