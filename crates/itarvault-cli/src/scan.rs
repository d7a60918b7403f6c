//! `itarvault scan`: find export-control markings in files.

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use itarvault_scan::{report, walk, Report, Scanner};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// A table for people (default).
    Table,
    /// JSON (the contract is in docs/scan.md).
    Json,
    /// SARIF 2.1.0 for code-scanning dashboards.
    Sarif,
}

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files and directories to scan. Hidden and git-ignored files are scanned too.
    #[arg(required_unless_present_any = ["list_rules", "patterns"])]
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// List every file, not only those with findings or problems.
    #[arg(long)]
    all: bool,
    /// An earlier `--format json` report: mark findings new or unchanged, list the
    /// fixed ones, and exit 1 only for new findings.
    #[arg(long, value_name = "REPORT")]
    baseline: Option<PathBuf>,
    /// Files larger than this many bytes are reported as unscanned.
    #[arg(long, default_value_t = 256 << 20, value_name = "BYTES")]
    max_size: u64,
    /// Bytes the containers in one file (docx, xlsx, pptx, zip, gzip, PDF streams) may
    /// decompress to in all before the file is reported as a probable zip bomb. Below
    /// this, a file may decompress to --max-size bytes, and past that to 100 times its
    /// own size.
    #[arg(long, default_value_t = itarvault_scan::extract::DEFAULT_MAX_DECOMPRESSED, value_name = "BYTES")]
    max_decompressed: u64,
    /// Follow symbolic links (a loop is reported for the file, and the scan goes on).
    #[arg(long)]
    follow: bool,
    /// Worker threads [default: one per core].
    #[arg(long, short = 'j', default_value_t = 0)]
    threads: usize,
    /// A rule file to use instead of the built-in rules (same format as
    /// crates/itarvault-scan/rules/markings.toml).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Exit 2 when any file could not be scanned (a CI gate that must see everything).
    #[arg(long)]
    strict: bool,
    /// Print the rules (id, implies, confidence, citation) and exit.
    #[arg(long)]
    list_rules: bool,
    /// Print the primary patterns as compiled (ASCII regex), one per line, and exit.
    #[arg(long)]
    patterns: bool,
}

pub fn scan(a: ScanArgs) -> anyhow::Result<ExitCode> {
    let scanner = match &a.rules {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the rule file `{}`", p.display()))?;
            Scanner::from_toml(&text).with_context(|| format!("rule file `{}`", p.display()))?
        }
        None => Scanner::builtin()?,
    };
    let mut out = std::io::stdout().lock();
    if a.list_rules {
        let m = scanner.meta();
        writeln!(
            out,
            "# rules version {}, effective {}; sources: {}",
            m.version,
            m.effective,
            m.source.join("; ")
        )?;
        for r in scanner.rules() {
            writeln!(
                out,
                "{:<28} {:<12} {:<7} {}",
                r.id,
                r.implies.as_str(),
                format!("{:?}", r.confidence).to_lowercase(),
                r.cite
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if a.patterns {
        for p in scanner.patterns() {
            writeln!(out, "{p}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let baseline: Option<Report> = match &a.baseline {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the baseline `{}`", p.display()))?;
            Some(serde_json::from_str(&text).with_context(|| {
                format!(
                    "the baseline `{}` is not an `itarvault scan --format json` report",
                    p.display()
                )
            })?)
        }
        None => None,
    };
    for p in &a.paths {
        if std::fs::symlink_metadata(p).is_err() {
            bail!(
                "`{}` does not exist\nnothing was scanned; check the path",
                p.display()
            );
        }
    }
    let opts = walk::Options {
        max_size: a.max_size,
        follow: a.follow,
        threads: a.threads,
        all: a.all,
        // A file on disk may be buffered up to --max-size (the upload check's budget is
        // the server's to set).
        budget: itarvault_scan::Budget {
            memory: usize::try_from(a.max_size).unwrap_or(usize::MAX),
            max_decompressed: a.max_decompressed,
            ..Default::default()
        },
    };
    let mut rep = itarvault_scan::scan_paths(&scanner, &a.paths, &opts);
    if let Some(b) = &baseline {
        report::apply_baseline(&mut rep, b);
    }
    match a.format {
        Format::Table => out.write_all(report::table(&rep).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &rep)?;
            writeln!(out)?;
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut out, &report::sarif(&rep, &scanner))?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    let s = &rep.summary;
    if s.files_unscanned + s.errors > 0 {
        eprintln!(
            "itarvault scan: {} file(s) could not be scanned and were not checked (see `error` for each)",
            s.files_unscanned + s.errors
        );
        if a.strict {
            return Ok(ExitCode::from(2));
        }
    }
    let controlled = match &rep.baseline {
        Some(b) => b.new > 0,
        None => s.files_with_findings > 0,
    };
    Ok(if controlled {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
