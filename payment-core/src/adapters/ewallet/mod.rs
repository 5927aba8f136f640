//! E-wallets (Apple Pay, Google Pay, AlipayHK, WeChat Pay HK) through the
//! same Stripe account as cards, each as its Stripe payment method type
//! (see [`transformers`]). Webhooks, queries and refunds are the card
//! adapter's.

pub mod transformers;

use time::OffsetDateTime;

use self::transformers::WalletIntentParams;
use super::card::StripeClient;
use super::{
    BoxFuture, Notification, NotificationError, PaymentProvider, ProviderError, RefundOutcome,
    RefundRequest, StartRequest, Started, StatusReport,
};
use crate::bill::Method;

/// E-wallet payments through Stripe.
#[derive(Debug, Clone)]
pub struct EwalletProvider {
    client: StripeClient,
}

impl EwalletProvider {
    /// An e-wallet provider on `client`.
    pub fn new(client: StripeClient) -> Self {
        Self { client }
    }
}

impl PaymentProvider for EwalletProvider {
    fn id(&self) -> &str {
        &self.client.config().provider_id
    }

    fn method(&self) -> Method {
        Method::Ewallet
    }

    fn start<'a>(
        &'a self,
        request: &'a StartRequest,
    ) -> BoxFuture<'a, Result<Started, ProviderError>> {
        Box::pin(async move {
            let params =
                WalletIntentParams::try_from(request).map_err(|e| ProviderError::Invalid {
                    provider: self.id().to_owned(),
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
