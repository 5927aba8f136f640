//! PPS: the citizen pays from a PPS account on the PPS web payment page.
//!
//! [`PpsProvider::start`] makes a signed redirect with the department's
//! merchant (biller) code and the bill account number; PPS sends the
//! citizen back with a signed result ([`transformers::PaymentResult`]),
//! which the gateway receives as the notification. Payments after the
//! 19:00 cut-off on a working day, or on a holiday, settle on the next
//! working day ([`settlement_date`]). PPS web payment offers no enquiry or
//! refund call: unconfirmed attempts expire, refunds are paid by the
//! department outside PPS, and both are reconciled against PPS's
//! settlement file.

pub mod sandbox;
pub mod transformers;

use time::{Date, OffsetDateTime, Time, Weekday};

use self::transformers::{PaymentRequest, PaymentResult};
use super::{
    BoxFuture, MAX_NOTIFICATION_LEN, NextStep, Notification, NotificationError, NotificationKind,
    PaymentProvider, ProviderError, ProviderStatus, RefundOutcome, RefundRequest, StartRequest,
    Started, StatusReport,
};
use crate::bill::Method;

/// The daily cut-off, Hong Kong time.
pub const CUT_OFF: Time = match Time::from_hms(19, 0, 0) {
    Ok(t) => t,
    Err(_) => Time::MIDNIGHT,
};

/// Whether `day` is a working day: Monday to Friday, not a public holiday.
pub fn is_working_day(day: Date, holidays: &[Date]) -> bool {
    !matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) && !holidays.contains(&day)
}

/// The day a PPS payment made at `paid_at` settles: that day if it is a
/// working day and before 19:00 Hong Kong time, else the next working day.
pub fn settlement_date(paid_at: OffsetDateTime, holidays: &[Date]) -> Date {
    let local = paid_at.to_offset(crate::HONG_KONG);
    let mut day = local.date();
    if is_working_day(day, holidays) && local.time() < CUT_OFF {
        return day;
    }
    // At most a few weeks of holidays in a row; the bound keeps a bad
    // holiday list from looping for ever.
    for _ in 0..366 {
        match day.next_day() {
            Some(next) => day = next,
            None => break,
        }
        if is_working_day(day, holidays) {
            break;
        }
    }
    day
}

/// A PPS provider's settings.
#[derive(Clone)]
pub struct PpsConfig {
    /// Provider id on attempts.
    pub provider_id: String,
    /// The PPS web payment page.
    pub pay_url: String,
    /// The department's merchant (biller) code.
    pub merchant_code: String,
    /// The MAC key shared with PPS.
    pub key: Vec<u8>,
    /// Accepted result age, seconds (the result travels through the
    /// citizen's browser: a replay later is refused).
    pub tolerance_secs: i64,
}

impl std::fmt::Debug for PpsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PpsConfig")
            .field("provider_id", &self.provider_id)
            .field("pay_url", &self.pay_url)
            .field("merchant_code", &self.merchant_code)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// PPS web payment.
#[derive(Debug, Clone)]
pub struct PpsProvider {
    config: PpsConfig,
}

impl PpsProvider {
    /// A provider with `config`.
    pub fn new(config: PpsConfig) -> Self {
        Self { config }
    }

    fn redirect(&self, request: &StartRequest) -> Result<Started, ProviderError> {
        let now = request.requested_at.unix_timestamp();
        let pps = PaymentRequest::try_from((request, self.config.merchant_code.as_str(), now))
            .map_err(|e| ProviderError::Invalid {
                provider: self.config.provider_id.clone(),
                detail: e.to_string(),
            })?;
        Ok(Started {
            next: NextStep::Redirect {
                url: format!("{}?{}", self.config.pay_url, pps.to_query(&self.config.key)),
            },
            provider_reference: pps.reference,
            report: StatusReport {
                status: ProviderStatus::Pending,
                raw_status: "REDIRECTED".into(),
            },
        })
    }
}

/// Reads and verifies a PPS result form.
pub fn parse_result(
    body: &[u8],
    key: &[u8],
    now: i64,
    tolerance: i64,
) -> Result<Notification, NotificationError> {
    if body.len() > MAX_NOTIFICATION_LEN {
        return Err(NotificationError::TooLarge);
    }
    let (result, mac) = PaymentResult::from_form(body)
        .ok_or_else(|| NotificationError::Malformed("not a PPS result".into()))?;
    if !result.verify(key, &mac) {
        return Err(NotificationError::BadSignature);
    }
    let age = now.saturating_sub(result.paid_at).saturating_abs();
    if age > tolerance {
        return Err(NotificationError::Stale { age, tolerance });
    }
    Ok(Notification {
        id: result.txn_id.clone(),
        provider_reference: result.reference.clone(),
        kind: NotificationKind::from(&result),
        raw_status: result.code,
        attempt_id: None,
    })
}

impl PaymentProvider for PpsProvider {
    fn id(&self) -> &str {
        &self.config.provider_id
    }

    fn method(&self) -> Method {
        Method::Pps
    }

    fn start<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, Result<Started, ProviderError>> {
        Box::pin(async move { self.redirect(request) })
    }

    fn notification(
        &self,
        _headers: &[(String, String)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Notification, NotificationError> {
        parse_result(
            body,
            &self.config.key,
            now.unix_timestamp(),
            self.config.tolerance_secs,
        )
    }

    fn query<'a>(
        &'a self,
        _reference: &'a str,
    ) -> BoxFuture<'a, Result<StatusReport, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::Unsupported {
                provider: self.config.provider_id.clone(),
                operation: "query",
            })
        })
    }

    fn refund<'a>(
        &'a self,
        _request: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>> {
        Box::pin(async move {
            Err(ProviderError::Unsupported {
                provider: self.config.provider_id.clone(),
                operation: "refund",
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn cut_off_and_holidays_move_settlement() {
        let holidays = [date!(2026 - 12 - 25), date!(2026 - 12 - 26)];
        // Friday 2026-11-27.
        assert_eq!(
            settlement_date(datetime!(2026-11-27 10:59 UTC), &holidays),
            date!(2026 - 11 - 27)
        ); // 18:59 HKT
        assert_eq!(
            settlement_date(datetime!(2026-11-27 11:00 UTC), &holidays),
            date!(2026 - 11 - 30)
        ); // 19:00 HKT -> Monday
        assert_eq!(
            settlement_date(datetime!(2026-11-28 02:00 UTC), &holidays),
            date!(2026 - 11 - 30)
        ); // Saturday
        // Thursday 2026-12-24 after cut-off: Christmas (Fri), Boxing Day, Sunday -> Monday 28th.
        assert_eq!(
            settlement_date(datetime!(2026-12-24 12:00 UTC), &holidays),
            date!(2026 - 12 - 28)
        );
        // Late Sunday UTC is already Monday in Hong Kong.
        assert_eq!(
            settlement_date(datetime!(2026-11-29 17:00 UTC), &holidays),
            date!(2026 - 11 - 30)
        );
    }
}
