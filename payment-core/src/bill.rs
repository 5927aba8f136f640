//! A department's bill: what is owed, for what, by when, and how it may be
//! paid. Checked on construction, so that a `Bill` that exists is one the
//! gateway can show, encode in an FPS code and hand to any provider.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::money::Money;

/// Longest bill reference: it must fit FPS field 62/01 (25 characters).
pub const MAX_REFERENCE_LEN: usize = 25;
/// Longest description, per language, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 200;
/// Longest return URL.
pub const MAX_RETURN_URL_LEN: usize = 2048;
/// Most metadata entries.
pub const MAX_METADATA_ENTRIES: usize = 20;
/// Longest metadata key (characters).
pub const MAX_METADATA_KEY_LEN: usize = 40;
/// Longest metadata value (characters).
pub const MAX_METADATA_VALUE_LEN: usize = 500;

/// A way to pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Faster Payment System QR code, paid from any banking or wallet app.
    Fps,
    /// PPS: biller code and bill account number, paid from a PPS account.
    Pps,
    /// Credit or debit card, through the acquirer.
    Card,
    /// Apple Pay, Google Pay, AlipayHK, WeChat Pay HK, through the acquirer.
    Ewallet,
}

impl Method {
    /// Every method, in the order the pay page offers them.
    pub const ALL: [Method; 4] = [Method::Fps, Method::Pps, Method::Card, Method::Ewallet];

    /// The wire name (`fps`, `pps`, `card`, `ewallet`).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Fps => "fps",
            Method::Pps => "pps",
            Method::Card => "card",
            Method::Ewallet => "ewallet",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = BillError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str() == text)
            .ok_or_else(|| BillError::UnknownMethod(text.chars().take(32).collect()))
    }
}

/// Text in English and Traditional Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bilingual {
    /// English.
    pub en: String,
    /// Traditional Chinese (zh-HK).
    pub zh: String,
}

/// Why a bill was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BillError {
    /// The reference is empty, too long, or has characters other than
    /// `A-Z a-z 0-9 - / .` (it is printed on receipts and put in QR codes).
    #[error("the bill reference must be 1 to {MAX_REFERENCE_LEN} of A-Z a-z 0-9 - / .")]
    BadReference,
    /// The amount is zero.
    #[error("the bill amount must be more than zero")]
    ZeroAmount,
    /// A description is empty, too long, or has control characters.
    #[error("the {language} description must be 1 to {MAX_DESCRIPTION_LEN} printable characters")]
    BadDescription {
        /// `en` or `zh`.
        language: &'static str,
    },
    /// No payment method allowed.
    #[error("at least one payment method must be allowed")]
    NoMethods,
    /// A method name that is not `fps`, `pps`, `card` or `ewallet`.
    #[error("unknown payment method {0:?}")]
    UnknownMethod(String),
    /// The return URL is not https (or http on localhost), or too long, or
    /// carries a fragment or credentials.
    #[error("the return URL must be an https URL without fragment or credentials")]
    BadReturnUrl,
    /// Too many metadata entries, or a key or value too long.
    #[error(
        "metadata allows {MAX_METADATA_ENTRIES} entries, keys up to {MAX_METADATA_KEY_LEN} and values up to {MAX_METADATA_VALUE_LEN} characters"
    )]
    BadMetadata,
    /// The due date is before the bill was issued.
    #[error("the due date {due} is before the issue date {issued}")]
    DueBeforeIssue {
        /// The due date.
        due: Date,
        /// The issue date.
        issued: Date,
    },
}

// Dates travel as `YYYY-MM-DD`.
time::serde::format_description!(iso_date, Date, "[year]-[month]-[day]");

/// A bill as the department asks for it; [`Bill::new`] checks it. Unknown
/// fields are refused (a misspelt field would otherwise be lost quietly).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BillRequest {
    /// The department's own reference (shown to the citizen, unique per
    /// department).
    pub reference: String,
    /// What is owed.
    pub amount: Money,
    /// What it is for.
    pub description: Bilingual,
    /// The last day to pay (Hong Kong date, `YYYY-MM-DD`).
    #[serde(with = "iso_date")]
    pub due_date: Date,
    /// How it may be paid.
    pub methods: Vec<Method>,
    /// Where the citizen goes after paying.
    pub return_url: String,
    /// The department's own key-value data, returned as given.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A checked bill of one department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    /// The department (its client id).
    pub department: String,
    /// The department's reference.
    pub reference: String,
    /// What is owed.
    pub amount: Money,
    /// What it is for.
    pub description: Bilingual,
    /// The last day to pay.
    #[serde(with = "iso_date")]
    pub due_date: Date,
    /// How it may be paid, without duplicates, in [`Method::ALL`] order.
    pub methods: Vec<Method>,
    /// Where the citizen goes after paying.
    pub return_url: String,
    /// The department's data.
    pub metadata: BTreeMap<String, String>,
    /// When the gateway accepted it.
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
}

fn printable(text: &str, max: usize) -> bool {
    let count = text.chars().count();
    count > 0 && count <= max && !text.chars().any(char::is_control)
}

/// Whether `reference` can go on a receipt and into FPS field 62.
pub fn valid_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference.len() <= MAX_REFERENCE_LEN
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'.'))
}

fn valid_return_url(url: &str) -> bool {
    if url.len() > MAX_RETURN_URL_LEN || url.contains('#') || url.chars().any(|c| c <= ' ') {
        return false;
    }
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or("");
        let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
        if !matches!(host, "localhost" | "127.0.0.1" | "[::1]") {
            return false;
        }
        rest
    } else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    !authority.is_empty() && !authority.contains('@')
}

impl Bill {
    /// Checks `request` from `department`, accepted at `now`.
    pub fn new(
        department: &str,
        request: BillRequest,
        now: OffsetDateTime,
    ) -> Result<Bill, BillError> {
        if !valid_reference(&request.reference) {
            return Err(BillError::BadReference);
        }
        if request.amount == Money::ZERO {
            return Err(BillError::ZeroAmount);
        }
        if !printable(&request.description.en, MAX_DESCRIPTION_LEN) {
            return Err(BillError::BadDescription { language: "en" });
        }
        if !printable(&request.description.zh, MAX_DESCRIPTION_LEN) {
            return Err(BillError::BadDescription { language: "zh" });
        }
        let methods: Vec<Method> = Method::ALL
            .into_iter()
            .filter(|m| request.methods.contains(m))
            .collect();
        if methods.is_empty() {
            return Err(BillError::NoMethods);
        }
        if !valid_return_url(&request.return_url) {
            return Err(BillError::BadReturnUrl);
        }
        if request.metadata.len() > MAX_METADATA_ENTRIES
            || request.metadata.iter().any(|(k, v)| {
                !printable(k, MAX_METADATA_KEY_LEN) || v.chars().count() > MAX_METADATA_VALUE_LEN
            })
        {
            return Err(BillError::BadMetadata);
        }
        let issued = crate::hong_kong_date(now);
        if request.due_date < issued {
            return Err(BillError::DueBeforeIssue {
                due: request.due_date,
                issued,
            });
        }
        Ok(Bill {
            department: department.to_owned(),
            reference: request.reference,
            amount: request.amount,
            description: request.description,
            due_date: request.due_date,
            methods,
            return_url: request.return_url,
            metadata: request.metadata,
            issued_at: now,
        })
    }

    /// Whether the bill may be paid by `method`.
    pub fn allows(&self, method: Method) -> bool {
        self.methods.contains(&method)
    }

    /// Whether the due date has passed at `now` (the bill is payable until
    /// the end of its due date, Hong Kong time).
    pub fn is_overdue(&self, now: OffsetDateTime) -> bool {
        crate::hong_kong_date(now) > self.due_date
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn request() -> BillRequest {
        BillRequest {
            reference: "WSD-2026-000123".into(),
            amount: Money::parse("1234.50").unwrap(),
            description: Bilingual {
                en: "Water charges, Oct 2026".into(),
                zh: "水費，2026年10月".into(),
            },
            due_date: date!(2026 - 12 - 31),
            methods: vec![Method::Card, Method::Fps, Method::Card],
            return_url: "https://wsd.example.gov.hk/paid?bill=123".into(),
            metadata: BTreeMap::from([("account".into(), "88-1234".into())]),
        }
    }

    const NOW: OffsetDateTime = datetime!(2026-11-28 08:00 UTC);

    #[test]
    fn a_good_bill_is_accepted_and_methods_are_normalised() {
        let bill = Bill::new("wsd", request(), NOW).unwrap();
        assert_eq!(bill.methods, vec![Method::Fps, Method::Card]);
        assert!(bill.allows(Method::Fps) && !bill.allows(Method::Pps));
        assert!(!bill.is_overdue(datetime!(2026-12-31 15:59 UTC)));
        // 2026-12-31 16:00 UTC is 2027-01-01 00:00 in Hong Kong.
        assert!(bill.is_overdue(datetime!(2026-12-31 16:00 UTC)));
    }

    #[test]
    fn bad_bills_are_refused_with_the_reason() {
        type Change = fn(&mut BillRequest);
        let cases: Vec<(Change, BillError)> = vec![
            (|r| r.reference = String::new(), BillError::BadReference),
            (|r| r.reference = "A".repeat(26), BillError::BadReference),
            (
                |r| r.reference = "ref with space".into(),
                BillError::BadReference,
            ),
            (|r| r.reference = "參考".into(), BillError::BadReference),
            (|r| r.amount = Money::ZERO, BillError::ZeroAmount),
            (
                |r| r.description.en = String::new(),
                BillError::BadDescription { language: "en" },
            ),
            (
                |r| r.description.zh = "x\u{7}".into(),
                BillError::BadDescription { language: "zh" },
            ),
            (
                |r| r.description.en = "x".repeat(201),
                BillError::BadDescription { language: "en" },
            ),
            (|r| r.methods.clear(), BillError::NoMethods),
            (
                |r| r.return_url = "http://evil.example/".into(),
                BillError::BadReturnUrl,
            ),
            (
                |r| r.return_url = "https://a.example/#x".into(),
                BillError::BadReturnUrl,
            ),
            (
                |r| r.return_url = "https://u:p@a.example/".into(),
                BillError::BadReturnUrl,
            ),
            (
                |r| r.return_url = "javascript:alert(1)".into(),
                BillError::BadReturnUrl,
            ),
            (
                |r| r.return_url = "https:///path".into(),
                BillError::BadReturnUrl,
            ),
            (
                |r| {
                    for i in 0..21 {
                        r.metadata.insert(format!("k{i}"), "v".into());
                    }
                },
                BillError::BadMetadata,
            ),
            (
                |r| {
                    r.metadata.insert("k".into(), "v".repeat(501));
                },
                BillError::BadMetadata,
            ),
            (
                |r| r.due_date = date!(2026 - 11 - 27),
                BillError::DueBeforeIssue {
                    due: date!(2026 - 11 - 27),
                    issued: date!(2026 - 11 - 28),
                },
            ),
        ];
        for (i, (change, expected)) in cases.into_iter().enumerate() {
            let mut r = request();
            change(&mut r);
            assert_eq!(Bill::new("wsd", r, NOW), Err(expected), "case {i}");
        }
        let mut local = request();
        local.return_url = "http://localhost:8080/paid".into();
        assert!(Bill::new("wsd", local, NOW).is_ok());
    }

    #[test]
    fn methods_parse_by_wire_name_only() {
        for m in Method::ALL {
            assert_eq!(m.as_str().parse::<Method>(), Ok(m));
        }
        assert!(matches!(
            "FPS".parse::<Method>(),
            Err(BillError::UnknownMethod(_))
        ));
        assert!(matches!(
            "bitcoin".parse::<Method>(),
            Err(BillError::UnknownMethod(_))
        ));
    }
}
