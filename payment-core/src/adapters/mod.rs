//! Payment providers behind one trait.
//!
//! Each method has its module (`fps`, `pps`, `card`, `ewallet`) with a
//! `mod.rs` (the provider: its calls and its notifications) and a
//! `transformers.rs` (our request -> the provider's request with `TryFrom`;
//! the provider's status -> ours with `From`). A provider the gateway
//! cannot reach from a test machine has a sandbox that speaks its protocol,
//! failure modes included.
//!
//! What the gateway must never get wrong is whether money may have moved:
//! [`ProviderError::failover_allowed`] is true only for errors raised before
//! the provider could have taken the citizen's money.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::bill::{Bilingual, Method};
use crate::money::Money;
use crate::payment::AttemptEvent;

pub mod card;
pub mod ewallet;
pub mod fps;
pub mod pps;
pub mod signature;

/// The boxed future the provider trait returns (so that providers of
/// different kinds can sit behind `dyn PaymentProvider`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Longest notification body any parser reads.
pub const MAX_NOTIFICATION_LEN: usize = 64 * 1024;

/// What the gateway asks a provider to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    /// The gateway's attempt id: unique, the provider's idempotency key and
    /// the reference the provider echoes back.
    pub attempt_id: String,
    /// The department (client id).
    pub department: String,
    /// The bill's reference.
    pub bill_reference: String,
    /// The amount to take.
    pub amount: Money,
    /// What it is for.
    pub description: Bilingual,
    /// Where the provider sends the citizen back (a gateway page).
    pub return_url: String,
    /// When the gateway makes the request (the clock is a parameter).
    pub requested_at: OffsetDateTime,
    /// When the attempt stops being payable.
    pub expires_at: OffsetDateTime,
    /// Card and e-wallet: the acquirer's token for the citizen's payment
    /// method, made in the browser; never a card number.
    pub payment_method: Option<String>,
    /// E-wallet: which wallet.
    pub wallet: Option<Wallet>,
}

/// An e-wallet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Wallet {
    /// Apple Pay (a tokenised card).
    ApplePay,
    /// Google Pay (a tokenised card).
    GooglePay,
    /// AlipayHK.
    AlipayHk,
    /// WeChat Pay HK.
    WechatPay,
}

/// What the citizen does next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum NextStep {
    /// Scan (or open in a banking app) this FPS payload.
    ShowQr {
        /// The EMVCo payload.
        payload: String,
    },
    /// Go to the provider's page.
    Redirect {
        /// Where.
        url: String,
    },
    /// The acquirer's script on our page completes the step (3-D Secure
    /// with Stripe.js `handleNextAction`).
    AcquirerAction {
        /// The payment's client secret, for the acquirer's script.
        client_secret: String,
    },
    /// Nothing: the outcome is already known.
    None,
}

/// A provider's view of a payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum ProviderStatus {
    /// Waiting for the citizen or the provider.
    Pending,
    /// Money taken.
    Succeeded {
        /// How much.
        amount: Money,
    },
    /// Refused or abandoned; no money taken.
    Failed {
        /// The provider's reason code.
        reason: String,
    },
    /// Cancelled; no money taken.
    Cancelled,
}

/// A status with the provider's own words for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Our reading.
    pub status: ProviderStatus,
    /// The provider's status text, kept on the attempt.
    pub raw_status: String,
}

/// A started payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// The provider's reference (its notifications name it).
    pub provider_reference: String,
    /// What the citizen does next.
    pub next: NextStep,
    /// The provider's status right after starting.
    pub report: StatusReport,
}

/// A refund to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The gateway's refund id (the provider's idempotency key).
    pub refund_id: String,
    /// The payment's provider reference.
    pub provider_reference: String,
    /// How much.
    pub amount: Money,
}

/// A refund's state at the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundOutcome {
    /// The provider's id for the refund.
    pub provider_refund_id: String,
    /// Whether the money has gone back.
    pub succeeded: bool,
    /// The provider's status text.
    pub raw_status: String,
}

/// What a verified notification says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NotificationKind {
    /// The money was taken.
    Succeeded {
        /// How much.
        amount: Money,
    },
    /// The payment failed.
    Failed,
    /// Money went back.
    Refunded {
        /// The provider's refund id.
        refund_id: String,
        /// How much.
        amount: Money,
    },
    /// Something the gateway does not act on (acknowledged, ignored).
    Ignored,
}

/// A provider's notification, verified and parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The provider's id for this notification (duplicates share it).
    pub id: String,
    /// The payment it is about.
    pub provider_reference: String,
    /// What it says.
    pub kind: NotificationKind,
    /// The provider's status text.
    pub raw_status: String,
    /// The gateway's attempt id, when the provider echoes it (Stripe's
    /// metadata): finds an attempt whose start had no answer, so that it
    /// never learnt the provider's reference.
    #[serde(default)]
    pub attempt_id: Option<String>,
}

impl Notification {
    /// The attempt event this notification causes, if any.
    pub fn event(&self) -> Option<AttemptEvent> {
        match &self.kind {
            NotificationKind::Succeeded { amount } => Some(AttemptEvent::ProviderSucceeded {
                notification_id: self.id.clone(),
                amount: *amount,
                raw_status: self.raw_status.clone(),
            }),
            NotificationKind::Failed => Some(AttemptEvent::ProviderFailed {
                notification_id: self.id.clone(),
                raw_status: self.raw_status.clone(),
            }),
            NotificationKind::Refunded { refund_id, amount } => Some(AttemptEvent::Refunded {
                refund_id: refund_id.clone(),
                amount: *amount,
            }),
            NotificationKind::Ignored => None,
        }
    }
}

/// Why a notification was refused. Nothing in it was acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// Larger than [`MAX_NOTIFICATION_LEN`].
    #[error("the notification is larger than {MAX_NOTIFICATION_LEN} bytes")]
    TooLarge,
    /// The signature header is missing or not in the provider's format.
    #[error("the notification's signature header is missing or malformed")]
    MissingSignature,
    /// The signature does not verify.
    #[error("the notification's signature does not verify")]
    BadSignature,
    /// Signed too long ago (or in the future): a replay, or a clock problem.
    #[error("the notification was signed {age} s from now; at most {tolerance} s is accepted")]
    Stale {
        /// Seconds between signing and now.
        age: i64,
        /// The tolerance.
        tolerance: i64,
    },
    /// Signed, but not what the provider's protocol says it sends.
    #[error("the notification is malformed: {0}")]
    Malformed(String),
}

/// Why a provider call failed, and whether money may have moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The request never reached the provider (connection refused, DNS,
    /// TLS). Safe to try another provider.
    #[error("{provider} is unreachable: {detail}")]
    Unreachable {
        /// Provider id.
        provider: String,
        /// What failed.
        detail: String,
    },
    /// The provider answered that it did not process the request
    /// (overloaded, rate limited, down for maintenance). Safe to try
    /// another provider.
    #[error("{provider} is unavailable (HTTP {status})")]
    Unavailable {
        /// Provider id.
        provider: String,
        /// Its HTTP status.
        status: u16,
    },
    /// Sent, but no answer in time: the provider may have taken the money.
    #[error("{provider} did not answer in time")]
    Timeout {
        /// Provider id.
        provider: String,
    },
    /// The provider failed while handling the request, or its answer made
    /// no sense: it may have taken the money.
    #[error("{provider} failed with an unknown outcome: {detail}")]
    Ambiguous {
        /// Provider id.
        provider: String,
        /// What happened.
        detail: String,
    },
    /// The provider refused the payment (a decline, a failed 3-D Secure
    /// challenge): not a technical error; another provider will not be
    /// tried.
    #[error("{provider} declined: {code}")]
    Declined {
        /// Provider id.
        provider: String,
        /// The provider's reason code.
        code: String,
    },
    /// The provider refused the request as invalid (our bug or bad input).
    #[error("{provider} refused the request: {detail}")]
    Invalid {
        /// Provider id.
        provider: String,
        /// The provider's message.
        detail: String,
    },
    /// The provider does not offer this operation.
    #[error("{provider} does not support {operation}")]
    Unsupported {
        /// Provider id.
        provider: String,
        /// The operation.
        operation: &'static str,
    },
}

impl ProviderError {
    /// A technical failure (as opposed to a decision about the payment).
    pub fn is_technical(&self) -> bool {
        matches!(
            self,
            ProviderError::Unreachable { .. }
                | ProviderError::Unavailable { .. }
                | ProviderError::Timeout { .. }
                | ProviderError::Ambiguous { .. }
        )
    }

    /// Whether the provider may have taken the citizen's money: the
    /// attempt must then be settled by querying the provider or by its
    /// notification, never by paying elsewhere.
    pub fn may_have_moved_money(&self) -> bool {
        matches!(
            self,
            ProviderError::Timeout { .. } | ProviderError::Ambiguous { .. }
        )
    }

    /// Whether the next eligible provider may be tried.
    pub fn failover_allowed(&self) -> bool {
        self.is_technical() && !self.may_have_moved_money()
    }
}

/// A payment provider: starts payments, reads its notifications, answers
/// status queries and makes refunds.
pub trait PaymentProvider: Send + Sync + fmt::Debug {
    /// The provider's id in configuration and on attempts (`fps-sandbox`,
    /// `stripe-card`, ...).
    fn id(&self) -> &str;

    /// The method it serves.
    fn method(&self) -> Method;

    /// Starts a payment.
    fn start<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, Result<Started, ProviderError>>;

    /// Verifies and parses a notification (callback, webhook or redirect
    /// result) from the provider. `headers` are the HTTP headers (names
    /// lowercase), `now` the time it arrived.
    fn notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Notification, NotificationError>;

    /// Asks the provider for a payment's status.
    fn query<'a>(
        &'a self,
        provider_reference: &'a str,
    ) -> BoxFuture<'a, Result<StatusReport, ProviderError>>;

    /// Returns money to the citizen.
    fn refund<'a>(
        &'a self,
        request: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>>;
}

/// The provider reference an attempt id yields: its first 24 letters and
/// digits (references must fit FPS field 62 and PPS), or `None` when it has
/// fewer than 12.
pub fn attempt_reference(attempt_id: &str) -> Option<String> {
    let body: String = attempt_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    (body.len() >= 12).then_some(body)
}

/// The value of header `name` (lowercase) in `headers`, if present once.
pub fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    let mut values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str());
    let first = values.next()?;
    // Two signature headers are an attack or a broken proxy: trust neither.
    values.next().is_none().then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_only_when_no_money_can_have_moved() {
        let p = || "p".to_string();
        let cases = [
            (
                ProviderError::Unreachable {
                    provider: p(),
                    detail: String::new(),
                },
                true,
            ),
            (
                ProviderError::Unavailable {
                    provider: p(),
                    status: 503,
                },
                true,
            ),
            (ProviderError::Timeout { provider: p() }, false),
            (
                ProviderError::Ambiguous {
                    provider: p(),
                    detail: String::new(),
                },
                false,
            ),
            (
                ProviderError::Declined {
                    provider: p(),
                    code: "card_declined".into(),
                },
                false,
            ),
            (
                ProviderError::Invalid {
                    provider: p(),
                    detail: String::new(),
                },
                false,
            ),
            (
                ProviderError::Unsupported {
                    provider: p(),
                    operation: "refund",
                },
                false,
            ),
        ];
        for (error, allowed) in cases {
            assert_eq!(error.failover_allowed(), allowed, "{error}");
        }
    }

    #[test]
    fn duplicated_headers_are_not_trusted() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            header(&h(&[("Stripe-Signature", "x")]), "stripe-signature"),
            Some("x")
        );
        assert_eq!(
            header(
                &h(&[("stripe-signature", "x"), ("stripe-signature", "y")]),
                "stripe-signature"
            ),
            None
        );
        assert_eq!(header(&h(&[]), "stripe-signature"), None);
    }
}
