//! Hong Kong dollar amounts: `rust_decimal` with exactly two decimal places,
//! parsed strictly, added and subtracted without silent overflow. No floats.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The largest amount accepted unless a caller sets its own limit: HK$ 10
/// million, above any bill a department issues through the gateway.
pub const DEFAULT_MAX: Money = Money(Decimal::from_parts(1_000_000_000, 0, 0, false, 2));

/// Longest amount text accepted by the parser.
const MAX_TEXT_LEN: usize = 20;

/// An amount of HKD with exactly two decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

/// Why an amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MoneyError {
    /// Nothing to parse.
    #[error("the amount is empty")]
    Empty,
    /// Not a plain decimal number (letters, spaces, signs, exponents, commas).
    #[error("the amount {0:?} is not a number like 1234.50")]
    NotANumber(String),
    /// Below zero.
    #[error("the amount may not be negative")]
    Negative,
    /// Zero where a positive amount is required.
    #[error("the amount must be more than zero")]
    Zero,
    /// More than two decimal places.
    #[error("the amount has {places} decimal places; at most 2 are allowed")]
    TooManyDecimals {
        /// How many it had.
        places: usize,
    },
    /// Above the limit.
    #[error("the amount exceeds the limit of {max}")]
    TooLarge {
        /// The limit.
        max: Money,
    },
    /// The arithmetic would overflow or go below zero.
    #[error("the amount arithmetic overflowed")]
    Overflow,
}

impl Money {
    /// Zero dollars.
    pub const ZERO: Money = Money(Decimal::from_parts(0, 0, 0, false, 2));

    /// Parses `"1234.50"`, `"1234.5"` or `"1234"`: digits, an optional point
    /// and at most two decimals; at most `max`.
    pub fn parse_with_max(text: &str, max: Money) -> Result<Money, MoneyError> {
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        let not_a_number = || MoneyError::NotANumber(text.chars().take(MAX_TEXT_LEN).collect());
        if text.len() > MAX_TEXT_LEN {
            return Err(not_a_number());
        }
        if let Some(rest) = text.strip_prefix('-') {
            return if is_plain(rest) {
                Err(MoneyError::Negative)
            } else {
                Err(not_a_number())
            };
        }
        if !is_plain(text) {
            return Err(not_a_number());
        }
        if let Some((_, decimals)) = text.split_once('.')
            && decimals.len() > 2
        {
            return Err(MoneyError::TooManyDecimals {
                places: decimals.len(),
            });
        }
        let mut value = Decimal::from_str(text).map_err(|_| not_a_number())?;
        value.rescale(2);
        let money = Money(value);
        if money > max {
            return Err(MoneyError::TooLarge { max });
        }
        Ok(money)
    }

    /// Parses with [`DEFAULT_MAX`].
    pub fn parse(text: &str) -> Result<Money, MoneyError> {
        Self::parse_with_max(text, DEFAULT_MAX)
    }

    /// Parses an amount that must be more than zero (a bill, a payment).
    pub fn parse_positive(text: &str, max: Money) -> Result<Money, MoneyError> {
        let money = Self::parse_with_max(text, max)?;
        if money == Money::ZERO {
            return Err(MoneyError::Zero);
        }
        Ok(money)
    }

    /// Parses a positive amount up to [`DEFAULT_MAX`].
    pub fn parse_positive_default(text: &str) -> Result<Money, MoneyError> {
        Self::parse_positive(text, DEFAULT_MAX)
    }

    /// From a whole number of cents.
    pub fn from_cents(cents: u64) -> Result<Money, MoneyError> {
        let cents = i64::try_from(cents).map_err(|_| MoneyError::Overflow)?;
        Ok(Money(Decimal::new(cents, 2)))
    }

    /// The amount in cents.
    pub fn cents(self) -> u64 {
        let mut scaled = self.0;
        scaled.rescale(2);
        u64::try_from(scaled.mantissa()).unwrap_or(0)
    }

    /// `self + other`, or an error rather than a wrapped value.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0
            .checked_add(other.0)
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    /// `self - other`; an error when the result would be negative.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        match self.0.checked_sub(other.0) {
            Some(v) if v >= Decimal::ZERO => Ok(Money(v)),
            _ => Err(MoneyError::Overflow),
        }
    }

    /// The decimal value (two places).
    pub fn as_decimal(self) -> Decimal {
        self.0
    }
}

/// Digits, and at most one point with digits on both sides of it.
fn is_plain(text: &str) -> bool {
    let mut parts = text.split('.');
    let whole = parts.next().unwrap_or_default();
    let decimals = parts.next();
    parts.next().is_none()
        && !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && decimals.is_none_or(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut value = self.0;
        value.rescale(2);
        write!(f, "{value}")
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Money::parse(text)
    }
}

impl Default for Money {
    fn default() -> Self {
        Money::ZERO
    }
}

impl Serialize for Money {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Money::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_with_two_places() {
        assert_eq!(Money::parse("1234.5").unwrap().to_string(), "1234.50");
        assert_eq!(Money::parse("1234").unwrap().to_string(), "1234.00");
        assert_eq!(Money::parse("0.01").unwrap().cents(), 1);
        assert_eq!(Money::parse("007.10").unwrap().to_string(), "7.10");
        assert_eq!(Money::parse("10000000.00").unwrap(), DEFAULT_MAX);
    }

    #[test]
    fn refuses_what_is_not_a_plain_amount() {
        for bad in [
            "abc", "1,000.00", " 1.00", "1.00 ", "+1.00", "1e3", "1.", ".5", "1..0", "NaN", "١٢٣",
            "0x10", "1.0.0",
        ] {
            assert!(
                matches!(Money::parse(bad), Err(MoneyError::NotANumber(_))),
                "{bad}"
            );
        }
        assert_eq!(Money::parse(""), Err(MoneyError::Empty));
        assert_eq!(Money::parse("-1.00"), Err(MoneyError::Negative));
        assert_eq!(
            Money::parse("1.005"),
            Err(MoneyError::TooManyDecimals { places: 3 })
        );
        assert_eq!(
            Money::parse("10000000.01"),
            Err(MoneyError::TooLarge { max: DEFAULT_MAX })
        );
        assert!(matches!(
            Money::parse(&"9".repeat(40)),
            Err(MoneyError::NotANumber(_))
        ));
        assert_eq!(
            Money::parse_positive("0.00", DEFAULT_MAX),
            Err(MoneyError::Zero)
        );
    }

    #[test]
    fn arithmetic_refuses_overflow_and_negatives() {
        let a = Money::parse("100.25").unwrap();
        let b = Money::parse("0.75").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "101.00");
        assert_eq!(a.checked_sub(b).unwrap().to_string(), "99.50");
        assert_eq!(b.checked_sub(a), Err(MoneyError::Overflow));
        let huge = Money(Decimal::MAX);
        assert_eq!(huge.checked_add(b), Err(MoneyError::Overflow));
    }

    #[test]
    fn serde_uses_the_text_form() {
        let m = Money::parse("12.3").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"12.30\"");
        assert_eq!(serde_json::from_str::<Money>("\"12.30\"").unwrap(), m);
        assert!(
            serde_json::from_str::<Money>("12.3").is_err(),
            "numbers, not floats, as text"
        );
        assert!(serde_json::from_str::<Money>("\"-1\"").is_err());
    }

    proptest! {
        #[test]
        fn cents_round_trip_through_text(cents in 0u64..=1_000_000_000) {
            let money = Money::from_cents(cents).unwrap();
            let text = money.to_string();
            prop_assert_eq!(Money::parse(&text).unwrap(), money);
            prop_assert_eq!(money.cents(), cents);
            let (_, decimals) = text.split_once('.').unwrap();
            prop_assert_eq!(decimals.len(), 2);
        }

        #[test]
        fn addition_then_subtraction_is_identity(a in 0u64..=500_000_000, b in 0u64..=500_000_000) {
            let (x, y) = (Money::from_cents(a).unwrap(), Money::from_cents(b).unwrap());
            let sum = x.checked_add(y).unwrap();
            prop_assert_eq!(sum.cents(), a + b);
            prop_assert_eq!(sum.checked_sub(y).unwrap(), x);
        }

        #[test]
        fn the_parser_never_panics(text in "\\\\PC{0,30}") {
            let _ = Money::parse(&text);
        }
    }
}
