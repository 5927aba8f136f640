//! The EMVCo merchant-presented QR payload for Hong Kong's Faster Payment
//! System (HKMA common QR code): encoder and decoder.
//!
//! A payload is a sequence of fields `IDLLvalue` (two-digit id, two-digit
//! length, value), with the FPS account in template 26 and a CRC-16/CCITT-
//! FALSE in field 63, computed over everything up to and including `6304`.
//! The decoder accepts fields in any order after `00`, and is strict about
//! lengths, character sets, mandatory fields and the CRC.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::money::Money;

/// The FPS template's globally unique identifier.
pub const FPS_GUID: &str = "hk.com.hkicl";
/// Longest payload accepted by the decoder (EMVCo: 512 characters).
pub const MAX_PAYLOAD_LEN: usize = 512;

/// Whether the code carries a fixed amount and reference for one payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Initiation {
    /// `11`: reusable, typically without an amount.
    Static,
    /// `12`: for one payment.
    Dynamic,
}

/// Who is paid: one FPS proxy (or a bank account by clearing code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proxy {
    /// An FPS identifier (7 to 9 digits).
    FpsId(String),
    /// A mobile number, `+852-XXXXXXXX`.
    Mobile(String),
    /// An email address.
    Email(String),
}

/// A decoded (or to-be-encoded) FPS payment code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FpsCode {
    /// Static or dynamic.
    pub initiation: Initiation,
    /// The bank's clearing code (template 26, field 01), when given.
    pub clearing_code: Option<String>,
    /// The payee.
    pub proxy: Proxy,
    /// Expiry `YYMMDDhhmmss` (template 26, field 05), when given.
    pub expiry: Option<String>,
    /// Merchant category code (field 52).
    pub merchant_category: String,
    /// The amount (field 54), when fixed.
    pub amount: Option<Money>,
    /// Merchant name (field 59, at most 25 characters).
    pub merchant_name: String,
    /// Merchant city (field 60, at most 15 characters).
    pub merchant_city: String,
    /// Bill number (field 62, sub-field 01).
    pub bill_number: Option<String>,
    /// Reference label (field 62, sub-field 05).
    pub reference: Option<String>,
}

/// Why a payload was refused, or could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FpsError {
    /// Longer than [`MAX_PAYLOAD_LEN`].
    #[error("the payload is longer than {MAX_PAYLOAD_LEN} characters")]
    TooLong,
    /// A field's id or length is not two digits, or runs past the end.
    #[error("field at position {position} is malformed")]
    BadField {
        /// Where it starts.
        position: usize,
    },
    /// `00` is not the first field, or not `01`.
    #[error("the payload must start with 000201")]
    BadFormatIndicator,
    /// A field appears twice.
    #[error("field {id} appears twice")]
    DuplicateField {
        /// The field id.
        id: String,
    },
    /// A mandatory field is missing.
    #[error("mandatory field {id} ({name}) is missing")]
    MissingField {
        /// The field id.
        id: &'static str,
        /// What it is.
        name: &'static str,
    },
    /// A field has a value it may not have.
    #[error("field {id} is invalid: {reason}")]
    BadValue {
        /// The field id.
        id: &'static str,
        /// Why.
        reason: String,
    },
    /// The CRC is not the last field, or does not match.
    #[error("the CRC does not match (expected {expected}, found {found})")]
    BadCrc {
        /// What the payload should carry.
        expected: String,
        /// What it carries.
        found: String,
    },
}

/// CRC-16/CCITT-FALSE: polynomial 0x1021, initial 0xFFFF, no reflection.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for byte in data {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// EMVCo "ans": printable ASCII.
fn printable(value: &str) -> bool {
    value.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn field(id: &str, value: &str) -> Result<String, FpsError> {
    if value.len() > 99 {
        return Err(FpsError::BadValue {
            id: "field",
            reason: format!("field {id} is longer than 99 characters"),
        });
    }
    Ok(format!("{id}{:02}{value}", value.len()))
}

/// Splits `text` into `(id, value)` fields, checking each header.
fn fields(text: &str, offset: usize) -> Result<Vec<(String, String)>, FpsError> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let bad = FpsError::BadField {
            position: offset + i,
        };
        let header = bytes.get(i..i + 4).ok_or(bad.clone())?;
        if !header.iter().all(u8::is_ascii_digit) {
            return Err(bad);
        }
        let id = &text[i..i + 2];
        let len: usize = text[i + 2..i + 4].parse().map_err(|_| bad.clone())?;
        let value = text.get(i + 4..i + 4 + len).ok_or(bad)?;
        out.push((id.to_owned(), value.to_owned()));
        i += 4 + len;
    }
    Ok(out)
}

fn unique(fields: Vec<(String, String)>) -> Result<BTreeMap<String, String>, FpsError> {
    let mut map = BTreeMap::new();
    for (id, value) in fields {
        if map.contains_key(&id) {
            return Err(FpsError::DuplicateField { id });
        }
        map.insert(id, value);
    }
    Ok(map)
}

fn check_len(id: &'static str, value: &str, max: usize) -> Result<(), FpsError> {
    if value.is_empty() || value.len() > max || !printable(value) {
        return Err(FpsError::BadValue {
            id,
            reason: format!("must be 1 to {max} printable characters"),
        });
    }
    Ok(())
}

fn check_proxy(proxy: &Proxy) -> Result<(), FpsError> {
    let bad = |reason: &str| FpsError::BadValue {
        id: "26",
        reason: reason.to_owned(),
    };
    match proxy {
        Proxy::FpsId(id)
            if (7..=9).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(())
        }
        Proxy::FpsId(_) => Err(bad("an FPS ID is 7 to 9 digits")),
        Proxy::Mobile(m) => match m.strip_prefix("+852-") {
            Some(n) if n.len() == 8 && n.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
            _ => Err(bad("a mobile number is +852-XXXXXXXX")),
        },
        Proxy::Email(e) => match e.split_once('@') {
            Some((l, h)) if !l.is_empty() && h.contains('.') && e.len() <= 64 && printable(e) => {
                Ok(())
            }
            _ => Err(bad("not an email address")),
        },
    }
}

fn check_expiry(expiry: &str) -> Result<(), FpsError> {
    if expiry.len() != 12 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FpsError::BadValue {
            id: "26",
            reason: "expiry must be YYMMDDhhmmss".into(),
        });
    }
    Ok(())
}

impl FpsCode {
    /// The payload text, with its CRC.
    pub fn encode(&self) -> Result<String, FpsError> {
        check_proxy(&self.proxy)?;
        check_len("59", &self.merchant_name, 25)?;
        check_len("60", &self.merchant_city, 15)?;
        if self.merchant_category.len() != 4
            || !self.merchant_category.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(FpsError::BadValue {
                id: "52",
                reason: "must be 4 digits".into(),
            });
        }
        let mut template = field("00", FPS_GUID)?;
        if let Some(code) = &self.clearing_code {
            check_len("26", code, 3)?;
            template += &field("01", code)?;
        }
        template += &match &self.proxy {
            Proxy::FpsId(id) => field("02", id)?,
            Proxy::Mobile(m) => field("03", m)?,
            Proxy::Email(e) => field("04", e)?,
        };
        if let Some(expiry) = &self.expiry {
            check_expiry(expiry)?;
            template += &field("05", expiry)?;
        }
        let mut out = field("00", "01")?;
        out += &field(
            "01",
            match self.initiation {
                Initiation::Static => "11",
                Initiation::Dynamic => "12",
            },
        )?;
        out += &field("26", &template)?;
        out += &field("52", &self.merchant_category)?;
        out += &field("53", "344")?;
        if let Some(amount) = self.amount {
            let text = amount.to_string();
            if text.len() > 13 {
                return Err(FpsError::BadValue {
                    id: "54",
                    reason: "at most 13 characters".into(),
                });
            }
            out += &field("54", &text)?;
        }
        out += &field("58", "HK")?;
        out += &field("59", &self.merchant_name)?;
        out += &field("60", &self.merchant_city)?;
        let mut additional = String::new();
        if let Some(bill) = &self.bill_number {
            check_len("62", bill, 25)?;
            additional += &field("01", bill)?;
        }
        if let Some(reference) = &self.reference {
            check_len("62", reference, 25)?;
            additional += &field("05", reference)?;
        }
        if !additional.is_empty() {
            out += &field("62", &additional)?;
        }
        out += "6304";
        Ok(format!("{out}{:04X}", crc16(out.as_bytes())))
    }

    /// Decodes and checks a payload.
    pub fn decode(payload: &str) -> Result<FpsCode, FpsError> {
        if payload.len() > MAX_PAYLOAD_LEN {
            return Err(FpsError::TooLong);
        }
        if !payload.is_ascii() {
            return Err(FpsError::BadValue {
                id: "payload",
                reason: "only ASCII is allowed".into(),
            });
        }
        let list = fields(payload, 0)?;
        if list.first().map(|(id, v)| (id.as_str(), v.as_str())) != Some(("00", "01")) {
            return Err(FpsError::BadFormatIndicator);
        }
        match list.last() {
            Some((id, crc)) if id == "63" && crc.len() == 4 => {
                let covered = &payload[..payload.len() - 4];
                let expected = format!("{:04X}", crc16(covered.as_bytes()));
                if !crc.eq_ignore_ascii_case(&expected)
                    || crc.bytes().any(|b| b.is_ascii_lowercase())
                {
                    return Err(FpsError::BadCrc {
                        expected,
                        found: crc.clone(),
                    });
                }
            }
            _ => {
                return Err(FpsError::BadCrc {
                    expected: "a 4-digit CRC as the last field".into(),
                    found: String::new(),
                });
            }
        }
        let map = unique(list)?;
        let get = |id: &'static str, name: &'static str| {
            map.get(id)
                .cloned()
                .ok_or(FpsError::MissingField { id, name })
        };
        let initiation = match get("01", "point of initiation")?.as_str() {
            "11" => Initiation::Static,
            "12" => Initiation::Dynamic,
            _ => {
                return Err(FpsError::BadValue {
                    id: "01",
                    reason: "must be 11 or 12".into(),
                });
            }
        };
        let template_text = get("26", "FPS merchant account")?;
        let template = unique(fields(&template_text, 0)?)?;
        if template.get("00").map(String::as_str) != Some(FPS_GUID) {
            return Err(FpsError::BadValue {
                id: "26",
                reason: format!("the GUID must be {FPS_GUID}"),
            });
        }
        let proxies: Vec<Proxy> = [
            template.get("02").map(|v| Proxy::FpsId(v.clone())),
            template.get("03").map(|v| Proxy::Mobile(v.clone())),
            template.get("04").map(|v| Proxy::Email(v.clone())),
        ]
        .into_iter()
        .flatten()
        .collect();
        let [proxy] = proxies.as_slice() else {
            return Err(FpsError::BadValue {
                id: "26",
                reason: "exactly one of FPS ID, mobile or email".into(),
            });
        };
        check_proxy(proxy)?;
        if let Some(expiry) = template.get("05") {
            check_expiry(expiry)?;
        }
        if get("53", "currency")? != "344" {
            return Err(FpsError::BadValue {
                id: "53",
                reason: "the currency must be 344 (HKD)".into(),
            });
        }
        if get("58", "country")? != "HK" {
            return Err(FpsError::BadValue {
                id: "58",
                reason: "the country must be HK".into(),
            });
        }
        let merchant_category = get("52", "merchant category code")?;
        if merchant_category.len() != 4 || !merchant_category.bytes().all(|b| b.is_ascii_digit()) {
            return Err(FpsError::BadValue {
                id: "52",
                reason: "must be 4 digits".into(),
            });
        }
        let merchant_name = get("59", "merchant name")?;
        check_len("59", &merchant_name, 25)?;
        let merchant_city = get("60", "merchant city")?;
        check_len("60", &merchant_city, 15)?;
        let amount = match map.get("54") {
            None => None,
            Some(text) if text.len() > 13 => {
                return Err(FpsError::BadValue {
                    id: "54",
                    reason: "at most 13 characters".into(),
                });
            }
            Some(text) => Some(Money::parse(text).map_err(|e| FpsError::BadValue {
                id: "54",
                reason: e.to_string(),
            })?),
        };
        let (mut bill_number, mut reference) = (None, None);
        if let Some(additional) = map.get("62") {
            let sub = unique(fields(additional, 0)?)?;
            if let Some(b) = sub.get("01") {
                check_len("62", b, 25)?;
                bill_number = Some(b.clone());
            }
            if let Some(r) = sub.get("05") {
                check_len("62", r, 25)?;
                reference = Some(r.clone());
            }
        }
        Ok(FpsCode {
            initiation,
            clearing_code: template.get("01").cloned(),
            proxy: proxy.clone(),
            expiry: template.get("05").cloned(),
            merchant_category,
            amount,
            merchant_name,
            merchant_city,
            bill_number,
            reference,
        })
    }
}
