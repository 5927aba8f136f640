//! PPS web payment wire types.
//!
//! The gateway sends the citizen to PPS with a signed request in the query
//! string; PPS sends the citizen back with a signed result in a form POST.
//! Both are MACed with HMAC-SHA256 under the merchant's shared key over the
//! fields joined by `|`, in the order listed here, hex-encoded in `mac`.
//! (PPS's own specification is given to merchants under contract; this is
//! the shape of it the gateway and its sandbox speak.)

use ring::hmac;
use subtle::ConstantTimeEq;

use crate::adapters::{NotificationKind, StartRequest};
use crate::money::Money;

/// A PPS response code: approved.
pub const APPROVED: &str = "00";
/// Declined (insufficient funds, account limit).
pub const DECLINED: &str = "51";
/// The citizen cancelled on the PPS page.
pub const CANCELLED: &str = "99";

/// The payment request, as it goes to PPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// The department's PPS merchant (biller) code.
    pub merchant_code: String,
    /// The bill account number the citizen pays (the bill's reference).
    pub bill_account: String,
    /// The amount.
    pub amount: Money,
    /// The attempt's reference, echoed in the result.
    pub reference: String,
    /// Where PPS sends the citizen back.
    pub return_url: String,
    /// When the request was made (Unix seconds).
    pub timestamp: i64,
}

/// Why a request cannot go to PPS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PpsRequestError {
    /// The bill reference is not a valid bill account number.
    #[error("the bill reference is not a PPS bill account number")]
    BadBillAccount,
    /// The attempt id has too few letters and digits.
    #[error("the attempt id cannot make a PPS reference")]
    BadAttemptId,
}

impl TryFrom<(&StartRequest, &str, i64)> for PaymentRequest {
    type Error = PpsRequestError;

    fn try_from(
        (request, merchant_code, timestamp): (&StartRequest, &str, i64),
    ) -> Result<Self, Self::Error> {
        let account = &request.bill_reference;
        if account.is_empty()
            || account.len() > 25
            || !account
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(PpsRequestError::BadBillAccount);
        }
        let reference = crate::adapters::attempt_reference(&request.attempt_id)
            .ok_or(PpsRequestError::BadAttemptId)?;
        Ok(PaymentRequest {
            merchant_code: merchant_code.to_owned(),
            bill_account: account.clone(),
            amount: request.amount,
            reference: format!("P{reference}"),
            return_url: request.return_url.clone(),
            timestamp,
        })
    }
}

/// HMAC-SHA256 of the fields joined by `|`, hex.
pub fn mac(key: &[u8], fields: &[&str]) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        fields.join("|").as_bytes(),
    );
    crate::to_hex(tag.as_ref())
}

/// Whether `given` is the MAC of `fields`, in constant time.
pub fn mac_matches(key: &[u8], fields: &[&str], given: &str) -> bool {
    bool::from(mac(key, fields).as_bytes().ct_eq(given.as_bytes()))
}

impl PaymentRequest {
    fn fields(&self) -> [String; 6] {
        [
            self.merchant_code.clone(),
            self.bill_account.clone(),
            self.amount.to_string(),
            self.reference.clone(),
            self.return_url.clone(),
            self.timestamp.to_string(),
        ]
    }

    /// The query string, MAC included.
    pub fn to_query(&self, key: &[u8]) -> String {
        let fields = self.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        let names = ["merchant", "account", "amount", "ref", "return", "ts"];
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(names.iter().zip(fields.iter()))
            .append_pair("mac", &mac(key, &refs))
            .finish()
    }

    /// Reads and checks a query string made by [`PaymentRequest::to_query`].
    pub fn from_query(query: &str, key: &[u8]) -> Option<PaymentRequest> {
        let pairs = Fields::parse(
            query.as_bytes(),
            &[
                "merchant", "account", "amount", "ref", "return", "ts", "mac",
            ],
        )?;
        let request = PaymentRequest {
            merchant_code: pairs.get("merchant")?,
            bill_account: pairs.get("account")?,
            amount: Money::parse(&pairs.get("amount")?).ok()?,
            reference: pairs.get("ref")?,
            return_url: pairs.get("return")?,
            timestamp: pairs.get("ts")?.parse().ok()?,
        };
        let fields = request.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        mac_matches(key, &refs, &pairs.get("mac")?).then_some(request)
    }
}

/// The result PPS posts back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentResult {
    /// The attempt's reference.
    pub reference: String,
    /// PPS's transaction id.
    pub txn_id: String,
    /// The amount.
    pub amount: Money,
    /// [`APPROVED`], [`DECLINED`] or [`CANCELLED`].
    pub code: String,
    /// When the citizen paid (Unix seconds).
    pub paid_at: i64,
    /// The day PPS settles it (`YYYYMMDD`).
    pub settlement_date: String,
}

const RESULT_NAMES: [&str; 7] = ["ref", "txn", "amount", "code", "paid_at", "settle", "mac"];

impl PaymentResult {
    fn fields(&self) -> [String; 6] {
        [
            self.reference.clone(),
            self.txn_id.clone(),
            self.amount.to_string(),
            self.code.clone(),
            self.paid_at.to_string(),
            self.settlement_date.clone(),
        ]
    }

    /// The form body, MAC included.
    pub fn to_form(&self, key: &[u8]) -> String {
        let fields = self.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(RESULT_NAMES.iter().zip(fields.iter()))
            .append_pair("mac", &mac(key, &refs))
            .finish()
    }

    /// Reads a form body; `None` if a field is missing, repeated, unknown
    /// or unreadable. The MAC is returned for the caller to check.
    pub fn from_form(body: &[u8]) -> Option<(PaymentResult, String)> {
        let pairs = Fields::parse(body, &RESULT_NAMES)?;
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let result = PaymentResult {
            reference: pairs.get("ref")?,
            txn_id: pairs.get("txn")?,
            amount: Money::parse(&pairs.get("amount")?).ok()?,
            code: pairs.get("code")?,
            paid_at: pairs.get("paid_at")?.parse().ok()?,
            settlement_date: pairs.get("settle")?,
        };
        let plain = |s: &str| {
            !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if !plain(&result.reference)
            || !plain(&result.txn_id)
            || !digits(&result.code, 2)
            || !digits(&result.settlement_date, 8)
        {
            return None;
        }
        Some((result, pairs.get("mac")?))
    }

    /// Whether the MAC is right.
    pub fn verify(&self, key: &[u8], given_mac: &str) -> bool {
        let fields = self.fields();
        let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
        mac_matches(key, &refs, given_mac)
    }
}

impl From<&PaymentResult> for NotificationKind {
    fn from(result: &PaymentResult) -> Self {
        match result.code.as_str() {
            APPROVED => NotificationKind::Succeeded {
                amount: result.amount,
            },
            _ => NotificationKind::Failed,
        }
    }
}

/// Form fields, each exactly once, from an allowed set.
struct Fields(Vec<(String, String)>);

impl Fields {
    fn parse(body: &[u8], allowed: &[&str]) -> Option<Fields> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if !allowed.contains(&name.as_ref())
                || pairs.iter().any(|(n, _)| *n == name)
                || pairs.len() >= allowed.len()
            {
                return None;
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Some(Fields(pairs))
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result() -> PaymentResult {
        PaymentResult {
            reference: "P0B7C9E5E1D2F".into(),
            txn_id: "T123".into(),
            amount: Money::parse("50.00").unwrap(),
            code: APPROVED.into(),
            paid_at: 1_795_860_000,
            settlement_date: "20261130".into(),
        }
    }

    #[test]
    fn results_round_trip_and_any_change_breaks_the_mac() {
        let form = result().to_form(b"k");
        let (parsed, mac) = PaymentResult::from_form(form.as_bytes()).unwrap();
        assert_eq!(parsed, result());
        assert!(parsed.verify(b"k", &mac));
        assert!(!parsed.verify(b"other", &mac));
        let tampered = form.replace("amount=50.00", "amount=5.00");
        let (parsed, mac) = PaymentResult::from_form(tampered.as_bytes()).unwrap();
        assert!(!parsed.verify(b"k", &mac));
    }

    #[test]
    fn hostile_forms_are_unreadable() {
        let form = result().to_form(b"k");
        for bad in [
            format!("{form}&ref=P2"),
            format!("{form}&extra=1"),
            form.replace("code=00", "code=0"),
            form.replace("settle=20261130", "settle=2026-11-30"),
            form.replace("amount=50.00", "amount=50.001"),
            form.replace("ref=P0B7C9E5E1D2F", "ref=P0B7%0A"),
            form.replace("&mac=", "&mic="),
        ] {
            assert!(PaymentResult::from_form(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}
