//! Cloud regions are places. A system's or AI tool's `data_regions` are looked up in
//! the dated region table (`cloud_regions.json` of the policy crate's data) and the
//! countries they give are checked like `location_country`: against 22 CFR 126.1 and
//! the residency mode. A name the table does not hold is a finding of its own: where the
//! data is cannot be told, so it cannot pass.

use super::{labels, Check, Ctx, Hit, Rule};
use crate::inventory::{Provider, System};
use crate::model::Severity;
use itarvault_format::Control;
use itarvault_policy::data::{data, Country};
use itarvault_policy::regions::RegionLookup;

pub static RULE: Rule = Rule {
    id: "unknown-data-region",
    checklist: "storage-locations",
    severity: Severity::High,
    title: "Export-controlled data is in a cloud region whose country is not known",
    citations: &["22 CFR 120.54(a)(5)(iv)", "22 CFR 126.1", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
    remediation: "Write the region as the provider's API names it (`us-gov-west-1`, `usgovvirginia`, `us-east4`, `NAM`), or, for a region the table does not list yet, load a newer edition of the region table that gives its country.",
    check: Check::Facts(check),
};

/// The region table's key for a provider; `None` for one the table does not cover
/// (the name is then looked up across every provider).
fn table_key(provider: Option<Provider>) -> Option<&'static str> {
    match provider? {
        Provider::Aws => Some("aws"),
        Provider::Azure => Some("azure"),
        Provider::Gcp => Some("gcp"),
        Provider::M365 => Some("m365"),
        Provider::GoogleWorkspace => Some("google_workspace"),
        Provider::SelfHosted | Provider::Other => None,
    }
}

/// Where one region name puts the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Placed {
    /// The region, described for evidence, and its countries.
    Known {
        region: String,
        countries: Vec<Country>,
    },
    /// Why the region's country cannot be told.
    Unknown { region: String, why: String },
}

pub(crate) fn place(provider: Option<Provider>, region: &str) -> Placed {
    let key = table_key(provider);
    let Some(d) = data() else {
        return Placed::Unknown {
            region: region.to_string(),
            why: "the regulatory data did not load".into(),
        };
    };
    match d.regions.lookup(key, region) {
        RegionLookup::Found(r) => Placed::Known {
            region: format!("data region `{region}` ({} {})", r.provider, r.name),
            countries: r.countries.clone(),
        },
        RegionLookup::Unknown => Placed::Unknown {
            region: region.to_string(),
            why: match key {
                Some(k) => format!("not in the region table for `{k}` or any other provider"),
                None => "not in the region table of any provider".into(),
            },
        },
        RegionLookup::Ambiguous(rows) => Placed::Unknown {
            region: region.to_string(),
            why: format!(
                "providers place it differently ({}); record the provider",
                rows.iter()
                    .map(|r| format!(
                        "{}: {}",
                        r.provider,
                        r.countries
                            .iter()
                            .map(Country::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        },
    }
}

/// Every place a system's data is, described for evidence: `location_country` and the
/// countries of each known data region.
pub(crate) fn system_places(system: &System) -> Vec<(String, String)> {
    let mut places: Vec<(String, String)> = system
        .location_country
        .iter()
        .map(|c| (format!("location_country {c}"), c.clone()))
        .collect();
    for region in &system.data_regions {
        if let Placed::Known { region, countries } = place(system.provider, region) {
            for c in countries {
                places.push((format!("{region} in {c}"), c.to_string()));
            }
        }
    }
    places
}

/// Whether a system holds anything that may not go everywhere (all but PUBLIC data).
pub(crate) fn holds_restricted(system: &System) -> bool {
    labels(system).any(|l| !matches!(l.control(), Control::Public))
}

fn check(ctx: &Ctx) -> Vec<Hit> {
    ctx.inv
        .systems
        .iter()
        .filter(|s| holds_restricted(s))
        .filter_map(|s| {
            let unknown: Vec<String> = s
                .data_regions
                .iter()
                .filter_map(|r| match place(s.provider, r) {
                    Placed::Unknown { region, why } => Some(format!("`{region}`: {why}")),
                    Placed::Known { .. } => None,
                })
                .collect();
            (!unknown.is_empty()).then(|| Hit {
                subject: format!("systems/{}", s.id),
                evidence: format!(
                    "holds {}; data region(s) of unknown country: {}",
                    s.labels.join(", "),
                    unknown.join("; ")
                ),
                severity: None,
                partial: false,
                citations: Vec::new(),
            })
        })
        .collect()
}
