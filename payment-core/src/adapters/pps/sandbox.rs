//! A sandbox PPS web payment page: it checks the gateway's signed redirect
//! (forged, altered or stale redirects are refused, as PPS refuses them),
//! lets the citizen approve, be declined or cancel, and returns the signed
//! result the gateway receives, with the settlement date after the cut-off.

use std::sync::Mutex;

use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::settlement_date;
use super::transformers::{APPROVED, CANCELLED, DECLINED, PaymentRequest, PaymentResult};

/// How long a redirect stays valid at PPS.
pub const REQUEST_LIFETIME_SECS: i64 = 15 * 60;

/// What the citizen does on the PPS page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PpsOutcome {
    /// Pays.
    Approve,
    /// Is declined (insufficient funds).
    Decline,
    /// Cancels.
    Cancel,
}

/// Why the sandbox refused a redirect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PpsSandboxError {
    /// No query string, a bad MAC, or fields that do not parse.
    #[error("the payment request is not signed by the merchant")]
    BadRequest,
    /// Another merchant's request.
    #[error("the payment request is for another merchant")]
    WrongMerchant,
    /// Older than [`REQUEST_LIFETIME_SECS`].
    #[error("the payment request has expired")]
    Expired,
}

/// The sandbox.
#[derive(Debug)]
pub struct PpsSandbox {
    merchant_code: String,
    key: Vec<u8>,
    holidays: Vec<Date>,
    sequence: Mutex<u64>,
}

impl PpsSandbox {
    /// A sandbox for one merchant, sharing `key` with it.
    pub fn new(merchant_code: &str, key: &[u8], holidays: Vec<Date>) -> Self {
        Self {
            merchant_code: merchant_code.to_owned(),
            key: key.to_vec(),
            holidays,
            sequence: Mutex::new(0),
        }
    }

    /// The citizen arrives from the gateway's redirect `url`.
    pub fn open(&self, url: &str, now: OffsetDateTime) -> Result<PaymentRequest, PpsSandboxError> {
        let query = url
            .split_once('?')
            .map(|(_, q)| q)
            .ok_or(PpsSandboxError::BadRequest)?;
        let request =
            PaymentRequest::from_query(query, &self.key).ok_or(PpsSandboxError::BadRequest)?;
        if request.merchant_code != self.merchant_code {
            return Err(PpsSandboxError::WrongMerchant);
        }
        let age = now.unix_timestamp().saturating_sub(request.timestamp);
        if !(-60..=REQUEST_LIFETIME_SECS).contains(&age) {
            return Err(PpsSandboxError::Expired);
        }
        Ok(request)
    }

    /// The citizen finishes at `now`: returns where the browser goes and the
    /// signed form it posts there.
    pub fn finish(
        &self,
        url: &str,
        outcome: PpsOutcome,
        now: OffsetDateTime,
    ) -> Result<(String, String), PpsSandboxError> {
        let request = self.open(url, now)?;
        let txn = {
            let mut sequence = self.sequence.lock().unwrap_or_else(|p| p.into_inner());
            *sequence += 1;
            *sequence
        };
        let format = format_description!("[year][month][day]");
        let result = PaymentResult {
            reference: request.reference,
            txn_id: format!("PPS{txn:010}"),
            amount: request.amount,
            code: match outcome {
                PpsOutcome::Approve => APPROVED,
                PpsOutcome::Decline => DECLINED,
                PpsOutcome::Cancel => CANCELLED,
            }
            .into(),
            paid_at: now.unix_timestamp(),
            settlement_date: settlement_date(now, &self.holidays)
                .format(&format)
                .unwrap_or_default(),
        };
        Ok((request.return_url, result.to_form(&self.key)))
    }
}
