//! Report renderers (human table, SARIF 2.1.0) and the comparison with a baseline
//! report. None of them reproduces document content: only the marking text.

use crate::matcher::Scanner;
use crate::rules::Confidence;
use crate::walk::{Report, Status};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::fmt::Write as _;

/// New, fixed and unchanged findings against an earlier JSON report.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BaselineDiff {
    pub new: u64,
    pub unchanged: u64,
    /// Findings of the baseline that are gone.
    pub fixed: Vec<Gone>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gone {
    pub path: String,
    pub rule: String,
    pub matched: String,
    pub fingerprint: String,
}

/// Marks each finding `new` or `unchanged` and lists what the baseline had that is gone.
pub fn apply_baseline(report: &mut Report, baseline: &Report) {
    let now: HashSet<String> = report
        .findings()
        .filter_map(|(_, f)| f.fingerprint.clone())
        .collect();
    let before: HashSet<&str> = baseline
        .findings()
        .filter_map(|(_, f)| f.fingerprint.as_deref())
        .collect();
    let mut diff = BaselineDiff::default();
    for file in &mut report.files {
        for f in &mut file.findings {
            let known = f
                .fingerprint
                .as_deref()
                .is_some_and(|fp| before.contains(fp));
            if known {
                diff.unchanged += 1;
            } else {
                diff.new += 1;
            }
            f.baseline = Some(if known { "unchanged" } else { "new" }.into());
        }
    }
    diff.fixed = baseline
        .findings()
        .filter_map(|(file, f)| {
            let fp = f.fingerprint.as_deref()?;
            (!now.contains(fp)).then(|| Gone {
                path: file.path.clone(),
                rule: f.rule.clone(),
                matched: f.matched.clone(),
                fingerprint: fp.to_string(),
            })
        })
        .collect();
    report.baseline = Some(diff);
}

/// The terminal table: one block per file, then the coverage summary.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    for file in &report.files {
        match (&file.status, &file.error) {
            (Status::Scanned, _) => {
                let label = file.suggested_label.as_deref().unwrap_or("-");
                let _ = writeln!(out, "{}  suggested label: {label}", file.path);
            }
            (Status::Unscanned, Some(e)) => {
                let _ = writeln!(out, "{}  UNSCANNED: {e}", file.path);
            }
            (_, e) => {
                let _ = writeln!(
                    out,
                    "{}  ERROR: {}",
                    file.path,
                    e.as_deref().unwrap_or("unknown")
                );
            }
        }
        for f in &file.findings {
            let at = match (&f.entry, f.line) {
                (Some(e), Some(l)) => format!("{e}:{l}"),
                (Some(e), None) => e.clone(),
                (None, Some(l)) => format!("line {l}"),
                (None, None) => "-".into(),
            };
            let detail = [
                f.usml_category
                    .as_ref()
                    .map(|c| format!("Cat. {c}{}", f.paragraph.as_deref().unwrap_or(""))),
                f.eccn.as_ref().map(|e| format!("ECCN {e}")),
                f.cui.as_ref().map(|c| format!("CUI//{c}")),
                f.distribution.as_ref().map(|d| format!("Dist. {d}")),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let new = match f.baseline.as_deref() {
                Some("new") => " [new]",
                _ => "",
            };
            let _ = writeln!(
                out,
                "  {at:<12} {:<26} {:<12} {detail:<14} \"{}\"  ({}){new}",
                f.rule,
                f.implies.as_str(),
                f.matched,
                f.cite
            );
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "\n{} files seen, {} scanned, {} with findings, {} unscanned, {} errors; {:.1} MB in {:.2} s",
        s.files_seen,
        s.files_scanned,
        s.files_with_findings,
        s.files_unscanned,
        s.errors,
        s.bytes as f64 / 1e6,
        s.seconds
    );
    for (why, n) in &s.unscanned {
        let _ = writeln!(out, "  unscanned: {n} x {why}");
    }
    if let Some(b) = &report.baseline {
        let _ = writeln!(
            out,
            "against the baseline: {} new, {} unchanged, {} fixed",
            b.new,
            b.unchanged,
            b.fixed.len()
        );
    }
    out
}

/// SARIF 2.1.0 for code-scanning dashboards. Files that could not be scanned are
/// tool notifications, so a dashboard shows them rather than a clean bill.
pub fn sarif(report: &Report, scanner: &Scanner) -> Value {
    let rules: Vec<Value> = scanner
        .rules()
        .map(|r| {
            json!({
                "id": r.id,
                "shortDescription": { "text": r.description },
                "help": { "text": format!("{} ({})", r.description, r.cite) },
                "properties": { "implies": r.implies.as_str(), "confidence": r.confidence, "cite": r.cite },
            })
        })
        .collect();
    let results: Vec<Value> = report
        .findings()
        .map(|(file, f)| {
            let uri = match &f.entry {
                Some(e) => format!("{}!{e}", file.path),
                None => file.path.clone(),
            };
            let mut location = json!({ "artifactLocation": { "uri": uri } });
            if let Some(l) = f.line {
                location["region"] = json!({ "startLine": l });
            }
            json!({
                "ruleId": f.rule,
                "level": match f.confidence { Confidence::High => "error", Confidence::Medium => "warning", Confidence::Low => "note" },
                "message": { "text": format!("{} marking `{}` ({}); suggested label {}", f.implies.as_str(), f.matched, f.cite, file.suggested_label.as_deref().unwrap_or("-")) },
                "locations": [{ "physicalLocation": location }],
                "partialFingerprints": { "itarvaultScan/v1": f.fingerprint },
                "properties": { "baseline": f.baseline },
            })
        })
        .collect();
    let notes: Vec<Value> = report
        .files
        .iter()
        .filter(|f| f.status != Status::Scanned)
        .map(|f| {
            json!({
                "level": if f.status == Status::Error { "error" } else { "warning" },
                "message": { "text": format!("{}: {}", f.path, f.error.as_deref().unwrap_or("")) },
                "locations": [{ "physicalLocation": { "artifactLocation": { "uri": f.path } } }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "itarvault-scan",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://example.invalid/itarvault",
                "rules": rules,
            }},
            "invocations": [{ "executionSuccessful": true, "toolExecutionNotifications": notes }],
            "results": results,
        }],
    })
}
