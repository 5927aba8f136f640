//! FPS: a dynamic QR code per attempt, confirmed by the collecting bank.
//!
//! Starting an attempt makes its code locally (nothing can be charged by
//! starting, so there is nothing to fail over). The citizen pays from any
//! banking or wallet app; the collecting bank then POSTs a credit
//! notification signed with its Ed25519 key, which the gateway verifies with
//! the bank's public key. Enquiries and refunds (an outward FPS transfer)
//! go through the bank's API, abstracted as [`CollectingBank`]; the
//! [`sandbox`] bank implements it, with its failure modes.

pub mod sandbox;
pub mod transformers;

use std::fmt;

use time::OffsetDateTime;

use self::transformers::{AttemptCode, Collection, CreditNotification};
use super::{
    BoxFuture, MAX_NOTIFICATION_LEN, NextStep, Notification, NotificationError, NotificationKind,
    PaymentProvider, ProviderError, ProviderStatus, RefundOutcome, RefundRequest, StartRequest,
    Started, StatusReport, header, signature,
};
use crate::bill::Method;

/// The header the bank signs its notifications in.
pub const SIGNATURE_HEADER: &str = "bank-signature";

/// The collecting bank's API.
pub trait CollectingBank: Send + Sync + fmt::Debug {
    /// What the bank knows of the payment with FPS `reference`.
    fn enquire<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<StatusReport, ProviderError>>;

    /// Sends `request.amount` back to the payer of `request.provider_reference`.
    fn refund<'a>(
        &'a self,
        request: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>>;
}

/// A shared bank (the gateway keeps the sandbox bank to drive it).
impl<B: CollectingBank + ?Sized> CollectingBank for std::sync::Arc<B> {
    fn enquire<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<StatusReport, ProviderError>> {
        (**self).enquire(reference)
    }

    fn refund<'a>(
        &'a self,
        request: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>> {
        (**self).refund(request)
    }
}

/// An FPS provider's settings.
#[derive(Debug, Clone)]
pub struct FpsConfig {
    /// Provider id on attempts (`fps-sandbox`, `fps-bank-x`).
    pub provider_id: String,
    /// What the codes name as payee.
    pub collection: Collection,
    /// The bank's Ed25519 public keys (32 bytes each), the newest first.
    pub bank_public_keys: Vec<Vec<u8>>,
    /// Accepted notification age, seconds.
    pub tolerance_secs: i64,
}

/// FPS through a collecting bank `B`.
#[derive(Debug)]
pub struct FpsProvider<B> {
    config: FpsConfig,
    bank: B,
}

impl<B: CollectingBank> FpsProvider<B> {
    /// A provider with `config`, talking to `bank`.
    pub fn new(config: FpsConfig, bank: B) -> Self {
        Self { config, bank }
    }

    /// The bank.
    pub fn bank(&self) -> &B {
        &self.bank
    }
}

/// Reads a verified credit notification body.
pub fn parse_notification(body: &[u8]) -> Result<Notification, NotificationError> {
    let credit: CreditNotification = serde_json::from_slice(body)
        .map_err(|_| NotificationError::Malformed("not a credit notification".into()))?;
    let plain = |s: &str| {
        !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if credit.currency != "HKD" {
        return Err(NotificationError::Malformed("currency is not HKD".into()));
    }
    if !plain(&credit.notification_id) || !plain(&credit.reference) {
        return Err(NotificationError::Malformed(
            "bad notification id or reference".into(),
        ));
    }
    Ok(Notification {
        kind: NotificationKind::from(&credit),
        raw_status: match credit.status {
            transformers::CreditStatus::Credited => "CREDITED".into(),
            transformers::CreditStatus::Rejected => "REJECTED".into(),
        },
        id: credit.notification_id,
        provider_reference: credit.reference,
        attempt_id: None,
    })
}

impl<B: CollectingBank> PaymentProvider for FpsProvider<B> {
    fn id(&self) -> &str {
        &self.config.provider_id
    }

    fn method(&self) -> Method {
        Method::Fps
    }

    fn start<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, Result<Started, ProviderError>> {
        Box::pin(async move {
            let invalid = |detail: String| ProviderError::Invalid {
                provider: self.config.provider_id.clone(),
                detail,
            };
            let attempt = AttemptCode::try_from((request, &self.config.collection))
                .map_err(|e| invalid(e.to_string()))?;
            let payload = attempt.code.encode().map_err(|e| invalid(e.to_string()))?;
            Ok(Started {
                provider_reference: attempt.reference,
                next: NextStep::ShowQr { payload },
                report: StatusReport {
                    status: ProviderStatus::Pending,
                    raw_status: "AWAITING_CREDIT".into(),
                },
            })
        })
    }

    fn notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Notification, NotificationError> {
        if body.len() > MAX_NOTIFICATION_LEN {
            return Err(NotificationError::TooLarge);
        }
        let value = header(headers, SIGNATURE_HEADER).ok_or(NotificationError::MissingSignature)?;
        let keys: Vec<&[u8]> = self
            .config
            .bank_public_keys
            .iter()
            .map(Vec::as_slice)
            .collect();
        signature::verify_ed25519(
            value,
            body,
            &keys,
            now.unix_timestamp(),
            self.config.tolerance_secs,
        )?;
        parse_notification(body)
    }

    fn query<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<StatusReport, ProviderError>> {
        self.bank.enquire(reference)
    }

    fn refund<'a>(
        &'a self,
        request: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>> {
        self.bank.refund(request)
    }
}
