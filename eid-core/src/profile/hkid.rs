//! Hong Kong Identity Card numbers: one or two letters, six digits and a
//! check digit (`0`–`9` or `A`), written `A123456(3)`.
//!
//! The check digit makes the weighted sum of all characters divisible by
//! 11: letters count `A` = 10 … `Z` = 35, a missing first letter counts
//! 36 (a space), digits count their value, and the weights are 9 down to 1
//! (the check digit's weight is 1, `A` standing for 10).

use std::fmt;

/// A valid HKID number.
#[derive(Clone, PartialEq, Eq)]
pub struct Hkid {
    /// The letters (one or two, upper case).
    letters: String,
    /// The six digits.
    digits: String,
    /// The check character (`0`–`9` or `A`).
    check: char,
}

/// Why a text is not an HKID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HkidError {
    /// Not letters, six digits and a check character.
    #[error("an HKID number is one or two letters, six digits and a check digit, as A123456(3)")]
    Format,
    /// The check digit does not match.
    #[error("the HKID check digit does not match; check the number")]
    CheckDigit,
}

fn letter_value(c: char) -> u32 {
    u32::from(c) - u32::from('A') + 10
}

/// The check character for `letters` (one or two upper-case letters) and
/// `digits` (six ASCII digits).
fn check_character(letters: &str, digits: &str) -> char {
    let mut values: Vec<u32> = Vec::with_capacity(8);
    if letters.len() == 1 {
        values.push(36);
    }
    values.extend(letters.chars().map(letter_value));
    values.extend(digits.chars().filter_map(|d| d.to_digit(10)));
    let sum: u32 = values
        .iter()
        .zip((2..=9).rev())
        .map(|(value, weight)| value * weight)
        .sum();
    match (11 - sum % 11) % 11 {
        10 => 'A',
        n => char::from_digit(n, 10).unwrap_or('0'),
    }
}

impl Hkid {
    /// Parses `A123456(3)`, `A1234563`, `a123456 (3)` and the like: spaces
    /// are ignored, letters may be lower case, the brackets are optional.
    pub fn parse(text: &str) -> Result<Hkid, HkidError> {
        if text.len() > 32 {
            return Err(HkidError::Format);
        }
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let body = match compact.strip_suffix(')') {
            Some(rest) => {
                let (head, check) = rest.rsplit_once('(').ok_or(HkidError::Format)?;
                if check.chars().count() != 1 {
                    return Err(HkidError::Format);
                }
                format!("{head}{check}")
            }
            None => compact,
        };
        let letters: String = body.chars().take_while(char::is_ascii_uppercase).collect();
        let rest = &body[letters.len()..];
        if !(1..=2).contains(&letters.len()) || rest.len() != 7 || !rest.is_ascii() {
            return Err(HkidError::Format);
        }
        let (digits, check) = rest.split_at(6);
        let check = check.chars().next().ok_or(HkidError::Format)?;
        if !digits.chars().all(|c| c.is_ascii_digit()) || !(check.is_ascii_digit() || check == 'A')
        {
            return Err(HkidError::Format);
        }
        if check_character(&letters, digits) != check {
            return Err(HkidError::CheckDigit);
        }
        Ok(Hkid {
            letters,
            digits: digits.to_owned(),
            check,
        })
    }

    /// The number as printed on the card: `A123456(3)`.
    pub fn formatted(&self) -> String {
        format!("{}{}({})", self.letters, self.digits, self.check)
    }

    /// The number with all but the letters and the first three digits
    /// hidden: `A123***(*)`.
    pub fn masked(&self) -> String {
        format!("{}{}***(*)", self.letters, &self.digits[..3])
    }
}

impl fmt::Debug for Hkid {
    /// Masked: an HKID number never reaches a log through `Debug`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hkid({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn check_digits_follow_the_published_rule() {
        // Worked by hand: [36, 10, 1..6] weighted 9..2 sums to 481;
        // 481 mod 11 = 8, so the check digit is 3.
        assert_eq!(Hkid::parse("A123456(3)").unwrap().formatted(), "A123456(3)");
        // Two letters: [10, 11, 9, 8, 7, 6, 5, 4] weighted 9..2 sums to 371;
        // 371 mod 11 = 8, so the check digit is 3.
        assert!(Hkid::parse("AB987654(3)").is_ok());
        // Z683365(A): [36, 35, 6, 8, 3, 3, 6, 5] sums to 324 + 280 + 42 +
        // 48 + 15 + 12 + 18 + 10 = 749; 749 mod 11 = 1, so 10, written A.
        assert_eq!(check_character("Z", "683365"), 'A');
        // A check value of 10 is written A, and only A is accepted then.
        let with_a = (0..1_000_000)
            .map(|n| format!("C{n:06}"))
            .find(|t| check_character("C", &t[1..]) == 'A')
            .unwrap();
        assert!(Hkid::parse(&format!("{with_a}(A)")).is_ok());
        assert_eq!(
            Hkid::parse(&format!("{with_a}(1)")),
            Err(HkidError::CheckDigit)
        );
    }

    #[test]
    fn spellings_are_accepted_and_wrong_ones_named() {
        for text in ["A123456(3)", "a1234563", " A 123456 (3) ", "A123456 ( 3 )"] {
            assert_eq!(
                Hkid::parse(text).unwrap().formatted(),
                "A123456(3)",
                "{text}"
            );
        }
        assert_eq!(Hkid::parse("A123456(4)"), Err(HkidError::CheckDigit));
        for bad in [
            "",
            "123456(3)",
            "ABC123456(3)",
            "A12345(3)",
            "A1234567(3)",
            "A123456(B)",
            "A12345X(3)",
            "A123456(33)",
            "A１２３４５６(3)",
            "A123456)3(",
            &"A".repeat(100),
        ] {
            assert_eq!(Hkid::parse(bad), Err(HkidError::Format), "{bad:?}");
        }
    }

    #[test]
    fn masking_hides_all_but_the_start() {
        let id = Hkid::parse("A123456(3)").unwrap();
        assert_eq!(id.masked(), "A123***(*)");
        assert_eq!(format!("{id:?}"), "Hkid(A123***(*))");
        assert_eq!(Hkid::parse("AB987654(3)").unwrap().masked(), "AB987***(*)");
    }
}
