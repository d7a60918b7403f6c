//! A report for people: a terminal summary, Markdown, a self-contained HTML page, and
//! the plan of action (POA&M) as Markdown. Every renderer reads the same [`Report`];
//! none adds a fact of its own.

use crate::model::{Change, Finding, Severity, Status};
use crate::report::{status_word, ItemResult, Report};
use std::fmt::Write as _;

const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

fn status_label(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Manual => "MANUAL",
        Status::NotApplicable => "N/A",
        Status::Error => "ERROR",
    }
}

fn headline(r: &Report) -> String {
    let s = &r.summary;
    format!(
        "{}% of the checklist met · SPRS-style score {} (of {}, over {} NIST SP 800-171 requirements) · open findings: {} critical, {} high, {} medium, {} low{}",
        r.score,
        r.sprs.score,
        r.sprs.max,
        r.sprs.covered.len(),
        s.critical,
        s.high,
        s.medium,
        s.low,
        if s.excepted > 0 {
            format!(" · {} accepted by exception", s.excepted)
        } else {
            String::new()
        }
    )
}

fn change_note(f: &Finding) -> &'static str {
    match f.change {
        Some(Change::New) => " (new)",
        Some(Change::Unchanged) => " (unchanged)",
        None => "",
    }
}

fn exception_note(f: &Finding) -> Option<String> {
    f.exception.as_ref().map(|e| {
        if e.expired {
            format!(
                "exception {} expired on {}: this finding counts again",
                e.id, e.expires
            )
        } else {
            format!(
                "accepted by exception {} until {} (approved by {}: {})",
                e.id, e.expires, e.approver, e.reason
            )
        }
    })
}

/// The terminal summary: the scores, the checklist, then the findings, most severe first.
pub fn text(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} — export-control posture as of {}",
        r.organization, r.as_of
    );
    let _ = writeln!(o, "{}\n", headline(r));
    let _ = writeln!(o, "Checklist");
    for i in &r.checklist {
        let _ = writeln!(
            o,
            "  {:<7} {:<20} {}{}",
            status_label(i.status),
            i.item,
            i.title,
            match i.status {
                Status::Fail => format!(" [{} finding(s)]", i.findings),
                Status::Pass => String::new(),
                _ => format!(" — {}", i.reason),
            }
        );
    }
    for sev in SEVERITIES {
        let group: Vec<&Finding> = r.findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(o, "\n{} ({})", sev.as_str().to_uppercase(), group.len());
        for f in group {
            let _ = writeln!(o, "  {} {}{}", f.id, f.title, change_note(f));
            let _ = writeln!(o, "    subject:  {}", f.subject);
            let _ = writeln!(o, "    evidence: {}", f.evidence);
            let _ = writeln!(o, "    fix:      {}", f.remediation);
            let _ = writeln!(o, "    cites:    {}", f.citations.join("; "));
            if let Some(n) = exception_note(f) {
                let _ = writeln!(o, "    note:     {n}");
            }
        }
    }
    if let Some(fixed) = r.fixed.as_ref().filter(|f| !f.is_empty()) {
        let _ = writeln!(o, "\nFixed since the previous report ({})", fixed.len());
        for f in fixed {
            let _ = writeln!(o, "  {} {} ({})", f.id, f.title, f.subject);
        }
    }
    for e in &r.unused_exceptions {
        let _ = writeln!(
            o,
            "\nexception {e} matches no finding: remove it or fix its rule and subject"
        );
    }
    if r.findings.is_empty() {
        let _ = writeln!(o, "\nNo findings.");
    }
    o
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The report as Markdown, for a ticket, a wiki or a pull request.
pub fn markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Export-control posture: {}\n", md(&r.organization));
    let _ = writeln!(o, "Assessed as of **{}**. {}\n", r.as_of, headline(r));
    let _ = writeln!(o, "## Checklist\n");
    let _ = writeln!(o, "| Status | Item | Requirement | Findings | Why |");
    let _ = writeln!(o, "|---|---|---|---|---|");
    for i in &r.checklist {
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | {} | {} |",
            status_label(i.status),
            i.item,
            md(&i.title),
            i.findings,
            md(&i.reason)
        );
    }
    let _ = writeln!(o, "\n## Findings\n");
    if r.findings.is_empty() {
        let _ = writeln!(o, "None.\n");
    }
    for f in &r.findings {
        let _ = writeln!(
            o,
            "### {} `{}` {}{}\n",
            f.severity.as_str().to_uppercase(),
            f.id,
            md(&f.title),
            change_note(f)
        );
        let _ = writeln!(o, "- **Subject:** `{}`", f.subject);
        let _ = writeln!(o, "- **Evidence:** {}", md(&f.evidence));
        let _ = writeln!(o, "- **Remediation:** {}", md(&f.remediation));
        let _ = writeln!(o, "- **Citations:** {}", f.citations.join("; "));
        let _ = writeln!(
            o,
            "- **Checklist item:** `{}` · rule `{}`",
            f.checklist, f.rule
        );
        if let Some(n) = exception_note(f) {
            let _ = writeln!(o, "- **Exception:** {}", md(&n));
        }
        let _ = writeln!(o);
    }
    if let Some(fixed) = r.fixed.as_ref().filter(|f| !f.is_empty()) {
        let _ = writeln!(o, "## Fixed since the previous report\n");
        for f in fixed {
            let _ = writeln!(o, "- `{}` {} (`{}`)", f.id, md(&f.title), f.subject);
        }
        let _ = writeln!(o);
    }
    let _ = writeln!(o, "## SPRS-style score\n");
    let _ = writeln!(o, "{} ({})\n", r.sprs.score, md(&r.sprs.method));
    for d in &r.sprs.not_met {
        let _ = writeln!(
            o,
            "- NIST SP 800-171 {}: −{} ({} finding(s))",
            d.requirement, d.points, d.findings
        );
    }
    o
}

/// The plan of action and milestones: every open finding, most severe first, with what
/// to do. Excepted findings are listed apart, with their expiry.
pub fn poam_markdown(r: &Report) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Plan of action and milestones: {}\n\nFrom the assessment as of {}. One line per open finding; close it by doing what the remediation says and re-running the assessment.\n",
        md(&r.organization),
        r.as_of
    );
    let _ = writeln!(
        o,
        "| # | Finding | Severity | Subject | Weakness | Remediation | Citations |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|");
    for (n, f) in r.findings.iter().filter(|f| f.open()).enumerate() {
        let _ = writeln!(
            o,
            "| {} | `{}` | {} | `{}` | {}: {} | {} | {} |",
            n + 1,
            f.id,
            f.severity.as_str(),
            f.subject,
            md(&f.title),
            md(&f.evidence),
            md(&f.remediation),
            f.citations.join("; ")
        );
    }
    let accepted: Vec<&Finding> = r.findings.iter().filter(|f| !f.open()).collect();
    if !accepted.is_empty() {
        let _ = writeln!(o, "\n## Accepted by exception\n");
        for f in accepted {
            let _ = writeln!(
                o,
                "- `{}` {}: {}",
                f.id,
                md(&f.title),
                md(&exception_note(f).unwrap_or_default())
            );
        }
    }
    let manual: Vec<&ItemResult> = r
        .checklist
        .iter()
        .filter(|i| i.status == Status::Manual)
        .collect();
    if !manual.is_empty() {
        let _ = writeln!(o, "\n## Checklist items awaiting an attestation\n");
        for i in manual {
            let _ = writeln!(o, "- `{}` {}: {}", i.item, md(&i.title), md(&i.reason));
        }
    }
    o
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
:root{--fail:#b42318;--pass:#067647;--manual:#b54708;--na:#667085;--err:#6941c6;--ink:#101828;--mute:#475467;--line:#eaecf0}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);max-width:1100px;margin:2rem auto;padding:0 1.5rem}
h1{font-size:1.6rem;margin:0}h2{margin-top:2.2rem;border-bottom:1px solid var(--line);padding-bottom:.3rem}.sub{color:var(--mute)}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1.5rem 0}.card{flex:1 1 160px;border:1px solid var(--line);border-radius:10px;padding:1rem 1.2rem}
.card b{display:block;font-size:2rem}.card span{color:var(--mute);font-size:.85rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}th{font-size:.8rem;color:var(--mute);text-transform:uppercase}
.pill{display:inline-block;border-radius:999px;padding:.05rem .6rem;font-size:.75rem;font-weight:600;color:#fff}
.pass{background:var(--pass)}.fail{background:var(--fail)}.manual{background:var(--manual)}.not_applicable{background:var(--na)}.error{background:var(--err)}
.critical{background:#7a271a}.high{background:var(--fail)}.medium{background:var(--manual)}.low{background:var(--na)}
.finding{border:1px solid var(--line);border-left:5px solid var(--na);border-radius:8px;padding:.8rem 1rem;margin:.8rem 0}
.finding.sev-critical{border-left-color:#7a271a}.finding.sev-high{border-left-color:var(--fail)}.finding.sev-medium{border-left-color:var(--manual)}
td code{white-space:nowrap}.finding h3{margin:.1rem 0 .5rem;font-size:1.02rem}.finding dl{display:grid;grid-template-columns:9rem 1fr;gap:.25rem .8rem;margin:0}.finding dt{color:var(--mute)}.finding dd{margin:0}
code{font-size:.85em;background:#f2f4f7;padding:.05rem .3rem;border-radius:4px}footer{margin-top:3rem;color:var(--mute);font-size:.8rem}
@media print{body{margin:0}.finding{break-inside:avoid}}
"#;

/// A self-contained page (no scripts, no external resources) an auditor can keep.
pub fn html(r: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Export-control posture: {org}</title><style>{CSS}</style></head><body>",
        org = esc(&r.organization)
    );
    let _ = write!(
        o,
        "<header><h1>Export-control posture: {}</h1><div class=\"sub\">Assessed as of {} · checklist {}</div></header>",
        esc(&r.organization),
        esc(&r.as_of),
        esc(&r.checklist_version)
    );
    let s = &r.summary;
    let open = s.critical + s.high + s.medium + s.low;
    let _ = write!(
        o,
        "<section class=\"cards\"><div class=\"card\" id=\"score\"><b>{}%</b><span>of the checklist met</span></div><div class=\"card\" id=\"sprs\"><b>{}</b><span>SPRS-style score (max {}, {} requirements covered)</span></div><div class=\"card\"><b>{}</b><span>open findings: {} critical, {} high, {} medium, {} low</span></div><div class=\"card\"><b>{}</b><span>accepted by exception</span></div></section>",
        r.score, r.sprs.score, r.sprs.max, r.sprs.covered.len(), open, s.critical, s.high, s.medium, s.low, s.excepted
    );
    let _ = write!(o, "<h2>Checklist</h2><table><thead><tr><th>Status</th><th>Item</th><th>Requirement</th><th>Findings</th><th>Why</th></tr></thead><tbody>");
    for i in &r.checklist {
        let _ = write!(
            o,
            "<tr><td><span class=\"pill {cls}\">{label}</span></td><td><code>{id}</code></td><td>{title}<br><span class=\"sub\">{cites}</span></td><td>{n}</td><td>{why}</td></tr>",
            cls = status_word(i.status),
            label = status_label(i.status),
            id = esc(&i.item),
            title = esc(&i.title),
            cites = esc(&i.citations.join("; ")),
            n = i.findings,
            why = esc(&i.reason)
        );
    }
    let _ = write!(o, "</tbody></table><h2>Findings</h2>");
    if r.findings.is_empty() {
        let _ = write!(o, "<p>No findings.</p>");
    }
    for sev in SEVERITIES {
        for f in r.findings.iter().filter(|f| f.severity == sev) {
            let sev = f.severity.as_str();
            let _ = write!(
                o,
                "<article class=\"finding sev-{sev}\" id=\"{id}\"><h3><span class=\"pill {sev}\">{SEV}</span> {title}{change}</h3><dl><dt>Finding</dt><dd><code>{id}</code> · rule <code>{rule}</code> · item <code>{item}</code></dd><dt>Subject</dt><dd><code>{subject}</code></dd><dt>Evidence</dt><dd>{evidence}</dd><dt>Remediation</dt><dd>{fix}</dd><dt>Citations</dt><dd>{cites}</dd>",
                SEV = sev.to_uppercase(),
                id = esc(&f.id),
                title = esc(&f.title),
                change = esc(change_note(f)),
                rule = esc(&f.rule),
                item = esc(&f.checklist),
                subject = esc(&f.subject),
                evidence = esc(&f.evidence),
                fix = esc(&f.remediation),
                cites = esc(&f.citations.join("; "))
            );
            if let Some(n) = exception_note(f) {
                let _ = write!(o, "<dt>Exception</dt><dd>{}</dd>", esc(&n));
            }
            let _ = write!(o, "</dl></article>");
        }
    }
    if let Some(fixed) = r.fixed.as_ref().filter(|f| !f.is_empty()) {
        let _ = write!(o, "<h2>Fixed since the previous report</h2><ul>");
        for f in fixed {
            let _ = write!(
                o,
                "<li><code>{}</code> {} (<code>{}</code>)</li>",
                esc(&f.id),
                esc(&f.title),
                esc(&f.subject)
            );
        }
        let _ = write!(o, "</ul>");
    }
    let _ = write!(
        o,
        "<h2>SPRS-style score</h2><p>{} — {}</p>",
        r.sprs.score,
        esc(&r.sprs.method)
    );
    if !r.sprs.not_met.is_empty() {
        let _ = write!(o, "<table><thead><tr><th>NIST SP 800-171</th><th>Points deducted</th><th>Findings</th></tr></thead><tbody>");
        for d in &r.sprs.not_met {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>−{}</td><td>{}</td></tr>",
                esc(&d.requirement),
                d.points,
                d.findings
            );
        }
        let _ = write!(o, "</tbody></table>");
    }
    let _ = write!(
        o,
        "<footer>Generated by itarvault assess {}. Statuses: PASS met; FAIL an open finding; MANUAL needs a current attestation; N/A does not apply; ERROR could not be evaluated. MANUAL and ERROR items count as not met.</footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    o
}
