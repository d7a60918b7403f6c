//! OSCAL 1.1.2 assessment results and plan of action and milestones (JSON).
//!
//! Each finding becomes an observation (what was examined, with its evidence) and a
//! risk (the weakness and its remediation); each evaluated checklist item becomes an
//! OSCAL finding whose target is the item, satisfied or not, linked to them. UUIDs are
//! name-based (RFC 9562 version 5), so the same assessment yields the same document
//! and documents can reference each other across runs.

use crate::model::{Finding, Status};
use crate::report::Report;
use serde_json::{json, Value};

pub const OSCAL_VERSION: &str = "1.1.2";
/// Namespace of itarvault's props and of its name-based UUIDs.
pub const NS: &str = "https://itarvault.dev/ns/oscal";
const UUID_NS: [u8; 16] = [
    0x6f, 0x1c, 0x3a, 0x52, 0x9d, 0x0e, 0x4b, 0x7a, 0x8c, 0x25, 0x3e, 0x61, 0x0b, 0xd4, 0x92, 0x17,
];

/// An RFC 9562 version 5 UUID of `name` in itarvault's namespace.
pub fn uuid5(name: &str) -> String {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(&UUID_NS);
    ctx.update(name.as_bytes());
    let d = ctx.finish();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn metadata(r: &Report, title: &str, generated: &str) -> Value {
    json!({
        "title": title,
        "last-modified": generated,
        "version": format!("itarvault-assess {} / checklist {}", env!("CARGO_PKG_VERSION"), r.checklist_version),
        "oscal-version": OSCAL_VERSION,
        "props": [{ "name": "organization", "ns": NS, "value": r.organization }]
    })
}

fn start(r: &Report) -> String {
    format!("{}T00:00:00Z", r.as_of)
}

fn key(r: &Report, what: &str) -> String {
    format!("{}/{}/{}", r.organization, r.as_of, what)
}

fn citations(f: &Finding) -> Vec<Value> {
    f.citations
        .iter()
        .map(|c| json!({ "name": "citation", "ns": NS, "value": c }))
        .collect()
}

fn observation(r: &Report, f: &Finding) -> Value {
    json!({
        "uuid": uuid5(&key(r, &format!("observation/{}", f.id))),
        "title": format!("{} ({})", f.title, f.subject),
        "description": f.evidence,
        "props": [
            { "name": "finding-id", "ns": NS, "value": f.id },
            { "name": "rule", "ns": NS, "value": f.rule },
            { "name": "subject", "ns": NS, "value": f.subject }
        ],
        "methods": ["EXAMINE"],
        "types": ["discovery"],
        "collected": start(r)
    })
}

fn risk(r: &Report, f: &Finding) -> Value {
    let (status, remarks) = match &f.exception {
        Some(e) if !e.expired => (
            "deviation-approved",
            Some(format!(
                "Accepted by exception {} until {}, approved by {}: {}",
                e.id, e.expires, e.approver, e.reason
            )),
        ),
        Some(e) => (
            "open",
            Some(format!("Exception {} expired on {}.", e.id, e.expires)),
        ),
        None => ("open", None),
    };
    let mut props = citations(f);
    props.push(json!({ "name": "severity", "ns": NS, "value": f.severity.as_str() }));
    json!({
        "uuid": uuid5(&key(r, &format!("risk/{}", f.id))),
        "title": f.title,
        "description": format!("{} Subject: {}.{}", f.evidence, f.subject, remarks.map(|m| format!(" {m}")).unwrap_or_default()),
        "statement": f.remediation,
        "props": props,
        "status": status,
        "related-observations": [{ "observation-uuid": uuid5(&key(r, &format!("observation/{}", f.id))) }]
    })
}

/// OSCAL assessment results for the report (`generated`: RFC 3339 date-time).
pub fn assessment_results(r: &Report, generated: &str) -> Value {
    let findings: Vec<Value> = r
        .checklist
        .iter()
        .filter(|i| i.status != Status::NotApplicable)
        .map(|i| {
            let related: Vec<&Finding> =
                r.findings.iter().filter(|f| f.checklist == i.item).collect();
            let (state, reason) = match i.status {
                Status::Pass => ("satisfied", "pass"),
                Status::Fail => ("not-satisfied", "fail"),
                _ => ("not-satisfied", "other"),
            };
            let mut v = json!({
                "uuid": uuid5(&key(r, &format!("finding/{}", i.item))),
                "title": i.title,
                "description": format!("{} Status: {}. {}", i.title, crate::report::status_word(i.status), i.reason),
                "props": i.citations.iter().map(|c| json!({ "name": "citation", "ns": NS, "value": c })).collect::<Vec<_>>(),
                "target": {
                    "type": "objective-id",
                    "target-id": i.item,
                    "status": { "state": state, "reason": reason }
                }
            });
            if let Some(o) = v.as_object_mut() {
                if !related.is_empty() {
                    o.insert("related-observations".into(), related.iter().map(|f| json!({ "observation-uuid": uuid5(&key(r, &format!("observation/{}", f.id))) })).collect());
                    o.insert("related-risks".into(), related.iter().map(|f| json!({ "risk-uuid": uuid5(&key(r, &format!("risk/{}", f.id))) })).collect());
                }
            }
            v
        })
        .collect();
    let mut result = json!({
        "uuid": uuid5(&key(r, "result")),
        "title": format!("ITAR checklist assessment of {}", r.organization),
        "description": format!(
            "{}% of the checklist met; SPRS-style score {} ({}).",
            r.score, r.sprs.score, r.sprs.method
        ),
        "start": start(r),
        "reviewed-controls": { "control-selections": [{ "include-all": {} }] },
        "findings": findings
    });
    if let Some(o) = result.as_object_mut() {
        if !r.findings.is_empty() {
            o.insert(
                "observations".into(),
                r.findings.iter().map(|f| observation(r, f)).collect(),
            );
            o.insert(
                "risks".into(),
                r.findings.iter().map(|f| risk(r, f)).collect(),
            );
        }
    }
    json!({
        "assessment-results": {
            "uuid": uuid5(&key(r, "assessment-results")),
            "metadata": metadata(r, &format!("Export-control posture assessment: {}", r.organization), generated),
            "import-ap": { "href": "urn:itarvault:assessment-plan:itar-checklist" },
            "results": [result]
        }
    })
}

/// The OSCAL POA&M of the open findings, or `None` when there are none (a POA&M needs
/// at least one item).
pub fn poam(r: &Report, generated: &str) -> Option<Value> {
    let open: Vec<&Finding> = r.findings.iter().filter(|f| f.open()).collect();
    if open.is_empty() {
        return None;
    }
    let items: Vec<Value> = open
        .iter()
        .map(|f| {
            json!({
                "uuid": uuid5(&key(r, &format!("poam-item/{}", f.id))),
                "title": f.title,
                "description": format!("{} Subject: {}. Remediation: {}", f.evidence, f.subject, f.remediation),
                "props": citations(f),
                "related-observations": [{ "observation-uuid": uuid5(&key(r, &format!("observation/{}", f.id))) }],
                "related-risks": [{ "risk-uuid": uuid5(&key(r, &format!("risk/{}", f.id))) }]
            })
        })
        .collect();
    Some(json!({
        "plan-of-action-and-milestones": {
            "uuid": uuid5(&key(r, "poam")),
            "metadata": metadata(r, &format!("Plan of action and milestones: {}", r.organization), generated),
            "system-id": { "identifier-type": NS, "id": uuid5(&r.organization) },
            "observations": open.iter().map(|f| observation(r, f)).collect::<Vec<_>>(),
            "risks": open.iter().map(|f| risk(r, f)).collect::<Vec<_>>(),
            "poam-items": items
        }
    }))
}
