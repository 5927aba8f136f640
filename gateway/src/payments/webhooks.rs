//! Delivering the webhook outbox to departments.
//!
//! Each event is POSTed to the department's endpoint with
//! `Gateway-Signature: t=<unix>,v1=<hex>` (one `v1` per active secret,
//! `payment_core::webhook`) and `Gateway-Event-Id`. A 2xx answer delivers
//! it; anything else (or no answer in time) retries it with exponential
//! backoff and full jitter, for `payments.webhook_retry_hours`; then it is
//! marked failed, which the department sees and can redeliver. Delivery
//! is at least once: a department must treat the event id as the
//! idempotency key.
//!
//! Several gateway processes may deliver from one PostgreSQL database:
//! each claims due events with a lease (`FOR UPDATE SKIP LOCKED`), so an
//! event is sent by one process at a time, and again only if the lease
//! ran out without an answer recorded.

use std::time::Duration;

use time::OffsetDateTime;

use crate::store::Db;
use crate::store::payments::EventRow;

/// Longest backoff between two attempts.
pub const MAX_BACKOFF_SECS: i64 = 6 * 3600;
/// The first backoff.
pub const FIRST_BACKOFF_SECS: i64 = 10;
/// Events one worker claims at a time.
const BATCH: i64 = 20;

/// The delay before attempt `attempts + 1`, before jitter: 10 s doubling
/// up to 6 h.
pub fn backoff_secs(attempts: i64) -> i64 {
    let exponent = u32::try_from(attempts.clamp(1, 32) - 1).unwrap_or(31);
    FIRST_BACKOFF_SECS
        .saturating_mul(2_i64.saturating_pow(exponent))
        .min(MAX_BACKOFF_SECS)
}

/// "Full jitter": a random delay between half the backoff and all of it,
/// so that retries from many events do not arrive together.
fn jittered(secs: i64) -> i64 {
    let mut byte = [0u8; 2];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut byte);
    let fraction = i64::from(u16::from_le_bytes(byte));
    let half = secs / 2;
    half + (half * fraction) / i64::from(u16::MAX)
}

/// Sends webhook events.
#[derive(Debug, Clone)]
pub struct Deliverer {
    http: reqwest::Client,
    timeout: Duration,
    retry_secs: i64,
    kek: Option<std::sync::Arc<eid_core::oidc::KeyEncryptionKey>>,
}

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Events the department acknowledged.
    pub delivered: usize,
    /// Events to try again later.
    pub retrying: usize,
    /// Events given up on.
    pub failed: usize,
}

impl Deliverer {
    /// A deliverer with a time limit per delivery and a retry window, that
    /// opens the departments' webhook secrets with `kek`
    /// (`keys.encryption_key`; without it nothing can be signed, and events
    /// wait).
    pub fn new(
        timeout: Duration,
        retry_hours: u64,
        kek: Option<std::sync::Arc<eid_core::oidc::KeyEncryptionKey>>,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("eid-gateway-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self {
            http,
            timeout,
            retry_secs: i64::try_from(retry_hours.saturating_mul(3600)).unwrap_or(i64::MAX),
            kek,
        }
    }

    /// The deliverer the settings describe.
    pub fn from_config(config: &crate::config::Config) -> Self {
        let kek = config
            .keys
            .encryption_key
            .as_ref()
            .and_then(|k| eid_core::oidc::KeyEncryptionKey::from_base64(k).ok())
            .map(std::sync::Arc::new);
        Self::new(
            Duration::from_secs(config.payments.webhook_timeout_secs),
            config.payments.webhook_retry_hours,
            kek,
        )
    }

    /// Claims the events due at `now` and tries each once.
    pub async fn round(&self, db: &Db, now: OffsetDateTime) -> Result<Round, eid_core::StoreError> {
        let unix = now.unix_timestamp();
        // The lease outlasts a delivery's time limit.
        let lease = unix + i64::try_from(self.timeout.as_secs()).unwrap_or(60) * 2 + 30;
        let events = db.claim_webhook_events(unix, lease, BATCH).await?;
        let mut round = Round::default();
        for event in events {
            match self.send(db, &event, now).await {
                Ok(()) => {
                    db.webhook_delivered(&event.id, OffsetDateTime::now_utc().unix_timestamp())
                        .await?;
                    round.delivered += 1;
                }
                Err(error) => {
                    let next = unix + jittered(backoff_secs(event.attempts));
                    let give_up = next > event.created_at.saturating_add(self.retry_secs);
                    tracing::info!(
                        event = %event.id,
                        attempts = event.attempts,
                        give_up,
                        %error,
                        "webhook not delivered"
                    );
                    db.webhook_failed(&event.id, &error, next, give_up).await?;
                    if give_up {
                        round.failed += 1;
                    } else {
                        round.retrying += 1;
                    }
                }
            }
        }
        Ok(round)
    }

    async fn send(&self, db: &Db, event: &EventRow, now: OffsetDateTime) -> Result<(), String> {
        let kek = self
            .kek
            .as_deref()
            .ok_or("keys.encryption_key is not set, so webhook secrets cannot be opened")?;
        let endpoint = db
            .webhook_endpoint(&event.department, kek)
            .await
            .map_err(|e| format!("storage: {e}"))?
            .ok_or("the department has no webhook endpoint")?;
        let secrets: Vec<&[u8]> = endpoint.secrets.iter().map(|s| s.as_bytes()).collect();
        if secrets.is_empty() {
            return Err("the department's webhook endpoint has no secret".into());
        }
        let signature =
            payment_core::webhook::sign(&secrets, now.unix_timestamp(), event.body.as_bytes());
        let response = self
            .http
            .post(&endpoint.url)
            .header("content-type", "application/json")
            .header(payment_core::webhook::HEADER, signature)
            .header("gateway-event-id", &event.id)
            .body(event.body.clone())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "no answer in time".to_owned()
                } else if e.is_connect() {
                    "connection refused or unreachable".to_owned()
                } else {
                    "request failed".to_owned()
                }
            })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_ceiling_and_jitter_stays_within_it() {
        assert_eq!(backoff_secs(1), 10);
        assert_eq!(backoff_secs(2), 20);
        assert_eq!(backoff_secs(5), 160);
        assert_eq!(backoff_secs(30), MAX_BACKOFF_SECS);
        assert_eq!(backoff_secs(i64::MAX), MAX_BACKOFF_SECS);
        for attempts in 1..40 {
            let base = backoff_secs(attempts);
            let delay = jittered(base);
            assert!(delay >= base / 2 && delay <= base, "{delay} for {base}");
        }
        // 72 hours of retries is about 19 attempts.
        let mut total = 0;
        let mut attempts = 0;
        while total < 72 * 3600 {
            attempts += 1;
            total += backoff_secs(attempts);
        }
        assert!((15..=25).contains(&attempts), "{attempts}");
    }
}
