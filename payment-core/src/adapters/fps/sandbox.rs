//! A sandbox collecting bank: it "receives" FPS payments made from a QR
//! code, sends signed credit notifications, and misbehaves on request
//! (holds notifications back, sends them twice, sends them in reverse
//! order, rejects credits, times out or is unavailable for enquiries).
//!
//! Notifications are signed when they are taken for delivery, as a real
//! bank signs when it sends.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use ring::signature::{Ed25519KeyPair, KeyPair};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use super::transformers::{CreditNotification, CreditStatus};
use super::{CollectingBank, SIGNATURE_HEADER};
use crate::adapters::{
    BoxFuture, ProviderError, ProviderStatus, RefundOutcome, RefundRequest, StatusReport, signature,
};
use crate::fps::{FpsCode, FpsError, Initiation};
use crate::money::Money;

/// How the sandbox answers enquiries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Enquiries {
    /// Truthfully.
    #[default]
    Answered,
    /// HTTP 503: nothing processed.
    Unavailable,
    /// No answer in time.
    TimedOut,
}

/// What the sandbox does wrong, on request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Behaviour {
    /// Keep notifications until [`SandboxBank::release`].
    pub hold: bool,
    /// Send each notification twice.
    pub duplicate: bool,
    /// Deliver a batch newest first.
    pub reorder: bool,
    /// Reject credits (the money goes back to the payer).
    pub reject: bool,
    /// How enquiries are answered.
    pub enquiries: Enquiries,
}

/// Why the citizen's banking app refused to pay a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// Not a valid FPS payload.
    #[error(transparent)]
    Code(#[from] FpsError),
    /// A static code, or one without amount or reference.
    #[error("the code is not a dynamic code with amount and reference")]
    NotPayable,
    /// Past its expiry.
    #[error("the code has expired")]
    Expired,
}

/// `YYMMDDhhmmss`, Hong Kong time, this century.
fn parse_expiry(text: &str) -> Option<OffsetDateTime> {
    let part = |i: usize| text.get(i..i + 2)?.parse::<u8>().ok();
    let date = Date::from_calendar_date(
        2000 + i32::from(part(0)?),
        Month::try_from(part(2)?).ok()?,
        part(4)?,
    )
    .ok()?;
    let time = Time::from_hms(part(6)?, part(8)?, part(10)?).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(crate::HONG_KONG))
}

/// One notification ready to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Headers (the signature among them).
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: Vec<u8>,
}

#[derive(Debug)]
struct BankRefund {
    id: String,
    reference: String,
    amount: Money,
}

#[derive(Debug, Default)]
struct State {
    behaviour: Behaviour,
    credits: HashMap<String, Vec<CreditNotification>>,
    refunds: HashMap<String, BankRefund>,
    queue: Vec<CreditNotification>,
    sequence: u64,
}

/// The sandbox bank.
#[derive(Debug)]
pub struct SandboxBank {
    key: Ed25519KeyPair,
    state: Mutex<State>,
}

impl SandboxBank {
    /// A bank whose signing key comes from `seed` (fixed in the demo, so
    /// that its public key can be configured once).
    pub fn from_seed(seed: &[u8; 32]) -> Option<Self> {
        Some(Self {
            key: Ed25519KeyPair::from_seed_unchecked(seed).ok()?,
            state: Mutex::new(State::default()),
        })
    }

    /// The bank's public key, for the provider's configuration.
    pub fn public_key(&self) -> Vec<u8> {
        self.key.public_key().as_ref().to_vec()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets how the bank misbehaves.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.state().behaviour = behaviour;
    }

    /// A citizen pays `payload` at `now`; returns the notification id.
    pub fn pay(&self, payload: &str, now: OffsetDateTime) -> Result<String, SandboxError> {
        let code = FpsCode::decode(payload)?;
        let (Initiation::Dynamic, Some(amount), Some(reference)) =
            (code.initiation, code.amount, code.reference)
        else {
            return Err(SandboxError::NotPayable);
        };
        if let Some(expiry) = &code.expiry {
            let at = parse_expiry(expiry).ok_or(SandboxError::NotPayable)?;
            if now > at {
                return Err(SandboxError::Expired);
            }
        }
        let mut state = self.state();
        state.sequence += 1;
        let notification = CreditNotification {
            notification_id: format!("BN-{:08}", state.sequence),
            reference: reference.clone(),
            amount,
            currency: "HKD".into(),
            status: if state.behaviour.reject {
                CreditStatus::Rejected
            } else {
                CreditStatus::Credited
            },
            payer_bank: "004".into(),
        };
        let id = notification.notification_id.clone();
        state
            .credits
            .entry(reference)
            .or_default()
            .push(notification.clone());
        if state.behaviour.duplicate {
            state.queue.push(notification.clone());
        }
        state.queue.push(notification);
        Ok(id)
    }

    /// Takes the notifications to send now, signed at `now` (none while
    /// holding).
    pub fn deliveries(&self, now: OffsetDateTime) -> Vec<Delivery> {
        let mut state = self.state();
        if state.behaviour.hold {
            return Vec::new();
        }
        let mut batch = std::mem::take(&mut state.queue);
        if state.behaviour.reorder {
            batch.reverse();
        }
        batch.iter().map(|n| self.sign(n, now)).collect()
    }

    /// Stops holding and returns what was held, signed at `now`.
    pub fn release(&self, now: OffsetDateTime) -> Vec<Delivery> {
        self.state().behaviour.hold = false;
        self.deliveries(now)
    }

    /// Signs any notification body (tests use it to forge variations).
    pub fn sign_body(&self, body: &[u8], now: OffsetDateTime) -> Delivery {
        Delivery {
            headers: vec![
                ("content-type".into(), "application/json".into()),
                (
                    SIGNATURE_HEADER.into(),
                    signature::sign_ed25519(&self.key, now.unix_timestamp(), body),
                ),
            ],
            body: body.to_vec(),
        }
    }

    fn sign(&self, notification: &CreditNotification, now: OffsetDateTime) -> Delivery {
        let body = serde_json::to_vec(notification).unwrap_or_default();
        self.sign_body(&body, now)
    }

    fn failure(&self) -> Option<ProviderError> {
        let provider = "fps-sandbox".to_string();
        match self.state().behaviour.enquiries {
            Enquiries::Answered => None,
            Enquiries::Unavailable => Some(ProviderError::Unavailable {
                provider,
                status: 503,
            }),
            Enquiries::TimedOut => Some(ProviderError::Timeout { provider }),
        }
    }
}

impl CollectingBank for SandboxBank {
    fn enquire<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<StatusReport, ProviderError>> {
        Box::pin(async move {
            if let Some(error) = self.failure() {
                return Err(error);
            }
            let state = self.state();
            let credits = state
                .credits
                .get(reference)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let credited = credits.iter().find(|c| c.status == CreditStatus::Credited);
            Ok(match (credited, credits.first()) {
                (Some(c), _) => StatusReport {
                    status: ProviderStatus::Succeeded { amount: c.amount },
                    raw_status: "CREDITED".into(),
                },
                (None, Some(_)) => StatusReport {
                    status: ProviderStatus::Failed {
                        reason: "rejected".into(),
                    },
                    raw_status: "REJECTED".into(),
                },
                (None, None) => StatusReport {
                    status: ProviderStatus::Pending,
                    raw_status: "NOT_FOUND".into(),
                },
            })
        })
    }

    fn refund<'a>(
        &'a self,
        request: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>> {
        Box::pin(async move {
            if let Some(error) = self.failure() {
                return Err(error);
            }
            let mut state = self.state();
            if let Some(done) = state.refunds.get(&request.refund_id) {
                return Ok(RefundOutcome {
                    provider_refund_id: done.id.clone(),
                    succeeded: true,
                    raw_status: "RETURNED".into(),
                });
            }
            let credited = state
                .credits
                .get(&request.provider_reference)
                .into_iter()
                .flatten()
                .filter(|c| c.status == CreditStatus::Credited)
                .try_fold(Money::ZERO, |sum, c| sum.checked_add(c.amount))
                .unwrap_or(Money::ZERO);
            let refunded = state
                .refunds
                .values()
                .filter(|r| r.reference == request.provider_reference)
                .try_fold(Money::ZERO, |sum, r| sum.checked_add(r.amount))
                .unwrap_or(Money::ZERO);
            if refunded
                .checked_add(request.amount)
                .map_or(true, |total| total > credited)
            {
                return Err(ProviderError::Invalid {
                    provider: "fps-sandbox".into(),
                    detail: "refund exceeds the credit".into(),
                });
            }
            state.sequence += 1;
            let id = format!("RF-{:08}", state.sequence);
            state.refunds.insert(
                request.refund_id.clone(),
                BankRefund {
                    id: id.clone(),
                    reference: request.provider_reference.clone(),
                    amount: request.amount,
                },
            );
            Ok(RefundOutcome {
                provider_refund_id: id,
                succeeded: true,
                raw_status: "RETURNED".into(),
            })
        })
    }
}
