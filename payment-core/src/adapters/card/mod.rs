//! Cards through Stripe's PaymentIntents API.
//!
//! The pay page tokenises the card with Stripe.js (the gateway never sees a
//! card number) and posts the `pm_...` id; [`CardProvider::start`] creates
//! and confirms the PaymentIntent in one call, with the attempt id as
//! Stripe's `Idempotency-Key`, so a retried start never charges twice. A
//! 3-D Secure challenge comes back as `requires_action`; the outcome
//! arrives as a `Stripe-Signature`d webhook and can be queried.
//!
//! [`StripeClient`] is shared with the e-wallet adapter.

pub mod transformers;

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use self::transformers::{
    CardIntentParams, ErrorBody, Event, FormParams, PaymentIntent, Refund, is_stripe_id,
};
use super::{
    BoxFuture, MAX_NOTIFICATION_LEN, Notification, NotificationError, NotificationKind,
    PaymentProvider, ProviderError, RefundOutcome, RefundRequest, StartRequest, Started,
    StatusReport, header, signature,
};
use crate::bill::Method;

/// Largest Stripe answer read.
const MAX_RESPONSE_LEN: usize = 1024 * 1024;

/// How to reach a Stripe account (or the emulator).
#[derive(Clone)]
pub struct StripeConfig {
    /// The provider id on attempts (`stripe-card`, `stripe-ewallet`).
    pub provider_id: String,
    /// `https://api.stripe.com`, or the emulator's loopback address.
    pub api_base: String,
    /// The secret API key (`sk_...`).
    pub secret_key: String,
    /// Webhook signing secrets (`whsec_...`), the newest first.
    pub webhook_secrets: Vec<String>,
    /// Timeout of one API call.
    pub timeout: Duration,
    /// Accepted webhook age, seconds (Stripe's libraries use 300).
    pub tolerance_secs: i64,
}

impl fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeConfig")
            .field("provider_id", &self.provider_id)
            .field("api_base", &self.api_base)
            .field("secret_key", &"[redacted]")
            .field("webhook_secrets", &"[redacted]")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A Stripe API client: form-encoded requests, bounded answers, and errors
/// sorted by whether money may have moved.
#[derive(Debug, Clone)]
pub struct StripeClient {
    config: StripeConfig,
    http: reqwest::Client,
}

impl StripeClient {
    /// A client for `config`.
    pub fn new(config: StripeConfig) -> Result<Self, ProviderError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .map_err(|e| ProviderError::Unreachable {
                provider: config.provider_id.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self { config, http })
    }

    /// The configuration.
    pub fn config(&self) -> &StripeConfig {
        &self.config
    }

    fn provider(&self) -> String {
        self.config.provider_id.clone()
    }

    /// POSTs `params` to `path` with an idempotency key.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        params: &FormParams,
        idempotency_key: &str,
    ) -> Result<T, ProviderError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.iter())
            .finish();
        let request = self
            .http
            .post(format!("{}{path}", self.config.api_base))
            .bearer_auth(&self.config.secret_key)
            .header("Idempotency-Key", idempotency_key)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request).await
    }

    /// GETs `path`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ProviderError> {
        let request = self
            .http
            .get(format!("{}{path}", self.config.api_base))
            .bearer_auth(&self.config.secret_key);
        self.send(request).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ProviderError> {
        let provider = self.provider();
        let mut response = request.send().await.map_err(|e| {
            if e.is_connect() {
                ProviderError::Unreachable {
                    provider: provider.clone(),
                    detail: e.to_string(),
                }
            } else if e.is_timeout() {
                ProviderError::Timeout {
                    provider: provider.clone(),
                }
            } else {
                ProviderError::Ambiguous {
                    provider: provider.clone(),
                    detail: e.to_string(),
                }
            }
        })?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) if body.len() + chunk.len() <= MAX_RESPONSE_LEN => {
                    body.extend_from_slice(&chunk)
                }
                Ok(Some(_)) => {
                    return Err(ProviderError::Ambiguous {
                        provider,
                        detail: "answer too large".into(),
                    });
                }
                Ok(None) => break,
                Err(e) if e.is_timeout() => return Err(ProviderError::Timeout { provider }),
                Err(e) => {
                    return Err(ProviderError::Ambiguous {
                        provider,
                        detail: e.to_string(),
                    });
                }
            }
        }
        let error = || {
            serde_json::from_slice::<ErrorBody>(&body)
                .map(|b| b.error)
                .unwrap_or_default()
        };
        match status {
            200..=299 => serde_json::from_slice(&body).map_err(|e| ProviderError::Ambiguous {
                provider,
                detail: format!("unreadable answer: {e}"),
            }),
            402 => Err(ProviderError::Declined {
                provider,
                code: error().reason(),
            }),
            429 => Err(ProviderError::Unavailable { provider, status }),
            400..=499 => Err(ProviderError::Invalid {
                provider,
                detail: format!(
                    "HTTP {status}: {}",
                    error().message.unwrap_or_else(|| "no message".into())
                ),
            }),
            // Stripe: a 5xx may or may not have been processed.
            _ => Err(ProviderError::Ambiguous {
                provider,
                detail: format!("HTTP {status}"),
            }),
        }
    }

    /// Retrieves a PaymentIntent.
    pub async fn payment_intent(&self, id: &str) -> Result<PaymentIntent, ProviderError> {
        if !is_stripe_id(id, "pi_") {
            return Err(ProviderError::Invalid {
                provider: self.provider(),
                detail: "not a PaymentIntent id".into(),
            });
        }
        self.get(&format!("/v1/payment_intents/{id}")).await
    }

    /// Creates (and confirms) a PaymentIntent; `key` is the attempt id.
    pub async fn create_intent(
        &self,
        params: &FormParams,
        key: &str,
    ) -> Result<Started, ProviderError> {
        let intent: PaymentIntent = self.post("/v1/payment_intents", params, key).await?;
        Ok(Started {
            provider_reference: intent.id.clone(),
            next: (&intent).into(),
            report: (&intent).into(),
        })
    }

    /// Refunds part or all of a PaymentIntent.
    pub async fn refund(&self, request: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        if !is_stripe_id(&request.provider_reference, "pi_") {
            return Err(ProviderError::Invalid {
                provider: self.provider(),
                detail: "not a PaymentIntent id".into(),
            });
        }
        let params: FormParams = vec![
            ("payment_intent".into(), request.provider_reference.clone()),
            ("amount".into(), request.amount.cents().to_string()),
            ("metadata[refund_id]".into(), request.refund_id.clone()),
        ];
        let refund: Refund = self
            .post("/v1/refunds", &params, &request.refund_id)
            .await?;
        Ok(RefundOutcome {
            succeeded: refund.status == "succeeded",
            provider_refund_id: refund.id,
            raw_status: refund.status,
        })
    }

    /// Verifies a webhook's `Stripe-Signature` and reads its event.
    pub fn webhook(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Notification, NotificationError> {
        if body.len() > MAX_NOTIFICATION_LEN {
            return Err(NotificationError::TooLarge);
        }
        let value =
            header(headers, "stripe-signature").ok_or(NotificationError::MissingSignature)?;
        let secrets: Vec<&[u8]> = self
            .config
            .webhook_secrets
            .iter()
            .map(|s| s.as_bytes())
            .collect();
        signature::verify_hmac(
            value,
            body,
            &secrets,
            now.unix_timestamp(),
            self.config.tolerance_secs,
        )?;
        parse_event(body)
    }
}

/// Reads a verified Stripe event body.
pub fn parse_event(body: &[u8]) -> Result<Notification, NotificationError> {
    let malformed = |what: &str| NotificationError::Malformed(what.into());
    let event: Event = serde_json::from_slice(body).map_err(|_| malformed("not a Stripe event"))?;
    if !is_stripe_id(&event.id, "evt_") {
        return Err(malformed("bad event id"));
    }
    let intent = || -> Result<PaymentIntent, NotificationError> {
        let intent: PaymentIntent = serde_json::from_value(event.data.object.clone())
            .map_err(|_| malformed("not a PaymentIntent"))?;
        if !is_stripe_id(&intent.id, "pi_") {
            return Err(malformed("bad PaymentIntent id"));
        }
        Ok(intent)
    };
    let mut attempt_id = None;
    // Our attempt id, echoed in the intent's metadata (letters, digits, `_`).
    let mut echoed = |intent: &PaymentIntent| {
        attempt_id = intent
            .metadata
            .get("attempt_id")
            .filter(|a| {
                !a.is_empty()
                    && a.len() <= 64
                    && a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            })
            .cloned();
    };
    let (provider_reference, kind, raw_status) = match event.kind.as_str() {
        "payment_intent.succeeded" => {
            let intent = intent()?;
            echoed(&intent);
            match StatusReport::from(&intent).status {
                super::ProviderStatus::Succeeded { amount } => (
                    intent.id,
                    NotificationKind::Succeeded { amount },
                    intent.status,
                ),
                _ => {
                    return Err(malformed(
                        "a success event for an intent that did not succeed",
                    ));
                }
            }
        }
        "payment_intent.payment_failed" | "payment_intent.canceled" => {
            let intent = intent()?;
            echoed(&intent);
            let raw = intent
                .last_payment_error
                .as_ref()
                .map(|e| e.reason())
                .unwrap_or_else(|| intent.status.clone());
            (intent.id, NotificationKind::Failed, raw)
        }
        _ => {
            let id = event
                .data
                .object
                .get("id")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .chars()
                .take(255)
                .collect();
            (
                id,
                NotificationKind::Ignored,
                event.kind.chars().take(64).collect(),
            )
        }
    };
    Ok(Notification {
        id: event.id,
        provider_reference,
        kind,
        raw_status,
        attempt_id,
    })
}

/// Card payments through Stripe.
#[derive(Debug, Clone)]
pub struct CardProvider {
    client: StripeClient,
}

impl CardProvider {
    /// A card provider on `client`.
    pub fn new(client: StripeClient) -> Self {
        Self { client }
    }
}

impl PaymentProvider for CardProvider {
    fn id(&self) -> &str {
        &self.client.config.provider_id
    }

    fn method(&self) -> Method {
        Method::Card
    }

    fn start<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, Result<Started, ProviderError>> {
        Box::pin(async move {
            let params =
                CardIntentParams::try_from(request).map_err(|e| ProviderError::Invalid {
                    provider: self.client.provider(),
                    detail: e.to_string(),
                })?;
            self.client
                .create_intent(&params.0, &request.attempt_id)
                .await
        })
    }

    fn notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Notification, NotificationError> {
        self.client.webhook(headers, body, now)
    }

    fn query<'a>(
        &'a self,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<StatusReport, ProviderError>> {
        Box::pin(async move { Ok((&self.client.payment_intent(reference).await?).into()) })
    }

    fn refund<'a>(
        &'a self,
        request: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundOutcome, ProviderError>> {
        Box::pin(self.client.refund(request))
    }
}
