//! The vault assesses itself: findings from a running server's posture
//! (`GET /v1/posture`) and its audit trail, and the carve-out evidence pack that shows,
//! per bucket and backend, that each condition of 22 CFR 120.54(a)(5) holds.
//!
//! No I/O here: the CLI fetches the posture and the trail, verifies the trail, and
//! writes the evidence files this module composes.

use crate::model::{finding_id, Finding, Severity};
use itarvault_audit::{Record, VerifyReport};
use itarvault_policy::data::{data, ymd, Country};
use serde::Serialize;
use serde_json::json;
use time::Date;

pub use itarvault_api::{Posture, ServerCertificate};

/// The audit trail as the CLI read it: its verification and its records.
#[derive(Debug, Clone)]
pub struct Trail {
    pub report: VerifyReport,
    pub records: Vec<Record>,
}

/// The rule ids this module reports under (exceptions may name them).
pub const RULES: [&str; 10] = [
    "vault-fips-inactive",
    "vault-fips-unvalidated",
    "vault-tls-off",
    "vault-tls-dev-certificate",
    "vault-backend-proscribed",
    "vault-backend-abroad-us-only",
    "vault-admin-not-us-person",
    "vault-bootstrap-mode",
    "vault-audit-not-intact",
    "vault-write-from-proscribed",
];

struct Made<'a> {
    rule: &'a str,
    checklist: &'a str,
    severity: Severity,
    subject: String,
    title: &'a str,
    evidence: String,
    remediation: &'a str,
    citations: &'a [&'a str],
}

fn finding(m: Made) -> Finding {
    Finding {
        id: finding_id(m.rule, &m.subject),
        rule: m.rule.into(),
        severity: m.severity,
        subject: m.subject,
        title: m.title.into(),
        evidence: m.evidence,
        remediation: m.remediation.into(),
        citations: m.citations.iter().map(|c| c.to_string()).collect(),
        checklist: m.checklist.into(),
        partial: false,
        exception: None,
        change: None,
    }
}

/// The 126.1 citation if `country` is proscribed on `day`.
fn proscribed(country: Country, day: Date) -> Option<String> {
    data()?.proscribed_on(country, day).map(|e| e.cite())
}

/// Successful writes whose source country was proscribed on the day they happened.
pub fn proscribed_writes(trail: &Trail) -> Vec<&Record> {
    trail
        .records
        .iter()
        .filter(|r| r.event.kind == "object.put" && r.event.outcome == "ok")
        .filter(|r| {
            let day = r.time.get(..10).and_then(itarvault_policy::data::parse_ymd);
            match (r.event.country.as_deref().and_then(Country::parse), day) {
                (Some(c), Some(day)) => proscribed(c, day).is_some(),
                _ => false,
            }
        })
        .collect()
}

/// Findings about the running vault, and checklist items that could not be evaluated.
pub fn findings(
    p: &Posture,
    trail: Result<&Trail, String>,
    as_of: Date,
) -> (Vec<Finding>, Vec<(String, String)>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if !p.fips.active {
        out.push(finding(Made {
            rule: "vault-fips-inactive",
            checklist: "encryption",
            severity: Severity::High,
            subject: "vault/fips".into(),
            title: "The vault does not run the FIPS 140-3 validated module",
            evidence: format!("module: {}", p.fips.module),
            remediation: "Run the `fips` build (cargo build --release --features fips); `itarvault version` must report FIPS mode active.",
            citations: &["22 CFR 120.54(a)(5)(iii)", "NIST SP 800-171 3.13.11", "CMMC SC.L2-3.13.11"],
        }));
    } else if !p.fips.validated {
        out.push(finding(Made {
            rule: "vault-fips-unvalidated",
            checklist: "encryption",
            severity: Severity::High,
            subject: "vault/fips".into(),
            title: "The vault's FIPS module has no CMVP certificate this release knows of",
            evidence: format!(
                "module: {}; {}; certificate recorded by the operator: {}",
                p.fips.module,
                p.fips.validation,
                p.fips.certificate.as_deref().unwrap_or("none")
            ),
            remediation: "Run a release whose `itarvault version` names a CMVP certificate for its module; a module in review is not validated until the certificate is issued.",
            citations: &["22 CFR 120.54(a)(5)(iii)", "NIST SP 800-171 3.13.11", "CMMC SC.L2-3.13.11"],
        }));
    }
    if !p.tls.enabled {
        out.push(finding(Made {
            rule: "vault-tls-off",
            checklist: "encryption",
            severity: Severity::High,
            subject: "vault/tls".into(),
            title: "The vault serves plain HTTP",
            evidence: "tls.insecure_http is set".into(),
            remediation: "Remove `tls.insecure_http` and configure a certificate (`tls.cert_file`, `tls.key_file`).",
            citations: &["NIST SP 800-171 3.13.8", "CMMC SC.L2-3.13.8"],
        }));
    }
    if p.tls.enabled && p.tls.certificate != ServerCertificate::Configured {
        out.push(finding(Made {
            rule: "vault-tls-dev-certificate",
            checklist: "encryption",
            severity: Severity::Medium,
            subject: "vault/tls".into(),
            title: "The vault presents its generated development certificate",
            evidence: "the server reports its self-signed development certificate".into(),
            remediation: "Configure a certificate from the organisation's CA (`tls.cert_file`, `tls.key_file`) so that clients can authenticate the vault without pinning.",
            citations: &["NIST SP 800-171 3.13.8", "NIST SP 800-171 3.13.15", "CMMC SC.L2-3.13.15"],
        }));
    }
    for b in &p.backends {
        if let Some(cite) = proscribed(b.country, as_of) {
            out.push(finding(Made {
                rule: "vault-backend-proscribed",
                checklist: "storage-locations",
                severity: Severity::Critical,
                subject: format!("vault/backends/{}", b.name),
                title: "A vault storage backend is in a proscribed country",
                evidence: format!("backend `{}` ({}) is in {} on {}: {cite}", b.name, b.operator, b.country, ymd(as_of)),
                remediation: "Remove the backend and move its objects to a backend in the US; ciphertext may not be stored in a 126.1 country.",
                citations: &["22 CFR 120.54(a)(5)(iv)", "22 CFR 126.1", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
            }));
        } else if p.residency.mode.refuses(b.country).is_some() {
            out.push(finding(Made {
                rule: "vault-backend-abroad-us-only",
                checklist: "storage-locations",
                severity: Severity::High,
                subject: format!("vault/backends/{}", b.name),
                title: "A vault backend outside the US while the residency mode is us_only",
                evidence: format!("backend `{}` is in {}", b.name, b.country),
                remediation: "Keep us_only backends in the US, or change the residency mode to carve_out through the quorum.",
                citations: &["DFARS 252.204-7012(b)(2)(ii)(D)", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
            }));
        }
    }
    for a in &p.admins {
        if !a.person_status.is_us_person() {
            out.push(finding(Made {
                rule: "vault-admin-not-us-person",
                checklist: "staff-us-persons",
                severity: Severity::High,
                subject: format!("vault/principals/{}", a.id),
                title: "A vault administrator or operator is not a US person",
                evidence: format!(
                    "`{}` ({}) has person_status {} (citizenships {})",
                    a.id,
                    a.roles.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                    a.person_status.as_str(),
                    a.citizenships.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
                remediation: "Give administration only to screened US persons, or record the authorization that covers this person; the lockbox keeps content from administrators, but not the metadata and labels they see.",
                citations: &["22 CFR 120.56(a)(2)", "NIST SP 800-171 3.1.5", "CMMC AC.L2-3.1.5"],
            }));
        }
    }
    if p.quorum.bootstrap {
        out.push(finding(Made {
            rule: "vault-bootstrap-mode",
            checklist: "staff-us-persons",
            severity: Severity::High,
            subject: "vault/quorum".into(),
            title: "The vault is in bootstrap mode: one administrator acts alone",
            evidence: "no quorum has been adopted (`quorum.approvers` is empty): the admin registers people, issues their first tokens and binds their credentials without anyone else's approval, so the admin can create a US person and hold its token".into(),
            remediation: "Configure `quorum.approvers` (N people) and `quorum.required` (M < N) and restart: the first start with a quorum ends bootstrap mode for good.",
            citations: &["22 CFR 120.56(a)(2)", "NIST SP 800-171 3.1.4", "CMMC AC.L2-3.1.4"],
        }));
    }
    match trail {
        Err(why) => errors.push((
            "audit-logging".to_string(),
            format!("the vault's audit trail could not be read: {why}"),
        )),
        Ok(t) => {
            if !t.report.is_intact() || !t.report.head_checked {
                let mut why: Vec<String> = t
                    .report
                    .problems
                    .iter()
                    .take(5)
                    .map(|p| format!("line {}: {}", p.line, p.message))
                    .collect();
                if !t.report.head_checked {
                    why.push("no signed head to check the end of the trail against".into());
                }
                out.push(finding(Made {
                    rule: "vault-audit-not-intact",
                    checklist: "audit-logging",
                    severity: Severity::Critical,
                    subject: "vault/audit".into(),
                    title: "The vault's audit trail does not verify",
                    evidence: why.join("; "),
                    remediation: "Treat as a security incident: preserve the data directory, compare with backups and the signed checkpoints, and find who altered the trail.",
                    citations: &["22 CFR 122.5", "NIST SP 800-171 3.3.8", "CMMC AU.L2-3.3.8"],
                }));
            }
            for r in proscribed_writes(t) {
                out.push(finding(Made {
                    rule: "vault-write-from-proscribed",
                    checklist: "storage-locations",
                    severity: Severity::Critical,
                    subject: format!("vault/audit/{}", r.seq),
                    title: "Data was written to the vault from a proscribed country",
                    evidence: format!(
                        "record {} at {}: {} stored {}/{} from {}",
                        r.seq,
                        r.time,
                        r.event.principal.as_deref().unwrap_or("?"),
                        r.event.bucket.as_deref().unwrap_or("?"),
                        r.event.object.as_deref().unwrap_or("?"),
                        r.event.country.as_deref().unwrap_or("?")
                    ),
                    remediation: "Investigate and consider a voluntary disclosure (22 CFR 127.12); sending technical data from a 126.1 country is outside the carve-out.",
                    citations: &["22 CFR 120.54(a)(5)(v)", "22 CFR 126.1", "NIST SP 800-171 3.1.3", "CMMC AC.L2-3.1.3"],
                }));
            }
        }
    }
    (out, errors)
}

/// One condition of 22 CFR 120.54(a)(5), held or not, with the proof.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    pub cite: &'static str,
    pub condition: &'static str,
    pub holds: bool,
    pub proof: String,
}

/// The carve-out evidence for one bucket (and the backend it stores on).
#[derive(Debug, Clone, Serialize)]
pub struct BucketEvidence {
    pub bucket: String,
    pub backend: String,
    pub backend_country: String,
    pub backend_operator: String,
    pub conditions: Vec<Condition>,
}

impl BucketEvidence {
    pub fn holds(&self) -> bool {
        self.conditions.iter().all(|c| c.holds)
    }
}

/// The evidence pack as files (name, contents): a README an auditor reads first, the
/// conditions per bucket as JSON, the posture and the audit verification as read.
pub fn evidence(p: &Posture, trail: Result<&Trail, String>, as_of: Date) -> Vec<(String, String)> {
    let day = ymd(as_of);
    let writes: Result<Vec<&Record>, String> = trail
        .as_ref()
        .map(|t| proscribed_writes(t))
        .map_err(Clone::clone);
    let intact = trail
        .as_ref()
        .map(|t| t.report.is_intact() && t.report.head_checked);
    let mut buckets = Vec::new();
    for b in &p.buckets {
        let backend = p.backends.iter().find(|x| x.name == b.backend);
        let (country, operator) = backend
            .map(|x| (x.country.to_string(), x.operator.clone()))
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        let proscribed_here = backend.and_then(|x| proscribed(x.country, as_of));
        let provider = p.key_providers.iter().find(|k| k.name == b.key_provider);
        let bucket_writes: Vec<String> = match &writes {
            Ok(w) => w
                .iter()
                .filter(|r| r.event.bucket.as_deref() == Some(b.name.as_str()))
                .map(|r| {
                    format!(
                        "record {} from {}",
                        r.seq,
                        r.event.country.as_deref().unwrap_or("?")
                    )
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        let conditions = vec![
            Condition {
                cite: "22 CFR 120.54(a)(5)(i)",
                condition: "the data is unclassified",
                holds: true,
                proof: "every upload is scanned as it streams in and a classification banner is always refused (HTTP 422 content-classified); labels admit only ITAR, EAR and CUI markings (docs/labels.md)".into(),
            },
            Condition {
                cite: "22 CFR 120.54(a)(5)(ii), 120.54(b)",
                condition: "end-to-end encrypted, with keys no third party holds",
                holds: provider.is_some_and(|k| !k.third_party_access),
                proof: match provider {
                    Some(k) => format!("objects are sealed by the vault before they reach the backend (envelope format, AES-256-GCM); key provider `{}` ({}): {}; the backend operator `{operator}` receives ciphertext only", k.name, k.kind, k.custody),
                    None => format!("key provider `{}` is not declared by the server", b.key_provider),
                },
            },
            Condition {
                cite: "22 CFR 120.54(a)(5)(iii)",
                condition: "FIPS 140-2 or later validated cryptographic module",
                holds: p.fips.active && p.fips.validated,
                proof: format!(
                    "module: {}; FIPS mode at run time: {}; validation: {}; certificate recorded by the operator: {}",
                    p.fips.module,
                    if p.fips.active { "active" } else { "NOT active" },
                    p.fips.validation,
                    p.fips.certificate.as_deref().unwrap_or("not recorded (set `fips_certificate` in the server config)")
                ),
            },
            Condition {
                cite: "22 CFR 120.54(a)(5)(iv)",
                condition: "not stored in a country proscribed in 22 CFR 126.1",
                holds: backend.is_some() && proscribed_here.is_none(),
                proof: match &proscribed_here {
                    Some(c) => format!("backend `{}` is in {country}, proscribed on {day} ({c})", b.backend),
                    None => format!("backend `{}` is in {country}, operated by {operator}: not proscribed on {day}", b.backend),
                },
            },
            Condition {
                cite: "22 CFR 120.54(a)(5)(v)",
                condition: "not sent from a country proscribed in 22 CFR 126.1",
                holds: writes.is_ok() && bucket_writes.is_empty() && matches!(intact, Ok(true)),
                proof: match (&writes, &intact) {
                    (Err(e), _) => format!("the audit trail could not be read: {e}"),
                    (Ok(_), Ok(false)) => "the audit trail does not verify: its records cannot prove anything".into(),
                    _ if bucket_writes.is_empty() => "the verified audit trail holds no successful write to this bucket from a proscribed country (the source country of each request is recorded)".into(),
                    _ => format!("writes from proscribed countries: {}", bucket_writes.join(", ")),
                },
            },
        ];
        buckets.push(BucketEvidence {
            bucket: b.name.clone(),
            backend: b.backend.clone(),
            backend_country: country,
            backend_operator: operator,
            conditions,
        });
    }
    let mut readme = format!(
        "# Carve-out evidence: 22 CFR 120.54(a)(5)\n\nCollected from the vault (server {}) on {day}. Sending, taking or storing technical data is not an export when every condition below holds (22 CFR 120.54(a)(5)(i)-(v)); this pack shows, per bucket and the backend it stores on, whether each holds and why.\n\nFiles: `conditions.json` (this table, machine-readable), `posture.json` (the server's own statement, `GET /v1/posture`), `audit-verification.json` (the audit trail's verification by this client).\n",
        p.server_version
    );
    for b in &buckets {
        readme.push_str(&format!(
            "\n## Bucket `{}` on backend `{}` ({}, operated by {}): {}\n\n| Condition | Holds | Proof |\n|---|---|---|\n",
            b.bucket,
            b.backend,
            b.backend_country,
            b.backend_operator,
            if b.holds() { "all conditions hold" } else { "NOT ALL CONDITIONS HOLD" }
        ));
        for c in &b.conditions {
            readme.push_str(&format!(
                "| {} ({}) | {} | {} |\n",
                c.condition,
                c.cite,
                if c.holds { "yes" } else { "**no**" },
                c.proof.replace('|', "\\|")
            ));
        }
    }
    if buckets.is_empty() {
        readme.push_str("\nThe vault has no buckets yet: nothing is stored.\n");
    }
    let verification = match &trail {
        Ok(t) => serde_json::to_value(&t.report).unwrap_or_default(),
        Err(e) => json!({ "error": e }),
    };
    vec![
        ("README.md".into(), readme),
        (
            "conditions.json".into(),
            serde_json::to_string_pretty(&json!({ "as_of": day, "buckets": buckets }))
                .unwrap_or_default(),
        ),
        (
            "posture.json".into(),
            serde_json::to_string_pretty(p).unwrap_or_default(),
        ),
        (
            "audit-verification.json".into(),
            serde_json::to_string_pretty(&verification).unwrap_or_default(),
        ),
    ]
}
