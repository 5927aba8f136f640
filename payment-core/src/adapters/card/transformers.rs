//! Stripe PaymentIntents wire types, and the mapping between them and ours.
//!
//! Amounts travel in cents (HKD has two decimals); Stripe's objects are
//! read leniently (unknown fields ignored) but every field we act on is
//! typed, and amounts become [`Money`] while parsing, so that the status
//! mapping cannot fail.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::adapters::{NextStep, ProviderStatus, StartRequest, StatusReport};
use crate::money::Money;

/// Form parameters of a Stripe request, in order.
pub type FormParams = Vec<(String, String)>;

/// Why a [`StartRequest`] cannot become a Stripe request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StripeRequestError {
    /// Card payments need the payment method token made in the browser.
    #[error("a card payment needs a payment method token (pm_... or card_...)")]
    MissingPaymentMethod,
    /// The token is not a Stripe payment method id.
    #[error("the payment method token is not a Stripe id")]
    BadPaymentMethod,
    /// An e-wallet payment needs the wallet.
    #[error("an e-wallet payment needs the wallet")]
    MissingWallet,
}

/// Whether `id` looks like a Stripe object id with `prefix` (also keeps
/// our URL paths free of anything but `[A-Za-z0-9_]`).
pub fn is_stripe_id(id: &str, prefix: &str) -> bool {
    id.len() <= 255
        && id.starts_with(prefix)
        && id.len() > prefix.len()
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The parameters every PaymentIntent the gateway makes carries.
pub(crate) fn common_params(request: &StartRequest) -> FormParams {
    vec![
        ("amount".into(), request.amount.cents().to_string()),
        ("currency".into(), "hkd".into()),
        ("confirm".into(), "true".into()),
        ("metadata[attempt_id]".into(), request.attempt_id.clone()),
        ("metadata[department]".into(), request.department.clone()),
        (
            "metadata[bill_reference]".into(),
            request.bill_reference.clone(),
        ),
    ]
}

/// A card PaymentIntent: created and confirmed at once with the payment
/// method the browser tokenised (Stripe's server-side confirmation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardIntentParams(pub FormParams);

impl TryFrom<&StartRequest> for CardIntentParams {
    type Error = StripeRequestError;

    fn try_from(request: &StartRequest) -> Result<Self, Self::Error> {
        let method = request
            .payment_method
            .as_deref()
            .ok_or(StripeRequestError::MissingPaymentMethod)?;
        // A PaymentMethod (Stripe.js `createPaymentMethod`), or the card of
        // a token (`/v1/tokens` with the publishable key), which Stripe
        // accepts as a payment method too.
        if !is_stripe_id(method, "pm_") && !is_stripe_id(method, "card_") {
            return Err(StripeRequestError::BadPaymentMethod);
        }
        let mut params = common_params(request);
        params.push(("payment_method".into(), method.into()));
        params.push(("payment_method_types[]".into(), "card".into()));
        Ok(CardIntentParams(params))
    }
}

fn money_from_cents<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
    let cents = u64::deserialize(d)?;
    Money::from_cents(cents).map_err(serde::de::Error::custom)
}

fn optional_money_from_cents<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Money>, D::Error> {
    Option::<u64>::deserialize(d)?
        .map(|cents| Money::from_cents(cents).map_err(serde::de::Error::custom))
        .transpose()
}

/// Stripe's `redirect_to_url` next action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RedirectToUrl {
    /// Where the citizen goes for the challenge.
    pub url: String,
}

/// WeChat Pay's QR next action.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WechatQr {
    /// The `weixin://` link the QR code carries.
    pub data: String,
}

/// What Stripe wants done before the payment can finish.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NextAction {
    /// `redirect_to_url`, `use_stripe_sdk`, `wechat_pay_display_qr_code`...
    #[serde(rename = "type")]
    pub kind: String,
    /// For `redirect_to_url`.
    pub redirect_to_url: Option<RedirectToUrl>,
    /// For `wechat_pay_display_qr_code`.
    pub wechat_pay_display_qr_code: Option<WechatQr>,
}

/// Stripe's error object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct StripeError {
    /// `card_declined`, `payment_intent_authentication_failure`, ...
    pub code: Option<String>,
    /// The issuer's reason, for card declines.
    pub decline_code: Option<String>,
    /// Human-readable text (logged, never shown to the citizen as is).
    pub message: Option<String>,
}

impl StripeError {
    /// The most specific code given.
    pub fn reason(&self) -> String {
        self.decline_code
            .clone()
            .or_else(|| self.code.clone())
            .unwrap_or_else(|| "unknown".into())
    }
}

/// Stripe's error envelope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: StripeError,
}

/// A Stripe PaymentIntent, as far as the gateway reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    /// `pi_...`.
    pub id: String,
    /// Stripe's status.
    pub status: String,
    /// The amount asked.
    #[serde(deserialize_with = "money_from_cents")]
    pub amount: Money,
    /// The amount taken (Stripe sends it; older emulators do not).
    #[serde(default, deserialize_with = "optional_money_from_cents")]
    pub amount_received: Option<Money>,
    /// Must be `hkd`.
    pub currency: String,
    /// For Stripe.js on the pay page.
    pub client_secret: Option<String>,
    /// What the citizen must do.
    pub next_action: Option<NextAction>,
    /// Why the last try failed.
    pub last_payment_error: Option<StripeError>,
    /// Our metadata, echoed.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

impl From<&PaymentIntent> for StatusReport {
    fn from(intent: &PaymentIntent) -> Self {
        let status = match intent.status.as_str() {
            "succeeded" if intent.currency == "hkd" => ProviderStatus::Succeeded {
                amount: intent.amount_received.unwrap_or(intent.amount),
            },
            "succeeded" => ProviderStatus::Failed {
                reason: format!(
                    "currency_{}",
                    intent.currency.chars().take(8).collect::<String>()
                ),
            },
            "canceled" => ProviderStatus::Cancelled,
            "requires_payment_method" => match &intent.last_payment_error {
                Some(error) => ProviderStatus::Failed {
                    reason: error.reason(),
                },
                None => ProviderStatus::Pending,
            },
            // requires_confirmation, requires_action, processing,
            // requires_capture, and anything Stripe adds later.
            _ => ProviderStatus::Pending,
        };
        StatusReport {
            status,
            raw_status: intent.status.clone(),
        }
    }
}

impl From<&PaymentIntent> for NextStep {
    fn from(intent: &PaymentIntent) -> Self {
        match (&intent.next_action, &intent.client_secret) {
            (Some(action), _) if action.redirect_to_url.is_some() => NextStep::Redirect {
                url: action
                    .redirect_to_url
                    .as_ref()
                    .map(|r| r.url.clone())
                    .unwrap_or_default(),
            },
            (Some(action), _) if action.wechat_pay_display_qr_code.is_some() => NextStep::ShowQr {
                payload: action
                    .wechat_pay_display_qr_code
                    .as_ref()
                    .map(|q| q.data.clone())
                    .unwrap_or_default(),
            },
            (Some(_), Some(secret)) => NextStep::AcquirerAction {
                client_secret: secret.clone(),
            },
            _ => NextStep::None,
        }
    }
}

/// A Stripe refund.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    /// `re_...`.
    pub id: String,
    /// `succeeded`, `pending`, `failed`, ...
    pub status: String,
}

/// The object inside an event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventData {
    /// The object, kept raw until the event type says what it is.
    pub object: serde_json::Value,
}

/// A Stripe event (the body of a webhook).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// `evt_...` (duplicates share it).
    pub id: String,
    /// `payment_intent.succeeded`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The object.
    pub data: EventData,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(json: serde_json::Value) -> PaymentIntent {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn statuses_map_to_ours() {
        let base = |status: &str| {
            serde_json::json!({"id": "pi_1", "status": status, "amount": 12345, "currency": "hkd",
                "client_secret": "pi_1_secret_x"})
        };
        let report = |json| StatusReport::from(&intent(json)).status;
        assert_eq!(
            report(base("succeeded")),
            ProviderStatus::Succeeded {
                amount: Money::parse("123.45").unwrap()
            }
        );
        assert_eq!(report(base("processing")), ProviderStatus::Pending);
        assert_eq!(report(base("requires_action")), ProviderStatus::Pending);
        assert_eq!(report(base("canceled")), ProviderStatus::Cancelled);
        assert_eq!(
            report(base("requires_payment_method")),
            ProviderStatus::Pending
        );
        let mut failed = base("requires_payment_method");
        failed["last_payment_error"] =
            serde_json::json!({"code": "card_declined", "decline_code": "insufficient_funds"});
        assert_eq!(
            report(failed),
            ProviderStatus::Failed {
                reason: "insufficient_funds".into()
            }
        );
        let mut usd = base("succeeded");
        usd["currency"] = "usd".into();
        assert!(matches!(report(usd), ProviderStatus::Failed { .. }));
        // Amounts Stripe could never send are a parse error, not a wrap.
        let mut huge = base("succeeded");
        huge["amount"] = serde_json::json!(u64::MAX);
        assert!(serde_json::from_value::<PaymentIntent>(huge).is_err());
    }

    #[test]
    fn next_steps_follow_the_action_stripe_names() {
        let mut json = serde_json::json!({"id": "pi_1", "status": "requires_action", "amount": 100,
            "currency": "hkd", "client_secret": "pi_1_secret_x",
            "next_action": {"type": "use_stripe_sdk", "use_stripe_sdk": {}}});
        assert_eq!(
            NextStep::from(&intent(json.clone())),
            NextStep::AcquirerAction {
                client_secret: "pi_1_secret_x".into()
            }
        );
        json["next_action"] = serde_json::json!({"type": "redirect_to_url",
            "redirect_to_url": {"url": "https://hooks.stripe.com/3ds", "return_url": "https://g/"}});
        assert_eq!(
            NextStep::from(&intent(json.clone())),
            NextStep::Redirect {
                url: "https://hooks.stripe.com/3ds".into()
            }
        );
        json["next_action"] = serde_json::Value::Null;
        assert_eq!(NextStep::from(&intent(json)), NextStep::None);
    }

    #[test]
    fn stripe_ids_keep_paths_clean() {
        assert!(is_stripe_id("pm_1Qx9", "pm_"));
        assert!(is_stripe_id("card_aCvl4AZ1AYTbtq", "card_"));
        for bad in [
            "pm_",
            "pi_1",
            "pm_../x",
            "pm_1?x=1",
            "pm_1/",
            &format!("pm_{}", "a".repeat(300)),
        ] {
            assert!(!is_stripe_id(bad, "pm_"), "{bad}");
        }
    }
}
