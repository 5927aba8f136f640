//! FPS wire types: the dynamic QR code an attempt shows, and the
//! collecting bank's credit notification.
//!
//! The bank's notification is JSON:
//! `{"notification_id", "reference", "amount": "123.45", "currency": "HKD",
//! "status": "CREDITED" | "REJECTED", "payer_bank": "004"}`, signed in the
//! `Bank-Signature` header (see [`crate::adapters::signature`]).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::adapters::{NotificationKind, StartRequest};
use crate::fps::{FpsCode, Initiation, Proxy};
use crate::money::Money;

/// Where a department's FPS money is collected, as the QR code names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    /// The collecting bank's clearing code (3 digits).
    pub clearing_code: Option<String>,
    /// The collection account's FPS proxy.
    pub proxy: Proxy,
    /// Merchant name shown in the banking app (<= 25).
    pub merchant_name: String,
    /// Merchant city (<= 15).
    pub merchant_city: String,
    /// Merchant category code (4 digits; 9399 government services).
    pub merchant_category: String,
}

/// The FPS reference of an attempt: `F` and the first 24 letters and digits
/// of the attempt id, upper-cased (FPS field 62/05 holds 25).
pub fn reference_for(attempt_id: &str) -> Option<String> {
    crate::adapters::attempt_reference(attempt_id)
        .map(|body| format!("F{}", body.to_ascii_uppercase()))
}

/// The dynamic code for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCode {
    /// The attempt's FPS reference.
    pub reference: String,
    /// The code.
    pub code: FpsCode,
}

/// Why an attempt cannot have a code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The attempt id has too few letters and digits to make a reference.
    #[error("the attempt id cannot make an FPS reference")]
    BadAttemptId,
    /// The bill reference does not fit field 62/01.
    #[error("the bill reference does not fit an FPS code")]
    BadBillReference,
}

impl TryFrom<(&StartRequest, &Collection)> for AttemptCode {
    type Error = CodeError;

    fn try_from((request, collection): (&StartRequest, &Collection)) -> Result<Self, Self::Error> {
        let reference = reference_for(&request.attempt_id).ok_or(CodeError::BadAttemptId)?;
        if !crate::bill::valid_reference(&request.bill_reference) {
            return Err(CodeError::BadBillReference);
        }
        Ok(AttemptCode {
            code: FpsCode {
                initiation: Initiation::Dynamic,
                clearing_code: collection.clearing_code.clone(),
                proxy: collection.proxy.clone(),
                expiry: Some(expiry_text(request.expires_at)),
                merchant_category: collection.merchant_category.clone(),
                amount: Some(request.amount),
                merchant_name: collection.merchant_name.clone(),
                merchant_city: collection.merchant_city.clone(),
                bill_number: Some(request.bill_reference.clone()),
                reference: Some(reference.clone()),
            },
            reference,
        })
    }
}

/// `YYMMDDhhmmss` in Hong Kong time, as template 26 field 05 holds it.
pub fn expiry_text(at: OffsetDateTime) -> String {
    let format = format_description!("[year repr:last_two][month][day][hour][minute][second]");
    at.to_offset(crate::HONG_KONG)
        .format(&format)
        .unwrap_or_default()
}

/// The bank's verdict on a credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CreditStatus {
    /// The money is in the collection account.
    Credited,
    /// The payer's bank sent it, the collecting bank returned it.
    Rejected,
}

/// The collecting bank's notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditNotification {
    /// The bank's id for this notification (repeated on redelivery).
    pub notification_id: String,
    /// The attempt's FPS reference, from the QR code.
    pub reference: String,
    /// The amount credited.
    pub amount: Money,
    /// Must be `HKD`.
    pub currency: String,
    /// The verdict.
    pub status: CreditStatus,
    /// The payer's bank code.
    pub payer_bank: String,
}

impl From<&CreditNotification> for NotificationKind {
    fn from(notification: &CreditNotification) -> Self {
        match notification.status {
            CreditStatus::Credited => NotificationKind::Succeeded {
                amount: notification.amount,
            },
            CreditStatus::Rejected => NotificationKind::Failed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn references_are_short_unique_and_plain() {
        assert_eq!(
            reference_for("0b7c9e5e-1d2f-4a8b-9c3d-5e6f7a8b9c0d").as_deref(),
            Some("F0B7C9E5E1D2F4A8B9C3D5E6F")
        );
        assert_eq!(reference_for("short-1"), None);
        assert_eq!(
            expiry_text(datetime!(2026-11-28 16:30:05 UTC)),
            "261129003005"
        );
    }

    #[test]
    fn notifications_are_typed_strictly() {
        let ok = r#"{"notification_id":"N1","reference":"FABC","amount":"10.00","currency":"HKD","status":"CREDITED","payer_bank":"004"}"#;
        let n: CreditNotification = serde_json::from_str(ok).unwrap();
        assert_eq!(
            NotificationKind::from(&n),
            NotificationKind::Succeeded {
                amount: Money::parse("10").unwrap()
            }
        );
        for bad in [
            ok.replace("\"10.00\"", "\"10.001\""),
            ok.replace("\"10.00\"", "10.00"),
            ok.replace("\"10.00\"", "\"-1\""),
            ok.replace("CREDITED", "credited"),
            ok.replace("}", ",\"extra\":1}"),
            ok.replace(",\"payer_bank\":\"004\"", ""),
        ] {
            assert!(
                serde_json::from_str::<CreditNotification>(&bad).is_err(),
                "{bad}"
            );
        }
    }
}
