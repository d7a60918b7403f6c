//! `itarvault assess`: the export-control posture of an organisation, from its
//! inventory, as a checklist with findings, scores and auditor-ready reports.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use itarvault_assess::checklist::checklist;
use itarvault_assess::report::{assess as run_assessment, compare, Extra, Previous};
use itarvault_assess::vault::{self, Posture, Trail};
use itarvault_assess::{load, oscal, render, rules, Severity};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// A summary for the terminal (default).
    Table,
    /// JSON as in docs/assess.md, with the checklist detail and scores.
    Json,
    /// Markdown, for a ticket or a wiki.
    Markdown,
    /// A self-contained HTML page for auditors.
    Html,
    /// OSCAL 1.1.2 assessment results (JSON).
    Oscal,
    /// The plan of action and milestones (open findings) in Markdown.
    PoamMarkdown,
    /// The plan of action and milestones in OSCAL 1.1.2 (JSON).
    PoamOscal,
}

#[derive(Args, Debug)]
pub struct AssessArgs {
    /// The inventory (YAML or JSON, docs/inventory.schema.json).
    #[arg(required_unless_present_any = ["list_rules", "list_checklist"])]
    inventory: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when an open finding is at least this severe (critical, high, medium, low).
    #[arg(long, default_value = "high", value_name = "SEVERITY")]
    fail_on: Severity,
    /// Assess at this date (YYYY-MM-DD) instead of the inventory's `as_of` or today:
    /// expiries, review periods and disclosure deadlines are measured from it.
    #[arg(long, value_name = "DATE")]
    as_of: Option<String>,
    /// An earlier `--format json` report: mark findings new or unchanged and list the
    /// fixed ones.
    #[arg(long, value_name = "REPORT")]
    previous: Option<PathBuf>,
    /// A running vault to assess as well (auditor or admin token: --token-file or
    /// $ITARVAULT_TOKEN; --cacert for a development certificate): its FIPS module, TLS,
    /// residency and backends, key custody, administrators and audit trail.
    #[arg(long, value_name = "URL")]
    vault: Option<String>,
    /// With --vault: write the 22 CFR 120.54(a)(5) carve-out evidence pack here, one
    /// proof per condition for each bucket and backend.
    #[arg(long, value_name = "DIR", requires = "vault")]
    evidence: Option<PathBuf>,
    #[command(flatten)]
    client: crate::client::ClientArgs,
    /// Print the rules (id, severity, checklist item, citations) and exit.
    #[arg(long)]
    list_rules: bool,
    /// Print the checklist items (id, automated or manual, title) and exit.
    #[arg(long)]
    list_checklist: bool,
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

fn date(s: &str, what: &str) -> anyhow::Result<time::Date> {
    itarvault_policy::data::parse_ymd(s)
        .with_context(|| format!("{what} `{s}` is not a date: use YYYY-MM-DD, a real calendar day"))
}

pub fn assess(a: AssessArgs) -> anyhow::Result<ExitCode> {
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create `{}`", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    if a.list_rules {
        for r in rules::all() {
            writeln!(
                out,
                "{:<34} {:<8} {:<20} {}",
                r.id,
                r.severity.as_str(),
                r.checklist,
                r.citations.join("; ")
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.list_checklist {
        let c = checklist()?;
        writeln!(
            out,
            "# checklist {}, effective {}; {}",
            c.meta.version.as_deref().unwrap_or(""),
            c.meta.effective,
            c.meta.source
        )?;
        for i in &c.item {
            let kind = match i.kind {
                itarvault_assess::checklist::Kind::Automated => "automated",
                itarvault_assess::checklist::Kind::Manual => "manual",
            };
            writeln!(out, "{:<20} {:<9} {}", i.id, kind, i.title)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = a.inventory.as_ref() else {
        bail!("name the inventory to assess (YAML or JSON)");
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the inventory `{}`", path.display()))?;
    let inv = match load(&text) {
        Ok(inv) => inv,
        Err(invalid) => {
            eprintln!("error: `{}`: {invalid}", path.display());
            return Ok(ExitCode::from(2));
        }
    };
    let as_of = match (&a.as_of, &inv.organization.as_of) {
        (Some(s), _) => date(s, "--as-of")?,
        (None, Some(s)) => date(s, "organization.as_of")?,
        (None, None) => today(),
    };
    let mut extra = Extra::default();
    if let Some(url) = &a.vault {
        let conn = crate::client::Conn::new(&a.client.clone().with_server(url.clone()))?;
        let posture: Posture = serde_json::from_value(
            conn.json(reqwest::Method::GET, "/v1/posture", None)
                .with_context(|| format!("reading the posture of the vault at {url}"))?,
        )
        .context("the vault's posture is not in the form this client knows: is the server the same itarvault version?")?;
        let trail = read_trail(&conn, &posture);
        let (findings, errors) =
            vault::findings(&posture, trail.as_ref().map_err(Clone::clone), as_of);
        extra.findings = findings;
        extra.errors = errors;
        if let Some(dir) = &a.evidence {
            std::fs::create_dir_all(dir).with_context(|| {
                format!("cannot create the evidence directory `{}`", dir.display())
            })?;
            for (name, text) in
                vault::evidence(&posture, trail.as_ref().map_err(Clone::clone), as_of)
            {
                let p = dir.join(name);
                std::fs::write(&p, text)
                    .with_context(|| format!("cannot write `{}`", p.display()))?;
            }
            eprintln!("carve-out evidence written to {}", dir.display());
        }
    }
    let mut report = run_assessment(&inv, as_of, extra)?;
    if let Some(p) = &a.previous {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the previous report `{}`", p.display()))?;
        let previous: Previous = serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not an `itarvault assess --format json` report",
                p.display()
            )
        })?;
        compare(&mut report, &previous);
    }
    let generated = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .context("formatting the current time")?;
    match a.format {
        Format::Table => write!(out, "{}", render::text(&report))?,
        Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Markdown => write!(out, "{}", render::markdown(&report))?,
        Format::Html => write!(out, "{}", render::html(&report))?,
        Format::Oscal => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&oscal::assessment_results(&report, &generated))?
        )?,
        Format::PoamMarkdown => write!(out, "{}", render::poam_markdown(&report))?,
        Format::PoamOscal => match oscal::poam(&report, &generated) {
            Some(p) => writeln!(out, "{}", serde_json::to_string_pretty(&p)?)?,
            None => eprintln!(
                "no open findings: there is nothing for a plan of action (the output is empty)"
            ),
        },
    }
    out.flush()?;
    let gate = report
        .findings
        .iter()
        .any(|f| f.open() && f.severity >= a.fail_on);
    Ok(if gate {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Downloads the vault's audit trail and verifies it against its signed head with the
/// key the vault states. A failure is a fact for the report, not a crash.
fn read_trail(conn: &crate::client::Conn, p: &Posture) -> Result<Trail, String> {
    let (log, head) = conn
        .text("/v1/audit", "x-itarvault-audit-head")
        .map_err(|e| format!("{e:#}"))?;
    let key = itarvault_audit::PublicKey::from_hex(&p.audit.public_key)
        .ok_or("the vault's audit public key is not hex")?;
    let head: Option<itarvault_audit::Head> = match head {
        Some(h) => Some(
            serde_json::from_str(&h).map_err(|e| format!("the signed head is unreadable: {e}"))?,
        ),
        None => None,
    };
    let report = itarvault_audit::verify(log.as_bytes(), &[key], head.as_ref());
    let records = log
        .lines()
        .filter_map(|l| itarvault_audit::parse_line(l.as_bytes()).ok())
        .collect();
    Ok(Trail { report, records })
}
