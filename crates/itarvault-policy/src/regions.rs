//! Cloud regions and the countries their data centres are in, read from
//! `data/cloud_regions.json`.
//!
//! A region name is not a place: `ap-east-1` is Hong Kong, `eastasia` too, and Google's
//! `asia` multi-region may be either. Where data lives decides whether storing it is an
//! export and whether it sits in a 126.1 country (22 CFR 120.54(a)(5)(iv)), so the
//! mapping is data with an edition, and a name the table does not hold is *unknown*,
//! never assumed to be anywhere in particular.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::data::{split_edition, Codes, Country, DataError, Edition};

pub(crate) const REGIONS_FILE: &str = "cloud_regions.json";

/// One region of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudRegion {
    /// The provider's key in the table (`aws`, `azure`, `gcp`, `m365`,
    /// `google_workspace`).
    pub provider: String,
    /// The name as the provider's API writes it (`us-gov-west-1`, `eastus2`).
    pub region: String,
    /// What the provider calls it, for people (`Asia Pacific (Hong Kong)`).
    pub name: String,
    /// Every country the provider may keep the region's data in.
    pub countries: Vec<Country>,
}

/// The region table of one edition.
#[derive(Debug, Clone)]
pub struct RegionTable {
    pub edition: Edition,
    pub note: String,
    pub regions: Vec<CloudRegion>,
}

/// What the table says about one region name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionLookup<'a> {
    Found(&'a CloudRegion),
    /// No provider's table has the name.
    Unknown,
    /// The provider is not given (or does not have the name), and providers that do
    /// have it place it in different countries.
    Ambiguous(Vec<&'a CloudRegion>),
}

/// `East US 2` and `eastus2` are one name; `us-east-1` keeps its hyphens (Google's
/// `us-east1` is another region).
pub fn normalize_region(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

mod raw {
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Region {
        pub region: String,
        pub name: String,
        pub countries: Vec<String>,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    note: String,
    providers: BTreeMap<String, Vec<raw::Region>>,
}

impl RegionTable {
    pub(crate) fn parse(text: &str, codes: &Codes<'_>) -> Result<Self, DataError> {
        const FILE: &str = REGIONS_FILE;
        let (edition, table): (_, RawTable) = split_edition(FILE, text)?;
        let mut regions = Vec::new();
        for (provider, rows) in table.providers {
            if provider.is_empty()
                || !provider
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
            {
                return Err(DataError::content(
                    FILE,
                    format!("provider `{provider}` is not written in lower case (`aws`, `google_workspace`)"),
                ));
            }
            if rows.is_empty() {
                return Err(DataError::content(
                    FILE,
                    format!("provider `{provider}` lists no region"),
                ));
            }
            let mut seen = BTreeSet::new();
            for row in rows {
                let what = format!("`{provider}` region `{}`", row.region);
                if row.region.is_empty() || normalize_region(&row.region) != row.region {
                    return Err(DataError::content(
                        FILE,
                        format!(
                            "{what} is not written as the API writes it (lower case, no spaces)"
                        ),
                    ));
                }
                if !seen.insert(row.region.clone()) {
                    return Err(DataError::content(FILE, format!("{what} is listed twice")));
                }
                if row.name.trim().is_empty() {
                    return Err(DataError::content(FILE, format!("{what} has no name")));
                }
                if row.countries.is_empty() {
                    return Err(DataError::content(FILE, format!("{what} names no country")));
                }
                let countries = codes.countries(FILE, &what, &row.countries)?;
                regions.push(CloudRegion {
                    provider: provider.clone(),
                    region: row.region,
                    name: row.name,
                    countries,
                });
            }
        }
        Ok(Self {
            edition,
            note: table.note,
            regions,
        })
    }

    /// Where `region` is. With a `provider` whose table has the name, that row; else
    /// every provider's rows with the name, which must agree on the countries.
    pub fn lookup(&self, provider: Option<&str>, region: &str) -> RegionLookup<'_> {
        let name = normalize_region(region);
        if let Some(found) = provider.and_then(|p| {
            self.regions
                .iter()
                .find(|r| r.provider == p && r.region == name)
        }) {
            return RegionLookup::Found(found);
        }
        let matches: Vec<&CloudRegion> = self.regions.iter().filter(|r| r.region == name).collect();
        match matches.as_slice() {
            [] => RegionLookup::Unknown,
            [first, rest @ ..] => {
                let same = |r: &&CloudRegion| {
                    let a: BTreeSet<_> = r.countries.iter().collect();
                    let b: BTreeSet<_> = first.countries.iter().collect();
                    a == b
                };
                if rest.iter().all(same) {
                    RegionLookup::Found(first)
                } else {
                    RegionLookup::Ambiguous(matches)
                }
            }
        }
    }

    /// The providers the table covers.
    pub fn providers(&self) -> BTreeSet<&str> {
        self.regions.iter().map(|r| r.provider.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::data;

    fn table() -> &'static RegionTable {
        &data().unwrap().regions
    }

    fn countries(provider: Option<&str>, name: &str) -> Vec<String> {
        match table().lookup(provider, name) {
            RegionLookup::Found(r) => r.countries.iter().map(ToString::to_string).collect(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn regions_map_to_their_countries() {
        assert_eq!(countries(Some("aws"), "us-gov-west-1"), ["US"]);
        assert_eq!(countries(Some("aws"), "ap-east-1"), ["HK"]);
        assert_eq!(countries(Some("aws"), "cn-north-1"), ["CN"]);
        assert_eq!(countries(Some("azure"), "eastasia"), ["HK"]);
        assert_eq!(countries(Some("azure"), "East US 2"), ["US"]);
        assert_eq!(countries(Some("azure"), "usgovvirginia"), ["US"]);
        assert_eq!(countries(Some("gcp"), "asia-east2"), ["HK"]);
        assert_eq!(countries(Some("gcp"), "us-east1"), ["US"]);
        assert!(countries(Some("gcp"), "asia").contains(&"HK".to_owned()));
        assert_eq!(countries(Some("m365"), "NAM"), ["US"]);
        assert!(countries(Some("m365"), "APC").contains(&"HK".to_owned()));
        for provider in ["aws", "azure", "gcp", "m365", "google_workspace"] {
            assert!(table().providers().contains(provider), "{provider}");
        }
    }

    #[test]
    fn a_name_is_looked_up_across_providers_only_when_they_agree() {
        // Not an AWS name; Azure has it.
        assert_eq!(countries(Some("aws"), "westeurope"), ["NL"]);
        assert_eq!(countries(None, "ap-east-1"), ["HK"]);
        // `us` is Google Cloud's and Google Workspace's: both say US.
        assert_eq!(countries(None, "us"), ["US"]);
        assert_eq!(
            table().lookup(Some("aws"), "mars-north-1"),
            RegionLookup::Unknown
        );
        assert_eq!(table().lookup(None, ""), RegionLookup::Unknown);
        // `eu` (Google Cloud) and `eur` (Microsoft 365) are different names; a name two
        // providers place differently is ambiguous without the provider.
        let mut edited: RegionTable = table().clone();
        edited.regions.push(CloudRegion {
            provider: "other".into(),
            region: "eu".into(),
            name: "x".into(),
            countries: vec![Country::parse("DE").unwrap()],
        });
        assert!(matches!(
            edited.lookup(None, "eu"),
            RegionLookup::Ambiguous(_)
        ));
        assert!(matches!(
            edited.lookup(Some("gcp"), "eu"),
            RegionLookup::Found(r) if r.provider == "gcp"
        ));
    }
}
