//! The e-ME profile: the citizen's own data, from which departments fill
//! their forms when, and only when, the citizen agrees.
//!
//! [`FIELDS`] is the catalogue: every field has an id (also its form-fill
//! name), the OpenID Connect claim it is released as, a group (one OIDC
//! scope per group, [`Group::scope`]), bilingual labels, a sensitivity
//! class and a kind that decides how a value is checked and shown. Values
//! are checked on the way in ([`FieldSpec::parse`]); the HKID number is
//! shown masked ([`FieldSpec::preview`]). [`seal`] encrypts values for the
//! database.

mod address;
mod hkid;
pub mod seal;

use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

pub use address::{Address, AddressError, DISTRICTS, MAX_PART_CHARS, Region};
pub use hkid::{Hkid, HkidError};

/// A language the profile speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Traditional Chinese (Hong Kong).
    ZhHk,
}

/// How much harm a field's release could do; pages and consent receipts
/// show it, and a department's registration may be limited by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Names, gender, language.
    Basic,
    /// Phones, e-mail, addresses.
    Contact,
    /// Marital status, education, occupation.
    Personal,
    /// The HKID number and date of birth: identity fraud material.
    Identity,
}

/// A group of fields, asked for together by one OIDC scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// English and Chinese names.
    Name,
    /// HKID number, date of birth, gender.
    Identity,
    /// Phones and e-mail.
    Contact,
    /// Residential and postal addresses.
    Address,
    /// Marital status, education, occupation, language.
    Personal,
}

impl Group {
    /// Every group.
    pub const ALL: [Group; 5] = [
        Group::Name,
        Group::Identity,
        Group::Contact,
        Group::Address,
        Group::Personal,
    ];

    /// The OIDC scope that asks for the group's fields.
    pub fn scope(self) -> &'static str {
        match self {
            Group::Name => "eme.name",
            Group::Identity => "eme.identity",
            Group::Contact => "eme.contact",
            Group::Address => "eme.address",
            Group::Personal => "eme.personal",
        }
    }

    /// The group of a scope, if it is one of ours.
    pub fn from_scope(scope: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.scope() == scope)
    }

    /// The group's heading.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Group::Name, Lang::En) => "Name",
            (Group::Name, Lang::ZhHk) => "姓名",
            (Group::Identity, Lang::En) => "Identity",
            (Group::Identity, Lang::ZhHk) => "身份資料",
            (Group::Contact, Lang::En) => "Contact",
            (Group::Contact, Lang::ZhHk) => "聯絡資料",
            (Group::Address, Lang::En) => "Addresses",
            (Group::Address, Lang::ZhHk) => "地址",
            (Group::Personal, Lang::En) => "Personal details",
            (Group::Personal, Lang::ZhHk) => "個人資料",
        }
    }

    /// The fields of the group.
    pub fn fields(self) -> impl Iterator<Item = &'static FieldSpec> {
        FIELDS.iter().filter(move |f| f.group == self)
    }
}

/// How a field's value is checked and shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A name in Latin letters (`CHAN, Tai Man`).
    EnglishName,
    /// A name in Chinese characters.
    ChineseName,
    /// An HKID number.
    Hkid,
    /// A date in the past (`YYYY-MM-DD`).
    PastDate,
    /// One of a list: (code, English, Chinese).
    Choice(&'static [(&'static str, &'static str, &'static str)]),
    /// A phone number: 8 Hong Kong digits, or `+` and 8 to 15 digits.
    Phone,
    /// An e-mail address.
    Email,
    /// A structured Hong Kong address.
    Address,
    /// Free text of at most this many characters.
    Text(usize),
}

impl Kind {
    /// What a value of this kind looks like, for the citizen whose value
    /// was refused.
    pub fn hint(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Kind::EnglishName, Lang::En) => {
                "Use Latin letters, spaces, commas, hyphens and apostrophes (at most 100), for example CHAN, Tai Man."
            }
            (Kind::EnglishName, Lang::ZhHk) => {
                "請使用英文字母、空格、逗號、連字號及撇號（最多100個字元），例如 CHAN, Tai Man。"
            }
            (Kind::ChineseName, Lang::En) => "Use Chinese characters only (at most 20).",
            (Kind::ChineseName, Lang::ZhHk) => "請只使用中文字（最多20個）。",
            (Kind::Hkid, Lang::En) => {
                "Write the number as on your card, for example A123456(3); the digit in brackets is checked."
            }
            (Kind::Hkid, Lang::ZhHk) => {
                "請按身份證上的號碼填寫，例如 A123456(3)；括號內的數字會被核對。"
            }
            (Kind::PastDate, Lang::En) => "Give a past date, from 1900 on.",
            (Kind::PastDate, Lang::ZhHk) => "請填寫1900年或以後的過去日期。",
            (Kind::Choice(_), Lang::En) => "Choose one of the options.",
            (Kind::Choice(_), Lang::ZhHk) => "請從選項中選擇。",
            (Kind::Phone, Lang::En) => {
                "Give 8 digits for a Hong Kong number, or + and the country code for another."
            }
            (Kind::Phone, Lang::ZhHk) => "香港號碼請填寫8位數字，其他地區請以 + 及國家號碼開始。",
            (Kind::Email, Lang::En) => "Give an address such as name@example.com.",
            (Kind::Email, Lang::ZhHk) => "請填寫例如 name@example.com 的地址。",
            (Kind::Address, Lang::En) => {
                "Give at least the building or the street, and choose the district."
            }
            (Kind::Address, Lang::ZhHk) => "請至少填寫大廈或街道，並選擇地區。",
            (Kind::Text(_), Lang::En) => "The text is too long or holds characters not allowed.",
            (Kind::Text(_), Lang::ZhHk) => "文字太長或含有不接受的字元。",
        }
    }
}

/// One field of the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// The field's id; also its name in form-fill answers.
    pub id: &'static str,
    /// The claim it is released as in ID tokens and userinfo.
    pub claim: &'static str,
    /// Its group (and so its scope).
    pub group: Group,
    /// English label.
    pub label_en: &'static str,
    /// Chinese label.
    pub label_zh: &'static str,
    /// Its sensitivity.
    pub sensitivity: Sensitivity,
    /// How values are checked and shown.
    pub kind: Kind,
}

const GENDERS: &[(&str, &str, &str)] = &[("female", "Female", "女"), ("male", "Male", "男")];
const MARITAL: &[(&str, &str, &str)] = &[
    ("single", "Single", "未婚"),
    ("married", "Married", "已婚"),
    ("divorced", "Divorced", "離婚"),
    ("widowed", "Widowed", "喪偶"),
    ("separated", "Separated", "分居"),
];
const EDUCATION: &[(&str, &str, &str)] = &[
    ("primary", "Primary or below", "小學或以下"),
    ("secondary", "Secondary", "中學"),
    (
        "post_secondary",
        "Post-secondary (non-degree)",
        "專上教育（非學位）",
    ),
    ("degree", "Bachelor's degree", "學士學位"),
    ("postgraduate", "Postgraduate", "研究院"),
];
const LANGUAGES: &[(&str, &str, &str)] = &[
    ("en", "English", "英文"),
    ("zh-HK", "Traditional Chinese", "繁體中文"),
];

/// The profile's fields.
pub const FIELDS: &[FieldSpec] = &[
    FieldSpec {
        id: "name_en",
        claim: "name",
        group: Group::Name,
        label_en: "Name in English",
        label_zh: "英文姓名",
        sensitivity: Sensitivity::Basic,
        kind: Kind::EnglishName,
    },
    FieldSpec {
        id: "name_zh",
        claim: "name#zh-Hant-HK",
        group: Group::Name,
        label_en: "Name in Chinese",
        label_zh: "中文姓名",
        sensitivity: Sensitivity::Basic,
        kind: Kind::ChineseName,
    },
    FieldSpec {
        id: "hkid",
        claim: "hk_id_number",
        group: Group::Identity,
        label_en: "HKID number",
        label_zh: "香港身份證號碼",
        sensitivity: Sensitivity::Identity,
        kind: Kind::Hkid,
    },
    FieldSpec {
        id: "date_of_birth",
        claim: "birthdate",
        group: Group::Identity,
        label_en: "Date of birth",
        label_zh: "出生日期",
        sensitivity: Sensitivity::Identity,
        kind: Kind::PastDate,
    },
    FieldSpec {
        id: "gender",
        claim: "gender",
        group: Group::Identity,
        label_en: "Gender",
        label_zh: "性別",
        sensitivity: Sensitivity::Basic,
        kind: Kind::Choice(GENDERS),
    },
    FieldSpec {
        id: "mobile",
        claim: "phone_number",
        group: Group::Contact,
        label_en: "Mobile phone",
        label_zh: "手提電話",
        sensitivity: Sensitivity::Contact,
        kind: Kind::Phone,
    },
    FieldSpec {
        id: "home_phone",
        claim: "home_phone_number",
        group: Group::Contact,
        label_en: "Home phone",
        label_zh: "住宅電話",
        sensitivity: Sensitivity::Contact,
        kind: Kind::Phone,
    },
    FieldSpec {
        id: "office_phone",
        claim: "office_phone_number",
        group: Group::Contact,
        label_en: "Office phone",
        label_zh: "辦公室電話",
        sensitivity: Sensitivity::Contact,
        kind: Kind::Phone,
    },
    FieldSpec {
        id: "email",
        claim: "email",
        group: Group::Contact,
        label_en: "E-mail address",
        label_zh: "電郵地址",
        sensitivity: Sensitivity::Contact,
        kind: Kind::Email,
    },
    FieldSpec {
        id: "residential_address",
        claim: "address",
        group: Group::Address,
        label_en: "Residential address",
        label_zh: "住址",
        sensitivity: Sensitivity::Contact,
        kind: Kind::Address,
    },
    FieldSpec {
        id: "postal_address",
        claim: "postal_address",
        group: Group::Address,
        label_en: "Postal address",
        label_zh: "通訊地址",
        sensitivity: Sensitivity::Contact,
        kind: Kind::Address,
    },
    FieldSpec {
        id: "marital_status",
        claim: "marital_status",
        group: Group::Personal,
        label_en: "Marital status",
        label_zh: "婚姻狀況",
        sensitivity: Sensitivity::Personal,
        kind: Kind::Choice(MARITAL),
    },
    FieldSpec {
        id: "education_level",
        claim: "education_level",
        group: Group::Personal,
        label_en: "Education level",
        label_zh: "教育程度",
        sensitivity: Sensitivity::Personal,
        kind: Kind::Choice(EDUCATION),
    },
    FieldSpec {
        id: "occupation",
        claim: "occupation",
        group: Group::Personal,
        label_en: "Occupation",
        label_zh: "職業",
        sensitivity: Sensitivity::Personal,
        kind: Kind::Text(60),
    },
    FieldSpec {
        id: "preferred_language",
        claim: "locale",
        group: Group::Personal,
        label_en: "Preferred language",
        label_zh: "慣用語言",
        sensitivity: Sensitivity::Basic,
        kind: Kind::Choice(LANGUAGES),
    },
];

/// The field with this id.
pub fn field(id: &str) -> Option<&'static FieldSpec> {
    FIELDS.iter().find(|f| f.id == id)
}

/// A checked value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Every kind but addresses, normalised (an HKID number as
    /// `A123456(3)`, a date as `YYYY-MM-DD`, a choice as its code, a phone
    /// as `+85291234567`).
    Text(String),
    /// An address.
    Address(Address),
}

/// What a citizen typed: one text, or an address's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input<'a> {
    /// A single value.
    Text(&'a str),
    /// An address: flat, floor, block, building, street, district code.
    Address([&'a str; 6]),
}

/// Why a value was refused; the message is safe to show the citizen and
/// never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FieldError {
    /// Empty (remove the field instead).
    #[error("the value is empty")]
    Empty,
    /// Too long, or holding characters the field does not take.
    #[error("{0}")]
    Invalid(&'static str),
    /// An HKID number that is not one.
    #[error(transparent)]
    Hkid(#[from] HkidError),
    /// An address that is not one.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// An address given for a text field or the other way round.
    #[error("this field takes {0}")]
    WrongShape(&'static str),
}

fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2EBEF}' | '\u{30000}'..='\u{3134F}' | '·' | '‧')
}

fn phone(text: &str) -> Result<String, FieldError> {
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let bad = FieldError::Invalid("a phone number is 8 digits, or + and 8 to 15 digits");
    let (international, digits) = match compact.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, compact.as_str()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad);
    }
    match (international, digits.len()) {
        // Hong Kong numbers start 2 to 9.
        (false, 8) if !digits.starts_with(['0', '1']) => Ok(format!("+852{digits}")),
        (true, 8..=15) if !digits.starts_with('0') => {
            if let Some(local) = digits.strip_prefix("852")
                && (local.len() != 8 || local.starts_with(['0', '1']))
            {
                return Err(bad);
            }
            Ok(format!("+{digits}"))
        }
        _ => Err(bad),
    }
}

fn email(text: &str) -> Result<String, FieldError> {
    let bad = FieldError::Invalid("an e-mail address is name@domain");
    if text.len() > 254 || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad);
    }
    let (local, domain) = text.rsplit_once('@').ok_or(bad.clone())?;
    if local.is_empty()
        || local.len() > 64
        || local.contains('@')
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || !domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(bad);
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

impl FieldSpec {
    /// The label in `lang`.
    pub fn label(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.label_en,
            Lang::ZhHk => self.label_zh,
        }
    }

    /// Checks and normalises what a citizen typed; `today` (Hong Kong
    /// time) bounds dates.
    pub fn parse(&self, input: Input<'_>, today: Date) -> Result<Value, FieldError> {
        let text = match (self.kind, input) {
            (Kind::Address, Input::Address([flat, floor, block, building, street, district])) => {
                return Ok(Value::Address(Address::new(
                    flat, floor, block, building, street, district,
                )?));
            }
            (Kind::Address, Input::Text(_)) => return Err(FieldError::WrongShape("an address")),
            (_, Input::Address(_)) => return Err(FieldError::WrongShape("a single value")),
            (_, Input::Text(text)) => text.trim(),
        };
        if text.is_empty() {
            return Err(FieldError::Empty);
        }
        if text.chars().any(char::is_control) {
            return Err(FieldError::Invalid("the value holds control characters"));
        }
        let value = match self.kind {
            Kind::EnglishName => {
                let ok = text.chars().count() <= 100
                    && text.chars().all(|c| {
                        c.is_ascii_alphabetic() || matches!(c, ' ' | ',' | '-' | '\'' | '.')
                    })
                    && text.chars().any(|c| c.is_ascii_alphabetic());
                if !ok {
                    return Err(FieldError::Invalid(
                        "an English name is at most 100 Latin letters, spaces, commas, hyphens, apostrophes and full stops",
                    ));
                }
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            Kind::ChineseName => {
                if text.chars().count() > 20 || !text.chars().all(is_cjk) {
                    return Err(FieldError::Invalid(
                        "a Chinese name is at most 20 Chinese characters",
                    ));
                }
                text.to_owned()
            }
            Kind::Hkid => Hkid::parse(text)?.formatted(),
            Kind::PastDate => {
                let format = format_description!("[year]-[month]-[day]");
                let date = Date::parse(text, &format)
                    .map_err(|_| FieldError::Invalid("a date is written YYYY-MM-DD"))?;
                if date > today || date.year() < 1900 {
                    return Err(FieldError::Invalid(
                        "the date must be in the past, from 1900 on",
                    ));
                }
                date.format(&format)
                    .map_err(|_| FieldError::Invalid("a date is written YYYY-MM-DD"))?
            }
            Kind::Choice(options) => options
                .iter()
                .find(|(code, ..)| *code == text)
                .map(|(code, ..)| (*code).to_owned())
                .ok_or(FieldError::Invalid("choose one of the options"))?,
            Kind::Phone => phone(text)?,
            Kind::Email => email(text)?,
            Kind::Text(max) => {
                if text.chars().count() > max {
                    return Err(FieldError::Invalid("the text is too long"));
                }
                text.to_owned()
            }
            Kind::Address => return Err(FieldError::WrongShape("an address")),
        };
        Ok(Value::Text(value))
    }

    /// Re-checks a stored or received value (the same rules as
    /// [`FieldSpec::parse`]).
    pub fn check(&self, value: &Value, today: Date) -> Result<(), FieldError> {
        match value {
            Value::Address(address) if self.kind == Kind::Address => Ok(address.check()?),
            Value::Address(_) => Err(FieldError::WrongShape("a single value")),
            Value::Text(text) => self.parse(Input::Text(text), today).and_then(|again| {
                if again == *value {
                    Ok(())
                } else {
                    Err(FieldError::Invalid("the value is not in its normal form"))
                }
            }),
        }
    }

    /// The value as shown to the citizen (their profile page, the consent
    /// page's preview): an HKID number masked, a choice by its label, an
    /// address on one line.
    pub fn preview(&self, value: &Value, lang: Lang) -> String {
        match (self.kind, value) {
            (_, Value::Address(address)) => address.formatted(lang),
            (Kind::Hkid, Value::Text(text)) => {
                Hkid::parse(text).map_or_else(|_| "***".to_owned(), |id| id.masked())
            }
            (Kind::Choice(options), Value::Text(code)) => {
                options.iter().find(|(c, ..)| c == code).map_or_else(
                    || code.clone(),
                    |(_, en, zh)| match lang {
                        Lang::En => (*en).to_owned(),
                        Lang::ZhHk => (*zh).to_owned(),
                    },
                )
            }
            (_, Value::Text(text)) => text.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 28);

    fn parse(id: &str, text: &str) -> Result<Value, FieldError> {
        field(id).unwrap().parse(Input::Text(text), TODAY)
    }

    fn text(v: Value) -> String {
        match v {
            Value::Text(t) => t,
            Value::Address(_) => panic!("an address"),
        }
    }

    #[test]
    fn the_catalogue_is_consistent() {
        let mut ids: Vec<_> = FIELDS.iter().map(|f| f.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), FIELDS.len(), "ids are unique");
        let mut claims: Vec<_> = FIELDS.iter().map(|f| f.claim).collect();
        claims.sort_unstable();
        claims.dedup();
        assert_eq!(claims.len(), FIELDS.len(), "claims are unique");
        for group in Group::ALL {
            assert!(group.fields().count() > 0, "{group:?} has fields");
            assert_eq!(Group::from_scope(group.scope()), Some(group));
        }
        assert_eq!(Group::from_scope("openid"), None);
        for f in FIELDS {
            assert!(!f.label_en.is_empty() && !f.label_zh.is_empty());
            assert!(!f.label_zh.is_ascii(), "{} has a Chinese label", f.id);
        }
        assert_eq!(field("hkid").unwrap().sensitivity, Sensitivity::Identity);
    }

    #[test]
    fn values_are_checked_and_normalised() {
        assert_eq!(
            text(parse("name_en", " CHAN,  Tai Man ").unwrap()),
            "CHAN, Tai Man"
        );
        assert!(parse("name_en", "陳大文").is_err());
        assert!(parse("name_en", "<script>").is_err());
        assert!(parse("name_en", "---").is_err());
        assert_eq!(text(parse("name_zh", "陳大文").unwrap()), "陳大文");
        assert!(parse("name_zh", "Chan").is_err());
        assert_eq!(text(parse("hkid", "a1234563").unwrap()), "A123456(3)");
        assert_eq!(
            parse("hkid", "A123456(4)"),
            Err(FieldError::Hkid(HkidError::CheckDigit))
        );
        assert_eq!(
            text(parse("date_of_birth", "1980-02-29").unwrap()),
            "1980-02-29"
        );
        for bad in [
            "1981-02-29",
            "2026-11-29",
            "1899-12-31",
            "29/02/1980",
            "1980-2-3",
        ] {
            assert!(parse("date_of_birth", bad).is_err(), "{bad}");
        }
        assert_eq!(text(parse("gender", "female").unwrap()), "female");
        assert!(parse("gender", "Female").is_err());
        assert_eq!(text(parse("mobile", "9123 4567").unwrap()), "+85291234567");
        assert_eq!(
            text(parse("mobile", "+852 9123-4567").unwrap()),
            "+85291234567"
        );
        assert_eq!(
            text(parse("office_phone", "+86 138 0013 8000").unwrap()),
            "+8613800138000"
        );
        for bad in [
            "1234567",
            "0123 4567",
            "+852 123",
            "+0 12345678",
            "9123456a",
            "+85212345678",
        ] {
            assert!(parse("mobile", bad).is_err(), "{bad}");
        }
        assert_eq!(
            text(parse("email", "Tai.Man@Example.GOV.hk").unwrap()),
            "Tai.Man@example.gov.hk"
        );
        for bad in [
            "a@b", "@b.hk", "a b@c.hk", "a@@b.hk", "a@b..hk", "a@.b.hk", "a@b.hk.",
        ] {
            assert!(parse("email", bad).is_err(), "{bad}");
        }
        assert!(parse("occupation", &"x".repeat(61)).is_err());
        assert_eq!(parse("occupation", "  "), Err(FieldError::Empty));
        assert!(parse("occupation", "a\u{7}b").is_err());
        // Shapes.
        assert_eq!(
            parse("residential_address", "1 Harbour Road"),
            Err(FieldError::WrongShape("an address"))
        );
        let address = field("residential_address")
            .unwrap()
            .parse(
                Input::Address(["", "", "", "Harmony Court", "", "wan_chai"]),
                TODAY,
            )
            .unwrap();
        assert!(matches!(address, Value::Address(_)));
        assert!(
            field("email")
                .unwrap()
                .parse(Input::Address(["", "", "", "x", "", "wan_chai"]), TODAY)
                .is_err()
        );
    }

    #[test]
    fn stored_values_are_rechecked_and_previews_hide_the_hkid() {
        let hkid = field("hkid").unwrap();
        let value = parse("hkid", "A123456(3)").unwrap();
        hkid.check(&value, TODAY).unwrap();
        assert_eq!(hkid.preview(&value, Lang::En), "A123***(*)");
        assert!(
            hkid.check(&Value::Text("a1234563".into()), TODAY).is_err(),
            "not normalised"
        );
        let gender = field("gender").unwrap();
        assert_eq!(
            gender.preview(&Value::Text("male".into()), Lang::ZhHk),
            "男"
        );
        // Values serialise as a string or an address object.
        assert_eq!(serde_json::to_string(&value).unwrap(), "\"A123456(3)\"");
        let back: Value = serde_json::from_str("\"A123456(3)\"").unwrap();
        assert_eq!(back, value);
    }
}
