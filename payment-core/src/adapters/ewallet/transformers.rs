//! E-wallets as Stripe payment method types.
//!
//! Apple Pay and Google Pay hand the browser a tokenised card: the
//! PaymentIntent is a card one with that token. AlipayHK and WeChat Pay HK
//! are Stripe's `alipay` and `wechat_pay` types, confirmed at once: Alipay
//! answers with a `redirect_to_url` to the wallet's page, WeChat Pay with a
//! QR code for the WeChat app.

use crate::adapters::card::transformers::{
    CardIntentParams, FormParams, StripeRequestError, common_params,
};
use crate::adapters::{StartRequest, Wallet};

/// Stripe parameters for an e-wallet PaymentIntent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletIntentParams(pub FormParams);

impl TryFrom<&StartRequest> for WalletIntentParams {
    type Error = StripeRequestError;

    fn try_from(request: &StartRequest) -> Result<Self, Self::Error> {
        let wallet = request.wallet.ok_or(StripeRequestError::MissingWallet)?;
        let mut params = match wallet {
            Wallet::ApplePay | Wallet::GooglePay => CardIntentParams::try_from(request)?.0,
            Wallet::AlipayHk => {
                let mut params = common_params(request);
                params.extend([
                    ("payment_method_types[]".into(), "alipay".into()),
                    ("payment_method_data[type]".into(), "alipay".into()),
                    ("return_url".into(), request.return_url.clone()),
                ]);
                params
            }
            Wallet::WechatPay => {
                let mut params = common_params(request);
                params.extend([
                    ("payment_method_types[]".into(), "wechat_pay".into()),
                    ("payment_method_data[type]".into(), "wechat_pay".into()),
                    (
                        "payment_method_options[wechat_pay][client]".into(),
                        "web".into(),
                    ),
                ]);
                params
            }
        };
        let name = match wallet {
            Wallet::ApplePay => "apple_pay",
            Wallet::GooglePay => "google_pay",
            Wallet::AlipayHk => "alipay_hk",
            Wallet::WechatPay => "wechat_pay",
        };
        params.push(("metadata[wallet]".into(), name.into()));
        Ok(WalletIntentParams(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Money;
    use crate::bill::Bilingual;
    use time::macros::datetime;

    fn request(wallet: Option<Wallet>, token: Option<&str>) -> StartRequest {
        StartRequest {
            attempt_id: "att_1".into(),
            department: "wsd".into(),
            bill_reference: "WSD-1".into(),
            amount: Money::parse("88.80").unwrap(),
            description: Bilingual {
                en: "Water".into(),
                zh: "水費".into(),
            },
            return_url: "https://gw.example/pay/return".into(),
            requested_at: datetime!(2026-11-28 08:45 UTC),
            expires_at: datetime!(2026-11-28 09:00 UTC),
            payment_method: token.map(String::from),
            wallet,
        }
    }

    fn value<'a>(params: &'a FormParams, key: &str) -> Vec<&'a str> {
        params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    #[test]
    fn each_wallet_becomes_its_stripe_type() {
        let apple = WalletIntentParams::try_from(&request(Some(Wallet::ApplePay), Some("pm_tok")))
            .unwrap()
            .0;
        assert_eq!(value(&apple, "payment_method_types[]"), ["card"]);
        assert_eq!(value(&apple, "payment_method"), ["pm_tok"]);
        assert_eq!(value(&apple, "amount"), ["8880"]);
        assert_eq!(value(&apple, "metadata[wallet]"), ["apple_pay"]);

        let alipay = WalletIntentParams::try_from(&request(Some(Wallet::AlipayHk), None))
            .unwrap()
            .0;
        assert_eq!(value(&alipay, "payment_method_types[]"), ["alipay"]);
        assert_eq!(
            value(&alipay, "return_url"),
            ["https://gw.example/pay/return"]
        );
        assert!(value(&alipay, "payment_method").is_empty());

        let wechat = WalletIntentParams::try_from(&request(Some(Wallet::WechatPay), None))
            .unwrap()
            .0;
        assert_eq!(
            value(&wechat, "payment_method_options[wechat_pay][client]"),
            ["web"]
        );
        assert_eq!(value(&wechat, "currency"), ["hkd"]);
    }

    #[test]
    fn wallets_need_what_they_need() {
        assert_eq!(
            WalletIntentParams::try_from(&request(None, Some("pm_tok"))),
            Err(StripeRequestError::MissingWallet)
        );
        assert_eq!(
            WalletIntentParams::try_from(&request(Some(Wallet::GooglePay), None)),
            Err(StripeRequestError::MissingPaymentMethod)
        );
        assert_eq!(
            WalletIntentParams::try_from(&request(
                Some(Wallet::GooglePay),
                Some("4242424242424242")
            )),
            Err(StripeRequestError::BadPaymentMethod)
        );
    }
}
