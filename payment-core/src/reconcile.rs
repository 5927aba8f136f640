//! Reconciliation of a provider's settlement file against the ledger.
//!
//! The file is CSV with a header line:
//! `provider_reference,kind,amount,settlement_date` where `kind` is
//! `payment`, `refund` or `fee`, `amount` is like `1234.50` and the date is
//! `YYYY-MM-DD`. It is read as a stream (a progress bar can follow
//! [`SettlementReader::line`]); a malformed line stops the import with its
//! line number, so that a half-read file is never taken for a whole one.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

use crate::ledger::{Kind, Transaction};
use crate::money::Money;

/// Most lines read from one file.
pub const MAX_LINES: u64 = 10_000_000;
/// Longest field.
const MAX_FIELD_LEN: usize = 255;

/// One line of a settlement file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementLine {
    /// The provider's reference (payment or refund).
    pub provider_reference: String,
    /// What it settles.
    pub kind: Kind,
    /// The amount.
    pub amount: Money,
    /// When.
    pub settlement_date: Date,
}

/// Why a file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettlementError {
    /// The header is not `provider_reference,kind,amount,settlement_date`.
    #[error("the header must be provider_reference,kind,amount,settlement_date")]
    BadHeader,
    /// A line does not parse.
    #[error("line {line}: {reason}")]
    BadLine {
        /// 1-based line number.
        line: u64,
        /// Why.
        reason: String,
    },
    /// More than [`MAX_LINES`] lines.
    #[error("the file has more than {MAX_LINES} lines")]
    TooLong,
}

#[derive(Debug, Deserialize)]
struct RawLine {
    provider_reference: String,
    kind: String,
    amount: String,
    settlement_date: String,
}

/// Reads settlement lines from CSV.
pub struct SettlementReader<R> {
    records: csv::StringRecordsIntoIter<R>,
    headers: csv::StringRecord,
    line: u64,
}

impl<R> std::fmt::Debug for SettlementReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SettlementReader")
            .field("line", &self.line)
            .finish()
    }
}

impl<R: Read> SettlementReader<R> {
    /// Opens `reader` and checks the header.
    pub fn new(reader: R) -> Result<Self, SettlementError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(reader);
        let headers = csv
            .headers()
            .map_err(|_| SettlementError::BadHeader)?
            .clone();
        let expected = ["provider_reference", "kind", "amount", "settlement_date"];
        if headers.iter().map(str::trim).ne(expected) {
            return Err(SettlementError::BadHeader);
        }
        Ok(Self {
            records: csv.into_records(),
            headers,
            line: 1,
        })
    }

    /// The last line read (1 is the header).
    pub fn line(&self) -> u64 {
        self.line
    }

    fn parse(&self, record: &csv::StringRecord) -> Result<SettlementLine, String> {
        if record.iter().any(|f| f.len() > MAX_FIELD_LEN) {
            return Err("a field is too long".into());
        }
        let raw: RawLine = record
            .deserialize(Some(&self.headers))
            .map_err(|e| e.to_string())?;
        let reference = raw.provider_reference.trim();
        if reference.is_empty() || !reference.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("bad provider_reference".into());
        }
        let kind = match raw.kind.trim() {
            "payment" => Kind::Payment,
            "refund" => Kind::Refund,
            "fee" => Kind::Fee,
            other => {
                return Err(format!(
                    "unknown kind {:?}",
                    other.chars().take(20).collect::<String>()
                ));
            }
        };
        let amount = Money::parse_positive_default(raw.amount.trim()).map_err(|e| e.to_string())?;
        let date = Date::parse(
            raw.settlement_date.trim(),
            format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| "settlement_date must be YYYY-MM-DD".to_string())?;
        Ok(SettlementLine {
            provider_reference: reference.to_owned(),
            kind,
            amount,
            settlement_date: date,
        })
    }
}

impl<R: Read> Iterator for SettlementReader<R> {
    type Item = Result<SettlementLine, SettlementError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.records.next()?;
        self.line += 1;
        if self.line > MAX_LINES {
            return Some(Err(SettlementError::TooLong));
        }
        let line = self.line;
        Some(
            record
                .map_err(|e| e.to_string())
                .and_then(|r| self.parse(&r))
                .map_err(|reason| SettlementError::BadLine { line, reason }),
        )
    }
}

/// An item on either side.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Item {
    /// What.
    pub kind: Kind,
    /// The provider's reference.
    pub provider_reference: String,
    /// How much.
    pub amount: Money,
}

/// Same item, different amounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// What.
    pub kind: Kind,
    /// The provider's reference.
    pub provider_reference: String,
    /// In the ledger.
    pub ledger: Money,
    /// In the file.
    pub file: Money,
}

/// What reconciliation found.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Report {
    /// In both, same amount.
    pub matched: Vec<Item>,
    /// In the ledger, not in the file (not settled yet, or lost).
    pub missing: Vec<Item>,
    /// In the file, not in the ledger (a payment the gateway never recorded).
    pub unexpected: Vec<Item>,
    /// In both, different amounts.
    pub mismatched: Vec<Mismatch>,
    /// In the file more than once (the repeats).
    pub duplicated: Vec<Item>,
}

impl Report {
    /// Nothing to look into.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.mismatched.is_empty()
            && self.duplicated.is_empty()
    }
}

/// Reconciles `file` against the ledger's transactions of `provider`.
pub fn reconcile<'t>(
    provider: &str,
    ledger: impl IntoIterator<Item = &'t Transaction>,
    file: impl IntoIterator<Item = Result<SettlementLine, SettlementError>>,
) -> Result<Report, SettlementError> {
    let mut expected: BTreeMap<(Kind, String), Money> = BTreeMap::new();
    for t in ledger.into_iter().filter(|t| t.provider == provider) {
        expected.insert((t.kind, t.reference.clone()), t.amount());
    }
    let mut report = Report::default();
    let mut seen: BTreeMap<(Kind, String), ()> = BTreeMap::new();
    for line in file {
        let line = line?;
        let key = (line.kind, line.provider_reference.clone());
        let item = Item {
            kind: line.kind,
            provider_reference: line.provider_reference,
            amount: line.amount,
        };
        if seen.insert(key.clone(), ()).is_some() {
            report.duplicated.push(item);
            continue;
        }
        match expected.remove(&key) {
            Some(amount) if amount == item.amount => report.matched.push(item),
            Some(amount) => report.mismatched.push(Mismatch {
                kind: item.kind,
                provider_reference: item.provider_reference,
                ledger: amount,
                file: item.amount,
            }),
            None => report.unexpected.push(item),
        }
    }
    report.missing = expected
        .into_iter()
        .map(|((kind, provider_reference), amount)| Item {
            kind,
            provider_reference,
            amount,
        })
        .collect();
    Ok(report)
}
