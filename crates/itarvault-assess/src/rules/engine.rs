//! The engine's denials as findings. Each rule here is a rule id of the policy engine
//! (`docs/rules.md`): a person who can reach a system whose data the engine would not
//! release to them, where they work, on the assessment date, is a finding of the rule
//! the engine denied with, carrying the engine's message and citation. The NIST SP
//! 800-171 and CMMC citations are the assessor's.

use super::{Check, Hit, Rule};
use crate::model::{finding_id, Finding, Severity};
use crate::release::Release;
use itarvault_policy::Reason;

pub static LOCATED_IN_PROSCRIBED_COUNTRY: Rule = Rule {
    id: "located-in-proscribed-country",
    checklist: "staff-us-persons",
    severity: Severity::Critical,
    title: "A person works in a proscribed country and can reach ITAR technical data",
    citations: &["22 CFR 126.1(a)", "22 CFR 120.56(a)(4)", "NIST SP 800-171 3.1.1", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.1", "CMMC AC.L2-3.1.3"],
    remediation: "Remove the access now: no license or exemption covers a release in a 22 CFR 126.1 country, to anyone. Then decide with the empowered official on the disclosure 22 CFR 126.1(e)(2) requires.",
    check: Check::Engine,
};

pub static PROSCRIBED_COUNTRY_NATIONAL: Rule = Rule {
    id: "proscribed-country-national",
    checklist: "staff-us-persons",
    severity: Severity::Critical,
    title: "A person attributed a proscribed country can reach ITAR technical data",
    citations: &["22 CFR 126.1(a)", "22 CFR 120.50(b)", "NIST SP 800-171 3.1.1", "CMMC AC.L2-3.1.1"],
    remediation: "Remove the access: only a license or agreement naming the proscribed country explicitly could cover it, and no exemption can (22 CFR 125.4(a)).",
    check: Check::Engine,
};

pub static DEEMED_EXPORT: Rule = Rule {
    id: "deemed-export-foreign-person",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "A foreign person can reach export-controlled data that no authorization they hold covers",
    citations: &["22 CFR 120.50(a)(2)", "22 CFR 120.50(b)", "15 CFR 734.13(b)", "NIST SP 800-171 3.1.1", "NIST SP 800-171 3.1.2", "CMMC AC.L2-3.1.1", "CMMC AC.L2-3.1.2"],
    remediation: "Remove the person's access to the systems named, or obtain an authorization (DSP-5, TAA, EAR license; an exemption within its scope) valid on the date that names every country attributed to the person and the data's USML category or ECCN, and record it under `authorizations`.",
    check: Check::Engine,
};

pub static US_PERSON_ABROAD: Rule = Rule {
    id: "us-person-abroad-unauthorized",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "A US person working abroad can decrypt export-controlled data without an authorization",
    citations: &["22 CFR 120.50(a)(6)", "22 CFR 120.56(a)(4)", "15 CFR 734.15(b)", "NIST SP 800-171 3.1.1", "NIST SP 800-171 3.1.12", "CMMC AC.L2-3.1.1", "CMMC AC.L2-3.1.12"],
    remediation: "Decrypting technical data outside the US is an export, even by a US person: record the authorization that covers the country of work (for ITAR data typically the 22 CFR 125.4(b)(9) exemption for US-person employees), or allow access only from the US.",
    check: Check::Engine,
};

pub static NO_CITIZENSHIP: Rule = Rule {
    id: "foreign-person-no-citizenship",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "A foreign person with access to export-controlled data has no citizenship recorded",
    citations: &["22 CFR 120.50(b)", "15 CFR 734.13(b)", "NIST SP 800-171 3.9.1", "CMMC PS.L2-3.9.1"],
    remediation: "Record every citizenship the person holds and has held (and any permanent residence) after screening; suspend the access until then.",
    check: Check::Engine,
};

pub static EAR99_EMBARGOED: Rule = Rule {
    id: "ear99-embargoed-country",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "EAR99 data is reachable by a person attributed, or working in, an embargoed country",
    citations: &[
        "15 CFR 746.1",
        "15 CFR 740 Supp. 1",
        "NIST SP 800-171 3.1.1",
        "CMMC AC.L2-3.1.1",
    ],
    remediation:
        "Remove the access, or obtain a BIS license for the embargoed country before any release.",
    check: Check::Engine,
};

pub static UNKNOWN_STATUS: Rule = Rule {
    id: "unknown-person-status",
    checklist: "staff-us-persons",
    severity: Severity::High,
    title: "A person with access to export-controlled data has an unknown US-person status",
    citations: &["22 CFR 120.62", "22 CFR 120.56(a)(2)", "NIST SP 800-171 3.9.1", "CMMC PS.L2-3.9.1"],
    remediation: "Verify the person's US-person status (citizenship, permanent residence or protected-individual evidence) and record it with the `screened` date; suspend access until then.",
    check: Check::Engine,
};

/// The rules above, by the engine's id.
fn described(rule: &str) -> bool {
    super::all()
        .iter()
        .any(|r| matches!(r.check, Check::Engine) && r.id == rule)
}

/// The denying reasons of `release` (an undecided decision denies without one).
fn denials<'r>(release: &'r Release<'_>) -> impl Iterator<Item = &'r Reason> {
    release
        .denied()
        .then_some(release.decision.reasons.iter())
        .into_iter()
        .flatten()
}

/// One hit per person whose releases the engine denied with `rule`: which systems,
/// which labels, the engine's message and, for each authorization held, why it did
/// not cover the release.
pub(crate) fn hits(releases: &[Release<'_>], rule: &str) -> Vec<Hit> {
    let denied: Vec<(&Release<'_>, &Reason)> = releases
        .iter()
        .flat_map(|r| denials(r).filter(|x| x.rule == rule).map(move |x| (r, x)))
        .collect();
    by_person(&denied)
        .into_iter()
        .filter_map(|(_, mine)| hit(&mine))
        .collect()
}

/// Denials grouped by person, in inventory order.
fn by_person<'r, 'a>(
    denied: &[(&'r Release<'a>, &'r Reason)],
) -> Vec<(&'a str, Vec<(&'r Release<'a>, &'r Reason)>)> {
    let mut groups: Vec<(&'a str, Vec<(&'r Release<'a>, &'r Reason)>)> = Vec::new();
    for &(release, reason) in denied {
        let id = release.person.id.as_str();
        match groups.iter_mut().find(|(person, _)| *person == id) {
            Some((_, list)) => list.push((release, reason)),
            None => groups.push((id, vec![(release, reason)])),
        }
    }
    groups
}

/// The hit for one person's denials (all of one rule), or `None` when there are none.
fn hit(denied: &[(&Release<'_>, &Reason)]) -> Option<Hit> {
    let (first, _) = denied.first()?;
    let person = first.person;
    // Systems that share a label share the engine's answer: one line per label.
    let mut groups: Vec<(&str, &Reason, &Release<'_>, Vec<&str>)> = Vec::new();
    for (release, reason) in denied {
        match groups
            .iter_mut()
            .find(|(label, x, _, _)| *label == release.label && x.message == reason.message)
        {
            Some(group) => group.3.push(&release.system.id),
            None => groups.push((release.label, reason, release, vec![&release.system.id])),
        }
    }
    let mut citations: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for (label, reason, release, systems) in &groups {
        for cite in reason.cite.split("; ") {
            if !citations.iter().any(|c| c == cite) {
                citations.push(cite.to_string());
            }
        }
        let systems: Vec<String> = systems.iter().map(|s| format!("`{s}`")).collect();
        let mut line = format!("{} ({label}): {}", systems.join(", "), reason.message);
        let considered: Vec<String> = release
            .decision
            .explanation
            .candidates
            .iter()
            .map(|(auth, why)| format!("`{auth}`: {why}"))
            .collect();
        if !considered.is_empty() {
            line.push_str(&format!(" [{}]", considered.join("; ")));
        }
        lines.push(line);
    }
    let status = serde_json::to_value(person.person_status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut who = format!("person_status {status}");
    if !person.citizenships.is_empty() {
        who.push_str(&format!(
            ", citizenships {}",
            person.citizenships.join(", ")
        ));
    }
    if !person.former_citizenships.is_empty() {
        who.push_str(&format!(
            ", former citizenships {}",
            person.former_citizenships.join(", ")
        ));
    }
    if let Some(residence) = &person.permanent_residence {
        who.push_str(&format!(", permanent residence {residence}"));
    }
    who.push_str(&format!(", works in `{}`", person.work_country));
    Some(Hit {
        subject: format!("people/{}", person.id),
        evidence: format!(
            "{who}: {}{}",
            lines.join("; "),
            if person.privileged {
                "; privileged (administers the systems)"
            } else {
                ""
            }
        ),
        severity: person.privileged.then_some(Severity::Critical),
        partial: false,
        citations,
    })
}

/// Findings for denials with an engine rule id no rule above describes (a newer engine
/// than this list, an organisation policy), and for a decision the engine did not
/// reach: they fail `staff-us-persons` like the others, never pass silently.
pub(crate) fn unclaimed(releases: &[Release<'_>]) -> Vec<Finding> {
    let undecided = Reason::new(
        UNDECIDED,
        "22 CFR 120.50(a)",
        "the engine reached no decision, which counts as a denial",
    );
    let loose: Vec<(&Release<'_>, &Reason)> = releases
        .iter()
        .filter(|r| r.denied())
        .flat_map(|r| {
            let reasons: Vec<&Reason> = if r.decision.reasons.is_empty() {
                vec![&undecided]
            } else {
                r.decision
                    .reasons
                    .iter()
                    .filter(|x| !described(x.rule))
                    .collect()
            };
            reasons.into_iter().map(move |x| (r, x))
        })
        .collect();
    let mut rules: Vec<&str> = Vec::new();
    for (_, reason) in &loose {
        if !rules.contains(&reason.rule) {
            rules.push(reason.rule);
        }
    }
    let mut out = Vec::new();
    for rule in rules {
        let of_rule: Vec<_> = loose
            .iter()
            .filter(|(_, x)| x.rule == rule)
            .copied()
            .collect();
        for (_, mine) in by_person(&of_rule) {
            let Some(h) = hit(&mine) else { continue };
            out.push(Finding {
                id: finding_id(rule, &h.subject),
                rule: rule.to_string(),
                severity: h.severity.unwrap_or(Severity::High),
                title: "The decision engine would not release data this person can reach".into(),
                evidence: h.evidence,
                remediation: "Read the engine's reason in the evidence (`itarvault decide --explain` gives the same), and remove the access or record what the reason asks for.".into(),
                citations: h.citations,
                checklist: "staff-us-persons".into(),
                subject: h.subject,
                partial: false,
                exception: None,
                change: None,
            });
        }
    }
    out
}

const UNDECIDED: &str = "engine-undecided";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;

    fn inventory() -> Inventory {
        crate::load(
            "organization: { name: X }\nsystems:\n  - { id: plm, kind: application, labels: [\"ITAR:XI\"] }\npeople:\n  - { id: p, person_status: us_citizen, citizenships: [US], work_country: US, access: [plm] }\n",
        )
        .unwrap()
    }

    /// A denial this list does not describe, and an undecided decision, both become
    /// findings of `staff-us-persons`.
    #[test]
    fn denials_no_rule_describes_still_fail_the_item() {
        let inv = inventory();
        let mut releases = crate::release::releases(&inv, time::macros::date!(2026 - 12 - 02));
        assert_eq!(releases.len(), 1);
        assert!(!releases[0].denied());
        assert!(unclaimed(&releases).is_empty());
        releases[0].decision.narrow(Reason::new(
            "org-policy",
            "org policy `night`",
            "no reads at night",
        ));
        let found = unclaimed(&releases);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, "org-policy");
        assert_eq!(found[0].checklist, "staff-us-persons");
        assert!(found[0]
            .evidence
            .contains("`plm` (ITAR:XI): no reads at night"));
        assert_eq!(found[0].citations, ["org policy `night`"]);
        releases[0].decision = itarvault_policy::Decision::new();
        let found = unclaimed(&releases);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, UNDECIDED);
    }
}
