//! Hong Kong addresses, structured as the Hongkong Post and the Rating and
//! Valuation Department write them: flat, floor, block, building, street,
//! district (one of the 18), region (derived from the district).

use serde::{Deserialize, Serialize};

use super::Lang;

/// The three regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// Hong Kong Island.
    HongKongIsland,
    /// Kowloon.
    Kowloon,
    /// New Territories (and the islands).
    NewTerritories,
}

impl Region {
    /// The region's name.
    pub fn name(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Region::HongKongIsland, Lang::En) => "Hong Kong Island",
            (Region::HongKongIsland, Lang::ZhHk) => "香港島",
            (Region::Kowloon, Lang::En) => "Kowloon",
            (Region::Kowloon, Lang::ZhHk) => "九龍",
            (Region::NewTerritories, Lang::En) => "New Territories",
            (Region::NewTerritories, Lang::ZhHk) => "新界",
        }
    }
}

/// The 18 districts: code, English name, Chinese name, region.
pub const DISTRICTS: &[(&str, &str, &str, Region)] = &[
    (
        "central_western",
        "Central and Western",
        "中西區",
        Region::HongKongIsland,
    ),
    ("wan_chai", "Wan Chai", "灣仔", Region::HongKongIsland),
    ("eastern", "Eastern", "東區", Region::HongKongIsland),
    ("southern", "Southern", "南區", Region::HongKongIsland),
    ("yau_tsim_mong", "Yau Tsim Mong", "油尖旺", Region::Kowloon),
    ("sham_shui_po", "Sham Shui Po", "深水埗", Region::Kowloon),
    ("kowloon_city", "Kowloon City", "九龍城", Region::Kowloon),
    ("wong_tai_sin", "Wong Tai Sin", "黃大仙", Region::Kowloon),
    ("kwun_tong", "Kwun Tong", "觀塘", Region::Kowloon),
    ("kwai_tsing", "Kwai Tsing", "葵青", Region::NewTerritories),
    ("tsuen_wan", "Tsuen Wan", "荃灣", Region::NewTerritories),
    ("tuen_mun", "Tuen Mun", "屯門", Region::NewTerritories),
    ("yuen_long", "Yuen Long", "元朗", Region::NewTerritories),
    ("north", "North", "北區", Region::NewTerritories),
    ("tai_po", "Tai Po", "大埔", Region::NewTerritories),
    ("sha_tin", "Sha Tin", "沙田", Region::NewTerritories),
    ("sai_kung", "Sai Kung", "西貢", Region::NewTerritories),
    ("islands", "Islands", "離島", Region::NewTerritories),
];

/// Longest part of an address, in characters.
pub const MAX_PART_CHARS: usize = 100;

/// A structured Hong Kong address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Flat or room, e.g. `12A`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub flat: String,
    /// Floor, e.g. `23`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub floor: String,
    /// Block or tower.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub block: String,
    /// Building or estate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub building: String,
    /// Street and number.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub street: String,
    /// One of [`DISTRICTS`]' codes.
    pub district: String,
    /// The district's region.
    pub region: Region,
}

/// Why address parts were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Neither a building nor a street.
    #[error("give at least the building or the street")]
    Incomplete,
    /// Not one of the 18 districts.
    #[error("choose one of Hong Kong's 18 districts")]
    UnknownDistrict,
    /// A part is too long or holds control characters.
    #[error("the {part} is longer than {MAX_PART_CHARS} characters or holds control characters")]
    BadPart {
        /// Which part.
        part: &'static str,
    },
}

fn clean(part: &'static str, text: &str) -> Result<String, AddressError> {
    let text = text.trim();
    if text.chars().count() > MAX_PART_CHARS || text.chars().any(char::is_control) {
        return Err(AddressError::BadPart { part });
    }
    Ok(text.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl Address {
    /// Checks and normalises parts as a citizen typed them; the region
    /// follows from the district.
    pub fn new(
        flat: &str,
        floor: &str,
        block: &str,
        building: &str,
        street: &str,
        district: &str,
    ) -> Result<Address, AddressError> {
        let (_, _, _, region) = DISTRICTS
            .iter()
            .find(|(code, ..)| *code == district)
            .ok_or(AddressError::UnknownDistrict)?;
        let address = Address {
            flat: clean("flat", flat)?,
            floor: clean("floor", floor)?,
            block: clean("block", block)?,
            building: clean("building", building)?,
            street: clean("street", street)?,
            district: district.to_owned(),
            region: *region,
        };
        if address.building.is_empty() && address.street.is_empty() {
            return Err(AddressError::Incomplete);
        }
        Ok(address)
    }

    /// Re-checks a stored or received address (the same rules as
    /// [`Address::new`], and the region must be the district's).
    pub fn check(&self) -> Result<(), AddressError> {
        let again = Address::new(
            &self.flat,
            &self.floor,
            &self.block,
            &self.building,
            &self.street,
            &self.district,
        )?;
        if again != *self {
            return Err(AddressError::BadPart { part: "region" });
        }
        Ok(())
    }

    /// The district's name.
    pub fn district_name(&self, lang: Lang) -> &'static str {
        DISTRICTS
            .iter()
            .find(|(code, ..)| *code == self.district)
            .map_or("", |(_, en, zh, _)| match lang {
                Lang::En => en,
                Lang::ZhHk => zh,
            })
    }

    /// One line as written in the language: English from the flat up to
    /// the region, Chinese from the region down to the flat.
    pub fn formatted(&self, lang: Lang) -> String {
        match lang {
            Lang::En => {
                let mut parts = Vec::new();
                if !self.flat.is_empty() {
                    parts.push(format!("Flat {}", self.flat));
                }
                if !self.floor.is_empty() {
                    parts.push(format!("{}/F", self.floor));
                }
                if !self.block.is_empty() {
                    parts.push(format!("Block {}", self.block));
                }
                for part in [&self.building, &self.street] {
                    if !part.is_empty() {
                        parts.push(part.clone());
                    }
                }
                parts.push(self.district_name(lang).to_owned());
                parts.push(self.region.name(lang).to_owned());
                parts.join(", ")
            }
            Lang::ZhHk => {
                let mut text = String::new();
                text.push_str(self.region.name(lang));
                text.push_str(self.district_name(lang));
                text.push_str(&self.street);
                text.push_str(&self.building);
                if !self.block.is_empty() {
                    text.push_str(&format!("{}座", self.block));
                }
                if !self.floor.is_empty() {
                    text.push_str(&format!("{}樓", self.floor));
                }
                if !self.flat.is_empty() {
                    text.push_str(&format!("{}室", self.flat));
                }
                text
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn addresses_are_structured_and_written_both_ways() {
        let a = Address::new(
            "12A",
            "23",
            "2",
            "Harmony Court",
            " 1  Harbour Road ",
            "wan_chai",
        )
        .unwrap();
        assert_eq!(a.street, "1 Harbour Road", "spaces normalised");
        assert_eq!(a.region, Region::HongKongIsland);
        assert_eq!(
            a.formatted(Lang::En),
            "Flat 12A, 23/F, Block 2, Harmony Court, 1 Harbour Road, Wan Chai, Hong Kong Island"
        );
        let zh = Address::new("12A", "23", "2", "和諧閣", "港灣道1號", "wan_chai").unwrap();
        assert_eq!(
            zh.formatted(Lang::ZhHk),
            "香港島灣仔港灣道1號和諧閣2座23樓12A室"
        );
        a.check().unwrap();
        assert_eq!(DISTRICTS.len(), 18);
    }

    #[test]
    fn incomplete_unknown_and_hostile_parts_are_refused() {
        assert_eq!(
            Address::new("1", "2", "", "", " ", "sha_tin"),
            Err(AddressError::Incomplete)
        );
        assert_eq!(
            Address::new("", "", "", "X", "", "atlantis"),
            Err(AddressError::UnknownDistrict)
        );
        assert_eq!(
            Address::new("", "", "", &"x".repeat(101), "", "sha_tin"),
            Err(AddressError::BadPart { part: "building" })
        );
        assert_eq!(
            Address::new("", "", "", "A\u{0}B", "", "sha_tin"),
            Err(AddressError::BadPart { part: "building" })
        );
        // A region that is not the district's.
        let mut a = Address::new("", "", "", "X", "", "sha_tin").unwrap();
        a.region = Region::Kowloon;
        assert!(a.check().is_err());
    }
}
