//! The assessment asks the policy engine.
//!
//! Whether a person may receive a piece of data where they work is one fact, and the
//! engine (`itarvault-policy`) owns it: attribution of citizenships (former ones
//! included), permanent residence, the place of work, the 126.1 list on the date, and
//! what each authorization type and exemption can cover. The assessor does not judge
//! coverage itself; for every person, every system they can reach and every label that
//! system holds, it builds the engine's request from the inventory's typed facts and
//! keeps the decision. A denial becomes a finding with the engine's rule id, message and
//! citation (`rules::release`), so that `itarvault assess` and `itarvault decide` can
//! never disagree about the law.

use crate::inventory::{Authorization, AuthorizationType, Inventory, Person, PersonStatus, System};
use itarvault_format::{Label, UsmlCategory};
use itarvault_policy::data::Country;
use itarvault_policy::model::{Action, Context, LabelFact, Principal, Request, Resource};
use itarvault_policy::{AuthType, Decision, Engine, Reason, INVALID_INPUT};
use std::collections::BTreeMap;
use time::Date;

/// One question put to the engine (may `person` read `label`, held by `system`, where
/// the person works, on the assessment date?) and its answer.
#[derive(Debug, Clone)]
pub struct Release<'a> {
    pub person: &'a Person,
    pub system: &'a System,
    /// The label as the inventory writes it.
    pub label: &'a str,
    pub decision: Decision,
}

impl Release<'_> {
    pub fn denied(&self) -> bool {
        !self.decision.is_allow()
    }
}

/// The engine's name for a person status.
pub fn person_status(status: PersonStatus) -> itarvault_policy::PersonStatus {
    use itarvault_policy::PersonStatus as P;
    match status {
        PersonStatus::UsCitizen => P::UsCitizen,
        PersonStatus::UsNational => P::UsNational,
        PersonStatus::PermanentResident => P::PermanentResident,
        PersonStatus::ProtectedIndividual => P::ProtectedIndividual,
        PersonStatus::ForeignPerson => P::ForeignPerson,
        PersonStatus::Unknown => P::Unknown,
    }
}

/// The engine's authorization type.
pub fn auth_type(kind: AuthorizationType) -> AuthType {
    match kind {
        AuthorizationType::Dsp5 => AuthType::Dsp5,
        AuthorizationType::Dsp61 => AuthType::Dsp61,
        AuthorizationType::Dsp73 => AuthType::Dsp73,
        AuthorizationType::Dsp85 => AuthType::Dsp85,
        AuthorizationType::Taa => AuthType::Taa,
        AuthorizationType::Mla => AuthType::Mla,
        AuthorizationType::Wda => AuthType::Wda,
        AuthorizationType::Exemption => AuthType::Exemption,
        AuthorizationType::EarLicense => AuthType::EarLicense,
        AuthorizationType::EarException => AuthType::EarException,
    }
}

fn country(code: &str, what: &str) -> Result<Country, String> {
    Country::parse(code)
        .ok_or_else(|| format!("{what} `{code}` is not an assigned ISO 3166-1 alpha-2 code"))
}

fn countries(codes: &[String], what: &str) -> Result<Vec<Country>, String> {
    codes.iter().map(|c| country(c, what)).collect()
}

fn date(text: &str, what: &str) -> Result<Date, String> {
    itarvault_policy::data::parse_ymd(text).ok_or_else(|| format!("{what} `{text}` is not a date"))
}

/// The engine's record of an authorization. The loader has checked every field; an
/// error here means the inventory did not come through [`crate::load`].
pub fn authorization(a: &Authorization) -> Result<itarvault_policy::Authorization, String> {
    let usml_categories = a
        .usml_categories
        .iter()
        .map(|c| {
            c.parse::<UsmlCategory>()
                .map_err(|_| format!("`{}`: `{c}` is not a USML category", a.id))
        })
        .collect::<Result<_, _>>()?;
    let eccns = a
        .eccns
        .iter()
        .map(|e| {
            e.parse::<itarvault_format::Eccn>()
                .map(|e| e.as_str().to_owned())
                .map_err(|_| format!("`{}`: `{e}` is not an ECCN", a.id))
        })
        .collect::<Result<_, _>>()?;
    Ok(itarvault_policy::Authorization {
        id: a.id.clone(),
        kind: auth_type(a.kind),
        // A bare exemption (no section claimed) goes to the engine as it is: it
        // authorizes nothing there, and the finding says so.
        exemption: a.exemption.clone(),
        countries: countries(&a.countries, &format!("`{}`: country", a.id))?,
        usml_categories,
        eccns,
        valid_from: a
            .valid_from
            .as_deref()
            .map(|d| date(d, &format!("`{}`: valid_from", a.id)))
            .transpose()?,
        expires: date(&a.expires, &format!("`{}`: expires", a.id))?,
    })
}

/// The engine's principal for a person, with the authorizations the person holds.
pub fn principal(inv: &Inventory, p: &Person) -> Result<Principal, String> {
    let authorizations = p
        .authorizations
        .iter()
        .map(|id| {
            inv.authorizations
                .iter()
                .find(|a| &a.id == id)
                .ok_or_else(|| format!("authorization `{id}` is not in `authorizations`"))
                .and_then(authorization)
        })
        .collect::<Result<_, _>>()?;
    Ok(Principal {
        id: p.id.clone(),
        person_status: person_status(p.person_status),
        citizenships: countries(&p.citizenships, "citizenship")?,
        former_citizenships: countries(&p.former_citizenships, "former citizenship")?,
        permanent_residence: p
            .permanent_residence
            .as_deref()
            .map(|c| country(c, "permanent residence"))
            .transpose()?,
        authorizations,
    })
}

/// The read request for `principal`, working in `source`, and one label, on `as_of`.
pub fn request(principal: Principal, source: Country, label: &str, as_of: Date) -> Request {
    Request {
        principal,
        action: Action::Read,
        context: Context {
            source_country: Some(source),
            time: as_of.midnight().assume_utc(),
        },
        resource: Resource {
            label: match label.parse::<Label>() {
                Ok(l) => LabelFact::Parsed(l),
                Err(e) => LabelFact::Unparseable(e.to_string()),
            },
            classified: false,
            end_to_end_encrypted: false,
            storage_country: None,
        },
    }
}

/// Every person x reachable system x label, decided by the engine on `as_of`. A person
/// the engine cannot be asked about (a record that did not come through the loader) is
/// denied on every label, with the reason: never skipped.
pub fn releases(inv: &Inventory, as_of: Date) -> Vec<Release<'_>> {
    let engine = Engine::default();
    let mut out = Vec::new();
    for person in &inv.people {
        let reached: Vec<&System> = inv
            .systems
            .iter()
            .filter(|s| person.access.contains(&s.id))
            .collect();
        let asked = principal(inv, person)
            .and_then(|principal| Ok((principal, country(&person.work_country, "work_country")?)));
        // One decision per distinct label: the system only carries it.
        let mut decided: BTreeMap<&str, Decision> = BTreeMap::new();
        for system in &reached {
            for label in &system.labels {
                let decision = decided
                    .entry(label.as_str())
                    .or_insert_with(|| match &asked {
                        Ok((principal, source)) => {
                            engine.decide(&request(principal.clone(), *source, label, as_of))
                        }
                        Err(why) => unaskable(why),
                    });
                out.push(Release {
                    person,
                    system,
                    label,
                    decision: decision.clone(),
                });
            }
        }
    }
    out
}

fn unaskable(why: &str) -> Decision {
    let mut decision = Decision::new();
    decision.narrow(Reason::new(
        INVALID_INPUT,
        "22 CFR 120.62",
        format!("the person's record cannot be put to the decision engine ({why}); fix it and assess again"),
    ));
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name the engine knows is one the inventory accepts, and maps back to it.
    #[test]
    fn inventory_names_are_the_engine_s() {
        for (name, kind) in AuthType::ALL {
            let ours: AuthorizationType = serde_json::from_value(serde_json::json!(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(auth_type(ours), kind, "{name}");
        }
        for (name, status) in itarvault_policy::PersonStatus::ALL {
            let ours: PersonStatus = serde_json::from_value(serde_json::json!(name))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(person_status(ours), status, "{name}");
        }
    }

    #[test]
    fn a_record_the_engine_cannot_take_is_denied_with_the_reason() {
        let d = unaskable("citizenship `XX` is not an assigned ISO 3166-1 alpha-2 code");
        assert!(!d.is_allow());
        assert_eq!(d.reasons[0].rule, INVALID_INPUT);
        assert!(d.reasons[0].message.contains("`XX`"));
    }
}
