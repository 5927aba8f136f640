//! A bill's payment attempts and their state machine.
//!
//! An attempt goes `created -> pending -> succeeded | failed | expired |
//! cancelled`, and a succeeded attempt can be refunded in part or in full.
//! Every transition is checked and recorded with the event that caused it;
//! an illegal one is an error, never a panic. Provider notifications arrive
//! duplicated and out of order, so the same notification twice is
//! recognised as a duplicate, and a success that arrives when the bill is
//! already paid, cancelled or expired is recorded (the money was taken) and
//! flagged for refund instead of paying the bill twice.

use serde::{Deserialize, Serialize};

use crate::money::{Money, MoneyError};

/// The state of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Made, not yet sent to the provider.
    Created,
    /// The provider has it; the citizen is paying.
    Pending,
    /// The provider took the money.
    Succeeded,
    /// The provider refused (declined, error).
    Failed,
    /// Nothing happened in time.
    Expired,
    /// Cancelled before any money moved.
    Cancelled,
}

/// What happened to an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum AttemptEvent {
    /// Sent to the provider, which gave its reference.
    Started {
        /// The provider's reference for the attempt.
        provider_reference: String,
    },
    /// The provider reports success for this amount.
    ProviderSucceeded {
        /// The provider's notification id (for duplicate detection).
        notification_id: String,
        /// The amount taken.
        amount: Money,
        /// The provider's own status text.
        raw_status: String,
    },
    /// The provider reports failure.
    ProviderFailed {
        /// The provider's notification id.
        notification_id: String,
        /// The provider's own status text.
        raw_status: String,
    },
    /// The attempt's time ran out.
    Expired,
    /// Cancelled by the department or the citizen.
    Cancelled,
    /// Money returned to the citizen.
    Refunded {
        /// The refund's id (for duplicate detection).
        refund_id: String,
        /// How much.
        amount: Money,
    },
}

/// Why an event cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// The event makes no sense in the attempt's state.
    #[error("{event} is not allowed when the attempt is {state:?}")]
    NotAllowed {
        /// The attempt's state.
        state: AttemptState,
        /// The event's name.
        event: &'static str,
    },
    /// A success for another amount than the bill's.
    #[error("the provider reported {reported}, the bill is {expected}")]
    AmountMismatch {
        /// The bill's amount.
        expected: Money,
        /// The reported amount.
        reported: Money,
    },
    /// A refund beyond what was paid.
    #[error("refunds would exceed the {paid} paid")]
    RefundTooLarge {
        /// What was paid.
        paid: Money,
    },
    /// Arithmetic failed.
    #[error(transparent)]
    Money(#[from] MoneyError),
    /// No such attempt on the bill.
    #[error("no attempt {0}")]
    UnknownAttempt(usize),
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The state changed as the event says.
    Applied,
    /// The event was already applied (a duplicate notification or refund).
    Duplicate,
    /// Money was taken for a bill that is already paid, cancelled or
    /// expired: recorded on the attempt, flagged for refund; the bill
    /// stays as it was.
    NeedsRefund,
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// State before.
    pub from: AttemptState,
    /// State after.
    pub to: AttemptState,
    /// The cause.
    pub event: AttemptEvent,
}

/// One attempt to pay a bill with a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The provider (`fps`, `pps`, `card`, ...).
    pub provider: String,
    /// The provider's reference, once started.
    pub provider_reference: Option<String>,
    /// Current state.
    pub state: AttemptState,
    /// The provider's last raw status.
    pub raw_status: Option<String>,
    /// Money taken.
    pub paid: Money,
    /// Money returned.
    pub refunded: Money,
    /// Taken for a bill that did not need it: to be refunded.
    pub flagged_for_refund: bool,
    /// Every transition, in order.
    pub history: Vec<Transition>,
    seen_notifications: Vec<String>,
    seen_refunds: Vec<String>,
}

/// The bill's own state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum BillState {
    /// Waiting for payment.
    Open,
    /// Paid by this attempt.
    Paid {
        /// The attempt's index.
        attempt: usize,
    },
    /// Cancelled.
    Cancelled,
    /// Past its due time unpaid.
    Expired,
}

/// A bill's payment state: its amount, attempts and outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillPayments {
    /// The bill's amount.
    pub amount: Money,
    /// The bill's state.
    pub state: BillState,
    /// Its attempts, in order.
    pub attempts: Vec<Attempt>,
}

fn name(event: &AttemptEvent) -> &'static str {
    match event {
        AttemptEvent::Started { .. } => "started",
        AttemptEvent::ProviderSucceeded { .. } => "provider_succeeded",
        AttemptEvent::ProviderFailed { .. } => "provider_failed",
        AttemptEvent::Expired => "expired",
        AttemptEvent::Cancelled => "cancelled",
        AttemptEvent::Refunded { .. } => "refunded",
    }
}

impl BillPayments {
    /// A bill of `amount` with no attempt.
    pub fn new(amount: Money) -> Self {
        Self {
            amount,
            state: BillState::Open,
            attempts: Vec::new(),
        }
    }

    /// Starts a new attempt with `provider`; returns its index. Refused
    /// unless the bill is open.
    pub fn new_attempt(&mut self, provider: &str) -> Result<usize, TransitionError> {
        if self.state != BillState::Open {
            return Err(TransitionError::NotAllowed {
                state: AttemptState::Created,
                event: "new_attempt",
            });
        }
        self.attempts.push(Attempt {
            provider: provider.to_owned(),
            provider_reference: None,
            state: AttemptState::Created,
            raw_status: None,
            paid: Money::ZERO,
            refunded: Money::ZERO,
            flagged_for_refund: false,
            history: Vec::new(),
            seen_notifications: Vec::new(),
            seen_refunds: Vec::new(),
        });
        Ok(self.attempts.len() - 1)
    }

    /// Money received for the bill, counting only the attempt that paid it.
    pub fn collected(&self) -> Money {
        match self.state {
            BillState::Paid { attempt } => self.attempts[attempt].paid,
            _ => Money::ZERO,
        }
    }

    /// Cancels the bill (and its open attempts). Refused once paid.
    pub fn cancel(&mut self) -> Result<(), TransitionError> {
        self.close(BillState::Cancelled, AttemptEvent::Cancelled)
    }

    /// Expires the bill (and its open attempts). Refused once paid.
    pub fn expire(&mut self) -> Result<(), TransitionError> {
        self.close(BillState::Expired, AttemptEvent::Expired)
    }

    fn close(&mut self, to: BillState, event: AttemptEvent) -> Result<(), TransitionError> {
        match self.state {
            BillState::Open => {}
            _ if self.state == to => return Ok(()),
            state => {
                return Err(TransitionError::NotAllowed {
                    state: match state {
                        BillState::Paid { .. } => AttemptState::Succeeded,
                        BillState::Cancelled => AttemptState::Cancelled,
                        _ => AttemptState::Expired,
                    },
                    event: name(&event),
                });
            }
        }
        for i in 0..self.attempts.len() {
            if matches!(
                self.attempts[i].state,
                AttemptState::Created | AttemptState::Pending
            ) {
                self.apply(i, event.clone())?;
            }
        }
        self.state = to;
        Ok(())
    }

    /// Applies an event to attempt `index`.
    pub fn apply(&mut self, index: usize, event: AttemptEvent) -> Result<Outcome, TransitionError> {
        let bill_state = self.state;
        let amount = self.amount;
        let attempt = self
            .attempts
            .get_mut(index)
            .ok_or(TransitionError::UnknownAttempt(index))?;
        let from = attempt.state;
        let not_allowed = || TransitionError::NotAllowed {
            state: from,
            event: name(&event),
        };
        let (to, outcome) = match (&event, from) {
            (AttemptEvent::Started { provider_reference }, AttemptState::Created) => {
                attempt.provider_reference = Some(provider_reference.clone());
                (AttemptState::Pending, Outcome::Applied)
            }
            (
                AttemptEvent::ProviderSucceeded {
                    notification_id,
                    amount: reported,
                    raw_status,
                },
                state,
            ) => {
                if attempt.seen_notifications.contains(notification_id) {
                    return Ok(Outcome::Duplicate);
                }
                if state == AttemptState::Succeeded {
                    // Another notification of the same success.
                    attempt.seen_notifications.push(notification_id.clone());
                    return Ok(Outcome::Duplicate);
                }
                if matches!(state, AttemptState::Created) {
                    return Err(not_allowed());
                }
                if *reported != amount {
                    return Err(TransitionError::AmountMismatch {
                        expected: amount,
                        reported: *reported,
                    });
                }
                attempt.seen_notifications.push(notification_id.clone());
                attempt.raw_status = Some(raw_status.clone());
                attempt.paid = *reported;
                // Money was taken: the attempt succeeds whatever else
                // happened; the bill is paid only once.
                let outcome = match bill_state {
                    BillState::Open => Outcome::Applied,
                    _ => {
                        attempt.flagged_for_refund = true;
                        Outcome::NeedsRefund
                    }
                };
                (AttemptState::Succeeded, outcome)
            }
            (
                AttemptEvent::ProviderFailed {
                    notification_id,
                    raw_status,
                },
                state,
            ) => {
                if attempt.seen_notifications.contains(notification_id) {
                    return Ok(Outcome::Duplicate);
                }
                match state {
                    AttemptState::Pending | AttemptState::Created => {
                        attempt.seen_notifications.push(notification_id.clone());
                        attempt.raw_status = Some(raw_status.clone());
                        (AttemptState::Failed, Outcome::Applied)
                    }
                    // A failure after a success or a final state changes nothing.
                    _ => return Ok(Outcome::Duplicate),
                }
            }
            (AttemptEvent::Expired, AttemptState::Created | AttemptState::Pending) => {
                (AttemptState::Expired, Outcome::Applied)
            }
            (AttemptEvent::Cancelled, AttemptState::Created | AttemptState::Pending) => {
                (AttemptState::Cancelled, Outcome::Applied)
            }
            (
                AttemptEvent::Refunded {
                    refund_id,
                    amount: refund,
                },
                AttemptState::Succeeded,
            ) => {
                if attempt.seen_refunds.contains(refund_id) {
                    return Ok(Outcome::Duplicate);
                }
                let total = attempt.refunded.checked_add(*refund)?;
                if total > attempt.paid || *refund == Money::ZERO {
                    return Err(TransitionError::RefundTooLarge { paid: attempt.paid });
                }
                attempt.seen_refunds.push(refund_id.clone());
                attempt.refunded = total;
                (AttemptState::Succeeded, Outcome::Applied)
            }
            _ => return Err(not_allowed()),
        };
        attempt.state = to;
        attempt.history.push(Transition { from, to, event });
        if to == AttemptState::Succeeded
            && outcome == Outcome::Applied
            && bill_state == BillState::Open
        {
            self.state = BillState::Paid { attempt: index };
            // Other open attempts can no longer pay this bill.
            for (i, other) in self.attempts.iter_mut().enumerate() {
                if i != index && matches!(other.state, AttemptState::Created) {
                    other.history.push(Transition {
                        from: other.state,
                        to: AttemptState::Cancelled,
                        event: AttemptEvent::Cancelled,
                    });
                    other.state = AttemptState::Cancelled;
                }
            }
        }
        Ok(outcome)
    }
}
